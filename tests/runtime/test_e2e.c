/* test_e2e.c - end-to-end runtime tests with real processes: this program is
 * the client; it starts test_server (TEST_SERVER_PATH) with fork+exec and
 * runs the same cases over unix and over tcp (suites "unix", "tcp"), plus
 * process-level cases (server gone, client dies, SIGTERM clean-up) and
 * malformed frames sent through a raw socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "ptest.h"
#include "testif.h"

#ifndef TEST_SERVER_PATH
#error TEST_SERVER_PATH must name the test_server binary
#endif

static char g_ep[128];   /* endpoint of the suite's server */
static pid_t g_srv = -1; /* its pid */
static int g_unix;       /* suite is unix (peer credentials expected) */
static char g_path[108]; /* unix socket path */
static int g_port;       /* tcp port */

static int64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
  nanosleep(&ts, NULL);
}

/* Waits up to ms for pid; returns its wait status or -1. */
static int
wait_pid(pid_t pid, int ms)
{
  int64_t end = now_ms() + ms;
  int ws;
  do {
    pid_t r = waitpid(pid, &ws, WNOHANG);
    if (r == pid)
      return ws;
    if (r < 0)
      return -1;
    sleep_ms(5);
  } while (now_ms() < end);
  return -1;
}

/* Starts test_server on eps[0..n) and waits until ep answers; -1 if it
 * exited (with *code set to its exit status). */
