/* slow_server.c - the server process hostile_slow.c attacks: serves
 * test::Echo (tests/runtime/testif.c) as the default object on the
 * endpoints given, with short flow-control timeouts so a case finishes in
 * seconds.  Usage: hostile-slow-server SEND_TIMEOUT_MS FRAME_TIMEOUT_MS
 * ENDPOINT...  Raises its fd limit to the hard limit (1,000 half-frame
 * peers).  Exit status: 0 after SIGTERM, 1 on errors. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

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
  struct rlimit rl;
  int code = 0;

  if (argc < 4) {
    fprintf(stderr, "usage: %s SEND_MS FRAME_MS ENDPOINT...\n", argv[0]);
    return 1;
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  plumb_server_opts o = { .workers = 2, .send_timeout_ms = atoi(argv[1]),
                          .frame_timeout_ms = atoi(argv[2]) };
  if (plumb_server_new(&s, &o) != PLUMB_OK)
    return 1;
  if (plumb_server_add_object(s, "calc", &test_Echo_interface, &impl,
                              NULL) != PLUMB_OK)
    code = 1;
  for (int i = 3; code == 0 && i < argc; i++)
    if (plumb_server_listen(s, argv[i]) != PLUMB_OK)
      code = 1;
  if (code == 0 && plumb_server_run(s, 1) != PLUMB_OK)
    code = 1;
  plumb_server_free(s);
  return code;
}
