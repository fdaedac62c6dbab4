/* sysvmq.c - the `sysvmq` transport: System V message queues.
 *
 * Endpoints `sysvmq:/tmp/calc` (key = ftok(path, 'P'); the server creates the
 * file if it is missing and then removes it again) or `sysvmq:key=0x1234`.
 *
 * The well-known queue (mode and group from the options, 0600 by default)
 * carries only the dial handshake: a beacon (mtype 2, the server's pid) that
 * tells a live server from a queue left by a crashed one, and HELLOs (mtype
 * 1).  The server's waiter thread drains every other message there at once
 * (junk left by anyone is purged) and keeps at most SV_HELLO_MAX hellos; a
 * janitor thread removes junk of the beacon's type and puts the beacon back
 * if someone took it (every 200 ms), and every 2 s the boxes of clients
 * that died before their hello was read.  All traffic of a connection goes
 * over two private queues (IPC_PRIVATE, mode 0600) the server creates for it
 * and gives to the client (msg_perm.uid = the client's uid; the server keeps
 * access as their creator), so only the client's uid and the server's can
 * touch them, and one stuck or flooding client fills only its own queues.
 *
 * Handshake.  The client makes a private "box" queue whose owner it sets to
 * the server's uid (mode 0600: only the two of them), puts a KNOCK in it and
 * sends HELLO {box id, nonce}.  The server reads its credentials from what
 * the kernel recorded - box msg_perm.cuid/cgid (the client's euid/egid) and
 * msg_lspid (the knock's sender) - creates the pair and answers ACK {pair,
 * a 64-bit secret from getrandom} in the box.  The client checks that the
 * pair was created by the well-known queue's creator and belongs to it
 * (mode 0600), and removes the box; a box whose client died is removed by
 * the server.  Every message on the pair carries the secret, so messages by
 * any other process (forged replies, BYEs, leftovers) are dropped.
 *
 * SysV queues cannot be polled: a server connection has a reader thread that
 * blocks in msgrcv() and feeds an inbox with an eventfd; its conn_fd() is an
 * epoll set of that eventfd and a pidfd on the peer.  A client receives
 * "directly": recv() itself blocks in msgrcv() (one wake-up per reply), and a
 * watchdog thread turns its deadline (timerfd), shutdown() and the server's
 * death (pidfd) into a WAKE message to itself.  If a client's conn_fd() is
 * asked for, it switches for good to a reader thread like the server's.
 * The reader thread rebuilds frames itself (into one buffer per connection,
 * no allocation per message) and hands each whole frame to recv().
 * The server side never waits for a peer: try_send()/flush() use IPC_NOWAIT
 * and keep an unsent rest; when the queue is full, a writer thread (started
 * at the first full queue) blocks in msgsnd() for it - the kernel wakes it
 * as the peer makes room - and then makes an eventfd readable, which is
 * write_wait()'s fd: a real wake-up instead of the core's retry timer.
 * Trust: the kernel checks the queues' permission bits on every operation;
 * SysV has no per-process isolation, so a process of the client's own uid
 * can still read or forge its traffic (docs/TRANSPORTS.md, threat model).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "linger.h"
#include "transport.h"

enum {
  SV_HELLO = 1, SV_ACK, SV_NAK, SV_FIRST, SV_MORE, SV_BYE, SV_BEACON,
  SV_WAKE, /* a client's watchdog to its own blocked msgrcv() */
  SV_KNOCK /* the client's mark in its box: msg_lspid is its pid */
};

#define SV_VERSION 2u
#define SV_T_HELLO 1L   /* well-known queue: client -> server */
#define SV_T_BEACON 2L  /* well-known queue: the server's pid */
#define SV_T_DATA 1L    /* private queues and boxes */
#define SV_T_KNOCK 3L   /* in a box */
/* A client's box carries this byte limit (set with its owner, in one
 * IPC_SET): how the janitor knows a box whose client died before knocking
 * - empty, never sent to, older than SV_BOX_ABANDON_S - from anyone
 * else's private queue.  Far above what a box holds (a knock, an ack). */
#define SV_BOX_QBYTES 12289UL
#define SV_BOX_ABANDON_S 5
/* A connection's pair is marked by its byte limit too: the kernel's
 * default rounded down to a multiple of 1024, minus one (16383 for the
 * usual 16384): qbytes % 1024 == 1023 (sv_is_pair_mark).  The server
 * stamps each queue of a pair at once (sends and receives one message
 * itself), so msg_lspid and msg_lrpid always name a process that used it
 * last; a marked pair whose last sender and last receiver are both dead
 * belongs to nobody (a server killed after its client's BYE, or both
 * killed) and any janitor of the same uid removes it (sv_sweep_boxes). */
#define SV_PAIR_MOD 1024UL
/* A private queue is made with this mode and gets 0600 in its first
 * IPC_SET: one found in this mode, empty, never used and old was left by
 * a process killed between msgget() and IPC_SET (swept like a box). */
#define SV_MODE_MAKING 0400
#define SV_HDR 16       /* kind, pad[3], u32 aux, u64 secret (or nonce) */
#define SV_PRE (sizeof(long) + SV_HDR) /* mtype + header (sv_rcv) */
#define SV_MIN_CHUNK 256
#define SV_HELLO_MAX 256       /* hellos waiting for accept() */
#define SV_BEACON_SCAN 16      /* messages looked at for the beacon */
#define SV_JANITOR_MS 200      /* the well-known queue's mtype 2 checked */
#define SV_THREAD_STACK (256u * 1024u)
#define SV_LEND_IDLE_NS (2 * 1000000LL) /* a lent pair not used: taken back */
/* The reader's look at a lent pair: a linger is ended at the first look
 * after PLUMB__LINGER_NS (so it lasts that to 1 ms more).  Looking every
 * 200 us cost the server 1.7 us of CPU per call on one CPU (9.2 against
 * 7.5); every 5 ms gained nothing more. */
#define SV_LEND_LOOK_NS (1000000LL)
/* A sender to a full queue yields and retries this long before it sleeps
 * (sv_send_msg). */
#define SV_SEND_YIELD_NS (100 * 1000LL)
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

/* Messages a reader thread received for one reader, in order. */
typedef struct sv_inbox {
  pthread_mutex_t mu;
  sv_msg *head, *tail;
  size_t bytes, limit;
  unsigned count;
  int evfd;      /* readable while messages wait or closed */
  int signalled;
  pthread_cond_t taken; /* a connection's frame was taken, or closed */
  int closed;    /* nothing more will arrive: fail with `status` */
  int status;
} sv_inbox;

typedef struct sv_hub sv_hub;

typedef struct sv_conn {
  plumb_conn base;
  sv_hub *hub;       /* server side: the listener's hub; NULL on clients */
  struct sv_conn *next;
  int rq, wq;        /* the private pair: we read rq, write wq */
  atomic_int boxq;   /* server: the client's box until it is removed */
  int wkq;           /* client: the well-known queue */
  uint64_t secret;   /* in every message of the pair */
  pid_t peer_pid;
  uid_t peer_uid;
  gid_t peer_gid;
  int has_creds;
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
  /* Reader thread mode: the reader rebuilds frames in rx itself and hands
   * each whole one over (1: moved to `ready`, with its share of the
   * receive budget in ready_charged) or an error (< 0) for recv(); 0 =
   * nothing.  Under in.mu.  After a frame the reader goes straight back
   * to msgrcv(): it waits on in.taken only when the next frame is whole
   * while the last is still not taken (so at most one whole frame and one
   * partial one are held per connection, both charged), or after an
   * error.  One wake-up per call saved against a hand-over that waits. */
  int r_ready;
  plumb_buf ready;
  size_t ready_charged;
  /* Server linger (linger.h), under in.mu.  After handing a whole frame
   * over, the reader may lend the pair's receive side (and rx, rbuf) to
   * the worker serving the connection (lent = 1, holding a linger slot)
   * and wait on in.taken: that worker then receives the next frames
   * itself in a blocking msgrcv() - the raw mechanism's one system call
   * per request, no thread hand-off, no epoll - and the reader bounds
   * each such wait: at its first look (SV_LEND_LOOK_NS apart) after
   * linger_until it sends a WAKE (aux = linger_seq) to our own queue.  The worker gives the queue back (lent
   * = 0, the reader signalled) when a wait ends without a frame. */
  int lent;
  int lingering;     /* the worker is (about to be) in msgrcv() */
  int wake_sent;     /* for this linger_seq */
  uint32_t linger_seq;
  int64_t linger_until;
  plumb__linger linger;
  /* try_send(): what did not fit in the full queue - one built message
   * (pend: long mtype + text, pend_len text bytes; 0 = none) and the rest
   * of the frame after it (tail).  flush() sends them without waiting; if
   * the queue is still full it hands them to the writer thread, which
   * blocks in msgsnd() until the peer makes room and then makes wevfd
   * readable: write_wait()'s real wake-up.  Owned by the writer while
   * w_busy (under wmu), by the core's flush() otherwise. */
  plumb__tail tail;
  uint8_t *pend;
  size_t pend_len;
  pthread_mutex_t wmu;
  pthread_cond_t wcv;
  int w_busy, w_stop, w_status;
  int wevfd;
  pthread_t wthr;
  int wthr_on;
  atomic_uint forged; /* messages dropped: not from our peer */
  pthread_t thr;     /* reader thread (servers; clients after conn_fd()) */
  int thr_on;
  void *rbuf;        /* receive buffer (long mtype + text) */
  int direct;        /* client: recv() reads rq itself (see top) */
  int tfd, wakefd;
  atomic_int waiting; /* a recv() is (about to be) blocked in msgrcv() */
  /* Direct mode, told by the watchdog without a system call in recv():
   * the deadline the timerfd is armed for (0 = none, or it fired) and
   * whether the server's pidfd fired.  Each is stored before the
   * watchdog looks at `waiting`, which recv() stores before it looks at
   * them: one of the two sees the other (seq_cst), so a blocked msgrcv()
   * is always woken or never entered. */
  _Atomic int64_t armed;
  atomic_int srv_died;
  pthread_t wd;
  int wd_on;
} sv_conn;

