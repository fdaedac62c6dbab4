/* cmd_ping.c - `plumb ping ENDPOINT [-c N] [-i MS] [OBJECT]`: round trips
 * to a server, with min/avg/max/p99 like ping(8).
 *
 * Each probe is a request for an operation no interface declares (the
 * interface id of "IDL:plumb/Ping:1.0", operation 0): the server decodes
 * the frame, looks the operation up and answers with an error frame
 * (ENOOP), a full round trip through its dispatch that runs no handler.
 * ENOOP and ENOOBJECT count as answers; anything else is a lost probe. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const ProtobufCIntRange no_range[1] = { { 0, 0 } };
typedef struct ping_msg {
  ProtobufCMessage base;
} ping_msg;
static const ProtobufCMessageDescriptor ping_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "plumb.Ping", "Ping", "ping_msg",
  "plumb", sizeof(ping_msg), 0, NULL, NULL, 0, no_range, NULL, NULL, NULL,
  NULL
};

static double
now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int
ping_run(cli *g, int argc, char **argv)
{
  long count = 10, interval_ms = 0;
  const char *ep = NULL, *object = NULL;
  plumb_client *c;
  int rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
      count = strtol(argv[++i], NULL, 10);
      if (count < 1 || count > 1000000)
        return cli_error(CLI_USAGE, "ping: -c must be 1 to 1000000");
    } else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc) {
      interval_ms = strtol(argv[++i], NULL, 10);
      if (interval_ms < 0 || interval_ms > 60000)
        return cli_error(CLI_USAGE, "ping: -i must be 0 to 60000 ms");
    } else if (ep == NULL) {
      ep = argv[i];
    } else if (object == NULL) {
      object = argv[i];
    } else {
      return cli_error(CLI_USAGE, "ping: unexpected '%s'", argv[i]);
    }
  }
  if (ep == NULL)
    return cli_error(CLI_USAGE, "ping: expected ENDPOINT");
  if ((rc = cli_open(g, &c, ep, object)) != CLI_OK)
    return rc;
  static const plumb_operation op = { "_ping", 0, 0, 0, &ping_descriptor,
                                      &ping_descriptor, NULL, 0, NULL };
  plumb_operation o = op;
  o.decl_iface = plumb_type_hash("IDL:plumb/Ping:1.0");
  plumb_interface iface = { PLUMB_GENERATED_ABI, "IDL:plumb/Ping:1.0",
                            o.decl_iface, &o, 1, NULL, 0, NULL, NULL };
  double *rtt = calloc((size_t)count, sizeof *rtt);
  long got = 0;
  ping_msg req = { PROTOBUF_C_MESSAGE_INIT(&ping_descriptor) };
  const char *last = "";
  for (long i = 0; rtt && i < count; i++) {
    ProtobufCMessage *rep;
    double t0 = now_us();
    rc = plumb_invoke(c, &iface, 0, &req.base, &rep, NULL);
    double dt = now_us() - t0;
    if (rc == PLUMB_ENOOP || rc == PLUMB_ENOOBJECT || rc == PLUMB_OK) {
      rtt[got++] = dt;
      if (!g->json)
        printf("reply from %s: seq=%ld time=%.1f us\n", ep, i, dt);
    } else {
      last = plumb_client_last_error(c);
      if (!g->json)
        printf("no reply from %s: seq=%ld %s (%s)\n", ep, i, last,
               plumb_status_name(rc));
    }
    if (interval_ms > 0 && i + 1 < count) {
      struct timespec ts = { interval_ms / 1000,
                             (interval_ms % 1000) * 1000000L };
      nanosleep(&ts, NULL);
    }
  }
  double mn = 0, mx = 0, sum = 0, p99 = 0;
  if (got > 0) {
    qsort(rtt, (size_t)got, sizeof *rtt, cmp_double);
    mn = rtt[0];
    mx = rtt[got - 1];
    for (long i = 0; i < got; i++)
      sum += rtt[i];
    long k = (long)((double)got * 0.99 + 0.999999) - 1;
    p99 = rtt[k < 0 ? 0 : k >= got ? got - 1 : k];
  }
  if (g->json) {
    printf("{\"endpoint\":");
    cli_json_str(stdout, ep);
    printf(",\"sent\":%ld,\"received\":%ld,\"min_us\":%.1f,\"avg_us\":%.1f"
           ",\"max_us\":%.1f,\"p99_us\":%.1f}\n", count, got, mn,
           got ? sum / (double)got : 0.0, mx, p99);
  } else {
    printf("--- %s ping statistics ---\n%ld sent, %ld received, %.0f%% "
           "lost\n", ep, count, got,
           100.0 * (double)(count - got) / (double)count);
    if (got > 0)
      printf("rtt min/avg/max/p99 = %.1f/%.1f/%.1f/%.1f us\n", mn,
             sum / (double)got, mx, p99);
  }
  free(rtt);
  plumb_client_close(c);
  return got == count ? CLI_OK : CLI_FAIL;
}

const cli_cmd cli_cmd_ping = {
  "ping", ping_run, "ping [-c N] [-i MS] ENDPOINT [OBJECT]",
  "Sends N probes (default 10), MS milliseconds apart (default 0), and\n"
  "prints each round trip and min/avg/max/p99.  A probe asks for an\n"
  "operation no interface has: the server answers it through its whole\n"
  "receive/dispatch/reply path without running a handler.  Exit status 1\n"
  "if any probe got no answer.\n",
};
