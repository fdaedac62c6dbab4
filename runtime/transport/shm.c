/* shm.c - the `shm` transport: frames through shared-memory rings with
 * futex wake-ups.
 *
 * Endpoint `shm:/name[?ring=BYTES][&spin=US][&poll=US]`: ring is the size
 * of each ring (a power of two between 4 KiB and 256 MiB; 256 KiB by
 * default, the server's choice), spin and poll cap this side's spinning
 * (else PLUMB_SHM_SPIN_US / PLUMB_SHM_POLL_US, else 20 and - on the
 * server side only - 20; the client does not poll).  The name is
 * one path component of [A-Za-z0-9._-], at most 64 characters, not
 * starting with '.'.
 *
 * Rendezvous.  listen() binds a SOCK_SEQPACKET unix socket in the abstract
 * namespace under a random name and publishes that name, with its pid, in a
 * small control segment `/plumb-<name>` (shm_open, mode from the options,
 * 0600 by default).  Only who may read the control segment learns the
 * socket's name.  A client reads it, connects and checks SO_PEERCRED against
 * the pid and owner of the segment; the server (accept) creates the client's
 * channel - a sealed memfd holding a header page and two SPSC byte rings,
 * request and reply (shm_ring.h) - and passes it over the socket with
 * SCM_RIGHTS.  The channel never has a name, so nothing can leak in
 * /dev/shm; the seals stop a peer from shrinking it under us (SIGBUS).
 * The socket stays open for the connection's life as its crash detector:
 * when either process dies the kernel closes it.  A control segment whose
 * socket refuses connections (its server died) is reclaimed by listen().
 *
 * Frames.  Each frame is an 8-byte record header (length, length ^ key)
 * followed by its bytes; frames longer than the ring are streamed through it
 * in pieces.  A server frame that cannot go in at once is streamed by a
 * per-connection writer thread that waits for room and then signals an
 * eventfd (write_wait).  Everything read from shared memory is validated:
 * an impossible index or record header fails the connection with
 * PLUMB_EPROTO.
 *
 * Waiting.  A blocking send()/recv() spins adaptively (busy, or yielding
 * when the peer shares our CPU: shm_ring.c), then sleeps on the futex
 * in 100 ms slices, checking the side socket for a dead peer after each
 * ("direct" mode: no thread, no fd).  conn_fd() switches the receive
 * side to "waited" mode for event loops: conn_fd is an epoll set of the
 * side socket and a private eventfd.  Before recv() reports EAGAIN it arms
 * a flag in the ring; the producer's next publish then sends one doorbell
 * byte over the side socket instead of a FUTEX_WAKE, waking the loop with
 * a single kernel wake-up.  Peer death makes the same socket readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "rxpool.h"
#include "shm_ring.h"
#include "transport.h"

#define SHM_NAME_MAX 64
#define SHM_CTL_MAGIC 0x706c6d63u  /* "plmc" */
#define SHM_HELLO_MAGIC 0x706c6d68u /* "plmh" */
#define SHM_FRAME_KEY 0x5a3cc3a5u
#define SHM_SLICE_NS (100 * 1000000LL) /* peer-death check while asleep */
/* Default upper bounds of the adaptive spins, in us: a blocking wait's
 * spin before the futex (both sides), and the server's busy poll before a
 * waited-mode recv() reports EAGAIN (plumb__shm_poll).  A wait the spin
 * misses costs a wake-up, 5-60 us depending on the machine; 50 covers the
 * answer to a quarter-ring (64 KiB) echo, which 20 missed every time:
 * 64 KiB echo 102 -> 9.8 us, 4 KiB 3.4 -> 2.7 us, null calls unchanged
 * (docs/TRANSPORTS.md, "Waiting"). */
#define SHM_SPIN_US 50
#define SHM_SERVER_POLL_US 50
#define SHM_TTAIL_KEEP (4u << 20)      /* a kept-frame buffer reused up to */
#define SHM_WRITER_STACK (256u * 1024u)

/* The control segment /plumb-<name>. */
typedef struct shm_ctl {
  uint32_t magic;
  uint32_t version;
  int32_t pid;
  uint32_t ring_size;
  char sock[108]; /* abstract socket name without the leading NUL */
} shm_ctl;

/* What accept() sends with the channel fd. */
typedef struct shm_hello {
  uint32_t magic;
  uint32_t version;
  uint32_t ring_size;
  uint32_t hdr_size;
  uint64_t total;
} shm_hello;

typedef struct shm_addr {
  char name[SHM_NAME_MAX + 1];
  uint32_t ring;
  int spin_us; /* -1: PLUMB_SHM_SPIN_US or the default */
  int poll_us; /* -1: PLUMB_SHM_POLL_US or the default */
} shm_addr;

typedef struct shm_listener {
  plumb_listener base;
  int fd; /* the abstract SOCK_SEQPACKET listening socket */
  uint32_t ring;
  uint32_t max_frame;
  plumb__rx_pool *rx_pool; /* for the connections (NULL: none) */
  unsigned mode;
  int spin_us, poll_us; /* from the endpoint, -1 if not given */
  int has_group;        /* chown the control segment to group */
  gid_t group;
  char seg[8 + SHM_NAME_MAX]; /* "/plumb-<name>" */
  shm_ctl ctl;
  plumb__access access;   /* who may connect, checked before any channel */
  plumb__ratelog refused; /* (accept runs under the core's listener lock) */
  char endpoint[8 + SHM_NAME_MAX]; /* "shm:/<name>" for the log */
} shm_listener;

typedef struct shm_conn {
  plumb_conn base;
  int side; /* 0 server, 1 client */
  int sock; /* side channel: crash detector and credentials */
  uint8_t *map;
  size_t map_len;
  plumb__shm_chan *chan;
  plumb__shm_ring tx, rx;
  uint32_t max_frame;
  _Atomic int closed; /* shutdown() was called */
  int rx_err;         /* sticky receive failure */
  int tx_err;         /* sticky send failure (half-sent frame, EPROTO) */
  _Atomic int peer_gone; /* the side socket reported the peer's death */
  _Atomic int in_call;   /* server: a request received, not answered yet */
  plumb__shm_spin spin_rx, spin_tx;
  plumb__shm_spin spin_poll; /* waited mode: spin before reporting EAGAIN */
  /* reassembly of the frame being received */
  uint8_t rhdr[8];
  uint32_t rhdr_got;
  uint32_t rlen;
  uint32_t rgot;
  plumb_buf part;
  plumb__rx_pool *rx_pool; /* server side: charged for part (rxpool.h) */
  size_t rx_charged;
  /* try_send: a frame that cannot go into the ring now (too long for it, or
   * no room), copied and streamed by flush(); when the ring is full flush()
   * hands it to the writer thread, which waits for room on the ring's head
   * (spin, then futex) and makes wevfd readable when all of it went: that
   * is write_wait()'s fd.  ttail/ttoff belong to the writer while w_busy
   * (under wmu), to the core's flush() otherwise. */
  plumb_buf ttail;
  size_t ttoff;
  pthread_mutex_t wmu;
  pthread_cond_t wcv;
  int w_busy, w_stop, w_status;
  int wevfd;
  pthread_t wthr;
  int wthr_on;
  /* waited mode, set up by the first conn_fd() */
  pthread_mutex_t fd_lock;
  _Atomic int waited;
  int efd;  /* private eventfd for self-signals */
  int epfd; /* conn_fd(): epoll set of sock and efd */
  _Atomic int efd_pending;
} shm_conn;

