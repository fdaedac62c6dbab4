/* stream.h - length-prefixed frames over a byte-stream file descriptor.
 *
 * The one framing helper shared by every byte-stream transport (unix, tcp,
 * pipe, fifo).  On the wire each frame is a 4-byte little-endian length
 * followed by that many bytes (see docs/PROTOCOL.md, "stream framing").
 * The helper knows nothing of what a frame contains.
 *
 * Usage: a transport embeds a plumb__stream in its connection struct, calls
 * plumb__stream_init() with its (non-blocking!) read and write descriptors -
 * the same fd for sockets, two for pipes and FIFOs - and forwards its send()
 * and recv() members to plumb__stream_send() / plumb__stream_recv(), which
 * already have transport.h's semantics (deadlines, PLUMB_NOWAIT, limits).
 *
 * One exception to "non-blocking": a *socket* may be left in blocking mode.
 * The helper then never blocks where it must not (MSG_DONTWAIT for sends and
 * PLUMB_NOWAIT receives), and a receive with a deadline is a single blocking
 * recv() bounded by SO_RCVTIMEO (slices of at most 100 ms, re-checked
 * against the deadline) instead of poll() + read(): one system call less
 * per frame.  unix and tcp connections use this mode.
 *
 * Receiving reads into an internal buffer, as much as the kernel has, so a
 * small frame costs one read() and several queued frames cost one read() in
 * all.  Partial frames are kept between calls, so PLUMB_NOWAIT works.  As a
 * consequence a whole frame may sit in the buffer while the fd is not
 * readable: a caller driven by poll/epoll must call recv() until it returns
 * PLUMB_EAGAIN before waiting again (plumb__stream_buffered() tells).
 *
 * Sending writes the length prefix and the caller's iovecs with one writev()
 * (sendmsg(MSG_NOSIGNAL) on sockets), finishing partial writes by polling
 * for POLLOUT until the deadline.  On a non-socket write fd SIGPIPE is
 * blocked around the write and a pending one consumed, so a closed reader
 * gives PLUMB_ECLOSED, never a signal.
 *
 * Threading: one send and one recv may run at the same time on one stream
 * (send touches only wfd); two sends or two recvs may not.
 *
 * plumb__fdconn, below, is the whole connection those four transports
 * share: a stream over one socket (unix, tcp) or two pipe ends with a
 * shutdown eventfd (pipe, fifo), usable directly as transport.h members.
 */
#ifndef PLUMB_STREAM_H
#define PLUMB_STREAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "rxpool.h"
#include "transport.h"

/* Bytes of the length prefix in front of every frame. */
#define PLUMB__STREAM_PREFIX 4u
/* Most iovecs plumb__stream_send accepts (plus its own prefix). */
#define PLUMB__STREAM_MAX_IOV 15

typedef struct plumb__stream {
  int rfd;            /* read side (non-blocking) */
  int wfd;            /* write side (non-blocking); may equal rfd */
  int wake_fd;        /* -1, or polled with every wait: readable = shut down */
  int wsock;          /* wfd is a socket: use MSG_NOSIGNAL */
  int rblock;         /* rfd is a blocking socket (see above) */
  int rcvtimeo_ms;    /* rfd's SO_RCVTIMEO as last set; -1 = unknown */
  int pipe_grown;     /* pipe/FIFO write end: F_SETPIPE_SZ tried (stream.c) */
  uint32_t max_frame; /* largest frame accepted or sent (bytes after prefix) */
  plumb_buf rx;       /* bytes read, not yet returned: rx.data[off..rx.len) */
  size_t off;
  /* A large frame is read body-only: its prefix dropped, rx.data[0..len)
   * holds the first bytes of a body of `body` bytes (0 = not in that mode),
   * nothing beyond it is read, and the whole buffer is handed to the
   * caller by swapping - no copy (stream.c, stream_take). */
  size_t body;
  /* The last frame handed out was large: the next read into the empty
   * buffer puts the prefix aside, so a large frame that arrives whole lies
   * at the buffer's start and is swapped out too (stream_read_split). */
  int split;
  plumb_buf tail;     /* try_send: unsent rest of a frame, tail.data[toff..) */
  size_t toff;
  /* Corked (plumb__stream_cork): whole frames try_send took and has not
   * written yet, batch.data[0..len), written in one go once uncorked. */
  plumb_buf batch;
  int corked;
  plumb__rx_pool *pool; /* server side: charged for rx while it is busy */
  size_t charged;       /* bytes of pool this stream holds */
  /* The last read of rfd returned less than it asked for, or EAGAIN: the
   * kernel held nothing more then (plumb__stream_rx_state). */
  int rx_short;
  /* Client receive: did reading before polling find the frame last time
   * (a peer on our CPU has often answered by then)?  Tried again every
   * 16th frame when not (stream.c, plumb__stream_recv). */
  unsigned rx_first_ok, rx_first_n;
  /* Pipe/FIFO writes: SIGPIPE's disposition as last looked at (every
   * 256th write): ignored, so the write needs no masking (stream_write). */
  unsigned sig_n;
  int sig_ign;
} plumb__stream;

