/* bench_client.c - the plumb side of the benchmarks: calls bench::Bench on a
 * running bench-server through the generated stubs.
 *
 *   bench-client lat  ENDPOINT null|add|echo [-s SIZE] [-n COUNT] [-t SEC]
 *                     [-c CPU] [-P SERVER_PID]
 *   bench-client tput ENDPOINT -p PROCS [-n COUNT] [-t SEC]
 *   bench-client rss  ENDPOINT [-n COUNT] [-t SEC] [-c CPU] [-P SERVER_PID]
 *
 * lat:  one client, pinned to CPU if given; warm-up, then up to COUNT calls
 *       within SEC seconds, each timed; prints median and p99 round trip in
 *       µs, MB/s (request + reply bytes, as raw_pingpong counts them), heap
 *       allocations per call during the timed calls (alloc_count.c), the
 *       client's peak RSS (VmHWM), and CPU time (/proc ticks) and minor
 *       page faults per call of the client and of the server (SERVER_PID,
 *       or our child for pipe).  null and add use the per-thread scratch
 *       arena (arena NULL, the documented steady path); echo reuses one arena,
 *       reset before each call.
 * tput: PROCS client processes (one connection each) call null() as fast as
 *       they can for SEC seconds (or COUNT calls each); prints calls/s summed.
 * rss:  COUNT null calls bounded by SEC; anonymous RSS (RssAnon) of this
 *       process and of the server (SERVER_PID; pipe: our child) after a
 *       warm-up and at the end, and the net
 *       number of heap blocks still allocated by the client; SIGUSR1 to
 *       the server at both points makes it print its allocation count.
 * async: one handle, one thread, WINDOW add() calls kept in flight with the
 *       generated _begin/_finish stubs (the oldest is finished, then a new
 *       one begun) for SEC seconds or COUNT calls; WINDOW 0 = the same loop
 *       with the synchronous stub, for comparison.  Prints calls/s and heap
 *       allocations per call.
 *   bench-client async ENDPOINT -w WINDOW [-n COUNT] [-t SEC]
 * One output line of key=value pairs per run; exit status 0 on success.
 * Every loop is bounded by count and time.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "alloc_count.h"
#include "bench.h"
#include "bench_util.h"

typedef struct opts {
  const char *ep;
  const char *op;
  size_t size;
  long count;
  double secs;
  int cpu;
  int procs;
  pid_t server;
  int window;
} opts;

/* Opens a client, retrying (at most 5 s) while the server starts. */
static plumb_client *
open_client(const char *ep)
{
  plumb_client *c = NULL;
  int64_t end = bench_now_ns() + 5000000000LL;
  int rc;
  do {
    rc = plumb_client_open(&c, ep, "bench", NULL);
    if (rc == PLUMB_OK)
      return c;
    usleep(20000);
  } while (bench_now_ns() < end);
  fprintf(stderr, "bench-client: cannot reach %s: %s\n", ep,
          plumb_strerror(rc));
  return NULL;
}

/* One call of op; 0 or -1 (message printed). */
static int
call_once(plumb_client *c, const opts *o, int kind, plumb_arena *arena,
          bench_Bytes *data, long i)
{
  int rc;
  if (kind == 0) {
    rc = bench_Bench_null(c, NULL);
  } else if (kind == 1) {
    int32_t a = (int32_t)i, b = 7, r = 0;
    rc = bench_Bench_add(c, a, b, &r, NULL);
    if (rc == PLUMB_OK && r != (int32_t)((uint32_t)a + 7u)) {
      fprintf(stderr, "bench-client: add returned %d\n", (int)r);
      return -1;
    }
  } else {
    bench_Bytes out = { 0, NULL };
    plumb_arena_reset(arena);
    rc = bench_Bench_echo(c, data, &out, arena);
    if (rc == PLUMB_OK &&
        (out._length != o->size ||
         out._buffer[o->size - 1] != data->_buffer[o->size - 1])) {
      fprintf(stderr, "bench-client: echo returned %zu bytes\n", out._length);
      return -1;
    }
  }
  if (rc != PLUMB_OK) {
    fprintf(stderr, "bench-client: %s call %ld: %s (%s)\n", o->op, i,
            plumb_strerror(rc), plumb_client_last_error(c));
    return -1;
  }
  return 0;
}

static int
op_kind(const char *op)
{
  return strcmp(op, "null") == 0 ? 0 : strcmp(op, "add") == 0 ? 1
         : strcmp(op, "echo") == 0 ? 2 : -1;
}