struct sv_hub {
  plumb_listener base;
  int qid;           /* the well-known queue */
  char *made_path;   /* ftok file we created, removed with the queue */
  uint32_t max_frame;
  plumb__rx_pool *rx_pool; /* for the connections (NULL: none) */
  pthread_t thr;
  int thr_on;
  void *rbuf;        /* the waiter's receive buffer */
  size_t rcap;
  pthread_t jan;      /* the janitor (see hub_janitor) */
  int jan_on;
  int jan_fd;        /* eventfd: readable = stop */
  pthread_mutex_t mu;
  int refs;          /* the listener + accepted connections */
  int listening;
  sv_inbox hellos;   /* its evfd is listener_fd() */
  sv_conn *conns;
};

const plumb_transport plumb__tran_sysvmq;

/* ---- small helpers ---- */

/* Largest message text: at most msgmax, and two must fit in the queue so a
 * sender and a receiver can overlap. */
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

/* Fault injection for tests/hostile: PLUMB__TEST_SYSVMQ_DIE=where kills
 * this process there ("making": between a private queue's msgget() and its
 * IPC_SET; "box": a dialling client between making its box and knocking).
 * Never set outside a test. */
static void
sv_test_die(const char *where)
{
  const char *e = getenv("PLUMB__TEST_SYSVMQ_DIE");
  if (e != NULL && strcmp(e, where) == 0)
    raise(SIGKILL);
}

/* qbytes that mark a connection's pair (see SV_PAIR_MOD). */
static int
sv_is_pair_mark(unsigned long qbytes)
{
  return qbytes % SV_PAIR_MOD == SV_PAIR_MOD - 1;
}

/* A new private queue only `uid` (and we, its creator) may use.  qbytes
 * != 0 also sets its byte limit, in the same IPC_SET (a client's box is
 * marked so: SV_BOX_QBYTES); qbytes == 1 marks a pair (SV_PAIR_MOD).  It
 * is made in SV_MODE_MAKING and given mode 0600 by that IPC_SET. */
static int
sv_private_queue(uid_t uid, gid_t gid, unsigned long qbytes)
{
  struct msqid_ds ds;
  int q = msgget(IPC_PRIVATE, IPC_CREAT | SV_MODE_MAKING);
  if (q < 0)
    return -1;
  sv_test_die("making");
  if (msgctl(q, IPC_STAT, &ds) < 0)
    goto fail;
  if (qbytes == 1) {
    unsigned long d = ds.msg_qbytes;
    qbytes = d >= 2 * SV_PAIR_MOD ? d - d % SV_PAIR_MOD - 1 : 0;
    if (qbytes == 0)
      qbytes = d; /* a tiny system limit: unmarked, never swept */
  }
  ds.msg_perm.uid = uid;
  ds.msg_perm.gid = gid;
  ds.msg_perm.mode = 0600;
  if (qbytes != 0)
    ds.msg_qbytes = qbytes;
  if (msgctl(q, IPC_SET, &ds) < 0)
    goto fail;
  return q;
fail:
  msgctl(q, IPC_RMID, NULL);
  return -1;
}

/* The server's stamp on a new queue of a pair: one message sent and taken
 * back, so the kernel records us as its last sender and receiver. */
static int
sv_stamp(int q)
{
  struct {
    long mtype;
    uint8_t text[SV_HDR];
  } m = { SV_T_DATA, { SV_WAKE } };
  if (msgsnd(q, &m, sizeof(m.text), IPC_NOWAIT) < 0 ||
      msgrcv(q, &m, sizeof(m.text), SV_T_DATA, IPC_NOWAIT | MSG_NOERROR) < 0)
    return -1;
  return 0;
}

/* 1 if queue q was created by `creator` and belongs to `owner` alone. */
static int
sv_queue_is(int q, uid_t creator, uid_t owner)
{
  struct msqid_ds ds;
  return q >= 0 && msgctl(q, IPC_STAT, &ds) == 0 &&
         ds.msg_perm.cuid == creator && ds.msg_perm.uid == owner &&
         (ds.msg_perm.mode & 0077) == 0;
}

/* "key=N" (N in C syntax, not 0) or a path; *path gets the path or NULL. */
static int
sv_parse(const char *addr, key_t *key, const char **path)
{
  *path = NULL;
  if (addr == NULL || addr[0] == '\0') {
    plumb__addr_why("missing path or key (expected sysvmq:/PATH or "
                    "sysvmq:key=N)");
    return PLUMB_EADDR;
  }
  if (strncmp(addr, "key=", 4) == 0) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(addr + 4, &end, 0);
    if (end == addr + 4 || *end != '\0' || addr[4] == '-' ||
        addr[4] == '+' || addr[4] == ' ') {
      plumb__addr_why("key '%s' is not a number (decimal, 0x hex or 0 "
                      "octal)", addr + 4);
      return PLUMB_EADDR;
    }
    if (errno || v > UINT32_MAX) {
      plumb__addr_why("key %s out of range (1 to 0xffffffff)", addr + 4);
      return PLUMB_EADDR;
    }
    if (v == 0) {
      plumb__addr_why("key 0 is IPC_PRIVATE, not a key clients can find");
      return PLUMB_EADDR;
    }
    *key = (key_t)(uint32_t)v;
    return PLUMB_OK;
  }
  if (strlen(addr) >= PATH_MAX) {
    plumb__addr_why("path longer than %d bytes", PATH_MAX - 1);
    return PLUMB_EADDR;
  }
  if (addr[strlen(addr) - 1] == '/') {
    plumb__addr_why("path ends with '/': the key file needs a file name");
    return PLUMB_EADDR;
  }
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

/* Looks at the first SV_BEACON_SCAN messages (MSG_COPY: nothing is taken)
 * for beacons.  Returns 1 if one names `want` (or, want 0, a live
 * process), 0 if there are beacons but none such, -2 if there is none,
 * -1 if MSG_COPY is not available (then liveness cannot be told).  *first
 * gets the first beacon's pid (0 if none). */
static int
sv_beacons(int qid, pid_t want, pid_t *first)
{
  struct {
    long mtype;
    uint8_t text[SV_HDR];
  } m;
  int seen = 0;

  if (first)
    *first = 0;
  for (int i = 0; i < SV_BEACON_SCAN; i++) {
    ssize_t n = msgrcv(qid, &m, sizeof(m.text), i,
                       MSG_COPY | IPC_NOWAIT | MSG_NOERROR);
    if (n < 0) {
      if (errno == ENOSYS)
        return -1;
      break;
    }
    if (m.mtype != SV_T_BEACON || n < SV_HDR || m.text[0] != SV_BEACON)
      continue;
    pid_t p = (pid_t)plumb__get_le32(m.text + 4);
    if (first && !seen)
      *first = p;
    seen = 1;
    if (want ? p == want : plumb__pid_alive(p))
      return 1;
  }
  return seen ? 0 : -2;
}

/* Sends one prepared message (buf = long mtype + text), waiting while the
 * queue is full: first yielding the CPU and trying again for up to
 * SV_SEND_YIELD_NS - a reader that is draining the queue makes room within
 * microseconds, and on one CPU the yield is what lets it run - then
 * sleeping with a doubling backoff (20 us .. 2 ms).  SysV queues cannot be
 * polled for room, and a blocking msgsnd() could not be bounded by the
 * deadline.  Watches pidfd, *shut and the inbox's close. */
