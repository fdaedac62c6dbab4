/* srv_calls.c - the calls a server has in flight (docs/RUNTIME.md, "The call
 * model"): the pool of srv_calls, each connection's live and wait lists,
 * the ordering rule, the server's run queue, cancellation, pausing a
 * connection at conn_max_calls, and keeping a dropped connection's memory
 * until its last call is released.
 *
 * Ordering rule: the calls of one connection start in the order they
 * arrived while no oneway is ahead of them; a oneway, once started, holds
 * back every later call of its connection until it is done.  So oneways
 * run one at a time in order, a call after a oneway sees its effect, and
 * two-way calls with no oneway between them run in parallel.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "server_int.h"

/* ---- lifecycle ------------------------------------------------------- */

int
plumb__srv_calls_init(plumb_server *s, unsigned conn_max)
{
  srv_calls *q = &s->calls;

  q->efd = -1;
  q->kind = SRV_CALLS;
  q->conn_max = conn_max ? conn_max : SRV_CONN_MAX_CALLS;
  atomic_init(&q->live, 0);
  atomic_init(&q->busy, 0);
  atomic_init(&q->efd_held, 0);
  pthread_mutex_init(&q->mu, NULL);
  for (unsigned i = 0; i < SRV_SERIAL_LOCKS; i++)
    pthread_mutex_init(&q->serial[i], NULL);
  q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | EFD_SEMAPHORE);
  if (q->efd < 0)
    return PLUMB_ESYS;
  return plumb__srv_arm(s, q->efd, &q->kind, EPOLL_CTL_ADD);
}

void
plumb__server_set_conn_max_calls(plumb_server *s, unsigned n)
{
  if (s != NULL && n != 0)
    s->calls.conn_max = n; /* before plumb_server_run */
}

static void
srv_call_destroy(srv_call *c)
{
  plumb_arena_free(c->arena);
  plumb__buf_free(&c->rx);
  plumb__buf_free(&c->tx);
  free(c);
}

void
plumb__srv_calls_fini(plumb_server *s)
{
  srv_calls *q = &s->calls;
  unsigned live = atomic_load(&q->live);

  if (live != 0)
    plumb__log(PLUMB__LOG_WARN, "server freed with %u calls not completed "
               "(deferred calls must be completed before plumb_server_free)",
               live);
  while (q->pool != NULL) {
    srv_call *c = q->pool;
    q->pool = c->next;
    srv_call_destroy(c);
  }
  if (q->efd >= 0)
    close(q->efd);
  for (unsigned i = 0; i < SRV_SERIAL_LOCKS; i++)
    pthread_mutex_destroy(&q->serial[i]);
  pthread_mutex_destroy(&q->mu);
}

/* ---- the pool ---------------------------------------------------------- */

/* A cleared call: the worker's spare (w: the calling worker, or NULL), else
 * one from the pool, else a new one. */
static srv_call *
srv_call_get(plumb_server *s, srv_worker *w)
{
  srv_calls *q = &s->calls;
  srv_call *c = w != NULL ? w->spare : NULL;

  if (c != NULL) {
    w->spare = NULL;
  } else {
    pthread_mutex_lock(&q->mu);
    c = q->pool;
    if (c != NULL) {
      q->pool = c->next;
      q->pooled--;
    }
    pthread_mutex_unlock(&q->mu);
  }
  if (c == NULL) {
    if ((c = calloc(1, sizeof(*c))) == NULL)
      return NULL;
    if ((c->arena = plumb_arena_new()) == NULL) {
      free(c);
      return NULL;
    }
  }
  c->next = c->lprev = c->lnext = NULL;
  atomic_init(&c->cancelled, 0);
  atomic_init(&c->dstate, SRV_DEFER_NONE);
  c->deadline = 0;
  c->taken = 0;
  c->obj = NULL;
  c->op = NULL;
  c->rep = NULL;
  c->ans_kind = 0;
  c->ans_sc.n = 0; /* no reply fields by reference (bigbytes.h) */
  /* All of it zero but the failure text's tail (256 bytes, written whole by
   * vsnprintf when a handler fails): an empty string is enough. */
  _Static_assert(offsetof(struct plumb_call, sys_code) ==
                     offsetof(struct plumb_call, fail_msg) +
                         sizeof(((struct plumb_call *)0)->fail_msg),
                 "call.h: sys_code must follow fail_msg (cleared around it)");
  memset(&c->call, 0, offsetof(struct plumb_call, fail_msg));
  c->call.fail_msg[0] = '\0';
  memset((char *)&c->call + offsetof(struct plumb_call, sys_code), 0,
         sizeof(c->call) - offsetof(struct plumb_call, sys_code));
  return c;
}

