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
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "stream.h"
#include "transport.h"

extern char **environ;

#define PIPE_ACK "plumbpa1" /* + u32 pid */
#define PIPE_MAX_ARGS 64
#define PIPE_EXIT_MS 100    /* grace for the child to exit on EOF alone */
#define PIPE_TERM_MS 3000   /* then for a clean stop after SIGTERM */

typedef struct pipe_conn {
  plumb__fdconn fc; /* first: the stream connection (stream.h) */
  pid_t child;     /* client side: the spawned server, else 0 */
  int stop_on_eof;    /* server: SIGTERM ourselves when the parent goes */
} pipe_conn;

typedef struct pipe_listener {
  plumb_listener base;
  int evfd;        /* readable until the one connection is accepted */
  pipe_conn *conn; /* handed out by accept() */
  uint32_t max_frame;
  plumb__rx_pool *rx_pool; /* for the connections (NULL: none) */
} pipe_listener;

const plumb_transport plumb__tran_pipe;

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
  if (plumb__fdconn_init_pipes(&c->fc, &plumb__tran_pipe) != PLUMB_OK) {
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
  plumb__fdconn_fini(&c->fc);
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
  if (rv == PLUMB_ECLOSED && c->stop_on_eof && !atomic_load(&c->fc.shut)) {
    c->stop_on_eof = 0;
    kill(getpid(), SIGTERM);
  }
  return rv;
}

static int
pipe_send(plumb_conn *pc, const struct iovec *iov, int iovcnt,
          int64_t deadline)
{
  return pipe_peer_gone((pipe_conn *)pc,
                        plumb__fdconn_send(pc, iov, iovcnt, deadline));
}

static int
pipe_try_send(plumb_conn *pc, const struct iovec *iov, int iovcnt)
{
  return pipe_peer_gone((pipe_conn *)pc,
                        plumb__fdconn_try_send(pc, iov, iovcnt));
}

static int
pipe_flush(plumb_conn *pc)
{
  return pipe_peer_gone((pipe_conn *)pc, plumb__fdconn_flush(pc));
}

static int
pipe_recv(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  return pipe_peer_gone((pipe_conn *)pc, plumb__fdconn_recv(pc, buf, deadline));
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
      (addr[0] != '\0' && strcmp(addr, "stdio") != 0 && !keep)) {
    plumb__addr_why("a pipe server listens on pipe:, pipe:stdio or "
                    "pipe:keep (pipe:exec=PROGRAM is the client's)");
    return PLUMB_EADDR;
  }
  /* stdin and stdout must be pipes (or sockets), never a terminal. */
  if (fstat(0, &s0) < 0 || fstat(1, &s1) < 0 ||
      !(S_ISFIFO(s0.st_mode) || S_ISSOCK(s0.st_mode)) ||
      !(S_ISFIFO(s1.st_mode) || S_ISSOCK(s1.st_mode))) {
    plumb__addr_why("stdin and stdout must be pipes (the server is "
                    "started by a pipe:exec= client)");
    return PLUMB_EADDR;
  }
  if ((l = calloc(1, sizeof(*l))) == NULL)
    return PLUMB_ENOMEM;
  if ((c = pipe_conn_new()) == NULL) {
    free(l);
    return PLUMB_ENOMEM;
  }
  l->base.ops = &plumb__tran_pipe;
  l->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  l->rx_pool = opts ? opts->rx_pool : NULL;
  l->evfd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  c->fc.rfd = fcntl(0, F_DUPFD_CLOEXEC, 3);
  c->fc.wfd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (l->evfd < 0 || c->fc.rfd < 0 || c->fc.wfd < 0 || devnull < 0 ||
      pipe_nonblock(c->fc.rfd) < 0 || pipe_nonblock(c->fc.wfd) < 0) {
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
  c->fc.peer_pid = getppid();
  c->stop_on_eof = !keep;
  plumb__fdconn_start(&c->fc, l->max_frame);
  plumb__stream_set_pool(&c->fc.st, l->rx_pool);
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
  plumb__put_le32(ack + 8, (uint32_t)getpid());
  /* the pipe is empty: this never blocks */
  rv = plumb__stream_send(&l->conn->fc.st, &v, 1, plumb__deadline_ms(1000));
  if (read(l->evfd, &x, sizeof(x)) < 0) {
    /* already drained */
  }
  if (rv != PLUMB_OK) {
    pipe_conn_free(l->conn);
    l->conn = NULL;
    return rv;
  }
  *out = &l->conn->fc.base;
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
  if (addr == NULL || strncmp(addr, "exec=", 5) != 0) {
    plumb__addr_why("a pipe client spawns its server: expected "
                    "pipe:exec=PROGRAM [ARG...]");
    return PLUMB_EADDR;
  }
  if ((cmd = strdup(addr + 5)) == NULL)
    return PLUMB_ENOMEM;
  for (char *t = strtok_r(cmd, " \t", &save); t;
       t = strtok_r(NULL, " \t", &save)) {
    if (argc == PIPE_MAX_ARGS) {
      free(cmd);
      plumb__addr_why("more than %d words in the command",
                      PIPE_MAX_ARGS);
      return PLUMB_EADDR;
    }
    argv[argc++] = t;
  }
  argv[argc] = NULL;
  if (argc == 0) {
    free(cmd);
    plumb__addr_why("missing program (expected pipe:exec=PROGRAM "
                    "[ARG...])");
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
    plumb__addr_why("cannot run %s: %s", argv[0], strerror(rv));
    rv = rv == ENOENT || rv == EACCES || rv == ENOEXEC ? PLUMB_ECONNREFUSED
                                                       : PLUMB_ESYS;
    goto fail;
  }
  close(in[0]);
  close(outp[1]);
  in[0] = outp[1] = -1;
  c->fc.wfd = in[1];
  c->fc.rfd = outp[0];
  in[1] = outp[0] = -1;
  if (pipe_nonblock(c->fc.rfd) < 0 || pipe_nonblock(c->fc.wfd) < 0) {
    rv = PLUMB_ESYS;
    goto fail;
  }
  c->fc.peer_pid = c->child;
  plumb__fdconn_start(&c->fc, opts ? opts->max_frame : PLUMB_DEFAULT_MAX_FRAME);
  /* A real pipe server greets us; end of file means it was not one. */
  rv = plumb__stream_recv(&c->fc.st, &ack, deadline);
  if (rv == PLUMB_OK && (ack.len != 12 || memcmp(ack.data, PIPE_ACK, 8) ||
                         plumb__get_le32(ack.data + 8) != (uint32_t)c->child))
    rv = PLUMB_EPROTO;
  if (rv == PLUMB_ECLOSED)
    rv = PLUMB_ECONNREFUSED;
  plumb__buf_free(&ack);
  if (rv != PLUMB_OK)
    goto fail;
  free(cmd);
  *out = &c->fc.base;
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
  .try_send = pipe_try_send,
  .flush = pipe_flush,
  .cork = plumb__fdconn_cork,
  .write_wait = plumb__fdconn_write_wait,
  .rx_partial = plumb__fdconn_rx_partial,
  .rx_level = 1,
  .rx_state = plumb__fdconn_rx_state,
  .recv = pipe_recv,
  .conn_fd = plumb__fdconn_fd,
  .peer = plumb__fdconn_peer,
  .shutdown = plumb__fdconn_shutdown,
  .close = pipe_close,
};
