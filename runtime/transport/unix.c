/* unix.c - the `unix` transport: SOCK_STREAM unix-domain sockets.
 *
 * Endpoints: `unix:/path/to.sock` (a socket file, created with the mode from
 * the options, 0600 by default) and `unix:@name` (Linux abstract namespace,
 * no file).  A socket file left behind by a dead server is reclaimed when a
 * test connect is refused; a live server's file is never taken over, and
 * anything at the path that is not a socket (a planted file or symlink) is
 * refused, never removed or followed.  The socket file has its mode and
 * group from the first instant it exists at the path (bound in a private
 * directory, then moved into place).  The listener unlinks its file on
 * close, unless another server replaced it.  Who may connect to either
 * kind is also checked by the core on SO_PEERCRED (core/access.h).
 * Frames use the shared length-prefixed stream framing (stream.h); peer
 * credentials come from SO_PEERCRED.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "stream.h"
#include "transport.h"

typedef struct unix_listener {
  plumb__socklistener sl; /* first: fd, accept (stream.h) */
  char *path; /* socket file to unlink, NULL for abstract */
  dev_t dev;
  ino_t ino;
} unix_listener;

const plumb_transport plumb__tran_unix;

/* Fills sa from "/path" or "@abstract"; returns its length or PLUMB_EADDR. */
static int
unix_parse(const char *addr, struct sockaddr_un *sa, socklen_t *len)
{
  size_t n;

  if (addr == NULL || addr[0] == '\0') {
    plumb__addr_why("missing path (expected unix:/PATH or unix:@NAME)");
    return PLUMB_EADDR;
  }
  n = strlen(addr);
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (addr[0] == '@') {
    if (n < 2 || n > sizeof(sa->sun_path)) {
      plumb__addr_why(n < 2 ? "missing name after '@' (unix:@NAME)"
                            : "abstract name longer than %zu bytes",
                      sizeof(sa->sun_path) - 1);
      return PLUMB_EADDR;
    }
    sa->sun_path[0] = '\0';
    memcpy(sa->sun_path + 1, addr + 1, n - 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return PLUMB_OK;
  }
  if (n >= sizeof(sa->sun_path)) {
    plumb__addr_why("path longer than %zu bytes", sizeof(sa->sun_path) - 1);
    return PLUMB_EADDR;
  }
  memcpy(sa->sun_path, addr, n + 1);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return PLUMB_OK;
}

static int
unix_errno_status(int e)
{
  switch (e) {
  case EADDRINUSE:
    return PLUMB_EBUSY;
  case EACCES:
  case EPERM:
    return PLUMB_EPERM;
  case ENOENT:
  case ECONNREFUSED:
    return PLUMB_ECONNREFUSED;
  case ENAMETOOLONG:
  case ENOTDIR:
    return PLUMB_EADDR;
  case ENOMEM:
  case ENOBUFS:
    return PLUMB_ENOMEM;
  default:
    return PLUMB_ESYS;
  }
}

/* 1 if something accepts connections at sa (a live server). */
static int
unix_is_live(const struct sockaddr_un *sa, socklen_t len)
{
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int live;

  if (fd < 0)
    return 1; /* cannot tell: be safe */
  live = connect(fd, (const struct sockaddr *)sa, len) == 0 ||
         (errno != ECONNREFUSED && errno != ENOENT);
  close(fd);
  return live;
}

/* The permission bits of a socket file: opts->mode, 0600 by default. */
static mode_t
unix_mode(const plumb_tran_opts *opts)
{
  return (mode_t)((opts->mode ? opts->mode : 0600) & 0777);
}

/* What is at the path now: 0 nothing, 1 a stale socket (nobody accepts),
 * or an error: PLUMB_EBUSY for a live server's socket and for anything
 * that is not a socket (a planted file or symlink is never removed). */
static int
unix_path_state(const struct sockaddr_un *sa, socklen_t len)
{
  struct stat sb;

  if (lstat(sa->sun_path, &sb) != 0)
    return errno == ENOENT ? 0 : unix_errno_status(errno);
  if (!S_ISSOCK(sb.st_mode)) {
    plumb__log(PLUMB__LOG_ERROR, "unix:%s: a %s is in the way (left as it "
               "is; remove it or choose another path)", sa->sun_path,
               S_ISLNK(sb.st_mode) ? "symbolic link" : "non-socket file");
    return PLUMB_EBUSY;
  }
  return unix_is_live(sa, len) ? PLUMB_EBUSY : 1;
}

/* Moves the socket file `tmp` to the listener's path without replacing
 * anything but a stale socket.  PLUMB_OK or an error (tmp left). */
static int
unix_place(const char *tmp, const struct sockaddr_un *sa, socklen_t len)
{
  for (int attempt = 0; attempt < 2; attempt++) {
    int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, sa->sun_path,
                      RENAME_NOREPLACE);
    if (r != 0 && errno == EINVAL) { /* fs without NOREPLACE: same rule */
      r = link(tmp, sa->sun_path);
      if (r == 0)
        (void)unlink(tmp);
    }
    if (r == 0)
      return PLUMB_OK;
    if (errno != EEXIST)
      return unix_errno_status(errno);
    int st = unix_path_state(sa, len);
    if (st < 0)
      return st;
    if (st == 1)
      (void)unlink(sa->sun_path); /* a dead server's socket: reclaim */
  }
  return PLUMB_EBUSY;
}

