/* shm_test.c - the shm transport against real separate processes: echo of
 * small, ring-sized and huge frames, many concurrent clients, deadlines,
 * killed servers and clients, garbage written into a ring, PLUMB_NOWAIT.
 *
 * The server is a forked child running a small epoll loop over the
 * transport table (what the core's loop does), so the test does not depend
 * on the core.  Every loop is bounded in count and time; every test ends by
 * checking that no /dev/shm entry of this test process is left.  (Entries
 * are named after this process's pid, so suites running in parallel - or
 * other transports' tests - cannot disturb the check.)
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ptest.h"
#include "shm_ring.h"
#include "transport.h"

#define MIB (1024u * 1024u)
#define BIG_FRAME (64u * MIB)
#define RING_SMALL 65536u

enum { SRV_ECHO, SRV_SILENT, SRV_DEAF }; /* DEAF: accepts, never reads */

static const plumb_transport *T;
static char prefix[32]; /* "pt<pid>": every endpoint of this process */

/* ---- helpers ---------------------------------------------------------- */

static void
mkep(char *ep, size_t n, const char *tag, const char *query)
{
  snprintf(ep, n, "shm:/%s-%s%s", prefix, tag, query ? query : "");
}

static int64_t
ms_since(int64_t t0)
{
  return (plumb__now_ns() - t0) / 1000000;
}

static void
sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Number of /dev/shm entries that belong to this test process. */
static int
leftovers(void)
{
  DIR *d = opendir("/dev/shm");
  struct dirent *e;
  int n = 0;

  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, "plumb") && strstr(e->d_name, prefix)) {
      fprintf(stderr, "leftover: /dev/shm/%s\n", e->d_name);
      n++;
    }
  closedir(d);
  return n;
}

static void
fill(uint8_t *p, size_t n, uint32_t seed)
{
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (uint8_t)(x >> 16);
  }
}

static plumb_tran_opts
opts_max(uint32_t max_frame)
{
  plumb_tran_opts o = { .max_frame = max_frame, .mode = 0600 };
  return o;
}

/* ---- the server child --------------------------------------------------- */

static volatile sig_atomic_t srv_stop;

static void
srv_on_term(int sig)
{
  (void)sig;
  srv_stop = 1;
}

typedef struct srv_slot {
  plumb_conn *c;
  plumb_buf buf;
} srv_slot;

#define SRV_SLOTS 64

static void
srv_drop(int ep, srv_slot *s)
{
  epoll_ctl(ep, EPOLL_CTL_DEL, T->conn_fd(s->c), NULL); /* may fail: DEAF */
  T->close(s->c);
  plumb__buf_free(&s->buf);
  s->c = NULL;
}

/* Exit code: EPROTO drops in bits 0-2, ETOOBIG drops in bits 3-4, 0x40 for
 * any other failure.  ECLOSED (a client leaving or dying) is normal. */
static int
srv_main(const char *epname, int mode, uint32_t max_frame, int ready_fd)
{
  plumb_tran_opts o = opts_max(max_frame);
  struct sigaction sa;
  struct epoll_event ev, evs[16];
  srv_slot slots[SRV_SLOTS];
  plumb_listener *l;
  const char *rest;
  int ep, eproto = 0, toobig = 0, other = 0;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = srv_on_term;
  sigaction(SIGTERM, &sa, NULL);
  alarm(120); /* never outlive a wedged test */
  memset(slots, 0, sizeof(slots));
  if (plumb__transport_find(epname, &rest) != T ||
      T->listen(rest, &o, &l) != PLUMB_OK) {
    (void)!write(ready_fd, "E", 1);
    return 0x7f;
  }
  ep = epoll_create1(0);
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, T->listener_fd(l), &ev);
  (void)!write(ready_fd, "R", 1);
  close(ready_fd);

  while (!srv_stop) {
    int n = epoll_wait(ep, evs, 16, 1000);
    for (int i = 0; i < n; i++) {
      srv_slot *s = evs[i].data.ptr;
      if (s == NULL) {
        plumb_conn *c;
        while (T->accept(l, &c) == PLUMB_OK) {
          int k = 0;
          while (k < SRV_SLOTS && slots[k].c != NULL)
            k++;
          if (k == SRV_SLOTS) {
            T->close(c);
            other = 1;
            continue;
          }
          slots[k].c = c;
          if (mode == SRV_DEAF)
            continue;
          ev.events = EPOLLIN;
          ev.data.ptr = &slots[k];
          if (epoll_ctl(ep, EPOLL_CTL_ADD, T->conn_fd(c), &ev) != 0)
            other = 1;
        }
        continue;
      }
      for (int round = 0; s->c != NULL && round < 64; round++) {
        int rc = T->recv(s->c, &s->buf, PLUMB_NOWAIT);
        if (rc == PLUMB_EAGAIN)
          break;
        if (rc == PLUMB_OK) {
          struct iovec iov = { s->buf.data, s->buf.len };
          if (mode == SRV_SILENT)
            continue;
          rc = T->send(s->c, &iov, 1, plumb__deadline_ms(20000));
          if (rc == PLUMB_OK)
            continue;
        }
        if (rc == PLUMB_EPROTO)
          eproto++;
        else if (rc == PLUMB_ETOOBIG)
          toobig++;
        else if (rc != PLUMB_ECLOSED) {
          fprintf(stderr, "server: %s\n", plumb_strerror(rc));
          other = 1;
        }
        srv_drop(ep, s);
      }
    }
  }
  for (int k = 0; k < SRV_SLOTS; k++)
    if (slots[k].c != NULL)
      srv_drop(ep, &slots[k]);
  T->listener_close(l);
  close(ep);
  return (eproto > 7 ? 7 : eproto) | ((toobig > 3 ? 3 : toobig) << 3) |
         (other ? 0x40 : 0);
}

