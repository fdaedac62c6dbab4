/* sysvmq.c - the `sysvmq` transport: one System V message queue per server.
 *
 * Endpoints `sysvmq:/tmp/calc` (key = ftok(path, 'P'); the server creates the
 * file if it is missing and then removes it again) or `sysvmq:key=0x1234`.
 * The server creates the queue (mode from the options, 0600 by default) and
 * puts a beacon message (mtype 2, its pid) at the head of it, which clients
 * and later servers read with MSG_COPY to tell a live server from a queue
 * left by a crashed one (reclaimed by listen(), refused by dial()).
 * Everything else travels on the same queue: client to server on mtype 1
 * (each message carries the client's id), server to client on mtype = the
 * client's id, which the client picks (16 + pid << 20 | counter) and the
 * server confirms in the HELLO/ACK handshake.  Frames are split to fit
 * msgmax and half the queue's byte limit, and reassembled by the receiver.
 *
 * SysV queues cannot be polled, so the listener has a waiter thread that
 * blocks in msgrcv() on mtype 1 and sorts messages by client id into the
 * connections' inboxes, each with an eventfd; a server connection's conn_fd()
 * is an epoll set of that eventfd and a pidfd on the peer, so a dead peer is
 * seen at once.  A client connection receives "directly": recv() itself
 * blocks in msgrcv() (one wake-up per reply), and a watchdog thread turns its
 * deadline (timerfd), shutdown() and the server's death (pidfd) into a WAKE
 * message to its own mtype.  If a client's conn_fd() is asked for, it
 * switches for good to a waiter thread and inbox like the server's.  The
 * queue is removed (IPC_RMID) when the listener and every connection it
 * accepted are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "transport.h"

enum {
  SV_HELLO = 1, SV_ACK, SV_NAK, SV_FIRST, SV_MORE, SV_BYE, SV_BEACON,
  SV_WAKE /* a client's watchdog to its own blocked msgrcv() */
};

#define SV_VERSION 1u
#define SV_T_SERVER 1L  /* client -> server */
#define SV_T_BEACON 2L  /* the server's pid, at the head of the queue */
#define SV_ID_BASE 16L  /* client ids (= their reply mtype) start here */
#define SV_HDR 16       /* kind, pad[3], u32 aux, u64 client id */
#define SV_MIN_CHUNK 256
#define SV_KEYFILE_MARK "plumb sysvmq key file\n"

/* One received message, header stripped. */
typedef struct sv_msg {
  struct sv_msg *next;
  uint8_t kind;
  uint32_t aux;
  uint64_t id;
  size_t n;
  uint8_t data[];
} sv_msg;

/* Messages a waiter thread received for one reader, in order. */
typedef struct sv_inbox {
  pthread_mutex_t mu;
  sv_msg *head, *tail;
  size_t bytes, limit;
  int evfd;      /* readable while messages wait or closed */
  int signalled;
  int closed;    /* nothing more will arrive: fail with `status` */
  int status;
} sv_inbox;

typedef struct sv_hub sv_hub;

typedef struct sv_conn {
  plumb_conn base;
  sv_hub *hub;       /* server side: the listener's hub; NULL on clients */
  struct sv_conn *next;
  int qid;
  long wtype;        /* mtype we send to */
  uint64_t id;       /* the client's id */
  pid_t peer_pid;
  int pidfd;
  int epfd;          /* conn_fd(): inbox eventfd + pidfd */
  size_t chunk;      /* largest message text */
  uint32_t max_frame;
  sv_inbox in;
  atomic_int shut;
  int bye_sent;
  atomic_int peer_bye; /* the peer said BYE: it reads nothing more */
  int wbroken;
  int peer_dead;
  uint8_t *wmsg;     /* long mtype + text */
  plumb__reasm rx;   /* the frame being received */
  pthread_t thr;     /* client side waiter (conn_fd() users only) */
  int thr_on;
  void *rbuf;        /* receive buffer (long mtype + text) */
  /* Client "direct" mode: recv() blocks in msgrcv() itself (one wake-up
   * per reply); a watchdog thread turns deadlines (timerfd), shutdown
   * (wakefd) and the server's death (pidfd) into a WAKE message. */
  int direct;
  int tfd, wakefd;
  atomic_int waiting; /* a recv() is (about to be) blocked in msgrcv() */
  pthread_t wd;
  int wd_on;
} sv_conn;

struct sv_hub {
  plumb_listener base;
  int qid;
  char *made_path;   /* ftok file we created, removed with the queue */
  size_t chunk;
  uint32_t max_frame;
  unsigned mode;
  pthread_t thr;
  int thr_on;
  void *rbuf;        /* the waiter's receive buffer */
  pthread_mutex_t mu;
  int refs;          /* the listener + accepted connections */
  int listening;
  sv_inbox hellos;   /* its evfd is listener_fd() */
  sv_conn *conns;
};

const plumb_transport plumb__tran_sysvmq;

/* ---- small helpers ---- */

