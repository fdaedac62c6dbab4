/* shm.c - the `shm` transport: frames through shared-memory rings with
 * futex wake-ups.
 *
 * Endpoint `shm:/name[?ring=BYTES][&spin=US][&poll=US]`: ring is the size
 * of each ring (a power of two between 4 KiB and 256 MiB; 256 KiB by
 * default, the server's choice), spin and poll cap this side's spinning
 * (else PLUMB_SHM_SPIN_US / PLUMB_SHM_POLL_US, else 50 and - on the
 * server side only - 50; the client does not poll).  The name is
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
 *
 * This file owns the names, the control segment, listen/accept/dial and a
 * connection's life; shm_io.c moves the frames (send, receive, waited
 * mode, liveness), shm_int.h is what the two share.
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
#include "shm_int.h"
#include "shm_ring.h"
#include "transport.h"

#define SHM_NAME_MAX 64
#define SHM_CTL_MAGIC 0x706c6d63u  /* "plmc" */
#define SHM_HELLO_MAGIC 0x706c6d68u /* "plmh" */
/* Default upper bounds of the adaptive spins, in us: a blocking wait's
 * spin before the futex (both sides), and the server's busy poll before a
 * waited-mode recv() reports EAGAIN (plumb__shm_poll).  A wait the spin
 * misses costs a wake-up, 5-60 us depending on the machine; 50 covers the
 * answer to a quarter-ring (64 KiB) echo, which 20 missed every time:
 * 64 KiB echo 102 -> 9.8 us, 4 KiB 3.4 -> 2.7 us, null calls unchanged
 * (docs/TRANSPORTS.md, "Waiting"). */
#define SHM_SPIN_US 50
#define SHM_SERVER_POLL_US 50

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

static void shm_conn_shutdown(plumb_conn *pc);

static void
shm_conn_close(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;

  shm_conn_shutdown(pc); /* wakes a writer waiting for room, too */
  plumb__shm_call_forget(c);
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
  .send = plumb__shm_conn_send,
  .try_send = plumb__shm_conn_try_send,
  .flush = plumb__shm_conn_flush,
  .write_wait = plumb__shm_conn_write_wait,
  .rx_partial = plumb__shm_conn_rx_partial,
  .recv = plumb__shm_conn_recv,
  .conn_fd = plumb__shm_conn_fd,
  .peer = shm_conn_peer,
  .shutdown = shm_conn_shutdown,
  .close = shm_conn_close,
};
