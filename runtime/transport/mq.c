/* mq.c - the `mq` transport: POSIX message queues (mq_open(3)).
 *
 * Endpoint `mq:/calc`.  The server creates the well-known queue /calc (mode
 * from the options, 0600 by default) and holds an exclusive flock(2) on it,
 * so a client or a later server can tell a live queue from one left by a
 * crashed server (stale queues are replaced by listen(), refused by dial()).
 * The well-known queue carries only small hello messages; anything else
 * there is dropped.  Each direction of a connection has its own queue, made
 * by its reader with a name that has a getrandom part (O_EXCL): the client
 * makes /calc.<pid>.<hex>.s (server to client), announces it with a hello,
 * and the server makes /calc.<pid>.<hex>.c (client to server) and answers an
 * ACK in .s with that name and a 64-bit secret.  A reader's queue is
 * readable by its owner only (mode 0600; writable by the group or others
 * only as far as the well-known queue is), so nobody else can take what
 * the peer sends; every message carries the secret, so what anybody else
 * writes is dropped.  Each side checks the other's queue owner (fstat: the
 * uid the kernel recorded, which peer() reports), and both names are
 * unlinked as soon as the peer has opened them: from then on the queues
 * vanish with the last descriptor.  Queues of clients that died before the
 * server saw them are swept (at listen and at most every 2 s at accept).
 * A frame is split into messages of the queue's msgsize (the first carries
 * the frame length) and reassembled by the receiver.  A dead peer is
 * noticed through a pidfd (Linux >= 5.3) on the pid announced in the
 * handshake, or a BYE message on orderly close.  The server side never
 * waits: try_send()/flush() keep an unsent rest, write_wait() polls the
 * send queue for POLLOUT.  This file does not raise /proc/sys/fs/mqueue
 * limits; it adapts queue sizes to what the kernel and RLIMIT_MSGQUEUE
 * allow (see docs/TRANSPORTS.md).
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
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "linger.h"
#include "transport.h"

/* Message kinds (first byte of every message). */
enum { MQ_HELLO = 1, MQ_ACK, MQ_NAK, MQ_FIRST, MQ_MORE, MQ_BYE };

#define MQ_VERSION 2u
#define MQ_NAME_MAX 200      /* longest accepted "/name" */
#define MQ_HELLO_SIZE 64     /* msgsize of the well-known queue */
#define MQ_HELLO_MAXMSG 8
#define MQ_SECRET 8          /* u64 after the kind byte of every message */
#define MQ_MORE_HDR 9        /* kind + secret */
#define MQ_FIRST_HDR 13      /* kind + secret + u32 frame length */
#define MQ_HELLO_LEN 18      /* kind, u32 version, u32 pid, u64 name part,
                                flags (MQ_HELLO_OWN_C) */
#define MQ_HELLO_OWN_C 1     /* the client made the .c queue too */
#define MQ_ACK_LEN 21        /* kind, u32 pid, u64 secret, u64 name part */
#define MQ_SWEEP_NS (2000 * 1000000LL)
#define MQ_LIVE_SLICE_NS (50 * 1000000LL) /* dial re-checks the server */
#define MQ_DEPTH 8           /* messages per pair queue, at most */
#define MQ_PAIRS_PAID 24     /* connections RLIMIT_MSGQUEUE must still pay */

typedef struct mq_listener {
  plumb_listener base;
  mqd_t q;
  uint32_t max_frame;
  unsigned mode;     /* of the well-known queue: writers of .c queues */
  int has_group;
  gid_t group;
  int64_t swept;     /* when mq_sweep() last ran */
  plumb_tran_opts opts; /* for the .c queues (mq_msgsize) */
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
  int bye_sent;     /* shutdown() got our BYE into the peer's queue */
  int delivered;    /* the last recv() returned a frame */
  int rq_blocks;    /* client: rq is a blocking descriptor (see recv) */
  int wq_wait;      /* client: wq blocks (mq_send_msg) */
  int rq_wait;      /* server: rq blocks too; a look passes an expired
                       timeout, a linger a short one (linger.h) */
  plumb__linger linger;
  mqd_t selfq;      /* client: rq for writing, shutdown()'s BYE to itself */
  plumb__reasm rx;  /* the frame being received */
  uint64_t secret;  /* in every message, both ways */
  uid_t peer_uid;   /* owner of the peer's queue */
  gid_t peer_gid;
  char *cname;      /* server: our .c queue's name until the client has it */
  plumb__tail tail; /* try_send(): the unsent rest of a frame */
  atomic_uint forged; /* messages dropped: not from our peer */
} mq_conn;

const plumb_transport plumb__tran_mq;