static void
sv_put64(uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
sv_get64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* Largest message text: at most msgmax, and two must fit in the queue next
 * to the beacon so a sender and a receiver can overlap. */
static size_t
sv_chunk_size(int qid)
{
  struct msqid_ds ds;
  size_t c = (size_t)plumb__read_long("/proc/sys/kernel/msgmax", 8192);
  if (msgctl(qid, IPC_STAT, &ds) == 0 && (ds.msg_qbytes - 64) / 2 < c)
    c = (ds.msg_qbytes - 64) / 2;
  return c < SV_MIN_CHUNK ? SV_MIN_CHUNK : c;
}

static int
sv_errno_status(int e)
{
  switch (e) {
  case ENOENT:
  case EIDRM:
    return PLUMB_ECONNREFUSED;
  case EACCES:
  case EPERM:
    return PLUMB_EPERM;
  case ENOMEM:
    return PLUMB_ENOMEM;
  default:
    return PLUMB_ESYS;
  }
}

/* "key=N" (N in C syntax, not 0) or a path; *path gets the path or NULL. */
static int
sv_parse(const char *addr, key_t *key, const char **path)
{
  *path = NULL;
  if (addr == NULL || addr[0] == '\0')
    return PLUMB_EADDR;
  if (strncmp(addr, "key=", 4) == 0) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(addr + 4, &end, 0);
    if (errno || end == addr + 4 || *end != '\0' || v == 0 ||
        v > UINT32_MAX)
      return PLUMB_EADDR;
    *key = (key_t)(uint32_t)v;
    return PLUMB_OK;
  }
  if (strlen(addr) >= PATH_MAX)
    return PLUMB_EADDR;
  *path = addr;
  return PLUMB_OK;
}

/* 1 if path is a key file a plumb server created (it holds our marker). */
static int
sv_is_our_keyfile(const char *path)
{
  char buf[sizeof(SV_KEYFILE_MARK)];
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  ssize_t n;

  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf));
  close(fd);
  return n == (ssize_t)sizeof(SV_KEYFILE_MARK) - 1 &&
         memcmp(buf, SV_KEYFILE_MARK, (size_t)n) == 0;
}

/* The pid in the queue's beacon, 0 if there is none, -1 if MSG_COPY is not
 * available (then liveness cannot be told). */
static pid_t
sv_beacon_pid(int qid)
{
  struct {
    long mtype;
    uint8_t text[SV_HDR];
  } m;
  ssize_t n = msgrcv(qid, &m, sizeof(m.text), 0,
                     MSG_COPY | IPC_NOWAIT | MSG_NOERROR);
  if (n < 0)
    return errno == ENOSYS ? -1 : 0;
  if (m.mtype != SV_T_BEACON || n < SV_HDR || m.text[0] != SV_BEACON)
    return 0;
  return (pid_t)plumb__get_le32(m.text + 4);
}

static void sv_purge(int qid, long t);

/* The queue is shared: messages for a client that died or said BYE would
 * fill it for everyone until the core gets round to closing that
 * connection.  A server whose send is blocked drops them itself. */
static void
hub_unclog(sv_hub *h)
{
  pthread_mutex_lock(&h->mu);
  for (sv_conn *c = h->conns; c; c = c->next) {
    struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
    pthread_mutex_lock(&c->in.mu);
    int closed = c->in.closed;
    pthread_mutex_unlock(&c->in.mu);
    if (closed || poll(&p, 1, 0) == 1)
      sv_purge(h->qid, (long)c->id);
  }
  pthread_mutex_unlock(&h->mu);
}

/* Sends one prepared message (buf = long mtype + text) without blocking,
 * backing off while the queue is full.  Watches pidfd, *shut, the inbox's
 * BYE, and (server side) unclogs the queue of dead clients' messages. */
static int
sv_send_msg(int qid, void *buf, size_t textlen, int pidfd, atomic_int *shut,
            sv_inbox *in, sv_hub *hub, int64_t deadline)
{
  long backoff_us = 20;
  for (;;) {
    if (shut && atomic_load(shut))
      return PLUMB_ECLOSED;
    if (in) { /* the peer said BYE (or the queue went): stop sending */
      pthread_mutex_lock(&in->mu);
      int gone = in->closed;
      pthread_mutex_unlock(&in->mu);
      if (gone)
        return PLUMB_ECLOSED;
    }
    if (msgsnd(qid, buf, textlen, IPC_NOWAIT) == 0)
      return PLUMB_OK;
    if (errno == EINTR)
      continue;
    if (errno == EIDRM || errno == EINVAL)
      return PLUMB_ECLOSED;
    if (errno != EAGAIN)
      return PLUMB_ESYS;
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    int64_t now = plumb__now_ns();
    if (deadline != PLUMB_FOREVER && now >= deadline)
      return PLUMB_ETIMEDOUT;
    int64_t wait = backoff_us * 1000;
    if (deadline != PLUMB_FOREVER && deadline - now < wait)
      wait = deadline - now;
    struct timespec ts = { wait / 1000000000, wait % 1000000000 };
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    int r = ppoll(&p, 1, &ts, NULL);
    if (r > 0)
      return PLUMB_ECLOSED; /* the peer died */
    if (hub && backoff_us >= 320)
      hub_unclog(hub);
    if (backoff_us < 2000)
      backoff_us *= 2;
  }
}

