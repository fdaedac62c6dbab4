/* hostile_slow.c - slow peers against a real server process: clients that
 * send requests and never read the replies (every stream transport and
 * shm, through the transport's own dial/send, framed as docs/PROTOCOL.md
 * says), and 1,000 connections that each send half a frame header and
 * stop (unix, tcp).  Every case asserts that a well-behaved client's calls
 * all succeed within their deadline meanwhile, and that the server drops
 * the slow peer after its (short, configured) timeout with a WARN naming
 * it; and that a client quiet for longer than that timeout is kept (every
 * transport but pipe, whose server is the client's own child).  mq and sysvmq are not covered here: their non-blocking send is the
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

/* The server's send_timeout_ms: longer than PUSHBACK_MS plus the time our
 * stuffing takes to fill what the kernel buffers between us and a server
 * that stopped reading (tcp: the server's receive buffer may have grown to
 * megabytes before it stopped), so push back is seen before the drop. */
#define SEND_TIMEOUT_MS 3000
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
  char *argv[] = { server_path, "-", NULL, NULL, (char *)ep, NULL };
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
 * empty body (all fields zero).  Small requests with small replies: the
 * server's send buffer fills with replies after about as many bytes of
 * requests, so push back comes soon. */
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

/* How often the server log says `needle` (bounded read: 1 MiB). */
static int
log_count(const char *needle)
{
  static char buf[1 << 20];
  FILE *f = fopen(log_path, "r");
  int n = 0;

  if (f == NULL)
    return 0;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = '\0';
  for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* Offers peer one more request without ever blocking and without ever
 * leaving half a frame behind: the transport's try_send() takes a frame
 * whole or keeps its unsent rest inside the connection, and flush() pushes
 * that rest out before anything new.  1: a frame was taken, 0: nothing was
 * (push back), -1: the server closed the connection. */
static int
offer(const plumb_transport *tr, plumb_conn *c, uint32_t id)
{
  uint8_t hdr[PLUMB__FRAME_HDR];
  int st = tr->flush(c);

  if (st == PLUMB_OK) {
    request_frame(hdr, id);
    struct iovec v = { hdr, sizeof hdr };
    st = tr->try_send(c, &v, 1);
  }
  if (st != PLUMB_OK && st != PLUMB_EAGAIN && st != PLUMB_ECLOSED)
    printf("\n    non-reader: send failed: %s\n", plumb_strerror(st));
  return st == PLUMB_OK ? 1 : st == PLUMB_EAGAIN ? 0 : -1;
}

/* One round of offers to every live peer (at most 1000 frames each, until
 * one is not taken).  A peer whose offers are taken gets last[i] = now; one
 * the server closed is closed here and set to NULL (*closed counts them).
 * Every peer is offered something in every round, so a frame that a
 * transport took only partly is always finished (flush) soon: none is ever
 * left half sent for the server's frame_timeout_ms. */
static void
offer_round(const plumb_transport *tr, plumb_conn **peers, uint32_t *ids,
            long long *last, int *sent, int *closed)
{
  long long now = ptest_now_ms();
  for (int i = 0; i < NON_READERS; i++) {
    if (peers[i] == NULL)
      continue;
    int r = 1;
    for (int k = 0; k < 1000 && r > 0; k++)
      if ((r = offer(tr, peers[i], ++ids[i])) > 0) {
        sent[i]++;
        last[i] = now;
      }
    if (r < 0) {
      tr->close(peers[i]);
      peers[i] = NULL;
      (*closed)++;
    }
  }
}

/* NON_READERS peers send requests and never read a reply.  They send
 * until the server pushes each back - its sends have not been taken for
 * PUSHBACK_MS, i.e. the server stopped reading it - bounded by 10 s; then
 * a good client must be served meanwhile; then each non-reader is dropped
 * for send_timeout_ms (not frame_timeout_ms: whole frames only, never
 * half of one), which its sends see as the connection closing. */
#define PUSHBACK_MS 300
static void
non_readers(const char *ep)
{
  const char *rest;
  const plumb_transport *tr = plumb__transport_find(ep, &rest);
  plumb_conn *peers[NON_READERS] = { NULL };
  uint32_t ids[NON_READERS] = { 0 };
  long long last[NON_READERS];
  int sent[NON_READERS] = { 0 }, closed = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(tr);
  CU_ASSERT_PTR_NOT_NULL_FATAL(tr->try_send);
  CU_ASSERT_EQUAL_FATAL(start_server(ep), 0);
  for (int i = 0; i < NON_READERS; i++) {
    plumb_tran_opts to = { .max_frame = PLUMB_DEFAULT_MAX_FRAME,
                           .mode = 0600 };
    CU_ASSERT_EQUAL(tr->dial(rest, &to, plumb__deadline_ms(2000),
                             &peers[i]), PLUMB_OK);
    if (peers[i] == NULL)
      continue;
    /* The receive buffer is left alone: tcp autotuning grows it only as
     * fast as the application reads, and this one never reads.  (Shrinking
     * it after connect, SO_RCVBUF, made tcp connections stall both ways on
     * this kernel - a window that never reopened - so that neither side
     * saw the other's bytes.) */
    /* Writes never block (a fifo's write end is blocking as dialed). */
    int wfd;
    uint32_t wev;
    if (tr->write_wait(peers[i], &wfd, &wev) == PLUMB_OK && wfd >= 0) {
      int fl = fcntl(wfd, F_GETFL);
      CU_ASSERT(fl >= 0 && fcntl(wfd, F_SETFL, fl | O_NONBLOCK) == 0);
    }
    last[i] = ptest_now_ms();
  }
  /* Push back: every peer's offers refused for PUSHBACK_MS (20 s bound:
   * tcp's buffers are large and a sanitized server slow to fill them).  A
   * peer the server drops meanwhile counts as pushed back too, provided it
   * was dropped for send_timeout_ms (checked below from the server's log):
   * the server stopped reading it for that long, the kernel's buffers just
   * hid it from us. */
  int pushed = 0;
  long long until = ptest_now_ms() + 20000;
  for (int round = 0; round < 1000000 && ptest_now_ms() < until; round++) {
    offer_round(tr, peers, ids, last, sent, &closed);
    long long now = ptest_now_ms();
    pushed = 0;
    for (int i = 0; i < NON_READERS; i++)
      pushed += peers[i] != NULL && now - last[i] >= PUSHBACK_MS;
    if (pushed + closed == NON_READERS)
      break;
    usleep(2000);
  }
  if (pushed + closed != NON_READERS)
    printf("\n    %s: %d of %d non-readers pushed back, %d closed early "
           "(sent %d, %d, %d)\n", ep, pushed, NON_READERS, closed, sent[0],
           sent[1], sent[2]);
  CU_ASSERT_EQUAL(pushed + closed, NON_READERS); /* the server pushed back */
  long long worst = good_client();
  printf("\n    %s: well-behaved client, %d calls, slowest %lld us\n", ep,
         GOOD_CALLS, worst);
  CU_ASSERT(worst >= 0 && worst < GOOD_DEADLINE_MS * 1000LL);
  /* Every non-reader is dropped: its sends fail (the connection closed).
   * One that the kernel let drain meanwhile is offered more until it is
   * (bounded: SEND_TIMEOUT_MS + 6 s in all). */
  long long end = ptest_now_ms() + SEND_TIMEOUT_MS + 6000;
  for (int round = 0; round < 1000000 && closed < NON_READERS &&
                      ptest_now_ms() < end; round++) {
    offer_round(tr, peers, ids, last, sent, &closed);
    usleep(5000);
  }
  if (closed < NON_READERS)
    printf("\n    %s: %d of %d non-readers dropped\n", ep, closed,
           NON_READERS);
  CU_ASSERT_EQUAL(closed, NON_READERS);
  for (int i = 0; i < NON_READERS; i++)
    if (peers[i] != NULL)
      tr->close(peers[i]);
  /* ... each for send_timeout_ms, none for frame_timeout_ms. */
  CU_ASSERT(log_says("has not read its replies", 5000));
  int by_send = log_count("has not read its replies");
  int by_frame = log_count("is still incomplete");
  if (by_send < closed || by_frame != 0)
    printf("\n    %s: %d dropped by send_timeout_ms, %d by "
           "frame_timeout_ms\n", ep, by_send, by_frame);
  CU_ASSERT(by_send >= closed);
  CU_ASSERT_EQUAL(by_frame, 0);
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

/* A well-behaved client that goes quiet for longer than frame_timeout_ms
 * between two calls holds no frame begun, so the server must keep it (a
 * finished frame was once counted as a partial one on shm: such a client
 * was dropped as a slowloris peer after its first idle spell). */
static void
idle_client(const char *ep)
{
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = GOOD_DEADLINE_MS };
  int32_t r = 0;

  CU_ASSERT_EQUAL_FATAL(start_server(ep), 0);
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ep, NULL, &o), PLUMB_OK);
  CU_ASSERT_EQUAL(test_Echo_add(c, 20, 22, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 42);
  usleep((FRAME_TIMEOUT_MS + 1000) * 1000);
  CU_ASSERT(!ptest_file_contains(log_path, "is still incomplete"));
  CU_ASSERT(!ptest_file_contains(log_path, "dropping client"));
  r = 0;
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 3);
  plumb_client_close(c);
  stop_server();
}

static void
test_idle_shm(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "shm:/plumb-hslow-%d", (int)getpid());
  idle_client(ep);
}

static void
test_idle_unix(void)
{
  char ep[120];
  snprintf(ep, sizeof ep, "unix:/tmp/plumb-hslow-%d.sock", (int)getpid());
  idle_client(ep);
}

static void
test_idle_others(void)
{
  char ep[120];
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ptest_free_port(AF_INET, 3));
  idle_client(ep);
  snprintf(ep, sizeof ep, "fifo:/tmp/plumb-hslow-%d.fifo", (int)getpid());
  idle_client(ep);
  snprintf(ep, sizeof ep, "mq:/plumb-hslow-%d", (int)getpid());
  idle_client(ep);
  snprintf(ep, sizeof ep, "sysvmq:/tmp/plumb-hslow-%d.key", (int)getpid());
  idle_client(ep);
}

static const ptest_case cases[] = {
  { "idle client kept shm", test_idle_shm },
  { "idle client kept unix", test_idle_unix },
  { "idle client kept tcp fifo mq sysvmq", test_idle_others },
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
