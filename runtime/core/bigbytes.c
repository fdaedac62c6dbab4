/* bigbytes.c - large `bytes` fields by reference (see bigbytes.h).
 *
 * protobuf-c packs a message into one buffer and unpacks `bytes` into
 * fresh copies: a 1 MiB echo paid four user-space copies of its payload
 * besides the mechanism's own (perf: memmove was half the CPU of both
 * processes over unix).  Here the big fields skip both:
 *
 * - scatter: a shallow copy of the message with the big fields emptied is
 *   packed (a few bytes), and each big field follows as its own tag and
 *   length header plus an iovec of the caller's bytes - protobuf does not
 *   care about field order, so the wire is still a valid message that any
 *   protobuf toolchain reads;
 * - borrow: the received body's big fields are cut out (the rest, small,
 *   is gathered into one scratch block of the arena and unpacked as
 *   usual), then pointed into the frame buffer.  A field seen twice on the
 *   wire (the last wins, in protobuf) is left to protobuf-c.
 */
#include <stdalign.h>
#include <string.h>

#include "bigbytes.h"
#include "flat.h"
#include "pbwire.h"

/* 1 if field fd may go by reference. */
static int
big_field(const ProtobufCFieldDescriptor *fd)
{
  return fd->type == PROTOBUF_C_TYPE_BYTES &&
         fd->label == PROTOBUF_C_LABEL_NONE &&
         (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0;
}

int
plumb__scatter_pack(const ProtobufCMessage *m, plumb_buf *head,
                    size_t max_body, plumb__scatter *sc)
{
  alignas(max_align_t) unsigned char copy[PLUMB__BIG_COPY_MAX];
  const ProtobufCMessage *src = m;
  size_t flat = m != NULL ? plumb__flat_size(m) : 0;

  if (flat != SIZE_MAX) { /* no big field in a flat message (flat.h) */
    sc->n = 0;
    sc->head_len = sc->len = flat;
    if (flat > max_body)
      return PLUMB_ETOOBIG;
    if (plumb__buf_reserve(head, flat ? flat : 1) != PLUMB_OK)
      return PLUMB_ENOMEM;
    head->len = m != NULL ? plumb__flat_pack(m, head->data) : 0;
    return PLUMB_OK;
  }
  memset(sc, 0, sizeof *sc);
  if (m != NULL && m->descriptor->sizeof_message <= sizeof copy) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields && sc->n < PLUMB__BIG_MAX; i++) {
      const ProtobufCFieldDescriptor *fd = &d->fields[i];
      if (!big_field(fd))
        continue;
      const ProtobufCBinaryData *b =
          (const void *)((const unsigned char *)m + fd->offset);
      if (b->len < PLUMB__BIG_MIN || b->len > UINT32_MAX)
        continue;
      if (src == m) {
        memcpy(copy, m, d->sizeof_message);
        src = (const ProtobufCMessage *)(void *)copy;
      }
      ProtobufCBinaryData *e = (void *)(copy + fd->offset);
      e->len = 0; /* proto3: an empty field is not packed */
      e->data = NULL;
      plumb__big_ref *r = &sc->big[sc->n++];
      r->data = b->data;
      r->len = b->len;
      uint64_t tag = (uint64_t)fd->id << 3 |
                     PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
      r->hdr_len = (uint8_t)plumb__pb_put_varint(r->hdr, tag);
      r->hdr_len +=
          (uint8_t)plumb__pb_put_varint(r->hdr + r->hdr_len, b->len);
    }
  }
  sc->head_len = src ? protobuf_c_message_get_packed_size(src) : 0;
  sc->len = sc->head_len;
  for (unsigned i = 0; i < sc->n; i++)
    sc->len += sc->big[i].hdr_len + sc->big[i].len;
  if (sc->len > max_body)
    return PLUMB_ETOOBIG;
  if (plumb__buf_reserve(head, sc->head_len ? sc->head_len : 1) != PLUMB_OK)
    return PLUMB_ENOMEM;
  head->len = src ? protobuf_c_message_pack(src, head->data) : 0;
  return PLUMB_OK;
}

