/* raw_pingpong.c - the floor under each transport: a ping-pong between two
 * processes over one raw mechanism (pipe, fifo, mq, sysvmq, unix, tcp), with
 * no RPC layer.  The client sends `size` bytes, the server answers with
 * `reply` bytes (8 by default, or an echo of the request with -e).  Prints
 * median and p99 round trip in microseconds and MB/s for echoes.
 *
 *   raw_pingpong MECH [-n COUNT] [-t SECONDS] [-s SIZE] [-e] [-c same|cross]
 *                [-x | -X MASK] [-q DEPTH]
 *
 * -x (pipe, fifo, unix, tcp; up to 16 KiB): the same ping-pong with plumb's
 * system-call pattern - the client polls before each read, the server waits
 * in epoll (EPOLLONESHOT), reads until EAGAIN, answers and re-arms with
 * epoll_ctl, and on pipes/FIFOs both block SIGPIPE around each write - to
 * tell the cost of those calls from everything else plumb does.  -X MASK
 * adds them one at a time: 1 = client poll, 2 = server epoll loop,
 * 4 = SIGPIPE masks (-x = -X 7); and on sockets 8 = the client's blocking
 * read bounded by SO_RCVTIMEO (100 ms, as plumb's stream client bounds
 * its wait by the call's deadline), 16 = the same on the server's read
 * (what a server lingering in recv() would pay).
 * -q DEPTH (mq): the queues' mq_maxmsg (10 by default, the kernel's
 * msg_max); the bench also runs it at the depth the mq transport picks
 * under this user's RLIMIT_MSGQUEUE, to compare like with like.
 * Also prints the CPU time (user + system) per round trip of the client
 * (getrusage) and of the server process (/proc/PID/stat, clock ticks).
 * Runs are bounded by COUNT round trips and SECONDS, whichever comes first.
 * POSIX and SysV queues carry at most 8192 bytes a message here, so larger
 * payloads are sent in 8 KiB pieces, as a transport would.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/epoll.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 8192

typedef struct chan {
  int rfd, wfd;     /* stream mechanisms */
  mqd_t rq, wq;     /* POSIX mq */
  int msqid;        /* SysV */
  long rtype, wtype;
} chan;

typedef struct mech {
  const char *name;
  int (*setup)(chan *client, chan *server);
  int (*send)(chan *c, const char *buf, size_t n);
  int (*recv)(chan *c, char *buf, size_t n);
  void (*cleanup)(void);
} mech;

static char fifo_dir[64];
static char mq_req[64], mq_rep[64];
static long mq_depth = 10; /* -q */
static int sysv_id = -1;

static void
die(const char *what)
{
  perror(what);
  exit(1);
}

static int64_t
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- byte streams: pipe, fifo, unix, tcp ---------------------------- */

static int
fd_send(chan *c, const char *buf, size_t n)
{
  while (n > 0) {
    ssize_t k = write(c->wfd, buf, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    buf += k;
    n -= (size_t)k;
  }
  return 0;
}

static int
fd_recv(chan *c, char *buf, size_t n)
{
  while (n > 0) {
    ssize_t k = read(c->rfd, buf, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    buf += k;
    n -= (size_t)k;
  }
  return 0;
}

static int
pipe_setup(chan *cl, chan *sv)
{
  int a[2], b[2];
  if (pipe(a) < 0 || pipe(b) < 0)
    return -1;
  cl->wfd = a[1], sv->rfd = a[0];
  sv->wfd = b[1], cl->rfd = b[0];
  return 0;
}

static int
fifo_setup(chan *cl, chan *sv)
{
  char p1[96], p2[96];
  snprintf(fifo_dir, sizeof fifo_dir, "/tmp/plumb-bench-XXXXXX");
  if (mkdtemp(fifo_dir) == NULL)
    return -1;
  snprintf(p1, sizeof p1, "%s/req", fifo_dir);
  snprintf(p2, sizeof p2, "%s/rep", fifo_dir);
  if (mkfifo(p1, 0600) < 0 || mkfifo(p2, 0600) < 0)
    return -1;
  /* O_RDWR opens never block on Linux; each side then only uses one end. */
  cl->wfd = open(p1, O_RDWR);
  sv->rfd = open(p1, O_RDWR);
  sv->wfd = open(p2, O_RDWR);
  cl->rfd = open(p2, O_RDWR);
  return (cl->wfd < 0 || sv->rfd < 0 || sv->wfd < 0 || cl->rfd < 0) ? -1 : 0;
}

static void
fifo_cleanup(void)
{
  char p[96];
  if (fifo_dir[0] == '\0')
    return;
  snprintf(p, sizeof p, "%s/req", fifo_dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/rep", fifo_dir);
  unlink(p);
  rmdir(fifo_dir);
}

static int
unix_setup(chan *cl, chan *sv)
{
  int sv2[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) < 0)
    return -1;
  cl->rfd = cl->wfd = sv2[0];
  sv->rfd = sv->wfd = sv2[1];
  return 0;
}

static int
tcp_setup(chan *cl, chan *sv)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof a;
  int one = 1, l, c, s;

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
      bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) < 0)
    return -1;
  if ((c = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
      connect(c, (struct sockaddr *)&a, sizeof a) < 0 ||
      (s = accept(l, NULL, NULL)) < 0)
    return -1;
  close(l);
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  cl->rfd = cl->wfd = c;
  sv->rfd = sv->wfd = s;
  return 0;
}