/* Binds fd to the path socket sa and listens, with the configured mode
 * and group from the first instant the path exists - and accepting from
 * that instant too: bound in a fresh 0700 directory next to it, set up
 * there, then moved into place (never over anything but a stale
 * socket).  Paths too long for that are bound in place under a
 * umask that gives the same mode (process-wide for that instant). */
static int
unix_bind_path(int fd, const struct sockaddr_un *sa, socklen_t len,
               const plumb_tran_opts *opts)
{
  struct sockaddr_un tmp;
  char dir[sizeof(sa->sun_path)];
  const char *slash = strrchr(sa->sun_path, '/');
  size_t dlen = slash ? (size_t)(slash - sa->sun_path) : 0;
  int st;

  if ((st = unix_path_state(sa, len)) < 0)
    return st;
  if (dlen + sizeof("/.plumb-XXXXXX/s") > sizeof(tmp.sun_path)) {
    if (st == 1)
      (void)unlink(sa->sun_path);
    mode_t old = umask(0777 & ~unix_mode(opts));
    int r = bind(fd, (const struct sockaddr *)sa, len);
    int e = errno;
    umask(old);
    if (r != 0)
      return unix_errno_status(e);
    if ((opts->has_group &&
         fchownat(AT_FDCWD, sa->sun_path, (uid_t)-1, opts->group,
                  AT_SYMLINK_NOFOLLOW) != 0) ||
        listen(fd, SOMAXCONN) != 0) {
      st = unix_errno_status(errno);
      (void)unlink(sa->sun_path);
      return st;
    }
    return PLUMB_OK;
  }
  if (slash == sa->sun_path)
    snprintf(dir, sizeof dir, "/.plumb-XXXXXX");
  else if (slash)
    snprintf(dir, sizeof dir, "%.*s/.plumb-XXXXXX", (int)dlen, sa->sun_path);
  else
    snprintf(dir, sizeof dir, ".plumb-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    if (errno == ENOENT || errno == ENOTDIR)
      plumb__addr_why("directory %.*s does not exist",
                      (int)(strlen(dir) - sizeof("/.plumb-XXXXXX") + 1), dir);
    return unix_errno_status(errno);
  }
  memset(&tmp, 0, sizeof tmp);
  tmp.sun_family = AF_UNIX;
  size_t n = strlen(dir); /* fits: checked above */
  memcpy(tmp.sun_path, dir, n);
  memcpy(tmp.sun_path + n, "/s", 3);
  if (bind(fd, (struct sockaddr *)&tmp, sizeof tmp) != 0)
    st = unix_errno_status(errno);
  else if (chmod(tmp.sun_path, unix_mode(opts)) != 0 ||
           (opts->has_group &&
            chown(tmp.sun_path, (uid_t)-1, opts->group) != 0) ||
           listen(fd, SOMAXCONN) != 0) /* accepting once it is placed */
    st = unix_errno_status(errno);
  else
    st = unix_place(tmp.sun_path, sa, len);
  (void)unlink(tmp.sun_path); /* gone already once placed */
  (void)rmdir(dir);
  return st;
}