static int
sv_send_msg(int qid, void *buf, size_t textlen, int pidfd, atomic_int *shut,
            sv_inbox *in, int64_t deadline)
{
  long backoff_us = 20;
  int64_t yield_until = 0;
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
      return sv_errno_status(errno) == PLUMB_EPERM ? PLUMB_EPERM
                                                    : PLUMB_ESYS;
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    int64_t now = plumb__now_ns();
    if (deadline != PLUMB_FOREVER && now >= deadline)
      return PLUMB_ETIMEDOUT;
    if (yield_until == 0)
      yield_until = now + SV_SEND_YIELD_NS;
    if (now < yield_until) {
      sched_yield();
      continue;
    }
    int64_t wait = backoff_us * 1000;
    if (deadline != PLUMB_FOREVER && deadline - now < wait)
      wait = deadline - now;
    struct timespec ts = { wait / 1000000000, wait % 1000000000 };
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    if (ppoll(&p, 1, &ts, NULL) > 0)
      return PLUMB_ECLOSED; /* the peer died */
    if (backoff_us < 2000)
      backoff_us *= 2;
  }
}

/* A control message (n bytes of extra data) to mtype `to` of qid. */
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
  plumb__put_le64(m.text + 8, id);
  if (n)
    memcpy(m.text + SV_HDR, extra, n);
  return sv_send_msg(qid, &m, SV_HDR + n, -1, NULL, NULL, deadline);
}

/* Removes queue *q (if any) once. */
static void
sv_rmid(atomic_int *q)
{
  int id = atomic_exchange(q, -1);
  if (id >= 0)
    msgctl(id, IPC_RMID, NULL);
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
  /* monotonic: the lend wait (sv_lend) is timed with plumb__now_ns() */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&ib->taken, &ca);
  pthread_condattr_destroy(&ca);
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
  ib->count = 0;
}

static void
sv_inbox_fini(sv_inbox *ib)
{
  if (ib->evfd < 0)
    return;
  sv_inbox_drop(ib);
  close(ib->evfd);
  ib->evfd = -1;
  pthread_cond_destroy(&ib->taken);
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
    ib->count++;
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
  pthread_cond_broadcast(&ib->taken);
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
    ib->count--;
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

/* Reads one message (blocking; msgtyp/flags as for msgrcv) into a new
 * sv_msg; NULL with errno on failure. */
static sv_msg *
sv_receive(int qid, long t, int flags, void *buf, size_t cap)
{
  ssize_t n;
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  n = msgrcv(qid, buf, cap, t, MSG_NOERROR | flags);
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
  m->id = plumb__get_le64(text + 8);
  m->n = (size_t)n - SV_HDR;
  memcpy(m->data, text + SV_HDR, m->n);
  return m;
}

/* Starts fn(arg) on a thread with a small stack. */
static int
sv_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
  pthread_attr_t a;
  int rv;

  if (pthread_attr_init(&a) != 0)
    return -1;
  pthread_attr_setstacksize(&a, SV_THREAD_STACK);
  rv = pthread_create(t, &a, fn, arg);
  pthread_attr_destroy(&a);
  return rv == 0 ? 0 : -1;
}

/* Joins a thread that is on its way out (its queue removed, or woken);
 * cancels it only if it is not gone within a second.  Threads are not
 * cancelled as a rule: one unwound by a cancel leaves AddressSanitizer's
 * stack poisoning on its (cached, reused) stack. */
static void
sv_join(pthread_t t)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 1;
  if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
    pthread_cancel(t);
    pthread_join(t, NULL);
  }
}

/* ---- connections (both sides) ---- */

static sv_conn *
sv_conn_new(size_t chunk, uint32_t max_frame)
{
  sv_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->base.ops = &plumb__tran_sysvmq;
  c->rq = c->wq = c->wkq = -1;
  atomic_init(&c->boxq, -1);
  c->pidfd = c->epfd = c->tfd = c->wakefd = -1;
  c->in.evfd = -1;
  c->wevfd = -1;
  c->chunk = chunk;
  c->max_frame = max_frame ? max_frame : PLUMB_DEFAULT_MAX_FRAME;
  c->wmsg = malloc(sizeof(long) + chunk);
  c->pend = malloc(sizeof(long) + chunk);
  c->rbuf = malloc(sizeof(long) + chunk + 64);
  /* the inbox carries no messages on a connection (the reader rebuilds
   * frames itself): no byte limit */
  if (c->wmsg == NULL || c->pend == NULL || c->rbuf == NULL ||
      sv_inbox_init(&c->in, 0) != 0) {
    free(c->wmsg);
    free(c->pend);
    free(c->rbuf);
    free(c);
    return NULL;
  }
  pthread_mutex_init(&c->wmu, NULL);
  pthread_cond_init(&c->wcv, NULL);
  return c;
}

/* The pair's message size, if smaller than the buffers were made for (the
 * well-known queue's): never larger. */
static void
sv_fit_chunk(sv_conn *c, size_t chunk)
{
  if (chunk < c->chunk)
    c->chunk = chunk;
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
  if (c->lent) { /* closed while lent: the linger slot goes back */
    c->lent = 0;
    plumb__linger_leave(&c->linger, 0);
  }
  if (c->pidfd >= 0)
    close(c->pidfd);
  if (c->epfd >= 0)
    close(c->epfd);
  if (c->tfd >= 0)
    close(c->tfd);
  if (c->wakefd >= 0)
    close(c->wakefd);
  if (c->wevfd >= 0)
    close(c->wevfd);
  sv_inbox_fini(&c->in);
  plumb__reasm_free(&c->rx);
  plumb__rx_release(c->rx.pool, &c->ready_charged);
  plumb__buf_free(&c->ready);
  plumb__buf_free(&c->tail.buf);
  pthread_cond_destroy(&c->wcv);
  pthread_mutex_destroy(&c->wmu);
  free(c->wmsg);
  free(c->pend);
  free(c->rbuf);
  free(c);
}

/* 1 if a message on our pair is really from our peer (or ourselves). */
static int
sv_genuine(sv_conn *c, const uint8_t *text, ssize_t n)
{
  if (n >= SV_HDR && plumb__get_le64(text + 8) == c->secret)
    return 1;
  atomic_fetch_add(&c->forged, 1);
  return 0;
}

/* Fills msg (long mtype + text) with the header of a data message. */
static uint8_t *
sv_data_hdr(sv_conn *c, uint8_t *msg, uint8_t kind, uint32_t total)
{
  uint8_t *text = msg + sizeof(long);
  long mtype = SV_T_DATA;
  memcpy(msg, &mtype, sizeof(long));
  memset(text, 0, SV_HDR);
  text[0] = kind;
  plumb__put_le32(text + 4, total);
  plumb__put_le64(text + 8, c->secret);
  return text;
}

static int
sv_send_frame(plumb_conn *pc, const struct iovec *iov, int iovcnt,
              int64_t deadline)
{
  sv_conn *c = (sv_conn *)pc;
  plumb__split sp;
  int rv;

  if (atomic_load(&c->shut) || c->wbroken)
    return PLUMB_ECLOSED;
  if (c->pend_len || plumb__tail_pending(&c->tail))
    return PLUMB_EAGAIN; /* a try_send() rest goes first */
  if ((rv = plumb__split_begin(&sp, iov, iovcnt, c->max_frame)) != PLUMB_OK)
    return rv;
  while (plumb__split_more(&sp)) {
    uint8_t *text = sv_data_hdr(c, c->wmsg,
                                sp.msgs == 0 ? SV_FIRST : SV_MORE,
                                (uint32_t)sp.total);
    size_t used = SV_HDR + plumb__split_fill(&sp, text + SV_HDR,
                                             c->chunk - SV_HDR);
    rv = sv_send_msg(c->wq, c->wmsg, used, c->pidfd, &c->shut, &c->in,
                     deadline);
    if (rv != PLUMB_OK) {
      if (rv == PLUMB_EAGAIN && deadline == PLUMB_NOWAIT) {
        /* try_send(): the frame is taken - the built message waits in
         * pend, the rest of the frame in tail (flush() sends both) */
        uint8_t *t = c->pend;
        c->pend = c->wmsg;
        c->wmsg = t;
        c->pend_len = used;
        rv = plumb__tail_keep(&c->tail, &sp, text + SV_HDR, 0);
        if (rv != PLUMB_OK)
          c->wbroken = 1;
        return rv;
      }
      return plumb__split_failed(&sp, rv, &c->wbroken);
    }
  }
  return PLUMB_OK;
}

/* One built message to our peer, waiting until the queue has room (the
 * writer thread).  A server blocks in msgsnd() - the kernel wakes it as
 * soon as there is room, and close() removes the pair first (EIDRM), so
 * it never needs cancelling; a client (try_send() on a client connection:
 * only tests do that) cannot remove the server's queue and polls instead,
 * seeing close() through c->shut. */