/* ---- POSIX mq ------------------------------------------------------- */

static int
mq_setup(chan *cl, chan *sv)
{
  struct mq_attr at = { .mq_maxmsg = mq_depth, .mq_msgsize = CHUNK };
  snprintf(mq_req, sizeof mq_req, "/plumb-bench-req-%d", (int)getpid());
  snprintf(mq_rep, sizeof mq_rep, "/plumb-bench-rep-%d", (int)getpid());
  cl->wq = sv->rq = mq_open(mq_req, O_RDWR | O_CREAT | O_EXCL, 0600, &at);
  sv->wq = cl->rq = mq_open(mq_rep, O_RDWR | O_CREAT | O_EXCL, 0600, &at);
  return (cl->wq == (mqd_t)-1 || cl->rq == (mqd_t)-1) ? -1 : 0;
}

static int
mq_send_(chan *c, const char *buf, size_t n)
{
  do {
    size_t k = n < CHUNK ? n : CHUNK;
    if (mq_send(c->wq, buf, k, 0) < 0)
      return -1;
    buf += k;
    n -= k;
  } while (n > 0);
  return 0;
}

static int
mq_recv_(chan *c, char *buf, size_t n)
{
  static char tmp[CHUNK];
  do {
    ssize_t k = mq_receive(c->rq, tmp, sizeof tmp, NULL);
    if (k < 0)
      return -1;
    memcpy(buf, tmp, (size_t)k);
    buf += k;
    n -= (size_t)k < n ? (size_t)k : n;
  } while (n > 0);
  return 0;
}

static void
mq_cleanup(void)
{
  if (mq_req[0])
    mq_unlink(mq_req);
  if (mq_rep[0])
    mq_unlink(mq_rep);
}

/* ---- SysV mq: one queue, replies addressed by mtype ------------------ */

struct sysv_msg {
  long mtype;
  char data[CHUNK];
};

static int
sysv_setup(chan *cl, chan *sv)
{
  sysv_id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (sysv_id < 0)
    return -1;
  cl->msqid = sv->msqid = sysv_id;
  cl->wtype = sv->rtype = 1;
  sv->wtype = cl->rtype = 2;
  return 0;
}

static int
sysv_send(chan *c, const char *buf, size_t n)
{
  static struct sysv_msg m;
  m.mtype = c->wtype;
  do {
    size_t k = n < CHUNK ? n : CHUNK;
    memcpy(m.data, buf, k);
    if (msgsnd(c->msqid, &m, k, 0) < 0)
      return -1;
    buf += k;
    n -= k;
  } while (n > 0);
  return 0;
}

static int
sysv_recv(chan *c, char *buf, size_t n)
{
  static struct sysv_msg m;
  do {
    ssize_t k = msgrcv(c->msqid, &m, CHUNK, c->rtype, 0);
    if (k < 0)
      return -1;
    memcpy(buf, m.data, (size_t)k);
    buf += k;
    n -= (size_t)k < n ? (size_t)k : n;
  } while (n > 0);
  return 0;
}

static void
sysv_cleanup(void)
{
  if (sysv_id >= 0)
    msgctl(sysv_id, IPC_RMID, NULL);
}

/* ---- -x: plumb's system-call pattern on stream descriptors ----------- */

#define MIMIC_RCAP 16384

static int mimic_sigmask; /* pipe, fifo: SIGPIPE blocked around writes */
static int mimic_poll;    /* client polls before reading */

