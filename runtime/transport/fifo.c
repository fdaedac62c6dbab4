/* fifo.c - the `fifo` transport: named pipes (mkfifo(3)).
 *
 * Endpoint `fifo:/tmp/calc`.  The server creates the rendezvous FIFO at that
 * path (mode from the options, 0600 by default) and keeps it open read-write,
 * so it never sees end-of-file there.  The rendezvous carries only fixed
 * 64-byte hello messages (below PIPE_BUF, so each write is atomic and hellos
 * of concurrent clients never mix).  A client creates a private pair
 * <path>.<pid>.<n>.c2s / .s2c in the same directory, announces it with a
 * hello, and gets an ACK frame on s2c; then both names are unlinked, so
 * nothing stays in the file system whatever way the processes end.  Frames
 * use the shared stream framing (stream.h); a dead peer shows as end of
 * file.  listen() removes a rendezvous FIFO nobody reads (a dead server's)
 * and pairs left by dead clients; it never takes over a live server's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "stream.h"
#include "transport.h"

#define FIFO_HELLO_SIZE 64
#define FIFO_MAGIC "plumbfh1" /* 8 bytes */
#define FIFO_ACK "plumbfa1"

typedef struct fifo_listener {
  plumb_listener base;
  int fd;        /* rendezvous, O_RDWR */
  uint32_t max_frame;
  dev_t dev;
  ino_t ino;
  char *path;
  uint8_t buf[FIFO_HELLO_SIZE * 16];
  size_t have, off; /* buffered hellos */
} fifo_listener;

typedef struct fifo_conn {
  plumb__fdconn fc; /* first: the stream connection (stream.h) */
  int rz;        /* client: write end of the rendezvous FIFO, and its */
  char *rzpath;  /* path, to remove it if its server dies */
} fifo_conn;

const plumb_transport plumb__tran_fifo;

static int
fifo_valid_path(const char *addr)
{
  size_t n = addr ? strlen(addr) : 0;
  return n > 0 && n + 32 < PATH_MAX && addr[n - 1] != '/';
}

static void
fifo_pair_name(char *out, size_t cap, const char *path, uint32_t pid,
               uint32_t n, const char *dir)
{
  snprintf(out, cap, "%s.%u.%u.%s", path, pid, n, dir);
}

static int
fifo_errno_status(int e)
{
  switch (e) {
  case ENOENT:
  case ENXIO:
  case ECONNREFUSED:
    return PLUMB_ECONNREFUSED;
  case EACCES:
  case EPERM:
    return PLUMB_EPERM;
  case EEXIST:
  case EADDRINUSE:
    return PLUMB_EBUSY;
  case ENOTDIR:
  case ENAMETOOLONG:
  case ELOOP:
    return PLUMB_EADDR;
  case ENOMEM:
    return PLUMB_ENOMEM;
  default:
    return PLUMB_ESYS;
  }
}

/* ---- connections ---- */

static fifo_conn *
fifo_conn_new(void)
{
  fifo_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->rz = -1;
  if (plumb__fdconn_init_pipes(&c->fc, &plumb__tran_fifo) != PLUMB_OK) {
    free(c);
    return NULL;
  }
  return c;
}

static void
fifo_conn_free(fifo_conn *c)
{
  plumb__fdconn_fini(&c->fc);
  if (c->rz >= 0)
    close(c->rz);
  free(c->rzpath);
  free(c);
}

/* A killed server cannot remove its rendezvous FIFO: its clients do, on
 * close, if nobody reads it any more and the path is still that FIFO. */