/* c back: to the calling worker's spare slot if it is free (w: the
 * calling worker, or NULL), else to the pool, else freed. */
static void
srv_call_put(plumb_server *s, srv_call *c, srv_worker *w)
{
  srv_calls *q = &s->calls;

  plumb_arena_reset(c->arena);
  if (c->rx.cap > SRV_BUF_KEEP)
    plumb__buf_free(&c->rx);
  if (c->tx.cap > SRV_BUF_KEEP)
    plumb__buf_free(&c->tx);
  c->sc = NULL;
  if (w != NULL && w->spare == NULL) {
    w->spare = c;
    return;
  }
  pthread_mutex_lock(&q->mu);
  if (q->pooled < SRV_CALL_POOL_MAX) {
    c->next = q->pool;
    q->pool = c;
    q->pooled++;
    c = NULL;
  }
  pthread_mutex_unlock(&q->mu);
  if (c != NULL)
    srv_call_destroy(c);
}

void
plumb__srv_calls_worker_done(plumb_server *s, srv_worker *w)
{
  if (w->spare != NULL) {
    srv_call *c = w->spare;
    w->spare = NULL;
    srv_call_put(s, c, NULL);
  }
}

/* ---- the run queue ----------------------------------------------------- */

/* c may start: the worker w keeps the first one for itself (it runs it
 * once it is done with the connection, saving a wake-up), the rest go to
 * the run queue for any worker. */
static void srv_runq_push(plumb_server *s, srv_call *c);

static void
srv_call_start(srv_worker *w, srv_call *c)
{
  plumb_server *s = c->sc->srv;

  c->state = SRV_CALL_READY;
  if (w != NULL && w->mine == NULL) {
    w->mine = c;
    return;
  }
  srv_runq_push(s, c);
}

