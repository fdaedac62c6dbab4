/* big_server.c - serves big::Big (tests/big/big.idl) on the endpoints
 * given, for test_big.c: echo answers from the request itself, swap moves
 * two big inputs to two big outputs, make fills fresh bytes in the call's
 * arena, sum reads a big request.  Stops on SIGTERM. */
#include <stdio.h>

#include <plumb/plumb.h>

#include "big.h"

static int
do_echo(void *ctx, plumb_call *call, const big_Bytes *data, big_Bytes *ret)
{
  (void)ctx;
  (void)call;
  *ret = *data; /* the request lives until the reply is sent */
  return PLUMB_OK;
}

static int
do_swap(void *ctx, plumb_call *call, const big_Bytes *a, int32_t n,
        const big_Bytes *b, big_Bytes *first, int32_t *got, big_Bytes *ret)
{
  (void)ctx;
  (void)call;
  *first = *a;
  *got = n;
  *ret = *b;
  return PLUMB_OK;
}

static int
do_make(void *ctx, plumb_call *call, uint32_t n, uint8_t seed,
        big_Bytes *ret)
{
  (void)ctx;
  if (n > (16u << 20) - 4096)
    return plumb_call_fail(call, PLUMB_EINVAL, "%u bytes: too many", n);
  uint8_t *p = plumb_call_alloc(call, n ? n : 1);
  if (p == NULL)
    return PLUMB_ENOMEM;
  for (uint32_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 131u + seed);
  ret->_buffer = p;
  ret->_length = n;
  return PLUMB_OK;
}

static int
do_sum(void *ctx, plumb_call *call, const big_Bytes *data, uint32_t *ret)
{
  (void)ctx;
  (void)call;
  uint32_t s = 0;
  for (size_t i = 0; i < data->_length; i++)
    s += data->_buffer[i];
  *ret = s;
  return PLUMB_OK;
}

static const big_Big_ops ops = {
  .echo = do_echo, .swap = do_swap, .make = do_make, .sum = do_sum,
};

int
main(int argc, char **argv)
{
  plumb_server *srv;
  int rc;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 2;
  }
  if ((rc = plumb_server_new(&srv, NULL)) != PLUMB_OK) {
    fprintf(stderr, "big-server: %s\n", plumb_strerror(rc));
    return 1;
  }
  rc = big_Big__serve(srv, "big", &ops, NULL);
  for (int i = 1; rc == PLUMB_OK && i < argc; i++)
    rc = plumb_server_listen(srv, argv[i]);
  if (rc == PLUMB_OK)
    rc = plumb_server_run(srv, 1);
  if (rc != PLUMB_OK)
    fprintf(stderr, "big-server: %s\n", plumb_strerror(rc));
  plumb_server_free(srv);
  return rc == PLUMB_OK ? 0 : 1;
}