const plumb_transport plumb__tran_shm;

/* ---- addresses and names ---------------------------------------------- */

static int
shm_parse(const char *addr, shm_addr *out)
{
  const char *p = addr, *q;
  size_t n;

  if (p == NULL)
    return PLUMB_EADDR;
  q = strchr(p, '?');
  n = q ? (size_t)(q - p) : strlen(p);
  if ((n = plumb__ipc_name_check(p, n, SHM_NAME_MAX, "shm",
                                  "shared memory")) == 0)
    return PLUMB_EADDR; /* the mq/shm name rule (ipcname.c) */
  p++; /* past the '/' */
  memcpy(out->name, p, n);
  out->name[n] = '\0';
  out->ring = 0; /* not given: shm_apply_opts decides */
  out->spin_us = out->poll_us = -1;
  /* Options: ?key=N[&key=N...] with key ring, spin or poll. */
  for (const char *o = q; o != NULL && *o != '\0';) {
    char *end;
    unsigned long v;
    size_t k;
    o++; /* past '?' or '&' */
    k = strcspn(o, "=");
    if (o[k] != '=' || o[k + 1] < '0' || o[k + 1] > '9') {
      plumb__addr_why("option '%.*s' needs a number (key=N)", (int)k, o);
      return PLUMB_EADDR;
    }
    errno = 0;
    v = strtoul(o + k + 1, &end, 10);
    if (errno != 0 || (*end != '\0' && *end != '&')) {
      plumb__addr_why("option '%.*s': not a number", (int)k, o);
      return PLUMB_EADDR;
    }
    if (k == 4 && strncmp(o, "ring", 4) == 0) {
      if (v < PLUMB_SHM_RING_MIN || v > PLUMB_SHM_RING_MAX ||
          (v & (v - 1)) != 0) {
        plumb__addr_why("ring=%lu: expected a power of two from %u to %u",
                        v, (unsigned)PLUMB_SHM_RING_MIN,
                        (unsigned)PLUMB_SHM_RING_MAX);
        return PLUMB_EADDR;
      }
      out->ring = (uint32_t)v;
    } else if (k == 4 && strncmp(o, "spin", 4) == 0 && v <= 100000) {
      out->spin_us = (int)v;
    } else if (k == 4 && strncmp(o, "poll", 4) == 0 && v <= 100000) {
      out->poll_us = (int)v;
    } else {
      plumb__addr_why("unknown option '%.*s' or value out of range "
                      "(ring=BYTES, spin=US, poll=US up to 100000)", (int)k,
                      o);
      return PLUMB_EADDR;
    }
    o = *end == '&' ? end : NULL;
  }
  return PLUMB_OK;
}

/* Fills what the endpoint left open from the core's options (plumb.conf's
 * shm_ring_size and spin_us): the endpoint wins, then the options, then
 * the environment (for spin) and the defaults. */
static int
shm_apply_opts(shm_addr *a, const plumb_tran_opts *opts)
{
  if (a->ring == 0) {
    uint32_t r = opts ? opts->shm_ring_size : 0;
    if (r != 0 && (r < PLUMB_SHM_RING_MIN || r > PLUMB_SHM_RING_MAX ||
                   (r & (r - 1)) != 0))
      return PLUMB_EINVAL;
    a->ring = r ? r : PLUMB_SHM_RING_DEFAULT;
  }
  if (a->spin_us < 0 && opts && opts->has_spin) {
    if (opts->spin_us > 100000)
      return PLUMB_EINVAL;
    a->spin_us = (int)opts->spin_us;
  }
  return PLUMB_OK;
}

static void
shm_seg_name(char *dst, size_t len, const char *name)
{
  snprintf(dst, len, "/plumb-%s", name);
}

static socklen_t
shm_sockaddr(struct sockaddr_un *sa, const char *sock)
{
  size_t n = strnlen(sock, sizeof(sa->sun_path) - 1);

  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path + 1, sock, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* Reads and checks a control segment.  PLUMB_ECONNREFUSED if absent,
 * PLUMB_EPROTO if malformed (or not yet written), PLUMB_EPERM. */
static int
shm_ctl_read(const char *seg, shm_ctl *ctl, uid_t *owner)
{
  struct stat st;
  ssize_t n;
  int fd = shm_open(seg, O_RDONLY | O_CLOEXEC, 0);

  if (fd < 0)
    return errno == ENOENT ? PLUMB_ECONNREFUSED
           : errno == EACCES ? PLUMB_EPERM
                             : PLUMB_ESYS;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return PLUMB_ESYS;
  }
  n = pread(fd, ctl, sizeof(*ctl), 0);
  close(fd);
  if (owner)
    *owner = st.st_uid;
  if (n != (ssize_t)sizeof(*ctl) || ctl->magic != SHM_CTL_MAGIC ||
      ctl->version != PLUMB_SHM_VERSION ||
      memchr(ctl->sock, '\0', sizeof(ctl->sock)) == NULL || ctl->pid <= 0)
    return PLUMB_EPROTO;
  return PLUMB_OK;
}

/* 1 if the server behind a valid control segment is gone: its socket
 * refuses connections. */
static int
shm_ctl_dead(const shm_ctl *ctl)
{
  struct sockaddr_un sa;
  socklen_t len;
  int fd, r, err;

  /* No pid check: a server may fork after listen().  The abstract socket
   * lives exactly as long as some process holds the listener. */
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return 0;
  len = shm_sockaddr(&sa, ctl->sock);
  r = connect(fd, (struct sockaddr *)&sa, len);
  err = errno;
  close(fd);
  return r != 0 && (err == ECONNREFUSED || err == ENOENT);
}

/* Is the existing segment `seg` left over by a dead server? */
static int
shm_ctl_stale(const char *seg)
{
  shm_ctl ctl;
  int rc = shm_ctl_read(seg, &ctl, NULL);

  if (rc == PLUMB_EPROTO) {
    /* Maybe a server between shm_open and write: look again shortly. */
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL);
    rc = shm_ctl_read(seg, &ctl, NULL);
    if (rc == PLUMB_EPROTO)
      return 1;
  }
  if (rc == PLUMB_ECONNREFUSED)
    return 1; /* vanished meanwhile: just retry the create */
  if (rc != PLUMB_OK)
    return 0;
  return shm_ctl_dead(&ctl);
}

/* ---- listener ------------------------------------------------------- */

static int
shm_ctl_create(shm_listener *l)
{
  for (int attempt = 0; attempt < 4; attempt++) {
    int fd = shm_open(l->seg, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                      (mode_t)(l->mode & 0777));
    if (fd >= 0) {
      shm_ctl c = l->ctl;
      uint32_t magic = SHM_CTL_MAGIC;
      int ok;
      c.magic = 0; /* magic last: readers never see a half-written one */
      ok = (!l->has_group || fchown(fd, (uid_t)-1, l->group) == 0) &&
           fchmod(fd, (mode_t)(l->mode & 0777)) == 0 &&
           pwrite(fd, &c, sizeof(c), 0) == (ssize_t)sizeof(c) &&
           pwrite(fd, &magic, sizeof(magic), 0) == (ssize_t)sizeof(magic);
      close(fd);
      if (!ok) {
        int err = errno;
        shm_unlink(l->seg);
        return err == EPERM ? PLUMB_EPERM : PLUMB_ESYS;
      }
      return PLUMB_OK;
    }
    if (errno == EACCES)
      return PLUMB_EPERM;
    if (errno == ENAMETOOLONG || errno == EINVAL)
      return PLUMB_EADDR;
    if (errno != EEXIST)
      return PLUMB_ESYS;
    if (!shm_ctl_stale(l->seg))
      return PLUMB_EBUSY;
    shm_unlink(l->seg);
  }
  return PLUMB_EBUSY;
}

