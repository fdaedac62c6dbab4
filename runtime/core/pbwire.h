/* pbwire.h - the protobuf wire format's small pieces, shared by the
 * runtime's own readers and writers of protobuf bytes (decode.c's
 * pre-scan, flat.c's codec, bigbytes.c's scatter and cut, sysexc.c's
 * system-exception body): varints and the wire type of a field type.
 * protobuf-c keeps its own copies private; these are static inline so
 * that each hot loop keeps them inlined. */
#ifndef PLUMB_PBWIRE_H
#define PLUMB_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Bytes the varint of v takes (1..10). */
static inline unsigned
plumb__pb_varint_len(uint64_t v)
{
  unsigned n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/* Writes the varint of v at p (room for 10 bytes); returns its length. */
static inline size_t
plumb__pb_put_varint(uint8_t *p, uint64_t v)
{
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

/* Reads a varint of at most max bytes from [*p, end) into *v and moves *p
 * past it: its length, or 0 if it is longer than max or truncated (*p
 * unmoved).  Like protobuf-c, a 10th byte's bits past the 64th are
 * dropped; plumb__pb_get_varint64 refuses them. */
static inline unsigned
plumb__pb_get_varint(const uint8_t **p, const uint8_t *end, unsigned max,
                     uint64_t *v)
{
  const uint8_t *q = *p;
  uint64_t x = 0;
  for (unsigned i = 0; i < max && q < end; i++, q++) {
    x |= (uint64_t)(*q & 0x7f) << (7 * i);
    if ((*q & 0x80) == 0) {
      *p = q + 1;
      *v = x;
      return i + 1;
    }
  }
  return 0;
}

/* The same, at most 10 bytes, and 0 as well for a value past 64 bits. */
static inline unsigned
plumb__pb_get_varint64(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
  const uint8_t *q = *p;
  unsigned n = plumb__pb_get_varint(&q, end, 10, v);
  if (n == 10 && q[-1] > 1)
    return 0;
  *p = q;
  return n;
}

/* The wire type of a (non-packed) value of type t. */
static inline unsigned
plumb__pb_wire_of(ProtobufCType t)
{
  switch (t) {
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return PROTOBUF_C_WIRE_TYPE_64BIT;
  case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return PROTOBUF_C_WIRE_TYPE_32BIT;
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES:
  case PROTOBUF_C_TYPE_MESSAGE:
    return PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
  default:
    return PROTOBUF_C_WIRE_TYPE_VARINT;
  }
}

#endif