/* The first child of this process (pipe: the server the transport
 * spawned), from /proc/self/task/TID/children; 0 if none. */
static pid_t
first_child(void)
{
  char path[64];
  long pid = 0;
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  FILE *f = fopen(path, "r");
  if (f != NULL) {
    if (fscanf(f, "%ld", &pid) != 1)
      pid = 0;
    fclose(f);
  }
  return (pid_t)pid;
}

static int
run_lat(const opts *o)
{
  int kind = op_kind(o->op);
  if (kind < 0 || (kind == 2 && o->size == 0)) {
    fprintf(stderr, "bench-client: bad op %s\n", o->op);
    return 2;
  }
  bench_pin(o->cpu);
  plumb_client *c = open_client(o->ep);
  if (c == NULL)
    return 1;
  plumb_arena *arena = plumb_arena_new();
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)o->count);
  uint8_t *payload = malloc(o->size ? o->size : 1);
  if (arena == NULL || lat == NULL || payload == NULL)
    return 1;
  for (size_t i = 0; i < o->size; i++)
    payload[i] = (uint8_t)(i * 31u + 7u);
  bench_Bytes data = { o->size, payload };

  /* Warm-up: at most 1000 calls (a tenth of COUNT) or a fifth of SEC. */
  long warm = o->count / 10 < 1000 ? o->count / 10 : 1000, done = 0;
  int64_t t_warm = bench_now_ns() + (int64_t)(o->secs * 0.2e9);
  int bad = 0;
  for (long i = 0; i < warm && !bad; i++) {
    bad = call_once(c, o, kind, arena, &data, i) != 0;
    if (bench_now_ns() > t_warm)
      break;
  }
  pid_t srv = o->server > 0 ? o->server : first_child();
  int64_t cc0 = bench_cpu_us(0), sc0 = srv > 0 ? bench_cpu_us(srv) : -1;
  long long cf0 = bench_minflt(0), sf0 = srv > 0 ? bench_minflt(srv) : -1;
  int64_t t0 = bench_now_ns(), t_end = t0 + (int64_t)(o->secs * 1e9);
  unsigned long long a0 = bench_allocs(), a1;
  for (long i = 0; i < o->count && !bad; i++) {
    int64_t a = bench_now_ns();
    if (call_once(c, o, kind, arena, &data, i) != 0) {
      bad = 1;
      break;
    }
    int64_t b = bench_now_ns();
    lat[done++] = b - a;
    if (b > t_end)
      break;
  }
  int64_t total = bench_now_ns() - t0;
  a1 = bench_allocs();
  int64_t cc1 = bench_cpu_us(0), sc1 = srv > 0 ? bench_cpu_us(srv) : -1;
  long long cf1 = bench_minflt(0), sf1 = srv > 0 ? bench_minflt(srv) : -1;
  plumb_arena_free(arena);
  plumb_client_close(c);
  if (bad || done == 0) {
    fprintf(stderr, "bench-client: no samples\n");
    return 1;
  }
  bench_sort_i64(lat, (size_t)done);
  size_t bytes = kind == 0 ? 0 : kind == 1 ? 8 : 2 * o->size;
  printf("plumb op=%s size=%zu cpu=%d n=%ld median_us=%.2f p99_us=%.2f "
         "MBps=%.1f calls_per_s=%.0f allocs_per_call=%.3f vmhwm_kb=%ld "
         "client_cpu_us=%.2f server_cpu_us=%.2f client_faults=%.2f "
         "server_faults=%.2f\n",
         o->op, o->size, o->cpu, done, lat[done / 2] / 1e3,
         lat[(done * 99) / 100] / 1e3,
         (double)bytes * (double)done / (total / 1e9) / 1e6,
         (double)done / (total / 1e9), (double)(a1 - a0) / (double)done,
         bench_status_kb(0, "VmHWM"), (double)(cc1 - cc0) / (double)done,
         sc0 >= 0 && sc1 >= 0 ? (double)(sc1 - sc0) / (double)done : -1.0,
         (double)(cf1 - cf0) / (double)done,
         sf0 >= 0 && sf1 >= 0 ? (double)(sf1 - sf0) / (double)done : -1.0);
  free(lat);
  free(payload);
  return 0;
}

