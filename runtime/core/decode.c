/* decode.c - bounds the decode of every body a peer sends before
 * protobuf-c's recursive unpack sees it: an iterative pre-scan (depth,
 * wire shape, the exact arena bytes the unpack will take) and the two
 * memory budgets (per request, server-wide).  See decode.h; the limits and
 * the statuses a peer gets are in docs/PROTOCOL.md, "Limits".
 *
 * The memory model follows protobuf-c 1.4's unpack into an arena that
 * rounds every allocation up to 16 bytes: per message, its struct, the
 * scanned-member slabs past the first 16 fields seen, the required-field
 * bitmap past 128 fields, one array per repeated field, one block per
 * string / non-empty bytes / unknown field, the unknown-field table.
 * A flat message (flat.h) skips the scan: flat.c decodes it into its
 * struct alone, or declines and the scan and protobuf-c decide as ever.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena_internal.h"
#include "bigbytes.h"
#include "decode.h"
#include "flat.h"
#include "pbwire.h"

#define DEC_ALIGN 16u                /* the arena's allocation granule */
#define DEC_SLAB_FIRST 16u           /* scanned members on unpack's stack */
#define DEC_SLAB_MEMBER 32u          /* sizeof(ScannedMember) on LP64 */
#define DEC_BITMAP_STACK 16u         /* bytes of unpack's on-stack bitmap */
#define DEC_FIELD_MAX ((1u << 29) - 1) /* highest protobuf field number */

typedef struct dec_frame {
  const ProtobufCMessageDescriptor *d;
  const uint8_t *end;  /* end of this message's bytes */
  size_t n_members;    /* fields seen (unpack's scanned members) */
  size_t n_unknown;
  uint64_t rep_seen;   /* repeated fields (index < 64) seen so far */
} dec_frame;

typedef struct dec_scan {
  const uint8_t *base; /* start of the body, for offsets in messages */
  size_t need;
  char *why;
  size_t whylen;
} dec_scan;

static size_t
dec_round(size_t n)
{
  if (n == 0)
    n = 1;
  return (n + DEC_ALIGN - 1) & ~(size_t)(DEC_ALIGN - 1);
}