static int
shm_listen(const char *addr, const plumb_tran_opts *opts, plumb_listener **out)
{
  shm_addr a;
  shm_listener *l;
  struct sockaddr_un sa;
  socklen_t len;
  uint64_t nonce;
  int rc;

  *out = NULL;
  if ((rc = shm_parse(addr, &a)) != PLUMB_OK ||
      (rc = shm_apply_opts(&a, opts)) != PLUMB_OK)
    return rc;
  if ((l = calloc(1, sizeof(*l))) == NULL)
    return PLUMB_ENOMEM;
  l->base.ops = &plumb__tran_shm;
  l->fd = -1;
  l->ring = a.ring;
  l->spin_us = a.spin_us;
  l->poll_us = a.poll_us;
  l->max_frame = opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME;
  l->rx_pool = opts ? opts->rx_pool : NULL;
  l->mode = opts && opts->mode ? opts->mode : 0600;
  l->has_group = opts && opts->has_group;
  l->group = l->has_group ? opts->group : 0;
  /* The abstract rendezvous socket has no file mode and its name shows in
   * /proc/net/unix: the policy, not the secrecy of the name, decides. */
  if (opts && opts->access)
    l->access = *opts->access;
  else
    plumb__access_from_mode(&l->access, l->mode, l->has_group, l->group);
  snprintf(l->endpoint, sizeof l->endpoint, "shm:/%s", a.name);
  shm_seg_name(l->seg, sizeof(l->seg), a.name);
  if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) {
    rc = PLUMB_ESYS;
    goto free_l;
  }
  l->ctl.version = PLUMB_SHM_VERSION;
  l->ctl.pid = (int32_t)getpid();
  l->ctl.ring_size = a.ring;
  snprintf(l->ctl.sock, sizeof(l->ctl.sock), "plumb-shm.%s.%016llx", a.name,
           (unsigned long long)nonce);

  l->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd < 0) {
    rc = PLUMB_ESYS;
    goto free_l;
  }
  len = shm_sockaddr(&sa, l->ctl.sock);
  if (bind(l->fd, (struct sockaddr *)&sa, len) != 0) {
    rc = errno == EADDRINUSE ? PLUMB_EBUSY : PLUMB_ESYS;
    goto close_fd;
  }
  if (listen(l->fd, 128) != 0) {
    rc = PLUMB_ESYS;
    goto close_fd;
  }
  if ((rc = shm_ctl_create(l)) != PLUMB_OK)
    goto close_fd;
  *out = &l->base;
  return PLUMB_OK;

close_fd:
  close(l->fd);
free_l:
  free(l);
  return rc;
}

static int
shm_listener_fd(plumb_listener *pl)
{
  return ((shm_listener *)pl)->fd;
}

static void
shm_listener_close(plumb_listener *pl)
{
  shm_listener *l = (shm_listener *)pl;
  shm_ctl cur;

  /* Remove the control segment only if it is still ours. */
  if (shm_ctl_read(l->seg, &cur, NULL) == PLUMB_OK &&
      strcmp(cur.sock, l->ctl.sock) == 0)
    shm_unlink(l->seg);
  close(l->fd);
  free(l);
}

/* ---- connections: setup and teardown ---------------------------------- */

static shm_conn *
shm_conn_new(int side, int sock, uint32_t max_frame)
{
  shm_conn *c = calloc(1, sizeof(*c));

  if (c == NULL)
    return NULL;
  c->base.ops = &plumb__tran_shm;
  c->side = side;
  c->sock = sock;
  c->max_frame = max_frame;
  c->efd = c->epfd = c->wevfd = -1;
  pthread_mutex_init(&c->fd_lock, NULL);
  pthread_mutex_init(&c->wmu, NULL);
  pthread_cond_init(&c->wcv, NULL);
  return c;
}

/* Points the rings into the mapped channel (header already validated). */
static void
shm_conn_attach(shm_conn *c, uint8_t *map, size_t len, uint32_t ring,
                int spin_us, int poll_us)
{
  plumb__shm_chan *ch = (plumb__shm_chan *)map;
  plumb__shm_ring req = { &ch->req, map + PLUMB_SHM_HDR_SIZE, ring, 0,
                           c->sock, 0, 0, 0 };
  plumb__shm_ring rep = { &ch->rep, map + PLUMB_SHM_HDR_SIZE + ring, ring, 0,
                           c->sock, 0, 0, 0 };
  int me = c->side, peer = 1 - c->side;

  c->map = map;
  c->map_len = len;
  c->chan = ch;
  c->tx = c->side ? req : rep;
  c->rx = c->side ? rep : req;
  /* An endpoint option beats the environment, which beats the default. */
  const char *spin_env = spin_us < 0 ? "PLUMB_SHM_SPIN_US" : NULL;
  const char *poll_env = poll_us < 0 ? "PLUMB_SHM_POLL_US" : NULL;
  spin_us = spin_us < 0 ? SHM_SPIN_US : spin_us;
  poll_us = poll_us < 0 ? (c->side == 0 ? SHM_SERVER_POLL_US : 0) : poll_us;
  plumb__shm_spin_init(&c->spin_rx, spin_us, spin_env, &ch->side[me].cpu,
                       &ch->side[peer].cpu);
  plumb__shm_spin_init(&c->spin_tx, spin_us, spin_env, &ch->side[me].cpu,
                       &ch->side[peer].cpu);
  plumb__shm_spin_init(&c->spin_poll, poll_us, poll_env, &ch->side[me].cpu,
                       &ch->side[peer].cpu);
  if (c->side == 1)
    c->spin_rx.crowd = &ch->side[0].crowd; /* waiting for its reply */
}

/* Server side: the shm calls this process has received and not answered,
 * over all its connections; published in each channel at every send
 * (plumb__shm_side.crowd, only when it changed) so that clients stop
 * spinning when they would outnumber the CPUs.  (Counting the clients
 * active in a 200 us window instead, so that 4 or 16 clients on 2 CPUs
 * stop spinning, was measured and lost: docs/TRANSPORTS.md.) */
static _Atomic uint32_t shm_srv_calls;

static void
shm_call_begin(shm_conn *c)
{
  if (c->side == 0 && !atomic_exchange(&c->in_call, 1))
    atomic_fetch_add(&shm_srv_calls, 1);
}

static void
shm_call_end(shm_conn *c)
{
  if (c->side != 0)
    return;
  if (atomic_exchange(&c->in_call, 0))
    atomic_fetch_sub(&shm_srv_calls, 1);
  if (c->chan != NULL) {
    uint32_t n = atomic_load_explicit(&shm_srv_calls, memory_order_relaxed);
    /* Written only when it changes: the client reads this line. */
    if (atomic_load_explicit(&c->chan->side[0].crowd,
                             memory_order_relaxed) != n)
      atomic_store_explicit(&c->chan->side[0].crowd, n,
                            memory_order_relaxed);
  }
}

static void shm_conn_shutdown(plumb_conn *pc);

