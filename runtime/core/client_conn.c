/* client_conn.c - a client handle's connection: dialling and re-dialling
 * it (bounded backoff), the call-id table, the reply reader (leader /
 * follower: whichever waiting thread is free reads and hands each answer
 * to the call whose id it carries), breaking a connection, CANCEL frames,
 * and the completion fd's epoll set.  Everything here runs with c->mu held
 * unless its comment says otherwise.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"
#include "frame.h"
#include "log.h"

/* ---- the call-id table ---------------------------------------------- */

void
plumb__pend_insert(plumb_client *c, plumb_pending *p)
{
  plumb_pending **b = &c->buckets[p->id & (PLUMB__CLIENT_BUCKETS - 1)];
  p->hnext = *b;
  *b = p;
  p->intable = 1;
  c->n_pending++;
}

void
plumb__pend_remove(plumb_client *c, plumb_pending *p)
{
  if (!p->intable)
    return;
  plumb_pending **b = &c->buckets[p->id & (PLUMB__CLIENT_BUCKETS - 1)];
  for (; *b != NULL; b = &(*b)->hnext)
    if (*b == p) {
      *b = p->hnext;
      break;
    }
  p->hnext = NULL;
  p->intable = 0;
  c->n_pending--;
}

static plumb_pending *
pend_find(plumb_client *c, uint32_t id)
{
  plumb_pending *p = c->buckets[id & (PLUMB__CLIENT_BUCKETS - 1)];
  while (p != NULL && p->id != id)
    p = p->hnext;
  return p;
}

void
plumb__pend_complete(plumb_client *c, plumb_pending *p, int status)
{
  plumb__pend_remove(c, p);
  p->state = PEND_DONE;
  p->status = status;
  if (p->async) {
    /* off the in-flight list */
    if (p->lprev != NULL)
      p->lprev->lnext = p->lnext;
    else if (c->inflight == p)
      c->inflight = p->lnext;
    if (p->lnext != NULL)
      p->lnext->lprev = p->lprev;
    p->lnext = p->lprev = NULL;
    if (p->cb != NULL && !p->queued && !p->cb_ran) {
      p->queued = 1;
      p->dnext = NULL;
      if (c->cbq_tail != NULL)
        c->cbq_tail->dnext = p;
      else
        c->cbq_head = p;
      c->cbq_tail = p;
    }
    /* The eventfd tells an event loop that dispatch has work; an answer
     * read by the very thread waiting for it (_finish, wait) needs none -
     * that thread sees it at once - unless a callback must run. */
    if (p != c->reading_for || p->cb != NULL)
      plumb__client_signal(c);
  }
  plumb__client_wake(c);
}

/* ---- the completion fd ---------------------------------------------- */

void
plumb__client_signal(plumb_client *c)
{
  if (c->efd < 0 || c->efd_signalled || c->in_dispatch)
    return;
  uint64_t one = 1;
  if (write(c->efd, &one, sizeof one) == sizeof one)
    c->efd_signalled = 1;
}

void
plumb__client_fd_conn(plumb_client *c, client_conn *cc, int add)
{
  if (c->epfd < 0 || cc == NULL || add == cc->fd_added)
    return;
  /* Asking for the fd may change how the transport receives (sysvmq and
   * shm start a waiter thread), so it is never asked while a recv() runs
   * on the connection (callers see to that) nor on a broken one: the fd
   * is remembered for its removal. */
  int fd = add ? c->tr->conn_fd(cc->tc) : cc->fd;
  if (fd < 0)
    return;
  if (add) {
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
    cc->fd = fd;
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
      cc->fd_added = 1;
    else
      plumb__log(PLUMB__LOG_WARN, "client: cannot watch connection fd: %s",
                 strerror(errno));
  } else {
    (void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
    cc->fd_added = 0;
  }
}

int
plumb__client_fd_setup(plumb_client *c)
{
  if (c->epfd >= 0)
    return c->epfd;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int ef = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
  if (ep < 0 || ef < 0 || tf < 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, ef, &ev) != 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev) != 0) {
    plumb__client_set_error(c, "completion fd: %s", strerror(errno));
    if (ep >= 0)
      close(ep);
    if (ef >= 0)
      close(ef);
    if (tf >= 0)
      close(tf);
    return -1;
  }
  c->epfd = ep;
  c->efd = ef;
  c->tfd = tf;
  c->efd_signalled = 0;
  /* no recv() may run while the transport's fd is asked for */
  while (c->reader_active)
    plumb__client_cv_wait(c);
  if (c->cur != NULL && !c->cur->broken)
    plumb__client_fd_conn(c, c->cur, 1);
  if (c->cbq_head != NULL)
    plumb__client_signal(c);
  c->tfd_at = 0;
  if (c->timer_at != 0)
    plumb__client_arm_timer(c, c->timer_at);
  return ep;
}

