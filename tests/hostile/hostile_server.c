/* hostile_server.c - the server process the hostile tests attack
 * (hostile_access.c, hostile_slow.c, hostile_rx.c): serves test::Echo
 * (tests/runtime/testif.c) as object "calc" on every endpoint given.
 *
 *   hostile-server SERVICE SEND_TIMEOUT_MS FRAME_TIMEOUT_MS ENDPOINT...
 *
 * SERVICE "-" listens with plumb_server_listen; any other name listens with
 * plumb_server_listen_service(SERVICE, ...), so that the plumb.conf named by
 * PLUMB_CONFIG decides mode, group and who may connect.  Timeouts of 0 keep
 * the defaults (short ones let slow-peer cases finish in seconds).  Raises
 * its fd limit to the hard limit (1,000 half-frame peers; a test that
 * lowers both limits keeps them).  The environment may set
 * HOSTILE_MAX_FRAME and HOSTILE_MAX_RX_MEMORY (bytes; hostile_rx.c).
 * Runs until SIGTERM; exit 0 after a clean
 * stop, 3 if an endpoint is in use, 1 on other errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
  struct rlimit rl;
  int st, code = 0;

  if (argc < 5) {
    fprintf(stderr, "usage: %s SERVICE|- SEND_MS FRAME_MS ENDPOINT...\n",
            argv[0]);
    return 1;
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  const char *service = strcmp(argv[1], "-") == 0 ? NULL : argv[1];
  plumb_server_opts o = { .workers = 2, .send_timeout_ms = atoi(argv[2]),
                          .frame_timeout_ms = atoi(argv[3]) };
  if (getenv("HOSTILE_MAX_FRAME"))
    o.max_frame = (uint32_t)strtoul(getenv("HOSTILE_MAX_FRAME"), NULL, 0);
  if (getenv("HOSTILE_MAX_RX_MEMORY"))
    o.max_rx_memory = strtoul(getenv("HOSTILE_MAX_RX_MEMORY"), NULL, 0);
  if (plumb_server_new(&s, &o) != PLUMB_OK)
    return 1;
  if (plumb_server_add_object(s, "calc", &test_Echo_interface, &impl,
                              NULL) != PLUMB_OK) {
    code = 1;
    goto out;
  }
  for (int i = 4; i < argc; i++) {
    st = service ? plumb_server_listen_service(s, service, argv[i])
                 : plumb_server_listen(s, argv[i]);
    if (st != PLUMB_OK) {
      code = st == PLUMB_EBUSY ? 3 : 1;
      goto out;
    }
  }
  if (plumb_server_run(s, 1) != PLUMB_OK)
    code = 1;
out:
  plumb_server_free(s);
  return code;
}