static void
fifo_reclaim_dead_server(fifo_conn *c)
{
  struct pollfd p = { .fd = c->rz, .events = 0 };
  struct stat a, b;

  if (c->rz < 0 || c->rzpath == NULL || poll(&p, 1, 0) != 1 ||
      !(p.revents & POLLERR)) /* POLLERR on a write end: no reader */
    return;
  if (lstat(c->rzpath, &a) == 0 && fstat(c->rz, &b) == 0 &&
      a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    unlink(c->rzpath);
}

static void
fifo_close(plumb_conn *pc)
{
  fifo_reclaim_dead_server((fifo_conn *)pc);
  fifo_conn_free((fifo_conn *)pc);
}

/* ---- server side ---- */

/* Removes <path>.<pid>.<n>.{c2s,s2c} whose pid is dead (crashed clients). */
static void
fifo_sweep(const char *path)
{
  char *dir = strdup(path), *slash;
  const char *base;
  DIR *d;

  if (dir == NULL)
    return;
  slash = strrchr(dir, '/');
  if (slash == NULL) {
    base = path;
    strcpy(dir, ".");
  } else {
    *slash = '\0';
    base = path + (slash - dir) + 1;
    if (dir[0] == '\0')
      strcpy(dir, "/");
  }
  size_t bl = strlen(base);
  if ((d = opendir(dir)) != NULL) {
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL && n++ < 100000) {
      unsigned pid, ctr;
      char kind[8];
      int used = 0;
      if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '.')
        continue;
      if (sscanf(e->d_name + bl, ".%u.%u.%3s%n", &pid, &ctr, kind, &used) !=
              3 ||
          e->d_name[bl + (size_t)used] != '\0' ||
          (strcmp(kind, "c2s") != 0 && strcmp(kind, "s2c") != 0))
        continue;
      if (plumb__pid_alive((pid_t)pid))
        continue;
      char full[PATH_MAX];
      if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, e->d_name) <
          sizeof(full))
        unlink(full);
    }
    closedir(d);
  }
  free(dir);
}

static int
fifo_listen(const char *addr, const plumb_tran_opts *opts,
            plumb_listener **out)
{
  unsigned mode = opts && opts->mode ? opts->mode : 0600;
  fifo_listener *l;
  struct stat st;
  int fd;

  *out = NULL;
  if (!fifo_valid_path(addr))
    return PLUMB_EADDR;
  for (int attempt = 0;; attempt++) {
    if (mkfifo(addr, (mode_t)mode) == 0)
      break;
    if (errno != EEXIST || attempt > 0)
      return fifo_errno_status(errno);
    /* Something is there: a live server's FIFO (it has a reader), a dead
     * server's (no reader: reclaim it) or not a FIFO at all. */
    if (lstat(addr, &st) < 0)
      continue;
    if (!S_ISFIFO(st.st_mode))
      return PLUMB_EBUSY;
    fd = open(addr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      return PLUMB_EBUSY;
    }
    if (errno != ENXIO)
      return fifo_errno_status(errno);
    unlink(addr);
  }
  fd = open(addr, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fchmod(fd, (mode_t)mode) < 0 || /* not umasked */
      fstat(fd, &st) < 0 ||
      (opts && opts->has_group && fchown(fd, (uid_t)-1, opts->group) < 0)) {
    int rv = fifo_errno_status(errno);
    if (fd >= 0)
      close(fd);
    unlink(addr);
    return rv;
  }
  if ((l = calloc(1, sizeof(*l))) == NULL || (l->path = strdup(addr)) == NULL) {
    free(l);
    close(fd);
    unlink(addr);
    return PLUMB_ENOMEM;
  }
  l->base.ops = &plumb__tran_fifo;
  l->fd = fd;
  l->dev = st.st_dev;
  l->ino = st.st_ino;
  l->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  fifo_sweep(addr);
  *out = &l->base;
  return PLUMB_OK;
}

static int
fifo_listener_fd(plumb_listener *pl)
{
  return ((fifo_listener *)pl)->fd;
}

/* Opens the pair a hello names and sends the ACK; fails if the client is
 * already gone. */