/* Forks a server on ep; returns its pid once it listens, or -1. */
static pid_t
srv_start(const char *epname, int mode, uint32_t max_frame)
{
  int p[2];
  char ch = 0;
  pid_t pid;
  struct pollfd pfd;

  if (pipe(p) != 0)
    return -1;
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    close(p[0]);
    exit(srv_main(epname, mode, max_frame, p[1]));
  }
  close(p[1]);
  pfd.fd = p[0];
  pfd.events = POLLIN;
  if (pid < 0 || poll(&pfd, 1, 10000) != 1 || read(p[0], &ch, 1) != 1 ||
      ch != 'R') {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
    close(p[0]);
    return -1;
  }
  close(p[0]);
  return pid;
}

/* Waits (bounded) for a child; its exit code, 0x100 + signal, or -1. */
static int
child_wait(pid_t pid, int timeout_ms)
{
  int st;
  int64_t t0 = plumb__now_ns();

  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      break;
    if (r < 0)
      return -1;
    if (ms_since(t0) > timeout_ms) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    sleep_ms(2);
  }
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  return WIFSIGNALED(st) ? 0x100 + WTERMSIG(st) : -1;
}

static int
srv_stop_wait(pid_t pid)
{
  kill(pid, SIGTERM);
  return child_wait(pid, 20000);
}

static int
dial(const char *epname, uint32_t max_frame, plumb_conn **c)
{
  plumb_tran_opts o = opts_max(max_frame);
  const char *rest;

  if (plumb__transport_find(epname, &rest) != T)
    return PLUMB_ENOTRANSPORT;
  return T->dial(rest, &o, plumb__deadline_ms(5000), c);
}

/* Sends n pattern bytes and checks the echo; a plumb status. */
static int
echo_once(plumb_conn *c, uint8_t *out, plumb_buf *in, size_t n, uint32_t seed)
{
  struct iovec iov = { out, n };
  int rc;

  fill(out, n, seed);
  if ((rc = T->send(c, &iov, 1, plumb__deadline_ms(20000))) != PLUMB_OK)
    return rc;
  if ((rc = T->recv(c, in, plumb__deadline_ms(20000))) != PLUMB_OK)
    return rc;
  if (in->len != n || (n && memcmp(in->data, out, n) != 0))
    return PLUMB_EPROTO;
  return PLUMB_OK;
}

/* ---- basic ------------------------------------------------------------ */

typedef struct dial_job {
  const char *rest;
  plumb_conn *c;
  int rc;
} dial_job;

static void *
dial_thread(void *arg)
{
  dial_job *j = arg;
  plumb_tran_opts o = opts_max(PLUMB_DEFAULT_MAX_FRAME);
  j->rc = T->dial(j->rest, &o, plumb__deadline_ms(5000), &j->c);
  return NULL;
}

static void
test_addresses(void)
{
  static const char *bad[] = {
    "", "/", "/a/b", "/.hidden", "/a b", "/x?ring=1000", "/x?ring=1024",
    "/x?ring=", "/x?size=4096", "/x?ring=536870912", "/x?ring=4096&",
    "/x?spin=", "/x?spin=1&bogus=2", "/x?poll=100001", "/x?ring=4096?spin=1",
    "/0123456789012345678901234567890123456789012345678901234567890123456789",
  };
  plumb_tran_opts o = opts_max(PLUMB_DEFAULT_MAX_FRAME);
  plumb_listener *l = (plumb_listener *)&o;
  plumb_conn *c = (plumb_conn *)&o;
  const char *rest;
  char ep[128];

  CU_ASSERT_PTR_EQUAL(plumb__transport_find("shm:/x", &rest), T);
  CU_ASSERT_STRING_EQUAL(rest, "/x");
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CU_ASSERT_EQUAL(T->listen(bad[i], &o, &l), PLUMB_EADDR);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_EQUAL(T->dial(bad[i], &o, plumb__deadline_ms(100), &c),
                    PLUMB_EADDR);
    CU_ASSERT_PTR_NULL(c);
  }
  mkep(ep, sizeof(ep), "nobody", NULL);
  CU_ASSERT_EQUAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_ECONNREFUSED);
  /* Options in any order; the listener and a client both take them. */
  mkep(ep, sizeof(ep), "opts", "?spin=0&poll=5");
  o.shm_ring_size = 8192; /* the endpoint says nothing: the options decide */
  plumb__transport_find(ep, &rest);
  CU_ASSERT_EQUAL_FATAL(T->listen(rest, &o, &l), PLUMB_OK);
  {
    plumb_conn *sc = NULL;
    dial_job job = { rest, NULL, -1 };
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, dial_thread, &job), 0);
    for (int i = 0; i < 2000 && T->accept(l, &sc) == PLUMB_EAGAIN; i++)
      sleep_ms(1);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(job.rc, PLUMB_OK);
    c = job.c;
    CU_ASSERT_PTR_NOT_NULL(sc);
    if (sc != NULL) {
      size_t len;
      CU_ASSERT_EQUAL(plumb__shm_test_channel(sc, &len)->ring_size, 8192);
      CU_ASSERT_EQUAL(len, PLUMB_SHM_HDR_SIZE + 2 * 8192);
      T->close(sc);
    }
  }
  if (c != NULL)
    T->close(c);
  T->listener_close(l);
  CU_ASSERT_EQUAL(leftovers(), 0);
  (void)o;
}

