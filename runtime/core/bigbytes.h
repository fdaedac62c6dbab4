/* bigbytes.h - large `bytes` fields (sequence<octet>) by reference, not
 * copied: sent straight from the caller's memory (scatter) and, once
 * received, pointed into the frame buffer (borrow).  Internal; see
 * bigbytes.c and docs/TRANSPORTS.md, "Large frames".
 *
 * Only top-level, singular (proto3, no presence, not in a oneof) bytes
 * fields of at least PLUMB__BIG_MIN bytes qualify: the parameters and
 * return value of an operation, each one field of its request or reply
 * message.  Anything else packs and unpacks as before, and so does a
 * message whose C struct is larger than PLUMB__BIG_COPY_MAX (the scatter
 * packs a shallow copy of it with the big fields emptied).
 */
#ifndef PLUMB_BIGBYTES_H
#define PLUMB_BIGBYTES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "plumb/generated.h"
#include "transport.h"

#ifndef PLUMB__BIG_MIN
#define PLUMB__BIG_MIN (16u * 1024u) /* smaller fields are copied */
#endif
#define PLUMB__BIG_MAX 4          /* fields by reference per message */
#define PLUMB__BIG_COPY_MAX 1024u /* bytes of message struct copied */
/* Body iovecs a scatter needs at most: the packed rest, then a tag/length
 * header and the bytes of each big field. */
#define PLUMB__BIG_IOV (1 + 2 * PLUMB__BIG_MAX)

typedef struct plumb__big_ref {
  const uint8_t *data;
  size_t len;
  uint8_t hdr[16]; /* tag and length varints */
  uint8_t hdr_len;
} plumb__big_ref;

/* A message packed for sending: head[0..head_len) in a buffer, then the
 * big fields from where they are. */
typedef struct plumb__scatter {
  size_t head_len;
  size_t len; /* the whole body */
  unsigned n;
  plumb__big_ref big[PLUMB__BIG_MAX];
} plumb__scatter;

/* Packs m (NULL: an empty body) for sending: every field but the big ones
 * into head (grown with plumb__buf_reserve; head->len = head_len), the big
 * ones left where they are, described in *sc.  PLUMB_OK, PLUMB_ETOOBIG if
 * the body would pass max_body (nothing packed; sc->len says by how
 * much), PLUMB_ENOMEM.  The big fields' memory must stay as it is until
 * the frame is sent (the transports copy what they keep). */
int plumb__scatter_pack(const ProtobufCMessage *m, plumb_buf *head,
                        size_t max_body, plumb__scatter *sc);
/* The body's iovecs (at most PLUMB__BIG_IOV) into iov; returns how many. */
int plumb__scatter_iov(const plumb__scatter *sc, const uint8_t *head,
                       struct iovec *iov);

/* Unpacks body p[0..len), already checked by plumb__decode_scan, as a
 * message of type d into allocator al, with the big fields pointing into
 * p instead of copied (the caller keeps p unchanged and alive as long as
 * the message).  *borrowed: fields so given (0: a plain unpack).  NULL
 * when protobuf-c refused the body or memory ran out. */
ProtobufCMessage *plumb__borrow_unpack(const ProtobufCMessageDescriptor *d,
                                       ProtobufCAllocator *al,
                                       const uint8_t *p, size_t len,
                                       unsigned *borrowed);

#endif