static void
shm_conn_close(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;

  shm_conn_shutdown(pc); /* wakes a writer waiting for room, too */
  if (c->side == 0 && atomic_exchange(&c->in_call, 0))
    atomic_fetch_sub(&shm_srv_calls, 1);
  if (c->wthr_on) {
    pthread_mutex_lock(&c->wmu);
    c->w_stop = 1;
    pthread_cond_signal(&c->wcv);
    pthread_mutex_unlock(&c->wmu);
    pthread_join(c->wthr, NULL);
  }
  if (c->wevfd >= 0)
    close(c->wevfd);
  if (c->efd >= 0)
    close(c->efd);
  if (c->epfd >= 0)
    close(c->epfd);
  if (c->map != NULL)
    munmap(c->map, c->map_len);
  if (c->sock >= 0)
    close(c->sock);
  plumb__rx_release(c->rx_pool, &c->rx_charged);
  plumb__buf_free(&c->part);
  plumb__buf_free(&c->ttail);
  pthread_mutex_destroy(&c->fd_lock);
  pthread_cond_destroy(&c->wcv);
  pthread_mutex_destroy(&c->wmu);
  free(c);
}

static int
shm_send_hello(int sock, int memfd, const shm_hello *h)
{
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = { (void *)h, sizeof(*h) };
  struct msghdr mh;
  struct cmsghdr *cm;

  memset(&u, 0, sizeof(u));
  memset(&mh, 0, sizeof(mh));
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = u.buf;
  mh.msg_controllen = sizeof(u.buf);
  cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &memfd, sizeof(int));
  return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) ==
                 (ssize_t)sizeof(*h)
             ? PLUMB_OK
             : PLUMB_ESYS;
}

static int
shm_accept(plumb_listener *pl, plumb_conn **out)
{
  shm_listener *l = (shm_listener *)pl;
  size_t total = PLUMB_SHM_HDR_SIZE + 2 * (size_t)l->ring;
  struct ucred cr;
  socklen_t crlen = sizeof(cr);
  shm_hello hello;
  plumb__shm_chan *ch;
  shm_conn *c;
  uint8_t *map;
  int sock, memfd, rc;

  *out = NULL;
  sock = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (sock < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
        errno == ECONNABORTED)
      return PLUMB_EAGAIN;
    return PLUMB_ESYS;
  }
  /* Who may connect (access.h), decided on the kernel's credentials and
   * groups of the rendezvous socket before a channel exists. */
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0) {
    close(sock);
    return PLUMB_EAGAIN;
  }
  plumb_peer who = { .has_creds = 1, .pid = cr.pid, .uid = cr.uid,
                     .gid = cr.gid };
  if (!plumb__access_admit(&l->access, &who, sock)) {
    plumb__access_log_refused(&l->refused, l->endpoint, &who, -1);
    close(sock);
    return PLUMB_EAGAIN;
  }
  if ((c = shm_conn_new(0, sock, l->max_frame)) == NULL) {
    close(sock);
    return PLUMB_ENOMEM;
  }
  c->rx_pool = l->rx_pool; /* server-wide receive budget */
  memfd = memfd_create("plumb-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) {
    rc = PLUMB_ESYS;
    goto close_conn;
  }
  if (ftruncate(memfd, (off_t)total) != 0 ||
      fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) !=
          0) {
    rc = PLUMB_ESYS;
    goto close_memfd;
  }
  map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (map == MAP_FAILED) {
    rc = PLUMB_ESYS;
    goto close_memfd;
  }
  ch = (plumb__shm_chan *)map; /* fresh memfd pages are zero */
  ch->magic = PLUMB_SHM_MAGIC;
  ch->version = PLUMB_SHM_VERSION;
  ch->ring_size = l->ring;
  ch->hdr_size = PLUMB_SHM_HDR_SIZE;
  atomic_store(&ch->side[0].cpu, -1);
  atomic_store(&ch->side[1].cpu, -1);
  shm_conn_attach(c, map, total, l->ring, l->spin_us, l->poll_us);

  hello.magic = SHM_HELLO_MAGIC;
  hello.version = PLUMB_SHM_VERSION;
  hello.ring_size = l->ring;
  hello.hdr_size = PLUMB_SHM_HDR_SIZE;
  hello.total = total;
  if (shm_send_hello(sock, memfd, &hello) != PLUMB_OK) {
    /* The client went away before we could answer: not our failure. */
    rc = PLUMB_EAGAIN;
    goto close_memfd;
  }
  close(memfd);
  *out = &c->base;
  return PLUMB_OK;

close_memfd:
  close(memfd);
close_conn:
  shm_conn_close(&c->base);
  return rc;
}

/* Receives the hello and the channel fd before deadline. */
static int
shm_recv_hello(int sock, int64_t deadline, shm_hello *h, int *memfd)
{
  union {
    char buf[CMSG_SPACE(4 * sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = { h, sizeof(*h) };
  struct msghdr mh;
  ssize_t n;

  *memfd = -1;
  for (;;) {
    struct pollfd p = { sock, POLLIN, 0 };
    int r = poll(&p, 1, plumb__poll_timeout(deadline));
    if (r < 0 && errno != EINTR)
      return PLUMB_ESYS;
    if (r > 0)
      break;
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
  }
  memset(&mh, 0, sizeof(mh));
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = u.buf;
  mh.msg_controllen = sizeof(u.buf);
  n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n <= 0)
    return PLUMB_ECONNREFUSED; /* refused by the server (or it died) */
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL;
       cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < nfd; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      if (*memfd < 0)
        *memfd = fd;
      else
        close(fd);
    }
  }
  if (n != (ssize_t)sizeof(*h) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
      *memfd < 0 || h->magic != SHM_HELLO_MAGIC ||
      h->version != PLUMB_SHM_VERSION || h->hdr_size != PLUMB_SHM_HDR_SIZE ||
      h->ring_size < PLUMB_SHM_RING_MIN || h->ring_size > PLUMB_SHM_RING_MAX ||
      (h->ring_size & (h->ring_size - 1)) != 0 ||
      h->total != PLUMB_SHM_HDR_SIZE + 2 * (uint64_t)h->ring_size) {
    if (*memfd >= 0)
      close(*memfd);
    *memfd = -1;
    return PLUMB_EPROTO;
  }
  return PLUMB_OK;
}

