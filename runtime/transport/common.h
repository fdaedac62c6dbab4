/* common.h - small pieces several transports share, each written once.
 *
 * Little-endian fields of handshake and message headers, and the peer
 * process (credentials from /proc, liveness, a pidfd).  The byte-stream
 * connection of pipe, fifo, unix and tcp lives with its framing in
 * stream.h.  Nothing here opens IPC objects.
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

#endif