/* One throughput child: reports "calls ns" on fd wr once done. */
static void
tput_child(const opts *o, int ready_wr, int go_rd, int wr)
{
  plumb_client *c = open_client(o->ep);
  char ch = c ? 'r' : 'x';
  long n = 0;
  if (write(ready_wr, &ch, 1) != 1 || c == NULL)
    _exit(1);
  if (read(go_rd, &ch, 1) != 1)
    _exit(1);
  int64_t t0 = bench_now_ns(), end = t0 + (int64_t)(o->secs * 1e9), t1 = t0;
  for (n = 0; n < o->count; n++) {
    if (bench_Bench_null(c, NULL) != PLUMB_OK)
      break;
    if ((n & 63) == 0 && (t1 = bench_now_ns()) > end)
      break;
  }
  t1 = bench_now_ns();
  long long rep[2] = { n, t1 - t0 };
  plumb_client_close(c);
  _exit(write(wr, rep, sizeof rep) == (ssize_t)sizeof rep ? 0 : 1);
}

static int
run_tput(const opts *o)
{
  int ready[2], go[2], res[2];
  pid_t kids[256];
  int nk = 0, failed = 0;
  double rate = 0;
  long long calls = 0;

  if (o->procs < 1 || o->procs > 256)
    return 2;
  if (pipe(ready) < 0 || pipe(go) < 0 || pipe(res) < 0)
    return 1;
  for (int i = 0; i < o->procs; i++) {
    pid_t p = fork();
    if (p < 0)
      break;
    if (p == 0) {
      close(ready[0]);
      close(go[1]);
      close(res[0]);
      tput_child(o, ready[1], go[0], res[1]);
    }
    kids[nk++] = p;
  }
  close(ready[1]);
  close(go[0]);
  close(res[1]);
  for (int i = 0; i < nk; i++) { /* all connected (bounded by open_client) */
    char ch;
    if (read(ready[0], &ch, 1) != 1 || ch != 'r')
      failed = 1;
  }
  if (!failed) {
    char buf[256];
    memset(buf, 'g', sizeof buf);
    if (write(go[1], buf, (size_t)nk) != nk)
      failed = 1;
  }
  close(go[1]);
  for (int i = 0; i < nk; i++) {
    long long rep[2];
    if (read(res[0], rep, sizeof rep) != (ssize_t)sizeof rep) {
      failed = 1;
      continue;
    }
    calls += rep[0];
    if (rep[1] > 0)
      rate += (double)rep[0] / (rep[1] / 1e9);
  }
  for (int i = 0; i < nk; i++) {
    int st;
    waitpid(kids[i], &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      failed = 1;
  }
  if (failed || nk != o->procs) {
    fprintf(stderr, "bench-client: throughput run failed\n");
    return 1;
  }
  printf("tput procs=%d calls=%lld calls_per_s=%.0f\n", nk, calls, rate);
  return 0;
}

static int
run_rss(const opts *in)
{
  opts oc = *in, *o = &oc;
  bench_pin(o->cpu);
  plumb_client *c = open_client(o->ep);
  if (c == NULL)
    return 1;
  if (o->server <= 0) /* pipe: the spawned server is our child */
    o->server = first_child();
  long warm = 10000, n = 0;
  if (o->server > 0) /* first stats print: its stdio buffers, stack */
    kill(o->server, SIGUSR1);
  (void)bench_status_kb(0, "VmRSS"); /* the same for ours */
  for (long i = 0; i < warm; i++)
    if (bench_Bench_null(c, NULL) != PLUMB_OK)
      return 1;
  /* Anonymous RSS (heap, stacks): code pages faulted in late do not count. */
  long c0 = bench_status_kb(0, "RssAnon");
  long s0 = o->server > 0 ? bench_status_kb(o->server, "RssAnon") : -1;
  long v0 = bench_status_kb(0, "VmRSS");
  long long h0 = (long long)(bench_allocs() - bench_frees());
  if (o->server > 0) /* the server prints its allocation count */
    kill(o->server, SIGUSR1);
  int64_t t0 = bench_now_ns(), end = t0 + (int64_t)(o->secs * 1e9);
  for (n = 0; n < o->count; n++) {
    if (bench_Bench_null(c, NULL) != PLUMB_OK) {
      fprintf(stderr, "bench-client: %s\n", plumb_client_last_error(c));
      return 1;
    }
    if ((n & 1023) == 0 && bench_now_ns() > end)
      break;
  }
  double secs = (bench_now_ns() - t0) / 1e9;
  long long h1 = (long long)(bench_allocs() - bench_frees());
  long c1 = bench_status_kb(0, "RssAnon");
  long s1 = o->server > 0 ? bench_status_kb(o->server, "RssAnon") : -1;
  long v1 = bench_status_kb(0, "VmRSS");
  if (o->server > 0) {
    kill(o->server, SIGUSR1);
    usleep(100000);
  }
  plumb_client_close(c);
  printf("rss calls=%ld secs=%.1f client_rss0_kb=%ld client_rss1_kb=%ld "
         "server_rss0_kb=%ld server_rss1_kb=%ld client_heap_blocks_delta=%lld "
         "client_vmrss0_kb=%ld client_vmrss1_kb=%ld vmhwm_kb=%ld\n",
         n, secs, c0, c1, s0, s1, h1 - h0, v0, v1,
         bench_status_kb(0, "VmHWM"));
  return 0;
}

static int
run_async(const opts *o)
{
  plumb_client *c = open_client(o->ep);
  int w = o->window, bad = 0;
  long done = 0, begun = 0;
  if (c == NULL || w < 0 || w > 4096)
    return 1;
  plumb_pending **ring = calloc((size_t)(w ? w : 1), sizeof(*ring));
  int32_t *want = calloc((size_t)(w ? w : 1), sizeof(*want));
  if (ring == NULL || want == NULL)
    return 1;
  /* warm-up: fills the pool and the buffers */
  for (int i = 0; i < 200; i++) {
    int32_t r;
    if (bench_Bench_add(c, i, 1, &r, NULL) != PLUMB_OK)
      return 1;
  }
  unsigned long long a0 = bench_allocs();
  int64_t t0 = bench_now_ns();
  int64_t end = t0 + (int64_t)(o->secs * 1e9);
  if (w == 0) {
    for (; done < o->count && ((done & 255) || bench_now_ns() < end); done++) {
      int32_t r;
      if (bench_Bench_add(c, (int32_t)done, 2, &r, NULL) != PLUMB_OK ||
          r != (int32_t)done + 2)
        bad++;
    }
  } else {
    int stop = 0;
    while (done < begun || !stop) {
      if (!stop && begun - done < w) {
        int k = (int)(begun % w);
        if (bench_Bench_add_begin(c, (int32_t)begun, 2, &ring[k]) !=
            PLUMB_OK) {
          bad++;
          stop = 1;
          continue;
        }
        want[k] = (int32_t)begun + 2;
        begun++;
        if (begun >= o->count || ((begun & 255) == 0 && bench_now_ns() >= end))
          stop = 1;
        continue;
      }
      int k = (int)(done % w);
      int32_t r = 0;
      if (bench_Bench_add_finish(ring[k], &r, NULL) != PLUMB_OK ||
          r != want[k])
        bad++;
      done++;
    }
  }
  int64_t dt = bench_now_ns() - t0;
  unsigned long long a1 = bench_allocs();
  printf("mode=async window=%d calls=%ld secs=%.3f calls_per_s=%.0f "
         "allocs_per_call=%.3f bad=%d\n", w, done, dt / 1e9,
         done / (dt / 1e9), done ? (double)(a1 - a0) / (double)done : 0.0,
         bad);
  free(ring);
  free(want);
  plumb_client_close(c);
  return bad == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
  opts o = { NULL, "null", 0, 20000, 2.0, -1, 1, 0, 1 };
  int opt, first;

  if (argc < 3) {
    fprintf(stderr, "usage: %s lat|tput|rss|async ENDPOINT [OP] [options]\n",
            argv[0]);
    return 2;
  }
  o.ep = argv[2];
  first = 3;
  if (strcmp(argv[1], "lat") == 0) {
    if (argc < 4)
      return 2;
    o.op = argv[3];
    first = 4;
  }
  optind = first;
  while ((opt = getopt(argc, argv, "s:n:t:c:p:P:w:")) != -1) {
    switch (opt) {
    case 's': o.size = (size_t)atol(optarg); break;
    case 'n': o.count = atol(optarg); break;
    case 't': o.secs = atof(optarg); break;
    case 'c': o.cpu = atoi(optarg); break;
    case 'p': o.procs = atoi(optarg); break;
    case 'P': o.server = (pid_t)atoi(optarg); break;
    case 'w': o.window = atoi(optarg); break;
    default: return 2;
    }
  }
  if (o.count < 1 || o.secs <= 0)
    return 2;
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(argv[1], "lat") == 0)
    return run_lat(&o);
  if (strcmp(argv[1], "tput") == 0)
    return run_tput(&o);
  if (strcmp(argv[1], "rss") == 0)
    return run_rss(&o);
  if (strcmp(argv[1], "async") == 0)
    return run_async(&o);
  fprintf(stderr, "bench-client: unknown mode %s\n", argv[1]);
  return 2;
}
