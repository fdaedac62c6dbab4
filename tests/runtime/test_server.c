/* test_server.c - the server process the runtime end-to-end tests start:
 * serves test::Echo as object "calc" (the default) and test::Derived as
 * "derived" on every endpoint given on the command line, until SIGTERM or
 * SIGINT.  Exit status: 0 after a clean stop, 3 if an endpoint is in use
 * (the harness then retries another port), 1 on other errors. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echo_impl.h"
#include "serve.h"
#include "testif.h"

static atomic_int notes;

static int
srv_div(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  if (b == 0) {
    test_DivByZero e;
    test_div_by_zero_descriptor.message_init((ProtobufCMessage *)&e);
    e.msg = (char *)"division by zero";
    e.num = a;
    return plumb_call_raise(call, &test_DivByZero_type, &e);
  }
  *ret = a / b;
  return PLUMB_OK;
}

static int
srv_echo(void *ctx, plumb_call *call, const char *s, char **ret)
{
  (void)ctx;
  if (strcmp(s, "fail") == 0)
    return PLUMB_EINVAL; /* a call status: reaches the client as is */
  if (strcmp(s, "fail-closed") == 0)
    return PLUMB_ECLOSED; /* about a connection: reaches it as ESERVER */
  *ret = plumb_call_strdup(call, s);
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

static int
srv_note(void *ctx, plumb_call *call, int32_t a, int32_t b)
{
  (void)ctx;
  (void)call;
  (void)b;
  atomic_fetch_add(&notes, a);
  return PLUMB_OK;
}

static int
srv_count(void *ctx, plumb_call *call, int32_t *ret)
{
  (void)ctx;
  (void)call;
  *ret = atomic_load(&notes);
  return PLUMB_OK;
}

static const test_Echo_ops echo_impl = { echo_impl_add, srv_div, srv_echo,
                                         srv_note, srv_count,
                                         echo_impl_nap, NULL };
static const test_Echo_ops derived_impl = { echo_impl_add, srv_div, srv_echo,
                                            srv_note, srv_count,
                                            echo_impl_nap, echo_impl_mul };

int
main(int argc, char **argv)
{
  plumb_server *s;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 1;
  }
  if (plumb_server_new(&s, NULL) != PLUMB_OK)
    return 1;
  if (plumb_server_add_object(s, "calc", &test_Echo_interface, &echo_impl,
                              NULL) != PLUMB_OK ||
      plumb_server_add_object(s, "derived", &test_Derived_interface,
                              &derived_impl, NULL) != PLUMB_OK) {
    plumb_server_free(s);
    return 1;
  }
  return ptest_serve(s, argv + 1, argc - 1);
}
