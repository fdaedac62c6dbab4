/* hostile_slow.c - slow peers against a real server process: clients that
 * send requests and never read the replies (every stream transport and
 * shm, through the transport's own dial/send, framed as docs/PROTOCOL.md
 * says), and 1,000 connections that each send half a frame header and
 * stop (unix, tcp).  Every case asserts that a well-behaved client's calls
 * all succeed within their deadline meanwhile, and that the server drops
 * the slow peer after its (short, configured) timeout with a WARN naming
 * it.  mq and sysvmq are not covered here: their non-blocking send is the
 * queue transports' (issue 11), they use the bounded fallback send. */
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "proc.h"
#include "ptest.h"
#include "testif.h"
#include "transport.h"

#define SEND_TIMEOUT_MS 600   /* the server's send_timeout_ms */
#define FRAME_TIMEOUT_MS 1500 /* the server's frame_timeout_ms */
#define NON_READERS 3
#define HALF_FRAMES 1000
#define GOOD_CALLS 200
#define GOOD_DEADLINE_MS 1000

static char server_path[PATH_MAX];
static char log_path[128];
static char endpoint[160];
static pid_t server = -1;

/* Starts the server on endpoint `ep` and waits (bounded) until it answers. */
static int
start_server(const char *ep)
{
  char *argv[] = { server_path, "-", "600", "1500", (char *)ep, NULL };
  char send_ms[16], frame_ms[16];

  snprintf(send_ms, sizeof send_ms, "%d", SEND_TIMEOUT_MS);
  snprintf(frame_ms, sizeof frame_ms, "%d", FRAME_TIMEOUT_MS);
  argv[2] = send_ms;
  argv[3] = frame_ms;
  snprintf(endpoint, sizeof endpoint, "%s", ep);
  static int runs;
  snprintf(log_path, sizeof log_path, "/tmp/plumb-hslow-%d-%d.log",
           (int)getpid(), ++runs);
  setenv("PLUMB_LOG", getenv("HSLOW_LOG") ? getenv("HSLOW_LOG") : "info", 1);
  if ((server = ptest_spawn(argv, log_path)) < 0)
    return -1;
  long long end = ptest_now_ms() + 3000;
  while (ptest_now_ms() < end) {
    plumb_client *c;
    plumb_client_opts o = { .timeout_ms = 500 };
    if (plumb_client_open(&c, ep, NULL, &o) == PLUMB_OK) {
      int32_t r = 0;
      int st = test_Echo_add(c, 1, 2, &r);
      plumb_client_close(c);
      if (st == PLUMB_OK && r == 3)
        return 0;
    }
    if (ptest_exited(server))
      break;
    usleep(20000);
  }
  return -1;
}

static void
stop_server(void)
{
  if (server > 0)
    CU_ASSERT_EQUAL(ptest_stop(server, SIGTERM, 3000), 0);
  server = -1;
  if (getenv("HSLOW_KEEP_LOG") == NULL)
    unlink(log_path);
}

/* A request frame for Echo.add(0, 0) on the default object: header + an
 * empty body (all fields zero). */
static void
request_frame(uint8_t hdr[PLUMB__FRAME_HDR], uint32_t id)
{
  plumb__frame f;
  memset(&f, 0, sizeof f);
  f.kind = PLUMB__FRAME_REQUEST;
  f.call_id = id;
  f.iface = test_Echo_interface.ops[0].decl_iface;
  f.op = test_Echo_interface.ops[0].decl_index;
  plumb__frame_encode(hdr, &f);
}

/* GOOD_CALLS calls, each within GOOD_DEADLINE_MS; returns the slowest in
 * microseconds, or -1 if one failed. */
static long long
good_client(void)
{
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = GOOD_DEADLINE_MS };
  long long worst = 0;

  if (plumb_client_open(&c, endpoint, NULL, &o) != PLUMB_OK)
    return -1;
  for (int i = 0; i < GOOD_CALLS; i++) {
    int64_t t0 = plumb__now_ns();
    int32_t r = 0;
    if (test_Echo_add(c, i, 1, &r) != PLUMB_OK || r != i + 1) {
      plumb_client_close(c);
      return -1;
    }
    long long us = (plumb__now_ns() - t0) / 1000;
    worst = us > worst ? us : worst;
  }
  plumb_client_close(c);
  return worst;
}

