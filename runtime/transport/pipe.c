/* pipe.c - the `pipe` transport: anonymous pipes between parent and child.
 *
 * Client side `pipe:exec=PROGRAM [ARG...]` spawns PROGRAM (searched in PATH
 * when it has no '/'; arguments split at blanks, no quoting) with one pipe
 * on its stdin and another on its stdout, waits for the server's ACK frame,
 * and reaps the child when the connection closes (after 100 ms SIGTERM,
 * after 3 s more SIGKILL: no zombies).  Server side `pipe:` or `pipe:stdio` serves the
 * parent over stdin/stdout: the listener yields exactly one connection.  The
 * server moves the pipes off fds 0 and 1 (stdin becomes /dev/null, stdout a
 * copy of stderr), so a stray printf cannot corrupt the frame stream.
 * When the parent's end closes (it exited, crashed or closed us) the server
 * process gets SIGTERM, so no orphan serves on (`pipe:keep` opts out).
 * One client per pipe pair, by nature.  Frames use the shared stream
 * framing (stream.h); a vanished peer shows as end of file: PLUMB_ECLOSED.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stream.h"
#include "transport.h"

extern char **environ;

#define PIPE_ACK "plumbpa1" /* + u32 pid */
#define PIPE_MAX_ARGS 64
#define PIPE_EXIT_MS 100    /* grace for the child to exit on EOF alone */
#define PIPE_TERM_MS 3000   /* then for a clean stop after SIGTERM */

typedef struct pipe_conn {
  plumb_conn base;
  int rfd, wfd;
  int wakefd;
  pid_t child;     /* client side: the spawned server, else 0 */
  pid_t peer_pid;
  atomic_int shut;
  int stop_on_eof;    /* server: SIGTERM ourselves when the parent goes */
  plumb__stream st;
} pipe_conn;

typedef struct pipe_listener {
  plumb_listener base;
  int evfd;        /* readable until the one connection is accepted */
  pipe_conn *conn; /* handed out by accept() */
  uint32_t max_frame;
} pipe_listener;

const plumb_transport plumb__tran_pipe;

static void
pipe_put32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
pipe_get32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static int
pipe_nonblock(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static pipe_conn *
pipe_conn_new(void)
{
  pipe_conn *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->base.ops = &plumb__tran_pipe;
  c->rfd = c->wfd = -1;
  c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->wakefd < 0) {
    free(c);
    return NULL;
  }
  return c;
}