static int
mimic_send(chan *c, const char *buf, size_t n)
{
  sigset_t set, old;
  int r;
  if (mimic_sigmask) {
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, &old);
  }
  r = fd_send(c, buf, n);
  if (mimic_sigmask)
    sigprocmask(SIG_SETMASK, &old, NULL);
  return r;
}

static int
mimic_client_recv(chan *c, char *buf, size_t n)
{
  struct pollfd p = { .fd = c->rfd, .events = POLLIN };
  if (mimic_poll && poll(&p, 1, 10000) <= 0)
    return -1;
  return fd_recv(c, buf, n);
}

/* The server: epoll_wait, read until EAGAIN answering each whole request,
 * epoll_ctl(MOD) - as runtime/core/server.c srv_serve_conn does. */
static void
mimic_server(chan *sv, size_t size, size_t reply, long max_rounds)
{
  static char rbuf[MIMIC_RCAP], wbuf[MIMIC_RCAP];
  struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
  int ep = epoll_create1(0);
  size_t have = 0;

  ev.data.fd = sv->rfd;
  fcntl(sv->rfd, F_SETFL, fcntl(sv->rfd, F_GETFL) | O_NONBLOCK);
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sv->rfd, &ev) < 0)
    _exit(1);
  for (long round = 0; round < max_rounds; round++) {
    if (epoll_wait(ep, &ev, 1, -1) < 0) {
      if (errno == EINTR)
        continue;
      _exit(1);
    }
    ssize_t k;
    while ((k = read(sv->rfd, rbuf, sizeof rbuf)) > 0) {
      for (have += (size_t)k; have >= size; have -= size)
        if (mimic_send(sv, wbuf, reply) < 0)
          _exit(0);
    }
    if (k == 0 || (errno != EAGAIN && errno != EINTR))
      _exit(0);
    ev.events = EPOLLIN | EPOLLONESHOT;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, sv->rfd, &ev) < 0)
      _exit(1);
  }
  _exit(0);
}

static const mech mechs[] = {
  { "pipe", pipe_setup, fd_send, fd_recv, NULL },
  { "fifo", fifo_setup, fd_send, fd_recv, fifo_cleanup },
  { "mq", mq_setup, mq_send_, mq_recv_, mq_cleanup },
  { "sysvmq", sysv_setup, sysv_send, sysv_recv, sysv_cleanup },
  { "unix", unix_setup, fd_send, fd_recv, NULL },
  { "tcp", tcp_setup, fd_send, fd_recv, NULL },
};

/* CPU time of process pid (0 = self) in µs; -1 if unreadable. */
static int64_t
cpu_us(pid_t pid)
{
  if (pid == 0) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
      return -1;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  }
  char path[64], b[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread(b, 1, sizeof b - 1, f);
  fclose(f);
  b[n] = '\0';
  char *p = strrchr(b, ')');
  unsigned long long ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                 "%*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (int64_t)((ut + st) * 1000000ULL /
                   (unsigned long long)sysconf(_SC_CLK_TCK));
}