static int
sv_send_blocking(sv_conn *c, void *msg, size_t textlen)
{
  int r;

  if (c->hub == NULL)
    return sv_send_msg(c->wq, msg, textlen, c->pidfd, &c->shut, &c->in,
                       PLUMB_FOREVER);
  for (;;) {
    if (atomic_load(&c->shut) || atomic_load(&c->peer_bye))
      return PLUMB_ECLOSED;
    r = msgsnd(c->wq, msg, textlen, 0);
    if (r == 0)
      return PLUMB_OK;
    if (errno == EINTR)
      continue;
    if (errno == EIDRM || errno == EINVAL)
      return PLUMB_ECLOSED;
    return sv_errno_status(errno) == PLUMB_EPERM ? PLUMB_EPERM : PLUMB_ESYS;
  }
}

/* Sends what try_send() kept - pend, then the tail one message at a time
 * (each built in pend before it goes) - waiting for room (block) or not
 * (PLUMB_EAGAIN with the rest still kept). */
static int
sv_push(sv_conn *c, int block)
{
  for (;;) {
    if (c->pend_len == 0) {
      if (!plumb__tail_pending(&c->tail))
        return PLUMB_OK;
      uint8_t *text = sv_data_hdr(c, c->pend, SV_MORE, 0);
      size_t n = plumb__tail_peek(&c->tail, text + SV_HDR,
                                  c->chunk - SV_HDR);
      plumb__tail_sent(&c->tail, n);
      c->pend_len = SV_HDR + n;
    }
    int rv = block ? sv_send_blocking(c, c->pend, c->pend_len)
                   : sv_send_msg(c->wq, c->pend, c->pend_len, c->pidfd,
                                 &c->shut, &c->in, PLUMB_NOWAIT);
    if (rv != PLUMB_OK)
      return rv;
    c->pend_len = 0;
  }
}

/* The writer thread (server side, started at the first full queue): sends
 * what flush() hands it, then makes wevfd readable. */
static void *
writer_main(void *arg)
{
  sv_conn *c = arg;
  uint64_t one = 1;
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  pthread_mutex_lock(&c->wmu);
  for (;;) {
    while (!c->w_busy && !c->w_stop)
      pthread_cond_wait(&c->wcv, &c->wmu);
    if (c->w_stop)
      break;
    pthread_mutex_unlock(&c->wmu);
    int rv = sv_push(c, 1);
    pthread_mutex_lock(&c->wmu);
    c->w_status = rv;
    c->w_busy = 0;
    if (write(c->wevfd, &one, sizeof(one)) < 0) {
      /* cannot overflow: flush() reads it before the next hand-off */
    }
  }
  pthread_mutex_unlock(&c->wmu);
  return NULL;
}

