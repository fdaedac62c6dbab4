/* transport.h - the plug-in contract every IPC mechanism implements (internal).
 *
 * A transport moves whole frames - opaque byte strings - between a client and
 * a server.  It knows nothing of calls, operations or IDL: the core builds and
 * parses frames (runtime/core/frame.h).  One `const plumb_transport` table per
 * mechanism is defined at the bottom of its file and listed in the registry
 * that meson generates from the `transports` option (registry.c).
 *
 * Objects.  A transport allocates its own listener/connection structs, each
 * beginning with the base struct below (base first, so the core can cast).
 *
 * Deadlines.  Every `deadline` is an absolute CLOCK_MONOTONIC time in ns as
 * returned by plumb__now_ns(); PLUMB_FOREVER (-1) waits without limit and
 * PLUMB_NOWAIT (0) never blocks (returns PLUMB_EAGAIN instead).
 *
 * What the core guarantees: on one connection at most one send() and at most
 * one recv() run at a time (a send and a recv may run concurrently on two
 * threads); close() is called exactly once, after every other call on that
 * connection returned; shutdown() may be called from any thread at any time
 * before close().
 *
 * Ownership: send() never takes ownership of the iovecs; recv() writes into a
 * plumb_buf the caller owns (growing it with plumb__buf_reserve).  After a
 * failed listen()/dial() nothing is left to free: *out is NULL.
 */
#ifndef PLUMB_TRANSPORT_H
#define PLUMB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "plumb/server.h" /* plumb_peer */
#include "plumb/status.h"

#define PLUMB_FOREVER ((int64_t)-1)
#define PLUMB_NOWAIT ((int64_t)0)
#define PLUMB_TRANSPORT_ABI 1
#define PLUMB_DEFAULT_MAX_FRAME (16u * 1024u * 1024u)

/* A growable byte buffer owned by its user. */
typedef struct plumb_buf {
  uint8_t *data;
  size_t len; /* bytes of the current frame */
  size_t cap;
} plumb_buf;

/* Makes room for at least `need` bytes (keeps contents); PLUMB_ENOMEM. */
int plumb__buf_reserve(plumb_buf *b, size_t need);
/* The capacity plumb__buf_reserve(b, need) would leave b with (to charge
 * a budget before allocating). */
size_t plumb__buf_cap_for(const plumb_buf *b, size_t need);
void plumb__buf_free(plumb_buf *b);

/* Says why an address is wrong (or an IPC object cannot be made), in words
 * for plumb_last_error(): e.g. "missing port".  A transport calls it before
 * returning PLUMB_EADDR (or another failure); the core prefixes the
 * endpoint.  The first reason given in a call is kept. */
