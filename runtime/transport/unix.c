/* unix.c - the `unix` transport: SOCK_STREAM unix-domain sockets.
 *
 * Endpoints: `unix:/path/to.sock` (a socket file, created with the mode from
 * the options, 0600 by default) and `unix:@name` (Linux abstract namespace,
 * no file).  A socket file left behind by a dead server is reclaimed when a
 * test connect is refused; a live server's file is never taken over.  The
 * listener unlinks its file on close, unless another server replaced it.
 * Frames use the shared length-prefixed stream framing (stream.h); peer
 * credentials come from SO_PEERCRED.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

  if (addr == NULL || addr[0] == '\0')
    return PLUMB_EADDR;
  n = strlen(addr);
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  if (addr[0] == '@') {
    if (n < 2 || n > sizeof(sa->sun_path))
      return PLUMB_EADDR;
    sa->sun_path[0] = '\0';
    memcpy(sa->sun_path + 1, addr + 1, n - 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return PLUMB_OK;
  }
  if (n >= sizeof(sa->sun_path))
    return PLUMB_EADDR;
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
  l->sl.errno_status = unix_errno_status;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    st = unix_errno_status(errno);
    goto free_l;
  }
  if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
    int e = errno;
    if (e != EADDRINUSE || sa.sun_path[0] == '\0' ||
        unix_is_live(&sa, len)) {
      st = unix_errno_status(e);
      goto close_fd;
    }
    /* A stale socket file from a dead server: reclaim it. */
    (void)unlink(sa.sun_path);
    if (bind(fd, (struct sockaddr *)&sa, len) != 0) {
      st = unix_errno_status(errno);
      goto close_fd;
    }
  }
  if (sa.sun_path[0] != '\0') {
    struct stat sb;
    if ((l->path = strdup(sa.sun_path)) == NULL) {
      st = PLUMB_ENOMEM;
      (void)unlink(sa.sun_path);
      goto close_fd;
    }
    /* Nobody can connect before listen(), so chmod here has no race. */
    if (chmod(l->path, opts->mode ? opts->mode : 0600) != 0 ||
        (opts->has_group && chown(l->path, (uid_t)-1, opts->group) != 0) ||
        stat(l->path, &sb) != 0) {
      st = unix_errno_status(errno);
      goto unlink_path;
    }
    l->dev = sb.st_dev;
    l->ino = sb.st_ino;
  }
  if (listen(fd, SOMAXCONN) != 0) {
    st = unix_errno_status(errno);
    goto unlink_path;
  }
  l->sl.fd = fd;
  *out = &l->sl.base;
  return PLUMB_OK;

unlink_path:
  if (l->path)
    (void)unlink(l->path);
  free(l->path);
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
  if (l->path && stat(l->path, &sb) == 0 && sb.st_dev == l->dev &&
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
  .write_wait = plumb__fdconn_write_wait,
  .rx_partial = plumb__fdconn_rx_partial,
  .recv = plumb__fdconn_recv,
  .conn_fd = plumb__fdconn_fd,
  .peer = unix_peer,
  .shutdown = plumb__fdconn_shutdown,
  .close = plumb__fdconn_close,
};