static void
test_listen_busy(void)
{
  plumb_tran_opts o = opts_max(PLUMB_DEFAULT_MAX_FRAME);
  plumb_listener *a = NULL, *b = NULL;
  const char *rest;
  char ep[128], path[160];
  struct stat st;
  mode_t old;

  mkep(ep, sizeof(ep), "busy", NULL);
  plumb__transport_find(ep, &rest);
  CU_ASSERT_EQUAL_FATAL(T->listen(rest, &o, &a), PLUMB_OK);
  CU_ASSERT_EQUAL(leftovers(), 1); /* the control segment */
  snprintf(path, sizeof(path), "/dev/shm/plumb-%s-busy", prefix);
  CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  CU_ASSERT_EQUAL(T->listen(rest, &o, &b), PLUMB_EBUSY);
  CU_ASSERT_PTR_NULL(b);
  T->listener_close(a);
  CU_ASSERT_EQUAL(leftovers(), 0);
  /* Group from the options (our own gid: always allowed). */
  o.has_group = 1;
  o.group = getgid();
  o.mode = 0660;
  CU_ASSERT_EQUAL_FATAL(T->listen(rest, &o, &a), PLUMB_OK);
  CU_ASSERT(stat(path, &st) == 0 && st.st_gid == getgid() &&
            (st.st_mode & 0777) == 0660);
  T->listener_close(a);
  o.has_group = 0;
  /* Ring size from the options; an invalid one is refused. */
  o.shm_ring_size = 1000;
  CU_ASSERT_EQUAL(T->listen(rest, &o, &a), PLUMB_EINVAL);
  o.shm_ring_size = 0;
  CU_ASSERT_EQUAL(leftovers(), 0);
  /* The mode comes from the options, whatever the umask. */
  o.mode = 0640;
  old = umask(077);
  CU_ASSERT_EQUAL_FATAL(T->listen(rest, &o, &a), PLUMB_OK);
  umask(old);
  CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
  T->listener_close(a);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

static void
test_peer_and_nowait(void)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  plumb_peer peer;
  uint8_t out[256];
  char ep[128];
  int rc = PLUMB_EAGAIN, fd;
  pid_t srv;

  mkep(ep, sizeof(ep), "nowait", "?ring=4096");
  srv = srv_start(ep, SRV_ECHO, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  CU_ASSERT_EQUAL(T->peer(c, &peer), PLUMB_OK);
  CU_ASSERT_EQUAL(peer.pid, srv);
  CU_ASSERT_EQUAL(peer.uid, getuid());

  /* Direct mode: nothing to read yet, then poll with NOWAIT (bounded). */
  CU_ASSERT_EQUAL(T->recv(c, &in, PLUMB_NOWAIT), PLUMB_EAGAIN);
  {
    struct iovec iov = { out, sizeof(out) };
    uint8_t *big = calloc(1, 8192);
    struct iovec biov = { big, 8192 };
    fill(out, sizeof(out), 7);
    CU_ASSERT_EQUAL(T->send(c, &iov, 1, PLUMB_NOWAIT), PLUMB_OK);
    /* A frame larger than the ring can never go out without waiting. */
    CU_ASSERT_EQUAL(T->send(c, &biov, 1, PLUMB_NOWAIT), PLUMB_EAGAIN);
    free(big);
  }
  for (int i = 0; i < 20000 && rc == PLUMB_EAGAIN; i++) {
    rc = T->recv(c, &in, PLUMB_NOWAIT);
    if (rc == PLUMB_EAGAIN)
      sched_yield();
  }
  CU_ASSERT_EQUAL(rc, PLUMB_OK);
  CU_ASSERT(in.len == sizeof(out) && memcmp(in.data, out, sizeof(out)) == 0);

  /* Waited mode: the fd polls readable when the echo is back. */
  fd = T->conn_fd(c);
  CU_ASSERT(fd >= 0);
  CU_ASSERT_EQUAL(T->conn_fd(c), fd);
  CU_ASSERT_EQUAL(T->recv(c, &in, PLUMB_NOWAIT), PLUMB_EAGAIN);
  for (int k = 0; k < 50; k++) {
    struct pollfd p = { fd, POLLIN, 0 };
    rc = echo_once(c, out, &in, 1 + (size_t)k * 5, 100u + (unsigned)k);
    CU_ASSERT_EQUAL(rc, PLUMB_OK); /* blocking recv in waited mode */
    rc = PLUMB_EAGAIN;
    {
      struct iovec iov = { out, 100 };
      fill(out, 100, 9);
      CU_ASSERT_EQUAL(T->send(c, &iov, 1, PLUMB_NOWAIT), PLUMB_OK);
    }
    for (int i = 0; i < 100 && rc == PLUMB_EAGAIN; i++) {
      CU_ASSERT(poll(&p, 1, 2000) == 1);
      rc = T->recv(c, &in, PLUMB_NOWAIT);
    }
    if (rc != PLUMB_OK)
      fprintf(stderr, "waited recv %d: %s\n", k, plumb_strerror(rc));
    CU_ASSERT_EQUAL(rc, PLUMB_OK);
    CU_ASSERT(in.len == 100 && memcmp(in.data, out, 100) == 0);
  }
  T->close(c);
  plumb__buf_free(&in);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* In-process dial for the server-side tests. */
typedef struct dial_arg {
  const char *rest;
  plumb_conn *c;
  int rc;
} dial_arg;

static void *
dial_main(void *p)
{
  dial_arg *a = p;
  plumb_tran_opts o = opts_max(PLUMB_DEFAULT_MAX_FRAME);
  a->rc = T->dial(a->rest, &o, plumb__deadline_ms(5000), &a->c);
  return NULL;
}

/* Server side: a frame that cannot go into the ring is taken and streamed
 * by the writer thread; write_wait() gives its eventfd, readable once the
 * client has read the frame (no retry timer). */
static void
test_server_writer(void)
{
  plumb_tran_opts o = opts_max(PLUMB_DEFAULT_MAX_FRAME);
  plumb_listener *l = NULL;
  plumb_conn *s = NULL;
  plumb_buf in = { 0 };
  dial_arg a = { NULL, NULL, -1 };
  pthread_t th;
  const char *rest;
  char ep[128];
  size_t n = 5 * 4096 + 123; /* five rings and a bit */
  uint8_t *big = malloc(n);

  CU_ASSERT_FATAL(big != NULL);
  fill(big, n, 31);
  mkep(ep, sizeof(ep), "writer", NULL);
  plumb__transport_find(ep, &rest);
  o.shm_ring_size = 4096;
  CU_ASSERT_EQUAL_FATAL(T->listen(rest, &o, &l), PLUMB_OK);
  a.rest = rest;
  CU_ASSERT_FATAL(pthread_create(&th, NULL, dial_main, &a) == 0);
  struct pollfd lp = { .fd = T->listener_fd(l), .events = POLLIN };
  int rc = PLUMB_EAGAIN;
  for (int i = 0; i < 100 && rc == PLUMB_EAGAIN; i++)
    if (poll(&lp, 1, 50) >= 0)
      rc = T->accept(l, &s);
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL_FATAL(rc, PLUMB_OK);
  CU_ASSERT_EQUAL_FATAL(a.rc, PLUMB_OK);
  struct iovec v = { big, n };
  int64_t t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(T->try_send(s, &v, 1), PLUMB_OK); /* taken */
  CU_ASSERT_EQUAL(T->try_send(s, &v, 1), PLUMB_EAGAIN); /* one at a time */
  CU_ASSERT_EQUAL(T->flush(s), PLUMB_EAGAIN);
  CU_ASSERT(ms_since(t0) < 50); /* never waited */
  int fd = -1;
  uint32_t ev = 0;
  CU_ASSERT_EQUAL(T->write_wait(s, &fd, &ev), PLUMB_OK);
  CU_ASSERT(fd >= 0 && ev == EPOLLIN);
  struct pollfd wp = { .fd = fd, .events = POLLIN };
  CU_ASSERT_EQUAL(poll(&wp, 1, 0), 0); /* nobody read yet */
  CU_ASSERT_EQUAL(T->recv(a.c, &in, plumb__deadline_ms(5000)), PLUMB_OK);
  CU_ASSERT(in.len == n && memcmp(in.data, big, n) == 0);
  CU_ASSERT_EQUAL(poll(&wp, 1, 2000), 1); /* the writer is done */
  CU_ASSERT_EQUAL(T->flush(s), PLUMB_OK);
  CU_ASSERT_EQUAL(poll(&wp, 1, 0), 0); /* flush() consumed the signal */
  /* the connection goes on, both ways */
  fill(big, n, 32);
  CU_ASSERT_EQUAL(T->try_send(s, &v, 1), PLUMB_OK);
  CU_ASSERT_EQUAL(T->recv(a.c, &in, plumb__deadline_ms(5000)), PLUMB_OK);
  CU_ASSERT(in.len == n && memcmp(in.data, big, n) == 0);
  for (int i = 0; i < 100 && T->flush(s) == PLUMB_EAGAIN; i++)
    poll(&wp, 1, 20);
  CU_ASSERT_EQUAL(T->flush(s), PLUMB_OK);
  struct iovec small = { big, 1000 }; /* fits: no reader needed yet */
  CU_ASSERT_EQUAL(T->send(a.c, &small, 1, plumb__deadline_ms(5000)),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(T->recv(s, &in, plumb__deadline_ms(5000)), PLUMB_OK);
  CU_ASSERT(in.len == 1000 && memcmp(in.data, big, 1000) == 0);
  /* a writer parked on a full ring is woken and joined by close() */
  CU_ASSERT_EQUAL(T->try_send(s, &v, 1), PLUMB_OK);
  CU_ASSERT_EQUAL(T->flush(s), PLUMB_EAGAIN);
  t0 = plumb__now_ns();
  T->close(s);
  CU_ASSERT(ms_since(t0) < 1000);
  T->close(a.c);
  T->listener_close(l);
  plumb__buf_free(&in);
  free(big);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

static void
test_deadline(void)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  uint8_t out[16] = { 1 };
  struct iovec iov = { out, sizeof(out) };
  char ep[128];
  int64_t t0;
  pid_t srv;

  mkep(ep, sizeof(ep), "silent", NULL);
  srv = srv_start(ep, SRV_SILENT, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, plumb__deadline_ms(1000)), PLUMB_OK);
  t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(T->recv(c, &in, plumb__deadline_ms(200)), PLUMB_ETIMEDOUT);
  CU_ASSERT(ms_since(t0) >= 190 && ms_since(t0) < 3000);
  CU_ASSERT_EQUAL(T->recv(c, &in, PLUMB_NOWAIT), PLUMB_EAGAIN);
  /* The connection stays usable after a receive timeout. */
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, plumb__deadline_ms(1000)), PLUMB_OK);
  T->close(c);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* A send that cannot finish before its deadline: ETIMEDOUT, and the
 * half-sent connection is unusable afterwards. */
static void
test_send_deadline(void)
{
  uint8_t out[3000];
  struct iovec iov = { out, sizeof(out) };
  plumb_conn *c;
  char ep[128];
  int64_t t0;
  pid_t srv;

  memset(out, 7, sizeof(out));
  mkep(ep, sizeof(ep), "deaf", "?ring=4096");
  srv = srv_start(ep, SRV_DEAF, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, PLUMB_NOWAIT), PLUMB_OK);
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, PLUMB_NOWAIT), PLUMB_EAGAIN);
  t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, plumb__deadline_ms(200)),
                  PLUMB_ETIMEDOUT);
  CU_ASSERT(ms_since(t0) >= 190 && ms_since(t0) < 3000);
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, plumb__deadline_ms(200)),
                  PLUMB_ECLOSED);
  T->close(c);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

