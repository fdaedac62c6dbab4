/* shm_frame_bench.c - round trip of whole frames over the shm transport
 * (the transport table, no RPC layer), to set against raw_shm_futex run in
 * the same session.
 *
 *   shm_frame_bench [-n COUNT] [-t SECONDS] [-c same|cross|all] [-r RING]
 *
 * For each placement (client and server pinned on different CPUs, or on one
 * CPU) and each server model it measures a 16-byte request / 8-byte reply:
 *   direct - the server thread blocks in recv() (spin, then futex);
 *   waited - the server polls conn_fd() as the core's epoll loop does
 *            (waiter thread + eventfd) and receives with PLUMB_NOWAIT;
 * then 64 KiB and 1 MiB echoes (MB/s counts both directions) against
 * single-core memcpy bandwidth.  Runs are bounded by COUNT and SECONDS.
 */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport.h"

static const plumb_transport *T;
static const char *ring_query = ""; /* "?ring=N" from -r */

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

/* Serves one client, then returns. */
static void
serve(const char *rest, const plumb_tran_opts *o, int waited, size_t reply,
      int ready_fd)
{
  plumb_listener *l;
  plumb_conn *c = NULL;
  plumb_buf buf = { 0 };
  struct pollfd p;

  if (T->listen(rest, o, &l) != PLUMB_OK)
    _exit(1);
  (void)!write(ready_fd, "R", 1);
  p.fd = T->listener_fd(l);
  p.events = POLLIN;
  while (c == NULL && poll(&p, 1, 10000) == 1)
    T->accept(l, &c);
  T->listener_close(l);
  if (c == NULL)
    _exit(1);
  if (waited)
    p.fd = T->conn_fd(c);
  for (;;) {
    int rc;
    if (waited) {
      rc = T->recv(c, &buf, PLUMB_NOWAIT);
      if (rc == PLUMB_EAGAIN) {
        if (poll(&p, 1, 10000) != 1)
          break;
        continue;
      }
    } else {
      rc = T->recv(c, &buf, plumb__deadline_ms(10000));
    }
    if (rc != PLUMB_OK)
      break;
    struct iovec iov = { buf.data, reply ? reply : buf.len };
    if (T->send(c, &iov, 1, plumb__deadline_ms(10000)) != PLUMB_OK)
      break;
  }
  T->close(c);
  plumb__buf_free(&buf);
}