void plumb__addr_why(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* The reason behind errno `err` from creating or opening `path`, said
 * with plumb__addr_why: "directory /no/such does not exist", "/tmp/f is not
 * a directory", "permission denied on /x", "path name too long".  For
 * ENOENT with the directory present it says nothing (the caller knows
 * what a missing file means: usually "no server at endpoint"). */
void plumb__addr_why_path(const char *path, int err);
/* The mq/shm name rule (ipcname.c): addr[0..n) is "/NAME", NAME 1 to max
 * characters of [A-Za-z0-9._-] not starting with '.'.  Returns NAME's
 * length, or 0 after saying why in words naming scheme and noun ("POSIX
 * queue names start with '/' (expected mq:/NAME)"). */
size_t plumb__ipc_name_check(const char *addr, size_t n, size_t max,
                             const char *scheme, const char *noun);
/* Monotonic clock in ns, and "now + ms" as a deadline (ms < 0: FOREVER). */
int64_t plumb__now_ns(void);
int64_t plumb__deadline_ms(int64_t ms);
/* Milliseconds left until deadline for poll(): -1 for FOREVER, >= 0 else. */
int plumb__poll_timeout(int64_t deadline);

/* Non-zero once SIGPIPE is ignored process-wide (plumb_server_run with
 * handle_signals sets it): writes to pipes may then skip masking SIGPIPE. */
int plumb__sigpipe_ignored(void);
void plumb__set_sigpipe_ignored(void);

/* Options the core passes down when opening an endpoint.  Everything after
 * `mode` is optional: a zero-initialised field means "the transport's
 * default", so `{ max_frame, 0600 }` is a complete value.  A transport that
 * has no use for a knob ignores it (docs/CONFIG.md lists who honours what). */
typedef struct plumb_tran_opts {
  uint32_t max_frame; /* largest frame either side may send; never 0 */
  unsigned mode;      /* permission bits for created IPC objects (0600) */
  int has_group;      /* 1: give created IPC objects group `group` */
  gid_t group;
  uint32_t shm_ring_size; /* bytes per shm ring (power of two); 0 = default */
  uint32_t mq_msgsize;    /* POSIX mq message size; 0 = default */
  int has_spin;           /* 1: shm spin budget is spin_us */
  uint32_t spin_us;
  /* Server side: who may connect (core/access.h), as the core will check
   * at accept; a transport that meets clients before accept() returns
   * (shm's rendezvous) may check earlier.  NULL = no policy (clients). */
  const struct plumb__access *access;
  /* Server side: the server-wide budget of receive memory (rxpool.h) its
   * connections charge for partial frames.  NULL = none (clients). */
  struct plumb__rx_pool *rx_pool;
} plumb_tran_opts;

typedef struct plumb_transport plumb_transport;

typedef struct plumb_conn {
  const plumb_transport *ops;
} plumb_conn;

typedef struct plumb_listener {
  const plumb_transport *ops;
} plumb_listener;

struct plumb_transport {
  unsigned abi_version; /* PLUMB_TRANSPORT_ABI */
  const char *scheme;   /* "tcp": endpoints "tcp:..." select this table */
  const char *const *aliases; /* NULL-terminated extra schemes, or NULL */

  /* Server side.  listen() parses `addr` (the endpoint after "scheme:"),
   * creates the IPC objects (mode from opts) and returns a listener.
   * Errors: PLUMB_EADDR (bad address), PLUMB_EBUSY (in use), PLUMB_EPERM,
   * PLUMB_ESYS.  Does not block. */
  int (*listen)(const char *addr, const plumb_tran_opts *opts,
                plumb_listener **out);
  /* A file descriptor that polls readable (EPOLLIN) whenever accept() may
   * succeed.  Mechanisms without one use an eventfd fed by a waiter thread. */
  int (*listener_fd)(plumb_listener *l);
  /* Accepts one pending client.  Never blocks: PLUMB_EAGAIN if none. */
  int (*accept)(plumb_listener *l, plumb_conn **out);
  /* Stops listening, removes every IPC object the listener created
   * (socket files, FIFOs, queues, segments) and frees it.  Connections
   * already accepted stay usable until closed. */
  void (*listener_close)(plumb_listener *l);

  /* Client side: connects to a listener at addr before deadline.
   * Errors: PLUMB_EADDR, PLUMB_ECONNREFUSED, PLUMB_ETIMEDOUT, PLUMB_ESYS. */
  int (*dial)(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
              plumb_conn **out);

  /* Sends one whole frame (the concatenation of iov) before deadline.
   * Frames are delivered whole and in order, or not at all.
   * Errors: PLUMB_ETOOBIG (over max_frame), PLUMB_ECLOSED, PLUMB_ETIMEDOUT
   * (then the connection is unusable: a frame may be half sent), PLUMB_ESYS. */
  int (*send)(plumb_conn *c, const struct iovec *iov, int iovcnt,
              int64_t deadline);
  /* Server side: the server never waits for a peer (docs/RUNTIME.md,
   * "flow control").  These three let the core queue what a slow peer does
   * not read yet, per connection, instead of blocking a worker.
   *
   * try_send() offers one whole frame and never blocks:
   *   PLUMB_OK      the frame was taken - sent, or partly sent with the
   *                 unsent rest kept inside the connection (at most one such
   *                 tail per connection; flush() pushes it out).  The iovecs
   *                 are not referenced after the call.
   *   PLUMB_EAGAIN  nothing was taken (the peer is not reading, or a tail is
   *                 still pending): the core keeps the frame and offers it
   *                 again when write_wait() says so.
   *   PLUMB_ETOOBIG, PLUMB_ECLOSED, PLUMB_ESYS as for send().
   * flush() pushes out a kept tail, never blocking: PLUMB_OK once none is
   * left, PLUMB_EAGAIN while some is, PLUMB_ECLOSED, PLUMB_ESYS.
   * write_wait() says what to poll to learn when try_send()/flush() may make
   * progress: *fd and *events (EPOLLOUT, or EPOLLIN for a doorbell-style
   * fd).  A mechanism with no such fd returns PLUMB_ENOTSUP and the core
   * retries it on a timer with a bounded, growing interval.
   * try_send() and flush() run under the same rule as send(): at most one
   * at a time per connection, concurrently with one recv(). */
  int (*try_send)(plumb_conn *c, const struct iovec *iov, int iovcnt);
  int (*flush)(plumb_conn *c);
  /* Optional (NULL: every frame is written as it is offered).  cork(c, 1)
   * lets try_send() keep whole frames inside the connection, to be
   * written together - one system call for many replies - by the first
   * try_send() or flush() after cork(c, 0); flush() while corked pushes
   * out only a kept tail.  The server corks a connection while it serves
   * frames already read in one go, and uncorks it before it reads again
   * or leaves it (srv_conn.c).  Same rule as try_send(). */
  void (*cork)(plumb_conn *c, int on);
  int (*write_wait)(plumb_conn *c, int *fd, uint32_t *events);
  /* Receives one whole frame into buf (buf->len = its length).  With
   * deadline PLUMB_NOWAIT it returns PLUMB_EAGAIN unless a whole frame is
   * ready, keeping any partial frame inside the connection.  A frame longer
   * than max_frame fails with PLUMB_ETOOBIG before anything is allocated.
   * Errors: PLUMB_EAGAIN, PLUMB_ETIMEDOUT, PLUMB_ECLOSED, PLUMB_ETOOBIG,
   * PLUMB_EPROTO, PLUMB_ESYS. */
  int (*recv)(plumb_conn *c, plumb_buf *buf, int64_t deadline);
  /* A file descriptor that polls readable when recv() may make progress. */
  int (*conn_fd)(plumb_conn *c);
  /* Optional (NULL = cannot tell): the peer's pid/uid/gid. */
  int (*peer)(plumb_conn *c, plumb_peer *out);
  /* Makes blocked and later send()/recv() fail with PLUMB_ECLOSED and tells
   * the peer we are gone.  Thread-safe, idempotent, does not free. */
  void (*shutdown)(plumb_conn *c);
  /* Releases the connection (and any per-connection IPC objects). */
  void (*close)(plumb_conn *c);
  /* Optional (NULL = cannot tell): bytes of a frame begun but not yet
   * complete inside the connection.  The server drops a peer whose frame
   * stays incomplete past frame_timeout_ms (slowloris). */
  size_t (*rx_partial)(plumb_conn *c);
  /* Optional: the listener's real endpoint, whole ("tcp://127.0.0.1:40123"
   * for a listen on port 0), into buf[0..len) with its NUL.  PLUMB_OK,
   * PLUMB_ETOOBIG (buf too small), PLUMB_ESYS.  NULL = the endpoint as
   * given to listen() is already what a client dials (unix paths and
   * abstract names, shm, mq, sysvmq, fifo names).  Object references carry
   * it (docs/RUNTIME.md, "Objects and references"). */
  int (*listener_endpoint)(plumb_listener *l, char *buf, size_t len);
  /* Non-zero: conn_fd() polls readable (level-triggered) whenever recv()
   * would find data, so a reader holding nothing (rx_partial() == 0) may
   * hand the connection back to epoll without first calling recv() to
   * PLUMB_EAGAIN (srv_conn.c saves that system call after each call).
   * Zero (shm: its recv() arms the doorbell; queues that reassemble):
   * recv() to PLUMB_EAGAIN first. */
  int rx_level;
  /* Optional (NULL = cannot tell; the server then registers conn_fd()
   * one-shot and re-arms it after each visit).  Non-NULL: conn_fd() may be
   * registered edge-triggered - every arrival of data makes it ready anew,
   * whether or not the last read emptied it - and rx_state() says what the
   * next recv() would do: PLUMB__RX_WHOLE, a whole frame waits inside (the
   * descriptor is not read); PLUMB__RX_DRAINED, nothing whole inside and
   * the last read of the descriptor came back short (or with EAGAIN), so
   * it would find only what arrived since that read; PLUMB__RX_MORE,
   * nothing whole inside and the descriptor may hold more.  The server
   * then leaves a drained connection without the recv() to PLUMB_EAGAIN
   * and without an epoll_ctl (docs/RUNTIME.md, "Edge-triggered
   * connections"). */
  int (*rx_state)(plumb_conn *c);
};

/* rx_state() values. */
enum { PLUMB__RX_MORE = 0, PLUMB__RX_WHOLE = 1, PLUMB__RX_DRAINED = 2 };

/* Registry (registry.c, generated list of built-in transports). */

/* The transport for endpoint "scheme:rest"; *rest points after the colon
 * (and after "//" if present).  NULL if the scheme is unknown or not built in. */
const plumb_transport *plumb__transport_find(const char *endpoint,
                                             const char **rest);
/* Comma-separated names of the built-in transports ("unix, tcp"). */
const char *plumb__transport_names(void);

#endif
