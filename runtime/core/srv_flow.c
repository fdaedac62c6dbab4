/* srv_flow.c - the server's flow control (docs/RUNTIME.md, "Server I/O"):
 * the one timerfd that revisits parked connections, waiting for a peer that
 * does not read its replies (send_timeout_ms) and for a frame that does not
 * finish arriving (frame_timeout_ms); setting those knobs (plumb.conf,
 * config.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "access.h"
#include "log.h"
#include "open_opts.h"
#include "server_int.h"

void
plumb__server_set_flow(plumb_server *s, size_t conn_queue_bytes,
                       unsigned conn_queue_frames, uint64_t server_queue_bytes,
                       int send_timeout_ms, int frame_timeout_ms)
{
  if (s == NULL)
    return;
  if (conn_queue_bytes != 0)
    s->conn_queue_bytes = conn_queue_bytes;
  if (conn_queue_frames != 0)
    s->conn_queue_frames = conn_queue_frames;
  if (server_queue_bytes != 0)
    s->server_queue_bytes = server_queue_bytes > SIZE_MAX
                                ? SIZE_MAX : (size_t)server_queue_bytes;
  if (send_timeout_ms > 0)
    s->send_timeout_ms = send_timeout_ms;
  if (frame_timeout_ms > 0)
    s->frame_timeout_ms = frame_timeout_ms;
}

/* ---- flow control: the timer ------------------------------------- */

/* Makes the server's timer fire by `at` (CLOCK_MONOTONIC ns) at the latest. */
void
plumb__srv_timer_want(plumb_server *s, int64_t at)
{
  pthread_mutex_lock(&s->timer_mu);
  if (s->timer_at == 0 || at < s->timer_at) {
    struct itimerspec its = { { 0, 0 }, { at / 1000000000, at % 1000000000 } };
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1; /* 0 would disarm */
    if (timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
      s->timer_at = at;
  }
  pthread_mutex_unlock(&s->timer_mu);
}

/* Asks the timer to hand sc to a worker at `at` (set before parking). */
static void
srv_conn_check_at(srv_conn *sc, int64_t at)
{
  atomic_store(&sc->next_check, at);
  plumb__srv_timer_want(sc->srv, at);
}

/* One tick: takes the parked connections whose check is due (a swap, like
 * an epoll event would) and serves them, re-arming the timer for the rest. */
void
plumb__srv_timer_tick(srv_worker *w)
{
  plumb_server *s = w->s;
  srv_conn *due[SRV_TIMER_BATCH];
  int n = 0;
  int64_t next = 0, now;
  uint64_t ticks;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
                            .data.ptr = &s->timer_kind };

  (void)!read(s->timerfd, &ticks, sizeof(ticks));
  pthread_mutex_lock(&s->timer_mu);
  s->timer_at = 0;
  pthread_mutex_unlock(&s->timer_mu);
  now = plumb__now_ns();
  pthread_mutex_lock(&s->mu);
  for (srv_conn *sc = s->conns; sc != NULL; sc = sc->next) {
    int64_t at = atomic_load(&sc->next_check);
    if (at == 0)
      continue;
    if (at > now || n == SRV_TIMER_BATCH) {
      next = next == 0 || at < next ? at : next;
      continue;
    }
    /* Parked, or its reader is running a call inline: take it over. */
    int parked = atomic_load(&sc->state);
    if (parked != SRV_PARKED && parked < SRV_INLINE)
      parked = SRV_PARKED;
    if (atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
      due[n++] = sc;
    else /* being served: look again soon in case it parks on this */
      next = next == 0 || now + 1000000 < next ? now + 1000000 : next;
  }
  pthread_mutex_unlock(&s->mu);
  if (next != 0)
    plumb__srv_timer_want(s, next < now ? now : next);
  (void)epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->timerfd, &ev);
  for (int i = 0; i < n; i++)
    plumb__srv_serve_conn(w, due[i]);
}

/* ---- flow control: waiting for a slow peer ------------------------- */

/* sc's replies wait in its queue: watch it for writability only (its
 * requests are not read meanwhile), or retry on the timer; drop it once
 * the queue has waited send_timeout_ms.  Called with sc->mu held; returns
 * PLUMB_OK (sc handed back to epoll/the timer: hands off) or an error
 * (drop it). */