static int
fifo_accept_hello(fifo_listener *l, const uint8_t *h, fifo_conn **out)
{
  char c2s[PATH_MAX], s2c[PATH_MAX];
  uint8_t ack[12];
  struct iovec v = { ack, sizeof(ack) };
  uint32_t pid, ctr;
  fifo_conn *c;
  int rv;

  if (memcmp(h, FIFO_MAGIC, 8) != 0)
    return PLUMB_EPROTO;
  pid = plumb__get_le32(h + 8);
  ctr = plumb__get_le32(h + 12);
  if (pid == 0 || pid > INT_MAX)
    return PLUMB_EPROTO;
  fifo_pair_name(c2s, sizeof(c2s), l->path, pid, ctr, "c2s");
  fifo_pair_name(s2c, sizeof(s2c), l->path, pid, ctr, "s2c");
  if ((c = fifo_conn_new()) == NULL)
    return PLUMB_ENOMEM;
  c->fc.peer_pid = (pid_t)pid;
  /* Both ends are held by the client already, so neither open blocks nor
   * sees end of file. */
  c->fc.rfd = open(c2s, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  c->fc.wfd =
      c->fc.rfd < 0 ? -1 : open(s2c, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (c->fc.rfd < 0 || c->fc.wfd < 0) {
    rv = PLUMB_ECLOSED;
    goto fail;
  }
  plumb__fdconn_start(&c->fc, l->max_frame);
  memcpy(ack, FIFO_ACK, 8);
  plumb__put_le32(ack + 8, (uint32_t)getpid());
  if ((rv = plumb__stream_send(&c->fc.st, &v, 1, PLUMB_NOWAIT)) != PLUMB_OK)
    goto fail;
  *out = c;
  return PLUMB_OK;
fail:
  fifo_conn_free(c);
  return rv;
}

static int
fifo_accept(plumb_listener *pl, plumb_conn **out)
{
  fifo_listener *l = (fifo_listener *)pl;

  *out = NULL;
  for (;;) {
    if (l->have - l->off < FIFO_HELLO_SIZE) {
      l->have = l->off = 0;
      ssize_t n = read(l->fd, l->buf, sizeof(l->buf));
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return errno == EAGAIN ? PLUMB_EAGAIN : PLUMB_ESYS;
      }
      /* hellos are written whole (atomic) so reads return whole ones */
      l->have = (size_t)n - (size_t)n % FIFO_HELLO_SIZE;
      if (l->have == 0)
        return PLUMB_EAGAIN;
    }
    fifo_conn *c = NULL;
    int rv = fifo_accept_hello(l, l->buf + l->off, &c);
    l->off += FIFO_HELLO_SIZE;
    if (rv == PLUMB_OK) {
      *out = &c->fc.base;
      return PLUMB_OK;
    }
    if (rv == PLUMB_ENOMEM)
      return rv;
  }
}

static void
fifo_listener_close(plumb_listener *pl)
{
  fifo_listener *l = (fifo_listener *)pl;
  struct stat st;

  if (lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
    unlink(l->path);
  close(l->fd);
  free(l->path);
  free(l);
}

/* ---- client side ---- */

static int
fifo_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
          plumb_conn **out)
{
  static atomic_uint counter;
  char c2s[PATH_MAX], s2c[PATH_MAX];
  unsigned mode = opts && opts->mode ? opts->mode : 0600;
  uint32_t ctr = atomic_fetch_add(&counter, 1);
  uint8_t hello[FIFO_HELLO_SIZE] = { 0 };
  plumb_buf ack = { 0 };
  int rv, rz = -1, hold = -1;
  fifo_conn *c;

  *out = NULL;
  if (!fifo_valid_path(addr))
    return PLUMB_EADDR;
  rz = open(addr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (rz < 0)
    return fifo_errno_status(errno); /* ENXIO: nobody reads: no server */
  if ((c = fifo_conn_new()) == NULL) {
    close(rz);
    return PLUMB_ENOMEM;
  }
  fifo_pair_name(c2s, sizeof(c2s), addr, (uint32_t)getpid(), ctr, "c2s");
  fifo_pair_name(s2c, sizeof(s2c), addr, (uint32_t)getpid(), ctr, "s2c");
  unlink(c2s); /* left by an earlier process with our pid */
  unlink(s2c);
  if (mkfifo(c2s, (mode_t)mode) < 0 || mkfifo(s2c, (mode_t)mode) < 0) {
    rv = fifo_errno_status(errno);
    goto fail;
  }
  /* s2c: we read.  c2s: we write, holding a read end of our own until the
   * server has opened it, so neither side ever sees a premature EOF. */
  c->fc.rfd = open(s2c, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  hold = open(c2s, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  c->fc.wfd = hold < 0 ? -1 : open(c2s, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (c->fc.rfd < 0 || c->fc.wfd < 0 || fchmod(c->fc.rfd, (mode_t)mode) < 0 ||
      fchmod(c->fc.wfd, (mode_t)mode) < 0 ||
      (opts && opts->has_group &&
       (fchown(c->fc.rfd, (uid_t)-1, opts->group) < 0 ||
        fchown(c->fc.wfd, (uid_t)-1, opts->group) < 0))) {
    rv = fifo_errno_status(errno);
    goto fail;
  }
  plumb__fdconn_start(&c->fc, opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME);
  memcpy(hello, FIFO_MAGIC, 8);
  plumb__put_le32(hello + 8, (uint32_t)getpid());
  plumb__put_le32(hello + 12, ctr);
  for (;;) { /* atomic: whole or nothing (EAGAIN while the FIFO is full) */
    ssize_t w = write(rz, hello, sizeof(hello));
    if (w == (ssize_t)sizeof(hello))
      break;
    if (w < 0 && errno == EINTR)
      continue;
    if (w >= 0 || errno != EAGAIN) {
      rv = errno == EPIPE ? PLUMB_ECONNREFUSED : PLUMB_ESYS;
      goto fail;
    }
    struct pollfd p = { .fd = rz, .events = POLLOUT };
    if (poll(&p, 1, plumb__poll_timeout(deadline)) == 0) {
      rv = PLUMB_ETIMEDOUT;
      goto fail;
    }
    if (p.revents & (POLLERR | POLLHUP)) {
      rv = PLUMB_ECONNREFUSED;
      goto fail;
    }
  }
  /* The ACK frame.  read() would report EOF while s2c has no writer yet,
   * but poll() reports no HUP before its first writer: poll first. */
  for (;;) {
    struct pollfd p[2] = { { .fd = c->fc.rfd, .events = POLLIN },
                           { .fd = rz, .events = 0 } };
    int r = poll(p, 2, deadline == PLUMB_FOREVER ? 50
                       : plumb__poll_timeout(deadline) < 50
                           ? plumb__poll_timeout(deadline)
                           : 50);
    if (r < 0 && errno != EINTR) {
      rv = PLUMB_ESYS;
      break;
    }
    if (p[1].revents & POLLERR) { /* the server closed the rendezvous */
      rv = PLUMB_ECONNREFUSED;
      break;
    }
    if (p[0].revents) {
      rv = plumb__stream_recv(&c->fc.st, &ack, PLUMB_NOWAIT);
      if (rv != PLUMB_EAGAIN)
        break;
    }
    if (r == 0 && deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline) {
      rv = PLUMB_ETIMEDOUT;
      break;
    }
  }
  if (rv == PLUMB_OK && (ack.len != 12 || memcmp(ack.data, FIFO_ACK, 8)))
    rv = PLUMB_EPROTO;
  if (rv != PLUMB_OK) {
    if (rv == PLUMB_ECLOSED)
      rv = PLUMB_ECONNREFUSED;
    goto fail;
  }
  c->fc.peer_pid = (pid_t)plumb__get_le32(ack.data + 8);
  plumb__buf_free(&ack);
  close(hold);
  c->rz = rz;
  c->rzpath = strdup(addr); /* NULL only costs the clean-up on close */
  unlink(c2s);
  unlink(s2c);
  *out = &c->fc.base;
  return PLUMB_OK;
fail:
  plumb__buf_free(&ack);
  if (hold >= 0)
    close(hold);
  close(rz);
  unlink(c2s);
  unlink(s2c);
  fifo_conn_free(c);
  return rv;
}

const plumb_transport plumb__tran_fifo = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "fifo",
  .aliases = NULL,
  .listen = fifo_listen,
  .listener_fd = fifo_listener_fd,
  .accept = fifo_accept,
  .listener_close = fifo_listener_close,
  .dial = fifo_dial,
  .send = plumb__fdconn_send,
  .try_send = plumb__fdconn_try_send,
  .flush = plumb__fdconn_flush,
  .write_wait = plumb__fdconn_write_wait,
  .rx_partial = plumb__fdconn_rx_partial,
  .recv = plumb__fdconn_recv,
  .conn_fd = plumb__fdconn_fd,
  .peer = plumb__fdconn_peer,
  .shutdown = plumb__fdconn_shutdown,
  .close = fifo_close,
};