static int
shm_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
         plumb_conn **out)
{
  char seg[8 + SHM_NAME_MAX];
  struct sockaddr_un sa;
  struct ucred cr;
  socklen_t crlen = sizeof(cr), len;
  struct stat st;
  shm_addr a;
  shm_ctl ctl;
  shm_hello h;
  shm_conn *c;
  plumb__shm_chan *ch;
  uid_t owner;
  uint8_t *map;
  int sock, memfd = -1, rc;

  *out = NULL;
  if ((rc = shm_parse(addr, &a)) != PLUMB_OK ||
      (rc = shm_apply_opts(&a, opts)) != PLUMB_OK)
    return rc;
  shm_seg_name(seg, sizeof(seg), a.name);
  rc = shm_ctl_read(seg, &ctl, &owner);
  if (rc == PLUMB_EPROTO)
    rc = PLUMB_ECONNREFUSED;
  if (rc != PLUMB_OK)
    return rc;

  sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return PLUMB_ESYS;
  len = shm_sockaddr(&sa, ctl.sock);
  while (connect(sock, (struct sockaddr *)&sa, len) != 0) {
    struct timespec ts = { 0, 1000000 };
    if (errno == ECONNREFUSED || errno == ENOENT) {
      rc = PLUMB_ECONNREFUSED;
      goto close_sock;
    }
    if (errno != EAGAIN && errno != EINTR) {
      rc = PLUMB_ESYS;
      goto close_sock;
    }
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline) {
      rc = PLUMB_ETIMEDOUT;
      goto close_sock;
    }
    nanosleep(&ts, NULL); /* backlog full: retry */
  }
  /* The socket must belong to the process and user of the segment. */
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) != 0 ||
      cr.pid != ctl.pid || cr.uid != owner) {
    rc = PLUMB_EPERM;
    goto close_sock;
  }
  if ((rc = shm_recv_hello(sock, deadline, &h, &memfd)) != PLUMB_OK)
    goto close_sock;
  if (fstat(memfd, &st) != 0 || (uint64_t)st.st_size != h.total ||
      (fcntl(memfd, F_GET_SEALS) & F_SEAL_SHRINK) == 0) {
    rc = PLUMB_EPROTO;
    goto close_memfd;
  }
  map = mmap(NULL, (size_t)h.total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
             0);
  if (map == MAP_FAILED) {
    rc = PLUMB_ESYS;
    goto close_memfd;
  }
  close(memfd);
  ch = (plumb__shm_chan *)map;
  if (ch->magic != PLUMB_SHM_MAGIC || ch->version != PLUMB_SHM_VERSION ||
      ch->ring_size != h.ring_size || ch->hdr_size != PLUMB_SHM_HDR_SIZE) {
    munmap(map, (size_t)h.total);
    rc = PLUMB_EPROTO;
    goto close_sock;
  }
  if ((c = shm_conn_new(1, sock,
                        opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME)) ==
      NULL) {
    munmap(map, (size_t)h.total);
    rc = PLUMB_ENOMEM;
    goto close_sock;
  }
  shm_conn_attach(c, map, (size_t)h.total, h.ring_size, a.spin_us,
                  a.poll_us);
  /* Positions start where the server left them (zero). */
  c->tx.pos = c->tx.peer = atomic_load(&ch->req.tail);
  c->rx.pos = c->rx.pub = c->rx.seen = atomic_load(&ch->rep.head);
  *out = &c->base;
  return PLUMB_OK;

close_memfd:
  close(memfd);
close_sock:
  close(sock);
  return rc;
}

/* ---- liveness --------------------------------------------------------- */

/* Takes one doorbell message ("b") off the side socket (*rung = 1), or
 * finds none; ECLOSED on hang-up, EPROTO for anything else.  Never blocks.
 * One per call is enough: there is at most one doorbell per arming, and
 * any extra keeps the socket readable, so the loop simply comes back. */
static int
shm_sock_drain(shm_conn *c, int *rung)
{
  char m[16];
  ssize_t n = recv(c->sock, m, sizeof(m), MSG_DONTWAIT);

  *rung = 0;
  if (n == 0)
    return PLUMB_ECLOSED;
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
               ? PLUMB_OK
               : PLUMB_ECLOSED;
  if (n != 1 || m[0] != 'b')
    return PLUMB_EPROTO;
  *rung = 1;
  return PLUMB_OK;
}

/* Has the peer hung up?  Looks without reading, so doorbells queued for a
 * waited-mode recv() in another thread are not consumed. */
static int
shm_sock_check(shm_conn *c)
{
  struct pollfd p = { c->sock, POLLRDHUP, 0 };

  if (poll(&p, 1, 0) <= 0)
    return PLUMB_OK;
  return p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)
             ? PLUMB_ECLOSED
             : PLUMB_OK;
}

static int
shm_conn_dead(void *arg, int deep)
{
  shm_conn *c = arg;

  if (atomic_load_explicit(&c->closed, memory_order_relaxed))
    return PLUMB_ECLOSED;
  if (atomic_load_explicit(&c->peer_gone, memory_order_relaxed) ||
      atomic_load_explicit(&c->chan->closed[1 - c->side],
                           memory_order_acquire))
    return PLUMB_ECLOSED;
  if (deep) {
    int rc = shm_sock_check(c);
    if (rc == PLUMB_ECLOSED)
      atomic_store(&c->peer_gone, 1);
    return rc;
  }
  return PLUMB_OK;
}

/* ---- sending -------------------------------------------------------- */

/* How much to copy between two publishes of a big frame.  With the peer on
 * another CPU, quarter-ring pieces let it copy out while we copy in; with
 * the peer on our CPU every publish may wake it and preempt us, so the
 * whole free space goes at once. */
static uint32_t
shm_piece_on(shm_conn *c, const plumb__shm_ring *r, int cpu)
{
  if (cpu >= 0 && atomic_load_explicit(&c->chan->side[1 - c->side].cpu,
                                       memory_order_relaxed) == cpu)
    return r->size;
  return r->size / 4;
}

static uint32_t
shm_piece(shm_conn *c, const plumb__shm_ring *r)
{
  return shm_piece_on(c, r, sched_getcpu());
}

/* The length of frame iov[0..iovcnt) into *total; PLUMB_ETOOBIG if it is
 * over max_frame (or 4 GiB). */
static int
shm_frame_len(const shm_conn *c, const struct iovec *iov, int iovcnt,
              size_t *total)
{
  *total = 0;
  for (int i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len > UINT32_MAX - *total)
      return PLUMB_ETOOBIG;
    *total += iov[i].iov_len;
  }
  return *total > c->max_frame ? PLUMB_ETOOBIG : PLUMB_OK;
}

/* A frame of at most a quarter ring, written whole if the ring has room
 * for it now: header and pieces copied in, one publish.  PLUMB_EAGAIN (and
 * nothing written) if there is no room. */
static int
shm_put_whole(shm_conn *c, const struct iovec *iov, int iovcnt, size_t total)
{
  uint32_t hdr[2], space, head_seen, need = (uint32_t)total + sizeof(hdr);
  int rc;

  if ((rc = plumb__shm_ring_writable(&c->tx, need, &space,
                                     &head_seen)) != 0)
    return c->tx_err = rc;
  if (space < need)
    return PLUMB_EAGAIN;
  hdr[0] = (uint32_t)total;
  hdr[1] = (uint32_t)total ^ SHM_FRAME_KEY;
  plumb__shm_ring_write(&c->tx, hdr, sizeof(hdr));
  for (int i = 0; i < iovcnt; i++)
    if (iov[i].iov_len > 0)
      plumb__shm_ring_write(&c->tx, iov[i].iov_base, iov[i].iov_len);
  plumb__shm_ring_publish_tail(&c->tx);
  /* Where we run, for the peer's spin-or-sleep choice. */
  plumb__shm_note_cpu(&c->chan->side[c->side].cpu, sched_getcpu());
  return PLUMB_OK;
}

/* Writes one frame of `total` bytes (checked by shm_frame_len), waiting
 * for room until the deadline (PLUMB_NOWAIT: PLUMB_EAGAIN at once if it
 * does not fit whole).  The connection was checked open by the caller. */