static pid_t
spawn_server(const char *const *eps, int n, const char *ep, int *code)
{
  pid_t pid = fork();
  if (pid == 0) {
    /* PLUMB_TEST_VALGRIND=1 runs the server under valgrind (leaks and
     * errors make it exit 9, which the suite cleanup reports). */
    const char *argv[16] = { TEST_SERVER_PATH };
    int k = 0;
    if (getenv("PLUMB_TEST_VALGRIND")) {
      argv[k++] = "valgrind";
      argv[k++] = "-q";
      argv[k++] = "--leak-check=full";
      argv[k++] = "--errors-for-leak-kinds=definite,indirect,possible";
      argv[k++] = "--error-exitcode=9";
      argv[k++] = TEST_SERVER_PATH;
    } else {
      k = 1;
    }
    for (int i = 0; i < n && i < 6; i++)
      argv[k++] = eps[i];
    argv[k] = NULL;
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  *code = 0;
  for (int64_t end = now_ms() + 20000; now_ms() < end; sleep_ms(5)) {
    int ws;
    if (waitpid(pid, &ws, WNOHANG) == pid) {
      *code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
      return -1;
    }
    plumb_client *c;
    plumb_client_opts o = { .timeout_ms = 200 };
    if (plumb_client_open(&c, ep, NULL, &o) == PLUMB_OK) {
      plumb_client_close(c);
      return pid;
    }
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  *code = 124;
  return -1;
}

/* SIGTERM, then wait (SIGKILL after 5 s); returns the exit code or -1. */
static int
stop_server(pid_t pid)
{
  if (pid <= 0)
    return -1;
  kill(pid, SIGTERM);
  int ws = wait_pid(pid, 20000);
  if (ws == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static int
suite_unix_init(void)
{
  g_unix = 1;
  snprintf(g_path, sizeof(g_path), "/tmp/plumb-rt-%d.sock", (int)getpid());
  snprintf(g_ep, sizeof(g_ep), "unix:%s", g_path);
  const char *eps[] = { g_ep };
  int code;
  g_srv = spawn_server(eps, 1, g_ep, &code);
  return g_srv > 0 ? 0 : 1;
}

/* Starts a tcp server on a free-looking port (retrying on EBUSY). */
static pid_t
spawn_tcp(char *ep, size_t epsz, int *port, int salt)
{
  /* Ports differ per test process and per server it starts (salt), so a
   * connect can never reach another server than the one just started. */
  int base = 20000 + (int)(getpid() * 37 % 20000) + salt * 7;
  for (int i = 0; i < 20; i++) {
    int code;
    *port = base + i * 101;
    snprintf(ep, epsz, "tcp://127.0.0.1:%d", *port);
    const char *eps[] = { ep };
    pid_t pid = spawn_server(eps, 1, ep, &code);
    if (pid > 0)
      return pid;
    if (code != 3)
      return -1;
  }
  return -1;
}

static int
suite_tcp_init(void)
{
  g_unix = 0;
  g_srv = spawn_tcp(g_ep, sizeof(g_ep), &g_port, 0);
  return g_srv > 0 ? 0 : 1;
}

static int
suite_cleanup(void)
{
  int code = stop_server(g_srv);
  g_srv = -1;
  if (g_unix && access(g_path, F_OK) == 0) {
    fprintf(stderr, "socket file %s left behind\n", g_path);
    unlink(g_path);
    return 1;
  }
  return code == 0 ? 0 : 1;
}

static plumb_client *
open_client(const char *object)
{
  plumb_client *c = NULL;
  int st = plumb_client_open(&c, g_ep, object, NULL);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  return c;
}

/* ---- calls -------------------------------------------------------- */

static void
test_values(void)
{
  plumb_client *c = open_client("calc");
  plumb_arena *a = plumb_arena_new();
  int32_t r = 0, pid = 0;
  char *s = NULL;

  CU_ASSERT_EQUAL(test_Echo_add(c, 2, 3, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 5);
  CU_ASSERT_EQUAL(test_Echo_add(c, -7, 1000000, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 999993);
  CU_ASSERT_EQUAL(test_Echo_div(c, 17, 5, &r, a), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 3);
  CU_ASSERT_EQUAL_FATAL(test_Echo_echo(c, "hello, plumb", &s, &pid, a),
                        PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(s, "hello, plumb");
  /* SO_PEERCRED on unix; tcp has no credentials. */
  CU_ASSERT_EQUAL(pid, g_unix ? (int32_t)getpid() : -1);
  /* A large string (1 MiB) goes through whole. */
  size_t n = 1u << 20;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    big[i] = (char)('a' + i % 26);
  big[n] = '\0';
  CU_ASSERT_EQUAL(test_Echo_echo(c, big, &s, NULL, a), PLUMB_OK);
  CU_ASSERT(s != NULL && strcmp(s, big) == 0);
  free(big);
  /* Default object (empty name) is "calc". */
  plumb_client *d;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&d, g_ep, NULL, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(test_Echo_add(d, 40, 2, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 42);
  plumb_client_close(d);
  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
test_exception(void)
{
  plumb_client *c = open_client("calc");
  plumb_arena *a = plumb_arena_new();
  int32_t r = 0;
  const char *tid = NULL;

  CU_ASSERT_EQUAL(test_Echo_div(c, 9, 0, &r, a), PLUMB_EEXCEPTION);
  test_DivByZero *e = plumb_arena_exception(a, &tid);
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_STRING_EQUAL(tid, "IDL:test/DivByZero:1.0");
  CU_ASSERT_STRING_EQUAL(e->msg, "division by zero");
  CU_ASSERT_EQUAL(e->num, 9);
  plumb_arena_reset(a);
  CU_ASSERT_PTR_NULL(plumb_arena_exception(a, NULL));
  /* A handler failing with a call status (EINVAL) gives that status; one
   * that would describe the client's own connection gives PLUMB_ESERVER. */
  char *s;
  CU_ASSERT_EQUAL(test_Echo_echo(c, "fail", &s, NULL, a), PLUMB_EINVAL);
  CU_ASSERT(strstr(plumb_client_last_error(c), "echo") != NULL);
  CU_ASSERT_EQUAL(test_Echo_echo(c, "fail-closed", &s, NULL, a),
                  PLUMB_ESERVER);
  CU_ASSERT(strstr(plumb_client_last_error(c), "ECLOSED") != NULL);
  /* The connection still works afterwards. */
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 1, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 2);
  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
test_oneway(void)
{
  plumb_client *c = open_client("calc");
  int32_t before = 0, after = 0;

  CU_ASSERT_EQUAL_FATAL(test_Echo_count(c, &before), PLUMB_OK);
  for (int i = 0; i < 100; i++)
    CU_ASSERT_EQUAL(test_Echo_note(c, 3, 0), PLUMB_OK);
  /* One connection is served in order: the count call sees every note. */
  CU_ASSERT_EQUAL(test_Echo_count(c, &after), PLUMB_OK);
  CU_ASSERT_EQUAL(after - before, 300);
  plumb_client_close(c);
}

static void
test_unknown(void)
{
  plumb_client *c;
  int32_t r;

  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, g_ep, "nope", NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_ENOOBJECT);
  CU_ASSERT(strstr(plumb_client_last_error(c), "nope") != NULL);
  plumb_client_close(c);

  /* calc implements Echo, not Derived: mul is unknown there. */
  c = open_client("calc");
  CU_ASSERT_EQUAL(test_Derived_mul(c, 2, 3, &r), PLUMB_ENOOP);
  /* An op index beyond the table is refused locally. */
  CU_ASSERT_EQUAL(test_call_pair(c, &test_Echo_interface, 99, 1, 1, &r),
                  PLUMB_EINVAL);
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_OK);
  plumb_client_close(c);
}

static void
test_frame_limit(void)
{
  plumb_client *c;
  plumb_client_opts o = { .max_frame = 1024 };
  plumb_arena *a = plumb_arena_new();
  char big[1001], *s;
  int32_t r;

  memset(big, 'x', 1000);
  big[1000] = '\0';
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, g_ep, "calc", &o), PLUMB_OK);
  /* Over the client's own limit: refused before anything is sent. */
  CU_ASSERT_EQUAL(test_Echo_echo(c, big, &s, NULL, a), PLUMB_ETOOBIG);
  big[900] = '\0';
  CU_ASSERT_EQUAL(test_Echo_echo(c, big, &s, NULL, a), PLUMB_OK);
  CU_ASSERT_EQUAL(strlen(s), 900);
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_OK);
  plumb_client_close(c);
  plumb_arena_free(a);
}

static void
test_inheritance(void)
{
  plumb_client *c = open_client("derived");
  int32_t r = 0;

  CU_ASSERT_EQUAL(test_Derived_mul(c, 6, 7, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 42);
  /* Inherited op, called through the base's table on the derived object;
   * the derived's own table holds only mul. */
  CU_ASSERT_EQUAL(test_Echo_add(c, 6, 7, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 13);
  CU_ASSERT_EQUAL(test_call_pair(c, &test_Derived_interface, 1, 1, 2, &r),
                  PLUMB_EINVAL);
  plumb_client_close(c);
}

static void
test_deadline(void)
{
  plumb_client *c = open_client("calc");
  int32_t r = 0;

  /* Bounds are loose: CI boxes are loaded (and sanitizers are slow); the
   * status alone proves the deadline, the bound that it did not wait for
   * the 600 ms handler. */
  plumb_client_set_timeout(c, 100);
  int64_t t0 = now_ms();
  CU_ASSERT_EQUAL(test_Echo_nap(c, 600, 1, &r), PLUMB_ETIMEDOUT);
  int64_t dt = now_ms() - t0;
  CU_ASSERT(dt >= 90 && dt < 550);
  /* The late reply is dropped; the next call gets its own answer. */
  plumb_client_set_timeout(c, 5000);
  CU_ASSERT_EQUAL(test_Echo_nap(c, 0, 77, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 77);
  /* A per-call deadline applies to the next call of this thread only. */
  plumb_client_next_timeout(c, 50);
  t0 = now_ms();
  CU_ASSERT_EQUAL(test_Echo_nap(c, 600, 1, &r), PLUMB_ETIMEDOUT);
  CU_ASSERT(now_ms() - t0 < 550);
  CU_ASSERT_EQUAL(test_Echo_nap(c, 0, 78, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 78);
  plumb_client_close(c);
}

/* ---- concurrency ---------------------------------------------------- */

#define THREADS 8
#define CALLS 1000

typedef struct {
  plumb_client *c;
  int id;
  int bad;
} thr_arg;

static void *
thr_main(void *p)
{
  thr_arg *t = p;
  plumb_arena *a = plumb_arena_new();
  for (int i = 0; i < CALLS; i++) {
    int32_t r = -1;
    if ((i & 7) == 7) {
      char want[32], *s = NULL;
      snprintf(want, sizeof(want), "t%d-%d", t->id, i);
      plumb_arena_reset(a);
      if (test_Echo_echo(t->c, want, &s, NULL, a) != PLUMB_OK ||
          strcmp(s, want) != 0)
        t->bad++;
    } else if (test_Echo_add(t->c, t->id * 100000, i, &r) != PLUMB_OK ||
               r != t->id * 100000 + i) {
      t->bad++;
    }
  }
  plumb_arena_free(a);
  return NULL;
}

static void
test_threads(void)
{
  plumb_client *c = open_client("calc");
  pthread_t th[THREADS];
  thr_arg args[THREADS];

  for (int i = 0; i < THREADS; i++) {
    args[i] = (thr_arg){ c, i + 1, 0 };
    pthread_create(&th[i], NULL, thr_main, &args[i]);
  }
  int bad = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    bad += args[i].bad;
  }
  CU_ASSERT_EQUAL(bad, 0);
  plumb_client_close(c);
}

/* Callers that time out (and so give up the reader role mid-stream) mixed
 * with callers that must get every answer right. */
static void *
thr_timeouts(void *p)
{
  thr_arg *t = p;
  for (int i = 0; i < 40; i++) {
    int32_t r;
    plumb_client_next_timeout(t->c, 1);
    int st = test_Echo_nap(t->c, 3, i, &r);
    if (st != PLUMB_ETIMEDOUT && !(st == PLUMB_OK && r == i))
      t->bad++;
  }
  return NULL;
}

static void *
thr_adds(void *p)
{
  thr_arg *t = p;
  for (int i = 0; i < 300; i++) {
    int32_t r = -1;
    if (test_Echo_add(t->c, t->id * 1000, i, &r) != PLUMB_OK ||
        r != t->id * 1000 + i)
      t->bad++;
  }
  return NULL;
}

static void
test_threads_timeouts(void)
{
  plumb_client *c = open_client("calc");
  pthread_t th[4];
  thr_arg args[4];

  for (int i = 0; i < 4; i++) {
    args[i] = (thr_arg){ c, i + 1, 0 };
    pthread_create(&th[i], NULL, i % 2 ? thr_timeouts : thr_adds, &args[i]);
  }
  int bad = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    bad += args[i].bad;
  }
  CU_ASSERT_EQUAL(bad, 0);
  int32_t r = 0;
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 1, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 2);
  plumb_client_close(c);
}

#define PROCS 32

static void
test_processes(void)
{
  pid_t kids[PROCS];

  for (int k = 0; k < PROCS; k++) {
    kids[k] = fork();
    if (kids[k] == 0) {
      plumb_client *c;
      int bad = 0;
      if (plumb_client_open(&c, g_ep, "calc", NULL) != PLUMB_OK)
        _exit(2);
      for (int i = 0; i < CALLS; i++) {
        int32_t r = -1;
        if (test_Echo_add(c, (k + 1) * 1000000, i, &r) != PLUMB_OK ||
            r != (k + 1) * 1000000 + i)
          bad++;
      }
      plumb_client_close(c);
      _exit(bad ? 1 : 0);
    }
  }
  int failed = 0;
  for (int k = 0; k < PROCS; k++) {
    int ws = wait_pid(kids[k], 60000);
    if (ws == -1) {
      kill(kids[k], SIGKILL);
      waitpid(kids[k], NULL, 0);
    }
    if (ws == -1 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
      failed++;
  }
  CU_ASSERT_EQUAL(failed, 0);
}

/* ---- processes dying ------------------------------------------------ */

static void
test_client_dies(void)
{
  pid_t kid = fork();
  if (kid == 0) {
    plumb_client *c;
    int32_t r;
    if (plumb_client_open(&c, g_ep, "calc", NULL) != PLUMB_OK)
      _exit(2);
    test_Echo_nap(c, 300, 1, &r); /* killed while waiting */
    _exit(0);
  }
  sleep_ms(100);
  kill(kid, SIGKILL);
  waitpid(kid, NULL, 0);
  plumb_client *c = open_client("calc");
  int32_t r = 0;
  CU_ASSERT_EQUAL(test_Echo_add(c, 5, 5, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 10);
  plumb_client_close(c);
}

/* A private server for a case that kills it. */
static pid_t
spawn_private(char *ep, size_t epsz)
{
  if (g_unix) {
    snprintf(ep, epsz, "unix:/tmp/plumb-rt-%d-b.sock", (int)getpid());
    const char *eps[] = { ep };
    int code;
    return spawn_server(eps, 1, ep, &code);
  }
  static int salt;
  int port;
  return spawn_tcp(ep, epsz, &port, ++salt);
}

static void
test_server_gone(void)
{
  char ep[128];
  pid_t pid = spawn_private(ep, sizeof(ep));
  CU_ASSERT_FATAL(pid > 0);
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = 1000 };
  int32_t r;

  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ep, "calc", &o), PLUMB_OK);
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_OK);
  /* A hung server: the deadline ends the call. */
  kill(pid, SIGSTOP);
  int ws;
  CU_ASSERT_EQUAL(waitpid(pid, &ws, WUNTRACED), pid); /* really stopped */
  int64_t t0 = now_ms();
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_ETIMEDOUT);
  CU_ASSERT(now_ms() - t0 < 2500);
  kill(pid, SIGCONT);
  /* A dead server: an error at once, never a hang. */
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  t0 = now_ms();
  int st = test_Echo_add(c, 1, 2, &r);
  /* ECLOSED if the call went out on the dead connection; ECONNREFUSED if
   * the handle saw it dead first and re-dialled (docs/RUNTIME.md,
   * "Reconnection"): no server there. */
  CU_ASSERT(st == PLUMB_ECLOSED || st == PLUMB_ECONNREFUSED);
  CU_ASSERT(now_ms() - t0 < 900); /* at once, not at the 1 s deadline */
  st = test_Echo_add(c, 1, 2, &r);
  CU_ASSERT(st == PLUMB_ECLOSED || st == PLUMB_ECONNREFUSED);
  plumb_client_close(c);
  if (g_unix)
    unlink(ep + 5); /* SIGKILL leaves the file; the next server reclaims it */
  /* Nobody listening: open fails cleanly. */
  CU_ASSERT_EQUAL(plumb_client_open(&c, ep, "calc", &o), PLUMB_ECONNREFUSED);
}

static void
test_sigterm_cleanup(void)
{
  char ep[128];
  pid_t pid = spawn_private(ep, sizeof(ep));
  CU_ASSERT_FATAL(pid > 0);
  plumb_client *c;
  int32_t r;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ep, "calc", NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(stop_server(pid), 0);
  if (g_unix) {
    CU_ASSERT_NOT_EQUAL(access(ep + 5, F_OK), 0); /* unlinked */
  }
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_ECLOSED);
  plumb_client_close(c);
}

/* One server on unix, tcp and (when the box has it) tcp over IPv6 at once:
 * the same objects answer on every endpoint. */
static void
test_multi_endpoint(void)
{
  char u[128], t4[64], t6[64];
  int base = 40000 + (int)(getpid() * 13 % 15000) + (g_unix ? 0 : 500);
  pid_t pid = -1;
  int n = 0;

  snprintf(u, sizeof(u), "unix:/tmp/plumb-rt-%d-m.sock", (int)getpid());
  for (int i = 0; i < 10 && pid < 0; i++) {
    int code;
    snprintf(t4, sizeof(t4), "tcp://127.0.0.1:%d", base + i * 17);
    snprintf(t6, sizeof(t6), "tcp://[::1]:%d", base + i * 17 + 1);
    const char *eps[] = { u, t4, t6 };
    n = 3;
    pid = spawn_server(eps, n, t4, &code);
    if (pid < 0 && code == 1) { /* no IPv6 here */
      n = 2;
      pid = spawn_server(eps, n, t4, &code);
    }
  }
  CU_ASSERT_FATAL(pid > 0);
  const char *eps[] = { u, t4, t6 };
  for (int i = 0; i < n; i++) {
    plumb_client *c;
    int32_t r = 0;
    CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, eps[i], "derived", NULL),
                          PLUMB_OK);
    CU_ASSERT_EQUAL(test_Derived_mul(c, i + 2, 10, &r), PLUMB_OK);
    CU_ASSERT_EQUAL(r, (i + 2) * 10);
    plumb_client_close(c);
  }
  CU_ASSERT_EQUAL(stop_server(pid), 0);
  CU_ASSERT_NOT_EQUAL(access(u + 5, F_OK), 0);
}