static void *
shutdown_later(void *arg)
{
  sleep_ms(100);
  T->shutdown(arg);
  return NULL;
}

static void
test_shutdown(void)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  pthread_t th;
  char ep[128];
  int64_t t0;
  pid_t srv;

  mkep(ep, sizeof(ep), "shut", NULL);
  srv = srv_start(ep, SRV_SILENT, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  t0 = plumb__now_ns();
  CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, shutdown_later, c), 0);
  CU_ASSERT_EQUAL(T->recv(c, &in, plumb__deadline_ms(10000)), PLUMB_ECLOSED);
  CU_ASSERT(ms_since(t0) < 2000);
  pthread_join(th, NULL);
  CU_ASSERT_EQUAL(T->recv(c, &in, PLUMB_NOWAIT), PLUMB_ECLOSED);
  T->shutdown(c); /* idempotent */
  T->close(c);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* ---- echo --------------------------------------------------------------- */

static void
test_echo_sizes(void)
{
  static const size_t sizes[] = { 0, 1, RING_SMALL - 8, RING_SMALL,
                                  RING_SMALL + 1, MIB, BIG_FRAME };
  uint32_t maxf = BIG_FRAME + 4096;
  plumb_buf in = { 0 };
  plumb_conn *c;
  uint8_t *out = malloc(BIG_FRAME);
  char ep[128];
  pid_t srv;

  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  mkep(ep, sizeof(ep), "echo", "?ring=65536");
  srv = srv_start(ep, SRV_ECHO, maxf);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, maxf, &c), PLUMB_OK);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    int rc = echo_once(c, out, &in, sizes[i], (uint32_t)i);
    if (rc != PLUMB_OK)
      fprintf(stderr, "echo %zu: %s\n", sizes[i], plumb_strerror(rc));
    CU_ASSERT_EQUAL(rc, PLUMB_OK);
  }
  /* Over the limit: refused before anything is sent. */
  {
    struct iovec iov[2] = { { out, BIG_FRAME }, { out, 8192 } };
    CU_ASSERT_EQUAL(T->send(c, iov, 2, plumb__deadline_ms(1000)),
                    PLUMB_ETOOBIG);
    CU_ASSERT_EQUAL(echo_once(c, out, &in, 100, 99), PLUMB_OK);
  }
  /* Waited mode, and several iovecs. */
  CU_ASSERT(T->conn_fd(c) >= 0);
  for (int k = 0; k < 3; k++) {
    struct iovec iov[3] = { { out, 3 }, { out + 3, 0 }, { out + 3, MIB } };
    fill(out, MIB + 3, 55);
    CU_ASSERT_EQUAL(T->send(c, iov, 3, plumb__deadline_ms(10000)), PLUMB_OK);
    CU_ASSERT_EQUAL(T->recv(c, &in, plumb__deadline_ms(10000)), PLUMB_OK);
    CU_ASSERT(in.len == MIB + 3 && memcmp(in.data, out, MIB + 3) == 0);
  }
  T->close(c);
  plumb__buf_free(&in);
  free(out);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* ---- concurrency -------------------------------------------------------- */

