/* fifo.c - the `fifo` transport: named pipes (mkfifo(3)).
 *
 * Endpoint `fifo:/tmp/calc`.  The server creates the rendezvous FIFO at that
 * path (mode from the options, 0600 by default) and keeps it open read-write,
 * so it never sees end-of-file there.  The rendezvous carries only fixed
 * 64-byte hellos (below PIPE_BUF, so each write is atomic and hellos of
 * concurrent clients never mix) with a magic and a checksum; bytes that are
 * not a hello (anyone may write there) are skipped until the next magic.
 *
 * A client makes a private directory <path>.<pid>.<random> (mkdir is
 * exclusive; mode 0700, or 0710 with the rendezvous' group when the server
 * is another non-root uid) holding the pair <random2>.c2s / .s2c, announces
 * both random parts (getrandom, 64 bits each) in a hello and gets an ACK
 * frame on s2c.  The server opens the directory and the pair without
 * following links (O_PATH|O_NOFOLLOW), checks that they are a directory and
 * FIFOs of one owner - the peer's uid that peer() reports - and only then
 * opens them for I/O; then it removes them (the client does too), so
 * nothing stays in the file system whatever way the processes end.  A pair
 * whose client died before the server saw it is removed by the server's
 * sweep (at listen and, at most every 2 s, at accept).  Frames use the
 * shared stream framing (stream.h); a dead peer shows as end of file.
 * listen() removes a rendezvous FIFO nobody reads (a dead server's); it
 * never takes over a live server's.
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
#define FIFO_MAGIC "plumbfh2" /* 8 bytes */
#define FIFO_ACK "plumbfa1"
#define FIFO_SWEEP_NS (2000 * 1000000LL)

typedef struct fifo_listener {
  plumb_listener base;
  int fd;        /* rendezvous, O_RDWR */
  uint32_t max_frame;
  plumb__rx_pool *rx_pool; /* for the connections (NULL: none) */
  dev_t dev;
  ino_t ino;
  char *path;
  uint8_t buf[FIFO_HELLO_SIZE * 16];
  size_t have, off; /* buffered rendezvous bytes: buf[off..have) */
  int64_t swept;    /* when fifo_sweep() last ran */
} fifo_listener;

typedef struct fifo_conn {
  plumb__fdconn fc; /* first: the stream connection (stream.h) */
  uid_t uid;        /* server side: the pair's owner */
  gid_t gid;
  int rz;        /* client: write end of the rendezvous FIFO, and its */
  char *rzpath;  /* path, to remove it if its server dies */
} fifo_conn;

const plumb_transport plumb__tran_fifo;

/* A path with room for a client's "<path>.<pid>.<hex>/<hex>.c2s"; says
 * why not (plumb__addr_why). */
static int
fifo_valid_path(const char *addr)
{
  size_t n = addr ? strlen(addr) : 0;
  if (n == 0) {
    plumb__addr_why("missing path (expected fifo:/PATH)");
    return 0;
  }
  if (n + 32 >= PATH_MAX) {
    plumb__addr_why("path longer than %d bytes", PATH_MAX - 33);
    return 0;
  }
  if (addr[n - 1] == '/') {
    plumb__addr_why("path ends with '/': a FIFO needs a file name");
    return 0;
  }
  return 1;
}

/* <path>.<pid>.<hex>: a client's private directory. */
static void
fifo_dir_name(char *out, size_t cap, const char *path, uint32_t pid,
              uint64_t tok)
{
  snprintf(out, cap, "%s.%u.%016llx", path, pid, (unsigned long long)tok);
}

/* <hex>.c2s or .s2c inside it. */
static void
fifo_pair_name(char *out, size_t cap, uint64_t tok, const char *dir)
{
  snprintf(out, cap, "%016llx.%s", (unsigned long long)tok, dir);
}

