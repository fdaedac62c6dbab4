/* client_pending.c - asynchronous calls on a client handle: the pool of
 * plumb_pending records, begin / finish, poll / wait, cancel, completion
 * callbacks, deadlines of calls in flight, and plumb_client_fd() /
 * plumb_client_dispatch() for event loops.
 *
 * Pendings are pooled per client (reused with their receive buffers, so a
 * steady stream of async calls does not allocate) and freed at close.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "log.h"

#define PENDING_BUF_KEEP (1u << 20)
#define EXPIRE_CANCELS 32
/* plumb_invoke_begin reads the answers already there only with at least
 * this many calls outstanding, and then on every BEGIN_READ_EVERY-th
 * begin: a read that finds nothing costs a system call, and a caller with
 * a few calls in flight reads them in _finish / dispatch anyway (many per
 * system call: the stream transports buffer). */
#define BEGIN_READ_AT 32
#define BEGIN_READ_EVERY 16

static plumb_pending *
pending_get(plumb_client *c)
{
  plumb_pending *p = c->pool;
  if (p != NULL) {
    c->pool = p->lnext;
  } else {
    if ((p = calloc(1, sizeof(*p))) == NULL)
      return NULL;
    p->anext = c->all;
    c->all = p;
  }
  plumb_buf keep = p->buf;
  plumb_pending *anext = p->anext;
  memset(p, 0, sizeof(*p));
  p->buf = keep;
  p->buf.len = 0;
  p->anext = anext;
  p->c = c;
  p->async = 1;
  c->n_async++;
  return p;
}

static void cbq_unlink(plumb_client *c, plumb_pending *p);

/* Back to the pool (p done or idle); holds mu. */
static void
pending_release(plumb_client *c, plumb_pending *p)
{
  if (p->queued)
    cbq_unlink(c, p);
  p->state = PEND_IDLE;
  p->cb = NULL;
  p->user = NULL;
  if (p->buf.cap > PENDING_BUF_KEEP)
    plumb__buf_free(&p->buf);
  p->lnext = c->pool;
  c->pool = p;
  c->n_async--;
}

plumb_pending *
plumb__pending_take(plumb_client *c)
{
  /* Now and then read what already came back: a client that only sends
   * would otherwise fill the server's queue of answers (and then its
   * own).  (A send with no room reads too: client.c, send_reading.) */
  if (c->n_pending >= BEGIN_READ_AT &&
      ++c->begins % BEGIN_READ_EVERY == 0)
    plumb__client_read_ready(c);
  return pending_get(c);
}

static void
cbq_unlink(plumb_client *c, plumb_pending *p)
{
  plumb_pending *prev = NULL;
  for (plumb_pending *k = c->cbq_head; k != NULL; prev = k, k = k->dnext)
    if (k == p) {
      if (prev != NULL)
        prev->dnext = k->dnext;
      else
        c->cbq_head = k->dnext;
      if (c->cbq_tail == k)
        c->cbq_tail = prev;
      break;
    }
  p->queued = 0;
  p->dnext = NULL;
}

void
plumb__pending_pool_free(plumb_client *c)
{
  if (c->n_async > 0)
    plumb__log(PLUMB__LOG_WARN, "client: closed with %d pending calls not "
               "freed (their handles are now invalid)", c->n_async);
  for (plumb_pending *p = c->all, *n; p != NULL; p = n) {
    n = p->anext;
    plumb__buf_free(&p->buf);
    free(p);
  }
  c->all = c->pool = NULL;
}

int
plumb__pending_expire(plumb_client *c, int64_t now, uint32_t *ids,
                      const plumb_operation **ops, int max)
{
  int n = 0;
  if (c->timer_at == 0 || now < c->timer_at)
    return 0;
  int64_t next = 0;
  for (plumb_pending *p = c->inflight, *nx; p != NULL; p = nx) {
    nx = p->lnext;
    if (p->deadline == PLUMB_FOREVER)
      continue;
    if (p->deadline <= now) {
      if (c->cancel_on_timeout && n < max) {
        ids[n] = p->id;
        ops[n++] = p->op;
      }
      plumb__pend_complete(c, p, PLUMB_ETIMEDOUT);
    } else if (next == 0 || p->deadline < next) {
      next = p->deadline;
    }
  }
  c->timer_at = 0;
  if (c->tfd >= 0) {
    uint64_t x;
    (void)!read(c->tfd, &x, sizeof x);
    c->tfd_at = 0;
  }
  if (next != 0)
    plumb__client_arm_timer(c, next);
  return n;
}

static void
send_cancels(plumb_client *c, const uint32_t *ids,
             const plumb_operation **ops, int n)
{
  for (int i = 0; i < n; i++)
    plumb__client_send_cancel(c, ids[i], ops[i]);
}

/* ---- public API ----------------------------------------------------- */

