/* echo_impl.c - the shared test::Echo handlers (echo_impl.h). */
#include <time.h>

#include "echo_impl.h"

int
echo_impl_add(void *ctx, plumb_call *call, int32_t a, int32_t b,
              int32_t *ret)
{
  (void)ctx;
  (void)call;
  *ret = a + b;
  return PLUMB_OK;
}

int
echo_impl_mul(void *ctx, plumb_call *call, int32_t a, int32_t b,
              int32_t *ret)
{
  (void)ctx;
  (void)call;
  *ret = a * b;
  return PLUMB_OK;
}

int
echo_impl_nap(void *ctx, plumb_call *call, int32_t ms, int32_t b,
              int32_t *ret)
{
  (void)ctx;
  (void)call;
  if (ms < 0)
    ms = 0;
  if (ms > 5000)
    ms = 5000;
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
  *ret = b;
  return PLUMB_OK;
}
