/* any_server.c - serves anyt::Echo (anyecho.idl) as object "echo" on the
 * endpoint given, for tests/tools: `plumb call` with any values in and out.
 *
 *   any-server ENDPOINT
 *
 * Stops cleanly on SIGINT/SIGTERM. */
#include <stdio.h>
#include <string.h>

#include <plumb/plumb.h>

#include "anyecho.h"

static int
h_echo(void *ctx, plumb_call *call, const plumb_any *a, plumb_any *ret)
{
  (void)ctx, (void)call;
  *ret = *a; /* both live until the reply is sent */
  return PLUMB_OK;
}

static int
h_type_of(void *ctx, plumb_call *call, const plumb_any *a, char **ret)
{
  (void)ctx;
  *ret = plumb_call_strdup(call, a->type_url ? a->type_url : "");
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

static int
h_sample(void *ctx, plumb_call *call, anyt_Bag *ret)
{
  (void)ctx, (void)call;
  ret->big = -1;
  return PLUMB_OK;
}

static const anyt_Echo_ops impl = {
  .echo = h_echo,
  .type_of = h_type_of,
  .sample = h_sample,
};

int
main(int argc, char **argv)
{
  plumb_server *srv;
  int rc;
  if (argc != 2) {
    fprintf(stderr, "usage: any-server ENDPOINT\n");
    return 2;
  }
  if ((rc = plumb_server_new(&srv, NULL)) != PLUMB_OK) {
    fprintf(stderr, "any-server: %s\n", plumb_strerror(rc));
    return 1;
  }
  rc = plumb_server_add_object(srv, "echo", &anyt_Echo_interface, &impl,
                               NULL);
  if (rc == PLUMB_OK)
    rc = plumb_server_listen(srv, argv[1]);
  if (rc == PLUMB_OK)
    rc = plumb_server_run(srv, 1);
  if (rc != PLUMB_OK)
    fprintf(stderr, "any-server: %s\n", plumb_strerror(rc));
  plumb_server_free(srv);
  return rc == PLUMB_OK ? 0 : 1;
}