/* Waits (bounded) until the server log contains needle. */
static int
log_says(const char *needle, int ms)
{
  long long end = ptest_now_ms() + ms;
  do {
    if (ptest_file_contains(log_path, needle))
      return 1;
    usleep(20000);
  } while (ptest_now_ms() < end);
  return 0;
}

/* NON_READERS raw peers send requests until the server stops taking them
 * (it stopped reading: their replies are not read), then sit; a good
 * client must be served meanwhile; each non-reader is dropped. */
static void
non_readers(const char *ep)
{
  const char *rest;
  const plumb_transport *tr = plumb__transport_find(ep, &rest);
  plumb_conn *peers[NON_READERS] = { NULL };
  uint8_t hdr[PLUMB__FRAME_HDR];

  CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
  CU_ASSERT_EQUAL_FATAL(start_server(ep), 0);
  for (int i = 0; i < NON_READERS; i++) {
    plumb_tran_opts to = { .max_frame = PLUMB_DEFAULT_MAX_FRAME,
                           .mode = 0600 };
    CU_ASSERT_EQUAL(tr->dial(rest, &to, plumb__deadline_ms(2000),
                             &peers[i]), PLUMB_OK);
    if (peers[i] == NULL)
      continue;
    /* A small receive buffer, fixed (no tcp autotuning, which may absorb
     * tens of megabytes of replies: net.ipv4.tcp_rmem), so the replies
     * fill it soon; not a socket (fifo, queues): nothing to do. */
    int rcv = 64 * 1024;
    (void)setsockopt(tr->conn_fd(peers[i]), SOL_SOCKET, SO_RCVBUF, &rcv,
                     sizeof rcv);
    /* Until a send stalls for 20 ms: the server stopped reading us.  How
     * many requests that takes depends on the kernel's socket buffers
     * (tcp autotuning: megabytes), so the bound is time (10 s), with a
     * count only as a backstop. */
    int sent = 0, pushed = 0;
    long long until = ptest_now_ms() + 10000;
    for (uint32_t id = 1; id <= 50000000; id++) {
      request_frame(hdr, id);
      struct iovec v = { hdr, sizeof hdr };
      if (tr->send(peers[i], &v, 1, plumb__deadline_ms(20)) != PLUMB_OK) {
        pushed = 1;
        break;
      }
      sent++;
      if ((id & 1023) == 0 && ptest_now_ms() > until)
        break;
    }
    if (!pushed)
      printf("\n    %s: non-reader %d sent %d requests, no push back\n", ep,
             i, sent);
    CU_ASSERT(sent > 0 && pushed); /* the server pushed back */
  }
  long long worst = good_client();
  printf("\n    %s: well-behaved client, %d calls, slowest %lld us\n", ep,
         GOOD_CALLS, worst);
  CU_ASSERT(worst >= 0 && worst < GOOD_DEADLINE_MS * 1000LL);
  CU_ASSERT(log_says("has not read its replies", 3000));
  /* Every non-reader is dropped: its sends end in PLUMB_ECLOSED.  One
   * that the kernel let drain meanwhile is stuffed again until it is
   * (bounded: 5 s in all). */
  int dropped = 0;
  long long end = ptest_now_ms() + 5000;
  while (dropped < NON_READERS && ptest_now_ms() < end) {
    for (int i = 0; i < NON_READERS; i++) {
      if (peers[i] == NULL)
        continue;
      int st = PLUMB_OK;
      for (int k = 0; k < 100000 && st == PLUMB_OK; k++) {
        request_frame(hdr, (uint32_t)k + 1);
        struct iovec v = { hdr, sizeof hdr };
        st = tr->send(peers[i], &v, 1, plumb__deadline_ms(20));
      }
      if (st == PLUMB_ECLOSED) {
        tr->close(peers[i]);
        peers[i] = NULL;
        dropped++;
      }
    }
    usleep(50000);
  }
  CU_ASSERT_EQUAL(dropped, NON_READERS);
  for (int i = 0; i < NON_READERS; i++)
    if (peers[i] != NULL)
      tr->close(peers[i]);
  CU_ASSERT(good_client() >= 0);
  stop_server();
}

