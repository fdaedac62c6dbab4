/* srv_conn.c - the server's connections: accepting and admitting clients
 * (access.h), serving one connection a worker owns (read every frame it
 * has, hand each to srv_dispatch.c, re-arm) and dropping it.
 *
 * Ownership: a connection is PARKED in epoll (or waiting for the timer) or
 * OWNED by the one worker that took it with a compare-and-swap on
 * srv_conn.state; dropped connections go back to the server's pool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "access.h"
#include "log.h"
#include "server_int.h"


/* Hands connection sc back to epoll for reading: from now on any worker
 * may take it (srv_conn.state).  An edge-triggered connection (sc->edge)
 * is registered EPOLLIN | EPOLLET, and stays so until it waits for
 * writability: EPOLL_CTL_MOD reports what is readable already. */
static int
srv_conn_arm(plumb_server *s, int fd, srv_conn *sc, int op)
{
  if (!sc->edge) {
    atomic_store(&sc->state, SRV_PARKED);
    return plumb__srv_arm(s, fd, sc, op);
  }
  /* EPOLLRDHUP: an end of file that comes in the same edge as the last
   * bytes is seen (sc->hup), not taken for a drained socket. */
  struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                            .data.ptr = sc };
  sc->edge_armed = 1; /* before PARKED: the next owner reads it */
  atomic_store(&sc->state, SRV_PARKED);
  if (epoll_ctl(s->epfd, op, fd, &ev) == 0)
    return PLUMB_OK;
  return PLUMB_ESYS; /* its owner (whoever takes it) drops it */
}

/* Parks an edge-triggered connection that is armed already: no system
 * call.  An event that reached sc while it was owned set sc->dirty and
 * lost the swap; seeing it here (after PARKED is visible: seq_cst) the
 * worker takes sc back.  Returns 1 if it did (sc owned again, mu not
 * held), 0 if sc is parked (hands off). */
static int
srv_conn_park_edge(srv_conn *sc)
{
  atomic_store(&sc->state, SRV_PARKED);
  if (!atomic_load(&sc->dirty))
    return 0;
  int parked = SRV_PARKED;
  return atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED);
}

/* Gives sc (owned, never published or already unlinked) back to the pool:
 * never free() it, a stale epoll event may still point at it. */
static void
srv_conn_pool_put(plumb_server *s, srv_conn *sc)
{
  atomic_store(&sc->next_check, 0);
  atomic_store(&sc->state, SRV_DEAD);
  pthread_mutex_lock(&s->mu);
  sc->prev = NULL;
  sc->next = s->pool;
  s->pool = sc;
  pthread_mutex_unlock(&s->mu);
}

/* A zeroed connection owned by the caller, from the pool if it can. */
static srv_conn *
srv_conn_alloc(plumb_server *s)
{
  pthread_mutex_lock(&s->mu);
  srv_conn *sc = s->pool;
  if (sc != NULL)
    s->pool = sc->next;
  pthread_mutex_unlock(&s->mu);
  if (sc == NULL && (sc = malloc(sizeof(*sc))) == NULL)
    return NULL;
  memset(sc, 0, sizeof(*sc));
  atomic_init(&sc->state, SRV_OWNED);
  sc->kind = SRV_CONN;
  sc->wkind = SRV_CONN_W;
  sc->srv = s;
  sc->wfd = -1;
  return sc;
}

void
plumb__srv_conn_drop(plumb_server *s, srv_conn *sc)
{
  /* Its calls are cancelled; one still running or deferred keeps sc (not
   * the transport connection) until it is released (srv_calls.c) - but
   * never before this drop is done with sc: a call finishing meanwhile
   * must not put sc back in the pool, where an accept could reuse it
   * while we still close "its" connection. */
  plumb__srv_calls_close(s, sc);
  (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, sc->fd, NULL);
  if (sc->wfd_added)
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, sc->wfd, NULL);
  plumb__txq_limits lim = plumb__srv_limits(sc);
  plumb__txq_clear(&sc->txq, &lim);
  pthread_mutex_lock(&s->mu);
  if (sc->prev)
    sc->prev->next = sc->next;
  else
    s->conns = sc->next;
  if (sc->next)
    sc->next->prev = sc->prev;
  pthread_mutex_unlock(&s->mu);
  sc->tr->close(sc->conn);
  atomic_store(&sc->next_check, 0);
  atomic_store(&sc->state, SRV_DEAD);
  if (!plumb__srv_calls_closed(sc))
    plumb__srv_conn_free(s, sc);
}