#define N_CLIENTS 16
#define N_FRAMES 500

static int
client_main(const char *ep, int id)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  uint8_t out[4096 + 8];
  int rc;

  alarm(60);
  if (dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c) != PLUMB_OK)
    return 2;
  for (int i = 0; i < N_FRAMES; i++) {
    size_t n = 8 + (size_t)((i * 37 + id * 101) % 4096);
    rc = echo_once(c, out, &in, n, (uint32_t)(id * 100000 + i));
    if (rc == PLUMB_OK && memcmp(in.data, out, 8) != 0)
      rc = PLUMB_EPROTO;
    if (rc != PLUMB_OK) {
      fprintf(stderr, "client %d frame %d: %s\n", id, i, plumb_strerror(rc));
      T->close(c);
      plumb__buf_free(&in);
      return 3;
    }
  }
  T->close(c);
  plumb__buf_free(&in);
  return 0;
}

static void
test_concurrent(void)
{
  pid_t kids[N_CLIENTS];
  char ep[128];
  pid_t srv;

  mkep(ep, sizeof(ep), "many", "?ring=16384");
  srv = srv_start(ep, SRV_ECHO, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  fflush(NULL);
  for (int i = 0; i < N_CLIENTS; i++) {
    kids[i] = fork();
    if (kids[i] == 0)
      exit(client_main(ep, i));
  }
  for (int i = 0; i < N_CLIENTS; i++)
    CU_ASSERT_EQUAL(child_wait(kids[i], 60000), 0);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* ---- waiting: yielding on one CPU, the lazy head ------------------------ */

static int
pin_cpu0(cpu_set_t *old)
{
  cpu_set_t one;

  if (sched_getaffinity(0, sizeof(*old), old) != 0)
    return -1;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  return sched_setaffinity(0, sizeof(one), &one);
}

/* Client and server pinned to one CPU: the client's wait for each reply
 * yields (the peer last ran on its CPU), so replies are caught without a
 * futex sleep - unless other tasks make yields slow, then it sleeps - and
 * every echo is still right. */
static void
test_same_cpu_yield(void)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  uint8_t out[64];
  cpu_set_t old;
  char ep[128];
  pid_t srv;
  int bad = 0;
  int64_t t0;

  CU_ASSERT_EQUAL_FATAL(pin_cpu0(&old), 0);
  mkep(ep, sizeof(ep), "yield", NULL);
  srv = srv_start(ep, SRV_ECHO, PLUMB_DEFAULT_MAX_FRAME); /* pinned too */
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  t0 = plumb__now_ns();
  for (int i = 0; i < 2000 && ms_since(t0) < 20000; i++)
    if (echo_once(c, out, &in, 16 + (size_t)(i % 48), (uint32_t)i) !=
        PLUMB_OK)
      bad++;
  const plumb__shm_spin *sp = plumb__shm_test_rx_spin(c);
  fprintf(stderr, "same CPU: %llu replies caught yielding, %llu slept, "
          "%llu yields slow (others on the CPU)\n",
          (unsigned long long)sp->spins_won, (unsigned long long)sp->sleeps,
          (unsigned long long)sp->yields_slow);
  CU_ASSERT_EQUAL(bad, 0);
  /* The yield path ran: replies caught by it, or yields found slow (a
   * loaded CPU) and the waits sent to the futex for a while. */
  CU_ASSERT(sp->spins_won > 0 || sp->yields_slow > 0);
  T->close(c);
  plumb__buf_free(&in);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  sched_setaffinity(0, sizeof(old), &old);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* Many small frames through a 4 KiB ring to a server that reads them one
 * by one and publishes its head lazily: the producer must never wait for
 * room that was consumed but not published (each send has a deadline). */
static void
test_lazy_head(void)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  uint8_t out[200];
  char ep[128];
  pid_t srv;
  int sent = 0;

  mkep(ep, sizeof(ep), "lazy", "?ring=4096");
  srv = srv_start(ep, SRV_ECHO, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  /* Bursts of 30 frames (~3 KiB of a 4 KiB ring) before reading the
   * echoes: the request ring wraps many times over. */
  for (int burst = 0; burst < 40; burst++) {
    int ok = 1;
    for (int i = 0; i < 30 && ok; i++) {
      struct iovec iov = { out, 60 + (size_t)((burst + i) % 40) };
      fill(out, sizeof(out), (uint32_t)(burst * 100 + i));
      ok = T->send(c, &iov, 1, plumb__deadline_ms(5000)) == PLUMB_OK;
      sent += ok;
    }
    for (int i = 0; i < 30 && ok; i++)
      ok = T->recv(c, &in, plumb__deadline_ms(5000)) == PLUMB_OK &&
           in.len == 60 + (size_t)((burst + i) % 40);
    if (!ok)
      break;
  }
  CU_ASSERT_EQUAL(sent, 40 * 30);
  T->close(c);
  plumb__buf_free(&in);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* The spin heuristics read words the peer may write (its CPU, the crowd):
 * nonsense there may only change how we wait, never whether frames get
 * through.  Here the client scribbles its own channel's copies. */
static void
test_hostile_hints(void)
{
  plumb_buf in = { 0 };
  plumb_conn *c;
  uint8_t out[64];
  char ep[128];
  pid_t srv;
  int bad = 0;
  int64_t t0;

  mkep(ep, sizeof(ep), "hints", NULL);
  srv = srv_start(ep, SRV_ECHO, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  plumb__shm_chan *ch = plumb__shm_test_channel(c, NULL);
  t0 = plumb__now_ns();
  for (int i = 0; i < 600 && ms_since(t0) < 20000; i++) {
    uint32_t crowd = i % 3 == 0 ? UINT32_MAX : i % 3 == 1 ? 0 : 7;
    int32_t cpu = i % 2 ? INT32_MIN : sched_getcpu();
    atomic_store(&ch->side[0].crowd, crowd);
    atomic_store(&ch->side[0].cpu, cpu);
    if (echo_once(c, out, &in, 32, (uint32_t)i) != PLUMB_OK)
      bad++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(ms_since(t0) < 20000);
  T->close(c);
  plumb__buf_free(&in);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* ---- crashes and hostile peers ------------------------------------------ */

static void
test_server_killed(void)
{
  plumb_tran_opts o = opts_max(PLUMB_DEFAULT_MAX_FRAME);
  plumb_buf in = { 0 };
  plumb_listener *l;
  plumb_conn *c;
  uint8_t out[16] = { 0 };
  struct iovec iov = { out, sizeof(out) };
  const char *rest;
  char ep[128];
  int64_t t0;
  pid_t srv, killer;

  mkep(ep, sizeof(ep), "killsrv", NULL);
  srv = srv_start(ep, SRV_SILENT, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_OK);
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, plumb__deadline_ms(1000)), PLUMB_OK);
  fflush(NULL);
  killer = fork();
  if (killer == 0) {
    sleep_ms(150);
    kill(srv, SIGKILL);
    _exit(0);
  }
  t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(T->recv(c, &in, plumb__deadline_ms(5000)), PLUMB_ECLOSED);
  CU_ASSERT(ms_since(t0) < 2000);
  CU_ASSERT_EQUAL(T->send(c, &iov, 1, plumb__deadline_ms(1000)),
                  PLUMB_ECLOSED);
  T->close(c);
  CU_ASSERT_EQUAL(child_wait(killer, 5000), 0);
  CU_ASSERT_EQUAL(child_wait(srv, 5000), 0x100 + SIGKILL);

  /* Its control segment is stale: clients are refused, listen reclaims. */
  CU_ASSERT_EQUAL(leftovers(), 1);
  CU_ASSERT_EQUAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &c), PLUMB_ECONNREFUSED);
  plumb__transport_find(ep, &rest);
  CU_ASSERT_EQUAL_FATAL(T->listen(rest, &o, &l), PLUMB_OK);
  T->listener_close(l);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

static void *
suicide_later(void *arg)
{
  sleep_ms((long)(intptr_t)arg);
  kill(getpid(), SIGKILL);
  return NULL;
}

/* A client that dies mid-frame (sending), or while the server is blocked
 * sending it a reply it never reads. */
static int
dying_client(const char *ep, int how)
{
  plumb_conn *c;
  uint8_t *out = calloc(1, BIG_FRAME);
  struct iovec iov = { out, BIG_FRAME };
  pthread_t th;

  if (out == NULL || dial(ep, BIG_FRAME, &c) != PLUMB_OK)
    return 2;
  if (how == 0) {
    pthread_create(&th, NULL, suicide_later, (void *)(intptr_t)3);
    for (int i = 0; i < 100; i++)
      T->send(c, &iov, 1, plumb__deadline_ms(10000));
  } else {
    iov.iov_len = 8 * MIB;
    T->send(c, &iov, 1, plumb__deadline_ms(10000));
    sleep_ms(100); /* the server is now stuck sending the echo */
    kill(getpid(), SIGKILL);
  }
  sleep_ms(10000);
  return 3;
}

static void
test_client_killed(void)
{
  uint8_t out[1024];
  plumb_buf in = { 0 };
  plumb_conn *c;
  char ep[128];
  pid_t srv;

  mkep(ep, sizeof(ep), "killcli", "?ring=65536");
  srv = srv_start(ep, SRV_ECHO, BIG_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, BIG_FRAME, &c), PLUMB_OK);
  for (int how = 0; how < 2; how++) {
    pid_t kid;
    fflush(NULL);
    kid = fork();
    if (kid == 0)
      exit(dying_client(ep, how));
    CU_ASSERT_EQUAL(child_wait(kid, 20000), 0x100 + SIGKILL);
    for (int i = 0; i < 100; i++) {
      int rc = echo_once(c, out, &in, sizeof(out), (uint32_t)i);
      CU_ASSERT_EQUAL(rc, PLUMB_OK);
      if (rc != PLUMB_OK)
        break;
    }
  }
  T->close(c);
  plumb__buf_free(&in);
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 0);
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* Plays a hostile producer on the client's request ring, publishing (and
 * ringing the server) like a real one: 0 an impossible tail, 1 a record
 * header that fails its check, 2 a length over max_frame, 3 a tail that
 * moves backwards. */
static void
scribble(plumb_conn *c, int how)
{
  plumb__shm_ring *r = plumb__shm_test_tx_ring(c);
  uint32_t w[2];

  switch (how) {
  case 0:
    r->pos += 3 * r->size;
    break;
  case 1:
    w[0] = 100;
    w[1] = 12345;
    plumb__shm_ring_write(r, w, sizeof(w));
    break;
  case 2:
    w[0] = 0xfffffff0u;
    w[1] = w[0] ^ 0x5a3cc3a5u;
    plumb__shm_ring_write(r, w, sizeof(w));
    break;
  default:
    r->pos -= 1;
    break;
  }
  plumb__shm_ring_publish_tail(r);
}

static void
test_garbage(void)
{
  uint8_t out[512];
  plumb_buf in = { 0 };
  plumb_conn *good, *bad;
  char ep[128];
  pid_t srv;
  int rc;

  mkep(ep, sizeof(ep), "garbage", "?ring=4096");
  srv = srv_start(ep, SRV_ECHO, PLUMB_DEFAULT_MAX_FRAME);
  CU_ASSERT_FATAL(srv > 0);
  CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &good), PLUMB_OK);
  for (int how = 0; how < 4; how++) {
    int64_t t0 = plumb__now_ns();
    CU_ASSERT_EQUAL_FATAL(dial(ep, PLUMB_DEFAULT_MAX_FRAME, &bad), PLUMB_OK);
    CU_ASSERT_EQUAL(echo_once(bad, out, &in, 100, 1), PLUMB_OK);
    scribble(bad, how);
    /* The server drops this connection, and only this one. */
    rc = T->recv(bad, &in, plumb__deadline_ms(5000));
    CU_ASSERT_EQUAL(rc, PLUMB_ECLOSED);
    CU_ASSERT(ms_since(t0) < 3000);
    T->close(bad);
    for (int i = 0; i < 20; i++)
      CU_ASSERT_EQUAL(echo_once(good, out, &in, 1 + (size_t)i * 25,
                                (uint32_t)i),
                      PLUMB_OK);
  }
  T->close(good);
  plumb__buf_free(&in);
  /* Three EPROTO drops (impossible tails, bad record) and one ETOOBIG. */
  CU_ASSERT_EQUAL(srv_stop_wait(srv), 3 | (1 << 3));
  CU_ASSERT_EQUAL(leftovers(), 0);
}