/* A control message (no data) to mtype `to`. */
static int
sv_send_ctl(int qid, long to, uint8_t kind, uint32_t aux, uint64_t id,
            const uint8_t *extra, size_t n, int64_t deadline)
{
  struct {
    long mtype;
    uint8_t text[SV_HDR + 16];
  } m = { .mtype = to };
  m.text[0] = kind;
  plumb__put_le32(m.text + 4, aux);
  sv_put64(m.text + 8, id);
  if (n)
    memcpy(m.text + SV_HDR, extra, n);
  return sv_send_msg(qid, &m, SV_HDR + n, -1, NULL, NULL, NULL, deadline);
}

/* Drops every message waiting for mtype t (bounded). */
static void
sv_purge(int qid, long t)
{
  struct {
    long mtype;
    uint8_t text[1];
  } m;
  for (int i = 0; i < 100000; i++)
    if (msgrcv(qid, &m, sizeof(m.text), t, IPC_NOWAIT | MSG_NOERROR) < 0)
      break;
}

/* ---- inboxes ---- */

static int
sv_inbox_init(sv_inbox *ib, size_t limit)
{
  memset(ib, 0, sizeof(*ib));
  ib->limit = limit;
  ib->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ib->evfd < 0)
    return PLUMB_ESYS;
  pthread_mutex_init(&ib->mu, NULL);
  return PLUMB_OK;
}

static void
sv_signal(sv_inbox *ib)
{
  uint64_t one = 1;
  if (!ib->signalled && write(ib->evfd, &one, sizeof(one)) == sizeof(one))
    ib->signalled = 1;
}

static void
sv_inbox_drop(sv_inbox *ib)
{
  for (sv_msg *m = ib->head, *nx; m; m = nx) {
    nx = m->next;
    free(m);
  }
  ib->head = ib->tail = NULL;
  ib->bytes = 0;
}

static void
sv_inbox_fini(sv_inbox *ib)
{
  if (ib->evfd < 0)
    return;
  sv_inbox_drop(ib);
  close(ib->evfd);
  ib->evfd = -1;
  pthread_mutex_destroy(&ib->mu);
}

/* Takes ownership of m. */
static void
sv_inbox_put(sv_inbox *ib, sv_msg *m)
{
  pthread_mutex_lock(&ib->mu);
  if (ib->closed) {
    free(m);
  } else if (ib->limit && ib->bytes + m->n > ib->limit) {
    /* a peer that floods us beyond any frame it may send */
    free(m);
    sv_inbox_drop(ib);
    ib->closed = 1;
    ib->status = PLUMB_EPROTO;
    sv_signal(ib);
  } else {
    m->next = NULL;
    if (ib->tail)
      ib->tail->next = m;
    else
      ib->head = m;
    ib->tail = m;
    ib->bytes += m->n;
    sv_signal(ib);
  }
  pthread_mutex_unlock(&ib->mu);
}

static void
sv_inbox_close(sv_inbox *ib, int status)
{
  pthread_mutex_lock(&ib->mu);
  if (!ib->closed) {
    ib->closed = 1;
    ib->status = status;
  }
  sv_signal(ib);
  pthread_mutex_unlock(&ib->mu);
}

/* Pops the next message; *closed tells whether more can come. */
static sv_msg *
sv_inbox_get(sv_inbox *ib, int *closed, int *status)
{
  pthread_mutex_lock(&ib->mu);
  sv_msg *m = ib->head;
  if (m) {
    ib->head = m->next;
    if (ib->head == NULL)
      ib->tail = NULL;
    ib->bytes -= m->n;
  }
  if (ib->head == NULL && !ib->closed && ib->signalled) {
    uint64_t v;
    if (read(ib->evfd, &v, sizeof(v)) == sizeof(v) || errno == EAGAIN)
      ib->signalled = 0;
  }
  *closed = ib->closed;
  *status = ib->status;
  pthread_mutex_unlock(&ib->mu);
  return m;
}

/* Reads one message of mtype t (blocking) into a new sv_msg; NULL with
 * errno on failure. */