void
plumb__srv_conn_free(plumb_server *s, srv_conn *sc)
{
  pthread_mutex_destroy(&sc->mu);
  srv_conn_pool_put(s, sc);
  pthread_mutex_lock(&s->mu);
  /* An fd is free: a listener backing off after EMFILE retries now. */
  for (srv_listener *sl = s->listeners; sl != NULL; sl = sl->next)
    plumb__backoff_nudge(&sl->bo);
  pthread_mutex_unlock(&s->mu);
}

/* Accepts every pending client of sl (at most 64 per wake-up), admits or
 * refuses each one (access.h), then re-arms the listener - or, after a
 * failure such as EMFILE, leaves it disarmed and arms its back-off timer
 * (backoff.h), so a server at its fd limit never spins. */
void
plumb__srv_accept_all(plumb_server *s, srv_listener *sl)
{
  int failed = 0;

  pthread_mutex_lock(&sl->mu);
  plumb__backoff_clear(&sl->bo);
  for (int i = 0; i < 64; i++) {
    plumb_conn *conn;
    int e;
    errno = 0;
    int st = sl->tr->accept(sl->l, &conn);
    if (st == PLUMB_EAGAIN)
      break;
    if (st != PLUMB_OK) {
      e = errno;
      char what[300], why[160];
      snprintf(what, sizeof what, "accept on %s", sl->endpoint);
      snprintf(why, sizeof why, "%s", e ? strerror(e) : plumb_strerror(st));
      failed = plumb__backoff_fail(&sl->bo, what, why, i > 0) == PLUMB_OK;
      break;
    }
    srv_conn *sc = srv_conn_alloc(s);
    if (sc == NULL) {
      sl->tr->close(conn);
      char what[300];
      snprintf(what, sizeof what, "accept on %s", sl->endpoint);
      failed = plumb__backoff_fail(&sl->bo, what, "out of memory", i > 0) ==
               PLUMB_OK;
      break;
    }
    sc->kind = SRV_CONN;
    sc->tr = sl->tr;
    sc->conn = conn;
    sc->fd = sl->tr->conn_fd(conn);
    sc->edge = sl->tr->rx_state != NULL;
    if (sl->tr->peer == NULL || sl->tr->peer(conn, &sc->peer) != PLUMB_OK)
      memset(&sc->peer, 0, sizeof(sc->peer));
    plumb__peer_set_addr(&sc->peer, sc->fd); /* tcp: "host:port" */
    if (!plumb__access_admit(&sl->access, &sc->peer, sc->fd)) {
      /* Closed at once: the peer never reaches a handler. */
      plumb__access_log_refused(&sl->refused, sl->endpoint, &sc->peer,
                                sc->fd);
      sl->tr->close(conn);
      srv_conn_pool_put(s, sc);
      continue;
    }
    pthread_mutex_init(&sc->mu, NULL);
    pthread_mutex_lock(&sc->mu); /* published to the next worker on unlock */
    pthread_mutex_lock(&s->mu);
    sc->next = s->conns;
    if (s->conns)
      s->conns->prev = sc;
    s->conns = sc;
    pthread_mutex_unlock(&s->mu);
    if (plumb__log_enabled(PLUMB__LOG_DEBUG)) {
      char who[80];
      plumb__access_describe(&sc->peer, sc->fd, who, sizeof who);
      plumb__log(PLUMB__LOG_DEBUG, "accepted a client on %s (%s)",
                 sl->endpoint, who);
    }
    int fd = sc->fd;
    /* Into the epoll set while still OWNED and one-shot with no events: a
     * stale event for this recycled srv_conn (the pool) may let another
     * worker take it the moment it is PARKED, and that worker's re-arm is
     * an EPOLL_CTL_MOD, which must find it there.  An event that fires now
     * loses the swap; the MOD below looks at the fd afresh. */
    struct epoll_event none = { .events = EPOLLONESHOT, .data.ptr = sc };
    int added = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &none) == 0;
    pthread_mutex_unlock(&sc->mu);
    /* Once armed, another worker may serve and even drop sc: hands off. */
    if (!added || srv_conn_arm(s, fd, sc, EPOLL_CTL_MOD) != PLUMB_OK) {
      int parked = SRV_PARKED;
      if (!added ||
          atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED)) {
        plumb__log(PLUMB__LOG_WARN, "epoll: cannot watch a new connection");
        plumb__srv_conn_drop(s, sc);
      }
    }
  }
  int fd = failed ? sl->bo.tfd : sl->tr->listener_fd(sl->l);
  pthread_mutex_unlock(&sl->mu);
  (void)plumb__srv_arm(s, fd, sl, EPOLL_CTL_MOD);
}

