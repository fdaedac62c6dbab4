/* backoff.c - the listener's back-off timer after failed accepts (see
 * backoff.h): growing, capped delays on a timerfd and one warning a
 * second with a count. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backoff.h"
#include "log.h"
#include "transport.h"

#define BACKOFF_RESET_NS (2000LL * 1000000LL) /* calm for 2 s: start over */
#define BACKOFF_LOG_NS (1000LL * 1000000LL)

int
plumb__backoff_init(plumb__backoff *b)
{
  memset(b, 0, sizeof(*b));
  b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  return b->tfd >= 0 ? PLUMB_OK : PLUMB_ESYS;
}

void
plumb__backoff_fini(plumb__backoff *b)
{
  if (b->tfd >= 0)
    close(b->tfd);
  b->tfd = -1;
}

int
plumb__backoff_fail(plumb__backoff *b, const char *what, const char *why,
                    int progress)
{
  int64_t now = plumb__now_ns();

  if (progress || b->interval_ms == 0 ||
      now - b->last_fail_ns > BACKOFF_RESET_NS)
    b->interval_ms = PLUMB__BACKOFF_MIN_MS;
  else if ((b->interval_ms *= 2) > PLUMB__BACKOFF_MAX_MS)
    b->interval_ms = PLUMB__BACKOFF_MAX_MS;
  b->last_fail_ns = now;
  b->quiet++;
  if (now >= b->next_log_ns) {
    plumb__log(PLUMB__LOG_WARN, "%s: %s (%u failure%s since the last "
               "report); not accepting for %lld ms", what, why, b->quiet,
               b->quiet == 1 ? "" : "s", (long long)b->interval_ms);
    b->quiet = 0;
    b->next_log_ns = now + BACKOFF_LOG_NS;
  }
  atomic_store(&b->waiting, 1);
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = b->interval_ms / 1000;
  its.it_value.tv_nsec = (long)(b->interval_ms % 1000) * 1000000L;
  return timerfd_settime(b->tfd, 0, &its, NULL) == 0 ? PLUMB_OK : PLUMB_ESYS;
}

void
plumb__backoff_clear(plumb__backoff *b)
{
  uint64_t n;
  atomic_store(&b->waiting, 0);
  ssize_t r = read(b->tfd, &n, sizeof n);
  (void)r; /* EAGAIN when it did not fire: fine */
}

void
plumb__backoff_nudge(plumb__backoff *b)
{
  if (!atomic_load(&b->waiting))
    return;
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_nsec = 1000000L;
  (void)timerfd_settime(b->tfd, 0, &its, NULL);
}