static sv_msg *
sv_receive(int qid, long t, void *buf, size_t cap)
{
  ssize_t n;
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  n = msgrcv(qid, buf, cap, t, MSG_NOERROR);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  if (n < 0)
    return NULL;
  if (n < SV_HDR) {
    errno = EPROTO;
    return NULL;
  }
  const uint8_t *text = (const uint8_t *)buf + sizeof(long);
  sv_msg *m = malloc(sizeof(*m) + (size_t)n - SV_HDR);
  if (m == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  m->next = NULL;
  m->kind = text[0];
  m->aux = plumb__get_le32(text + 4);
  m->id = sv_get64(text + 8);
  m->n = (size_t)n - SV_HDR;
  memcpy(m->data, text + SV_HDR, m->n);
  return m;
}

/* ---- connections (both sides) ---- */

static sv_conn *
sv_conn_new(int qid, size_t chunk, uint32_t max_frame)
{
  sv_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->base.ops = &plumb__tran_sysvmq;
  c->qid = qid;
  c->pidfd = c->epfd = c->tfd = c->wakefd = -1;
  c->in.evfd = -1;
  c->chunk = chunk;
  c->max_frame = max_frame ? max_frame : PLUMB_DEFAULT_MAX_FRAME;
  c->wmsg = malloc(sizeof(long) + chunk);
  if (c->wmsg == NULL ||
      sv_inbox_init(&c->in, 2 * (size_t)c->max_frame + (1u << 20)) != 0) {
    free(c->wmsg);
    free(c);
    return NULL;
  }
  return c;
}

/* The epoll set behind conn_fd(), once the peer's pid is known. */
static int
sv_conn_watch(sv_conn *c)
{
  c->pidfd = plumb__pidfd_open(c->peer_pid);
  if (c->pidfd < 0)
    return PLUMB_ECLOSED;
  c->epfd = plumb__epoll_set((int[]){ c->in.evfd, c->pidfd }, 2);
  return c->epfd < 0 ? PLUMB_ESYS : PLUMB_OK;
}

static void
sv_conn_free(sv_conn *c)
{
  if (c->pidfd >= 0)
    close(c->pidfd);
  if (c->epfd >= 0)
    close(c->epfd);
  if (c->tfd >= 0)
    close(c->tfd);
  if (c->wakefd >= 0)
    close(c->wakefd);
  sv_inbox_fini(&c->in);
  plumb__buf_free(&c->rx.part);
  free(c->wmsg);
  free(c->rbuf);
  free(c);
}

static int
sv_send_frame(plumb_conn *pc, const struct iovec *iov, int iovcnt,
              int64_t deadline)
{
  sv_conn *c = (sv_conn *)pc;
  uint8_t *text = c->wmsg + sizeof(long);
  long mtype = c->wtype;
  plumb__split sp;
  int rv;

  if (atomic_load(&c->shut) || c->wbroken)
    return PLUMB_ECLOSED;
  if ((rv = plumb__split_begin(&sp, iov, iovcnt, c->max_frame)) != PLUMB_OK)
    return rv;
  memcpy(c->wmsg, &mtype, sizeof(long));
  while (plumb__split_more(&sp)) {
    memset(text, 0, SV_HDR);
    text[0] = sp.msgs == 0 ? SV_FIRST : SV_MORE;
    plumb__put_le32(text + 4, (uint32_t)sp.total);
    sv_put64(text + 8, c->id);
    size_t used = SV_HDR + plumb__split_fill(&sp, text + SV_HDR,
                                             c->chunk - SV_HDR);
    rv = sv_send_msg(c->qid, c->wmsg, used, c->pidfd, &c->shut, &c->in,
                     c->hub, deadline);
    if (rv != PLUMB_OK)
      return plumb__split_failed(&sp, rv, &c->wbroken);
  }
  return PLUMB_OK;
}

/* Adds one data message to the frame being rebuilt: 1 = frame complete. */
static int
sv_take(sv_conn *c, uint8_t kind, uint32_t aux, const uint8_t *data,
        size_t n)
{
  switch (kind) {
  case SV_FIRST:
    return plumb__reasm_first(&c->rx, aux, c->max_frame, data, n);
  case SV_MORE:
    return plumb__reasm_more(&c->rx, data, n);
  default:
    return 0; /* stray control message (WAKE, ...) */
  }
}

/* Direct-mode receive (clients): reads our mtype in this thread. */
static int
sv_recv_direct(sv_conn *c, plumb_buf *buf, int64_t deadline)
{
  size_t cap = c->chunk + 64;
  const uint8_t *text = (const uint8_t *)c->rbuf + sizeof(long);

  for (;;) {
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    ssize_t n = msgrcv(c->qid, c->rbuf, cap, (long)c->id,
                       IPC_NOWAIT | MSG_NOERROR);
    if (n < 0 && errno == ENOMSG) {
      if (atomic_load(&c->peer_bye) || c->peer_dead)
        return PLUMB_ECLOSED;
      if (deadline == PLUMB_NOWAIT)
        return PLUMB_EAGAIN;
      if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
        return PLUMB_ETIMEDOUT;
      /* Block: announce it, arm the deadline, re-check, then sleep in
       * msgrcv until a reply or the watchdog's WAKE. */
      atomic_store(&c->waiting, 1);
      if (deadline != PLUMB_FOREVER) {
        struct itimerspec its = { { 0, 0 },
                                  { deadline / 1000000000,
                                    deadline % 1000000000 } };
        timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL);
      }
      struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
      if (atomic_load(&c->shut) || poll(&p, 1, 0) == 1) {
        atomic_store(&c->waiting, 0);
        if (!atomic_load(&c->shut)) {
          c->peer_dead = 1; /* drain what it sent, then fail */
          continue;
        }
        return PLUMB_ECLOSED;
      }
      n = msgrcv(c->qid, c->rbuf, cap, (long)c->id, MSG_NOERROR);
      atomic_store(&c->waiting, 0);
    }
    if (n < 0) {
      if (errno == EINTR || errno == ENOMSG)
        continue;
      if (errno == EIDRM || errno == EINVAL)
        return PLUMB_ECLOSED; /* the server removed the queue */
      return PLUMB_ESYS;
    }
    if (n < SV_HDR)
      continue;
    if (text[0] == SV_WAKE)
      continue; /* the loop re-checks why */
    if (text[0] == SV_BYE) {
      atomic_store(&c->peer_bye, 1);
      continue;
    }
    int r = sv_take(c, text[0], plumb__get_le32(text + 4), text + SV_HDR,
                    (size_t)n - SV_HDR);
    if (r < 0)
      return r;
    if (r == 1) {
      plumb__reasm_take(&c->rx, buf);
      return PLUMB_OK;
    }
  }
}