/* ---- serving a connection ------------------------------------------ */

/* sc (edge-triggered, armed) is to wait for writability: its requests are
 * not read meanwhile (backpressure), so no read event may reach it.  Where
 * the write end is conn_fd itself, park_write's EPOLL_CTL_MOD replaces the
 * registration; where it is another fd (FIFOs) conn_fd is disarmed here
 * (one-shot, no events).  Either way the next park re-arms it. */
static int
srv_conn_edge_off(plumb_server *s, srv_conn *sc)
{
  int wfd;
  uint32_t events;

  sc->edge_armed = 0;
  if (sc->tr->write_wait(sc->conn, &wfd, &events) != PLUMB_OK ||
      wfd == sc->fd)
    return PLUMB_OK;
  struct epoll_event ev = { .events = EPOLLONESHOT, .data.ptr = sc };
  if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, sc->fd, &ev) == 0)
    return PLUMB_OK;
  plumb__log(PLUMB__LOG_WARN, "epoll: cannot pause client %s",
             PLUMB__PEER(&sc->peer));
  return PLUMB_ESYS;
}

/* Runs the call w read for itself (w->mine) now, before reading sc on:
 * its reply goes out first, so a client making one call at a time waits
 * for no system call of the reader (the next recv() to EAGAIN, shm's
 * doorbell drain and arming, the epoll re-arm).  Meanwhile sc is
 * SRV_INLINE + w->id (edge-triggered: events only mark it dirty); should
 * the call run past SRV_INLINE_NS (2 ms) the watchdog takes sc over
 * (srv_watchdog.c) and reads on, so
 * CANCEL frames and the connection's parallel calls wait at most that.
 * Called with sc->mu held; returns 0 with it held again and sc still
 * ours, or 1 if sc was taken over (or dropped) meanwhile: hands off. */
static int
srv_conn_run_inline(srv_worker *w, srv_conn *sc)
{
  int me = SRV_INLINE + w->id;
  /* a call just read has its start time already (srv_calls.c, fresh) */
  int64_t at = (w->mine->fresh ? w->mine->arrived : plumb__now_ns()) +
               SRV_INLINE_NS;
  int corked = sc->corked;

  atomic_store(&sc->next_check, at);
  atomic_store(&sc->state, me);
  pthread_mutex_unlock(&sc->mu);
  plumb__srv_wd_start(w->s); /* ticks while calls run inline */
  plumb__srv_calls_run_mine(w);
  /* timed only while corked: that is when a slow call holds replies */
  int64_t took = corked ? plumb__now_ns() - (at - SRV_INLINE_NS) : 0;
  if (!atomic_compare_exchange_strong(&sc->state, &me, SRV_OWNED))
    return 1;
  pthread_mutex_lock(&sc->mu);
  sc->inline_ns = took;
  return 0;
}