/* ---- runner ----------------------------------------------------------- */

static int
suite_init(void)
{
  const char *rest;
  T = plumb__transport_find("shm:/x", &rest);
  snprintf(prefix, sizeof(prefix), "pt%d", (int)getpid());
  return T == NULL;
}

static const ptest_case basic_cases[] = {
  { "addresses", test_addresses },
  { "listen_busy", test_listen_busy },
  { "peer_and_nowait", test_peer_and_nowait },
  { "server_writer", test_server_writer },
  { "deadline", test_deadline },
  { "send_deadline", test_send_deadline },
  { "shutdown", test_shutdown },
  { NULL, NULL },
};
static const ptest_case echo_cases[] = {
  { "echo_sizes", test_echo_sizes },
  { NULL, NULL },
};
static const ptest_case concurrent_cases[] = {
  { "concurrent_16x500", test_concurrent },
  { NULL, NULL },
};
static const ptest_case wait_cases[] = {
  { "same_cpu_yield", test_same_cpu_yield },
  { "lazy_head", test_lazy_head },
  { "hostile_hints", test_hostile_hints },
  { NULL, NULL },
};
static const ptest_case crash_cases[] = {
  { "server_killed", test_server_killed },
  { "client_killed", test_client_killed },
  { "garbage", test_garbage },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "basic", basic_cases, suite_init, NULL },
  { "echo", echo_cases, suite_init, NULL },
  { "concurrent", concurrent_cases, suite_init, NULL },
  { "wait", wait_cases, suite_init, NULL },
  { "crash", crash_cases, suite_init, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN);
  return ptest_run(suites, argc, argv);
}
