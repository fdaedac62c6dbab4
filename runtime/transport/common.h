/* common.h - small pieces several transports share, each written once.
 *
 * Little-endian fields of handshake and message headers, the peer process
 * (credentials from /proc, liveness, a pidfd), and for the message-queue
 * transports (mq, sysvmq) limits read from /proc/sys and frames split into
 * messages and rebuilt.  The byte-stream connection of pipe, fifo, unix and
 * tcp lives with its framing in stream.h.  Nothing here opens IPC objects.
 */
#ifndef PLUMB_TRANSPORT_COMMON_H
#define PLUMB_TRANSPORT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

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

/* The peer's pid, and its uid/gid (has_creds) as /proc/<pid> says while it
 * lives.  Always PLUMB_OK. */
int plumb__peer_from_pid(pid_t pid, plumb_peer *out);
/* 1 if pid names a live process (ours to signal or not). */
int plumb__pid_alive(pid_t pid);
/* pidfd_open(2): readable once pid exits; -1 with errno. */
int plumb__pidfd_open(pid_t pid);

/* The number in a /proc/sys file such as "/proc/sys/kernel/msgmax", or
 * dflt if it cannot be read. */
long plumb__read_long(const char *path, long dflt);

/* Frames split into messages.  The sender fills each message with the next
 * bytes of the frame: plumb__iov_gather copies at most `room` of them from
 * iov[*k] at offset *off on into dst, advances (*k, *off) and returns how
 * many it copied.  The receiver rebuilds the frame in a plumb__reasm. */
size_t plumb__iov_gather(const struct iovec *iov, int iovcnt, int *k,
                         size_t *off, uint8_t *dst, size_t room);

typedef struct plumb__reasm {
  plumb_buf part; /* the frame being rebuilt (freed with plumb__buf_free) */
  size_t want;    /* its length */
  size_t skip;    /* bytes of an oversized frame still to discard */
  int in_frame;
} plumb__reasm;

/* The first message of a frame of `want` bytes, carrying data[0..n).  Both
 * return 1 once the frame is whole, 0 while more must come, PLUMB_EPROTO,
 * PLUMB_ENOMEM, or PLUMB_ETOOBIG for a frame over max_frame: its later
 * messages are then discarded and the connection stays usable. */
int plumb__reasm_first(plumb__reasm *r, size_t want, uint32_t max_frame,
                       const uint8_t *data, size_t n);
/* A later message of the frame. */
int plumb__reasm_more(plumb__reasm *r, const uint8_t *data, size_t n);
/* Hands the whole frame to buf (the buffers swap, no copy) and starts
 * over. */
void plumb__reasm_take(plumb__reasm *r, plumb_buf *buf);

#endif
