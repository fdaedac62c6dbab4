/* hostile_lat.c - the "1,000 hostile peers" latency figure (issue 11, point
 * 3): a well-behaved client's add() latency against an idle bench-server,
 * then with 1,000 connected peers that each sent half a frame header and
 * stopped, then with 1,000 connected peers that sent requests and never
 * read the replies; on unix and on tcp (loopback).
 *
 *   hostile-lat [-n CALLS] [-p PEERS] [-r REQS_PER_PEER]
 *
 * The server is bench-server from this directory (forked and exec'd, one
 * per case, killed and reaped after it).  The hostile peers are raw
 * sockets made here, framed as docs/PROTOCOL.md says (4-byte length, the
 * 32-byte header, the object name), like tests/hostile/hostile_slow.c
 * does.  Prints one line per case: median and p99 in µs and the ratio of
 * each to the idle case of the same transport.  Bounded: CALLS calls or
 * 5 s per case, peers connect within 5 s, the server settles within 10 s;
 * the socket file is removed and every child reaped, also on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "bench.h"
#include "bench_util.h"
#include "frame.h"

#define MAX_PEERS 1000
#define CASE_SECS 5

static char server_path[PATH_MAX];
static pid_t server = -1;
static int peers[MAX_PEERS];
static int npeers;

typedef struct where {
  const char *name;
  char ep[160];
  struct sockaddr_storage sa;
  socklen_t salen;
  int family;
  char path[108]; /* unix: the socket file, removed at the end */
} where;

static void
stop_server(void)
{
  if (server > 0) {
    int st;
    kill(server, SIGTERM);
    for (int i = 0; i < 300 && waitpid(server, &st, WNOHANG) == 0; i++)
      usleep(10000);
    if (waitpid(server, &st, WNOHANG) == 0) {
      kill(server, SIGKILL);
      waitpid(server, &st, 0);
    }
  }
  server = -1;
}

static void
close_peers(void)
{
  for (int i = 0; i < npeers; i++)
    close(peers[i]);
  npeers = 0;
}

/* Forks bench-server on w->ep (its stderr to /dev/null) and waits, at most
 * 5 s, until it answers a call. */
static plumb_client *
start_server(const where *w)
{
  plumb_client *c = NULL;
  plumb_client_opts o = { .timeout_ms = 2000 };

  server = fork();
  if (server < 0)
    return NULL;
  if (server == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0)
      dup2(fd, 2);
    execl(server_path, server_path, w->ep, (char *)NULL);
    _exit(127);
  }
  int64_t end = bench_now_ns() + 5000000000LL;
  while (bench_now_ns() < end) {
    if (plumb_client_open(&c, w->ep, "bench", &o) == PLUMB_OK) {
      int32_t r = 0;
      if (bench_Bench_add(c, 1, 2, &r, NULL) == PLUMB_OK && r == 3)
        return c;
      plumb_client_close(c);
      c = NULL;
    }
    usleep(20000);
  }
  return NULL;
}

/* Opens n raw connections; each sends `len` bytes of buf (non-blocking:
 * what the kernel does not take is dropped).  Returns how many connected. */
static int
open_peers(const where *w, int n, const uint8_t *buf, size_t len)
{
  int64_t end = bench_now_ns() + 5000000000LL;
  for (npeers = 0; npeers < n && bench_now_ns() < end;) {
    int fd = socket(w->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      break;
    if (connect(fd, (const struct sockaddr *)&w->sa, w->salen) != 0) {
      close(fd);
      if (errno == EAGAIN || errno == ECONNREFUSED) { /* backlog full */
        usleep(1000);
        continue;
      }
      break;
    }
    (void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    peers[npeers++] = fd;
  }
  return npeers;
}

/* Waits (at most 10 s) until the server's CPU time grows by less than
 * 2 ms in 100 ms: it has done what the peers gave it. */
static void
settle(void)
{
  int64_t prev = bench_cpu_us(server);
  for (int i = 0; i < 100; i++) {
    usleep(100000);
    int64_t now = bench_cpu_us(server);
    if (now >= 0 && prev >= 0 && now - prev < 2000)
      return;
    prev = now;
  }
}

/* n timed add() calls (after 10% warm-up), at most CASE_SECS; median and
 * p99 in µs into out[0..1].  0 or -1. */
static int
measure(plumb_client *c, long n, double out[2])
{
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)n);
  long done = 0;
  int64_t end = bench_now_ns() + CASE_SECS * 1000000000LL;
  if (lat == NULL)
    return -1;
  for (long i = 0; i < n / 10; i++) {
    int32_t r;
    if (bench_Bench_add(c, (int32_t)i, 7, &r, NULL) != PLUMB_OK) {
      free(lat);
      return -1;
    }
  }
  for (long i = 0; i < n && bench_now_ns() < end; i++) {
    int32_t r = 0;
    int64_t a = bench_now_ns();
    if (bench_Bench_add(c, (int32_t)i, 7, &r, NULL) != PLUMB_OK ||
        r != (int32_t)i + 7) {
      fprintf(stderr, "hostile-lat: call %ld: %s\n", i,
              plumb_client_last_error(c));
      free(lat);
      return -1;
    }
    lat[done++] = bench_now_ns() - a;
  }
  bench_sort_i64(lat, (size_t)done);
  out[0] = lat[done / 2] / 1e3;
  out[1] = lat[(done * 99) / 100] / 1e3;
  free(lat);
  return done > 0 ? 0 : -1;
}

