/* decode.h - bounding the decode of a peer's protobuf body before it
 * happens (internal; see decode.c and docs/PROTOCOL.md, "Limits").
 *
 * protobuf_c_message_unpack() recurses once per nested message and
 * allocates in proportion to what the wire announces, not to the wire's
 * size.  Every body read from a peer is therefore first walked here,
 * iteratively, with the message descriptors: nesting deeper than max_depth
 * and malformed wire data are refused, and the bytes the unpack will
 * allocate are computed, so that a per-request budget and a server-wide
 * budget can refuse the request before any of that memory is taken.
 */
#ifndef PLUMB_DECODE_H
#define PLUMB_DECODE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "plumb/generated.h"

#ifndef PLUMB_DEFAULT_MAX_DEPTH
#define PLUMB_DEFAULT_MAX_DEPTH 64 /* nested messages in one body */
#endif
#define PLUMB__DECODE_DEPTH_MAX 1000u /* highest max_depth accepted */
#define PLUMB__DEFAULT_DECODE_BUDGET 16u /* x frame length, per request */
#define PLUMB__DECODE_BUDGET_BASE (1024u * 1024u) /* + this, per request */
#define PLUMB__DEFAULT_MAX_DECODE_MEMORY (256u * 1024u * 1024u) /* server */
#define PLUMB__DECODE_WHY_MAX 200 /* bytes of a refusal message, with NUL */

/* The limits one decode obeys.  budget == 0: no per-request memory cap
 * (the client decoding into the caller's arena). */
typedef struct plumb__decode_limits {
  unsigned max_depth; /* 0 = PLUMB_DEFAULT_MAX_DEPTH */
  unsigned budget;    /* arena bytes allowed: budget x frame + BASE */
} plumb__decode_limits;

/* A server-wide pool of decode memory (bytes of arena in use by requests
 * being served, summed over workers).  max == 0: unlimited. */
typedef struct plumb__decode_pool {
  _Atomic size_t in_use;
  size_t max;
} plumb__decode_pool;

/* Walks the body p[0..len) of a message of type d without recursion.
 * Returns PLUMB_OK with *need = the arena bytes protobuf-c's unpack will
 * allocate for it (exact for plumb's own encodings, a lower bound for
 * exotic ones such as a repeated singular message field, which the arena
 * cap catches), or PLUMB_EBADBODY with a message in why[0..whylen) naming
 * the field and byte offset: nesting deeper than max_depth, a truncated or
 * over-long varint, a length past the end, a wire type that is not the
 * field's, groups. */
int plumb__decode_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                       size_t len, unsigned max_depth, size_t *need,
                       char *why, size_t whylen);

/* Scans, checks the budgets and unpacks body p[0..len) (of a frame of
 * frame_len bytes) into arena a.  On success *out is the message and
 * *taken the bytes taken from pool (give them back with
 * plumb__decode_release once the arena is reset).  Errors, with why set:
 *   PLUMB_EBADBODY  see plumb__decode_scan, or protobuf-c refused the body;
 *   PLUMB_ETOOBIG   the decode would pass the per-request budget, or could
 *                   never fit in the pool;
 *   PLUMB_EBUSY     the pool is full now (retryable). */
int plumb__decode_body(const plumb__decode_limits *lim,
                       plumb__decode_pool *pool,
                       const ProtobufCMessageDescriptor *d, plumb_arena *a,
                       const uint8_t *p, size_t len, size_t frame_len,
                       ProtobufCMessage **out, size_t *taken, char *why,
                       size_t whylen);

/* plumb__decode_body, but the big bytes fields (bigbytes.h) of the body
 * are pointed into p[0..len) rather than copied: the caller keeps p
 * unchanged and alive as long as *out.  *borrowed: how many were. */
int plumb__decode_body_borrow(const plumb__decode_limits *lim,
                              plumb__decode_pool *pool,
                              const ProtobufCMessageDescriptor *d,
                              plumb_arena *a, const uint8_t *p, size_t len,
                              size_t frame_len, ProtobufCMessage **out,
                              size_t *taken, unsigned *borrowed, char *why,
                              size_t whylen);

/* Sets a server's decode limits (0 = keep the current value, or the
 * default if none): max_depth, decode_budget, max_decode_memory. */
void plumb__server_set_decode(plumb_server *s, unsigned max_depth,
                              unsigned budget, size_t max_memory);

/* Gives n bytes back to pool (NULL or n == 0: nothing). */
void plumb__decode_release(plumb__decode_pool *pool, size_t n);

#endif
