/* access_server.c - the server hostile_access starts: serves test::Echo
 * (tests/runtime/testif.c) as the default object on every endpoint given,
 * each opened with plumb_server_listen_service("hacc", ...) so that the
 * plumb.conf named by PLUMB_CONFIG decides its mode, group and who may
 * connect.  Runs until SIGTERM; exit 0 after a clean stop, 3 if an
 * endpoint is in use, 1 on other errors. */
#include <stdio.h>

#include "plumb/config.h"
#include "testif.h"

static int
srv_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  (void)call;
  *ret = a + b;
  return PLUMB_OK;
}

static const test_Echo_ops impl = { .add = srv_add };

int
main(int argc, char **argv)
{
  plumb_server *s;
  plumb_server_opts o = { .workers = 2 };
  int st, code = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 1;
  }
  if (plumb_server_new(&s, &o) != PLUMB_OK)
    return 1;
  if (plumb_server_add_object(s, "calc", &test_Echo_interface, &impl,
                              NULL) != PLUMB_OK) {
    code = 1;
    goto out;
  }
  for (int i = 1; i < argc; i++)
    if ((st = plumb_server_listen_service(s, "hacc", argv[i])) != PLUMB_OK) {
      code = st == PLUMB_EBUSY ? 3 : 1;
      goto out;
    }
  if (plumb_server_run(s, 1) != PLUMB_OK)
    code = 1;
out:
  plumb_server_free(s);
  return code;
}