static int
shm_send_frame(shm_conn *c, const struct iovec *iov, int iovcnt,
               size_t total, int64_t deadline)
{
  uint32_t hdr[2], space, head_seen;
  size_t left, off = 0, piece;
  int src = -1, rc, written = 0, cpu;

  if (c->tx_err)
    return c->tx_err;
  if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
    return rc;
  left = total + sizeof(hdr);
  /* A frame of a quarter ring goes in one piece wherever the peer runs. */
  if (left <= c->tx.size / 4 &&
      (rc = shm_put_whole(c, iov, iovcnt, total)) != PLUMB_EAGAIN)
    return rc;
  hdr[0] = (uint32_t)total;
  hdr[1] = (uint32_t)total ^ SHM_FRAME_KEY;
  cpu = sched_getcpu();
  piece = left <= c->tx.size / 4 ? left : shm_piece_on(c, &c->tx, cpu);
  if (deadline == PLUMB_NOWAIT) {
    uint32_t need = left < c->tx.size ? (uint32_t)left : c->tx.size;
    if ((rc = plumb__shm_ring_writable(&c->tx, need, &space,
                                       &head_seen)) != 0)
      return c->tx_err = rc;
    if (space < left)
      return PLUMB_EAGAIN;
  }
  while (left > 0) {
    size_t n, want = left < piece ? left : piece;
    uint32_t need = want < c->tx.size ? (uint32_t)want : c->tx.size;
    if ((rc = plumb__shm_ring_writable(&c->tx, need, &space,
                                       &head_seen)) != 0)
      return c->tx_err = rc;
    if (space == 0) {
      rc = plumb__shm_wait(&c->spin_tx, &c->tx.ctl->head, head_seen,
                           &c->tx.ctl->prod_waiting, &c->tx.ctl->head_wake_ns,
                           deadline, SHM_SLICE_NS,
                           shm_conn_dead, c);
      if (rc != PLUMB_OK) {
        if (written)
          c->tx_err = rc == PLUMB_ETIMEDOUT ? PLUMB_ECLOSED : rc;
        return rc;
      }
      continue;
    }
    n = space < left ? space : left;
    if (n > piece)
      n = piece;
    left -= n;
    while (n > 0) {
      const uint8_t *p;
      size_t avail, k;
      if (src < 0) {
        p = (const uint8_t *)hdr + off;
        avail = sizeof(hdr) - off;
      } else {
        /* an empty piece may have a NULL base: no arithmetic on it */
        avail = iov[src].iov_len - off;
        p = avail ? (const uint8_t *)iov[src].iov_base + off : NULL;
      }
      if (avail == 0) {
        src++;
        off = 0;
        continue;
      }
      k = avail < n ? avail : n;
      plumb__shm_ring_write(&c->tx, p, k);
      off += k;
      n -= k;
    }
    plumb__shm_ring_publish_tail(&c->tx);
    written = 1;
  }
  /* Where we run, for the peer's spin-or-sleep choice. */
  plumb__shm_note_cpu(&c->chan->side[c->side].cpu, cpu);
  return PLUMB_OK;
}

static int
shm_conn_send(plumb_conn *pc, const struct iovec *iov, int iovcnt,
              int64_t deadline)
{
  shm_conn *c = (shm_conn *)pc;
  size_t total = 0;

  if (shm_frame_len(c, iov, iovcnt, &total) != PLUMB_OK)
    return PLUMB_ETOOBIG;
  if (atomic_load(&c->closed))
    return PLUMB_ECLOSED;
  shm_call_end(c);
  return shm_send_frame(c, iov, iovcnt, total, deadline);
}

/* Streams the kept frame (ttail) into the ring: without waiting
 * (PLUMB_EAGAIN once the ring is full) or, for the writer thread, waiting
 * for room as a blocking send() does.  Big frames go in pieces (shm_piece)
 * so that the peer copies out while we copy in. */
static int
shm_tail_push(shm_conn *c, int block)
{
  uint32_t space, head_seen;
  size_t piece;
  int rc;

  if (c->ttail.len == 0) /* nothing kept (its buffer was trimmed then) */
    return PLUMB_OK;
  piece = block ? shm_piece(c, &c->tx) : SIZE_MAX;
  while (c->ttoff < c->ttail.len) {
    /* need = the whole ring: always read the head afresh here. */
    if ((rc = plumb__shm_ring_writable(&c->tx, c->tx.size, &space,
                                       &head_seen)) != 0)
      return c->tx_err = rc;
    if (space == 0) {
      if (!block) {
        if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
          return c->tx_err = rc;
        return PLUMB_EAGAIN;
      }
      rc = plumb__shm_wait(&c->spin_tx, &c->tx.ctl->head, head_seen,
                           &c->tx.ctl->prod_waiting, &c->tx.ctl->head_wake_ns,
                           PLUMB_FOREVER, SHM_SLICE_NS, shm_conn_dead, c);
      if (rc != PLUMB_OK)
        return c->tx_err = rc;
      continue;
    }
    size_t n = c->ttail.len - c->ttoff;
    if (n > space)
      n = space;
    if (n > piece)
      n = piece;
    plumb__shm_ring_write(&c->tx, c->ttail.data + c->ttoff, n);
    plumb__shm_ring_publish_tail(&c->tx);
    c->ttoff += n;
  }
  c->ttail.len = c->ttoff = 0;
  if (c->ttail.cap > SHM_TTAIL_KEEP)
    plumb__buf_free(&c->ttail);
  return PLUMB_OK;
}

/* The writer thread (started at the first full ring of a server
 * connection): streams what flush() hands it, then signals wevfd. */
static void *
shm_writer_main(void *arg)
{
  shm_conn *c = arg;
  uint64_t one = 1;

  pthread_mutex_lock(&c->wmu);
  for (;;) {
    while (!c->w_busy && !c->w_stop)
      pthread_cond_wait(&c->wcv, &c->wmu);
    if (c->w_stop)
      break;
    pthread_mutex_unlock(&c->wmu);
    int rc = shm_tail_push(c, 1);
    pthread_mutex_lock(&c->wmu);
    c->w_status = rc;
    c->w_busy = 0;
    if (write(c->wevfd, &one, sizeof(one)) < 0) {
      /* cannot overflow: flush() reads it before the next hand-off */
    }
  }
  pthread_mutex_unlock(&c->wmu);
  return NULL;
}