/* FNV-1a over the first 56 bytes of a hello: its last 8 bytes. */
static uint64_t
fifo_hello_sum(const uint8_t *h)
{
  uint64_t x = 14695981039346656037ull;
  for (int i = 0; i < FIFO_HELLO_SIZE - 8; i++)
    x = (x ^ h[i]) * 1099511628211ull;
  return x;
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
  case EISDIR:
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

/* Empties and removes a client's private directory `name` in dfd (only
 * FIFOs named like a pair; a directory of anything else stays). */
static void
fifo_remove_dir(int dfd, const char *name)
{
  int d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  DIR *dir = d < 0 ? NULL : fdopendir(d);
  struct dirent *e;
  int n = 0;

  if (dir == NULL) {
    if (d >= 0)
      close(d);
    return;
  }
  while ((e = readdir(dir)) != NULL && n++ < 64) {
    size_t l = strlen(e->d_name);
    if (l == 20 && (strcmp(e->d_name + 16, ".c2s") == 0 ||
                    strcmp(e->d_name + 16, ".s2c") == 0))
      unlinkat(d, e->d_name, 0);
  }
  closedir(dir);
  unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Removes what crashed clients left: private directories
 * <path>.<pid>.<hex> and old-style pairs <path>.<pid>.<n>.{c2s,s2c} whose
 * pid is dead. */
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
      char kind[8], hex[20];
      int used = 0;
      if (strncmp(e->d_name, base, bl) != 0 || e->d_name[bl] != '.')
        continue;
      if (sscanf(e->d_name + bl, ".%u.%17[0-9a-f]%n", &pid, hex, &used) ==
              2 &&
          e->d_name[bl + (size_t)used] == '\0' && strlen(hex) == 16) {
        if (!plumb__pid_alive((pid_t)pid))
          fifo_remove_dir(dirfd(d), e->d_name);
        continue;
      }
      used = 0;
      if (sscanf(e->d_name + bl, ".%u.%u.%3s%n", &pid, &ctr, kind, &used) !=
              3 ||
          e->d_name[bl + (size_t)used] != '\0' ||
          (strcmp(kind, "c2s") != 0 && strcmp(kind, "s2c") != 0))
        continue;
      if (plumb__pid_alive((pid_t)pid))
        continue;
      unlinkat(dirfd(d), e->d_name, 0);
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
    if (errno != EEXIST || attempt > 0) {
      plumb__addr_why_path(addr, errno);
      return fifo_errno_status(errno);
    }
    /* Something is there: a live server's FIFO (it has a reader), a dead
     * server's (no reader: reclaim it) or not a FIFO at all. */
    if (lstat(addr, &st) < 0)
      continue;
    if (!S_ISFIFO(st.st_mode)) {
      plumb__addr_why("%s exists and is not a FIFO (left as it is)", addr);
      return PLUMB_EBUSY;
    }
    fd = open(addr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      plumb__addr_why("a live server listens on %s", addr);
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
  l->rx_pool = opts ? opts->rx_pool : NULL;
  fifo_sweep(addr);
  l->swept = plumb__now_ns();
  *out = &l->base;
  return PLUMB_OK;
}

static int
fifo_listener_fd(plumb_listener *pl)
{
  return ((fifo_listener *)pl)->fd;
}

/* Opens name in dfd for I/O only if it is a FIFO owned by uid: looked at
 * first without following links (O_PATH), then reopened through
 * /proc/self/fd, so a symlink or a planted file is never opened.  -1 with
 * errno on failure. */
static int
fifo_open_checked(int dfd, const char *name, int flags, uid_t uid, gid_t *gid)
{
  char proc[64];
  struct stat st;
  int fd, pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

  if (pfd < 0)
    return -1;
  if (fstat(pfd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_uid != uid) {
    close(pfd);
    errno = EPERM;
    return -1;
  }
  if (gid)
    *gid = st.st_gid;
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
  fd = open(proc, flags | O_NONBLOCK | O_CLOEXEC);
  close(pfd);
  return fd;
}

/* Opens the pair a hello names, removes it and sends the ACK; fails if the
 * client is already gone or the hello names anything but its own pair. */
static int
fifo_accept_hello(fifo_listener *l, const uint8_t *h, fifo_conn **out)
{
  char dname[PATH_MAX], c2s[64], s2c[64], base[PATH_MAX];
  uint8_t ack[12];
  struct iovec v = { ack, sizeof(ack) };
  struct stat st;
  uint32_t pid = plumb__get_le32(h + 8);
  uint64_t tok = plumb__get_le64(h + 16), tok2 = plumb__get_le64(h + 24);
  fifo_conn *c = NULL;
  int rv, dfd = -1, pdir = -1;

  if (pid == 0 || pid > INT_MAX)
    return PLUMB_EPROTO;
  fifo_dir_name(dname, sizeof(dname), l->path, pid, tok);
  fifo_pair_name(c2s, sizeof(c2s), tok2, "c2s");
  fifo_pair_name(s2c, sizeof(s2c), tok2, "s2c");
  /* the directory, not a link to one, and the pair's owner is its owner */
  dfd = open(dname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0 || fstat(dfd, &st) < 0 || !S_ISDIR(st.st_mode) ||
      (st.st_mode & 0022) != 0) {
    rv = PLUMB_EPROTO;
    goto out;
  }
  if ((c = fifo_conn_new()) == NULL) {
    rv = PLUMB_ENOMEM;
    goto out;
  }
  c->uid = st.st_uid;
  /* Both ends are held by the client already, so neither open blocks nor
   * sees end of file; a client already gone fails the write end (ENXIO). */
  c->fc.rfd = fifo_open_checked(dfd, c2s, O_RDONLY, c->uid, &c->gid);
  c->fc.wfd = c->fc.rfd < 0 ? -1
                            : fifo_open_checked(dfd, s2c, O_WRONLY, c->uid,
                                                NULL);
  /* the pair has served its purpose: remove it now (if we may) */
  strcpy(base, dname);
  char *slash = strrchr(base, '/');
  if (slash)
    *slash = '\0';
  pdir = open(slash ? (base[0] ? base : "/") : ".",
              O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pdir >= 0) {
    unlinkat(dfd, c2s, 0);
    unlinkat(dfd, s2c, 0);
    unlinkat(pdir, slash ? slash + 1 : dname, AT_REMOVEDIR);
    close(pdir);
  }
  if (c->fc.rfd < 0 || c->fc.wfd < 0) {
    rv = errno == EPERM ? PLUMB_EPROTO : PLUMB_ECLOSED;
    goto out;
  }
  /* peer(): the pid the hello claims only if that process is the pair's
   * owner's; the uid is what the kernel recorded for the FIFOs */
  {
    char proc[32];
    snprintf(proc, sizeof(proc), "/proc/%u", pid);
    if (stat(proc, &st) == 0 && st.st_uid == c->uid)
      c->fc.peer_pid = (pid_t)pid;
  }
  plumb__fdconn_start(&c->fc, l->max_frame);
  plumb__stream_set_pool(&c->fc.st, l->rx_pool);
  memcpy(ack, FIFO_ACK, 8);
  plumb__put_le32(ack + 8, (uint32_t)getpid());
  if ((rv = plumb__stream_send(&c->fc.st, &v, 1, PLUMB_NOWAIT)) != PLUMB_OK)
    goto out;
  *out = c;
  c = NULL;
out:
  if (dfd >= 0)
    close(dfd);
  if (c)
    fifo_conn_free(c);
  return rv;
}

/* The next whole, valid hello in the rendezvous bytes, or NULL: anything
 * else (garbage, a torn or forged hello) is skipped up to the next magic. */
static const uint8_t *
fifo_next_hello(fifo_listener *l)
{
  while (l->have - l->off >= FIFO_HELLO_SIZE) {
    const uint8_t *h = l->buf + l->off;
    if (memcmp(h, FIFO_MAGIC, 8) == 0 &&
        plumb__get_le64(h + FIFO_HELLO_SIZE - 8) == fifo_hello_sum(h)) {
      l->off += FIFO_HELLO_SIZE;
      return h;
    }
    const uint8_t *m = memchr(h + 1, FIFO_MAGIC[0], l->have - l->off - 1);
    l->off = m ? (size_t)(m - l->buf) : l->have;
  }
  return NULL;
}

static int
fifo_accept(plumb_listener *pl, plumb_conn **out)
{
  fifo_listener *l = (fifo_listener *)pl;

  *out = NULL;
  int64_t now = plumb__now_ns();
  if (now - l->swept > FIFO_SWEEP_NS) {
    l->swept = now;
    fifo_sweep(l->path);
  }
  for (;;) {
    const uint8_t *h = fifo_next_hello(l);
    if (h == NULL) {
      /* keep a partial hello, read more behind it */
      memmove(l->buf, l->buf + l->off, l->have - l->off);
      l->have -= l->off;
      l->off = 0;
      ssize_t n = read(l->fd, l->buf + l->have, sizeof(l->buf) - l->have);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        return errno == EAGAIN ? PLUMB_EAGAIN : PLUMB_ESYS;
      }
      if (n == 0)
        return PLUMB_EAGAIN;
      l->have += (size_t)n;
      continue;
    }
    fifo_conn *c = NULL;
    int rv = fifo_accept_hello(l, h, &c);
    if (rv == PLUMB_OK) {
      *out = &c->fc.base;
      return PLUMB_OK;
    }
    if (rv == PLUMB_ENOMEM)
      return rv;
  }
}

/* peer(): the pair's owner (kernel-recorded), not what the hello says. */
static int
fifo_peer(plumb_conn *pc, plumb_peer *out)
{
  fifo_conn *c = (fifo_conn *)pc;
  plumb__fdconn_peer(pc, out);
  if (c->rz < 0) { /* server side */
    out->pid = c->fc.peer_pid;
    out->uid = c->uid;
    out->gid = c->gid;
    out->has_creds = 1;
  }
  return PLUMB_OK;
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

/* Removes the client's private directory and pair (after the handshake,
 * or when it failed). */
static void
fifo_unmake(const char *dname, const char *c2s, const char *s2c)
{
  char p[PATH_MAX + 80];
  snprintf(p, sizeof(p), "%s/%s", dname, c2s);
  unlink(p);
  snprintf(p, sizeof(p), "%s/%s", dname, s2c);
  unlink(p);
  rmdir(dname);
}

static int
fifo_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
          plumb_conn **out)
{
  char dname[PATH_MAX], c2s[64], s2c[64], pc2s[PATH_MAX + 80],
      ps2c[PATH_MAX + 80];
  uint64_t tok = plumb__random64(), tok2 = plumb__random64();
  uint8_t hello[FIFO_HELLO_SIZE] = { 0 };
  plumb_buf ack = { 0 };
  struct stat rst;
  mode_t dmode = 0700, cmode = 0600, smode = 0600;
  int rv, rz = -1, hold = -1, made = 0, group = 0;
  fifo_conn *c;

  *out = NULL;
  if (!fifo_valid_path(addr))
    return PLUMB_EADDR;
  rz = open(addr, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (rz < 0) {
    plumb__addr_why_path(addr, errno); /* ENOENT in a real directory,
                                          ENXIO (nobody reads): no server */
    return fifo_errno_status(errno);
  }
  if (fstat(rz, &rst) < 0 || !S_ISFIFO(rst.st_mode)) {
    close(rz);
    plumb__addr_why("%s is not a FIFO: no fifo server there", addr);
    return PLUMB_ECONNREFUSED;
  }
  /* Private to us and the server: it is us or root, or (another uid)
   * enters through the rendezvous' group with unguessable names. */
  if (rst.st_uid != geteuid() && rst.st_uid != 0) {
    dmode = 0710, cmode = 0640, smode = 0620;
    group = 1;
  }
  if ((c = fifo_conn_new()) == NULL) {
    close(rz);
    return PLUMB_ENOMEM;
  }
  fifo_dir_name(dname, sizeof(dname), addr, (uint32_t)getpid(), tok);
  fifo_pair_name(c2s, sizeof(c2s), tok2, "c2s");
  fifo_pair_name(s2c, sizeof(s2c), tok2, "s2c");
  snprintf(pc2s, sizeof(pc2s), "%s/%s", dname, c2s);
  snprintf(ps2c, sizeof(ps2c), "%s/%s", dname, s2c);
  if (mkdir(dname, 0700) < 0) { /* exclusive: never an existing one */
    rv = fifo_errno_status(errno);
    goto fail;
  }
  made = 1;
  if (mkfifo(pc2s, 0600) < 0 || mkfifo(ps2c, 0600) < 0) {
    rv = fifo_errno_status(errno);
    goto fail;
  }
  /* s2c: we read.  c2s: we write, holding a read end of our own until the
   * server has opened it, so neither side ever sees a premature EOF. */
  c->fc.rfd = open(ps2c, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  hold = open(pc2s, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  c->fc.wfd = hold < 0 ? -1
                       : open(pc2s, O_WRONLY | O_NONBLOCK | O_CLOEXEC |
                                        O_NOFOLLOW);
  if (c->fc.rfd < 0 || c->fc.wfd < 0 ||
      (group && (fchown(c->fc.rfd, (uid_t)-1, rst.st_gid) < 0 ||
                 fchown(c->fc.wfd, (uid_t)-1, rst.st_gid) < 0 ||
                 chown(dname, (uid_t)-1, rst.st_gid) < 0)) ||
      fchmod(c->fc.rfd, smode) < 0 || fchmod(c->fc.wfd, cmode) < 0 ||
      chmod(dname, dmode) < 0) {
    rv = fifo_errno_status(errno);
    goto fail;
  }
  plumb__fdconn_start(&c->fc, opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME);
  memcpy(hello, FIFO_MAGIC, 8);
  plumb__put_le32(hello + 8, (uint32_t)getpid());
  plumb__put_le64(hello + 16, tok);
  plumb__put_le64(hello + 24, tok2);
  plumb__put_le64(hello + FIFO_HELLO_SIZE - 8, fifo_hello_sum(hello));
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
  fifo_unmake(dname, c2s, s2c); /* the server did so already, if it could */
  *out = &c->fc.base;
  return PLUMB_OK;
fail:
  plumb__buf_free(&ack);
  if (hold >= 0)
    close(hold);
  close(rz);
  if (made)
    fifo_unmake(dname, c2s, s2c);
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
  .cork = plumb__fdconn_cork,
  .write_wait = plumb__fdconn_write_wait,
  .rx_partial = plumb__fdconn_rx_partial,
  .rx_level = 1,
  .rx_state = plumb__fdconn_rx_state,
  .recv = plumb__fdconn_recv,
  .conn_fd = plumb__fdconn_fd,
  .peer = fifo_peer,
  .shutdown = plumb__fdconn_shutdown,
  .close = fifo_close,
};