/* Queues c for any worker. */
static void
srv_runq_push(plumb_server *s, srv_call *c)
{
  srv_calls *q = &s->calls;
  uint64_t one = 1;

  c->next = NULL;
  c->fresh = 0; /* it waits: its start reads the clock */
  pthread_mutex_lock(&q->mu);
  if (q->tail != NULL)
    q->tail->next = c;
  else
    q->head = c;
  q->tail = c;
  pthread_mutex_unlock(&q->mu);
  if (write(q->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
    plumb__log(PLUMB__LOG_ERROR, "call queue eventfd: %s", strerror(errno));
}

/* How many workers may run calls at once: all but one with 3 or more
 * workers (with 1 or 2, a reserved reader would stop or halve the
 * handlers' parallelism: no cap, and cancels wait for a free worker). */
static unsigned
srv_slot_cap(const plumb_server *s)
{
  return s->workers >= 3 ? s->workers - 1 : 0;
}

/* A slot to run calls in: 1, or 0 if the cap is reached. */
static int
srv_slot_take(plumb_server *s)
{
  srv_calls *q = &s->calls;
  unsigned cap = srv_slot_cap(s);

  if (cap == 0)
    return 1;
  unsigned b = atomic_load(&q->busy);
  while (b < cap)
    if (atomic_compare_exchange_weak(&q->busy, &b, b + 1))
      return 1;
  return 0;
}

static void
srv_slot_put(plumb_server *s)
{
  srv_calls *q = &s->calls;

  if (srv_slot_cap(s) == 0)
    return;
  atomic_fetch_sub(&q->busy, 1);
  if (atomic_exchange(&q->efd_held, 0)) /* a worker left the queue to us */
    (void)plumb__srv_arm(s, q->efd, &q->kind, EPOLL_CTL_MOD);
}

static srv_call *
srv_runq_pop(srv_calls *q)
{
  pthread_mutex_lock(&q->mu);
  srv_call *c = q->head;
  if (c != NULL && (q->head = c->next) == NULL)
    q->tail = NULL;
  pthread_mutex_unlock(&q->mu);
  return c;
}

/* Runs the calls w kept for itself (in a slot already). */
static void
srv_run_mine(srv_worker *w)
{
  while (w->mine != NULL) {
    srv_call *c = w->mine;
    w->mine = NULL;
    plumb__srv_call_run(w, c);
  }
}

/* Takes c out of the run queue if it is still there (sc->mu held). */
static int
srv_runq_remove(srv_calls *q, srv_call *c)
{
  srv_call *prev = NULL;
  int found = 0;

  pthread_mutex_lock(&q->mu);
  for (srv_call *p = q->head; p != NULL; prev = p, p = p->next)
    if (p == c) {
      if (prev != NULL)
        prev->next = c->next;
      else
        q->head = c->next;
      if (q->tail == c)
        q->tail = prev;
      found = 1;
      break;
    }
  pthread_mutex_unlock(&q->mu);
  return found; /* its efd count stays: a worker then pops nothing */
}

void
plumb__srv_calls_event(srv_worker *w)
{
  plumb_server *s = w->s;
  srv_calls *q = &s->calls;
  uint64_t v;

  if (!srv_slot_take(s)) {
    /* Every slot is taken: the queue waits, disarmed, for the next worker
     * to leave one (srv_slot_put re-arms it) - this one goes back to
     * reading.  Flagged before the second look, so that a slot left in
     * between is not missed. */
    atomic_store(&q->efd_held, 1);
    if (!srv_slot_take(s))
      return;
    /* got one after all: if nobody re-armed meanwhile, this worker does
     * (below); if somebody did, another worker may come too - harmless */
    (void)atomic_exchange(&q->efd_held, 0);
  }
  ssize_t r = read(q->efd, &v, sizeof(v));

  /* One-shot: re-armed at once so another worker takes the next call. */
  (void)plumb__srv_arm(s, q->efd, &q->kind, EPOLL_CTL_MOD);
  /* Then this worker goes on with queued calls (one count each, so the
   * count stays the queue's length) before it waits again: a pipelining
   * peer costs one read() per call, not a wake-up.  Bounded, so that the
   * worker gets back to the other events. */
  for (int i = 0; i < SRV_CALLS_BATCH && r == (ssize_t)sizeof(v); i++) {
    srv_call *c = srv_runq_pop(q);
    if (c != NULL)
      plumb__srv_call_run(w, c);
    srv_run_mine(w);
    if (i + 1 < SRV_CALLS_BATCH)
      r = read(q->efd, &v, sizeof(v));
  }
  srv_slot_put(s);
}

void
plumb__srv_calls_run_mine(srv_worker *w)
{
  if (w->mine == NULL)
    return;
  if (!srv_slot_take(w->s)) {
    /* No slot: the call goes to the run queue, this worker stays free to
     * read. */
    srv_call *c = w->mine;
    w->mine = NULL;
    srv_runq_push(w->s, c);
    return;
  }
  srv_run_mine(w);
  srv_slot_put(w->s);
}

void
plumb__srv_calls_drain(plumb_server *s)
{
  srv_calls *q = &s->calls;
  uint64_t v;
  srv_call *c;

  while ((c = srv_runq_pop(q)) != NULL)
    plumb__srv_call_release(NULL, c);
  while (read(q->efd, &v, sizeof(v)) == (ssize_t)sizeof(v))
    ;
}

/* ---- a connection's lists (sc->mu held) -------------------------------- */

/* Starts the waiting calls the ordering rule lets start. */
static void
srv_conn_pump(srv_worker *w, srv_conn *sc)
{
  srv_conn_calls *cc = &sc->calls;

  while (!cc->oneway_busy && !cc->closed && cc->wait_head != NULL) {
    srv_call *c = cc->wait_head;
    if ((cc->wait_head = c->next) == NULL)
      cc->wait_tail = NULL;
    if (c->oneway)
      cc->oneway_busy = 1;
    srv_call_start(w, c);
  }
}

/* Asks the timer to hand sc to a worker now (it is parked, or will be). */
static void
srv_conn_kick(srv_conn *sc)
{
  int64_t now = plumb__now_ns();
  atomic_store(&sc->next_check, now);
  plumb__srv_timer_want(sc->srv, now);
}

/* Takes c off sc's live list; returns non-zero if sc was dropped and c was
 * its last call (then the caller frees sc, after unlocking).  *resume is
 * set if reading sc was paused at conn_max_calls and may go on now. */
static int
srv_conn_unlink(srv_worker *w, srv_conn *sc, srv_call *c, int *resume)
{
  srv_conn_calls *cc = &sc->calls;

  if (c->lprev != NULL)
    c->lprev->lnext = c->lnext;
  else
    cc->live = c->lnext;
  if (c->lnext != NULL)
    c->lnext->lprev = c->lprev;
  cc->n--;
  if (c->oneway && c->state != SRV_CALL_WAITING)
    cc->oneway_busy = 0;
  srv_conn_pump(w, sc);
  if (cc->throttled && !cc->closed && cc->n <= sc->srv->calls.conn_max) {
    cc->throttled = 0;
    if (resume != NULL)
      *resume = 1;
    else
      srv_conn_kick(sc);
  }
  return cc->closed && !cc->dropping && cc->n == 0;
}

int
plumb__srv_calls_full(srv_conn *sc)
{
  /* At the limit the reader goes on: CANCEL frames still arrive, and the
   * first request beyond it is admitted and pauses reading. */
  if (sc->calls.n <= sc->srv->calls.conn_max)
    return 0;
  if (!sc->calls.throttled)
    plumb__log(PLUMB__LOG_DEBUG, "client %s: %u calls in flight "
               "(conn_max_calls), reading it pauses", PLUMB__PEER(&sc->peer),
               sc->calls.n);
  sc->calls.throttled = 1;
  return 1;
}

int
plumb__srv_calls_admit(srv_worker *w, srv_conn *sc, const plumb__frame *f)
{
  plumb_server *s = w->s;
  srv_conn_calls *cc = &sc->calls;
  srv_call *c = srv_call_get(s, w);

  if (c == NULL)
    return plumb__srv_send_error(sc, f, PLUMB_ENOMEM,
                                 "out of memory for a call");
  /* The request stays where it was read: the call takes the buffer and
   * leaves the reader its own (empty or pooled) one. */
  plumb_buf t = c->rx;
  c->rx = w->rx;
  w->rx = t;
  c->f = *f; /* points into c->rx now */
  c->sc = sc;
  c->oneway = f->kind == PLUMB__FRAME_ONEWAY;
  c->arrived = plumb__now_ns();
  if (f->flags & PLUMB__FRAME_F_DEADLINE) {
    int64_t us = f->status < 0 ? 0 : f->status;
    c->deadline = c->arrived + us * 1000;
  }
  c->state = SRV_CALL_WAITING;
  c->lprev = NULL;
  c->lnext = cc->live;
  if (cc->live != NULL)
    cc->live->lprev = c;
  cc->live = c;
  cc->n++;
  atomic_fetch_add(&s->calls.live, 1);
  c->next = NULL;
  if (cc->wait_tail != NULL)
    cc->wait_tail->next = c;
  else
    cc->wait_head = c;
  cc->wait_tail = c;
  c->fresh = 0;
  srv_conn_pump(w, sc);
  /* Started by its own reader, to run as soon as this frame is served
   * (srv_conn.c): no clock read between arriving and starting - the two
   * are a few hundred nanoseconds apart. */
  c->fresh = w != NULL && w->mine == c;
  return PLUMB_OK;
}

/* Takes a waiting call out of the wait list (sc->mu held). */
static void
srv_conn_unwait(srv_conn *sc, srv_call *c)
{
  srv_conn_calls *cc = &sc->calls;
  srv_call *prev = NULL;

  for (srv_call *p = cc->wait_head; p != NULL; prev = p, p = p->next)
    if (p == c) {
      if (prev != NULL)
        prev->next = c->next;
      else
        cc->wait_head = c->next;
      if (cc->wait_tail == c)
        cc->wait_tail = prev;
      return;
    }
}

void
plumb__srv_calls_cancel(srv_conn *sc, uint32_t call_id)
{
  srv_call *c;

  for (c = sc->calls.live; c != NULL; c = c->lnext)
    if (c->f.call_id == call_id && !c->oneway &&
        !atomic_load(&c->cancelled))
      break;
  if (c == NULL) {
    plumb__log(PLUMB__LOG_DEBUG, "cancel of call %u: not in flight (done "
               "already)", call_id);
    return;
  }
  atomic_store(&c->cancelled, 1);
  if (c->state != SRV_CALL_WAITING) {
    /* Still in the run queue: dropped here, by the reader, without a
     * worker (none may be free); it holds nothing yet (no object, no
     * decode memory). */
    if (!srv_runq_remove(&sc->srv->calls, c)) {
      plumb__log(PLUMB__LOG_DEBUG, "cancel of call %u: started, its "
                 "handler is told", call_id);
      return; /* whoever runs or holds it sees the flag */
    }
    plumb__log(PLUMB__LOG_DEBUG, "cancel of call %u: dropped from the run "
               "queue", call_id);
  } else {
    plumb__log(PLUMB__LOG_DEBUG, "cancel of call %u: dropped before it "
               "started", call_id);
    srv_conn_unwait(sc, c);
  }
  (void)srv_conn_unlink(NULL, sc, c, NULL); /* not closed: not the last */
  atomic_fetch_sub(&sc->srv->calls.live, 1);
  srv_call_put(sc->srv, c, NULL);
}

void
plumb__srv_calls_close(plumb_server *s, srv_conn *sc)
{
  srv_conn_calls *cc = &sc->calls;
  srv_call *c;

  pthread_mutex_lock(&sc->mu);
  cc->closed = 1;
  cc->dropping = 1;
  for (c = cc->live; c != NULL; c = c->lnext)
    atomic_store(&c->cancelled, 1);
  while ((c = cc->wait_head) != NULL) {
    cc->wait_head = c->next;
    (void)srv_conn_unlink(NULL, sc, c, NULL);
    atomic_fetch_sub(&s->calls.live, 1);
    srv_call_put(s, c, NULL);
  }
  cc->wait_tail = NULL;
  pthread_mutex_unlock(&sc->mu);
}

int
plumb__srv_calls_closed(srv_conn *sc)
{
  /* A call released meanwhile saw `dropping` and left sc to us. */
  pthread_mutex_lock(&sc->mu);
  sc->calls.dropping = 0;
  int alive = sc->calls.n != 0;
  pthread_mutex_unlock(&sc->mu);
  return alive;
}

/* ---- answering and releasing ------------------------------------------- */

int
plumb__srv_call_lock_answer(srv_call *c)
{
  pthread_mutex_lock(&c->sc->mu);
  if (c->sc->calls.closed || atomic_load(&c->cancelled)) {
    pthread_mutex_unlock(&c->sc->mu);
    return 0;
  }
  return 1;
}

/* After an answer sent with status st (sc->mu held). */
static void
srv_call_answered(srv_conn *sc, int st)
{
  if (st != PLUMB_OK) {
    /* Logged by the sender.  Only the connection's owner may drop it:
     * shut it down, and the next look at it (now) drops it. */
    sc->tr->shutdown(sc->conn);
    srv_conn_kick(sc);
  } else if (!plumb__txq_empty(&sc->txq) || sc->tail) {
    srv_conn_kick(sc); /* the owner pushes the queue out */
  }
}

void
plumb__srv_call_unlock_answer(srv_call *c, int st)
{
  srv_call_answered(c->sc, st);
  pthread_mutex_unlock(&c->sc->mu);
}

static void srv_call_released(srv_worker *w, srv_call *c, int last,
                              int resume);

void
plumb__srv_call_release(srv_worker *w, srv_call *c)
{
  srv_conn *sc = c->sc;
  int resume = 0;

  pthread_mutex_lock(&sc->mu);
  int last = srv_conn_unlink(w, sc, c, &resume);
  pthread_mutex_unlock(&sc->mu);
  srv_call_released(w, c, last, resume);
}

void
plumb__srv_call_unlock_answer_release(srv_worker *w, srv_call *c, int st)
{
  srv_conn *sc = c->sc;
  int resume = 0;

  srv_call_answered(sc, st);
  int last = srv_conn_unlink(w, sc, c, &resume);
  pthread_mutex_unlock(&sc->mu);
  srv_call_released(w, c, last, resume);
}

/* The rest of a release, sc->mu no longer held: c back to the pool; sc
 * freed if c was the last call of a dropped connection (last), or read on
 * if reading it had paused at conn_max_calls (resume). */
static void
srv_call_released(srv_worker *w, srv_call *c, int last, int resume)
{
  srv_conn *sc = c->sc;
  plumb_server *s = sc->srv;

  plumb__decode_release(&s->dec_pool, c->taken);
  if (c->obj != NULL) /* may run its destroy callback: after the answer */
    plumb__srv_object_put(c->obj);
  atomic_fetch_sub(&s->calls.live, 1);
  srv_call_put(s, c, w);
  if (last) {
    plumb__srv_conn_free(s, sc);
    return;
  }
  if (!resume)
    return;
  /* Reading sc paused at conn_max_calls: a worker goes on reading it at
   * once (if its reader has parked it already), else the timer does. */
  int parked = SRV_PARKED;
  if (w != NULL &&
      atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
    plumb__srv_serve_conn(w, sc);
  else
    srv_conn_kick(sc);
}