/* Waits (bounded) for the spawned server, then insists. */
static void
pipe_reap(pid_t pid)
{
  int st;
  /* A spawned server exists only for us: once our ends are closed it may
   * exit by itself; if it serves on, SIGTERM asks for a clean stop. */
  for (int i = 0; i < PIPE_EXIT_MS; i += 2) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR))
      return; /* reaped, or someone else reaps our children */
    usleep(2000);
  }
  kill(pid, SIGTERM);
  for (int i = 0; i < PIPE_TERM_MS; i += 2) {
    if (waitpid(pid, &st, WNOHANG) != 0)
      return;
    usleep(2000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
}

static void
pipe_conn_free(pipe_conn *c)
{
  if (c->rfd >= 0)
    close(c->rfd);
  if (c->wfd >= 0)
    close(c->wfd);
  close(c->wakefd);
  plumb__stream_free(&c->st);
  if (c->child > 0)
    pipe_reap(c->child); /* our end is closed: it sees EOF and exits */
  free(c);
}

/* A `pipe:` server exists for its parent alone: once the parent's end is
 * gone no client can ever come, so the process is asked to stop cleanly
 * (the same SIGTERM a plumb server stops on).  Not after our own
 * shutdown(), and not with `pipe:keep`. */
static int
pipe_peer_gone(pipe_conn *c, int rv)
{
  if (rv == PLUMB_ECLOSED && c->stop_on_eof && !atomic_load(&c->shut)) {
    c->stop_on_eof = 0;
    kill(getpid(), SIGTERM);
  }
  return rv;
}

static int
pipe_send(plumb_conn *pc, const struct iovec *iov, int iovcnt,
          int64_t deadline)
{
  pipe_conn *c = (pipe_conn *)pc;
  int rv = atomic_load(&c->shut)
               ? PLUMB_ECLOSED
               : plumb__stream_send(&c->st, iov, iovcnt, deadline);
  return pipe_peer_gone(c, rv);
}

/* The stream's waits also poll the shutdown eventfd (set_wake). */
static int
pipe_recv(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  pipe_conn *c = (pipe_conn *)pc;

  if (atomic_load(&c->shut))
    return PLUMB_ECLOSED;
  return pipe_peer_gone(c, plumb__stream_recv(&c->st, buf, deadline));
}

static int
pipe_conn_fd(plumb_conn *pc)
{
  return ((pipe_conn *)pc)->rfd;
}

static int
pipe_peer(plumb_conn *pc, plumb_peer *out)
{
  pipe_conn *c = (pipe_conn *)pc;
  char path[32];
  struct stat st;

  memset(out, 0, sizeof(*out));
  out->pid = c->peer_pid;
  snprintf(path, sizeof(path), "/proc/%d", (int)c->peer_pid);
  if (c->peer_pid > 0 && stat(path, &st) == 0) {
    out->uid = st.st_uid;
    out->gid = st.st_gid;
    out->has_creds = 1;
  }
  return PLUMB_OK;
}

/* Swaps fd for a pipe end whose other end is closed, so the peer sees EOF
 * (or EPIPE) at once while fd stays a valid descriptor. */
static void
pipe_cut(int fd, int write_end)
{
  int p[2];
  if (fd < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
    return;
  close(p[write_end ? 0 : 1]);
  dup3(p[write_end ? 1 : 0], fd, O_CLOEXEC);
  close(p[write_end ? 1 : 0]);
}

static void
pipe_shutdown(plumb_conn *pc)
{
  pipe_conn *c = (pipe_conn *)pc;
  uint64_t one = 1;

  if (atomic_exchange(&c->shut, 1))
    return;
  if (write(c->wakefd, &one, sizeof(one)) < 0) {
    /* cannot overflow with a single write */
  }
  /* The eventfd ends our blocked send/recv (stream waits poll it); the
   * cut ends tell the peer: end of file, and EPIPE on its writes. */
  pipe_cut(c->wfd, 1);
  pipe_cut(c->rfd, 0);
}

static void
pipe_close(plumb_conn *pc)
{
  pipe_conn_free((pipe_conn *)pc);
}

/* ---- server side: serve the parent over stdin/stdout ---- */

static int
pipe_listen(const char *addr, const plumb_tran_opts *opts,
            plumb_listener **out)
{
  struct stat s0, s1;
  pipe_listener *l;
  pipe_conn *c;
  int devnull;

  *out = NULL;
  int keep = addr && (strcmp(addr, "keep") == 0 ||
                      strcmp(addr, "stdio,keep") == 0);
  if (addr == NULL ||
      (addr[0] != '\0' && strcmp(addr, "stdio") != 0 && !keep))
    return PLUMB_EADDR;
  /* stdin and stdout must be pipes (or sockets), never a terminal. */
  if (fstat(0, &s0) < 0 || fstat(1, &s1) < 0 ||
      !(S_ISFIFO(s0.st_mode) || S_ISSOCK(s0.st_mode)) ||
      !(S_ISFIFO(s1.st_mode) || S_ISSOCK(s1.st_mode)))
    return PLUMB_EADDR;
  if ((l = calloc(1, sizeof(*l))) == NULL)
    return PLUMB_ENOMEM;
  if ((c = pipe_conn_new()) == NULL) {
    free(l);
    return PLUMB_ENOMEM;
  }
  l->base.ops = &plumb__tran_pipe;
  l->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  l->evfd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  c->rfd = fcntl(0, F_DUPFD_CLOEXEC, 3);
  c->wfd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (l->evfd < 0 || c->rfd < 0 || c->wfd < 0 || devnull < 0 ||
      pipe_nonblock(c->rfd) < 0 || pipe_nonblock(c->wfd) < 0) {
    if (devnull >= 0)
      close(devnull);
    if (l->evfd >= 0)
      close(l->evfd);
    pipe_conn_free(c);
    free(l);
    return PLUMB_ESYS;
  }
  /* fds 0/1 let go of the pipes: stdin reads nothing, stdout goes to
   * stderr, and only our duplicates carry frames. */
  dup2(devnull, 0);
  close(devnull);
  dup2(2, 1);
  c->peer_pid = getppid();
  c->stop_on_eof = !keep;
  plumb__stream_init(&c->st, c->rfd, c->wfd, l->max_frame);
  plumb__stream_set_wake(&c->st, c->wakefd);
  l->conn = c;
  *out = &l->base;
  return PLUMB_OK;
}

static int
pipe_listener_fd(plumb_listener *pl)
{
  return ((pipe_listener *)pl)->evfd;
}

static int
pipe_accept(plumb_listener *pl, plumb_conn **out)
{
  pipe_listener *l = (pipe_listener *)pl;
  uint8_t ack[12];
  struct iovec v = { ack, sizeof(ack) };
  uint64_t x;
  int rv;

  *out = NULL;
  if (l->conn == NULL)
    return PLUMB_EAGAIN;
  memcpy(ack, PIPE_ACK, 8);
  pipe_put32(ack + 8, (uint32_t)getpid());
  /* the pipe is empty: this never blocks */
  rv = plumb__stream_send(&l->conn->st, &v, 1, plumb__deadline_ms(1000));
  if (read(l->evfd, &x, sizeof(x)) < 0) {
    /* already drained */
  }
  if (rv != PLUMB_OK) {
    pipe_conn_free(l->conn);
    l->conn = NULL;
    return rv;
  }
  *out = &l->conn->base;
  l->conn = NULL;
  return PLUMB_OK;
}

static void
pipe_listener_close(plumb_listener *pl)
{
  pipe_listener *l = (pipe_listener *)pl;
  if (l->conn)
    pipe_conn_free(l->conn);
  close(l->evfd);
  free(l);
}

/* ---- client side: spawn the server ---- */

static int
pipe_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
          plumb_conn **out)
{
  char *argv[PIPE_MAX_ARGS + 1], *cmd, *save = NULL;
  int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, argc = 0, rv;
  posix_spawn_file_actions_t fa;
  plumb_buf ack = { 0 };
  pipe_conn *c;

  *out = NULL;
  if (addr == NULL || strncmp(addr, "exec=", 5) != 0)
    return PLUMB_EADDR;
  if ((cmd = strdup(addr + 5)) == NULL)
    return PLUMB_ENOMEM;
  for (char *t = strtok_r(cmd, " \t", &save); t;
       t = strtok_r(NULL, " \t", &save)) {
    if (argc == PIPE_MAX_ARGS) {
      free(cmd);
      return PLUMB_EADDR;
    }
    argv[argc++] = t;
  }
  argv[argc] = NULL;
  if (argc == 0) {
    free(cmd);
    return PLUMB_EADDR;
  }
  if ((c = pipe_conn_new()) == NULL) {
    free(cmd);
    return PLUMB_ENOMEM;
  }
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  rv = posix_spawnp(&c->child, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rv != 0) {
    c->child = 0;
    rv = rv == ENOENT || rv == EACCES || rv == ENOEXEC ? PLUMB_ECONNREFUSED
                                                       : PLUMB_ESYS;
    goto fail;
  }
  close(in[0]);
  close(outp[1]);
  in[0] = outp[1] = -1;
  c->wfd = in[1];
  c->rfd = outp[0];
  in[1] = outp[0] = -1;
  if (pipe_nonblock(c->rfd) < 0 || pipe_nonblock(c->wfd) < 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  c->peer_pid = c->child;
  plumb__stream_init(&c->st, c->rfd, c->wfd,
                     opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME);
  plumb__stream_set_wake(&c->st, c->wakefd);
  /* A real pipe server greets us; end of file means it was not one. */
  rv = plumb__stream_recv(&c->st, &ack, deadline);
  if (rv == PLUMB_OK && (ack.len != 12 || memcmp(ack.data, PIPE_ACK, 8) ||
                         pipe_get32(ack.data + 8) != (uint32_t)c->child))
    rv = PLUMB_EPROTO;
  if (rv == PLUMB_ECLOSED)
    rv = PLUMB_ECONNREFUSED;
  plumb__buf_free(&ack);
  if (rv != PLUMB_OK)
    goto fail;
  free(cmd);
  *out = &c->base;
  return PLUMB_OK;
fail:
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0)
      close(in[i]);
    if (outp[i] >= 0)
      close(outp[i]);
  }
  if (c->child > 0 && rv != PLUMB_ECONNREFUSED)
    kill(c->child, SIGTERM); /* timed out or spoke nonsense */
  free(cmd);
  pipe_conn_free(c); /* closes our ends and reaps the child */
  return rv;
}

const plumb_transport plumb__tran_pipe = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "pipe",
  .aliases = NULL,
  .listen = pipe_listen,
  .listener_fd = pipe_listener_fd,
  .accept = pipe_accept,
  .listener_close = pipe_listener_close,
  .dial = pipe_dial,
  .send = pipe_send,
  .recv = pipe_recv,
  .conn_fd = pipe_conn_fd,
  .peer = pipe_peer,
  .shutdown = pipe_shutdown,
  .close = pipe_close,
};