int
plumb_invoke_begin(plumb_client *c, const plumb_interface *iface, uint32_t op,
                   const ProtobufCMessage *req, plumb_pending **out)
{
  plumb_pending *p;
  int st;

  if (out == NULL)
    return PLUMB_EINVAL;
  *out = NULL;
  if (c == NULL || iface == NULL || op >= iface->n_ops)
    return PLUMB_EINVAL;
  const plumb_operation *o = &iface->ops[op];
  int64_t now, deadline = plumb__client_take_deadline(c, &now);

  /* the pending is taken from the pool inside client_start's critical
   * section: one lock round per begin less */
  p = NULL;
  st = plumb__client_start(c, o, req, &p, deadline, now, 0);
  if (st != PLUMB_OK) {
    plumb_pending_free(p);
    return st;
  }
  *out = p;
  return PLUMB_OK;
}

int
plumb_invoke_finish(plumb_pending *p, ProtobufCMessage **rep,
                    plumb_arena *arena)
{
  uint32_t ids[EXPIRE_CANCELS];
  const plumb_operation *ops[EXPIRE_CANCELS];
  int n = 0, st;

  if (rep)
    *rep = NULL;
  if (p == NULL)
    return PLUMB_EINVAL;
  plumb_client *c = p->c;
  const plumb_operation *o = p->op;
  if (arena == NULL && (arena = plumb__client_scratch()) == NULL) {
    plumb_pending_free(p);
    return PLUMB_ENOMEM;
  }
  pthread_mutex_lock(&c->mu);
  if (p->state == PEND_INFLIGHT) {
    c->users++;
    plumb__client_wait(c, p, p->deadline);
    if (p->state != PEND_DONE)
      n = plumb__pending_expire(c, plumb__now_ns(), ids, ops,
                                EXPIRE_CANCELS);
    if (p->state != PEND_DONE) /* defensive: its deadline passed */
      plumb__pend_complete(c, p, PLUMB_ETIMEDOUT);
    if (--c->users == 0)
      plumb__client_wake(c);
  }
  st = p->status;
  if (st == PLUMB_ETIMEDOUT)
    plumb__client_set_error(c, "%s: no answer before the deadline",
                            o->name);
  else if (st == PLUMB_ECANCELLED)
    plumb__client_set_error(c, "%s: cancelled", o->name);
  /* The answer moves to the thread's receive buffer (the pending takes
   * that one's storage), so p goes back to the pool in this same critical
   * section and the answer is decoded without the lock. */
  int decode = st == PLUMB_OK && !(o->flags & PLUMB_OP_ONEWAY);
  plumb_buf *rx = decode ? plumb__client_rxbuf() : NULL;
  if (rx != NULL) {
    plumb_buf tmp = *rx;
    *rx = p->buf;
    p->buf = tmp;
    pending_release(c, p);
  }
  pthread_mutex_unlock(&c->mu);
  send_cancels(c, ids, ops, n);
  if (rx != NULL) {
    st = plumb__client_decode(c, o, rx, rep, arena);
    plumb__client_buf_trim(rx);
    return st;
  }
  if (decode)
    st = plumb__client_decode(c, o, &p->buf, rep, arena);
  plumb_pending_free(p);
  return st;
}

int
plumb_pending_poll(plumb_pending *p)
{
  uint32_t ids[EXPIRE_CANCELS];
  const plumb_operation *ops[EXPIRE_CANCELS];
  int n = 0, done;

  if (p == NULL)
    return 1;
  plumb_client *c = p->c;
  pthread_mutex_lock(&c->mu);
  if (p->state == PEND_INFLIGHT) {
    c->users++;
    plumb__client_read_ready(c);
    n = plumb__pending_expire(c, plumb__now_ns(), ids, ops, EXPIRE_CANCELS);
    if (--c->users == 0)
      plumb__client_wake(c);
  }
  done = p->state == PEND_DONE;
  pthread_mutex_unlock(&c->mu);
  send_cancels(c, ids, ops, n);
  return done;
}

int
plumb_pending_wait(plumb_pending *p, int64_t timeout_ms)
{
  uint32_t ids[EXPIRE_CANCELS];
  const plumb_operation *ops[EXPIRE_CANCELS];
  int n = 0, st;

  if (p == NULL)
    return PLUMB_EINVAL;
  plumb_client *c = p->c;
  int64_t until = timeout_ms < 0 ? p->deadline : plumb__deadline_ms(timeout_ms);
  if (p->deadline != PLUMB_FOREVER &&
      (until == PLUMB_FOREVER || p->deadline < until))
    until = p->deadline;
  pthread_mutex_lock(&c->mu);
  if (p->state == PEND_INFLIGHT) {
    c->users++;
    plumb__client_wait(c, p, until);
    n = plumb__pending_expire(c, plumb__now_ns(), ids, ops, EXPIRE_CANCELS);
    if (--c->users == 0)
      plumb__client_wake(c);
  }
  st = p->state == PEND_DONE ? PLUMB_OK : PLUMB_ETIMEDOUT;
  pthread_mutex_unlock(&c->mu);
  send_cancels(c, ids, ops, n);
  return st;
}