void
plumb__client_arm_timer(plumb_client *c, int64_t deadline)
{
  if (deadline == PLUMB_FOREVER)
    return;
  if (c->timer_at == 0 || deadline < c->timer_at)
    c->timer_at = deadline;
  if (c->tfd < 0 || (c->tfd_at != 0 && c->tfd_at <= c->timer_at))
    return;
  struct itimerspec its = { { 0, 0 }, { 0, 0 } };
  int64_t at = c->timer_at > 0 ? c->timer_at : 1;
  its.it_value.tv_sec = (time_t)(at / 1000000000);
  its.it_value.tv_nsec = (long)(at % 1000000000);
  if (timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
    c->tfd_at = c->timer_at;
}

static int client_read_one(plumb_client *c, int64_t deadline);

/* The clock of the idle check (last_rx_ns): CLOCK_MONOTONIC_COARSE, a
 * few ms of resolution for a 100 ms threshold.  It is read for every
 * frame received, and a precise clock read was ~8 % of the client's CPU
 * per call with calls in flight on shm (perf). */
static int64_t
idle_clock_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- connections ---------------------------------------------------- */

int
plumb__conn_install(plumb_client *c, plumb_conn *tc)
{
  client_conn *cc = calloc(1, sizeof(*cc));
  if (cc == NULL)
    return PLUMB_ENOMEM;
  cc->tc = tc;
  cc->refs = 1;
  cc->gen = ++c->gen;
  c->cur = cc;
  c->backoff_ms = 0;
  c->next_dial_ns = 0;
  c->last_rx_ns = idle_clock_ns();
  plumb__client_fd_conn(c, cc, 1);
  return PLUMB_OK;
}

void
plumb__conn_put(plumb_client *c, client_conn *cc)
{
  if (--cc->refs > 0)
    return;
  plumb__client_fd_conn(c, cc, 0);
  c->tr->close(cc->tc);
  free(cc);
}

void
plumb__conn_break(plumb_client *c, client_conn *cc, int status,
                  const char *why)
{
  if (!cc->broken) {
    cc->broken = 1;
    plumb__client_set_error(c, "connection lost: %s", why);
    plumb__log(PLUMB__LOG_DEBUG, "client: %s: connection lost: %s",
               c->endpoint, why);
    c->tr->shutdown(cc->tc);
    plumb__client_fd_conn(c, cc, 0);
    /* every call sent on it fails; none is re-sent */
    for (unsigned b = 0; b < PLUMB__CLIENT_BUCKETS; b++) {
      plumb_pending *p = c->buckets[b];
      while (p != NULL) {
        plumb_pending *n = p->hnext;
        if (p->gen == cc->gen)
          plumb__pend_complete(c, p, status);
        p = n;
      }
    }
    if (c->cur == cc) {
      c->cur = NULL;
      c->last_status = status;
      plumb__conn_put(c, cc); /* the "current" reference */
    }
  }
  plumb__client_wake(c);
}

static int
conn_redial(plumb_client *c, int64_t deadline)
{
  plumb_conn *tc = NULL;
  int64_t now = plumb__now_ns();
  int64_t dl = deadline;
  int st;

  if (dl == PLUMB_FOREVER || dl - now > 5000000000LL)
    dl = now + 5000000000LL; /* a dial never waits for ever */
  c->dialing = 1;
  pthread_mutex_unlock(&c->mu);
  st = c->tr->dial(c->rest, &c->topts, dl, &tc);
  pthread_mutex_lock(&c->mu);
  c->dialing = 0;
  plumb__client_wake(c);
  if (st == PLUMB_OK && c->closing) {
    c->tr->close(tc);
    return PLUMB_ECLOSED;
  }
  if (st == PLUMB_OK && (st = plumb__conn_install(c, tc)) != PLUMB_OK)
    c->tr->close(tc);
  if (st != PLUMB_OK) {
    c->backoff_ms = c->backoff_ms == 0 ? PLUMB__RECONNECT_MIN_MS
                    : c->backoff_ms * 2 > PLUMB__RECONNECT_MAX_MS
                        ? PLUMB__RECONNECT_MAX_MS
                        : c->backoff_ms * 2;
    c->next_dial_ns = plumb__now_ns() + c->backoff_ms * 1000000;
    c->last_status = st;
    plumb__client_set_error(c, "reconnecting to %s: %s (next attempt in "
                            "%lld ms at the earliest)", c->endpoint,
                            plumb_strerror(st), (long long)c->backoff_ms);
    return st;
  }
  plumb__log(PLUMB__LOG_INFO, "client: reconnected to %s", c->endpoint);
  return PLUMB_OK;
}

int
plumb__conn_get(plumb_client *c, int64_t deadline, client_conn **out)
{
  for (;;) {
    if (c->closing)
      return PLUMB_ECLOSED;
    client_conn *cc = c->cur;
    if (cc != NULL && !cc->broken) {
      /* A connection that sat idle may have lost its server meanwhile:
       * look (one non-blocking read) before sending a call into it, so
       * a restart while idle costs no failed call. */
      if (!c->no_reconnect && !c->reader_active && c->n_pending == 0 &&
          idle_clock_ns() - c->last_rx_ns > PLUMB__IDLE_CHECK_NS) {
        c->last_rx_ns = idle_clock_ns();
        /* twice: a message transport may answer the first non-blocking
         * read after a frame without looking at its peer */
        if (client_read_one(c, PLUMB_NOWAIT) == PLUMB_EAGAIN &&
            !c->reader_active)
          (void)client_read_one(c, PLUMB_NOWAIT);
        continue;
      }
      cc->refs++;
      *out = cc;
      return PLUMB_OK;
    }
    if (c->no_reconnect)
      return c->last_status;
    if (c->dialing) {
      if (deadline == PLUMB_FOREVER) {
        plumb__client_cv_wait(c);
      } else {
        struct timespec ts = { (time_t)(deadline / 1000000000),
                               (long)(deadline % 1000000000) };
        if (plumb__client_cv_timedwait(c, &ts) == ETIMEDOUT)
          return PLUMB_ETIMEDOUT;
      }
      continue;
    }
    if (plumb__now_ns() < c->next_dial_ns)
      return c->last_status; /* backing off: fail at once */
    int st = conn_redial(c, deadline);
    if (st != PLUMB_OK)
      return st;
  }
}

/* ---- the reader ----------------------------------------------------- */

/* Hands the frame in c->rx to the call it answers. */
static void
client_deliver(plumb_client *c, client_conn *cc)
{
  const uint8_t *p = c->rx.data;
  uint32_t id;

  if (c->rx.len < PLUMB__FRAME_HDR ||
      memcmp(p, PLUMB__FRAME_MAGIC, 4) != 0) {
    plumb__conn_break(c, cc, PLUMB_EPROTO, "malformed frame from server");
    return;
  }
  id = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
       (uint32_t)p[11] << 24;
  plumb_pending *k = pend_find(c, id);
  if (k == NULL || k->gen != cc->gen) {
    plumb__log(PLUMB__LOG_DEBUG, "client: dropping answer to call %u "
               "(caller gone or cancelled)", id);
    return;
  }
  plumb_buf tmp = k->buf;
  k->buf = c->rx;
  c->rx = tmp;
  c->rx.len = 0;
  plumb__pend_complete(c, k, PLUMB_OK);
}

/* Receives one frame on the current connection as the reader. */
static int
client_read_one(plumb_client *c, int64_t deadline)
{
  client_conn *cc = c->cur;
  if (cc == NULL || cc->broken)
    return PLUMB_ECLOSED;
  cc->refs++;
  c->reader_active = 1;
  pthread_mutex_unlock(&c->mu);
  int st = c->tr->recv(cc->tc, &c->rx, deadline);
  pthread_mutex_lock(&c->mu);
  c->reader_active = 0;
  if (st == PLUMB_OK) {
    c->last_rx_ns = idle_clock_ns();
    client_deliver(c, cc);
  } else if (st != PLUMB_EAGAIN && st != PLUMB_ETIMEDOUT && !cc->broken) {
    plumb__conn_break(c, cc, st == PLUMB_ETOOBIG || st == PLUMB_EPROTO ? st
                             : st == PLUMB_ESYS ? PLUMB_ESYS : PLUMB_ECLOSED,
                      plumb_strerror(st));
  }
  plumb__conn_put(c, cc);
  plumb__client_wake(c);
  return st;
}

void
plumb__client_read_ready(plumb_client *c)
{
  /* bounded: a peer streaming answers cannot keep us here */
  for (int i = 0; i < 256 && !c->reader_active; i++)
    if (client_read_one(c, PLUMB_NOWAIT) != PLUMB_OK)
      break;
}

void
plumb__client_wait(plumb_client *c, plumb_pending *p, int64_t until)
{
  /* The clock is read from the second round on: the first read is given
   * `until` and returns at it by itself (one clock read less per call) */
  for (int round = 0; p->state != PEND_DONE; round++) {
    if (round > 0 && until != PLUMB_FOREVER && plumb__now_ns() >= until)
      return;
    if (!c->reader_active) {
      if (c->cur == NULL || c->cur->broken) {
        /* nothing can answer it (its connection is gone) */
        plumb__pend_complete(c, p, c->last_status ? c->last_status
                                                  : PLUMB_ECLOSED);
        return;
      }
      c->reading_for = p;
      (void)client_read_one(c, until);
      c->reading_for = NULL;
      continue;
    }
    if (until == PLUMB_FOREVER) {
      plumb__client_cv_wait(c);
    } else {
      struct timespec ts = { (time_t)(until / 1000000000),
                             (long)(until % 1000000000) };
      (void)plumb__client_cv_timedwait(c, &ts);
    }
  }
}

/* ---- cancel --------------------------------------------------------- */

void
plumb__client_send_cancel(plumb_client *c, uint32_t id,
                          const plumb_operation *op)
{
  client_conn *cc;
  plumb__frame f;

  pthread_mutex_lock(&c->mu);
  cc = c->cur;
  if (cc == NULL || cc->broken || c->closing) {
    pthread_mutex_unlock(&c->mu);
    return; /* the server lost the call with the connection */
  }
  cc->refs++;
  pthread_mutex_unlock(&c->mu);
  memset(&f, 0, sizeof(f));
  f.kind = PLUMB__FRAME_CANCEL;
  f.call_id = id;
  f.iface = op ? op->decl_iface : 0;
  f.op = op ? op->decl_index : 0;
  /* no object, no body; a short deadline: a cancel is advice */
  (void)plumb__client_send(c, cc, &f, 0, NULL, 0, plumb__deadline_ms(1000),
                           1);
  pthread_mutex_lock(&c->mu);
  plumb__conn_put(c, cc);
  pthread_mutex_unlock(&c->mu);
}