/* HALF_FRAMES sockets each send 2 of the 4 bytes of a frame's length
 * prefix and stop; the good client must not notice; all are dropped after
 * frame_timeout_ms. */
static void
half_frames(const char *ep, int family, const struct sockaddr *sa,
            socklen_t salen)
{
  static int fds[HALF_FRAMES];
  int n = 0;

  CU_ASSERT_EQUAL_FATAL(start_server(ep), 0);
  for (int i = 0; i < HALF_FRAMES; i++) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      break;
    if (connect(fd, sa, salen) != 0 || send(fd, "\x20\x00", 2, 0) != 2) {
      close(fd);
      break;
    }
    fds[n++] = fd;
  }
  CU_ASSERT_EQUAL(n, HALF_FRAMES);
  long long worst = good_client();
  printf("\n    %s: %d half-frame peers, %d calls, slowest %lld us\n", ep, n,
         GOOD_CALLS, worst);
  CU_ASSERT(worst >= 0 && worst < GOOD_DEADLINE_MS * 1000LL);
  CU_ASSERT(log_says("is still incomplete", FRAME_TIMEOUT_MS + 3000));
  /* Every one of them is dropped: each read sees end of file. */
  int closed = 0;
  long long end = ptest_now_ms() + FRAME_TIMEOUT_MS + 3000;
  for (int i = 0; i < n; i++) {
    char c;
    struct timeval tv = { 0, 100000 };
    setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r;
    while ((r = recv(fds[i], &c, 1, 0)) < 0 && ptest_now_ms() < end)
      ;
    closed += r == 0 || (r < 0 && errno == ECONNRESET);
    close(fds[i]);
  }
  CU_ASSERT_EQUAL(closed, n);
  CU_ASSERT(good_client() >= 0);
  stop_server();
}

static void
test_nonreaders_unix(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "unix:/tmp/plumb-hslow-%d.sock", (int)getpid());
  non_readers(ep);
}

static void
test_nonreaders_tcp(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ptest_free_port(AF_INET, 1));
  non_readers(ep);
}

static void
test_nonreaders_fifo(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "fifo:/tmp/plumb-hslow-%d.fifo", (int)getpid());
  non_readers(ep);
}

static void
test_nonreaders_shm(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "shm:/plumb-hslow-%d", (int)getpid());
  non_readers(ep);
}

static void
test_halfframes_unix(void)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  char ep[120];
  snprintf(sa.sun_path, sizeof sa.sun_path, "/tmp/plumb-hslow-%d.sock",
           (int)getpid());
  snprintf(ep, sizeof ep, "unix:%s", sa.sun_path);
  half_frames(ep, AF_UNIX, (struct sockaddr *)&sa, sizeof sa);
}

static void
test_halfframes_tcp(void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  char ep[96];
  int port = ptest_free_port(AF_INET, 2);
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
  half_frames(ep, AF_INET, (struct sockaddr *)&sa, sizeof sa);
}

static const ptest_case cases[] = {
  { "non-readers unix", test_nonreaders_unix },
  { "non-readers tcp", test_nonreaders_tcp },
  { "non-readers fifo", test_nonreaders_fifo },
  { "non-readers shm", test_nonreaders_shm },
  { "1000 half frames unix", test_halfframes_unix },
  { "1000 half frames tcp", test_halfframes_tcp },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "slow peers", cases, NULL, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  struct rlimit rl;
  char self[PATH_MAX];

  signal(SIGPIPE, SIG_IGN);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return 1;
  self[n] = '\0';
  snprintf(server_path, sizeof server_path, "%s/hostile-server",
           dirname(self));
  /* 1,000 sockets plus what the test needs, within the hard limit. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1200) {
    rl.rlim_cur = rl.rlim_max < 1200 ? rl.rlim_max : 1200;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  int rc = ptest_run(suites, argc, argv);
  if (server > 0)
    ptest_stop(server, SIGKILL, 1000);
  return rc;
}
