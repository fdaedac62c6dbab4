/* rxpool.c - charging and releasing the server-wide receive-memory budget
 * (see rxpool.h). */
#include "rxpool.h"

#include "plumb/status.h"

int
plumb__rx_charge(plumb__rx_pool *pool, size_t *charged, size_t held)
{
  size_t want = held > PLUMB__RX_FREE ? held - PLUMB__RX_FREE : 0;

  if (pool == NULL || want == *charged)
    return PLUMB_OK;
  if (want < *charged) {
    atomic_fetch_sub(&pool->used, *charged - want);
    *charged = want;
    return PLUMB_OK;
  }
  size_t add = want - *charged;
  if (pool->max == 0) {
    atomic_fetch_add(&pool->used, add);
  } else {
    size_t cur = atomic_load(&pool->used);
    do {
      if (cur > pool->max || add > pool->max - cur)
        return PLUMB_EBUSY;
    } while (!atomic_compare_exchange_weak(&pool->used, &cur, cur + add));
  }
  *charged = want;
  return PLUMB_OK;
}

void
plumb__rx_release(plumb__rx_pool *pool, size_t *charged)
{
  if (pool != NULL && *charged > 0)
    atomic_fetch_sub(&pool->used, *charged);
  *charged = 0;
}

size_t
plumb__rx_held(const plumb_buf *b, size_t need)
{
  return need > b->cap ? plumb__buf_cap_for(b, need) : need;
}