/* Replies leave together (docs/RUNTIME.md, "Replies leave together"):
 * while a whole frame is already read and waiting (rx_state() ==
 * PLUMB__RX_WHOLE) the owner corks the connection, so the replies to a
 * burst of requests read in one go go out in one write, not one each; it
 * uncorks before it reads again, parks or hands the connection back.  A
 * call run inline that took longer than SRV_CORK_NS uncorks before the next
 * one starts, so a reply waits behind slow handlers at most once (and at
 * most the inline budget, after which the watchdog's new owner uncorks). */
#define SRV_CORK_NS 50000

static void
srv_conn_cork(srv_conn *sc, int on)
{
  if (sc->tr->cork == NULL || sc->corked == on)
    return;
  sc->corked = on;
  sc->tr->cork(sc->conn, on);
}

/* Uncorks sc and writes the batch; PLUMB_OK (sc->tail set if the peer
 * left some of it to us) or the transport's error. */
static int
srv_conn_uncork(srv_conn *sc)
{
  if (!sc->corked)
    return PLUMB_OK;
  srv_conn_cork(sc, 0);
  int st = sc->tr->flush(sc->conn);
  if (st == PLUMB_EAGAIN) {
    sc->tail = 1;
    if (sc->blocked_since == 0)
      sc->blocked_since = plumb__now_ns();
    return PLUMB_OK;
  }
  return st;
}

/* Serves a connection its worker owns: first pushes out queued replies
 * (while any remain, the peer's requests are not read: backpressure on
 * it alone), then every frame it has - running the first call each frame
 * starts inline, before the next read - then re-arms it (or drops it). */