/* The ring is full: the writer thread takes over the kept frame. */
static int
shm_hand_off(shm_conn *c)
{
  if (!c->wthr_on) {
    pthread_attr_t a;
    int rv;
    if (c->wevfd < 0 &&
        (c->wevfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
      return PLUMB_ESYS;
    if (pthread_attr_init(&a) != 0)
      return PLUMB_ESYS;
    pthread_attr_setstacksize(&a, SHM_WRITER_STACK);
    rv = pthread_create(&c->wthr, &a, shm_writer_main, c);
    pthread_attr_destroy(&a);
    if (rv != 0)
      return PLUMB_ESYS;
    c->wthr_on = 1;
  }
  pthread_mutex_lock(&c->wmu);
  c->w_busy = 1;
  pthread_cond_signal(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  return PLUMB_EAGAIN;
}

/* Server side, never blocking (transport.h).  A frame that fits the ring
 * and finds room goes in whole; any other is copied and streamed through by
 * flush(), or by the writer thread while the ring is full. */
static int
shm_conn_flush(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;
  int rc;

  if (c->wthr_on) {
    uint64_t v;
    pthread_mutex_lock(&c->wmu);
    int busy = c->w_busy;
    if (!busy && read(c->wevfd, &v, sizeof(v)) < 0) {
      /* EAGAIN: nothing handed off since the last look */
    }
    pthread_mutex_unlock(&c->wmu);
    if (busy)
      return PLUMB_EAGAIN;
  }
  if (atomic_load(&c->closed))
    return PLUMB_ECLOSED;
  if (c->tx_err)
    return c->tx_err;
  rc = shm_tail_push(c, 0);
  return rc == PLUMB_EAGAIN ? shm_hand_off(c) : rc;
}

static int
shm_conn_try_send(plumb_conn *pc, const struct iovec *iov, int iovcnt)
{
  shm_conn *c = (shm_conn *)pc;
  size_t total = 0;
  int rc;

  if ((rc = shm_conn_flush(pc)) != PLUMB_OK)
    return rc; /* PLUMB_EAGAIN: a kept frame still goes first */
  if (shm_frame_len(c, iov, iovcnt, &total) != PLUMB_OK)
    return PLUMB_ETOOBIG;
  shm_call_end(c); /* answered, whether it fits the ring now or not */
  if (total + 8 <= c->tx.size) {
    if (atomic_load(&c->closed))
      return PLUMB_ECLOSED;
    rc = shm_send_frame(c, iov, iovcnt, total, PLUMB_NOWAIT);
    if (rc != PLUMB_EAGAIN)
      return rc;
    if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
      return rc;
  }
  if (plumb__buf_reserve(&c->ttail, total + 8) != PLUMB_OK)
    return PLUMB_ENOMEM;
  uint32_t hdr[2] = { (uint32_t)total, (uint32_t)total ^ SHM_FRAME_KEY };
  memcpy(c->ttail.data, hdr, sizeof(hdr));
  c->ttail.len = sizeof(hdr);
  for (int i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len)
      memcpy(c->ttail.data + c->ttail.len, iov[i].iov_base, iov[i].iov_len);
    c->ttail.len += iov[i].iov_len;
  }
  c->ttoff = 0;
  rc = shm_conn_flush(pc);
  return rc == PLUMB_EAGAIN ? PLUMB_OK : rc; /* taken either way */
}

/* The writer thread's eventfd once it exists (it does whenever flush() said
 * PLUMB_EAGAIN). */
static int
shm_conn_write_wait(plumb_conn *pc, int *fd, uint32_t *events)
{
  shm_conn *c = (shm_conn *)pc;

  *fd = c->wevfd;
  *events = EPOLLIN;
  if (c->wevfd < 0) {
    *events = 0;
    return PLUMB_ENOTSUP;
  }
  return PLUMB_OK;
}

/* Bytes of a frame begun and not complete: the header bytes read, and once
 * the header is whole, the body bytes assembled.  (rgot keeps the length of
 * the last frame handed over until the next header is whole: it counts
 * only while rhdr_got says a frame is under way.) */
static size_t
shm_conn_rx_partial(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;
  if (c->rhdr_got < sizeof(c->rhdr))
    return c->rhdr_got;
  return c->rhdr_got + c->rgot;
}

/* ---- receiving ------------------------------------------------------ */

/* Moves what the ring holds into the frame being assembled.  PLUMB_OK when
 * a frame is complete (then handed over in buf), PLUMB_EAGAIN if more is
 * needed, else a sticky error.  *more: bytes remain in the ring. */
static int
shm_rx_pull(shm_conn *c, plumb_buf *buf, int *more, uint32_t *seen)
{
  uint32_t avail, n, piece = 0;
  int rc = PLUMB_EAGAIN;

  *more = 0;
  if (c->rx_err)
    return c->rx_err;
  if (plumb__shm_ring_readable(&c->rx, &avail, seen) != PLUMB_OK)
    return c->rx_err = PLUMB_EPROTO;
  for (;;) {
    if (c->rhdr_got < sizeof(c->rhdr)) {
      uint32_t len, chk;
      if (avail == 0)
        break;
      n = (uint32_t)sizeof(c->rhdr) - c->rhdr_got;
      n = n < avail ? n : avail;
      plumb__shm_ring_read(&c->rx, c->rhdr + c->rhdr_got, n);
      c->rhdr_got += n;
      avail -= n;
      if (c->rhdr_got < sizeof(c->rhdr))
        break;
      memcpy(&len, c->rhdr, 4);
      memcpy(&chk, c->rhdr + 4, 4);
      if (chk != (len ^ SHM_FRAME_KEY)) {
        rc = PLUMB_EPROTO;
        break;
      }
      if (len > c->max_frame) {
        rc = PLUMB_ETOOBIG;
        break;
      }
      /* A frame the buffer already holds within the free allowance
       * charges nothing and grows nothing: no call for it. */
      if ((len > c->part.cap || len > PLUMB__RX_FREE || c->rx_charged) &&
          plumb__rx_charge(c->rx_pool, &c->rx_charged,
                           plumb__rx_held(&c->part, len)) != PLUMB_OK) {
        rc = PLUMB_EBUSY; /* the server's receive memory is full */
        break;
      }
      if (plumb__buf_reserve(&c->part, len ? len : 1) != PLUMB_OK) {
        rc = PLUMB_ENOMEM;
        break;
      }
      c->rlen = len;
      c->rgot = 0;
    }
    if (c->rgot == c->rlen) {
      /* Hand the assembled buffer over; keep the caller's for reuse. */
      plumb_buf old = *buf;
      buf->data = c->part.data;
      buf->cap = c->part.cap;
      buf->len = c->rlen;
      c->part.data = old.data;
      c->part.cap = old.cap;
      c->part.len = 0;
      c->rhdr_got = 0;
      if (c->rx_charged)
        plumb__rx_release(c->rx_pool, &c->rx_charged);
      rc = PLUMB_OK;
      break;
    }
    if (avail == 0) {
      /* Mid-frame: the producer may have published more meanwhile. */
      if (plumb__shm_ring_readable(&c->rx, &avail, seen) != PLUMB_OK) {
        rc = PLUMB_EPROTO;
        break;
      }
      if (avail == 0)
        break;
    }
    n = c->rlen - c->rgot;
    n = n < avail ? n : avail;
    if (n > c->rx.size / 4) { /* a piece is never less than that */
      if (piece == 0)
        piece = shm_piece(c, &c->rx);
      if (n > piece)
        n = piece;
    }
    plumb__shm_ring_read(&c->rx, c->part.data + c->rgot, n);
    c->rgot += n;
    avail -= n;
    /* Big frames free each quarter-ring piece at once (a frame complete
     * now is released below). */
    if (c->rgot < c->rlen)
      plumb__shm_ring_release(&c->rx, 1);
  }
  /* A whole small frame: the head may wait for our next wait or send
   * (plumb__shm_ring_release); a partial one frees its space now. */
  plumb__shm_ring_release(&c->rx, rc == PLUMB_OK);
  if (rc != PLUMB_OK && rc != PLUMB_EAGAIN)
    c->rx_err = rc;
  *more = avail > 0;
  return rc;
}

/* The peer is gone: deliver a frame it completed before leaving, if any. */
static int
shm_rx_final(shm_conn *c, plumb_buf *buf, int why)
{
  uint32_t seen;
  int more, rc;

  if (why != PLUMB_ECLOSED || atomic_load(&c->closed))
    return why;
  rc = shm_rx_pull(c, buf, &more, &seen);
  return rc == PLUMB_EAGAIN ? PLUMB_ECLOSED : rc;
}

static void
shm_signal(shm_conn *c)
{
  uint64_t one = 1;

  atomic_store(&c->efd_pending, 1);
  (void)!write(c->efd, &one, sizeof(one));
}

/* Busy pollers in this process at once: at most one CPU fewer than there
 * are (at least one), so polling never takes every CPU from the peers it
 * waits for, nor the server's other workers from their connections. */
static _Atomic int shm_pollers;

static int
shm_poll_enter(void)
{
  static _Atomic int max;
  int m = atomic_load_explicit(&max, memory_order_relaxed);

  if (m == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m = n > 2 ? (int)n - 1 : 1;
    atomic_store_explicit(&max, m, memory_order_relaxed);
  }
  if (atomic_fetch_add(&shm_pollers, 1) < m)
    return 1;
  atomic_fetch_sub(&shm_pollers, 1);
  return 0;
}

/* Waited mode: the core polls conn_fd() (sock + efd).  Before reporting
 * EAGAIN we drain the doorbells, arm the bell (the producer's next publish
 * sends one doorbell message on the side socket) and look at the ring once
 * more, so a frame published meanwhile is never missed.  A frame returned
 * does not drain anything: the fd stays readable until a call finds the
 * ring empty, so frames already queued are not forgotten. */
static int
shm_recv_waited(shm_conn *c, plumb_buf *buf, int64_t deadline)
{
  for (;;) {
    uint32_t seen;
    int more, rung, rc = shm_rx_pull(c, buf, &more, &seen);

    /* Busy poll (the server's default, PLUMB_SHM_POLL_US): a request
     * that follows within the adaptive budget costs no system call at
     * all.  Bounded in time and in pollers (shm_poll_enter), and only
     * while no other connection has a call in progress here (that one
     * needs the CPU; its client's next request wakes us anyway). */
    if (rc == PLUMB_EAGAIN && c->spin_poll.max_ns != 0 &&
        atomic_load_explicit(&shm_srv_calls, memory_order_relaxed) == 0 &&
        shm_poll_enter()) {
      int won = plumb__shm_poll(&c->spin_poll, &c->rx.ctl->tail, seen);
      atomic_fetch_sub(&shm_pollers, 1);
      if (won)
        rc = shm_rx_pull(c, buf, &more, &seen);
    }
    if (rc != PLUMB_EAGAIN)
      return rc;
    if (atomic_exchange(&c->efd_pending, 0)) {
      uint64_t v;
      (void)!read(c->efd, &v, sizeof(v));
    }
    rc = shm_sock_drain(c, &rung);
    if (rc == PLUMB_ECLOSED)
      atomic_store(&c->peer_gone, 1);
    else if (rc == PLUMB_EPROTO)
      c->rx_err = rc;
    atomic_store_explicit(&c->rx.ctl->cons_waiting, PLUMB_SHM_WAIT_BELL,
                          memory_order_seq_cst);
    if (rc == PLUMB_OK)
      rc = shm_rx_pull(c, buf, &more, &seen);
    if (rc != PLUMB_EAGAIN && rc != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
    if (rc == PLUMB_OK)
      return rc;
    if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
    struct pollfd p = { c->epfd, POLLIN, 0 };
    if (poll(&p, 1, plumb__poll_timeout(deadline)) < 0 && errno != EINTR)
      return PLUMB_ESYS;
  }
}

static int shm_conn_recv_frame(shm_conn *c, plumb_buf *buf,
                               int64_t deadline);

static int
shm_conn_recv(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  shm_conn *c = (shm_conn *)pc;
  int rc = shm_conn_recv_frame(c, buf, deadline);

  if (rc == PLUMB_OK)
    shm_call_begin(c);
  return rc;
}

static int
shm_conn_recv_frame(shm_conn *c, plumb_buf *buf, int64_t deadline)
{

  if (atomic_load(&c->closed))
    return PLUMB_ECLOSED;
  if (atomic_load_explicit(&c->waited, memory_order_acquire))
    return shm_recv_waited(c, buf, deadline);
  for (;;) {
    uint32_t seen;
    int more, rc = shm_rx_pull(c, buf, &more, &seen);

    if (rc != PLUMB_EAGAIN)
      return rc;
    if ((rc = shm_conn_dead(c, deadline == PLUMB_NOWAIT)) != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    rc = plumb__shm_wait(&c->spin_rx, &c->rx.ctl->tail, seen,
                         &c->rx.ctl->cons_waiting, &c->rx.ctl->tail_wake_ns,
                         deadline, SHM_SLICE_NS, shm_conn_dead, c);
    if (rc != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
  }
}

/* ---- waited mode ------------------------------------------------------ */

static int
shm_waited_start(shm_conn *c)
{
  struct epoll_event ev;
  uint32_t avail, seen;

  c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->efd < 0 || c->epfd < 0)
    goto fail;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->efd, &ev) != 0)
    goto fail;
  ev.events = EPOLLIN | EPOLLRDHUP;
  if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->sock, &ev) != 0)
    goto fail;
  /* Arm the bell; if bytes are already there, make the fd readable now. */
  atomic_store_explicit(&c->rx.ctl->cons_waiting, PLUMB_SHM_WAIT_BELL,
                        memory_order_seq_cst);
  if (plumb__shm_ring_readable(&c->rx, &avail, &seen) != PLUMB_OK ||
      avail > 0 || c->rhdr_got > 0)
    shm_signal(c);
  atomic_store_explicit(&c->waited, 1, memory_order_release);
  return c->epfd;

fail:
  if (c->efd >= 0)
    close(c->efd);
  if (c->epfd >= 0)
    close(c->epfd);
  c->efd = c->epfd = -1;
  return -1;
}

