/* srv_watchdog.c - the watchdog of calls run inline (docs/RUNTIME.md,
 * "Reply first"): a worker that runs a call it read itself holds that
 * connection's reader; should the call outlive SRV_INLINE_NS (2 ms), a
 * tick of this timer hands the connection to the ticking worker, which
 * reads on (CANCEL frames, the connection's parallel calls).
 *
 * Cost: nothing per call but two atomic stores and a load.  The timerfd is
 * periodic (every SRV_INLINE_NS) and registered edge-triggered, so a tick
 * is one epoll_wait return and one read; it is armed by the first inline
 * call after a quiet spell and disarmed by the first tick that finds no
 * inline call started since the one before and none still running inline.
 * (Before: each call asked the flow-control timer for a look 2 ms later -
 * a mutex per call, and a timerfd_settime, a read and an epoll_ctl re-arm
 * per 2 ms tick.)
 *
 * No call is left unwatched: a call publishes SRV_INLINE, then wd_seen,
 * then reads wd_on; a tick clears wd_seen, scans the connections, disarms,
 * clears wd_on, then reads wd_seen again (all seq_cst): either the tick
 * sees the call, or the call sees wd_on == 0 and arms the timer itself.
 */
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "server_int.h"

int
plumb__srv_wd_init(plumb_server *s)
{
  struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
                            .data.ptr = &s->wd_kind };

  s->wd_kind = SRV_WATCHDOG;
  atomic_init(&s->wd_on, 0);
  atomic_init(&s->wd_seen, 0);
  s->wdfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (s->wdfd < 0)
    return PLUMB_ESYS;
  /* Edge-triggered: one worker per expiry, no re-arm. */
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wdfd, &ev) != 0) {
    close(s->wdfd);
    s->wdfd = -1;
    return PLUMB_ESYS;
  }
  return PLUMB_OK;
}

void
plumb__srv_wd_fini(plumb_server *s)
{
  if (s->wdfd >= 0)
    close(s->wdfd);
  s->wdfd = -1;
}

static void
srv_wd_set(plumb_server *s, int64_t period_ns)
{
  struct timespec p = { period_ns / 1000000000, period_ns % 1000000000 };
  struct itimerspec its = { p, p };
  (void)timerfd_settime(s->wdfd, 0, &its, NULL);
}

void
plumb__srv_wd_start(plumb_server *s)
{
  /* Written only when the tick cleared it: one full barrier (and one
   * cache line shared by every worker dirtied) per tick, not per call.
   * A seq_cst load (a plain load on x86): ordered after our store of
   * sc->state, so a tick that clears wd_seen after it either sees the
   * inline state in its scan or lets this load see the 0. */
  if (!atomic_load(&s->wd_seen))
    atomic_store(&s->wd_seen, 1);
  if (!atomic_load(&s->wd_on) && !atomic_exchange(&s->wd_on, 1))
    srv_wd_set(s, SRV_INLINE_NS);
}

void
plumb__srv_wd_tick(srv_worker *w)
{
  plumb_server *s = w->s;
  srv_conn *due[SRV_TIMER_BATCH];
  int n = 0, inline_left = 0;
  uint64_t ticks;

  (void)!read(s->wdfd, &ticks, sizeof(ticks));
  int seen = atomic_exchange(&s->wd_seen, 0);
  int64_t now = plumb__now_ns();
  pthread_mutex_lock(&s->mu);
  for (srv_conn *sc = s->conns; sc != NULL; sc = sc->next) {
    int st = atomic_load(&sc->state);
    if (st < SRV_INLINE)
      continue;
    int64_t at = atomic_load(&sc->next_check);
    if (at == 0 || at > now || n == SRV_TIMER_BATCH) {
      inline_left = 1; /* not due yet: look at it next tick */
      continue;
    }
    /* Its reader runs a call inline past the budget: take it over (the
     * reader's own swap back then fails, srv_conn.c). */
    if (atomic_compare_exchange_strong(&sc->state, &st, SRV_OWNED))
      due[n++] = sc;
  }
  pthread_mutex_unlock(&s->mu);
  if (!seen && !inline_left) { /* a quiet spell: stop ticking */
    srv_wd_set(s, 0);
    atomic_store(&s->wd_on, 0);
    if (atomic_load(&s->wd_seen))
      plumb__srv_wd_start(s); /* a call went inline meanwhile */
  }
  for (int i = 0; i < n; i++)
    plumb__srv_serve_conn(w, due[i]);
}