/* Prepares s over rfd/wfd (both must be O_NONBLOCK; the stream never closes
 * them).  max_frame 0 means PLUMB_DEFAULT_MAX_FRAME.  Never fails. */
void plumb__stream_init(plumb__stream *s, int rfd, int wfd,
                        uint32_t max_frame);
/* Optional: every blocking wait of send and recv also polls wake_fd (e.g.
 * an eventfd a transport's shutdown() writes) and fails with PLUMB_ECLOSED
 * once it is readable.  Sockets do not need it (shutdown(2) wakes poll);
 * pipes and FIFOs do.  -1 (the default) turns it off. */
void plumb__stream_set_wake(plumb__stream *s, int wake_fd);
/* Server side: charge pool (rxpool.h) for the receive buffer while it
 * holds a partial frame; recv() then fails with PLUMB_EBUSY when the
 * budget is full.  NULL (the default): nothing is counted. */
void plumb__stream_set_pool(plumb__stream *s, plumb__rx_pool *pool);
/* Frees the receive buffer (not the descriptors) and its charge. */
void plumb__stream_free(plumb__stream *s);

/* Sends one frame (the concatenation of iov[0..iovcnt), iovcnt at most
 * PLUMB__STREAM_MAX_IOV) before deadline.  Errors: PLUMB_ETOOBIG (nothing
 * sent), PLUMB_EINVAL, PLUMB_ECLOSED, PLUMB_ETIMEDOUT / PLUMB_EAGAIN (with
 * PLUMB_NOWAIT; if part of the frame went out the stream is unusable),
 * PLUMB_ESYS. */
int plumb__stream_send(plumb__stream *s, const struct iovec *iov, int iovcnt,
                       int64_t deadline);

/* Receives one whole frame into out (out->len = its length; out grows with
 * plumb__buf_reserve).  A length over max_frame fails with PLUMB_ETOOBIG
 * before anything is allocated.  Errors: PLUMB_EAGAIN (PLUMB_NOWAIT and no
 * whole frame yet), PLUMB_ETIMEDOUT, PLUMB_ECLOSED (end of stream; also in
 * the middle of a frame), PLUMB_ETOOBIG, PLUMB_EBUSY (the server's receive
 * memory is full; the stream is unusable), PLUMB_ENOMEM, PLUMB_ESYS. */
int plumb__stream_recv(plumb__stream *s, plumb_buf *out, int64_t deadline);

/* 1 if a whole frame is already buffered (recv will not touch the fd). */
int plumb__stream_buffered(const plumb__stream *s);
/* Bytes of a frame begun but not complete in the receive buffer (0 if
 * none): the server's partial-frame timeout watches it. */
size_t plumb__stream_partial(const plumb__stream *s);
/* transport.h's rx_state(): PLUMB__RX_WHOLE if a whole frame is
 * buffered, else PLUMB__RX_DRAINED if the last read of the descriptor came
 * back short or with EAGAIN (recv() would find only what arrived since; an
 * edge-triggered epoll reports that), else PLUMB__RX_MORE (also before the
 * first read). */
int plumb__stream_rx_state(const plumb__stream *s);

/* transport.h's try_send()/flush() over the stream: one non-blocking
 * write; a partly written frame's rest is copied into `tail` (at most
 * one), which flush() pushes out.  PLUMB_EAGAIN when nothing was taken. */
int plumb__stream_try_send(plumb__stream *s, const struct iovec *iov,
                           int iovcnt);