/* ---- malformed frames through a raw socket ---------------------------- */

static int
raw_connect(void)
{
  int fd;
  if (g_unix) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    strcpy(sa.sun_path, g_path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
      close(fd);
      return -1;
    }
  } else {
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)g_port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

static void
raw_send(int fd, const void *p, size_t n)
{
  CU_ASSERT_EQUAL((size_t)write(fd, p, n), n);
}

/* Sends one stream frame: prefix + bytes. */
static void
raw_frame(int fd, const uint8_t *p, uint32_t n)
{
  uint8_t pre[4] = { (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16),
                     (uint8_t)(n >> 24) };
  raw_send(fd, pre, 4);
  raw_send(fd, p, n);
}

/* 1 if the server closed fd within 2 s (reading and discarding). */
static int
raw_dropped(int fd)
{
  uint8_t buf[256];
  for (int64_t end = now_ms() + 2000; now_ms() < end;) {
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 100) <= 0)
      continue;
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r == 0 || (r < 0 && errno == ECONNRESET))
      return 1;
  }
  return 0;
}

/* Reads one answer frame; returns its kind and status. */
static int
raw_answer(int fd, uint8_t *buf, size_t cap, plumb__frame *f)
{
  size_t got = 0, want = 4;
  uint32_t n = 0;
  while (got < want) {
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 2000) <= 0)
      return -1;
    ssize_t r = read(fd, buf + got, want - got);
    if (r <= 0)
      return -1;
    got += (size_t)r;
    if (got == 4 && want == 4) {
      n = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 |
          (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
      if (n + 4 > cap)
        return -1;
      want = 4 + n;
    }
  }
  return plumb__frame_decode(buf + 4, n, 1u << 20, f, NULL);
}

