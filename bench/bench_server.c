/* bench_server.c - serves bench::Bench (null, add, echo) for the benchmarks.
 *
 *   bench-server ENDPOINT...
 *
 * Environment: BENCH_SERVER_CPU pins the whole server (every thread) to one
 * CPU; BENCH_SERVER_WORKERS sets the worker count (default: the runtime's).
 * SIGUSR1 prints one "server-stats" line to stderr (calls served, heap
 * allocations so far, VmRSS and VmHWM in KiB); the same line is printed when
 * the server stops (SIGINT/SIGTERM), so a driver can compute allocations per
 * call and peak RSS on the server side.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "alloc_count.h"
#include "bench.h"
#include "bench_util.h"

static _Atomic unsigned long long calls;

static int
do_null(void *ctx, plumb_call *call)
{
  (void)ctx;
  (void)call;
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return PLUMB_OK;
}

static int
do_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  (void)call;
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  *ret = (int32_t)((uint32_t)a + (uint32_t)b);
  return PLUMB_OK;
}

/* The request lives in the call's arena until the reply is sent: answer
 * with the same bytes, no copy. */
static int
do_echo(void *ctx, plumb_call *call, const bench_Bytes *data, bench_Bytes *ret)
{
  (void)ctx;
  (void)call;
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  *ret = *data;
  return PLUMB_OK;
}

static const bench_Bench_ops bench_impl = {
  .null = do_null,
  .add = do_add,
  .echo = do_echo,
};

static void
print_stats(const char *when)
{
  fprintf(stderr,
          "server-stats when=%s pid=%d calls=%llu allocs=%llu frees=%llu "
          "vmrss_kb=%ld vmhwm_kb=%ld\n",
          when, (int)getpid(), atomic_load(&calls), bench_allocs(),
          bench_frees(), bench_status_kb(0, "VmRSS"),
          bench_status_kb(0, "VmHWM"));
  fflush(stderr);
}

/* SIGUSR1 is blocked in every thread; this one takes it synchronously. */
static void *
stats_thread(void *arg)
{
  sigset_t *set = arg;
  for (int i = 0; i < 1000000; i++) { /* ends with the process */
    int sig;
    if (sigwait(set, &sig) == 0 && sig == SIGUSR1)
      print_stats("usr1");
  }
  return NULL;
}

int
main(int argc, char **argv)
{
  static sigset_t usr1;
  plumb_server_opts opts = { 0 };
  plumb_server *srv;
  pthread_t tid;
  const char *w = getenv("BENCH_SERVER_WORKERS");
  int rc;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 2;
  }
  bench_pin_env("BENCH_SERVER_CPU");
  if (w != NULL && *w != '\0')
    opts.workers = (unsigned)atoi(w);
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);
  if (pthread_create(&tid, NULL, stats_thread, &usr1) == 0)
    pthread_detach(tid);

  if ((rc = plumb_server_new(&srv, &opts)) != PLUMB_OK) {
    fprintf(stderr, "bench-server: %s\n", plumb_strerror(rc));
    return 1;
  }
  rc = plumb_server_add_object(srv, "bench", &bench_Bench_interface,
                               &bench_impl, NULL);
  for (int i = 1; rc == PLUMB_OK && i < argc; i++)
    rc = plumb_server_listen(srv, argv[i]);
  if (rc == PLUMB_OK) {
    fprintf(stderr, "bench-server: serving (pid %d)\n", (int)getpid());
    rc = plumb_server_run(srv, 1);
  }
  if (rc != PLUMB_OK)
    fprintf(stderr, "bench-server: %s\n", plumb_strerror(rc));
  plumb_server_free(srv);
  print_stats("exit");
  return rc == PLUMB_OK ? 0 : 1;
}