int
plumb__scatter_iov(const plumb__scatter *sc, const uint8_t *head,
                   struct iovec *iov)
{
  int n = 0;
  iov[n++] = (struct iovec){ (void *)head, sc->head_len };
  for (unsigned i = 0; i < sc->n; i++) {
    iov[n++] = (struct iovec){ (void *)sc->big[i].hdr, sc->big[i].hdr_len };
    iov[n++] = (struct iovec){ (void *)sc->big[i].data, sc->big[i].len };
  }
  return n;
}

/* ---- borrow ------------------------------------------------------- */

typedef struct big_cut {
  const ProtobufCFieldDescriptor *fd;
  const uint8_t *from, *to; /* the field's wire bytes, tag included */
  const uint8_t *data;      /* its value */
  size_t len;
  unsigned seen;            /* occurrences of its number */
} big_cut;

/* Walks the top level of p[0..len): the big fields into cut (at most
 * PLUMB__BIG_MAX), counting every occurrence of their numbers.  Returns
 * how many were found, 0 on anything unexpected. */
static unsigned
big_find(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
         big_cut *cut)
{
  const uint8_t *end = p + len;
  unsigned n = 0;

  while (p < end) {
    const uint8_t *at = p;
    uint64_t tag, v = 0;
    if (plumb__pb_get_varint(&p, end, 10, &tag) == 0)
      return 0;
    switch (tag & 7) {
    case PROTOBUF_C_WIRE_TYPE_VARINT:
      if (plumb__pb_get_varint(&p, end, 10, &v) == 0)
        return 0;
      break;
    case PROTOBUF_C_WIRE_TYPE_64BIT:
      if (end - p < 8)
        return 0;
      p += 8;
      break;
    case PROTOBUF_C_WIRE_TYPE_32BIT:
      if (end - p < 4)
        return 0;
      p += 4;
      break;
    case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
      if (plumb__pb_get_varint(&p, end, 10, &v) == 0 ||
          v > (uint64_t)(end - p))
        return 0;
      p += v;
      break;
    default:
      return 0;
    }
    uint32_t num = (uint32_t)(tag >> 3);
    for (unsigned i = 0; i < n; i++)
      if (cut[i].fd->id == num)
        cut[i].seen++;
    if ((tag & 7) != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
        v < PLUMB__BIG_MIN || n == PLUMB__BIG_MAX)
      continue;
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(d, num);
    if (fd == NULL || !big_field(fd))
      continue;
    int again = 0;
    for (unsigned i = 0; i < n; i++)
      again |= cut[i].fd == fd;
    if (again)
      continue; /* counted above: dropped below */
    cut[n++] = (big_cut){ fd, at, p, p - v, (size_t)v, 1 };
  }
  return n;
}

ProtobufCMessage *
plumb__borrow_unpack(const ProtobufCMessageDescriptor *d,
                     ProtobufCAllocator *al, const uint8_t *p, size_t len,
                     unsigned *borrowed)
{
  big_cut cut[PLUMB__BIG_MAX];
  unsigned n = 0, k = 0;
  size_t big = 0;

  *borrowed = 0;
  if (len >= PLUMB__BIG_MIN)
    n = big_find(d, p, len, cut);
  for (unsigned i = 0; i < n; i++)
    if (cut[i].seen == 1) {
      cut[k++] = cut[i];
      big += (size_t)(cut[i].to - cut[i].from);
    }
  /* Gathering the rest is a copy too: worth it while it is the smaller. */
  if (k == 0 || len - big > big)
    return protobuf_c_message_unpack(d, al, len, p);
  size_t rest = len - big;
  uint8_t *g = al->alloc(al->allocator_data, rest ? rest : 1);
  if (g == NULL)
    return NULL;
  const uint8_t *q = p;
  size_t off = 0;
  for (unsigned i = 0; i < k; i++) { /* cut[] is in wire order */
    memcpy(g + off, q, (size_t)(cut[i].from - q));
    off += (size_t)(cut[i].from - q);
    q = cut[i].to;
  }
  memcpy(g + off, q, (size_t)(p + len - q));
  ProtobufCMessage *m = protobuf_c_message_unpack(d, al, rest, g);
  if (m == NULL)
    return NULL;
  for (unsigned i = 0; i < k; i++) {
    ProtobufCBinaryData *b =
        (void *)((unsigned char *)m + cut[i].fd->offset);
    b->len = cut[i].len;
    b->data = (uint8_t *)cut[i].data;
  }
  *borrowed = k;
  return m;
}