int plumb__stream_flush(plumb__stream *s);
/* transport.h's cork(): while on, try_send() appends whole frames to
 * `batch` (up to PLUMB__STREAM_BATCH bytes; a frame that would overflow it
 * writes the batch first, and a larger frame is written at once), and
 * flush() pushes out only a kept tail.  Once off, the next try_send() or
 * flush() writes the batch in one system call; what the peer does not
 * take becomes the kept tail. */
void plumb__stream_cork(plumb__stream *s, int on);
#define PLUMB__STREAM_BATCH (64u * 1024u)

/* A connection over a stream (base first: a transport may embed it first
 * in its own struct).  Sockets: rfd == wfd, no wakefd; shutdown() is
 * shutdown(2).  Pipes and FIFOs: two fds and a wake eventfd; shutdown()
 * sets `shut`, writes the eventfd and swaps both fds for ends whose other
 * end is closed, so the peer sees end of file (and EPIPE) at once. */
typedef struct plumb__fdconn {
  plumb_conn base;
  int rfd, wfd;
  int wakefd;      /* -1 on sockets */
  pid_t peer_pid;  /* pipes and FIFOs: for peer(), from the handshake */
  atomic_int shut; /* pipes and FIFOs: shutdown() was called */
  plumb__stream st;
} plumb__fdconn;

/* Pipes and FIFOs: ops, no fds yet (-1) and a new wake eventfd.  On
 * failure (PLUMB_ESYS) there is nothing to fini. */
int plumb__fdconn_init_pipes(plumb__fdconn *c, const plumb_transport *ops);
/* Pipes and FIFOs, once rfd and wfd are open (O_NONBLOCK): the stream.
 * max_frame 0 means PLUMB_DEFAULT_MAX_FRAME. */
void plumb__fdconn_start(plumb__fdconn *c, uint32_t max_frame);
/* Closes the descriptors and frees the stream's buffer (not c itself). */
void plumb__fdconn_fini(plumb__fdconn *c);

/* Sockets, client side: a connection over connected non-blocking fd,
 * made blocking (see above), which it owns from now on (closed on
 * failure); tcp_nodelay sets TCP_NODELAY.  PLUMB_ESYS, PLUMB_ENOMEM. */
int plumb__fdconn_dialed(const plumb_transport *ops, int fd,
                         uint32_t max_frame, int tcp_nodelay,
                         plumb_conn **out);

/* Sockets, server side: a listener that begins with this (listen() fills
 * it in) uses the two members below as its listener_fd and accept. */
typedef struct plumb__socklistener {
  plumb_listener base;
  int fd;                   /* listening, O_NONBLOCK */
  uint32_t max_frame;       /* of accepted connections */
  plumb__rx_pool *rx_pool;  /* of accepted connections (NULL: none) */
  int tcp_nodelay;          /* set TCP_NODELAY on them */
  int (*errno_status)(int); /* accept(2)'s errno as a PLUMB_ status */
} plumb__socklistener;

int plumb__socklistener_fd(plumb_listener *l);
/* One pending client as a blocking plumb__fdconn; PLUMB_EAGAIN if none. */
int plumb__socklistener_accept(plumb_listener *l, plumb_conn **out);

/* transport.h members for any plumb__fdconn.  peer() reports peer_pid
 * with credentials from /proc; close() is fini + free, for sockets. */
int plumb__fdconn_send(plumb_conn *c, const struct iovec *iov, int iovcnt,
                       int64_t deadline);
int plumb__fdconn_recv(plumb_conn *c, plumb_buf *buf, int64_t deadline);
int plumb__fdconn_fd(plumb_conn *c);
/* Server side, non-blocking (transport.h): write_wait() is wfd/EPOLLOUT. */
int plumb__fdconn_try_send(plumb_conn *c, const struct iovec *iov,
                           int iovcnt);
int plumb__fdconn_flush(plumb_conn *c);
void plumb__fdconn_cork(plumb_conn *c, int on);
int plumb__fdconn_write_wait(plumb_conn *c, int *fd, uint32_t *events);
size_t plumb__fdconn_rx_partial(plumb_conn *c);
int plumb__fdconn_rx_state(plumb_conn *c);
int plumb__fdconn_peer(plumb_conn *c, plumb_peer *out);
void plumb__fdconn_shutdown(plumb_conn *c);
void plumb__fdconn_close(plumb_conn *c);

#endif