static int
run(const char *model, int waited, int same, size_t size, size_t reply,
    long count, double seconds)
{
  char ep[96];
  const char *rest;
  plumb_tran_opts o = { .max_frame = 4u * 1024u * 1024u, .mode = 0600 };
  plumb_conn *c;
  plumb_buf in = { 0 };
  uint8_t *out = calloc(1, size);
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)count);
  long done = 0, warm = count / 10 < 1000 ? count / 10 : 1000;
  int64_t t_end, t0 = 0, total;
  int p[2];
  char ch;
  pid_t pid;

  snprintf(ep, sizeof(ep), "shm:/bench-%d%s", (int)getpid(), ring_query);
  plumb__transport_find(ep, &rest);
  if (out == NULL || lat == NULL || pipe(p) != 0)
    return 1;
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    close(p[0]);
    pin(same ? 0 : 1);
    serve(rest, &o, waited, reply, p[1]);
    _exit(0);
  }
  close(p[1]);
  if (read(p[0], &ch, 1) != 1) {
    fprintf(stderr, "server failed\n");
    return 1;
  }
  close(p[0]);
  pin(0);
  if (T->dial(rest, &o, plumb__deadline_ms(5000), &c) != PLUMB_OK) {
    fprintf(stderr, "dial failed\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
  t_end = plumb__now_ns() + (int64_t)(seconds * 1e9);
  for (long i = 0; i < warm + count; i++) {
    struct iovec iov = { out, size };
    int64_t a = plumb__now_ns(), b;
    if (T->send(c, &iov, 1, plumb__deadline_ms(10000)) != PLUMB_OK ||
        T->recv(c, &in, plumb__deadline_ms(10000)) != PLUMB_OK) {
      fprintf(stderr, "round trip failed\n");
      break;
    }
    b = plumb__now_ns();
    if (i == warm)
      t0 = a;
    if (i >= warm)
      lat[done++] = b - a;
    if (b > t_end)
      break;
  }
  total = plumb__now_ns() - t0;
  T->close(c);
  waitpid(pid, NULL, 0);
  if (done > 0) {
    size_t back = reply ? reply : size;
    qsort(lat, (size_t)done, sizeof lat[0], cmp_i64);
    printf("shm-frame server=%s size=%zu reply=%zu placement=%s n=%ld "
           "median_us=%.2f p99_us=%.2f MBps=%.1f\n",
           model, size, back, same ? "same" : "cross", done,
           lat[done / 2] / 1e3, lat[(done * 99) / 100] / 1e3,
           (double)(size + back) * (double)done / (total / 1e9) / 1e6);
    fflush(stdout);
  }
  if (done == 0)
    fprintf(stderr, "shm-frame server=%s size=%zu: no samples (time ran out "
                    "during warm-up)\n", model, size);
  plumb__buf_free(&in);
  free(out);
  free(lat);
  return done > 0 ? 0 : 1;
}

/* Single-core memcpy bandwidth: 1 MiB blocks (cache-resident, the echo's
 * yardstick) and 64 MiB blocks (memory-bound). */
static void
memcpy_bw(size_t n, int reps)
{
  uint8_t *a = malloc(n), *b = malloc(n);
  int64_t t0;

  if (a == NULL || b == NULL) {
    free(a);
    free(b);
    return;
  }
  memset(a, 1, n);
  memset(b, 2, n);
  pin(0);
  t0 = plumb__now_ns();
  for (int i = 0; i < reps; i++) {
    memcpy(i & 1 ? a : b, i & 1 ? b : a, n);
    __asm__ __volatile__("" ::: "memory");
  }
  printf("memcpy size=%zu MBps=%.1f\n", n,
         (double)n * reps / ((plumb__now_ns() - t0) / 1e9) / 1e6);
  free(a);
  free(b);
}

int
main(int argc, char **argv)
{
  long count = 20000;
  double seconds = 3;
  int places = 3, opt, rc = 0;
  const char *rest;

  static char rq[32];

  while ((opt = getopt(argc, argv, "n:t:c:r:")) != -1) {
    switch (opt) {
    case 'r':
      snprintf(rq, sizeof(rq), "?ring=%s", optarg);
      ring_query = rq;
      break;
    case 'n': count = atol(optarg); break;
    case 't': seconds = atof(optarg); break;
    case 'c':
      places = strcmp(optarg, "cross") == 0 ? 1
               : strcmp(optarg, "same") == 0 ? 2
                                             : 3;
      break;
    default:
      fprintf(stderr, "usage: %s [-n COUNT] [-t SEC] [-c same|cross|all] "
                      "[-r RING]\n", argv[0]);
      return 2;
    }
  }
  if (count < 1 || (T = plumb__transport_find("shm:/x", &rest)) == NULL)
    return 2;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    places &= 2;
  signal(SIGPIPE, SIG_IGN);
  for (int same = 0; same < 2; same++) {
    if (!(places & (1 << same)))
      continue;
    rc |= run("direct", 0, same, 16, 8, count, seconds);
    rc |= run("waited", 1, same, 16, 8, count, seconds);
    rc |= run("direct", 0, same, 65536, 0, count / 10 + 1, seconds);
    rc |= run("direct", 0, same, 1048576, 0, count / 100 + 1, seconds);
  }
  memcpy_bw(1024 * 1024, 2000);
  memcpy_bw(64 * 1024 * 1024, 20);
  return rc;
}
