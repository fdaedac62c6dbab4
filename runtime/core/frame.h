/* frame.h - the plumb frame: a fixed 32-byte binary header, a short text
 * (object name, exception type id or error message) and a protobuf body.
 *
 * The layout is documented byte by byte in docs/PROTOCOL.md; this module only
 * encodes and checks headers.  It never allocates: a decoded frame points into
 * the buffer it was decoded from.  Transports carry frames as opaque bytes.
 */
#ifndef PLUMB_FRAME_H
#define PLUMB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define PLUMB__FRAME_MAGIC "PLMB"
#define PLUMB__FRAME_VERSION 1u
#define PLUMB__FRAME_HDR 32u
#define PLUMB__FRAME_TEXT_MAX 65535u

typedef enum plumb__frame_kind {
  PLUMB__FRAME_REQUEST = 1,   /* text = object name; expects a reply */
  PLUMB__FRAME_REPLY = 2,     /* body = reply message */
  PLUMB__FRAME_ONEWAY = 3,    /* like REQUEST, never answered */
  PLUMB__FRAME_EXCEPTION = 4, /* text = exception type id, body = value */
  PLUMB__FRAME_ERROR = 5,     /* status = plumb_status, text = message */
  PLUMB__FRAME_CANCEL = 6,    /* client: give up call_id; never answered */
  PLUMB__FRAME_SYSEXC = 7     /* server: a system exception (PROTOCOL.md) */
} plumb__frame_kind;
#define PLUMB__FRAME_KIND_MAX 7

/* flags (PROTOCOL.md 2.1).  DEADLINE: on a request or oneway, `status`
 * holds the caller's remaining time in microseconds (0 = already past). */
#define PLUMB__FRAME_F_DEADLINE 0x0001u
/* The longest remaining time a frame carries; a caller with more time left
 * sends no deadline. */
#define PLUMB__FRAME_DEADLINE_MAX_US 2147483647LL

typedef struct plumb__frame {
  uint8_t version;
  uint8_t kind;
  uint16_t flags;   /* PLUMB__FRAME_F_*; unknown bits ignored */
  uint32_t call_id; /* echoed in the answer */
  uint32_t iface;   /* plumb_operation.decl_iface */
  uint32_t op;      /* plumb_operation.decl_index */
  int32_t status;   /* ERROR frames: a PLUMB_E* code; else 0 */
  const char *text; /* not NUL-terminated */
  uint16_t text_len;
  const uint8_t *body;
  uint32_t body_len;
} plumb__frame;

/* Writes the 32-byte header of f (text and body follow it on the wire). */
void plumb__frame_encode(uint8_t hdr[PLUMB__FRAME_HDR], const plumb__frame *f);

/* Checks and decodes the frame in p[0..len).  On success f points into p.
 * Errors, with *why set to a short reason for logs:
 *   PLUMB_EPROTO   truncated header, bad magic, unknown kind, lengths that
 *                  disagree with len;
 *   PLUMB_EVERSION another protocol version (f->call_id and f->kind are
 *                  still filled in, so an error reply can be addressed);
 *   PLUMB_ETOOBIG  len over max_frame. */
int plumb__frame_decode(const uint8_t *p, size_t len, uint32_t max_frame,
                        plumb__frame *f, const char **why);

#endif