/* Sends WAKE to our own mtype so a blocked msgrcv() returns. */
static void
sv_wake_self(sv_conn *c)
{
  for (int i = 0; i < 50 && atomic_load(&c->waiting); i++) {
    if (sv_send_ctl(c->qid, (long)c->id, SV_WAKE, 0, c->id, NULL, 0,
                    PLUMB_NOWAIT) != PLUMB_EAGAIN)
      return;
    usleep(2000); /* queue full: the server drains it */
  }
}

static void *
watchdog_main(void *arg)
{
  sv_conn *c = arg;
  struct pollfd p[3] = {
    { .fd = c->wakefd, .events = POLLIN },
    { .fd = c->tfd, .events = POLLIN },
    { .fd = c->pidfd, .events = POLLIN },
  };

  for (;;) {
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents) {
      uint64_t x;
      if (read(c->tfd, &x, sizeof(x)) < 0) {
        /* spurious: nothing to clear */
      }
    }
    if (p[2].revents)
      p[2].fd = -1; /* the server died: report once */
    if (p[0].revents || p[1].revents || p[2].revents)
      sv_wake_self(c);
    if (p[0].revents)
      break; /* shutdown or close */
  }
  return NULL;
}

static int
sv_recv_frame(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  sv_conn *c = (sv_conn *)pc;

  if (c->direct)
    return sv_recv_direct(c, buf, deadline);
  for (;;) {
    int closed, status;
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    sv_msg *m = sv_inbox_get(&c->in, &closed, &status);
    if (m) {
      int r = sv_take(c, m->kind, m->aux, m->data, m->n);
      free(m);
      if (r < 0)
        return r;
      if (r == 1) {
        plumb__reasm_take(&c->rx, buf);
        return PLUMB_OK;
      }
      continue;
    }
    if (closed)
      return status ? status : PLUMB_ECLOSED;
    if (c->peer_dead)
      return PLUMB_ECLOSED;
    struct pollfd p[2] = { { .fd = c->in.evfd, .events = POLLIN },
                           { .fd = c->pidfd, .events = POLLIN } };
    int r = poll(p, 2, plumb__poll_timeout(deadline));
    if (r < 0 && errno != EINTR)
      return PLUMB_ESYS;
    if (r == 0)
      return deadline == PLUMB_NOWAIT ? PLUMB_EAGAIN : PLUMB_ETIMEDOUT;
    if (r > 0 && p[1].revents && !p[0].revents) {
      /* give the waiter a moment to hand over what the peer sent last */
      usleep(1000);
      c->peer_dead = 1;
    }
  }
}

static void *client_main(void *arg);

/* An event loop wants a pollable fd: a client leaves direct mode for good
 * and a waiter thread feeds the inbox behind epfd from now on. */
static int
sv_conn_fd(plumb_conn *pc)
{
  sv_conn *c = (sv_conn *)pc;
  if (c->direct) {
    if (pthread_create(&c->thr, NULL, client_main, c) != 0)
      return -1;
    c->thr_on = 1;
    c->direct = 0;
  }
  return c->epfd;
}

static int
sv_peer(plumb_conn *pc, plumb_peer *out)
{
  return plumb__peer_from_pid(((sv_conn *)pc)->peer_pid, out);
}

static void
sv_say_bye(sv_conn *c)
{
  /* A BYE to a peer that already left would sit in the shared queue for
   * ever, so none is sent then. */
  if (!c->bye_sent && !c->wbroken && !atomic_load(&c->peer_bye)) {
    c->bye_sent = 1;
    (void)sv_send_ctl(c->qid, c->wtype, SV_BYE, 0, c->id, NULL, 0,
                      PLUMB_NOWAIT);
  }
}

static void
sv_shutdown(plumb_conn *pc)
{
  sv_conn *c = (sv_conn *)pc;
  uint64_t one = 1;

  if (atomic_exchange(&c->shut, 1))
    return;
  sv_say_bye(c);
  sv_inbox_close(&c->in, PLUMB_ECLOSED);
  if (c->wakefd >= 0 && write(c->wakefd, &one, sizeof(one)) < 0) {
    /* cannot overflow with one write */
  }
}

/* ---- server side ---- */

static void hub_unref(sv_hub *h);
static void sv_close(plumb_conn *pc);

