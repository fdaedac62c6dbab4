/* server.c - the calculator service: implements calc::Calculator and serves
 * it on every endpoint given on the command line, or else on the endpoint
 * configured for service "calc" (PLUMB_CALC_ENDPOINT, PLUMB_ENDPOINT,
 * plumb.conf, then the default: see plumb/config.h).
 *
 *   calc-server [tcp://127.0.0.1:9000 unix:/tmp/calc.sock ...]
 *
 * Stops cleanly on SIGINT/SIGTERM, removing the IPC objects it created. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "calculator.h"

typedef struct calc_state {
  atomic_int calls;
  atomic_int resets;
} calc_state;

static int
calc_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  calc_state *st = ctx;
  (void)call;
  atomic_fetch_add(&st->calls, 1);
  *ret = (int32_t)((uint32_t)a + (uint32_t)b);
  return PLUMB_OK;
}

static int
calc_sub(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  calc_state *st = ctx;
  (void)call;
  atomic_fetch_add(&st->calls, 1);
  *ret = (int32_t)((uint32_t)a - (uint32_t)b);
  return PLUMB_OK;
}

static int
calc_div(void *ctx, plumb_call *call, double a, double b, double *ret)
{
  calc_state *st = ctx;
  atomic_fetch_add(&st->calls, 1);
  if (b == 0.0) {
    calc_DivByZero ex = calc_DivByZero_INIT;
    ex.reason = (char *)"division by zero";
    return plumb_call_raise(call, &calc_DivByZero_type, &ex);
  }
  *ret = a / b;
  return PLUMB_OK;
}

static int
calc_ping(void *ctx, plumb_call *call)
{
  (void)ctx;
  (void)call;
  return PLUMB_OK;
}

static int
calc_reset(void *ctx, plumb_call *call)
{
  calc_state *st = ctx;
  (void)call;
  atomic_store(&st->calls, 0);
  atomic_fetch_add(&st->resets, 1);
  return PLUMB_OK;
}

static int
calc_get_calls(void *ctx, plumb_call *call, int32_t *ret)
{
  calc_state *st = ctx;
  (void)call;
  *ret = atomic_load(&st->calls);
  return PLUMB_OK;
}

static const calc_Calculator_ops calc_impl = {
  .add = calc_add,
  .sub = calc_sub,
  .div = calc_div,
  .ping = calc_ping,
  .reset = calc_reset,
  ._get_calls = calc_get_calls,
};

int
main(int argc, char **argv)
{
  static calc_state state;
  plumb_server *srv;
  int rc;

  /* Show why connections are dropped unless PLUMB_LOG says otherwise. */
  if (getenv("PLUMB_LOG") == NULL)
    plumb_log_set_level(PLUMB_LOG_WARN);
  if ((rc = plumb_server_new(&srv, NULL)) != PLUMB_OK) {
    fprintf(stderr, "calc-server: %s\n", plumb_strerror(rc));
    return 1;
  }
  rc = plumb_server_add_object(srv, "calc", &calc_Calculator_interface,
                               &calc_impl, &state);
  for (int i = 1; rc == PLUMB_OK && i < argc; i++)
    rc = plumb_server_listen_service(srv, "calc", argv[i]);
  if (rc == PLUMB_OK && argc < 2)
    rc = plumb_server_listen_service(srv, "calc", NULL);
  if (rc == PLUMB_OK) {
    fprintf(stderr, "calc-server: serving (pid %d)\n", (int)getpid());
    rc = plumb_server_run(srv, 1);
  }
  if (rc != PLUMB_OK)
    fprintf(stderr, "calc-server: %s\n", plumb_strerror(rc));
  plumb_server_free(srv);
  return rc == PLUMB_OK ? 0 : 1;
}