static int
unix_listen(const char *addr, const plumb_tran_opts *opts,
            plumb_listener **out)
{
  struct sockaddr_un sa;
  socklen_t len;
  unix_listener *l;
  int st, fd;

  *out = NULL;
  if ((st = unix_parse(addr, &sa, &len)) != PLUMB_OK)
    return st;
  if ((l = calloc(1, sizeof(*l))) == NULL)
    return PLUMB_ENOMEM;
  l->sl.base.ops = &plumb__tran_unix;
  l->sl.max_frame = opts->max_frame;
  l->sl.rx_pool = opts->rx_pool;
  l->sl.errno_status = unix_errno_status;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    st = unix_errno_status(errno);
    goto free_l;
  }
  if (sa.sun_path[0] == '\0') {
    /* Abstract: no file, no mode; the core's access check decides. */
    if (bind(fd, (struct sockaddr *)&sa, len) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
      st = unix_errno_status(errno);
      goto close_fd;
    }
  } else {
    struct stat sb;
    if ((st = unix_bind_path(fd, &sa, len, opts)) != PLUMB_OK)
      goto close_fd;
    if ((l->path = strdup(sa.sun_path)) == NULL) {
      st = PLUMB_ENOMEM;
      (void)unlink(sa.sun_path);
      goto close_fd;
    }
    if (lstat(l->path, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
      st = PLUMB_EBUSY; /* replaced under us: leave it alone */
      free(l->path);
      l->path = NULL;
      goto close_fd;
    }
    l->dev = sb.st_dev;
    l->ino = sb.st_ino;
  }
  l->sl.fd = fd;
  *out = &l->sl.base;
  return PLUMB_OK;

close_fd:
  close(fd);
free_l:
  free(l);
  return st;
}

static void
unix_listener_close(plumb_listener *lb)
{
  unix_listener *l = (unix_listener *)lb;
  struct stat sb;

  if (l == NULL)
    return;
  /* Unlink only our own file, not one a newer server bound since. */
  if (l->path && lstat(l->path, &sb) == 0 && sb.st_dev == l->dev &&
      sb.st_ino == l->ino)
    (void)unlink(l->path);
  close(l->sl.fd);
  free(l->path);
  free(l);
}

static int
unix_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
          plumb_conn **out)
{
  struct sockaddr_un sa;
  socklen_t len;
  int st, fd;

  *out = NULL;
  if ((st = unix_parse(addr, &sa, &len)) != PLUMB_OK)
    return st;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return unix_errno_status(errno);
  /* A non-blocking unix connect completes at once or fails with EAGAIN
   * when the backlog is full: retry until the deadline. */
  while (connect(fd, (struct sockaddr *)&sa, len) != 0) {
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN) {
      if (addr[0] != '@')
        plumb__addr_why_path(addr, errno); /* ENOENT: "directory ..." */
      st = unix_errno_status(errno);
      goto close_fd;
    }
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline) {
      st = PLUMB_ETIMEDOUT;
      goto close_fd;
    }
    (void)poll(NULL, 0, 1);
  }
  return plumb__fdconn_dialed(&plumb__tran_unix, fd, opts->max_frame, 0, out);

close_fd:
  close(fd);
  return st;
}

static int
unix_peer(plumb_conn *cb, plumb_peer *out)
{
  struct ucred cr;
  socklen_t len = sizeof(cr);

  memset(out, 0, sizeof(*out));
  if (getsockopt(((plumb__fdconn *)cb)->rfd, SOL_SOCKET, SO_PEERCRED, &cr,
                 &len) != 0)
    return PLUMB_ESYS;
  out->has_creds = 1;
  out->pid = cr.pid;
  out->uid = cr.uid;
  out->gid = cr.gid;
  return PLUMB_OK;
}

const plumb_transport plumb__tran_unix = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "unix",
  .aliases = NULL,
  .listen = unix_listen,
  .listener_fd = plumb__socklistener_fd,
  .accept = plumb__socklistener_accept,
  .listener_close = unix_listener_close,
  .dial = unix_dial,
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
  .peer = unix_peer,
  .shutdown = plumb__fdconn_shutdown,
  .close = plumb__fdconn_close,
};
