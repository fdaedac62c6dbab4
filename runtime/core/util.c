/* util.c - small helpers shared by the core and the transports: growable
 * frame buffers, the monotonic clock used for every deadline, and whether
 * SIGPIPE is known to be ignored. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "transport.h"

size_t
plumb__buf_cap_for(const plumb_buf *b, size_t need)
{
  if (need <= b->cap)
    return b->cap;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  return cap;
}

int
plumb__buf_reserve(plumb_buf *b, size_t need)
{
  if (need <= b->cap)
    return PLUMB_OK;
  size_t cap = plumb__buf_cap_for(b, need);
  uint8_t *p = realloc(b->data, cap);
  if (p == NULL)
    return PLUMB_ENOMEM;
  b->data = p;
  b->cap = cap;
  return PLUMB_OK;
}

void
plumb__buf_free(plumb_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int64_t
plumb__now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
plumb__deadline_ms(int64_t ms)
{
  if (ms < 0)
    return PLUMB_FOREVER;
  return plumb__now_ns() + ms * 1000000;
}

int
plumb__poll_timeout(int64_t deadline)
{
  if (deadline == PLUMB_FOREVER)
    return -1;
  if (deadline == PLUMB_NOWAIT)
    return 0;
  int64_t left = deadline - plumb__now_ns();
  if (left <= 0)
    return 0;
  int64_t ms = (left + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

static atomic_int util_sigpipe_ignored;

int
plumb__sigpipe_ignored(void)
{
  return atomic_load_explicit(&util_sigpipe_ignored, memory_order_relaxed);
}

void
plumb__set_sigpipe_ignored(void)
{
  atomic_store(&util_sigpipe_ignored, 1);
}