static void
pin(int cpu)
{
  cpu_set_t set;
  if (cpu < 0)
    return;
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

int
main(int argc, char **argv)
{
  const mech *m = NULL;
  long count = 20000;
  double seconds = 5;
  size_t size = 16, reply = 8;
  int echo = 0, ccpu = -1, scpu = -1, opt, mimic = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MECH [-n COUNT] [-t SEC] [-s SIZE] [-e] "
                    "[-c same|cross] [-x | -X MASK] [-q DEPTH]\n", argv[0]);
    return 2;
  }
  for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
    if (strcmp(argv[1], mechs[i].name) == 0)
      m = &mechs[i];
  if (m == NULL) {
    fprintf(stderr, "unknown mechanism %s\n", argv[1]);
    return 2;
  }
  optind = 2;
  while ((opt = getopt(argc, argv, "n:t:s:ec:xX:q:")) != -1) {
    switch (opt) {
    case 'x': mimic = 7; break;
    case 'X': mimic = atoi(optarg) & 31; break;
    case 'n': count = atol(optarg); break;
    case 't': seconds = atof(optarg); break;
    case 's': size = (size_t)atol(optarg); break;
    case 'e': echo = 1; break;
    case 'q':
      if ((mq_depth = atol(optarg)) < 1)
        return 2;
      break;
    case 'c':
      ccpu = 0;
      scpu = strcmp(optarg, "same") == 0 ? 0 : 1;
      break;
    default: return 2;
    }
  }
  if (echo)
    reply = size;
  if (count < 1 || size < 1)
    return 2;
  if (mimic) {
    if (m->send != fd_send || size > MIMIC_RCAP || reply > MIMIC_RCAP) {
      fprintf(stderr, "-x: stream mechanisms and sizes up to %d only\n",
              MIMIC_RCAP);
      return 2;
    }
    mimic_sigmask = (mimic & 4) && (strcmp(m->name, "pipe") == 0 ||
                                    strcmp(m->name, "fifo") == 0);
    mimic_poll = mimic & 1;
  }
  int (*c_send)(chan *, const char *, size_t) = mimic ? mimic_send : m->send;
  int (*s_send)(chan *, const char *, size_t) = mimic ? mimic_send : m->send;
  int (*c_recv)(chan *, char *, size_t) = mimic ? mimic_client_recv : m->recv;

  chan cl = { -1, -1, (mqd_t)-1, (mqd_t)-1, -1, 0, 0 }, sv = cl;
  if (m->setup(&cl, &sv) < 0) {
    perror("setup");
    if (m->cleanup)
      m->cleanup();
    return 1;
  }
  if (mimic & 24) {
    struct timeval tv = { 0, 100000 };
    struct stat st;
    if (fstat(cl.rfd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      fprintf(stderr, "-X 8/16: socket mechanisms only\n");
      return 2;
    }
    if (((mimic & 8) &&
         setsockopt(cl.rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) ||
        ((mimic & 16) &&
         setsockopt(sv.rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0))
      die("setsockopt SO_RCVTIMEO");
  }
  char *buf = calloc(1, size > reply ? size : reply);
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)count);
  if (buf == NULL || lat == NULL)
    die("malloc");

  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    /* Bounded: never more round trips than the client makes, and never
     * longer than the run (the parent SIGKILLs it; alarm if it died). */
    long max_rounds = count + 1000 + 16;
    alarm((unsigned)seconds + 60);
    pin(scpu);
    if (mimic & 2)
      mimic_server(&sv, size, reply, max_rounds);
    for (long i = 0; i < max_rounds; i++) {
      if (m->recv(&sv, buf, size) < 0 || s_send(&sv, buf, reply) < 0)
        _exit(0);
    }
    _exit(0);
  }
  pin(ccpu);
  /* Warm-up: at most 1000 round trips (a tenth of COUNT) or a fifth of
   * SECONDS, then up to COUNT timed round trips within SECONDS. */
  long done = 0, warm = count / 10 < 1000 ? count / 10 : 1000;
  int64_t t_warm = now_ns() + (int64_t)(seconds * 0.2e9);
  for (long i = 0; i < warm; i++) {
    if (c_send(&cl, buf, size) < 0 || c_recv(&cl, buf, reply) < 0)
      die("round trip");
    if (now_ns() > t_warm)
      break;
  }
  int64_t cc0 = cpu_us(0), sc0 = cpu_us(pid);
  int64_t t0 = now_ns(), t_end = t0 + (int64_t)(seconds * 1e9);
  for (long i = 0; i < count; i++) {
    int64_t a = now_ns();
    if (c_send(&cl, buf, size) < 0 || c_recv(&cl, buf, reply) < 0)
      die("round trip");
    int64_t b = now_ns();
    lat[done++] = b - a;
    if (b > t_end)
      break;
  }
  int64_t total = now_ns() - t0;
  int64_t cc1 = cpu_us(0), sc1 = cpu_us(pid);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  if (m->cleanup)
    m->cleanup();
  if (done == 0) {
    fprintf(stderr, "no samples\n");
    return 1;
  }
  qsort(lat, (size_t)done, sizeof lat[0], cmp_i64);
  double med = lat[done / 2] / 1e3, p99 = lat[(done * 99) / 100] / 1e3;
  double mbs = (double)(size + reply) * done / (total / 1e9) / 1e6;
  char tag[8] = "";
  if (mimic)
    snprintf(tag, sizeof tag, mimic == 7 ? "-x" : "-X%d", mimic);
  printf("%s%s size=%zu reply=%zu placement=%s n=%ld median_us=%.2f "
         "p99_us=%.2f MBps=%.1f client_cpu_us=%.2f server_cpu_us=%.2f\n",
         m->name, tag, size, reply,
         ccpu < 0 ? "any" : (scpu == ccpu ? "same" : "cross"), done, med, p99,
         mbs, (double)(cc1 - cc0) / (double)done,
         sc0 >= 0 && sc1 >= 0 ? (double)(sc1 - sc0) / (double)done : -1.0);
  free(buf);
  free(lat);
  return 0;
}
