/* shm_null_call.c - a whole plumb call (client stub, frame, transport,
 * server loop, dispatch, reply) over shm and over unix, in the same run, for
 * the ratios the shm issue asks for.  The call is test::Echo::add from the
 * runtime tests' hand-written interface (tests/runtime/testif.c): two ints
 * in, one int out - as close to a null call as the interface has.
 *
 *   shm_null_call [-n COUNT] [-t SECONDS] [-c same|cross|all] [-w WORKERS]
 *
 * The server runs in a forked process with WORKERS worker threads (1 by
 * default), pinned like the client: different CPUs (cross) or one (same).
 * Prints median and p99 per transport and placement; bounded by COUNT and
 * SECONDS.  Timing only: nothing here asserts a speed.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testif.h"

static int64_t
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
pin(int cpu)
{
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int
nc_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  (void)call;
  *ret = a + b;
  return PLUMB_OK;
}

static const test_Echo_ops nc_impl = { nc_add, NULL, NULL, NULL,
                                       NULL,   NULL, NULL };

static void
nc_serve(const char *ep, unsigned workers, int ready_fd)
{
  plumb_server_opts o = { .workers = workers };
  plumb_server *s;

  if (plumb_server_new(&s, &o) != PLUMB_OK)
    _exit(1);
  if (plumb_server_add_object(s, "calc", &test_Echo_interface, &nc_impl,
                              NULL) != PLUMB_OK ||
      plumb_server_listen(s, ep) != PLUMB_OK) {
    plumb_server_free(s);
    _exit(1);
  }
  (void)!write(ready_fd, "R", 1);
  close(ready_fd);
  plumb_server_run(s, 1);
  plumb_server_free(s);
}

static double
nc_run(const char *ep, int same, unsigned workers, long count, double secs)
{
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)count);
  long done = 0, warm = count / 10 < 1000 ? count / 10 : 1000;
  int64_t t_end;
  plumb_client *c = NULL;
  int p[2];
  char ch;
  pid_t pid;

  if (lat == NULL || pipe(p) != 0)
    return -1;
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    close(p[0]);
    pin(same ? 0 : 1);
    nc_serve(ep, workers, p[1]);
    _exit(0);
  }
  close(p[1]);
  if (read(p[0], &ch, 1) != 1) {
    fprintf(stderr, "%s: server failed\n", ep);
    waitpid(pid, NULL, 0);
    free(lat);
    return -1;
  }
  close(p[0]);
  pin(0);
  if (plumb_client_open(&c, ep, NULL, NULL) != PLUMB_OK) {
    fprintf(stderr, "%s: cannot connect\n", ep);
    goto out;
  }
  t_end = now_ns() + (int64_t)(secs * 1e9);
  for (long i = 0; i < warm + count; i++) {
    int32_t r = 0;
    int64_t a = now_ns(), b;
    if (test_Echo_add(c, (int32_t)i, 1, &r) != PLUMB_OK ||
        r != (int32_t)i + 1) {
      fprintf(stderr, "%s: call failed\n", ep);
      break;
    }
    b = now_ns();
    if (i >= warm)
      lat[done++] = b - a;
    if (b > t_end)
      break;
  }
  plumb_client_close(c);
out:
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  if (done == 0) {
    free(lat);
    return -1;
  }
  qsort(lat, (size_t)done, sizeof lat[0], cmp_i64);
  double med = lat[done / 2] / 1e3;
  printf("null-call transport=%.*s placement=%s workers=%u n=%ld "
         "median_us=%.2f p99_us=%.2f\n",
         (int)(strchr(ep, ':') - ep), ep, same ? "same" : "cross", workers,
         done, med, lat[(done * 99) / 100] / 1e3);
  fflush(stdout);
  free(lat);
  return med;
}

int
main(int argc, char **argv)
{
  long count = 20000;
  double secs = 3;
  unsigned workers = 1;
  int places = 3, opt;
  char shm_ep[64], unix_ep[64];

  while ((opt = getopt(argc, argv, "n:t:c:w:")) != -1) {
    switch (opt) {
    case 'n': count = atol(optarg); break;
    case 't': secs = atof(optarg); break;
    case 'w': workers = (unsigned)atoi(optarg); break;
    case 'c':
      places = strcmp(optarg, "cross") == 0 ? 1
               : strcmp(optarg, "same") == 0 ? 2
                                             : 3;
      break;
    default:
      fprintf(stderr, "usage: %s [-n COUNT] [-t SEC] [-c same|cross|all] "
                      "[-w WORKERS]\n", argv[0]);
      return 2;
    }
  }
  if (count < 1)
    return 2;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    places &= 2;
  signal(SIGPIPE, SIG_IGN);
  snprintf(shm_ep, sizeof(shm_ep), "shm:/nullcall-%d", (int)getpid());
  snprintf(unix_ep, sizeof(unix_ep), "unix:/tmp/plumb-nullcall-%d.sock",
           (int)getpid());
  for (int same = 0; same < 2; same++) {
    if (!(places & (1 << same)))
      continue;
    double s = nc_run(shm_ep, same, workers, count, secs);
    double u = nc_run(unix_ep, same, workers, count, secs);
    if (s > 0 && u > 0)
      printf("null-call placement=%s unix/shm=%.2f\n",
             same ? "same" : "cross", u / s);
  }
  return 0;
}
