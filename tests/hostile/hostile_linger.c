/* hostile_linger.c - the queue transports' server linger (mq, sysvmq:
 * runtime/transport/linger.c) against clients that would abuse it, a real
 * server process each time; unix and tcp, which do not linger, run the same
 * cases (a worker reading on while requests keep coming must not cost
 * anybody else either).  A worker lingering on one active client must
 * not cost anybody else: while a client calls without pause (it keeps the
 * process's one linger slot on a 2-CPU machine), a second client's calls
 * all succeed within their deadline; a client that makes a call and then
 * stays connected and silent (its queue was lent to a worker, sysvmq) or
 * is killed in the middle of its calls leaves the server serving others
 * and stopping promptly on SIGTERM - even while a client still calls
 * without pause - with no queue left behind. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "ptest.h"
#include "testif.h"

#define GOOD_CALLS 200
#define GOOD_DEADLINE_MS 2000
#define HOG_MS 1500       /* how long the busy client calls */
#define WORST_US 500000   /* a good call slower than this: starved */

static char server_path[PATH_MAX];
static char log_path[128];
static char endpoint[160];
static pid_t server = -1;

static int
start_server(const char *ep)
{
  char *argv[] = { server_path, "-", "3000", "1500", (char *)ep, NULL };
  static int runs;

  snprintf(endpoint, sizeof endpoint, "%s", ep);
  snprintf(log_path, sizeof log_path, "/tmp/plumb-hlinger-%d-%d.log",
           (int)getpid(), ++runs);
  setenv("PLUMB_LOG", "info", 1);
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

/* SIGTERM: the server must be gone within 3 s (a lingering worker is
 * woken at once). */
static void
stop_server(void)
{
  if (server > 0)
    CU_ASSERT_EQUAL(ptest_stop(server, SIGTERM, 3000), 0);
  server = -1;
  unlink(log_path);
}

/* GOOD_CALLS calls; the slowest in microseconds, or -1 if one failed. */
static long long
good_client(void)
{
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = GOOD_DEADLINE_MS };
  long long worst = 0;

  if (plumb_client_open(&c, endpoint, NULL, &o) != PLUMB_OK)
    return -1;
  for (int i = 0; i < GOOD_CALLS; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int32_t r = 0;
    if (test_Echo_add(c, i, 1, &r) != PLUMB_OK || r != i + 1) {
      plumb_client_close(c);
      return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long us = (b.tv_sec - a.tv_sec) * 1000000LL +
                   (b.tv_nsec - a.tv_nsec) / 1000;
    worst = us > worst ? us : worst;
  }
  plumb_client_close(c);
  return worst;
}

/* A child that calls add() without pause for ms milliseconds (0: until
 * killed); exits 0 if every call succeeded. */
static pid_t
hog(int ms)
{
  pid_t p = fork();
  if (p != 0)
    return p;
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = GOOD_DEADLINE_MS };
  if (plumb_client_open(&c, endpoint, NULL, &o) != PLUMB_OK)
    _exit(2);
  long long end = ptest_now_ms() + (ms ? ms : 20000);
  int bad = 0;
  for (int32_t i = 0; !bad && ptest_now_ms() < end; i++) {
    int32_t r = 0;
    bad = test_Echo_add(c, i, 1, &r) != PLUMB_OK || r != i + 1;
  }
  plumb_client_close(c);
  _exit(bad);
}

/* A child that makes one call, then stays connected and silent. */
static pid_t
sleeper(void)
{
  pid_t p = fork();
  if (p != 0)
    return p;
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = GOOD_DEADLINE_MS };
  int32_t r = 0;
  if (plumb_client_open(&c, endpoint, NULL, &o) != PLUMB_OK ||
      test_Echo_add(c, 1, 1, &r) != PLUMB_OK)
    _exit(2);
  pause(); /* until killed */
  _exit(0);
}

static int
reap(pid_t p, int ms)
{
  long long end = ptest_now_ms() + ms;
  int st;
  while (ptest_now_ms() < end) {
    pid_t r = waitpid(p, &st, WNOHANG);
    if (r == p)
      return st;
    usleep(10000);
  }
  kill(p, SIGKILL);
  waitpid(p, &st, 0);
  return -1;
}

/* One busy client, one silent one, one killed mid-calls; a good client
 * is served in time throughout. */
static void
linger_case(const char *ep)
{
  CU_ASSERT_FATAL(start_server(ep) == 0);
  pid_t busy = hog(HOG_MS);
  pid_t quiet = sleeper();
  pid_t doomed = hog(0);
  usleep(200000);
  long long worst = good_client();
  CU_ASSERT(worst >= 0);
  CU_ASSERT(worst < WORST_US);
  if (worst >= WORST_US)
    fprintf(stderr, "\n  %s: slowest good call %lld us", ep, worst);
  kill(doomed, SIGKILL); /* in the middle of its calls */
  (void)reap(doomed, 2000);
  int st = reap(busy, HOG_MS + 5000);
  CU_ASSERT(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  worst = good_client(); /* after the killed one */
  CU_ASSERT(worst >= 0 && worst < WORST_US);
  /* the silent client is still connected, and another calls without
   * pause (a worker may be lingering on it): the server stops anyway */
  pid_t last = hog(0);
  usleep(200000);
  stop_server();
  kill(last, SIGKILL);
  (void)reap(last, 2000);
  kill(quiet, SIGKILL);
  (void)reap(quiet, 2000);
}

static void
test_mq(void)
{
  char ep[64];
  snprintf(ep, sizeof ep, "mq:/plumb-hlinger-%d", (int)getpid());
  linger_case(ep);
}

static void
test_sysvmq(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "sysvmq:/tmp/plumb-hlinger-%d.key", (int)getpid());
  linger_case(ep);
}

static void
test_unix(void)
{
  char ep[96];
  snprintf(ep, sizeof ep, "unix:/tmp/plumb-hlinger-%d.sock", (int)getpid());
  linger_case(ep);
}

static void
test_tcp(void)
{
  char ep[64];
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", ptest_free_port(AF_INET, 5));
  linger_case(ep);
}

static const ptest_case cases[] = {
  { "mq: busy, silent and killed clients", test_mq },
  { "sysvmq: busy, silent and killed clients", test_sysvmq },
  { "unix: busy, silent and killed clients", test_unix },
  { "tcp: busy, silent and killed clients", test_tcp },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "linger", cases, NULL, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  char self[PATH_MAX];

  signal(SIGPIPE, SIG_IGN);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return 1;
  self[n] = '\0';
  snprintf(server_path, sizeof server_path, "%s/hostile-server",
           dirname(self));
  int rc = ptest_run(suites, argc, argv);
  if (server > 0)
    ptest_stop(server, SIGKILL, 1000);
  return rc;
}
