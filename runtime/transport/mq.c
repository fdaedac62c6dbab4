/* mq.c - the `mq` transport: POSIX message queues (mq_open(3)).
 *
 * Endpoint `mq:/calc`.  The server creates the well-known queue /calc (mode
 * from the options, 0600 by default) and holds an exclusive flock(2) on it,
 * so a client or a later server can tell a live queue from one left by a
 * crashed server (stale queues are replaced by listen(), refused by dial()).
 * The well-known queue carries only small hello messages.  Each client creates
 * a private pair of queues /calc.<pid>.<n>.c (client to server) and
 * /calc.<pid>.<n>.s (server to client), announces them with a hello, and
 * both sides unlink the names as soon as the server has opened them: from
 * then on the queues vanish with the last descriptor, whatever way the
 * processes end.  A frame is split into messages of the queue's msgsize
 * (the first carries the frame length) and reassembled by the receiver.
 * A dead peer is noticed through a pidfd (Linux >= 5.3) on the pid announced
 * in the handshake, or a BYE message on orderly close.  This file does not
 * raise /proc/sys/fs/mqueue limits; it adapts queue sizes to what the
 * kernel and RLIMIT_MSGQUEUE allow (see docs/TRANSPORTS.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "transport.h"

/* Message kinds (first byte of every message). */
enum { MQ_HELLO = 1, MQ_ACK, MQ_NAK, MQ_FIRST, MQ_MORE, MQ_BYE };

#define MQ_VERSION 1u
#define MQ_NAME_MAX 200      /* longest accepted "/name" */
#define MQ_HELLO_SIZE 64     /* msgsize of the well-known queue */
#define MQ_HELLO_MAXMSG 8
#define MQ_FIRST_HDR 5       /* kind + u32 frame length */
#define MQ_LIVE_SLICE_NS (50 * 1000000LL) /* dial re-checks the server */

typedef struct mq_listener {
  plumb_listener base;
  mqd_t q;
  uint32_t max_frame;
  char name[MQ_NAME_MAX + 1];
} mq_listener;

typedef struct mq_conn {
  plumb_conn base;
  mqd_t rq, wq;     /* receive and send queues */
  mqd_t sq;         /* client: the server's well-known queue, and its */
  char *sname;      /* name, to remove it if the server dies on us */
  int pidfd;        /* the peer process */
  int wakefd;       /* eventfd written by shutdown() */
  int epfd;         /* conn_fd(): rq + pidfd + wakefd */
  pid_t peer_pid;
  uint32_t max_frame;
  size_t rsize, wsize; /* msgsize of rq / wq */
  uint8_t *rmsg, *wmsg;
  atomic_int shut;
  int wbroken;      /* a frame was half sent */
  int peer_gone;    /* BYE seen or the pidfd fired */
  int delivered;    /* the last recv() returned a frame */
  plumb__reasm rx;  /* the frame being received */
} mq_conn;

const plumb_transport plumb__tran_mq;