/* "/name": the mq/shm name rule (ipcname.c), at most MQ_NAME_MAX bytes. */
static int
mq_valid_name(const char *addr)
{
  return plumb__ipc_name_check(addr, addr ? strlen(addr) : 0,
                               MQ_NAME_MAX - 1, "mq", "queue") != 0;
}

static void
mq_pair_name(char *out, size_t cap, const char *base, uint32_t pid,
             uint64_t tok, char dir)
{
  snprintf(out, cap, "%s.%u.%016llx.%c", base, pid, (unsigned long long)tok,
           dir);
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

/* Why mq_open of the well-known queue failed with e (plumb__addr_why). */
static void
mq_open_why(int e)
{
  switch (e) {
  case EACCES:
    plumb__addr_why("permission denied on the queue");
    break;
  case ENOSPC:
    plumb__addr_why("the system's limit on queues is reached "
                    "(/proc/sys/fs/mqueue/queues_max)");
    break;
  case ENOMEM:
  case EMFILE:
    plumb__addr_why("this user's RLIMIT_MSGQUEUE or open-file limit is "
                    "used up");
    break;
  case EINVAL:
    plumb__addr_why("queue size over /proc/sys/fs/mqueue/msg_max or "
                    "msgsize_max");
    break;
  case ENOSYS:
    plumb__addr_why("POSIX message queues are not supported by this "
                    "kernel");
    break;
  default:
    break;
  }
}

/* Messages per pair queue at msgsize `size`: as many as RLIMIT_MSGQUEUE
 * pays for while MQ_PAIRS_PAID connections (two queues each) still fit,
 * between 2 and MQ_DEPTH (and msg_max).  The default limit (800 KiB)
 * gives 2; a raised one, deeper queues, so a large frame flows with fewer
 * wake-ups (docs/TRANSPORTS.md, mq). */
static long
mq_depth(long size, long mmax)
{
  struct rlimit rl;
  long d = 2;

  if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0) {
    if (rl.rlim_cur == RLIM_INFINITY)
      d = MQ_DEPTH;
    else /* per message: its text and ~64 bytes of kernel bookkeeping */
      d = (long)(rl.rlim_cur / (2 * MQ_PAIRS_PAID * (rlim_t)(size + 64)));
  }
  if (d > MQ_DEPTH)
    d = MQ_DEPTH;
  if (d > mmax)
    d = mmax;
  return d < 2 ? (2 < mmax ? 2 : mmax) : d;
}

/* Creates a per-client queue, shrinking it until RLIMIT_MSGQUEUE and the
 * /proc/sys/fs/mqueue limits accept it. */