static void *
hub_main(void *arg)
{
  sv_hub *h = arg;
  size_t cap = sizeof(long) + h->chunk;
  void *buf = h->rbuf = malloc(cap + 64); /* freed by hub_destroy: the
                                             thread may be cancelled */
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  while (buf) {
    sv_msg *m = sv_receive(h->qid, SV_T_SERVER, buf, h->chunk + 64);
    if (m == NULL) {
      if (errno == EINTR || errno == EPROTO || errno == ENOMEM)
        continue;
      break; /* EIDRM/EINVAL: the queue is gone */
    }
    pthread_mutex_lock(&h->mu);
    if (m->kind == SV_HELLO) {
      if (h->listening) {
        sv_inbox_put(&h->hellos, m);
        m = NULL;
      }
    } else {
      sv_conn *c = h->conns;
      while (c && c->id != m->id)
        c = c->next;
      if (c && m->kind == SV_BYE) {
        atomic_store(&c->peer_bye, 1);
        sv_inbox_close(&c->in, PLUMB_ECLOSED);
      } else if (c) {
        sv_inbox_put(&c->in, m);
        m = NULL;
      } else if (m->kind == SV_BYE) {
        /* a client that gave up during the handshake: forget its hello */
        pthread_mutex_lock(&h->hellos.mu);
        for (sv_msg **pp = &h->hellos.head; *pp; pp = &(*pp)->next)
          if ((*pp)->id == m->id) {
            (*pp)->kind = SV_BYE; /* accept() skips it */
            break;
          }
        pthread_mutex_unlock(&h->hellos.mu);
      }
    }
    pthread_mutex_unlock(&h->mu);
    if (m && m->kind == SV_HELLO) /* not listening any more */
      (void)sv_send_ctl(h->qid, (long)m->id, SV_NAK, 0, m->id, NULL, 0,
                        PLUMB_NOWAIT);
    free(m);
  }
  pthread_mutex_lock(&h->mu);
  for (sv_conn *c = h->conns; c; c = c->next)
    sv_inbox_close(&c->in, PLUMB_ECLOSED);
  pthread_mutex_unlock(&h->mu);
  /* The hellos inbox is left open and quiet: a listener whose queue was
   * removed under it (ipcrm) just accepts nobody, instead of waking an
   * event loop for ever with an error. */
  return NULL;
}

static void
hub_destroy(sv_hub *h)
{
  if (h->qid >= 0)
    msgctl(h->qid, IPC_RMID, NULL);
  if (h->thr_on) {
    pthread_cancel(h->thr);
    pthread_join(h->thr, NULL);
  }
  if (h->made_path) {
    unlink(h->made_path);
    free(h->made_path);
  }
  sv_inbox_fini(&h->hellos);
  pthread_mutex_destroy(&h->mu);
  free(h->rbuf);
  free(h);
}

static void
hub_unref(sv_hub *h)
{
  pthread_mutex_lock(&h->mu);
  int left = --h->refs;
  pthread_mutex_unlock(&h->mu);
  if (left == 0)
    hub_destroy(h);
}