static int dec_fail(dec_scan *sc, const uint8_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the refusal message "<fmt...> at byte N"; returns PLUMB_EBADBODY. */
static int
dec_fail(dec_scan *sc, const uint8_t *at, const char *fmt, ...)
{
  char msg[PLUMB__DECODE_WHY_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (sc->why != NULL && sc->whylen > 0)
    snprintf(sc->why, sc->whylen, "%s at byte %zu", msg,
             (size_t)(at - sc->base));
  return PLUMB_EBADBODY;
}

/* Arena bytes of unpack's slabs for n scanned members. */
static size_t
dec_slabs(size_t n)
{
  size_t cap = DEC_SLAB_FIRST, bytes = 0, slab = DEC_SLAB_FIRST;
  while (cap < n) {
    slab *= 2;
    cap += slab;
    bytes += slab * DEC_SLAB_MEMBER;
  }
  return bytes;
}

/* What a message costs that is not per field: counted when it ends. */
static size_t
dec_close(const dec_frame *fr)
{
  size_t n = dec_round(fr->d->sizeof_message) + dec_slabs(fr->n_members);
  size_t bitmap = (fr->d->n_fields + 7) / 8;
  if (bitmap > DEC_BITMAP_STACK)
    n += dec_round(bitmap);
  if (fr->n_unknown)
    n += dec_round(fr->n_unknown * sizeof(ProtobufCMessageUnknownField));
  return n;
}

static size_t
dec_elem_size(ProtobufCType t)
{
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES:
    return sizeof(ProtobufCBinaryData);
  default:
    return 4; /* 32-bit scalars, enums, protobuf_c_boolean */
  }
}

/* Elements of a packed repeated scalar field in p[0..len); -1 if the bytes
 * cannot be whole elements. */
static long long
dec_packed_count(ProtobufCType t, const uint8_t *p, size_t len)
{
  size_t n = 0;
  switch (plumb__pb_wire_of(t)) {
  case PROTOBUF_C_WIRE_TYPE_64BIT:
    return len % 8 ? -1 : (long long)(len / 8);
  case PROTOBUF_C_WIRE_TYPE_32BIT:
    return len % 4 ? -1 : (long long)(len / 4);
  default:
    for (size_t i = 0, run = 0; i < len; i++) {
      if (p[i] & 0x80) {
        if (++run >= 10)
          return -1; /* over-long varint */
      } else {
        run = 0;
        n++;
      }
    }
    return len == 0 || (p[len - 1] & 0x80) == 0 ? (long long)n : -1;
  }
}

/* The per-field cost of one length-delimited occurrence of known field fd
 * (not a message); -1 if its wire data cannot be that field's. */
static long long
dec_len_field(const ProtobufCFieldDescriptor *fd, const uint8_t *p,
              size_t len)
{
  int rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
  switch (fd->type) {
  case PROTOBUF_C_TYPE_STRING:
    return (long long)(dec_round(len + 1) + (rep ? sizeof(void *) : 0));
  case PROTOBUF_C_TYPE_BYTES:
    return (long long)((len ? dec_round(len) : 0) +
                       (rep ? sizeof(ProtobufCBinaryData) : 0));
  default: {
    if (!rep)
      return -1;
    long long n = dec_packed_count(fd->type, p, len);
    return n < 0 ? -1 : n * (long long)dec_elem_size(fd->type);
  }
  }
}

int
plumb__decode_scan(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                   size_t len, unsigned max_depth, size_t *need, char *why,
                   size_t whylen)
{
  dec_frame st[PLUMB__DECODE_DEPTH_MAX + 1];
  dec_scan sc = { .base = p, .need = 0, .why = why, .whylen = whylen };
  size_t top = 0;

  if (max_depth == 0)
    max_depth = PLUMB_DEFAULT_MAX_DEPTH;
  if (max_depth > PLUMB__DECODE_DEPTH_MAX)
    max_depth = PLUMB__DECODE_DEPTH_MAX;
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  st[0] = (dec_frame){ .d = d, .end = p + len };
  for (;;) {
    dec_frame *fr = &st[top];
    if (p == fr->end) {
      sc.need += dec_close(fr);
      if (top == 0)
        break;
      top--;
      continue;
    }
    const uint8_t *at = p;
    uint64_t tag, v = 0;
    if (plumb__pb_get_varint(&p, fr->end, 5, &tag) == 0 ||
        (tag >> 3) > DEC_FIELD_MAX)
      return dec_fail(&sc, at, "bad field tag");
    unsigned wt = (unsigned)(tag & 7);
    uint32_t num = (uint32_t)(tag >> 3);
    if (num == 0)
      return dec_fail(&sc, at, "field number 0");
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(fr->d, num);
    const char *name = fd ? fd->name : "(unknown)";
    const uint8_t *val = p;
    size_t vlen;
    fr->n_members++;
    switch (wt) {
    case PROTOBUF_C_WIRE_TYPE_VARINT:
      if (plumb__pb_get_varint(&p, fr->end, 10, &v) == 0)
        return dec_fail(&sc, at, "field '%s' (number %u): bad varint", name,
                        num);
      break;
    case PROTOBUF_C_WIRE_TYPE_64BIT:
    case PROTOBUF_C_WIRE_TYPE_32BIT: {
      size_t n = wt == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;
      if ((size_t)(fr->end - p) < n)
        return dec_fail(&sc, at, "field '%s' (number %u): truncated", name,
                        num);
      p += n;
      break;
    }
    case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
      if (plumb__pb_get_varint(&p, fr->end, 5, &v) == 0 || v > UINT32_MAX ||
          v > (uint64_t)(fr->end - p))
        return dec_fail(&sc, at, "field '%s' (number %u): length past the "
                        "end of its message", name, num);
      break;
    default:
      return dec_fail(&sc, at, "field '%s' (number %u): unsupported wire "
                      "type (groups are not protobuf 3)", name, num);
    }
    vlen = (size_t)(p - val);
    if (fd == NULL) { /* unknown: kept by unpack, copied whole */
      if (wt == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
        vlen += (size_t)v, p += v;
      fr->n_unknown++;
      sc.need += dec_round(vlen);
      continue;
    }
    int rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
    if (rep) {
      size_t idx = (size_t)(fd - fr->d->fields);
      if (idx >= 64 || !(fr->rep_seen & (1ull << idx)))
        sc.need += DEC_ALIGN; /* the array's rounding */
      if (idx < 64)
        fr->rep_seen |= 1ull << idx;
    }
    if (wt != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) {
      if (plumb__pb_wire_of(fd->type) != wt)
        return dec_fail(&sc, at, "field '%s' (number %u): wrong wire type "
                        "for its type", name, num);
      if (rep)
        sc.need += dec_elem_size(fd->type);
      continue;
    }
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
      if (top + 1 > max_depth)
        return dec_fail(&sc, at, "field '%s': messages nested deeper than "
                        "%u levels", name, max_depth);
      if (rep)
        sc.need += sizeof(void *);
      st[++top] = (dec_frame){ .d = fd->descriptor, .end = p + v };
      continue;
    }
    long long c = dec_len_field(fd, p, (size_t)v);
    if (c < 0)
      return dec_fail(&sc, at, "field '%s' (number %u): wrong wire type or "
                      "malformed packed values", name, num);
    sc.need += (size_t)c;
    p += v;
  }
  if (need != NULL)
    *need = sc.need;
  return PLUMB_OK;
}

void
plumb__decode_release(plumb__decode_pool *pool, size_t n)
{
  if (pool != NULL && n > 0)
    atomic_fetch_sub(&pool->in_use, n);
}

/* Takes n bytes from pool: PLUMB_OK, or PLUMB_EBUSY if it would overflow. */
static int
dec_take(plumb__decode_pool *pool, size_t n)
{
  if (pool == NULL)
    return PLUMB_OK;
  if (pool->max == 0) {
    atomic_fetch_add(&pool->in_use, n);
    return PLUMB_OK;
  }
  size_t cur = atomic_load(&pool->in_use);
  do {
    if (cur > pool->max || n > pool->max - cur)
      return PLUMB_EBUSY;
  } while (!atomic_compare_exchange_weak(&pool->in_use, &cur, cur + n));
  return PLUMB_OK;
}

int
plumb__decode_body(const plumb__decode_limits *lim, plumb__decode_pool *pool,
                   const ProtobufCMessageDescriptor *d, plumb_arena *a,
                   const uint8_t *p, size_t len, size_t frame_len,
                   ProtobufCMessage **out, size_t *taken, char *why,
                   size_t whylen)
{
  return plumb__decode_body_borrow(lim, pool, d, a, p, len, frame_len, out,
                                   taken, NULL, why, whylen);
}

/* The budgets a decode of need bytes must fit (*cap: the per-request cap,
 * 0 = none), and need taken from the pool: PLUMB_OK, or PLUMB_ETOOBIG /
 * PLUMB_EBUSY with why set. */
static int
dec_admit(const plumb__decode_limits *lim, plumb__decode_pool *pool,
          size_t need, size_t frame_len, size_t *cap, char *why,
          size_t whylen)
{
  *cap = 0;
  if (lim->budget != 0) {
    *cap = (size_t)lim->budget * frame_len + PLUMB__DECODE_BUDGET_BASE;
    if (need > *cap) {
      snprintf(why, whylen, "decoding needs %zu bytes, over the per-request "
               "budget of %zu (decode_budget %u x %zu-byte frame + 1 MiB)",
               need, *cap, lim->budget, frame_len);
      return PLUMB_ETOOBIG;
    }
  }
  if (pool != NULL && pool->max != 0 && need > pool->max) {
    snprintf(why, whylen, "decoding needs %zu bytes, more than the server's "
             "max_decode_memory of %zu", need, pool->max);
    return PLUMB_ETOOBIG;
  }
  if (dec_take(pool, need) != PLUMB_OK) {
    snprintf(why, whylen, "server busy: %zu bytes of decode memory in use, "
             "this request needs %zu more (max_decode_memory %zu); retry",
             atomic_load(&pool->in_use), need, pool->max);
    return PLUMB_EBUSY;
  }
  return PLUMB_OK;
}

/* A flat message (flat.h): no pre-scan is needed - one level, and the
 * memory is the struct alone - and flat.c decodes it.  PLUMB_EAGAIN: the
 * body is not the simple case (nothing taken from the pool): the caller
 * takes the general path, which decides. */
static int
dec_flat(const plumb__decode_limits *lim, plumb__decode_pool *pool,
         const ProtobufCMessageDescriptor *d, plumb_arena *a,
         const uint8_t *p, size_t len, size_t frame_len,
         ProtobufCMessage **out, size_t *taken, char *why, size_t whylen)
{
  size_t need = dec_round(d->sizeof_message), cap;
  ProtobufCMessage *m;
  int st = dec_admit(lim, pool, need, frame_len, &cap, why, whylen);

  if (st != PLUMB_OK)
    return st;
  /* out of memory: the general path fails as it always did */
  if ((m = plumb_arena_alloc(a, d->sizeof_message)) != NULL)
    d->message_init(m);
  if (m == NULL || !plumb__flat_unpack(d, p, len, m)) {
    plumb__decode_release(pool, need);
    return PLUMB_EAGAIN;
  }
  *out = m;
  *taken = pool != NULL ? need : 0;
  return PLUMB_OK;
}

int
plumb__decode_body_borrow(const plumb__decode_limits *lim,
                          plumb__decode_pool *pool,
                          const ProtobufCMessageDescriptor *d,
                          plumb_arena *a, const uint8_t *p, size_t len,
                          size_t frame_len, ProtobufCMessage **out,
                          size_t *taken, unsigned *borrowed, char *why,
                          size_t whylen)
{
  size_t need, cap = 0;
  int st;

  *out = NULL;
  *taken = 0;
  if (borrowed != NULL)
    *borrowed = 0;
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  if (plumb__flat_is(d) &&
      (st = dec_flat(lim, pool, d, a, p, len, frame_len, out, taken, why,
                     whylen)) != PLUMB_EAGAIN)
    return st;
  st = plumb__decode_scan(d, p, len, lim->max_depth, &need, why, whylen);
  if (st != PLUMB_OK)
    return st;
  if ((st = dec_admit(lim, pool, need, frame_len, &cap, why, whylen)) !=
      PLUMB_OK)
    return st;
  plumb__arena_limit(a, cap);
  if (borrowed != NULL)
    *out = plumb__borrow_unpack(d, plumb_arena_allocator(a), p, len,
                                borrowed);
  else
    *out = protobuf_c_message_unpack(d, plumb_arena_allocator(a), len, p);
  int over = plumb__arena_over(a);
  size_t used = plumb__arena_counted(a);
  plumb__arena_limit(a, 0);
  /* The pool holds what was really used (more than the scan said only for
   * exotic encodings, never more than cap). */
  if (pool != NULL && used > need)
    atomic_fetch_add(&pool->in_use, used - need);
  else if (pool != NULL)
    atomic_fetch_sub(&pool->in_use, need - used);
  *taken = pool != NULL ? used : 0;
  if (*out == NULL) {
    if (over) {
      snprintf(why, whylen, "decoding passed the per-request budget of %zu "
               "bytes", cap);
      return PLUMB_ETOOBIG;
    }
    snprintf(why, whylen, "body could not be decoded as %s", d->name);
    return PLUMB_EBADBODY;
  }
  return PLUMB_OK;
}
