/* linger.c - slots and back-off of the queue transports' server-side
 * linger (see linger.h). */
#include "linger.h"

#include <stdatomic.h>
#include <unistd.h>

static _Atomic int linger_active; /* workers lingering in this process */

int
plumb__waiters_max(void)
{
  static _Atomic int max;
  int m = atomic_load_explicit(&max, memory_order_relaxed);

  if (m == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m = n > 2 ? (int)n - 1 : 1;
    atomic_store_explicit(&max, m, memory_order_relaxed);
  }
  return m;
}

int
plumb__linger_enter(plumb__linger *l)
{
  if (l->skip > 0) {
    l->skip--;
    return 0;
  }
  if (atomic_fetch_add(&linger_active, 1) < plumb__waiters_max())
    return 1;
  atomic_fetch_sub(&linger_active, 1);
  return 0;
}

void
plumb__linger_leave(plumb__linger *l, int hit)
{
  atomic_fetch_sub(&linger_active, 1);
  if (hit) {
    l->miss = 0;
    return;
  }
  if (l->miss < 8)
    l->miss++;
  l->skip = 1u << l->miss; /* 2, 4, ... 256 calls without */
}