static int
sv_listen(const char *addr, const plumb_tran_opts *opts,
          plumb_listener **out)
{
  unsigned mode = opts && opts->mode ? opts->mode : 0600;
  const char *path;
  sv_hub *h;
  key_t key;
  int rv;

  *out = NULL;
  if ((rv = sv_parse(addr, &key, &path)) != PLUMB_OK)
    return rv;
  if ((h = calloc(1, sizeof(*h))) == NULL)
    return PLUMB_ENOMEM;
  h->base.ops = &plumb__tran_sysvmq;
  h->qid = -1;
  h->hellos.evfd = -1;
  h->mode = mode;
  h->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  pthread_mutex_init(&h->mu, NULL);
  h->refs = 1;
  h->listening = 1;
  if (path) {
    /* A key file we create carries a marker, so the file a killed server
     * left is recognised (and removed) by the next one. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0) {
      ssize_t w = write(fd, SV_KEYFILE_MARK, sizeof(SV_KEYFILE_MARK) - 1);
      if (opts && opts->has_group && fchown(fd, (uid_t)-1, opts->group) < 0)
        w = -1;
      close(fd);
      h->made_path = strdup(path);
      if (w != (ssize_t)sizeof(SV_KEYFILE_MARK) - 1) {
        rv = PLUMB_ESYS;
        goto fail;
      }
    } else if (errno != EEXIST) {
      rv = errno == EACCES ? PLUMB_EPERM : PLUMB_EADDR;
      goto fail;
    } else if (sv_is_our_keyfile(path)) {
      h->made_path = strdup(path);
    }
    if ((key = ftok(path, 'P')) == -1) {
      rv = PLUMB_EADDR;
      goto fail;
    }
  }
  for (int attempt = 0;; attempt++) {
    h->qid = msgget(key, IPC_CREAT | IPC_EXCL | (int)(mode & 0777));
    if (h->qid >= 0)
      break;
    if (errno != EEXIST || attempt > 1) {
      rv = sv_errno_status(errno);
      goto fail;
    }
    int old = msgget(key, 0);
    if (old < 0) {
      if (errno == ENOENT)
        continue;
      rv = sv_errno_status(errno);
      goto fail;
    }
    pid_t owner = sv_beacon_pid(old);
    if (owner != 0 && (owner == -1 || plumb__pid_alive(owner))) {
      rv = PLUMB_EBUSY;
      goto fail;
    }
    msgctl(old, IPC_RMID, NULL); /* stale: its server died */
  }
  if (opts && opts->has_group) {
    struct msqid_ds ds;
    if (msgctl(h->qid, IPC_STAT, &ds) < 0) {
      rv = PLUMB_ESYS;
      goto fail;
    }
    ds.msg_perm.gid = opts->group;
    if (msgctl(h->qid, IPC_SET, &ds) < 0) {
      rv = PLUMB_EPERM;
      goto fail;
    }
  }
  h->chunk = sv_chunk_size(h->qid);
  rv = sv_send_ctl(h->qid, SV_T_BEACON, SV_BEACON, (uint32_t)getpid(), 0,
                   NULL, 0, PLUMB_NOWAIT);
  if (rv != PLUMB_OK)
    goto fail;
  if ((rv = sv_inbox_init(&h->hellos, 0)) != PLUMB_OK)
    goto fail;
  if (pthread_create(&h->thr, NULL, hub_main, h) != 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  h->thr_on = 1;
  *out = &h->base;
  return PLUMB_OK;
fail:
  hub_destroy(h);
  return rv;
}

static int
sv_listener_fd(plumb_listener *pl)
{
  return ((sv_hub *)pl)->hellos.evfd;
}

static int
sv_accept(plumb_listener *pl, plumb_conn **out)
{
  sv_hub *h = (sv_hub *)pl;

  *out = NULL;
  for (;;) {
    int closed, status;
    sv_msg *m = sv_inbox_get(&h->hellos, &closed, &status);
    if (m == NULL)
      return PLUMB_EAGAIN;
    if (m->kind != SV_HELLO || m->n < 4 || m->aux != SV_VERSION ||
        m->id < (uint64_t)SV_ID_BASE || m->id > LONG_MAX) {
      free(m);
      continue;
    }
    sv_conn *c = sv_conn_new(h->qid, h->chunk, h->max_frame);
    if (c == NULL) {
      free(m);
      return PLUMB_ENOMEM;
    }
    c->id = m->id;
    c->wtype = (long)m->id;
    c->peer_pid = (pid_t)plumb__get_le32(m->data);
    free(m);
    int rv = sv_conn_watch(c);
    if (rv != PLUMB_OK) {
      sv_conn_free(c);
      if (rv == PLUMB_ENOMEM)
        return rv;
      continue;
    }
    /* Registered before the ACK goes out: the client's first request may
     * reach the waiter thread right after it. */
    pthread_mutex_lock(&h->mu);
    c->hub = h;
    c->next = h->conns;
    h->conns = c;
    h->refs++;
    pthread_mutex_unlock(&h->mu);
    rv = sv_send_ctl(h->qid, c->wtype, SV_ACK, (uint32_t)getpid(), c->id,
                     NULL, 0, plumb__deadline_ms(50));
    if (rv != PLUMB_OK) {
      atomic_store(&c->peer_bye, 1); /* no BYE to a client that never knew */
      sv_close(&c->base);
      continue;
    }
    *out = &c->base;
    return PLUMB_OK;
  }
}

static void
sv_listener_close(plumb_listener *pl)
{
  sv_hub *h = (sv_hub *)pl;
  int closed, status;
  sv_msg *m;

  pthread_mutex_lock(&h->mu);
  h->listening = 0;
  pthread_mutex_unlock(&h->mu);
  while ((m = sv_inbox_get(&h->hellos, &closed, &status)) != NULL) {
    if (m->kind == SV_HELLO)
      (void)sv_send_ctl(h->qid, (long)m->id, SV_NAK, 0, m->id, NULL, 0,
                        PLUMB_NOWAIT);
    free(m);
  }
  hub_unref(h);
}

/* ---- client side ---- */

static void *
client_main(void *arg)
{
  sv_conn *c = arg;
  size_t cap = c->chunk + 64;
  void *buf = c->rbuf; /* owned by the connection: we may be cancelled */
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  while (buf) {
    sv_msg *m = sv_receive(c->qid, (long)c->id, buf, cap);
    if (m == NULL) {
      if (errno == EINTR || errno == EPROTO || errno == ENOMEM)
        continue;
      break; /* EIDRM/EINVAL: the server removed the queue */
    }
    if (m->kind == SV_BYE) {
      atomic_store(&c->peer_bye, 1);
      free(m);
      break;
    }
    sv_inbox_put(&c->in, m);
  }
  sv_inbox_close(&c->in, PLUMB_ECLOSED);
  return NULL;
}

static int
sv_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
        plumb_conn **out)
{
  static atomic_uint counter;
  const char *path;
  key_t key;
  int qid, rv;
  sv_conn *c;
  uint8_t pidb[4];

  *out = NULL;
  if ((rv = sv_parse(addr, &key, &path)) != PLUMB_OK)
    return rv;
  if (path && (key = ftok(path, 'P')) == -1)
    return errno == EACCES ? PLUMB_EPERM : PLUMB_ECONNREFUSED;
  if ((qid = msgget(key, 0)) < 0)
    return sv_errno_status(errno);
  pid_t srv = sv_beacon_pid(qid);
  if (srv > 0 && !plumb__pid_alive(srv))
    msgctl(qid, IPC_RMID, NULL); /* a queue left by a dead server */
  if (srv == 0 || (srv > 0 && !plumb__pid_alive(srv)))
    return PLUMB_ECONNREFUSED;
  c = sv_conn_new(qid, sv_chunk_size(qid),
                  opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME);
  if (c == NULL)
    return PLUMB_ENOMEM;
  c->id = (uint64_t)SV_ID_BASE +
          ((uint64_t)getpid() << 20 | (atomic_fetch_add(&counter, 1) & 0xfffff));
  c->wtype = SV_T_SERVER;
  sv_purge(qid, (long)c->id); /* leftovers for an earlier owner of our pid */
  plumb__put_le32(pidb, (uint32_t)getpid());
  rv = sv_send_ctl(qid, SV_T_SERVER, SV_HELLO, SV_VERSION, c->id, pidb, 4,
                   deadline);
  if (rv != PLUMB_OK)
    goto fail;
  /* wait for ACK/NAK addressed to our id */
  {
    struct {
      long mtype;
      uint8_t text[SV_HDR + 16];
    } m;
    long backoff_us = 20;
    for (;;) {
      ssize_t n = msgrcv(qid, &m, sizeof(m.text), (long)c->id,
                         IPC_NOWAIT | MSG_NOERROR);
      if (n >= SV_HDR && m.text[0] == SV_ACK) {
        c->peer_pid = (pid_t)plumb__get_le32(m.text + 4);
        break;
      }
      if (n >= 1 && m.text[0] == SV_NAK) {
        rv = PLUMB_ECONNREFUSED;
        goto fail;
      }
      if (n < 0 && errno != ENOMSG && errno != EINTR) {
        rv = sv_errno_status(errno);
        goto fail;
      }
      int64_t now = plumb__now_ns();
      if (deadline != PLUMB_FOREVER && now >= deadline) {
        rv = PLUMB_ETIMEDOUT;
        goto bye;
      }
      if (srv > 0 && !plumb__pid_alive(srv)) {
        rv = PLUMB_ECONNREFUSED;
        goto fail;
      }
      usleep((useconds_t)backoff_us);
      if (backoff_us < 2000)
        backoff_us *= 2;
    }
  }
  if ((rv = sv_conn_watch(c)) != PLUMB_OK)
    goto bye;
  c->rbuf = malloc(sizeof(long) + c->chunk + 64);
  c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->rbuf == NULL || c->tfd < 0 || c->wakefd < 0 ||
      pthread_create(&c->wd, NULL, watchdog_main, c) != 0) {
    rv = c->rbuf == NULL ? PLUMB_ENOMEM : PLUMB_ESYS;
    goto bye;
  }
  c->wd_on = 1;
  c->direct = 1;
  *out = &c->base;
  return PLUMB_OK;