static mqd_t
mq_create_pair_queue(const char *name, int flags, const plumb_tran_opts *o,
                     unsigned mode, int has_group, gid_t group)
{
  long smax = plumb__read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
  long mmax = plumb__read_long("/proc/sys/fs/mqueue/msg_max", 10);
  long size = o && o->mq_msgsize ? (long)o->mq_msgsize : 8192;
  mqd_t q = (mqd_t)-1;

  if (size > smax)
    size = smax;
  if (size < 128)
    size = 128;
  /* MQ_DEPTH messages of `size` (mq_msgsize option, 8192 by default) -
   * a large frame then flows without a wake-up every second message -
   * else 2, halving down to 512 bytes, then a single 512-byte message. */
  long depth = mq_depth(size, mmax);
  for (int last = 0; !last;) {
    struct mq_attr a = { 0 };
    last = size <= 512;
    a.mq_msgsize = size;
    a.mq_maxmsg = last ? 1 : depth;
    q = mq_open(name, flags | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC,
                (mode_t)mode, &a);
    if (q != (mqd_t)-1) {
      /* exactly `mode`, whatever the umask */
      if (fchmod((int)q, (mode_t)mode) < 0 ||
          (has_group && fchown((int)q, (uid_t)-1, group) < 0) ||
          ((flags & O_ACCMODE) == O_RDONLY &&
           flock((int)q, LOCK_EX | LOCK_NB) < 0)) {
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
    if (depth > 2)
      depth = 2 < mmax ? 2 : mmax;
    else
      size /= 2;
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

/* 1 if the peer closed its end of the connection: the reader of wq (the
 * peer) holds LOCK_EX on it while the connection is open, so our shared
 * lock is granted only once it has let go - closed, or exited with its
 * BYE lost in a full queue (a pidfd does not fire for a live process). */
static int
mq_peer_closed(const mq_conn *c)
{
  if (flock((int)c->wq, LOCK_SH | LOCK_NB) < 0)
    return 0;
  flock((int)c->wq, LOCK_UN);
  return 1;
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
  if (c->selfq != (mqd_t)-1)
    mq_close(c->selfq);
  free(c->sname);
  if (c->pidfd >= 0)
    close(c->pidfd);
  if (c->wakefd >= 0)
    close(c->wakefd);
  if (c->epfd >= 0)
    close(c->epfd);
  free(c->rmsg);
  free(c->wmsg);
  plumb__reasm_free(&c->rx);
  plumb__buf_free(&c->tail.buf);
  if (c->cname) {
    mq_unlink(c->cname);
    free(c->cname);
  }
  free(c);
}

static mq_conn *
mq_conn_new(void)
{
  mq_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->base.ops = &plumb__tran_mq;
  c->rq = c->wq = c->sq = c->selfq = (mqd_t)-1;
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
  /* Our lock on the queue we read (taken when we made it) says "still
   * connected" to a sender blocked on it (mq_send_msg); it goes with our
   * descriptor. */
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

/* Removes /<base>.<pid>.<hex>.{c,s} queues whose pid is dead (clients
 * that died before the server saw their hello).  Needs the mqueue file
 * system mounted (/dev/mqueue, or wherever /proc/self/mounts says). */
static void
mq_sweep(const char *name)
{
  const char *base = name + 1;
  size_t bl = strlen(base);
  DIR *d = opendir("/dev/mqueue");
  struct dirent *e;
  int n = 0;

  if (d == NULL) { /* mounted elsewhere, maybe */
    FILE *f = fopen("/proc/self/mounts", "re");
    char line[512], dir[256], type[32];
    while (f && d == NULL && fgets(line, sizeof(line), f))
      if (sscanf(line, "%*s %255s %31s", dir, type) == 2 &&
          strcmp(type, "mqueue") == 0)
        d = opendir(dir);
    if (f)
      fclose(f);
  }
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL && n++ < 100000) {
    unsigned pid;
    char hex[20], dir;
    int used = 0;
    if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '.')
      continue;
    if (sscanf(e->d_name + bl, ".%u.%17[0-9a-f].%c%n", &pid, hex, &dir,
               &used) != 3 ||
        e->d_name[bl + (size_t)used] != '\0' || strlen(hex) != 16 ||
        (dir != 'c' && dir != 's') || plumb__pid_alive((pid_t)pid))
      continue;
    char full[NAME_MAX + 2];
    snprintf(full, sizeof(full), "/%s", e->d_name);
    mq_unlink(full);
  }
  closedir(d);
}

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
    if (errno != EEXIST || attempt > 0) {
      mq_open_why(errno);
      return mq_errno_status(errno);
    }
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
  l->mode = mode;
  if (opts)
    l->opts = *opts;
  l->has_group = opts && opts->has_group;
  l->group = opts ? opts->group : 0;
  strcpy(l->name, addr);
  mq_sweep(l->name);
  l->swept = plumb__now_ns();
  *out = &l->base;
  return PLUMB_OK;
}

static int
mq_listener_fd(plumb_listener *pl)
{
  return (int)((mq_listener *)pl)->q;
}

/* Turns one hello into a connection; failures (a client already gone, a
 * forged hello) return an error and the caller moves on to the next. */
static int
mq_accept_hello(mq_listener *l, const uint8_t *m, ssize_t n, mq_conn **out)
{
  char cname[MQ_NAME_MAX + 40], sname[MQ_NAME_MAX + 40], proc[32];
  uint8_t ack[MQ_ACK_LEN];
  struct stat st;
  uint32_t pid;
  mq_conn *c;
  int rv;

  if (n != MQ_HELLO_LEN || m[0] != MQ_HELLO ||
      plumb__get_le32(m + 1) != MQ_VERSION)
    return PLUMB_EPROTO;
  pid = plumb__get_le32(m + 5);
  if (pid == 0 || pid > INT_MAX)
    return PLUMB_EPROTO;
  mq_pair_name(sname, sizeof(sname), l->name, pid, plumb__get_le64(m + 9), 's');
  if ((c = mq_conn_new()) == NULL)
    return PLUMB_ENOMEM;
  c->wq = mq_open(sname, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  mq_unlink(sname);
  /* The client's queue: readable by its owner alone, whose uid the kernel
   * recorded; the pid the hello claims only if it is that uid's. */
  if (c->wq == (mqd_t)-1 || fstat((int)c->wq, &st) < 0 ||
      (st.st_mode & 0044) != 0) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  c->peer_uid = st.st_uid;
  c->peer_gid = st.st_gid;
  snprintf(proc, sizeof(proc), "/proc/%u", pid);
  if (stat(proc, &st) < 0 || st.st_uid != c->peer_uid) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  c->peer_pid = (pid_t)pid;
  c->pidfd = plumb__pidfd_open(c->peer_pid);
  if (c->pidfd < 0) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  uint64_t tok = 0;
  if (m[17] & MQ_HELLO_OWN_C) {
    /* We are its uid or root: the client made .c as well (0600), so it
     * pays for both queues and shrinks them to what RLIMIT_MSGQUEUE
     * leaves, as it always did. */
    mq_pair_name(cname, sizeof(cname), l->name, pid, plumb__get_le64(m + 9), 'c');
    c->rq = mq_open(cname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    mq_unlink(cname);
    if (c->rq == (mqd_t)-1 || fstat((int)c->rq, &st) < 0 ||
        st.st_uid != c->peer_uid || (st.st_mode & 0077) != 0 ||
        flock((int)c->rq, LOCK_EX | LOCK_NB) < 0) {
      rv = PLUMB_ECLOSED;
      goto fail;
    }
    goto ready;
  }
  /* Ours: readable by us alone, writable as far as the well-known queue */
  tok = plumb__random64();
  mq_pair_name(cname, sizeof(cname), l->name, pid, tok, 'c');
  /* as large as the client made its own: the client decides what its
   * connection costs (RLIMIT_MSGQUEUE counts per user) */
  struct mq_attr sa;
  plumb_tran_opts qo = l->opts;
  if (mq_getattr(c->wq, &sa) == 0 && sa.mq_msgsize > 0)
    qo.mq_msgsize = (uint32_t)sa.mq_msgsize;
  c->rq = mq_create_pair_queue(cname, O_RDONLY, &qo,
                               0600 | (l->mode & 0022), l->has_group,
                               l->group);
  if (c->rq == (mqd_t)-1) {
    rv = errno == ENOMEM ? PLUMB_ENOMEM : PLUMB_ECLOSED;
    goto fail;
  }
  c->cname = strdup(cname); /* NULL: unlinked now, the client fails */
  if (c->cname == NULL)
    mq_unlink(cname);
ready:
  c->secret = plumb__random64();
  if ((rv = mq_conn_setup(c, l->max_frame)) != PLUMB_OK)
    goto fail;
  c->rx.pool = l->opts.rx_pool; /* server-wide receive budget */
  {
    struct mq_attr na = { .mq_flags = 0 };
    c->rq_wait = mq_setattr(c->rq, &na, NULL) == 0;
  }
  ack[0] = MQ_ACK;
  plumb__put_le32(ack + 1, (uint32_t)getpid());
  plumb__put_le64(ack + 5, c->secret);
  plumb__put_le64(ack + 13, tok);
  if (mq_send(c->wq, (const char *)ack, sizeof(ack), 0) < 0) {
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
  int64_t now = plumb__now_ns();
  if (now - l->swept > MQ_SWEEP_NS) {
    l->swept = now;
    mq_sweep(l->name);
  }
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

/* 1 if ACK m (n bytes) is the server's: the queue it names was made by the
 * well-known queue's owner; then c gets that queue, the secret and pid. */
static int
mq_take_ack(mq_conn *c, const char *addr, const uint8_t *m, ssize_t n,
            uid_t srv_uid)
{
  char cname[MQ_NAME_MAX + 40];
  struct stat st;

  if (n != MQ_ACK_LEN || m[0] != MQ_ACK)
    return 0;
  if (c->wq != (mqd_t)-1) { /* we made .c: only the server writes here */
    if (plumb__get_le64(m + 13) != 0)
      return 0;
    c->peer_pid = (pid_t)plumb__get_le32(m + 1);
    c->secret = plumb__get_le64(m + 5);
    c->peer_uid = srv_uid;
    return 1;
  }
  mq_pair_name(cname, sizeof(cname), addr, (uint32_t)getpid(),
               plumb__get_le64(m + 13), 'c');
  mqd_t q = mq_open(cname, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (q == (mqd_t)-1)
    return 0;
  if (fstat((int)q, &st) < 0 || st.st_uid != srv_uid ||
      (st.st_mode & 0044) != 0) {
    mq_close(q);
    return 0;
  }
  mq_unlink(cname); /* the server does too, if we die first */
  c->wq = q;
  c->peer_pid = (pid_t)plumb__get_le32(m + 1);
  c->secret = plumb__get_le64(m + 5);
  c->peer_uid = srv_uid;
  return 1;
}

static int
mq_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
        plumb_conn **out)
{
  char sname[MQ_NAME_MAX + 40];
  uint8_t hello[MQ_HELLO_LEN];
  uint64_t tok = plumb__random64();
  struct stat wk;
  mq_conn *c = NULL;
  mqd_t sq;
  int rv;

  *out = NULL;
  if (!mq_valid_name(addr))
    return PLUMB_EADDR;
  sq = mq_open(addr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (sq == (mqd_t)-1) {
    if (errno != ENOENT) /* ENOENT: no server, the generic reason */
      mq_open_why(errno);
    return mq_errno_status(errno);
  }
  if (!mq_server_alive(sq) || fstat((int)sq, &wk) < 0) {
    rv = PLUMB_ECONNREFUSED;
    goto close_sq;
  }
  if ((c = mq_conn_new()) == NULL) {
    rv = PLUMB_ENOMEM;
    goto close_sq;
  }
  /* Ours to read alone; the server writes it as its owner, root, or (any
   * other uid) through the well-known queue's group. */
  mq_pair_name(sname, sizeof(sname), addr, (uint32_t)getpid(), tok, 's');
  int other = wk.st_uid != geteuid() && wk.st_uid != 0;
  c->rq = mq_create_pair_queue(sname, O_RDONLY, opts, other ? 0620 : 0600,
                               other, wk.st_gid);
  if (c->rq == (mqd_t)-1) {
    rv = mq_errno_status(errno);
    goto unlink;
  }
  if (!other) {
    /* the server is us or root: we make .c too (see mq_accept_hello) */
    char cname[MQ_NAME_MAX + 40];
    mq_pair_name(cname, sizeof(cname), addr, (uint32_t)getpid(), tok, 'c');
    c->wq = mq_create_pair_queue(cname, O_WRONLY, opts, 0600, 0, 0);
    if (c->wq == (mqd_t)-1) {
      rv = mq_errno_status(errno);
      goto unlink;
    }
  }

  /* Hello on the well-known queue, then the server's ACK on ours. */
  hello[0] = MQ_HELLO;
  plumb__put_le32(hello + 1, MQ_VERSION);
  plumb__put_le32(hello + 5, (uint32_t)getpid());
  plumb__put_le64(hello + 9, tok);
  hello[17] = other ? 0 : MQ_HELLO_OWN_C;
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
  /* The receive buffer must be at least the queue's msgsize.  Anything
   * but the server's ACK is dropped. */
  {
    struct mq_attr ra;
    uint8_t *buf;
    if (mq_getattr(c->rq, &ra) < 0) {
      rv = PLUMB_ESYS;
      goto unlink;
    }
    if ((buf = malloc((size_t)ra.mq_msgsize)) == NULL) {
      rv = PLUMB_ENOMEM;
      goto unlink;
    }
    for (;;) {
      ssize_t n = mq_receive(c->rq, (char *)buf, (size_t)ra.mq_msgsize, NULL);
      if (n >= 0) {
        if (mq_take_ack(c, addr, buf, n, wk.st_uid))
          break;
        continue;
      }
      if (errno != EAGAIN && errno != EINTR) {
        free(buf);
        rv = PLUMB_ESYS;
        goto unlink;
      }
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
    free(buf);
  }
  /* A descriptor to write our own queue: shutdown() posts a BYE there to
   * end a receive blocked in mq_timedreceive (-1: it ends within a slice
   * instead). */
  c->selfq = mq_open(sname, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
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
  /* A client waits for its reply in mq_timedreceive itself (one system
   * call, as the raw mechanism), so its queue blocks; a non-blocking
   * look passes a timeout already expired (mq_recv_frame). */
  {
    struct mq_attr na = { .mq_flags = 0 };
    c->rq_blocks = mq_setattr(c->rq, &na, NULL) == 0;
    c->wq_wait = mq_setattr(c->wq, &na, NULL) == 0;
  }
  *out = &c->base;
  return PLUMB_OK;
unlink:
  mq_unlink(sname);
  if (!other) {
    char cname[MQ_NAME_MAX + 40];
    mq_pair_name(cname, sizeof(cname), addr, (uint32_t)getpid(), tok, 'c');
    mq_unlink(cname);
  }
  mq_conn_free(c);
close_sq:
  mq_close(sq);
  return rv;
}

/* ---- frames ---- */

/* One message, never waiting, on a blocking descriptor too (an expired
 * timeout); -1 with errno EAGAIN when the queue is full. */
static int
mq_send_now(mqd_t q, const uint8_t *m, size_t n)
{
  struct timespec ts = { 0, 0 };
  int r = mq_timedsend(q, (const char *)m, n, 0, &ts);
  if (r < 0 && errno == ETIMEDOUT)
    errno = EAGAIN;
  return r;
}

static struct timespec mq_abs_until(int64_t deadline, int64_t cap);

static int
mq_send_msg(mq_conn *c, size_t len, int64_t deadline)
{
  for (;;) {
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    int r;
    if (c->wq_wait) {
      /* a client's blocking queue: room now (no clock read), else wait in
       * mq_timedsend for room itself, a slice at a time (the liveness
       * checks below between slices) */
      r = mq_send_now(c->wq, c->wmsg, len);
      if (r < 0 && errno == EAGAIN && deadline != PLUMB_NOWAIT) {
        struct timespec ts = mq_abs_until(deadline, MQ_LIVE_SLICE_NS);
        r = mq_timedsend(c->wq, (const char *)c->wmsg, len, 0, &ts);
        if (r < 0 && errno == ETIMEDOUT)
          errno = EAGAIN;
      }
    } else {
      r = mq_send(c->wq, (const char *)c->wmsg, len, 0);
    }
    if (r == 0)
      return PLUMB_OK;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return PLUMB_ESYS;
    if (c->wq_wait && deadline != PLUMB_NOWAIT) {
      if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
        return PLUMB_ETIMEDOUT;
      int w = mq_wait((int)c->wq, POLLOUT, c->pidfd, c->wakefd,
                      PLUMB_NOWAIT);
      if (w < 0)
        return w;
      if (w == 0 && mq_peer_closed(c))
        return PLUMB_ECLOSED;
      continue;
    }
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    /* Wait in slices: a peer that closed the connection but lives on is
     * seen by its lock on the queue being gone. */
    int64_t slice = plumb__now_ns() + MQ_LIVE_SLICE_NS;
    int64_t until = deadline == PLUMB_FOREVER || deadline > slice ? slice : deadline;
    r = mq_wait((int)c->wq, POLLOUT, c->pidfd, c->wakefd, until);
    if (r < 0)
      return r;
    if (r == 0 && until == deadline)
      return PLUMB_ETIMEDOUT;
    if (r == 0 && mq_peer_closed(c))
      return PLUMB_ECLOSED;
  }
}

/* Writes a message header (kind + secret) into m; its length. */
static size_t
mq_hdr_in(const mq_conn *c, uint8_t *m, uint8_t kind)
{
  m[0] = kind;
  plumb__put_le64(m + 1, c->secret);
  return MQ_MORE_HDR;
}

static size_t
mq_hdr(mq_conn *c, uint8_t kind)
{
  return mq_hdr_in(c, c->wmsg, kind);
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
  if (plumb__tail_pending(&c->tail)) /* a try_send() rest goes first */
    return PLUMB_EAGAIN;
  if ((rv = plumb__split_begin(&sp, iov, iovcnt, c->max_frame)) != PLUMB_OK)
    return rv;
  while (plumb__split_more(&sp)) {
    size_t used = mq_hdr(c, sp.msgs == 0 ? MQ_FIRST : MQ_MORE);
    if (sp.msgs == 0) {
      plumb__put_le32(c->wmsg + used, (uint32_t)sp.total);
      used = MQ_FIRST_HDR;
    }
    size_t hdr = used;
    used += plumb__split_fill(&sp, c->wmsg + used, c->wsize - used);
    if ((rv = mq_send_msg(c, used, deadline)) != PLUMB_OK) {
      if (rv == PLUMB_EAGAIN && deadline == PLUMB_NOWAIT && sp.msgs > 1) {
        /* try_send(): keep the unsent rest (this message's data too) */
        rv = plumb__tail_keep(&c->tail, &sp, c->wmsg + hdr, used - hdr);
        if (rv != PLUMB_OK)
          c->wbroken = 1;
        return rv;
      }
      return plumb__split_failed(&sp, rv, &c->wbroken);
    }
  }
  return PLUMB_OK;
}

/* Server side, never blocking (transport.h). */
static int
mq_flush(plumb_conn *pc)
{
  mq_conn *c = (mq_conn *)pc;

  while (plumb__tail_pending(&c->tail)) {
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    size_t used = mq_hdr(c, MQ_MORE);
    size_t n = plumb__tail_peek(&c->tail, c->wmsg + used, c->wsize - used);
    int rv = mq_send_msg(c, used + n, PLUMB_NOWAIT);
    if (rv != PLUMB_OK) {
      if (rv != PLUMB_EAGAIN)
        c->wbroken = 1;
      return rv;
    }
    plumb__tail_sent(&c->tail, n);
  }
  return PLUMB_OK;
}

static int
mq_try_send(plumb_conn *pc, const struct iovec *iov, int iovcnt)
{
  int rv = mq_flush(pc);
  return rv == PLUMB_OK ? mq_send_frame(pc, iov, iovcnt, PLUMB_NOWAIT) : rv;
}

static int
mq_write_wait(plumb_conn *pc, int *fd, uint32_t *events)
{
  *fd = (int)((mq_conn *)pc)->wq;
  *events = EPOLLOUT;
  return PLUMB_OK;
}

/* Consumes one received message into the reassembly state.  Returns 1 when a
 * whole frame is ready in c->rx, 0 to go on, or an error.  A message without
 * our secret is not from our peer: dropped. */
static int
mq_take(mq_conn *c, const uint8_t *m, size_t n)
{
  if (n < MQ_MORE_HDR || plumb__get_le64(m + 1) != c->secret) {
    atomic_fetch_add(&c->forged, 1);
    return 0;
  }
  if (c->cname) { /* the client has our queue: its name can go */
    mq_unlink(c->cname);
    free(c->cname);
    c->cname = NULL;
  }
  switch (m[0]) {
  case MQ_FIRST:
    if (n < MQ_FIRST_HDR)
      return PLUMB_EPROTO;
    return plumb__reasm_first(&c->rx, plumb__get_le32(m + MQ_MORE_HDR),
                              c->max_frame, m + MQ_FIRST_HDR,
                              n - MQ_FIRST_HDR);
  case MQ_MORE:
    return plumb__reasm_more(&c->rx, m + MQ_MORE_HDR, n - MQ_MORE_HDR);
  case MQ_BYE:
    c->peer_gone = 1;
    return 0;
  default:
    return PLUMB_EPROTO;
  }
}

/* One message of rq into rmsg (ts: mq_timedreceive, NULL: mq_receive) -
 * or, when the frame being rebuilt has room past its end (rx.slack),
 * straight into that frame: the message lands where the frame's next
 * bytes go (its header overwrites the MQ_MORE_HDR bytes before that
 * point, which are saved and put back), so a MORE message's data is not
 * copied a second time.  Such a message (ours, fitting the frame) is then
 * reported in rmsg as an empty MORE, its data already appended; anything
 * else received in place is copied to rmsg as it came. */
static ssize_t
mq_rcv(mq_conn *c, const struct timespec *ts)
{
  plumb__reasm *r = &c->rx;
  uint8_t *p = c->rmsg;

  r->slack = c->rsize;
  int here = r->in_frame && !r->skip && r->part.len >= MQ_MORE_HDR &&
             r->part.cap >= r->part.len - MQ_MORE_HDR + c->rsize;
  uint8_t save[MQ_MORE_HDR];
  if (here) {
    p = r->part.data + r->part.len - MQ_MORE_HDR;
    memcpy(save, p, MQ_MORE_HDR);
  }
  ssize_t n = ts ? mq_timedreceive(c->rq, (char *)p, c->rsize, NULL, ts)
                 : mq_receive(c->rq, (char *)p, c->rsize, NULL);
  if (!here)
    return n;
  int e = errno;
  if (n >= MQ_MORE_HDR && p[0] == MQ_MORE &&
      plumb__get_le64(p + 1) == c->secret &&
      (size_t)n - MQ_MORE_HDR <= r->want - r->part.len) {
    r->part.len += (size_t)n - MQ_MORE_HDR; /* its data is in place */
    memcpy(p, save, MQ_MORE_HDR);
    return (ssize_t)mq_hdr_in(c, c->rmsg, MQ_MORE);
  }
  if (n >= 0)
    memcpy(c->rmsg, p, (size_t)n);
  memcpy(p, save, MQ_MORE_HDR);
  errno = e;
  return n;
}

/* Bytes of a frame begun but not complete (the server's slowloris
 * check, and rx_level: nothing held means conn_fd() tells of the rest). */
static size_t
mq_rx_partial(plumb_conn *pc)
{
  mq_conn *c = (mq_conn *)pc;
  return c->rx.in_frame ? c->rx.part.len + 1 : 0;
}

/* mq_timed*'s absolute CLOCK_REALTIME timeout `ns` from now. */
static struct timespec
mq_abs_in(int64_t ns)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ns += ts.tv_nsec;
  ts.tv_sec += (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  return ts;
}

/* The same for a monotonic deadline, at most `cap` ns away (PLUMB_NOWAIT:
 * the epoch, already expired: no wait). */
static struct timespec
mq_abs_until(int64_t deadline, int64_t cap)
{
  struct timespec ts = { 0, 0 };
  if (deadline == PLUMB_NOWAIT)
    return ts;
  int64_t wait = cap;
  if (deadline != PLUMB_FOREVER) {
    int64_t left = deadline - plumb__now_ns();
    if (left < wait)
      wait = left < 0 ? 0 : left;
  }
  return mq_abs_in(wait);
}

/* A client's receive on its blocking queue: mq_timedreceive waits for the
 * reply itself, in slices of MQ_LIVE_SLICE_NS; between slices the pidfd
 * and shutdown are looked at (shutdown() also posts a BYE to us, and the
 * server's BYE or death ends the wait the same way). */
static int
mq_recv_blocking(mq_conn *c, plumb_buf *buf, int64_t deadline)
{
  for (;;) {
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    struct timespec ts = mq_abs_until(deadline, MQ_LIVE_SLICE_NS);
    ssize_t n = mq_rcv(c, &ts);
    if (n >= 0) {
      int r = mq_take(c, c->rmsg, (size_t)n);
      if (r < 0)
        return r;
      if (r == 1) {
        plumb__reasm_take(&c->rx, buf);
        return PLUMB_OK;
      }
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != ETIMEDOUT && errno != EAGAIN)
      return PLUMB_ESYS;
    if (c->peer_gone)
      return PLUMB_ECLOSED;
    /* nothing now: is the server still there? */
    int r = mq_wait((int)c->rq, POLLIN, c->pidfd, c->wakefd, PLUMB_NOWAIT);
    if (r == PLUMB_ECLOSED) {
      if (atomic_load(&c->shut))
        return PLUMB_ECLOSED;
      c->peer_gone = 1; /* drain what it sent before dying, then fail */
      continue;
    }
    if (r < 0)
      return r;
    if (r == 1)
      continue;
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
  }
}

static int
mq_recv_frame(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  mq_conn *c = (mq_conn *)pc;

  if (c->rq_blocks)
    return mq_recv_blocking(c, buf, deadline);
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
    } else if (c->rq_wait) {
      /* The server: a look (an expired timeout: no wait), or, right
       * after a frame or inside one, a linger - the worker waits on this
       * client a moment itself (linger.h) */
      int lg = deadline == PLUMB_NOWAIT && !c->peer_gone &&
               (c->delivered || c->rx.in_frame) &&
               plumb__linger_enter(&c->linger);
      struct timespec ts = { 0, 0 };
      if (lg)
        ts = mq_abs_in(PLUMB__LINGER_NS);
      n = mq_rcv(c, &ts);
      if (n < 0 && errno == ETIMEDOUT)
        errno = EAGAIN;
      if (lg)
        plumb__linger_leave(&c->linger, n >= 0);
    } else {
      n = mq_rcv(c, NULL);
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
    if (r == 0 && deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    if (r == 0) /* a waiting server: a client gone without its BYE? */
      return c->sq == (mqd_t)-1 && mq_peer_closed(c) ? PLUMB_ECLOSED
                                                     : PLUMB_ETIMEDOUT;
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
  /* the owner of the peer-created queue (its euid/egid, as the kernel
   * recorded them) */
  if (fstat((int)c->wq, &st) == 0) {
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
  uint8_t bye[MQ_MORE_HDR]; /* not wmsg: a send may be running */

  if (atomic_exchange(&c->shut, 1))
    return;
  /* Best effort: tell the peer (a full queue: close() tries once more,
   * and the peer sees our lock on its queue gone, our pidfd fire when we
   * exit, or its deadline). */
  if (!c->wbroken)
    c->bye_sent = mq_send_now(c->wq, bye, mq_hdr_in(c, bye, MQ_BYE)) == 0;
  /* and a receive of ours blocked in mq_timedreceive (a full queue: it
   * is not blocked, and sees `shut` next) */
  if (c->selfq != (mqd_t)-1)
    (void)mq_send(c->selfq, (const char *)bye, mq_hdr_in(c, bye, MQ_BYE), 0);
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

  size_t n = mq_hdr(c, MQ_BYE); /* close(): nothing else runs */
  if (!atomic_exchange(&c->shut, 1) && !c->wbroken)
    c->bye_sent = mq_send_now(c->wq, c->wmsg, n) == 0;
  if (!c->bye_sent && !c->wbroken && c->sq != (mqd_t)-1) {
    /* a client gives a slow server a moment to make room for the BYE,
     * whether close() or an earlier shutdown() found its queue full (a
     * server never waits for a peer) */
    (void)mq_wait((int)c->wq, POLLOUT, c->pidfd, -1,
                  plumb__deadline_ms(100));
    (void)mq_send_now(c->wq, c->wmsg, n);
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
  .try_send = mq_try_send,
  .flush = mq_flush,
  .write_wait = mq_write_wait,
  .recv = mq_recv_frame,
  .conn_fd = mq_conn_fd,
  .peer = mq_peer,
  .shutdown = mq_shutdown,
  .close = mq_close_conn,
  .rx_partial = mq_rx_partial,
  .rx_level = 1,
};