/* Switches the connection to waited mode (first call) and returns an fd
 * that polls readable when recv() may make progress: the side socket
 * (doorbells, peer death) and a private eventfd, in one epoll set.  Must
 * not race with a blocking recv() in direct mode. */
static int
shm_conn_fd(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;
  int fd;

  pthread_mutex_lock(&c->fd_lock);
  fd = atomic_load(&c->waited) ? c->epfd : shm_waited_start(c);
  pthread_mutex_unlock(&c->fd_lock);
  return fd;
}

static int
shm_conn_peer(plumb_conn *pc, plumb_peer *out)
{
  shm_conn *c = (shm_conn *)pc;
  struct ucred cr;
  socklen_t len = sizeof(cr);

  memset(out, 0, sizeof(*out));
  if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
    return PLUMB_ESYS;
  out->has_creds = 1;
  out->pid = cr.pid;
  out->uid = cr.uid;
  out->gid = cr.gid;
  return PLUMB_OK;
}

static void
shm_conn_shutdown(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;

  if (atomic_exchange(&c->closed, 1) || c->chan == NULL)
    return;
  atomic_store(&c->chan->closed[c->side], 1);
  /* Wake everyone who may sleep on this channel: the peer and ourselves. */
  plumb__futex_wake(&c->tx.ctl->tail, INT_MAX);
  plumb__futex_wake(&c->tx.ctl->head, INT_MAX);
  plumb__futex_wake(&c->rx.ctl->tail, INT_MAX);
  plumb__futex_wake(&c->rx.ctl->head, INT_MAX);
  shutdown(c->sock, SHUT_RDWR);
}

plumb__shm_chan *
plumb__shm_test_channel(plumb_conn *pc, size_t *len)
{
  shm_conn *c = (shm_conn *)pc;

  if (len)
    *len = c->map_len;
  return c->chan;
}

plumb__shm_ring *
plumb__shm_test_tx_ring(plumb_conn *pc)
{
  return &((shm_conn *)pc)->tx;
}

const plumb__shm_spin *
plumb__shm_test_rx_spin(plumb_conn *pc)
{
  return &((shm_conn *)pc)->spin_rx;
}

const plumb_transport plumb__tran_shm = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "shm",
  .aliases = NULL,
  .listen = shm_listen,
  .listener_fd = shm_listener_fd,
  .accept = shm_accept,
  .listener_close = shm_listener_close,
  .dial = shm_dial,
  .send = shm_conn_send,
  .try_send = shm_conn_try_send,
  .flush = shm_conn_flush,
  .write_wait = shm_conn_write_wait,
  .rx_partial = shm_conn_rx_partial,
  .recv = shm_conn_recv,
  .conn_fd = shm_conn_fd,
  .peer = shm_conn_peer,
  .shutdown = shm_conn_shutdown,
  .close = shm_conn_close,
};