bye:
  /* the server may accept our hello later: tell it we are gone */
  (void)sv_send_ctl(qid, SV_T_SERVER, SV_BYE, 0, c->id, NULL, 0,
                    PLUMB_NOWAIT);
fail:
  sv_purge(qid, (long)c->id);
  sv_conn_free(c);
  return rv;
}

static void
sv_close(plumb_conn *pc)
{
  sv_conn *c = (sv_conn *)pc;

  atomic_store(&c->shut, 1);
  if (c->hub) {
    sv_hub *h = c->hub;
    pthread_mutex_lock(&h->mu);
    for (sv_conn **pp = &h->conns; *pp; pp = &(*pp)->next)
      if (*pp == c) {
        *pp = c->next;
        break;
      }
    pthread_mutex_unlock(&h->mu);
    /* Replies nobody will read would clog the shared queue: drop them,
     * and tell a live client we are gone. */
    struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
    sv_purge(c->qid, (long)c->id);
    if (!c->peer_dead && poll(&p, 1, 0) == 0)
      sv_say_bye(c);
    sv_conn_free(c);
    hub_unref(h);
    return;
  }
  sv_say_bye(c);
  if (c->wd_on) {
    uint64_t one = 1;
    if (write(c->wakefd, &one, sizeof(one)) < 0) {
      /* cannot overflow with one write */
    }
    pthread_join(c->wd, NULL);
  }
  if (c->thr_on) {
    pthread_cancel(c->thr);
    pthread_join(c->thr, NULL);
  }
  sv_purge(c->qid, (long)c->id);
  /* A killed server cannot remove its queue: its last client does (the
   * queue id is never reused for a new server's queue, so this is safe). */
  struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
  if (sv_beacon_pid(c->qid) == c->peer_pid && poll(&p, 1, 0) == 1)
    msgctl(c->qid, IPC_RMID, NULL);
  sv_conn_free(c);
}

const plumb_transport plumb__tran_sysvmq = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "sysvmq",
  .aliases = NULL,
  .listen = sv_listen,
  .listener_fd = sv_listener_fd,
  .accept = sv_accept,
  .listener_close = sv_listener_close,
  .dial = sv_dial,
  .send = sv_send_frame,
  .recv = sv_recv_frame,
  .conn_fd = sv_conn_fd,
  .peer = sv_peer,
  .shutdown = sv_shutdown,
  .close = sv_close,
};
