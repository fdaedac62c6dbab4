/* common.h - small pieces several transports share, each written once.
 *
 * Little-endian fields of handshake and message headers, the peer process
 * (credentials from /proc, liveness, a pidfd), and for the message-queue
 * transports (mq, sysvmq) limits read from /proc/sys, frames split into
 * messages and rebuilt, and the unsent rest a non-blocking send keeps;
 * random 64-bit secrets for handshakes.  The byte-stream connection of pipe, fifo, unix and
 * tcp lives with its framing in stream.h.  Nothing here opens IPC objects.
 */
#ifndef PLUMB_TRANSPORT_COMMON_H
#define PLUMB_TRANSPORT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "rxpool.h"
#include "transport.h"

static inline void
plumb__put_le32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t
plumb__get_le32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline void
plumb__put_le64(uint8_t *p, uint64_t v)
{
  plumb__put_le32(p, (uint32_t)v);
  plumb__put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t
plumb__get_le64(const uint8_t *p)
{
  return (uint64_t)plumb__get_le32(p) | (uint64_t)plumb__get_le32(p + 4) << 32;
}

/* 64 random bits from getrandom(2), never 0: handshake secrets and the
 * unguessable parts of per-connection names. */
uint64_t plumb__random64(void);

/* The peer's pid, and its effective uid/gid (has_creds) as
 * /proc/<pid>/status says while it lives.  Only as trustworthy as the pid:
 * a transport should take it from the kernel (SO_PEERCRED, a pidfd held
 * since the handshake), not from the peer's word.  Always PLUMB_OK. */
int plumb__peer_from_pid(pid_t pid, plumb_peer *out);
/* 1 if pid names a live process (ours to signal or not). */
int plumb__pid_alive(pid_t pid);
/* pidfd_open(2): readable once pid exits; -1 with errno. */
int plumb__pidfd_open(pid_t pid);

/* The number in a /proc/sys file such as "/proc/sys/kernel/msgmax", or
 * dflt if it cannot be read. */
long plumb__read_long(const char *path, long dflt);

/* A new epoll set in which each of fds[0..n) polls EPOLLIN (data.fd = the
 * fd): the conn_fd() of a connection with several things to watch.  -1
 * with nothing left open on failure. */
int plumb__epoll_set(const int *fds, int n);

/* Frames split into messages.  The sender walks the frame with a
 * plumb__split: while plumb__split_more(), it writes a message's header
 * (the first one's when msgs is 0), lets plumb__split_fill() append the
 * frame's next bytes and sends it.  At least one message goes, even for
 * an empty frame.  The receiver rebuilds the frame in a plumb__reasm. */
typedef struct plumb__split {
  const struct iovec *iov;
  int iovcnt, k;      /* the next bytes are iov[k] from off on */
  size_t off;
  size_t total, sent; /* frame length, bytes in messages so far */
  unsigned msgs;      /* messages filled so far */
} plumb__split;

/* Starts on frame iov; PLUMB_ETOOBIG if it is longer than max_frame. */
int plumb__split_begin(plumb__split *sp, const struct iovec *iov, int iovcnt,
                       uint32_t max_frame);
/* 1 while a message is to be sent. */
int plumb__split_more(const plumb__split *sp);
/* Copies the next bytes of the frame, at most room, to dst; their count. */
size_t plumb__split_fill(plumb__split *sp, uint8_t *dst, size_t room);
/* rv, the failed send's error, to return: once a message went out the
 * peer holds half a frame, so *wbroken is set and PLUMB_EAGAIN becomes
 * PLUMB_ETIMEDOUT. */
int plumb__split_failed(const plumb__split *sp, int rv, int *wbroken);

/* The unsent rest of a frame a non-blocking send (try_send) could not
 * finish, kept inside the connection until flush() sends it as later
 * messages of that frame. */
typedef struct plumb__tail {
  plumb_buf buf; /* freed with plumb__buf_free */
  size_t off;    /* bytes of buf already sent */
} plumb__tail;

/* Keeps the n bytes of the message that could not go (cur) and what sp
 * has not filled yet.  PLUMB_ENOMEM. */
int plumb__tail_keep(plumb__tail *t, plumb__split *sp, const uint8_t *cur,
                     size_t n);
/* 1 while kept bytes wait. */
int plumb__tail_pending(const plumb__tail *t);
/* Copies the next kept bytes, at most room, to dst (not yet consumed);
 * their count.  plumb__tail_sent() consumes them once they went. */
size_t plumb__tail_peek(const plumb__tail *t, uint8_t *dst, size_t room);
void plumb__tail_sent(plumb__tail *t, size_t n);

typedef struct plumb__reasm {
  plumb_buf part; /* the frame being rebuilt (freed with plumb__buf_free) */
  size_t want;    /* its length */
  size_t skip;    /* bytes of an oversized frame still to discard */
  int in_frame;
  plumb__rx_pool *pool; /* server side: charged for part (rxpool.h) */
  size_t charged;
  size_t slack;   /* room kept (and charged) past a frame's end: for a
                     receiver that lands messages in place (sysvmq) */
} plumb__reasm;

/* The first message of a frame of `want` bytes, carrying data[0..n).  Both
 * return 1 once the frame is whole, 0 while more must come, PLUMB_EPROTO,
 * PLUMB_ENOMEM, or PLUMB_ETOOBIG for a frame over max_frame: its later
 * messages are then discarded and the connection stays usable.  With a
 * pool set, PLUMB_EBUSY when the frame does not fit in the server's
 * receive budget (its later messages are discarded too). */
int plumb__reasm_first(plumb__reasm *r, size_t want, uint32_t max_frame,
                       const uint8_t *data, size_t n);
/* A later message of the frame. */
int plumb__reasm_more(plumb__reasm *r, const uint8_t *data, size_t n);
/* Hands the whole frame to buf (the buffers swap, no copy) and starts
 * over. */
void plumb__reasm_take(plumb__reasm *r, plumb_buf *buf);
/* Frees the buffer and gives its charge back (connection closed). */
void plumb__reasm_free(plumb__reasm *r);

#endif