int
plumb_pending_status(const plumb_pending *p)
{
  if (p == NULL)
    return PLUMB_EINVAL;
  plumb_client *c = p->c;
  pthread_mutex_lock(&c->mu);
  int st = p->state == PEND_DONE ? p->status : PLUMB_EAGAIN;
  pthread_mutex_unlock(&c->mu);
  return st;
}

void
plumb_pending_cancel(plumb_pending *p)
{
  if (p == NULL)
    return;
  plumb_client *c = p->c;
  pthread_mutex_lock(&c->mu);
  if (p->state != PEND_INFLIGHT) {
    pthread_mutex_unlock(&c->mu);
    return;
  }
  uint32_t id = p->id;
  const plumb_operation *o = p->op;
  plumb__pend_complete(c, p, PLUMB_ECANCELLED);
  pthread_mutex_unlock(&c->mu);
  plumb__client_send_cancel(c, id, o);
}

void
plumb_pending_free(plumb_pending *p)
{
  if (p == NULL)
    return;
  plumb_client *c = p->c;
  uint32_t id = 0;
  const plumb_operation *o = NULL;
  int cancel = 0;
  /* one critical section: cancel (if still outstanding) and release */
  pthread_mutex_lock(&c->mu);
  if (p->state == PEND_INFLIGHT) {
    id = p->id;
    o = p->op;
    plumb__pend_complete(c, p, PLUMB_ECANCELLED);
    cancel = 1;
  }
  pending_release(c, p);
  pthread_mutex_unlock(&c->mu);
  if (cancel) /* id and op copied: p may be reused meanwhile */
    plumb__client_send_cancel(c, id, o);
}

void
plumb_pending_set_callback(plumb_pending *p, plumb_pending_cb cb, void *user)
{
  if (p == NULL)
    return;
  plumb_client *c = p->c;
  pthread_mutex_lock(&c->mu);
  p->cb = cb;
  p->user = user;
  p->cb_ran = 0;
  if (cb == NULL && p->queued)
    cbq_unlink(c, p);
  else if (cb != NULL && p->state == PEND_DONE && !p->queued) {
    p->queued = 1;
    p->dnext = NULL;
    if (c->cbq_tail != NULL)
      c->cbq_tail->dnext = p;
    else
      c->cbq_head = p;
    c->cbq_tail = p;
    plumb__client_signal(c);
  }
  pthread_mutex_unlock(&c->mu);
}

plumb_client *
plumb_pending_client(const plumb_pending *p)
{
  return p ? p->c : NULL;
}

int
plumb_client_fd(plumb_client *c)
{
  if (c == NULL)
    return -1;
  pthread_mutex_lock(&c->mu);
  int fd = plumb__client_fd_setup(c);
  pthread_mutex_unlock(&c->mu);
  return fd;
}

int
plumb_client_dispatch(plumb_client *c)
{
  uint32_t ids[EXPIRE_CANCELS];
  const plumb_operation *ops[EXPIRE_CANCELS];
  int n, ran = 0;

  if (c == NULL)
    return PLUMB_EINVAL;
  pthread_mutex_lock(&c->mu);
  c->users++;
  if (c->efd >= 0 && c->efd_signalled) {
    uint64_t x;
    (void)!read(c->efd, &x, sizeof x);
    c->efd_signalled = 0;
  }
  c->in_dispatch++;
  if (c->cur != NULL && !c->cur->broken)
    plumb__client_read_ready(c);
  c->in_dispatch--;
  n = plumb__pending_expire(c, plumb__now_ns(), ids, ops, EXPIRE_CANCELS);
  if (n > 0) {
    pthread_mutex_unlock(&c->mu);
    send_cancels(c, ids, ops, n);
    pthread_mutex_lock(&c->mu);
  }
  /* only the callbacks queued now: those they cause wait for the next
   * dispatch (the eventfd says so), so one dispatch is bounded */
  int todo = 0;
  for (plumb_pending *k = c->cbq_head; k != NULL; k = k->dnext)
    todo++;
  while (todo-- > 0 && c->cbq_head != NULL) {
    plumb_pending *p = c->cbq_head;
    c->cbq_head = p->dnext;
    if (c->cbq_head == NULL)
      c->cbq_tail = NULL;
    p->dnext = NULL;
    p->queued = 0;
    p->cb_ran = 1;
    plumb_pending_cb cb = p->cb;
    void *user = p->user;
    pthread_mutex_unlock(&c->mu);
    if (cb != NULL) {
      cb(p, user);
      ran++;
    }
    pthread_mutex_lock(&c->mu);
  }
  if (c->cbq_head != NULL)
    plumb__client_signal(c);
  if (--c->users == 0)
    plumb__client_wake(c);
  pthread_mutex_unlock(&c->mu);
  return ran;
}