void
plumb__srv_serve_conn(srv_worker *w, srv_conn *sc)
{
  plumb_server *s = w->s;
  int st, ran = 0;

  pthread_mutex_lock(&sc->mu);
again:
  atomic_store(&sc->next_check, 0);
  if (!plumb__txq_empty(&sc->txq) || sc->tail) {
    plumb__txq_limits lim = plumb__srv_limits(sc);
    st = plumb__txq_flush(&sc->txq, sc->conn, &lim);
    if (st == PLUMB_EAGAIN)
      goto park_write;
    if (st != PLUMB_OK) {
      plumb__log(PLUMB__LOG_INFO, "dropping client %s: %s",
                 PLUMB__PEER(&sc->peer), plumb_strerror(st));
      goto drop;
    }
    sc->tail = 0;
    sc->blocked_since = 0;
    sc->retry_ms = 0;
  }
  for (;;) {
    int after = ran;
    if (ran && !sc->edge) {
      ran = 0;
      /* Nothing held and the last such read missed: epoll tells when
       * more comes (rx_level), one system call saved per call. */
      if (sc->tr->rx_level && sc->rx_after_miss &&
          (++sc->rx_after_n & 15) != 0 && sc->tr->rx_partial(sc->conn) == 0)
        break;
    }
    ran = 0;
    /* A client that never pauses (a queue transport's worker lingers on
     * it, linger.h) would keep this worker here for ever: once the server
     * stops, it parks sc and goes back to epoll, where the stop event
     * waits.  What is unread stays so: dirty is cleared, else parking
     * would take sc back. */
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
      atomic_store(&sc->dirty, 0);
      break;
    }
    if (plumb__srv_calls_full(sc))
      goto park_calls; /* conn_max_calls: its calls first (srv_calls.c) */
    /* Edge-triggered: the descriptor is read only if an event came since
     * its last read or that read may have left something - never to
     * EAGAIN.  dirty is cleared just before a recv() that reads it (no
     * whole frame inside), so an event from then on is seen at parking. */
    if (sc->edge) {
      int rs = sc->tr->rx_state(sc->conn);
      if (rs == PLUMB__RX_WHOLE && sc->inline_ns <= SRV_CORK_NS) {
        srv_conn_cork(sc, 1);
      } else if (sc->corked) { /* the burst is served: its replies go */
        if ((st = srv_conn_uncork(sc)) != PLUMB_OK)
          goto write_failed;
        if (sc->tail)
          goto park_write;
      }
      if (rs != PLUMB__RX_WHOLE && !atomic_exchange(&sc->dirty, 0) &&
          rs == PLUMB__RX_DRAINED && !atomic_load(&sc->hup))
        break;
    }
    st = sc->tr->recv(sc->conn, &w->rx, PLUMB_NOWAIT);
    if (after)
      sc->rx_after_miss = st == PLUMB_EAGAIN;
    if (st == PLUMB_EAGAIN)
      break;
    if (st != PLUMB_OK) {
      if (st == PLUMB_ECLOSED)
        plumb__log(PLUMB__LOG_DEBUG, "client %s left",
                   PLUMB__PEER(&sc->peer));
      else if (st == PLUMB_EBUSY)
        plumb__srv_log_rx_full(s, sc);
      else
        plumb__log(PLUMB__LOG_WARN, "dropping client %s: %s",
                   PLUMB__PEER(&sc->peer), plumb_strerror(st));
      goto drop;
    }
    sc->partial_since = 0;
    if ((st = plumb__srv_serve_frame(w, sc)) != PLUMB_OK) {
      if (st != PLUMB_EPROTO && st != PLUMB_ETOOBIG && st != PLUMB_EVERSION)
        plumb__log(PLUMB__LOG_INFO, "dropping client %s: %s",
                   PLUMB__PEER(&sc->peer), plumb_strerror(st));
      goto drop;
    }
    if (!plumb__txq_empty(&sc->txq) || sc->tail)
      goto park_write; /* stop reading this peer until it reads */
    if (w->mine != NULL) {
      if (srv_conn_run_inline(w, sc))
        return; /* taken over meanwhile: its new owner's */
      ran = 1;
      goto again; /* its reply may be queued: flush first */
    }
  }
  if ((st = srv_conn_uncork(sc)) != PLUMB_OK)
    goto write_failed;
  if (sc->tail)
    goto park_write;
  if (plumb__srv_check_partial(s, sc) != PLUMB_OK)
    goto drop;
  /* Do not keep a huge frame's buffers around once it is served. */
  if (w->rx.cap > SRV_BUF_KEEP)
    plumb__buf_free(&w->rx);
  if (w->tx.cap > SRV_BUF_KEEP)
    plumb__buf_free(&w->tx);
  int fd = sc->fd;
  pthread_mutex_unlock(&sc->mu);
  if (sc->edge && sc->edge_armed) {
    if (!srv_conn_park_edge(sc))
      return; /* parked: hands off */
    pthread_mutex_lock(&sc->mu); /* an event came meanwhile: ours again */
    goto again;
  }
  /* Once re-armed another worker may take sc: hands off.  (ThreadSanitizer
   * cannot see that EPOLL_CTL_MOD orders this epoll_ctl before the next
   * worker's epoll_wait, and reports that pair as a race; it is not.) */
  if (srv_conn_arm(s, fd, sc, EPOLL_CTL_MOD) == PLUMB_OK)
    return;
  int parked = SRV_PARKED;
  if (!atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
    return; /* someone took it meanwhile: theirs now */
  pthread_mutex_lock(&sc->mu);
  goto drop;
park_calls: /* not watched: the call that ends the pause resumes it */
  if ((st = srv_conn_uncork(sc)) != PLUMB_OK)
    goto write_failed;
  if (sc->tail)
    goto park_write;
  pthread_mutex_unlock(&sc->mu);
  atomic_store(&sc->state, SRV_PARKED);
  return;
park_write:
  if ((st = srv_conn_uncork(sc)) != PLUMB_OK)
    goto write_failed;
  if (sc->edge_armed && srv_conn_edge_off(s, sc) != PLUMB_OK)
    goto drop;
  if (plumb__srv_park_write(s, sc, plumb__now_ns()) == PLUMB_OK)
    return;
  goto drop; /* as before: a timed-out or unwatchable peer goes */
write_failed:
  plumb__log(PLUMB__LOG_INFO, "dropping client %s: %s",
             PLUMB__PEER(&sc->peer), plumb_strerror(st));
drop:
  srv_conn_cork(sc, 0);
  pthread_mutex_unlock(&sc->mu);
  plumb__srv_conn_drop(s, sc);
}
