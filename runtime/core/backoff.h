/* backoff.h - a listener that cannot accept (EMFILE, ENFILE, ENOMEM, ...)
 * backs off instead of spinning (core-internal).
 *
 * Each listener owns a timerfd that the server's epoll set watches next to
 * the listener's own fd (same epoll data, so a worker that gets either
 * event simply accepts again).  After a failure the listener's fd is left
 * disarmed and the timer is set: 10 ms, doubling on each failure that
 * follows within 2 s of the last one, at most 1 s; a round that accepted
 * someone before failing starts again at 10 ms (fds are being freed, so
 * a backlog of clients drains quickly).  One warning per second
 * at most, with the number of failures since the previous one.  When fds
 * are free again the next timer tick accepts and the listener is re-armed
 * as usual: recovery needs nobody's help, and closing a connection (which
 * frees an fd) makes a waiting listener retry at once.
 */
#ifndef PLUMB_BACKOFF_H
#define PLUMB_BACKOFF_H

#include <stdatomic.h>
#include <stdint.h>

#define PLUMB__BACKOFF_MIN_MS 10
#define PLUMB__BACKOFF_MAX_MS 1000

typedef struct plumb__backoff {
  int tfd;              /* timerfd (CLOCK_MONOTONIC, non-blocking), or -1 */
  int64_t interval_ms;  /* the last delay used; 0 before any failure */
  int64_t last_fail_ns; /* when the last failure happened */
  int64_t next_log_ns;  /* no warning before this */
  unsigned quiet;       /* failures not reported yet */
  atomic_int waiting;   /* the timer is set (a failure, not cleared yet) */
} plumb__backoff;

/* Creates the timer (made while fds are plentiful: a listener never needs
 * a new fd to back off).  PLUMB_OK or PLUMB_ESYS. */
int plumb__backoff_init(plumb__backoff *b);
void plumb__backoff_fini(plumb__backoff *b);
/* Counts one failure of `what` (e.g. "accept on unix:/x.sock") with
 * reason `why` (progress: the round accepted someone first), logs if a
 * second has passed, and sets the timer.  The
 * caller then arms b->tfd instead of the listener's fd.  PLUMB_OK, or
 * PLUMB_ESYS if the timer could not be set. */
int plumb__backoff_fail(plumb__backoff *b, const char *what, const char *why,
                        int progress);
/* Consumes a pending expiry (harmless when there is none). */
void plumb__backoff_clear(plumb__backoff *b);
/* A connection was closed, so an fd is free: a waiting listener retries
 * in 1 ms instead of at the end of its interval.  Thread-safe, cheap when
 * not waiting. */
void plumb__backoff_nudge(plumb__backoff *b);

#endif