/* "/name": one leading slash, then [A-Za-z0-9._-], at most MQ_NAME_MAX. */
static int
mq_valid_name(const char *addr)
{
  size_t n = addr ? strlen(addr) : 0;
  if (n < 2 || n > MQ_NAME_MAX || addr[0] != '/')
    return 0;
  for (size_t i = 1; i < n; i++) {
    char c = addr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static void
mq_pair_name(char *out, size_t cap, const char *base, uint32_t pid,
             uint32_t n, char dir)
{
  snprintf(out, cap, "%s.%u.%u.%c", base, pid, n, dir);
}

static int
mq_errno_status(int e)
{
  switch (e) {
  case ENOENT:
    return PLUMB_ECONNREFUSED;
  case EACCES:
  case EPERM:
    return PLUMB_EPERM;
  case EEXIST:
    return PLUMB_EBUSY;
  case ENOMEM:
    return PLUMB_ENOMEM;
  case EINVAL:
  case ENAMETOOLONG:
    return PLUMB_EADDR;
  default:
    return PLUMB_ESYS;
  }
}

/* Creates a per-client queue, shrinking it until RLIMIT_MSGQUEUE and the
 * /proc/sys/fs/mqueue limits accept it. */
static mqd_t
mq_create_pair_queue(const char *name, int flags, const plumb_tran_opts *o)
{
  unsigned mode = o && o->mode ? o->mode : 0600;
  long smax = plumb__read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
  long mmax = plumb__read_long("/proc/sys/fs/mqueue/msg_max", 10);
  long size = o && o->mq_msgsize ? (long)o->mq_msgsize : 8192;
  mqd_t q = (mqd_t)-1;

  if (size > smax)
    size = smax;
  if (size < 128)
    size = 128;
  /* 2 messages of `size` (mq_msgsize option, 8192 by default), halving
   * down to 512 bytes, then a single 512-byte message. */
  for (int last = 0; !last; size /= 2) {
    struct mq_attr a = { 0 };
    last = size <= 512;
    a.mq_msgsize = size;
    a.mq_maxmsg = last ? 1 : (2 < mmax ? 2 : mmax);
    q = mq_open(name, flags | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC,
                (mode_t)mode, &a);
    if (q != (mqd_t)-1) {
      /* exactly `mode`, whatever the umask */
      if (fchmod((int)q, (mode_t)mode) < 0 ||
          (o && o->has_group && fchown((int)q, (uid_t)-1, o->group) < 0)) {
        mq_close(q);
        mq_unlink(name);
        errno = EPERM;
        return (mqd_t)-1;
      }
      return q;
    }
    if (errno != EMFILE && errno != ENOMEM && errno != EINVAL &&
        errno != ENOSPC)
      return q;
  }
  return q;
}

/* Waits for events on fd while watching pidfd and wakefd (either may be
 * -1).  Returns 1 if fd is ready, 0 on deadline, PLUMB_ECLOSED if the peer
 * died or we were shut down, PLUMB_ESYS. */
static int
mq_wait(int fd, short events, int pidfd, int wakefd, int64_t deadline)
{
  struct pollfd p[3] = {
    { .fd = fd, .events = events },
    { .fd = pidfd, .events = POLLIN },
    { .fd = wakefd, .events = POLLIN },
  };
  for (;;) {
    int r = poll(p, 3, plumb__poll_timeout(deadline));
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return PLUMB_ESYS;
    }
    if (r == 0)
      return 0;
    if (p[0].revents)
      return 1;
    return PLUMB_ECLOSED;
  }
}

static void
mq_conn_free(mq_conn *c)
{
  if (c->rq != (mqd_t)-1)
    mq_close(c->rq);
  if (c->wq != (mqd_t)-1)
    mq_close(c->wq);
  if (c->sq != (mqd_t)-1)
    mq_close(c->sq);
  free(c->sname);
  if (c->pidfd >= 0)
    close(c->pidfd);
  if (c->wakefd >= 0)
    close(c->wakefd);
  if (c->epfd >= 0)
    close(c->epfd);
  free(c->rmsg);
  free(c->wmsg);
  plumb__buf_free(&c->rx.part);
  free(c);
}

static mq_conn *
mq_conn_new(void)
{
  mq_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->base.ops = &plumb__tran_mq;
  c->rq = c->wq = c->sq = (mqd_t)-1;
  c->pidfd = c->wakefd = c->epfd = -1;
  return c;
}

/* Completes a connection whose queues and peer are known: buffers, the
 * shutdown eventfd and the epoll set behind conn_fd(). */
static int
mq_conn_setup(mq_conn *c, uint32_t max_frame)
{
  struct mq_attr ra, wa;

  c->max_frame = max_frame ? max_frame : PLUMB_DEFAULT_MAX_FRAME;
  if (mq_getattr(c->rq, &ra) < 0 || mq_getattr(c->wq, &wa) < 0)
    return PLUMB_ESYS;
  if (ra.mq_msgsize < 16 || wa.mq_msgsize < 16)
    return PLUMB_EPROTO;
  /* Our lock on the queue we read says "still connected" to a sender
   * blocked on it (mq_send_msg); it goes with our descriptor. */
  if (flock((int)c->rq, LOCK_EX | LOCK_NB) < 0)
    return PLUMB_ESYS;
  c->rsize = (size_t)ra.mq_msgsize;
  c->wsize = (size_t)wa.mq_msgsize;
  c->rmsg = malloc(c->rsize);
  c->wmsg = malloc(c->wsize);
  if (c->rmsg == NULL || c->wmsg == NULL)
    return PLUMB_ENOMEM;
  c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->wakefd < 0)
    return PLUMB_ESYS;
  c->epfd = plumb__epoll_set((int[]){ (int)c->rq, c->pidfd, c->wakefd }, 3);
  return c->epfd < 0 ? PLUMB_ESYS : PLUMB_OK;
}