/* One case: fresh server, `kind` peers (0 none, 1 half frames, 2 non-
 * readers), one measurement; prints its line.  0 or -1. */
static int
run_case(const where *w, int kind, int npeer, int reqs, long calls,
         double idle[2])
{
  static const char *names[] = { "idle", "half-frame", "non-reader" };
  static uint8_t buf[4096 * 41];
  size_t len = 0;
  double r[2];
  int got = 0, rc = -1;

  if (kind == 1) {
    memcpy(buf, "\x25\x00", 2); /* 2 of the 4 bytes of the length */
    len = 2;
  } else if (kind == 2) {
    for (int i = 0; i < reqs; i++) { /* null() requests on "bench" */
      plumb__frame f;
      memset(&f, 0, sizeof f);
      f.kind = PLUMB__FRAME_REQUEST;
      f.call_id = (uint32_t)i + 1;
      f.iface = bench_Bench_interface.ops[0].decl_iface;
      f.op = bench_Bench_interface.ops[0].decl_index;
      f.text = "bench";
      f.text_len = 5;
      uint8_t *p = buf + len;
      uint32_t flen = PLUMB__FRAME_HDR + 5;
      p[0] = (uint8_t)flen;
      p[1] = p[2] = p[3] = 0;
      plumb__frame_encode(p + 4, &f);
      memcpy(p + 4 + PLUMB__FRAME_HDR, "bench", 5);
      len += 4 + flen;
    }
  }
  plumb_client *c = start_server(w);
  if (c == NULL) {
    fprintf(stderr, "hostile-lat: %s: server did not start\n", w->ep);
    goto out;
  }
  if (kind != 0)
    got = open_peers(w, npeer, buf, len);
  settle(); /* every case, idle too: the same quiet start */
  if (measure(c, calls, r) != 0)
    goto out;
  if (kind == 0) {
    idle[0] = r[0];
    idle[1] = r[1];
  }
  printf("hostile %-4s case=%-10s peers=%d reqs_per_peer=%d median_us=%.1f "
         "p99_us=%.1f median_ratio=%.2f p99_ratio=%.2f server_vmrss_kb=%ld\n",
         w->name, names[kind], got, kind == 2 ? reqs : 0, r[0], r[1],
         idle[0] > 0 ? r[0] / idle[0] : 0, idle[1] > 0 ? r[1] / idle[1] : 0,
         bench_status_kb(server, "VmRSS"));
  fflush(stdout);
  rc = got == (kind ? npeer : 0) ? 0 : -1;
out:
  if (c != NULL)
    plumb_client_close(c);
  close_peers();
  stop_server();
  return rc;
}

/* A free loopback TCP port (bound, read back, closed). */
static int
free_port(void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t l = sizeof sa;
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
    port = ntohs(sa.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

int
main(int argc, char **argv)
{
  long calls = 5000;
  int npeer = MAX_PEERS, reqs = 300, opt, bad = 0;
  char self[PATH_MAX];
  struct rlimit rl;
  where w[2];

  while ((opt = getopt(argc, argv, "n:p:r:")) != -1) {
    switch (opt) {
    case 'n': calls = atol(optarg); break;
    case 'p': npeer = atoi(optarg); break;
    case 'r': reqs = atoi(optarg); break;
    default: return 2;
    }
  }
  if (calls < 10 || calls > 1000000 || npeer < 1 || npeer > MAX_PEERS ||
      reqs < 1 || reqs > 4096) {
    fprintf(stderr, "usage: %s [-n 10..1000000] [-p 1..%d] [-r 1..4096] "
            "\n", argv[0], MAX_PEERS);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return 1;
  self[n] = '\0';
  snprintf(server_path, sizeof server_path, "%s/bench-server", dirname(self));
  /* The peers here and their ends in the server (which inherits this),
   * within the hard limit. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * MAX_PEERS + 200) {
    rl.rlim_cur = rl.rlim_max < 2 * MAX_PEERS + 200 ? rl.rlim_max
                                                    : 2 * MAX_PEERS + 200;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }

  memset(w, 0, sizeof w);
  struct sockaddr_un *un = (struct sockaddr_un *)&w[0].sa;
  w[0].name = "unix";
  w[0].family = AF_UNIX;
  un->sun_family = AF_UNIX;
  snprintf(w[0].path, sizeof w[0].path, "/tmp/plumb-hlat-%d.sock",
           (int)getpid());
  snprintf(un->sun_path, sizeof un->sun_path, "%s", w[0].path);
  w[0].salen = sizeof *un;
  snprintf(w[0].ep, sizeof w[0].ep, "unix:%s", w[0].path);
  struct sockaddr_in *in = (struct sockaddr_in *)&w[1].sa;
  int port = free_port();
  w[1].name = "tcp";
  w[1].family = AF_INET;
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  w[1].salen = sizeof *in;
  snprintf(w[1].ep, sizeof w[1].ep, "tcp://127.0.0.1:%d", port);

  for (int t = 0; t < 2; t++) {
    double idle[2] = { 0, 0 };
    if (t == 1 && port <= 0) {
      bad = 1;
      break;
    }
    for (int k = 0; k < 3; k++)
      if (run_case(&w[t], k, npeer, reqs, calls, idle) != 0)
        bad = 1;
  }
  unlink(w[0].path);
  return bad;
}
