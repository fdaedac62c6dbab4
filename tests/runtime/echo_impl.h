/* echo_impl.h - the test::Echo handlers the test server processes share
 * (test_server, objsrv_server): plain arithmetic and a bounded nap, so
 * that each server's file holds only what makes it different. */
#ifndef ECHO_IMPL_H
#define ECHO_IMPL_H

#include "testif.h"

/* ret = a + b */
int echo_impl_add(void *ctx, plumb_call *call, int32_t a, int32_t b,
                  int32_t *ret);
/* ret = a * b (Derived's mul) */
int echo_impl_mul(void *ctx, plumb_call *call, int32_t a, int32_t b,
                  int32_t *ret);
/* Sleeps ms milliseconds (at most 5000), then ret = b. */
int echo_impl_nap(void *ctx, plumb_call *call, int32_t ms, int32_t b,
                  int32_t *ret);

#endif
