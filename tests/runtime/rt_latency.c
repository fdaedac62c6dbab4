/* rt_latency.c - quick null-call round-trip latency of plumb over an
 * endpoint (not a test): starts test_server on the endpoint, makes N calls
 * of test::Echo::count (empty request, one-int reply) from one thread and
 * prints median, p99 and max in microseconds.
 *   rt_latency unix:/tmp/lat.sock [N]     rt_latency tcp://127.0.0.1:9123 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testif.h"

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT [N]\n", argv[0]);
    return 2;
  }
  int n = argc > 2 ? atoi(argv[2]) : 20000;
  /* RT_LATENCY_EXTERNAL=1: a server is already running on the endpoint. */
  pid_t pid = getenv("RT_LATENCY_EXTERNAL") ? -1 : fork();
  if (pid == 0) {
    execl(TEST_SERVER_PATH, TEST_SERVER_PATH, argv[1], (char *)NULL);
    _exit(127);
  }
  plumb_client *c = NULL;
  for (int i = 0; i < 400; i++) {
    if (plumb_client_open(&c, argv[1], "calc", NULL) == PLUMB_OK)
      break;
    usleep(5000);
  }
  if (c == NULL) {
    if (pid > 0)
      kill(pid, SIGKILL);
    return 1;
  }
  int64_t *t = malloc(sizeof(*t) * (size_t)n);
  int32_t r;
  for (int i = 0; i < 1000; i++) /* warm up */
    test_Echo_count(c, &r);
  for (int i = 0; i < n; i++) {
    int64_t t0 = now_ns();
    if (test_Echo_count(c, &r) != PLUMB_OK) {
      fprintf(stderr, "call %d failed\n", i);
      break;
    }
    t[i] = now_ns() - t0;
  }
  qsort(t, (size_t)n, sizeof(*t), cmp_i64);
  printf("%-28s n=%d  median %.1f us  p99 %.1f us  max %.1f us\n", argv[1],
         n, t[n / 2] / 1e3, t[(size_t)n * 99 / 100] / 1e3, t[n - 1] / 1e3);
  free(t);
  plumb_client_close(c);
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
  }
  return 0;
}