int
plumb__srv_park_write(plumb_server *s, srv_conn *sc, int64_t now)
{
  int64_t limit = sc->blocked_since + s->send_timeout_ms * 1000000;
  struct epoll_event ev;
  uint32_t events;
  int fd, st;

  if (now >= limit) {
    plumb__log(PLUMB__LOG_WARN, "dropping client %s: it has "
               "not read its replies for %lld ms (send_timeout_ms; %u frames,"
               " %zu bytes queued)", PLUMB__PEER(&sc->peer),
               (long long)s->send_timeout_ms, sc->txq.frames, sc->txq.bytes);
    return PLUMB_ETIMEDOUT;
  }
  plumb__log(PLUMB__LOG_DEBUG, "client %s: %u replies wait, watching "
             "for writability", PLUMB__PEER(&sc->peer), sc->txq.frames);
  st = sc->tr->write_wait(sc->conn, &fd, &events);
  if (st == PLUMB_ENOTSUP) {
    sc->retry_ms = sc->retry_ms < SRV_RETRY_MIN_MS ? SRV_RETRY_MIN_MS
                   : sc->retry_ms * 2 > SRV_RETRY_MAX_MS ? SRV_RETRY_MAX_MS
                                                         : sc->retry_ms * 2;
    int64_t at = now + sc->retry_ms * 1000000;
    pthread_mutex_unlock(&sc->mu);
    atomic_store(&sc->state, SRV_PARKED);
    srv_conn_check_at(sc, at < limit ? at : limit);
    return PLUMB_OK;
  }
  if (st != PLUMB_OK)
    return st;
  ev.events = events | EPOLLONESHOT;
  int op = EPOLL_CTL_MOD;
  if (fd == sc->fd) {
    ev.data.ptr = sc;
  } else {
    ev.data.ptr = &sc->wkind;
    if (!sc->wfd_added)
      op = EPOLL_CTL_ADD;
    sc->wfd = fd;
    sc->wfd_added = 1;
  }
  pthread_mutex_unlock(&sc->mu);
  atomic_store(&sc->next_check, limit); /* before it can be taken again */
  atomic_store(&sc->state, SRV_PARKED);
  plumb__srv_timer_want(s, limit);
  if (epoll_ctl(s->epfd, op, fd, &ev) != 0) {
    int parked = SRV_PARKED;
    if (atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED)) {
      pthread_mutex_lock(&sc->mu);
      plumb__log(PLUMB__LOG_WARN, "epoll: cannot watch client %s "
                 "for writing", PLUMB__PEER(&sc->peer));
      return PLUMB_ESYS;
    }
  }
  return PLUMB_OK;
}

void
plumb__srv_log_rx_full(plumb_server *s, const srv_conn *sc)
{
  int64_t now = plumb__now_ns();
  int64_t next = atomic_load(&s->rx_log_next);

  if (now < next || !atomic_compare_exchange_strong(&s->rx_log_next, &next,
                                                    now + 1000000000)) {
    atomic_fetch_add(&s->rx_log_quiet, 1);
    return;
  }
  unsigned quiet = atomic_exchange(&s->rx_log_quiet, 0);
  plumb__log(PLUMB__LOG_WARN, "dropping client %s: receive memory of "
             "the server full (max_rx_memory=%zu; %u more dropped since the "
             "last report)", PLUMB__PEER(&sc->peer), s->rx_pool.max, quiet);
}

/* A frame that began arriving must complete within frame_timeout_ms.
 * Returns PLUMB_OK or PLUMB_ETIMEDOUT (drop); may ask for the timer.  The
 * clock is read only when a frame is incomplete (not once per call). */
int
plumb__srv_check_partial(plumb_server *s, srv_conn *sc)
{
  if (sc->tr->rx_partial == NULL || sc->tr->rx_partial(sc->conn) == 0) {
    sc->partial_since = 0;
    return PLUMB_OK;
  }
  int64_t now = plumb__now_ns();
  if (sc->partial_since == 0)
    sc->partial_since = now;
  int64_t limit = sc->partial_since + s->frame_timeout_ms * 1000000;
  if (now >= limit) {
    plumb__log(PLUMB__LOG_WARN, "dropping client %s: a frame "
               "begun %lld ms ago is still incomplete (frame_timeout_ms)",
               PLUMB__PEER(&sc->peer),
               (long long)s->frame_timeout_ms);
    return PLUMB_ETIMEDOUT;
  }
  atomic_store(&sc->next_check, limit);
  plumb__srv_timer_want(s, limit);
  return PLUMB_OK;
}
