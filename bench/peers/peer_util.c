/* peer_util.c - command line, endpoints, sockets, the timed add() loop and
 * the stop signal shared by the peer benchmarks (see peer_util.h).  Clock,
 * pinning, sorting and /proc CPU time come from bench/bench_util.c, the
 * same code bench-client uses for plumb. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench_util.h"
#include "peer_util.h"

static void
usage(const char *name)
{
  fprintf(stderr,
          "usage: peer-%s server|client unix:/PATH|tcp:PORT "
          "[-n COUNT] [-t SEC] [-c CPU] [-P SERVER_PID]\n", name);
}

int
peer_parse(int argc, char **argv, const char *name, peer_opts *o)
{
  int opt;
  memset(o, 0, sizeof *o);
  o->count = 20000;
  o->secs = 0.5;
  o->cpu = -1;
  if (argc < 3 || (strcmp(argv[1], "server") != 0 &&
                   strcmp(argv[1], "client") != 0)) {
    usage(name);
    return -1;
  }
  o->role = argv[1];
  if (strncmp(argv[2], "unix:/", 6) == 0) {
    o->path = argv[2] + 5;
    if (strlen(o->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
      fprintf(stderr, "peer-%s: socket path too long\n", name);
      return -1;
    }
  } else if (strncmp(argv[2], "tcp:", 4) == 0) {
    char *end;
    long p = strtol(argv[2] + 4, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      usage(name);
      return -1;
    }
    o->tcp = 1;
    o->port = (int)p;
  } else {
    usage(name);
    return -1;
  }
  optind = 3;
  while ((opt = getopt(argc, argv, "n:t:c:P:")) != -1) {
    switch (opt) {
    case 'n': o->count = atol(optarg); break;
    case 't': o->secs = atof(optarg); break;
    case 'c': o->cpu = atoi(optarg); break;
    case 'P': o->server = (pid_t)atoi(optarg); break;
    default: usage(name); return -1;
    }
  }
  if (o->count < 1 || o->count > 100000000 || o->secs <= 0 || o->secs > 600) {
    usage(name);
    return -1;
  }
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(o->role, "server") == 0)
    bench_pin_env("BENCH_SERVER_CPU");
  else if (bench_pin(o->cpu) != 0)
    perror("sched_setaffinity");
  return 0;
}

int
peer_measure(const char *name, const peer_opts *o, peer_add_fn fn, void *ctx)
{
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)o->count);
  long done = 0, warm = o->count / 10 < 1000 ? o->count / 10 : 1000;
  int32_t r;
  if (lat == NULL)
    return 1;
  /* Warm-up, bounded like bench-client's: count and a fifth of SEC. */
  int64_t t_warm = bench_now_ns() + (int64_t)(o->secs * 0.2e9);
  for (long i = 0; i < warm; i++) {
    if (fn(ctx, (int32_t)i, 7, &r) != 0) {
      free(lat);
      return 1;
    }
    if (bench_now_ns() > t_warm)
      break;
  }
  int64_t cc0 = bench_cpu_us(0);
  int64_t sc0 = o->server > 0 ? bench_cpu_us(o->server) : -1;
  int64_t t0 = bench_now_ns(), t_end = t0 + (int64_t)(o->secs * 1e9);
  for (long i = 0; i < o->count; i++) {
    int64_t a = bench_now_ns();
    if (fn(ctx, (int32_t)i, 7, &r) != 0) {
      free(lat);
      return 1;
    }
    int64_t b = bench_now_ns();
    if (r != (int32_t)((uint32_t)i + 7u)) {
      fprintf(stderr, "peer-%s: add(%ld, 7) returned %d\n", name, i, (int)r);
      free(lat);
      return 1;
    }
    lat[done++] = b - a;
    if (b > t_end)
      break;
  }
  int64_t total = bench_now_ns() - t0;
  int64_t cc1 = bench_cpu_us(0);
  int64_t sc1 = o->server > 0 ? bench_cpu_us(o->server) : -1;
  bench_sort_i64(lat, (size_t)done);
  printf("peer name=%s mech=%s op=add cpu=%d n=%ld median_us=%.2f "
         "p99_us=%.2f calls_per_s=%.0f client_cpu_us=%.2f "
         "server_cpu_us=%.2f\n",
         name, o->tcp ? "tcp" : "unix", o->cpu, done, lat[done / 2] / 1e3,
         lat[(done * 99) / 100] / 1e3, (double)done / (total / 1e9),
         (double)(cc1 - cc0) / (double)done,
         sc0 >= 0 && sc1 >= 0 ? (double)(sc1 - sc0) / (double)done : -1.0);
  fflush(stdout);
  free(lat);
  return 0;
}

static volatile sig_atomic_t stopping;
static char stop_path[108];

static void
on_stop(int sig)
{
  (void)sig;
  stopping = 1;
  if (stop_path[0] != '\0')
    unlink(stop_path);
}

void
peer_server_signals(const peer_opts *o)
{
  struct sigaction sa;
  if (!o->tcp)
    snprintf(stop_path, sizeof stop_path, "%s", o->path);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: blocking receives return EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

int
peer_stopping(void)
{
  return stopping != 0;
}

void
peer_server_ready(const char *name)
{
  fprintf(stderr, "peer-%s: serving (pid %d)\n", name, (int)getpid());
  fflush(stderr);
}

/* o's address in *ss; its length. */
static socklen_t
peer_addr(const peer_opts *o, struct sockaddr_storage *ss)
{
  memset(ss, 0, sizeof *ss);
  if (o->tcp) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)o->port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *in;
  }
  struct sockaddr_un *un = (struct sockaddr_un *)ss;
  un->sun_family = AF_UNIX;
  snprintf(un->sun_path, sizeof un->sun_path, "%s", o->path);
  return sizeof *un;
}

int
peer_connect(const peer_opts *o)
{
  struct sockaddr_storage ss;
  socklen_t len = peer_addr(o, &ss);
  int64_t end = bench_now_ns() + 5000000000LL;
  do {
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
      int one = 1;
      if (o->tcp)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    close(fd);
    usleep(20000);
  } while (bench_now_ns() < end);
  perror("peer: connect");
  return -1;
}

int
peer_listen(const peer_opts *o)
{
  struct sockaddr_storage ss;
  socklen_t len = peer_addr(o, &ss);
  int one = 1;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (o->tcp)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
    perror("peer: bind/listen");
    close(fd);
    return -1;
  }
  return fd;
}