/* ---- server side ---- */

static int
mq_listen(const char *addr, const plumb_tran_opts *opts, plumb_listener **out)
{
  struct mq_attr a = { 0 };
  unsigned mode = opts && opts->mode ? opts->mode : 0600;
  mq_listener *l;
  mqd_t q;

  *out = NULL;
  if (!mq_valid_name(addr))
    return PLUMB_EADDR;
  a.mq_maxmsg = MQ_HELLO_MAXMSG;
  a.mq_msgsize = MQ_HELLO_SIZE;
  for (int attempt = 0;; attempt++) {
    q = mq_open(addr, O_RDONLY | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC,
                (mode_t)mode, &a);
    if (q != (mqd_t)-1)
      break;
    if (errno != EEXIST || attempt > 0)
      return mq_errno_status(errno);
    /* The name exists: live server (it holds LOCK_EX) or stale leftover. */
    mqd_t old = mq_open(addr, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (old == (mqd_t)-1) {
      if (errno == ENOENT)
        continue;
      return mq_errno_status(errno);
    }
    int busy = flock((int)old, LOCK_EX | LOCK_NB) < 0;
    if (!busy)
      mq_unlink(addr);
    mq_close(old);
    if (busy)
      return PLUMB_EBUSY;
  }
  if (flock((int)q, LOCK_EX | LOCK_NB) < 0) {
    mq_close(q);
    mq_unlink(addr);
    return PLUMB_EBUSY;
  }
  if (fchmod((int)q, (mode_t)mode) < 0 || /* exactly `mode`, not umasked */
      (opts && opts->has_group &&
       fchown((int)q, (uid_t)-1, opts->group) < 0)) {
    mq_close(q);
    mq_unlink(addr);
    return PLUMB_EPERM;
  }
  l = calloc(1, sizeof(*l));
  if (l == NULL) {
    mq_close(q);
    mq_unlink(addr);
    return PLUMB_ENOMEM;
  }
  l->base.ops = &plumb__tran_mq;
  l->q = q;
  l->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  strcpy(l->name, addr);
  *out = &l->base;
  return PLUMB_OK;
}

static int
mq_listener_fd(plumb_listener *pl)
{
  return (int)((mq_listener *)pl)->q;
}

/* Turns one hello into a connection; PLUMB_EAGAIN-like failures (client
 * already gone) return an error and the caller moves on to the next. */
static int
mq_accept_hello(mq_listener *l, const uint8_t *m, ssize_t n, mq_conn **out)
{
  char cname[MQ_NAME_MAX + 32], sname[MQ_NAME_MAX + 32];
  uint8_t ack[8];
  uint32_t pid, ctr;
  mq_conn *c;
  int rv;

  if (n < 13 || m[0] != MQ_HELLO || plumb__get_le32(m + 1) != MQ_VERSION)
    return PLUMB_EPROTO;
  pid = plumb__get_le32(m + 5);
  ctr = plumb__get_le32(m + 9);
  if (pid == 0 || pid > INT_MAX)
    return PLUMB_EPROTO;
  mq_pair_name(cname, sizeof(cname), l->name, pid, ctr, 'c');
  mq_pair_name(sname, sizeof(sname), l->name, pid, ctr, 's');
  if ((c = mq_conn_new()) == NULL)
    return PLUMB_ENOMEM;
  c->peer_pid = (pid_t)pid;
  c->rq = mq_open(cname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  c->wq = mq_open(sname, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  mq_unlink(cname);
  mq_unlink(sname);
  if (c->rq == (mqd_t)-1 || c->wq == (mqd_t)-1) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  c->pidfd = plumb__pidfd_open(c->peer_pid);
  if (c->pidfd < 0) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  if ((rv = mq_conn_setup(c, l->max_frame)) != PLUMB_OK)
    goto fail;
  ack[0] = MQ_ACK;
  plumb__put_le32(ack + 1, (uint32_t)getpid());
  if (mq_send(c->wq, (const char *)ack, 5, 0) < 0) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  *out = c;
  return PLUMB_OK;
fail:
  mq_conn_free(c);
  return rv;
}

static int
mq_accept(plumb_listener *pl, plumb_conn **out)
{
  mq_listener *l = (mq_listener *)pl;
  uint8_t m[MQ_HELLO_SIZE];

  *out = NULL;
  for (;;) {
    ssize_t n = mq_receive(l->q, (char *)m, sizeof(m), NULL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno == EAGAIN ? PLUMB_EAGAIN : PLUMB_ESYS;
    }
    mq_conn *c = NULL;
    int rv = mq_accept_hello(l, m, n, &c);
    if (rv == PLUMB_OK) {
      *out = &c->base;
      return PLUMB_OK;
    }
    if (rv == PLUMB_ENOMEM)
      return rv;
    /* a malformed hello or a client that gave up: try the next one */
  }
}

static void
mq_listener_close(plumb_listener *pl)
{
  mq_listener *l = (mq_listener *)pl;
  struct stat a, b;
  mqd_t cur;

  /* Unlink the name only if it is still our queue (same inode). */
  cur = mq_open(l->name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (cur != (mqd_t)-1) {
    if (fstat((int)cur, &a) == 0 && fstat((int)l->q, &b) == 0 &&
        a.st_ino == b.st_ino && a.st_dev == b.st_dev)
      mq_unlink(l->name);
    mq_close(cur);
  }
  mq_close(l->q);
  free(l);
}

/* ---- client side ---- */

/* 1 if a server holds the well-known queue (its LOCK_EX blocks ours). */
static int
mq_server_alive(mqd_t sq)
{
  if (flock((int)sq, LOCK_SH | LOCK_NB) == 0) {
    flock((int)sq, LOCK_UN);
    return 0;
  }
  return 1;
}

static int
mq_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
        plumb_conn **out)
{
  static atomic_uint counter;
  char cname[MQ_NAME_MAX + 32], sname[MQ_NAME_MAX + 32];
  uint32_t ctr = atomic_fetch_add(&counter, 1);
  uint8_t hello[13];
  mq_conn *c = NULL;
  mqd_t sq;
  int rv;

  *out = NULL;
  if (!mq_valid_name(addr))
    return PLUMB_EADDR;
  sq = mq_open(addr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (sq == (mqd_t)-1)
    return mq_errno_status(errno);
  if (!mq_server_alive(sq)) {
    rv = PLUMB_ECONNREFUSED;
    goto close_sq;
  }
  if ((c = mq_conn_new()) == NULL) {
    rv = PLUMB_ENOMEM;
    goto close_sq;
  }
  mq_pair_name(cname, sizeof(cname), addr, (uint32_t)getpid(), ctr, 'c');
  mq_pair_name(sname, sizeof(sname), addr, (uint32_t)getpid(), ctr, 's');
  mq_unlink(cname); /* leftovers of an earlier process with our pid */
  mq_unlink(sname);
  c->wq = mq_create_pair_queue(cname, O_WRONLY, opts);
  if (c->wq == (mqd_t)-1) {
    rv = mq_errno_status(errno);
    goto unlink;
  }
  c->rq = mq_create_pair_queue(sname, O_RDONLY, opts);
  if (c->rq == (mqd_t)-1) {
    rv = mq_errno_status(errno);
    goto unlink;
  }

  /* Hello on the well-known queue, then the server's ACK on ours. */
  hello[0] = MQ_HELLO;
  plumb__put_le32(hello + 1, MQ_VERSION);
  plumb__put_le32(hello + 5, (uint32_t)getpid());
  plumb__put_le32(hello + 9, ctr);
  for (;;) {
    if (mq_send(sq, (const char *)hello, sizeof(hello), 0) == 0)
      break;
    if (errno != EAGAIN) {
      rv = PLUMB_ESYS;
      goto unlink;
    }
    int64_t slice = plumb__now_ns() + MQ_LIVE_SLICE_NS;
    int64_t until = deadline == PLUMB_FOREVER || deadline > slice ? slice
                                                                 : deadline;
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline) {
      rv = PLUMB_ETIMEDOUT;
      goto unlink;
    }
    if ((rv = mq_wait((int)sq, POLLOUT, -1, -1, until)) < 0)
      goto unlink;
    if (!mq_server_alive(sq)) {
      rv = PLUMB_ECONNREFUSED;
      goto unlink;
    }
  }
  /* The receive buffer must be at least the queue's msgsize. */
  {
    struct mq_attr ra;
    uint8_t *buf;
    ssize_t n;
    if (mq_getattr(c->rq, &ra) < 0) {
      rv = PLUMB_ESYS;
      goto unlink;
    }
    if ((buf = malloc((size_t)ra.mq_msgsize)) == NULL) {
      rv = PLUMB_ENOMEM;
      goto unlink;
    }
    for (;;) {
      n = mq_receive(c->rq, (char *)buf, (size_t)ra.mq_msgsize, NULL);
      if (n >= 0 || errno != EAGAIN)
        break;
      if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline) {
        free(buf);
        rv = PLUMB_ETIMEDOUT;
        goto unlink;
      }
      int64_t slice = plumb__now_ns() + MQ_LIVE_SLICE_NS;
      int64_t until = deadline == PLUMB_FOREVER || deadline > slice
                          ? slice
                          : deadline;
      if ((rv = mq_wait((int)c->rq, POLLIN, -1, -1, until)) < 0) {
        free(buf);
        goto unlink;
      }
      if (rv == 0 && !mq_server_alive(sq)) {
        free(buf);
        rv = PLUMB_ECONNREFUSED;
        goto unlink;
      }
    }
    if (n < 5 || buf[0] != MQ_ACK) {
      rv = n >= 1 && buf[0] == MQ_NAK ? PLUMB_ECONNREFUSED
           : n < 0                    ? PLUMB_ESYS
                                      : PLUMB_EPROTO;
      free(buf);
      goto unlink;
    }
    c->peer_pid = (pid_t)plumb__get_le32(buf + 1);
    free(buf);
  }
  mq_unlink(cname);
  mq_unlink(sname);
  c->sq = sq;
  c->sname = strdup(addr); /* NULL only costs the clean-up below */
  c->pidfd = plumb__pidfd_open(c->peer_pid);
  if (c->pidfd < 0) {
    mq_conn_free(c);
    return PLUMB_ECONNREFUSED;
  }
  if ((rv = mq_conn_setup(c, opts ? opts->max_frame : 0)) != PLUMB_OK) {
    mq_conn_free(c);
    return rv;
  }
  *out = &c->base;
  return PLUMB_OK;
unlink:
  mq_unlink(cname);
  mq_unlink(sname);
  mq_conn_free(c);
close_sq:
  mq_close(sq);
  return rv;
}

/* ---- frames ---- */

static int
mq_send_msg(mq_conn *c, size_t len, int64_t deadline)
{
  for (;;) {
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    if (mq_send(c->wq, (const char *)c->wmsg, len, 0) == 0)
      return PLUMB_OK;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return PLUMB_ESYS;
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    /* Wait in slices: a peer that closed the connection but lives on is
     * seen by its lock on the queue being gone. */
    int64_t slice = plumb__now_ns() + MQ_LIVE_SLICE_NS;
    int64_t until = deadline == PLUMB_FOREVER || deadline > slice ? slice
                                                                 : deadline;
    int r = mq_wait((int)c->wq, POLLOUT, c->pidfd, c->wakefd, until);
    if (r < 0)
      return r;
    if (r == 0 && until == deadline)
      return PLUMB_ETIMEDOUT;
    if (r == 0 && flock((int)c->wq, LOCK_SH | LOCK_NB) == 0) {
      flock((int)c->wq, LOCK_UN);
      return PLUMB_ECLOSED;
    }
  }
}

static int
mq_send_frame(plumb_conn *pc, const struct iovec *iov, int iovcnt,
              int64_t deadline)
{
  mq_conn *c = (mq_conn *)pc;
  plumb__split sp;
  int rv;

  if (atomic_load(&c->shut) || c->wbroken)
    return PLUMB_ECLOSED;
  if ((rv = plumb__split_begin(&sp, iov, iovcnt, c->max_frame)) != PLUMB_OK)
    return rv;
  while (plumb__split_more(&sp)) {
    size_t used = sp.msgs == 0 ? MQ_FIRST_HDR : 1;
    c->wmsg[0] = sp.msgs == 0 ? MQ_FIRST : MQ_MORE;
    if (sp.msgs == 0)
      plumb__put_le32(c->wmsg + 1, (uint32_t)sp.total);
    used += plumb__split_fill(&sp, c->wmsg + used, c->wsize - used);
    if ((rv = mq_send_msg(c, used, deadline)) != PLUMB_OK)
      return plumb__split_failed(&sp, rv, &c->wbroken);
  }
  return PLUMB_OK;
}

/* Consumes one received message into the reassembly state.  Returns 1 when a
 * whole frame is ready in c->rx, 0 to go on, or an error. */
static int
mq_take(mq_conn *c, const uint8_t *m, size_t n)
{
  if (n < 1)
    return PLUMB_EPROTO;
  switch (m[0]) {
  case MQ_FIRST:
    if (n < MQ_FIRST_HDR)
      return PLUMB_EPROTO;
    return plumb__reasm_first(&c->rx, plumb__get_le32(m + 1), c->max_frame,
                              m + MQ_FIRST_HDR, n - MQ_FIRST_HDR);
  case MQ_MORE:
    return plumb__reasm_more(&c->rx, m + 1, n - 1);
  case MQ_BYE:
    c->peer_gone = 1;
    return 0;
  default:
    return PLUMB_EPROTO;
  }
}

static int
mq_recv_frame(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  mq_conn *c = (mq_conn *)pc;
  /* A blocking caller usually waits for an answer not sent yet: poll
   * first (poll + receive, not receive + poll + receive). */
  int wait_first = deadline != PLUMB_NOWAIT && !c->peer_gone;

  for (;;) {
    ssize_t n;
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    if (wait_first) {
      wait_first = 0;
      n = -1;
      errno = EAGAIN;
    } else {
      n = mq_receive(c->rq, (char *)c->rmsg, c->rsize, NULL);
    }
    if (n >= 0) {
      int r = mq_take(c, c->rmsg, (size_t)n);
      if (r < 0)
        return r;
      if (r == 1) {
        plumb__reasm_take(&c->rx, buf);
        c->delivered = 1;
        return PLUMB_OK;
      }
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return PLUMB_ESYS;
    if (c->peer_gone)
      return PLUMB_ECLOSED;
    if (deadline == PLUMB_NOWAIT && c->delivered) {
      /* An event loop draining us after a frame: the pidfd and wakefd are
       * in conn_fd's set, so a death or shutdown wakes it again anyway. */
      c->delivered = 0;
      return PLUMB_EAGAIN;
    }
    c->delivered = 0;
    int r = mq_wait((int)c->rq, POLLIN, c->pidfd, c->wakefd,
                    deadline == PLUMB_NOWAIT ? PLUMB_NOWAIT : deadline);
    if (r == 0)
      return deadline == PLUMB_NOWAIT ? PLUMB_EAGAIN : PLUMB_ETIMEDOUT;
    if (r == PLUMB_ECLOSED) {
      if (atomic_load(&c->shut))
        return PLUMB_ECLOSED;
      c->peer_gone = 1; /* drain what it sent before dying, then fail */
      continue;
    }
    if (r < 0)
      return r;
  }
}

static int
mq_conn_fd(plumb_conn *pc)
{
  return ((mq_conn *)pc)->epfd;
}

static int
mq_peer(plumb_conn *pc, plumb_peer *out)
{
  mq_conn *c = (mq_conn *)pc;
  struct stat st;

  memset(out, 0, sizeof(*out));
  out->pid = c->peer_pid;
  /* the owner of the client-created queue is the client's euid/egid */
  if (fstat((int)c->rq, &st) == 0) {
    out->uid = st.st_uid;
    out->gid = st.st_gid;
  }
  out->has_creds = 1;
  return PLUMB_OK;
}

static void
mq_shutdown(plumb_conn *pc)
{
  mq_conn *c = (mq_conn *)pc;
  uint64_t one = 1;
  uint8_t bye = MQ_BYE;

  if (atomic_exchange(&c->shut, 1))
    return;
  /* Best effort: tell the peer (a full queue means it will see our pidfd
   * fire when we exit, or its deadline). */
  if (!c->wbroken)
    (void)mq_send(c->wq, (const char *)&bye, 1, 0);
  if (write(c->wakefd, &one, sizeof(one)) < 0) {
    /* the eventfd cannot overflow with one write */
  }
}

/* A killed server cannot unlink its queue: its clients do, on close, if
 * no server holds it and the name is still that queue. */
static void
mq_reclaim_dead_server(mq_conn *c)
{
  struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
  struct stat a, b;
  mqd_t cur;

  if (c->sq == (mqd_t)-1 || c->sname == NULL || poll(&p, 1, 0) != 1 ||
      mq_server_alive(c->sq))
    return;
  cur = mq_open(c->sname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (cur == (mqd_t)-1)
    return;
  if (fstat((int)cur, &a) == 0 && fstat((int)c->sq, &b) == 0 &&
      a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    mq_unlink(c->sname);
  mq_close(cur);
}

static void
mq_close_conn(plumb_conn *pc)
{
  mq_conn *c = (mq_conn *)pc;

  if (!atomic_load(&c->shut)) {
    uint8_t bye = MQ_BYE;
    atomic_store(&c->shut, 1);
    if (!c->wbroken &&
        mq_send(c->wq, (const char *)&bye, 1, 0) < 0 && errno == EAGAIN) {
      /* give a slow reader a moment to make room for the BYE */
      (void)mq_wait((int)c->wq, POLLOUT, c->pidfd, -1,
                    plumb__deadline_ms(100));
      (void)mq_send(c->wq, (const char *)&bye, 1, 0);
    }
  }
  mq_reclaim_dead_server(c);
  mq_conn_free(c);
}

const plumb_transport plumb__tran_mq = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "mq",
  .aliases = NULL,
  .listen = mq_listen,
  .listener_fd = mq_listener_fd,
  .accept = mq_accept,
  .listener_close = mq_listener_close,
  .dial = mq_dial,
  .send = mq_send_frame,
  .recv = mq_recv_frame,
  .conn_fd = mq_conn_fd,
  .peer = mq_peer,
  .shutdown = mq_shutdown,
  .close = mq_close_conn,
};