/* A well-formed request header for object "calc", op (iface, op). */
static size_t
raw_request(uint8_t *out, uint32_t iface, uint32_t op, const uint8_t *body,
            uint32_t body_len, int version)
{
  plumb__frame f = { .kind = PLUMB__FRAME_REQUEST, .call_id = 7,
                     .iface = iface, .op = op, .text_len = 4,
                     .body_len = body_len };
  plumb__frame_encode(out, &f);
  out[4] = (uint8_t)version;
  memcpy(out + PLUMB__FRAME_HDR, "calc", 4);
  if (body_len)
    memcpy(out + PLUMB__FRAME_HDR + 4, body, body_len);
  return PLUMB__FRAME_HDR + 4 + body_len;
}

static void
check_server_alive(void)
{
  plumb_client *c = open_client("calc");
  int32_t r = 0;
  CU_ASSERT_EQUAL(test_Echo_add(c, 20, 22, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 42);
  plumb_client_close(c);
}

static void
test_malformed_drop(void)
{
  uint8_t fr[256];
  int fd;

  /* Bad magic. */
  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  size_t n = raw_request(fr, TEST_ECHO_ID, TEST_ADD, NULL, 0, 1);
  fr[0] = 'X';
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT(raw_dropped(fd));
  close(fd);
  check_server_alive();

  /* Truncated header: a 10-byte frame. */
  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  raw_request(fr, TEST_ECHO_ID, TEST_ADD, NULL, 0, 1);
  raw_frame(fd, fr, 10);
  CU_ASSERT(raw_dropped(fd));
  close(fd);

  /* Length prefix over the limit (never allocated). */
  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  uint8_t huge[4] = { 0xf0, 0xff, 0xff, 0xff };
  raw_send(fd, huge, 4);
  CU_ASSERT(raw_dropped(fd));
  close(fd);

  /* Header lengths disagree with the frame length. */
  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  n = raw_request(fr, TEST_ECHO_ID, TEST_ADD, (const uint8_t *)"\x08\x01", 2,
                  1);
  raw_frame(fd, fr, (uint32_t)n - 1);
  CU_ASSERT(raw_dropped(fd));
  close(fd);

  /* Pure garbage. */
  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  for (size_t i = 0; i < sizeof(fr); i++)
    fr[i] = (uint8_t)(i * 131 + 7);
  raw_send(fd, fr, sizeof(fr));
  CU_ASSERT(raw_dropped(fd));
  close(fd);

  /* Half a frame, then the client vanishes. */
  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  n = raw_request(fr, TEST_ECHO_ID, TEST_ADD, NULL, 0, 1);
  uint8_t pre[4] = { (uint8_t)n, 0, 0, 0 };
  raw_send(fd, pre, 4);
  raw_send(fd, fr, 12);
  close(fd);

  check_server_alive();
}

static void
test_malformed_answered(void)
{
  uint8_t fr[256], ans[1024];
  plumb__frame f;
  int fd;

  CU_ASSERT_FATAL((fd = raw_connect()) >= 0);
  /* Garbage body: EBADBODY, connection kept. */
  size_t n = raw_request(fr, TEST_ECHO_ID, TEST_ADD,
                         (const uint8_t *)"\xff\xff\xff\xff\xff", 5, 1);
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT_EQUAL(raw_answer(fd, ans, sizeof(ans), &f), PLUMB_OK);
  CU_ASSERT_EQUAL(f.kind, PLUMB__FRAME_SYSEXC); /* MARSHAL */
  CU_ASSERT_EQUAL(f.status, PLUMB_EBADBODY);
  CU_ASSERT_EQUAL(f.call_id, 7);
  /* Unknown operation. */
  n = raw_request(fr, TEST_ECHO_ID, 77, NULL, 0, 1);
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT_EQUAL(raw_answer(fd, ans, sizeof(ans), &f), PLUMB_OK);
  CU_ASSERT_EQUAL(f.kind, PLUMB__FRAME_SYSEXC); /* BAD_OPERATION */
  CU_ASSERT_EQUAL(f.status, PLUMB_ENOOP);
  /* Unknown interface id. */
  n = raw_request(fr, 0xdeadbeef, 0, NULL, 0, 1);
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT_EQUAL(raw_answer(fd, ans, sizeof(ans), &f), PLUMB_OK);
  CU_ASSERT_EQUAL(f.status, PLUMB_ENOOP);
  /* Another protocol version. */
  n = raw_request(fr, TEST_ECHO_ID, TEST_ADD, NULL, 0, 9);
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT_EQUAL(raw_answer(fd, ans, sizeof(ans), &f), PLUMB_OK);
  CU_ASSERT_EQUAL(f.kind, PLUMB__FRAME_ERROR);
  CU_ASSERT_EQUAL(f.status, PLUMB_EVERSION);
  /* Still served on the same connection: add(1, 2) = 3. */
  n = raw_request(fr, TEST_ECHO_ID, TEST_ADD,
                  (const uint8_t *)"\x08\x01\x10\x02", 4, 1);
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT_EQUAL(raw_answer(fd, ans, sizeof(ans), &f), PLUMB_OK);
  CU_ASSERT_EQUAL(f.kind, PLUMB__FRAME_REPLY);
  CU_ASSERT(f.body_len == 2 && f.body[0] == 0x08 && f.body[1] == 3);
  /* A reply kind sent to the server is a protocol error: dropped. */
  n = raw_request(fr, TEST_ECHO_ID, TEST_ADD, NULL, 0, 1);
  fr[5] = PLUMB__FRAME_REPLY;
  raw_frame(fd, fr, (uint32_t)n);
  CU_ASSERT(raw_dropped(fd));
  close(fd);
  check_server_alive();
}

static const ptest_case cases[] = {
  { "values", test_values },
  { "exception", test_exception },
  { "oneway", test_oneway },
  { "unknown object and op", test_unknown },
  { "interface inheritance", test_inheritance },
  { "frame size limit", test_frame_limit },
  { "deadline", test_deadline },
  { "8 threads x 1000 calls, one client", test_threads },
  { "threads timing out among threads waiting", test_threads_timeouts },
  { "32 processes x 1000 calls", test_processes },
  { "client dies mid-call", test_client_dies },
  { "malformed frames dropped", test_malformed_drop },
  { "malformed requests answered", test_malformed_answered },
  { "server gone", test_server_gone },
  { "SIGTERM cleans up", test_sigterm_cleanup },
  { "unix + tcp + tcp6 endpoints at once", test_multi_endpoint },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "unix", cases, suite_unix_init, suite_cleanup },
  { "tcp", cases, suite_tcp_init, suite_cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN); /* raw sockets in the tests only */
  return ptest_run(suites, argc, argv);
}
