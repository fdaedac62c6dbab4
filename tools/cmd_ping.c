/* cmd_ping.c - `plumb ping ENDPOINT [-c N] [-i MS] [OBJECT]`: round trips
 * to a server, with min/avg/max/p99 like ping(8).
 *
 * Each probe is the built-in `_non_existent` (docs/PROTOCOL.md 2.8) on
 * OBJECT, or on the default object: a full round trip through the
 * server's receive, dispatch and reply paths that runs no user handler.
 * A server answers it also for an object it does not have ("yes, gone"):
 * that is a reply, and ping reports the object as not existing (exit
 * status 3 when OBJECT was named; a server without a default object is
 * only noted).  Anything else is a lost probe. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

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
  double *rtt = calloc((size_t)count, sizeof *rtt);
  long got = 0, gone = 0;
  const char *last = "";
  for (long i = 0; rtt && i < count; i++) {
    int no = 0;
    double t0 = now_us();
    rc = plumb_client_non_existent(c, &no);
    double dt = now_us() - t0;
    if (rc == PLUMB_OK || rc == PLUMB_ENOOP) { /* ENOOP: a plumb older than
                                                 the built-ins answered */
      rtt[got++] = dt;
      gone += no != 0;
      if (!g->json)
        printf("reply from %s: seq=%ld time=%.1f us%s\n", ep, i, dt,
               no ? " (no such object)" : "");
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
           ",\"max_us\":%.1f,\"p99_us\":%.1f,\"object_exists\":%s}\n",
           count, got, mn, got ? sum / (double)got : 0.0, mx, p99,
           got == 0 ? "null" : gone ? "false" : "true");
  } else {
    printf("--- %s ping statistics ---\n%ld sent, %ld received, %.0f%% "
           "lost\n", ep, count, got,
           100.0 * (double)(count - got) / (double)count);
    if (got > 0)
      printf("rtt min/avg/max/p99 = %.1f/%.1f/%.1f/%.1f us\n", mn,
             sum / (double)got, mx, p99);
  }
  int st = got == count ? CLI_OK : CLI_FAIL;
  if (gone > 0 && object != NULL && object[0] != '\0') {
    fprintf(stderr, "plumb: %s: the server answers but has no object "
            "'%s' (see `plumb list %s`)\n", ep, object, ep);
    if (st == CLI_OK)
      st = CLI_EXCEPTION;
  } else if (gone > 0 && !g->json) {
    printf("(the server has no default object: name one to ping it)\n");
  }
  free(rtt);
  plumb_client_close(c);
  return st;
}

const cli_cmd cli_cmd_ping = {
  "ping", ping_run, "ping [-c N] [-i MS] ENDPOINT [OBJECT]",
  "Sends N probes (default 10), MS milliseconds apart (default 0), and\n"
  "prints each round trip and min/avg/max/p99.  A probe is the built-in\n"
  "_non_existent on OBJECT (default: the server's default object): the\n"
  "server answers it through its whole receive/dispatch/reply path\n"
  "without running a handler.  Exit status 1 if any probe got no answer,\n"
  "3 if OBJECT does not exist on the server.\n",
};