/* The queue is full: the writer thread takes over the kept rest. */
static int
sv_hand_off(sv_conn *c)
{
  if (!c->wthr_on) {
    if (c->wevfd < 0 &&
        (c->wevfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
      return PLUMB_ESYS;
    if (sv_thread(&c->wthr, writer_main, c) != 0)
      return PLUMB_ESYS;
    c->wthr_on = 1;
  }
  pthread_mutex_lock(&c->wmu);
  c->w_busy = 1;
  pthread_cond_signal(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  return PLUMB_EAGAIN;
}

/* Server side, never blocking (transport.h). */
static int
sv_flush(plumb_conn *pc)
{
  sv_conn *c = (sv_conn *)pc;
  int rv;

  if (c->wthr_on) {
    uint64_t v;
    pthread_mutex_lock(&c->wmu);
    int busy = c->w_busy;
    rv = c->w_status;
    if (!busy && read(c->wevfd, &v, sizeof(v)) < 0) {
      /* EAGAIN: nothing handed off since the last look */
    }
    pthread_mutex_unlock(&c->wmu);
    if (busy)
      return PLUMB_EAGAIN;
    if (rv != PLUMB_OK) { /* sticky: the pair holds half a frame */
      c->wbroken = 1;
      return rv;
    }
  }
  if (atomic_load(&c->shut))
    return PLUMB_ECLOSED;
  rv = sv_push(c, 0);
  if (rv == PLUMB_EAGAIN)
    rv = sv_hand_off(c);
  if (rv != PLUMB_OK && rv != PLUMB_EAGAIN)
    c->wbroken = 1;
  return rv;
}

static int
sv_try_send(plumb_conn *pc, const struct iovec *iov, int iovcnt)
{
  sv_conn *c = (sv_conn *)pc;
  int rv = sv_flush(pc);

  if (rv != PLUMB_OK)
    return rv;
  rv = sv_send_frame(pc, iov, iovcnt, PLUMB_NOWAIT);
  /* nothing went out: the frame stays the caller's, the pair usable */
  if (rv == PLUMB_EAGAIN && !c->wbroken)
    return PLUMB_EAGAIN;
  return rv;
}

/* The writer thread's eventfd once it exists (it does whenever flush() said
 * PLUMB_EAGAIN); before that there is nothing to wait for. */
static int
sv_write_wait(plumb_conn *pc, int *fd, uint32_t *events)
{
  sv_conn *c = (sv_conn *)pc;

  *fd = c->wevfd;
  *events = EPOLLIN;
  if (c->wevfd < 0) {
    *events = 0;
    return PLUMB_ENOTSUP; /* the core retries on its timer */
  }
  return PLUMB_OK;
}

/* msgrcv() of our queue into rbuf - or, when the frame being rebuilt has
 * room past its end (rx.slack), straight into that frame: the message
 * text lands where the frame's next bytes go (its mtype and header
 * overwrite the SV_PRE bytes before that point, which are saved and put
 * back), so a MORE message's data is not copied a second time.  Such a
 * message (genuine, fitting the frame) is then reported in rbuf as an
 * empty MORE, its data already appended; anything else received in place
 * is copied to rbuf as it came.  Returns what msgrcv() returns. */
static ssize_t
sv_rcv(sv_conn *c, int flags)
{
  size_t cap = c->chunk + 64;
  plumb__reasm *r = &c->rx;

  r->slack = sizeof(long) + cap;
  if (!r->in_frame || r->skip || r->part.len < SV_PRE ||
      r->part.cap < r->part.len - SV_PRE + sizeof(long) + cap)
    return msgrcv(c->rq, c->rbuf, cap, SV_T_DATA, flags | MSG_NOERROR);
  uint8_t *p = r->part.data + r->part.len - SV_PRE;
  uint8_t save[SV_PRE];
  memcpy(save, p, SV_PRE);
  ssize_t n = msgrcv(c->rq, p, cap, SV_T_DATA, flags | MSG_NOERROR);
  int e = errno;
  if (n >= SV_HDR) {
    const uint8_t *text = p + sizeof(long);
    size_t m = (size_t)n - SV_HDR;
    if (text[0] == SV_MORE && plumb__get_le64(text + 8) == c->secret &&
        m <= r->want - r->part.len) {
      r->part.len += m; /* its data is where it belongs */
      memcpy(p, save, SV_PRE);
      (void)sv_data_hdr(c, c->rbuf, SV_MORE, 0);
      return SV_HDR;
    }
  }
  if (n >= 0)
    memcpy(c->rbuf, p, sizeof(long) + (size_t)n);
  memcpy(p, save, SV_PRE);
  errno = e;
  return n;
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

/* Direct-mode receive (clients): reads our queue in this thread. */
static int
sv_recv_direct(sv_conn *c, plumb_buf *buf, int64_t deadline)
{
  const uint8_t *text = (const uint8_t *)c->rbuf + sizeof(long);

  for (;;) {
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    /* A blocking caller waits for a reply not sent yet: straight to the
     * blocking msgrcv() (one system call per reply, as the raw mechanism),
     * after a look for a reply already there only if the last receive
     * found its wait cut short (a WAKE, a stray message). */
    ssize_t n = -1;
    errno = ENOMSG;
    if (deadline == PLUMB_NOWAIT || c->peer_dead ||
        atomic_load(&c->peer_bye))
      n = sv_rcv(c, IPC_NOWAIT);
    if (n < 0 && errno == ENOMSG) {
      if (atomic_load(&c->peer_bye) || c->peer_dead)
        return PLUMB_ECLOSED;
      if (deadline == PLUMB_NOWAIT) {
        /* a non-blocking look also tells a dead peer (a client checking
         * an idle connection before it sends) */
        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
        if (poll(&p, 1, 0) == 1) {
          c->peer_dead = 1;
          continue;
        }
        return PLUMB_EAGAIN;
      }
      if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
        return PLUMB_ETIMEDOUT;
      /* Block: announce it, arm the deadline (only if the timer is not
       * already armed for an earlier one: a timer firing early costs a
       * WAKE and a re-arm here, once per timeout, not a system call per
       * call), re-check, then sleep in msgrcv until a reply or the
       * watchdog's WAKE. */
      atomic_store(&c->waiting, 1);
      int64_t armed = atomic_load(&c->armed);
      if (deadline != PLUMB_FOREVER && (armed == 0 || deadline < armed)) {
        struct itimerspec its = { { 0, 0 },
                                  { deadline / 1000000000,
                                    deadline % 1000000000 } };
        atomic_store(&c->armed, deadline);
        timerfd_settime(c->tfd, TFD_TIMER_ABSTIME, &its, NULL);
      }
      if (atomic_load(&c->shut) || atomic_load(&c->srv_died)) {
        atomic_store(&c->waiting, 0);
        if (!atomic_load(&c->shut)) {
          c->peer_dead = 1; /* drain what it sent, then fail */
          continue;
        }
        return PLUMB_ECLOSED;
      }
      n = sv_rcv(c, 0);
      atomic_store(&c->waiting, 0);
    }
    if (n < 0) {
      if (errno == EINTR || errno == ENOMSG)
        continue;
      if (errno == EIDRM || errno == EINVAL)
        return PLUMB_ECLOSED; /* the server removed the pair */
      return PLUMB_ESYS;
    }
    if (!sv_genuine(c, text, n) || text[0] == SV_WAKE)
      continue; /* WAKE: the loop re-checks why */
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

/* Sends WAKE to our own queue so a blocked msgrcv() returns. */
static void
sv_wake_self(sv_conn *c)
{
  for (int i = 0; i < 50 && atomic_load(&c->waiting); i++) {
    if (sv_send_ctl(c->rq, SV_T_DATA, SV_WAKE, 0, c->secret, NULL, 0,
                    PLUMB_NOWAIT) != PLUMB_EAGAIN)
      return;
    usleep(2000); /* queue full: there is something to read anyway */
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
      /* recv() arms again for its own deadline (see sv_recv_direct) */
      atomic_store(&c->armed, 0);
    }
    if (p[2].revents) {
      p[2].fd = -1; /* the server died: report once */
      atomic_store(&c->srv_died, 1);
    }
    if (p[0].revents || p[1].revents || p[2].revents)
      sv_wake_self(c);
    if (p[0].revents)
      break; /* shutdown or close */
  }
  return NULL;
}

static int sv_recv_lent(sv_conn *c, plumb_buf *buf);

static int
sv_recv_frame(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  sv_conn *c = (sv_conn *)pc;

  if (c->direct)
    return sv_recv_direct(c, buf, deadline);
  for (;;) {
    int closed, status, r;
    if (atomic_load(&c->shut))
      return PLUMB_ECLOSED;
    pthread_mutex_lock(&c->in.mu);
    if ((r = c->r_ready) != 0) {
      if (r == 1) {
        plumb_buf t = *buf;
        *buf = c->ready;
        c->ready = t;
        c->ready.len = 0;
        plumb__rx_release(c->rx.pool, &c->ready_charged);
      }
      c->r_ready = 0;
      pthread_cond_signal(&c->in.taken); /* no system call unless waited */
    } else if (c->lent && !c->in.closed) {
      /* the reader lent us the pair: receive its next frame ourselves
       * (a bounded wait, sv_recv_lent) */
      if (c->in.signalled) {
        uint64_t v;
        if (read(c->in.evfd, &v, sizeof(v)) == sizeof(v) || errno == EAGAIN)
          c->in.signalled = 0;
      }
      return sv_recv_lent(c, buf);
    }
    if (!c->in.closed && c->in.signalled) {
      uint64_t v;
      if (read(c->in.evfd, &v, sizeof(v)) == sizeof(v) || errno == EAGAIN)
        c->in.signalled = 0;
    }
    closed = c->in.closed;
    status = c->in.status;
    pthread_mutex_unlock(&c->in.mu);
    if (r == 1)
      return PLUMB_OK;
    if (r < 0)
      return r;
    if (closed)
      return status ? status : PLUMB_ECLOSED;
    /* dead, or its BYE seen (by a worker the pair was lent to, too:
     * sv_recv_lent) - every frame before it was handed over already */
    if (c->peer_dead || atomic_load(&c->peer_bye))
      return PLUMB_ECLOSED;
    struct pollfd p[2] = { { .fd = c->in.evfd, .events = POLLIN },
                           { .fd = c->pidfd, .events = POLLIN } };
    r = poll(p, 2, plumb__poll_timeout(deadline));
    if (r < 0 && errno != EINTR)
      return PLUMB_ESYS;
    if (r == 0)
      return deadline == PLUMB_NOWAIT ? PLUMB_EAGAIN : PLUMB_ETIMEDOUT;
    if (r > 0 && p[1].revents && !p[0].revents) {
      /* give the reader a moment to hand over what the peer sent last */
      usleep(1000);
      c->peer_dead = 1;
    }
  }
}

/* Reader thread: what sv_take() gave (1: a whole frame in c->rx; < 0: an
 * error) goes to recv() once the one before it was taken; an error is
 * waited for until taken.  -1 once closed. */
static int
sv_hand_over(sv_conn *c, int r)
{
  pthread_mutex_lock(&c->in.mu);
  while (c->r_ready != 0 && !c->in.closed)
    pthread_cond_wait(&c->in.taken, &c->in.mu); /* the last not taken yet */
  if (!c->in.closed) {
    if (r == 1 && c->hub != NULL && !c->lent &&
        plumb__linger_enter(&c->linger)) {
      /* lent before the frame can be seen: whoever takes it finds the
       * pair its own on its next recv() (sv_lend) */
      c->lent = 1;
      c->linger_until = plumb__now_ns();
    }
    if (r == 1) { /* the frame moves to `ready`, its charge with it */
      plumb_buf t = c->ready;
      c->ready = c->rx.part;
      c->rx.part = t;
      c->rx.part.len = 0;
      c->rx.in_frame = 0;
      c->ready_charged = c->rx.charged;
      c->rx.charged = 0;
    }
    c->r_ready = r;
    sv_signal(&c->in);
    while (r < 0 && c->r_ready != 0 && !c->in.closed)
      pthread_cond_wait(&c->in.taken, &c->in.mu);
  }
  int closed = c->in.closed;
  pthread_mutex_unlock(&c->in.mu);
  return closed ? -1 : 0;
}

/* Sends the WAKE that ends the worker's current linger wait (in.mu held;
 * IPC_NOWAIT: a full queue has something for it to read anyway). */
static void
sv_wake_lingerer(sv_conn *c)
{
  if (c->lingering && !c->wake_sent) {
    c->wake_sent = 1;
    (void)sv_send_ctl(c->rq, SV_T_DATA, SV_WAKE, c->linger_seq, c->secret,
                      NULL, 0, PLUMB_NOWAIT);
  }
}

/* Gives the pair back to the reader (in.mu held). */
static void
sv_unlend(sv_conn *c, int hit)
{
  if (!c->lent)
    return;
  c->lent = 0;
  plumb__linger_leave(&c->linger, hit);
  pthread_cond_signal(&c->in.taken);
}

/* Reader thread, server side, after a whole frame: if sv_hand_over lent
 * the pair to the worker (see `lent`), bounds that worker's waits until it
 * gives the pair back, or takes it back from a worker that stays away
 * SV_LEND_IDLE_NS.  -1 once closed. */
static int
sv_lend(sv_conn *c)
{
  pthread_mutex_lock(&c->in.mu);
  if (c->lent) {
    while (c->lent && !c->in.closed) {
      int64_t now = plumb__now_ns(), until = now + SV_LEND_LOOK_NS;
      if (c->lingering && !c->wake_sent) {
        if (now >= c->linger_until)
          sv_wake_lingerer(c);
        else
          until = c->linger_until;
      } else if (!c->lingering && now - c->linger_until > SV_LEND_IDLE_NS) {
        /* the worker has not come back for the pair (its client does
         * not read its replies, its calls are running): take it back,
         * and the slot with it */
        sv_unlend(c, 0);
        break;
      }
      struct timespec ts = { until / 1000000000, until % 1000000000 };
      pthread_cond_timedwait(&c->in.taken, &c->in.mu, &ts);
    }
    if (c->in.closed)
      sv_wake_lingerer(c); /* shutdown(): out of msgrcv() at once */
  }
  int closed = c->in.closed;
  pthread_mutex_unlock(&c->in.mu);
  return closed ? -1 : 0;
}

/* A worker's receive while the pair is lent to it (in.mu held; returns
 * without it): waits for the next message in msgrcv() itself, bounded by
 * the reader's WAKE.  PLUMB_OK with a whole frame in buf; PLUMB_EAGAIN
 * when a wait ended without one (the pair is the reader's again). */
static int
sv_recv_lent(sv_conn *c, plumb_buf *buf)
{
  const uint8_t *text = (const uint8_t *)c->rbuf + sizeof(long);

  for (;;) {
    if (c->in.closed || atomic_load(&c->shut)) {
      sv_unlend(c, 0);
      pthread_mutex_unlock(&c->in.mu);
      return PLUMB_ECLOSED;
    }
    uint32_t seq = ++c->linger_seq;
    c->lingering = 1;
    c->wake_sent = 0;
    c->linger_until = plumb__now_ns() + PLUMB__LINGER_NS;
    pthread_mutex_unlock(&c->in.mu);
    ssize_t n = sv_rcv(c, 0);
    int e = errno;
    pthread_mutex_lock(&c->in.mu);
    c->lingering = 0;
    c->linger_until = plumb__now_ns(); /* last use, for sv_lend */
    int r = 0;
    if (n < 0) {
      if (e == EINTR)
        continue;
      r = e == EIDRM || e == EINVAL ? PLUMB_ECLOSED : PLUMB_ESYS;
    } else if (!sv_genuine(c, text, n)) {
      continue; /* not from our peer: dropped, counted */
    } else if (text[0] == SV_WAKE) {
      if (plumb__get_le32(text + 4) != seq && !c->in.closed &&
          !atomic_load(&c->shut))
        continue; /* meant for an earlier wait, which a frame ended */
      r = PLUMB_EAGAIN;
    } else if (text[0] == SV_BYE) {
      atomic_store(&c->peer_bye, 1);
      r = PLUMB_ECLOSED;
    } else {
      c->linger.miss = 0; /* answered in time */
      r = sv_take(c, text[0], plumb__get_le32(text + 4), text + SV_HDR,
                  (size_t)n - SV_HDR);
      if (r == 0)
        continue; /* a frame in several messages: wait for the next */
      if (r == 1) {
        plumb__reasm_take(&c->rx, buf);
        pthread_mutex_unlock(&c->in.mu);
        return PLUMB_OK;
      }
    }
    sv_unlend(c, 0);
    if (r == PLUMB_EAGAIN && (c->in.closed || atomic_load(&c->shut)))
      r = PLUMB_ECLOSED;
    pthread_mutex_unlock(&c->in.mu);
    return r;
  }
}

/* Reader thread: rebuilds the frames of our queue's genuine messages in
 * c->rx (no allocation per message) and hands each to recv().  The first
 * message from a client confirms the handshake: its box goes. */
static void *
reader_main(void *arg)
{
  sv_conn *c = arg;
  const uint8_t *text = (const uint8_t *)c->rbuf + sizeof(long);
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  for (;;) {
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    ssize_t n = sv_rcv(c, 0);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break; /* EIDRM/EINVAL: the pair was removed */
    }
    if (atomic_load(&c->shut))
      break; /* close(): see sv_stop_threads */
    if (!sv_genuine(c, text, n))
      continue;
    sv_rmid(&c->boxq);
    if (text[0] == SV_BYE) {
      atomic_store(&c->peer_bye, 1);
      break;
    }
    int r = sv_take(c, text[0], plumb__get_le32(text + 4), text + SV_HDR,
                    (size_t)n - SV_HDR);
    if (r != 0 && sv_hand_over(c, r) != 0)
      break;
    if (r == 1 && c->hub != NULL && sv_lend(c) != 0)
      break; /* (sv_hand_over lent the pair, or not) */
  }
  sv_inbox_close(&c->in, PLUMB_ECLOSED);
  return NULL;
}

/* An event loop wants a pollable fd: a client leaves direct mode for good
 * and a reader thread feeds the inbox behind epfd from now on. */
static int
sv_conn_fd(plumb_conn *pc)
{
  sv_conn *c = (sv_conn *)pc;
  if (c->direct) {
    if (sv_thread(&c->thr, reader_main, c) != 0)
      return -1;
    c->thr_on = 1;
    c->direct = 0;
  }
  return c->epfd;
}

static int
sv_peer(plumb_conn *pc, plumb_peer *out)
{
  sv_conn *c = (sv_conn *)pc;
  memset(out, 0, sizeof(*out));
  out->pid = c->peer_pid;
  out->uid = c->peer_uid;
  out->gid = c->peer_gid;
  out->has_creds = c->has_creds;
  return PLUMB_OK;
}

/* Our BYE, once: shutdown() only tries (a send may be running), a
 * client's close() gives a server whose queue is full 100 ms to make room
 * (else the server learns of it at the client's death: its queue stays) */
static void
sv_say_bye(sv_conn *c, int64_t deadline)
{
  if (!c->bye_sent && !c->wbroken && !atomic_load(&c->peer_bye))
    c->bye_sent = sv_send_ctl(c->wq, SV_T_DATA, SV_BYE, 0, c->secret, NULL,
                              0, deadline) == PLUMB_OK;
}

static void
sv_shutdown(plumb_conn *pc)
{
  sv_conn *c = (sv_conn *)pc;
  uint64_t one = 1;

  if (atomic_exchange(&c->shut, 1))
    return;
  sv_say_bye(c, PLUMB_NOWAIT);
  sv_inbox_close(&c->in, PLUMB_ECLOSED);
  if (c->wakefd >= 0 && write(c->wakefd, &one, sizeof(one)) < 0) {
    /* cannot overflow with one write */
  }
}

static void
sv_stop_threads(sv_conn *c)
{
  if (c->wd_on) {
    uint64_t one = 1;
    if (write(c->wakefd, &one, sizeof(one)) < 0) {
      /* cannot overflow with one write */
    }
    pthread_join(c->wd, NULL);
    c->wd_on = 0;
  }
  if (c->thr_on) {
    /* The reader leaves by itself: EIDRM once a server removed the pair,
     * or our own WAKE (a client) with c->shut set; the closed inbox ends a
     * hand-over wait. */
    atomic_store(&c->shut, 1);
    sv_inbox_close(&c->in, PLUMB_ECLOSED);
    if (c->hub == NULL)
      (void)sv_send_ctl(c->rq, SV_T_DATA, SV_WAKE, 0, c->secret, NULL, 0,
                        PLUMB_NOWAIT);
    sv_join(c->thr);
    c->thr_on = 0;
  }
  if (c->wthr_on) { /* woken by w_stop; out of msgsnd() by EIDRM (server)
                      * or c->shut (client), see sv_send_blocking */
    atomic_store(&c->shut, 1);
    pthread_mutex_lock(&c->wmu);
    c->w_stop = 1;
    pthread_cond_signal(&c->wcv);
    pthread_mutex_unlock(&c->wmu);
    pthread_join(c->wthr, NULL);
    c->wthr_on = 0;
  }
}

/* ---- server side ---- */

static void hub_unref(sv_hub *h);
static void sv_close(plumb_conn *pc);

/* The well-known queue's waiter: hellos into the inbox, everything else
 * (junk, forged or stale messages) dropped, the beacon kept in place. */
static void *
hub_main(void *arg)
{
  sv_hub *h = arg;
  void *buf = h->rbuf;
  int old;

  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  for (;;) {
    sv_msg *m = sv_receive(h->qid, SV_T_BEACON, MSG_EXCEPT, buf, h->rcap);
    if (m == NULL && errno != EPROTO && errno != EINTR && errno != ENOMEM)
      break; /* EIDRM/EINVAL: the queue is gone */
    if (m == NULL)
      continue;
    if (m->kind == SV_HELLO && m->n == 8) {
      pthread_mutex_lock(&h->mu);
      pthread_mutex_lock(&h->hellos.mu);
      int room = h->listening && h->hellos.count < SV_HELLO_MAX;
      pthread_mutex_unlock(&h->hellos.mu);
      pthread_mutex_unlock(&h->mu);
      if (room) {
        sv_inbox_put(&h->hellos, m);
        m = NULL;
      }
    }
    free(m);
  }
  /* The queue was removed (ipcrm): so are the connections it served. */
  pthread_mutex_lock(&h->mu);
  for (sv_conn *c = h->conns; c; c = c->next) {
    msgctl(c->rq, IPC_RMID, NULL);
    msgctl(c->wq, IPC_RMID, NULL);
    sv_inbox_close(&c->in, PLUMB_ECLOSED);
  }
  pthread_mutex_unlock(&h->mu);
  /* The hellos inbox is left open and quiet: a listener whose queue was
   * removed under it just accepts nobody, instead of waking an event loop
   * for ever with an error. */
  return NULL;
}

/* What a sweep removes: only queues of ours that nobody can be using.
 * - Boxes of clients that died after their KNOCK but before the server saw
 *   their HELLO: private queues given to us (uid, mode 0600) holding only a
 *   knock whose sender is dead.
 * - Boxes of clients that died after making them but before knocking:
 *   marked with SV_BOX_QBYTES, given to us, empty, never sent to or read
 *   from, SV_BOX_ABANDON_S old (a live client knocks at once).
 * - Queues of a process killed between msgget() and their IPC_SET: made by
 *   us, still in SV_MODE_MAKING, empty, never used, as old.
 * - Pairs (SV_PAIR_MOD mark, made by us) whose last sender and last
 *   receiver are both dead: the server that made one always stamps it and
 *   then only sends on one queue and receives on the other, so while it
 *   lives it is one of the two; a pair caught before its stamp (both 0) is
 *   swept when it is as old as an abandoned box.
 * Nothing else matches, so nothing else is removed. */
static void
sv_sweep_boxes(void)
{
  FILE *f = fopen("/proc/sysvipc/msg", "re");
  char line[512];
  long key, id, qnum, lspid, lrpid, uid, cuid;
  long long stime, rtime, ctime;
  unsigned perms;
  struct {
    long mtype;
    uint8_t text[SV_HDR];
  } m;

  if (f == NULL)
    return;
  long long now = (long long)time(NULL);
  uid_t me = geteuid();
  for (int n = 0; n < 100000 && fgets(line, sizeof(line), f); n++) {
    if (sscanf(line, "%ld %ld %o %*d %ld %ld %ld %ld %*d %ld %*d %lld %lld "
               "%lld", &key, &id, &perms, &qnum, &lspid, &lrpid, &uid,
               &cuid, &stime, &rtime, &ctime) != 11 || key != 0)
      continue;
    int old = now - ctime >= SV_BOX_ABANDON_S;
    int unused = qnum == 0 && lspid == 0 && lrpid == 0 && stime == 0 &&
                 rtime == 0;
    struct msqid_ds ds;
    if ((perms & 0777) == SV_MODE_MAKING && (uid_t)cuid == me) {
      if (unused && old && msgctl((int)id, IPC_STAT, &ds) == 0 &&
          (ds.msg_perm.mode & 0777) == SV_MODE_MAKING && ds.msg_qnum == 0 &&
          ds.msg_lspid == 0 && ds.msg_lrpid == 0)
        msgctl((int)id, IPC_RMID, NULL);
      continue;
    }
    if ((perms & 0777) != 0600)
      continue;
    if ((uid_t)cuid == me && (unused ? old : 1) &&
        !plumb__pid_alive((pid_t)lspid) && !plumb__pid_alive((pid_t)lrpid) &&
        msgctl((int)id, IPC_STAT, &ds) == 0 &&
        sv_is_pair_mark(ds.msg_qbytes) && ds.msg_perm.cuid == me &&
        !plumb__pid_alive(ds.msg_lspid) && !plumb__pid_alive(ds.msg_lrpid)) {
      msgctl((int)id, IPC_RMID, NULL);
      continue;
    }
    if ((uid_t)uid != me)
      continue;
    if (unused && old) {
      if (msgctl((int)id, IPC_STAT, &ds) == 0 &&
          ds.msg_qbytes == SV_BOX_QBYTES && ds.msg_qnum == 0 &&
          ds.msg_lspid == 0 && ds.msg_stime == 0)
        msgctl((int)id, IPC_RMID, NULL);
      continue;
    }
    if (qnum != 1 || lspid <= 0 || plumb__pid_alive((pid_t)lspid))
      continue;
    ssize_t r = msgrcv((int)id, &m, sizeof(m.text), 0,
                       MSG_COPY | IPC_NOWAIT | MSG_NOERROR);
    if (r == SV_HDR && m.mtype == SV_T_KNOCK && m.text[0] == SV_KNOCK)
      msgctl((int)id, IPC_RMID, NULL);
  }
  fclose(f);
}

/* Every SV_JANITOR_MS: the one thing the waiter cannot drain is mtype 2,
 * so messages of that type that are not our one beacon (junk, forged
 * beacons) are removed and the beacon put back if someone took it.  A
 * dial that looks in between finds no beacon and goes on anyway. */
static void *
hub_janitor(void *arg)
{
  sv_hub *h = arg;
  struct pollfd p = { .fd = h->jan_fd, .events = POLLIN };
  struct {
    long mtype;
    uint8_t text[SV_HDR];
  } m;

  for (unsigned tick = 1;
       poll(&p, 1, SV_JANITOR_MS) == 0 || (p.revents == 0 && errno == EINTR);
       tick++) {
    struct msqid_ds ds;
    if (msgctl(h->qid, IPC_STAT, &ds) < 0)
      break; /* removed */
    if (tick % 10 == 1) /* at once (what a killed server left), then
                         * every 2 s */
      sv_sweep_boxes();
    if (ds.msg_qnum == 1 && sv_beacons(h->qid, getpid(), NULL) == 1)
      continue; /* just our beacon: the usual case, two syscalls */
    if (sv_beacons(h->qid, 0, NULL) == -1)
      continue; /* no MSG_COPY: cannot tell ours from junk */
    for (int i = 0; i < 100000; i++)
      if (msgrcv(h->qid, &m, sizeof(m.text), SV_T_BEACON,
                 IPC_NOWAIT | MSG_NOERROR) < 0)
        break;
    (void)sv_send_ctl(h->qid, SV_T_BEACON, SV_BEACON, (uint32_t)getpid(), 0,
                      NULL, 0, PLUMB_NOWAIT);
  }
  return NULL;
}

static void
hub_destroy(sv_hub *h)
{
  if (h->jan_on) {
    uint64_t one = 1;
    if (write(h->jan_fd, &one, sizeof(one)) < 0) {
      /* cannot overflow with one write */
    }
    pthread_join(h->jan, NULL);
  }
  if (h->jan_fd >= 0)
    close(h->jan_fd);
  if (h->qid >= 0)
    msgctl(h->qid, IPC_RMID, NULL);
  if (h->thr_on) /* the queue is gone: its msgrcv() fails with EIDRM */
    sv_join(h->thr);
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
  h->jan_fd = -1;
  h->hellos.evfd = -1;
  h->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  h->rx_pool = opts ? opts->rx_pool : NULL;
  pthread_mutex_init(&h->mu, NULL);
  h->refs = 1;
  h->listening = 1;
  if (path) {
    /* A key file we create carries a marker, so the file a killed server
     * left is recognised (and removed) by the next one. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  mode);
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
      plumb__addr_why_path(path, errno);
      rv = errno == EACCES ? PLUMB_EPERM : PLUMB_EADDR;
      goto fail;
    } else if (sv_is_our_keyfile(path)) {
      h->made_path = strdup(path);
    }
    if ((key = ftok(path, 'P')) == -1) {
      plumb__addr_why_path(path, errno);
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
    if (sv_beacons(old, 0, NULL) != 0) { /* a live one, or cannot tell */
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
  h->rcap = sizeof(long) + 64 + SV_HDR;
  if ((h->rbuf = malloc(sizeof(long) + h->rcap)) == NULL) {
    rv = PLUMB_ENOMEM;
    goto fail;
  }
  rv = sv_send_ctl(h->qid, SV_T_BEACON, SV_BEACON, (uint32_t)getpid(), 0,
                   NULL, 0, PLUMB_NOWAIT);
  if (rv != PLUMB_OK)
    goto fail;
  if ((h->jan_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
      sv_thread(&h->jan, hub_janitor, h) != 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  h->jan_on = 1;
  if ((rv = sv_inbox_init(&h->hellos, 0)) != PLUMB_OK)
    goto fail;
  if (sv_thread(&h->thr, hub_main, h) != 0) {
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

/* Turns one hello into a connection, or fails (the caller drops it). */
static int
sv_accept_hello(sv_hub *h, const sv_msg *m, sv_conn **out)
{
  struct msqid_ds box;
  uint8_t ack[16];
  int boxq = (int)plumb__get_le32(m->data);
  int rv;

  if (m->aux != SV_VERSION || boxq < 0)
    return PLUMB_EPROTO;
  /* The box is the client's (cuid) and given to us alone; its knock says
   * who sent it (msg_lspid).  The kernel recorded all three. */
  if (msgctl(boxq, IPC_STAT, &box) < 0 || box.msg_perm.uid != geteuid() ||
      (box.msg_perm.mode & 0077) != 0 || box.msg_qnum < 1 ||
      box.msg_lspid <= 0)
    return PLUMB_EPROTO;
  sv_conn *c = sv_conn_new(sv_chunk_size(h->qid), h->max_frame);
  if (c == NULL)
    return PLUMB_ENOMEM;
  c->rx.pool = h->rx_pool; /* server-wide receive budget */
  atomic_store(&c->boxq, boxq);
  c->peer_pid = box.msg_lspid;
  c->peer_uid = box.msg_perm.cuid;
  c->peer_gid = box.msg_perm.cgid;
  c->has_creds = 1;
  c->secret = plumb__random64();
  if ((rv = sv_conn_watch(c)) != PLUMB_OK) {
    sv_rmid(&c->boxq); /* the client died: its box goes */
    goto fail;
  }
  struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
  if (poll(&p, 1, 0) == 1) {
    sv_rmid(&c->boxq);
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  c->rq = sv_private_queue(c->peer_uid, c->peer_gid, 1);
  c->wq = c->rq < 0 ? -1 : sv_private_queue(c->peer_uid, c->peer_gid, 1);
  if (c->wq < 0) {
    rv = errno == ENOSPC ? PLUMB_ENOMEM : PLUMB_ESYS;
    goto fail;
  }
  if (sv_stamp(c->rq) < 0 || sv_stamp(c->wq) < 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  sv_fit_chunk(c, sv_chunk_size(c->rq));
  if (sv_thread(&c->thr, reader_main, c) != 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  c->thr_on = 1;
  pthread_mutex_lock(&h->mu);
  c->hub = h;
  c->next = h->conns;
  h->conns = c;
  h->refs++;
  pthread_mutex_unlock(&h->mu);
  plumb__put_le32(ack, (uint32_t)c->rq); /* the client writes this one */
  plumb__put_le32(ack + 4, (uint32_t)c->wq);
  plumb__put_le64(ack + 8, c->secret);
  rv = sv_send_ctl(boxq, SV_T_DATA, SV_ACK, (uint32_t)getpid(), m->id, ack,
                   sizeof(ack), PLUMB_NOWAIT);
  if (rv != PLUMB_OK) {
    atomic_store(&c->peer_bye, 1); /* no BYE to a client that never knew */
    sv_rmid(&c->boxq);
    sv_close(&c->base);
    return PLUMB_ECLOSED;
  }
  *out = c;
  return PLUMB_OK;
fail:
  if (c->rq >= 0)
    msgctl(c->rq, IPC_RMID, NULL);
  if (c->wq >= 0)
    msgctl(c->wq, IPC_RMID, NULL);
  sv_conn_free(c);
  return rv;
}

static int
sv_accept(plumb_listener *pl, plumb_conn **out)
{
  sv_hub *h = (sv_hub *)pl;

  *out = NULL;
  for (;;) {
    int closed, status;
    sv_conn *c = NULL;
    sv_msg *m = sv_inbox_get(&h->hellos, &closed, &status);
    if (m == NULL)
      return PLUMB_EAGAIN;
    int rv = sv_accept_hello(h, m, &c);
    free(m);
    if (rv == PLUMB_OK) {
      *out = &c->base;
      return PLUMB_OK;
    }
    if (rv == PLUMB_ENOMEM)
      return rv;
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
    if (m->n == 8) /* a NAK in its box: the client gives up at once */
      (void)sv_send_ctl((int)plumb__get_le32(m->data), SV_T_DATA, SV_NAK, 0,
                        m->id, NULL, 0, PLUMB_NOWAIT);
    free(m);
  }
  hub_unref(h);
}

/* ---- client side ---- */

/* Waits in box for the server's ACK (see the top of the file). */
static int
sv_await_ack(sv_conn *c, int boxq, uint64_t nonce, uid_t srv_uid,
             int64_t deadline)
{
  struct {
    long mtype;
    uint8_t text[SV_HDR + 16];
  } m;
  long backoff_us = 20;

  for (;;) {
    ssize_t n = msgrcv(boxq, &m, sizeof(m.text), SV_T_DATA,
                       IPC_NOWAIT | MSG_NOERROR);
    if (n >= SV_HDR && plumb__get_le64(m.text + 8) == nonce) {
      if (m.text[0] == SV_NAK)
        return PLUMB_ECONNREFUSED;
      if (m.text[0] == SV_ACK && n == SV_HDR + 16) {
        int wq = (int)plumb__get_le32(m.text + SV_HDR);
        int rq = (int)plumb__get_le32(m.text + SV_HDR + 4);
        struct msqid_ds ds;
        /* made by the server's uid for us alone; the kernel says who
         * sent the ACK */
        if (sv_queue_is(wq, srv_uid, geteuid()) &&
            sv_queue_is(rq, srv_uid, geteuid()) &&
            msgctl(boxq, IPC_STAT, &ds) == 0 && ds.msg_lspid > 0) {
          c->wq = wq;
          c->rq = rq;
          c->secret = plumb__get_le64(m.text + SV_HDR + 8);
          c->peer_pid = ds.msg_lspid;
          c->peer_uid = srv_uid;
          c->has_creds = 1;
          return PLUMB_OK;
        }
      }
      continue;
    }
    if (n >= 0)
      continue; /* not for this handshake: dropped */
    if (errno == EIDRM || errno == EINVAL)
      return PLUMB_ECONNREFUSED;
    if (errno != ENOMSG && errno != EINTR)
      return sv_errno_status(errno);
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
    usleep((useconds_t)backoff_us);
    if (backoff_us < 2000)
      backoff_us *= 2;
  }
}

static int
sv_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
        plumb_conn **out)
{
  const char *path;
  struct msqid_ds wk;
  key_t key;
  int qid, rv, boxq = -1;
  sv_conn *c;
  uint8_t hello[8];

  *out = NULL;
  if ((rv = sv_parse(addr, &key, &path)) != PLUMB_OK)
    return rv;
  if (path && (key = ftok(path, 'P')) == -1) {
    plumb__addr_why_path(path, errno); /* a missing file: no server */
    return errno == EACCES ? PLUMB_EPERM : PLUMB_ECONNREFUSED;
  }
  if ((qid = msgget(key, 0)) < 0)
    return sv_errno_status(errno);
  if (msgctl(qid, IPC_STAT, &wk) < 0)
    return sv_errno_status(errno);
  /* No live beacon: a dead server's queue.  No beacon at all: someone took
   * it (the server puts it back) - try the handshake anyway. */
  if (sv_beacons(qid, 0, NULL) == 0)
    return PLUMB_ECONNREFUSED;
  c = sv_conn_new(sv_chunk_size(qid),
                  opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME);
  if (c == NULL)
    return PLUMB_ENOMEM;
  /* The box: ours (cuid), given to the server's uid, mode 0600. */
  boxq = sv_private_queue(wk.msg_perm.cuid, getegid(), SV_BOX_QBYTES);
  if (boxq < 0) {
    rv = errno == ENOSPC ? PLUMB_ENOMEM : PLUMB_ESYS;
    goto fail;
  }
  sv_test_die("box");
  uint64_t nonce = plumb__random64();
  if ((rv = sv_send_ctl(boxq, SV_T_KNOCK, SV_KNOCK, 0, nonce, NULL, 0,
                        PLUMB_NOWAIT)) != PLUMB_OK)
    goto fail;
  plumb__put_le32(hello, (uint32_t)boxq);
  plumb__put_le32(hello + 4, (uint32_t)getpid());
  rv = sv_send_ctl(qid, SV_T_HELLO, SV_HELLO, SV_VERSION, nonce, hello, 8,
                   deadline);
  if (rv != PLUMB_OK)
    goto fail;
  if ((rv = sv_await_ack(c, boxq, nonce, wk.msg_perm.cuid, deadline)) !=
      PLUMB_OK)
    goto fail;
  msgctl(boxq, IPC_RMID, NULL);
  boxq = -1;
  c->wkq = qid;
  sv_fit_chunk(c, sv_chunk_size(c->wq));
  if ((rv = sv_conn_watch(c)) != PLUMB_OK)
    goto fail;
  c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->tfd < 0 || c->wakefd < 0 ||
      sv_thread(&c->wd, watchdog_main, c) != 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  c->wd_on = 1;
  c->direct = 1;
  *out = &c->base;
  return PLUMB_OK;
fail:
  /* a box removed tells a server that has not answered yet; a pair it
   * made for us already is removed with a BYE on it */
  if (boxq >= 0)
    msgctl(boxq, IPC_RMID, NULL);
  if (c->wq >= 0)
    sv_say_bye(c, PLUMB_NOWAIT);
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
    /* The server made the pair: it removes it (the client sees EIDRM). */
    msgctl(c->rq, IPC_RMID, NULL);
    msgctl(c->wq, IPC_RMID, NULL);
    sv_rmid(&c->boxq);
    sv_stop_threads(c);
    sv_conn_free(c);
    hub_unref(h);
    return;
  }
  sv_say_bye(c, plumb__deadline_ms(100));
  sv_stop_threads(c);
  struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
  if (poll(&p, 1, 0) == 1) {
    /* A killed server cannot remove what it made: its clients do (the
     * pair is ours; the well-known queue if its beacon names the dead
     * server - ids are not reused at once, so this is safe). */
    msgctl(c->rq, IPC_RMID, NULL);
    msgctl(c->wq, IPC_RMID, NULL);
    if (sv_beacons(c->wkq, c->peer_pid, NULL) == 1)
      msgctl(c->wkq, IPC_RMID, NULL);
  }
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
  .try_send = sv_try_send,
  .flush = sv_flush,
  .write_wait = sv_write_wait,
  .recv = sv_recv_frame,
  .conn_fd = sv_conn_fd,
  .peer = sv_peer,
  .shutdown = sv_shutdown,
  .close = sv_close,
};
