/* flat.c - packs and unpacks flat messages (every field one scalar) without
 * protobuf-c's general machinery, byte for byte as protobuf-c 1.4 does
 * (see flat.h).
 *
 * protobuf-c's rules followed here: fields are packed in the order of
 * descriptor->fields, a label-NONE (proto3) field only when it is not
 * "zeroish" (all bits zero; a float or double that compares equal to 0,
 * so -0.0 is not sent), an OPTIONAL one when its has_ flag is set; an
 * int32 or enum that is negative goes as a 10-byte sign-extended varint,
 * sint32/sint64 zigzag-encoded, a bool as one byte 0 or 1.  When a field
 * occurs twice, the last occurrence wins.  An int32 read from a varint
 * keeps the low 32 bits of it, as protobuf-c does.
 *
 * Anything unusual declines the fast unpack: an unknown or zero field
 * number, a wire type that is not the field's, a tag over 5 bytes, a
 * varint over 10 bytes or a 10-byte one whose last byte is over 1 (its
 * extra bits would decide a bool in protobuf-c), a truncated value.  The
 * fixed-width types are copied as they are, so the fast path is taken
 * only on little-endian hosts (as protobuf-c's own memcpy shortcut).
 */
#include <string.h>

#include "flat.h"
#include "pbwire.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FLAT_LE 1
#else
#define FLAT_LE 0
#endif

#define FLAT_FIELD_MAX ((1u << 29) - 1) /* highest protobuf field number */

static int
flat_field(const ProtobufCFieldDescriptor *fd)
{
  if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return 0;
  if (fd->label != PROTOBUF_C_LABEL_NONE &&
      !(fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset != 0))
    return 0;
  /* INT32 .. ENUM: the scalars (STRING, BYTES and MESSAGE follow them) */
  return (unsigned)fd->type < (unsigned)PROTOBUF_C_TYPE_STRING;
}

int
plumb__flat_is(const ProtobufCMessageDescriptor *d)
{
  if (!FLAT_LE || d == NULL || d->message_init == NULL)
    return 0;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (!flat_field(&d->fields[i]))
      return 0;
  return 1;
}

/* Field fd of message base: 1 and its wire value in *v (the varint's
 * value, or the fixed bits) if it is packed, 0 if it is not. */
static int
flat_value(const ProtobufCFieldDescriptor *fd, const char *base, uint64_t *v)
{
  const char *mem = base + fd->offset;
  int32_t i32;
  uint32_t u32;
  uint64_t u64;
  float f;
  double dbl;

  if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
    protobuf_c_boolean has;
    memcpy(&has, base + fd->quantifier_offset, sizeof has);
    if (!has)
      return 0;
  }
  switch (fd->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_ENUM:
    memcpy(&i32, mem, 4);
    *v = (uint64_t)(int64_t)i32;
    break;
  case PROTOBUF_C_TYPE_SINT32:
    memcpy(&i32, mem, 4);
    *v = ((uint32_t)i32 << 1) ^ (uint32_t)-(int32_t)((uint32_t)i32 >> 31);
    break;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_SFIXED32:
    memcpy(&u32, mem, 4);
    *v = u32;
    break;
  case PROTOBUF_C_TYPE_FLOAT:
    memcpy(&f, mem, 4);
    memcpy(&u32, mem, 4);
    *v = u32;
    if (fd->label == PROTOBUF_C_LABEL_NONE && f == 0)
      return 0;
    return 1;
  case PROTOBUF_C_TYPE_SINT64:
    memcpy(&u64, mem, 8);
    *v = (u64 << 1) ^ (uint64_t)-(int64_t)(u64 >> 63);
    break;
  case PROTOBUF_C_TYPE_DOUBLE:
    memcpy(&dbl, mem, 8);
    memcpy(&u64, mem, 8);
    *v = u64;
    if (fd->label == PROTOBUF_C_LABEL_NONE && dbl == 0)
      return 0;
    return 1;
  case PROTOBUF_C_TYPE_BOOL: {
    protobuf_c_boolean b;
    memcpy(&b, mem, sizeof b);
    *v = b != 0;
    break;
  }
  default: /* INT64, UINT64, FIXED64, SFIXED64 */
    memcpy(&u64, mem, 8);
    *v = u64;
    break;
  }
  /* a label-NONE scalar is sent unless all its bits are zero */
  return fd->label != PROTOBUF_C_LABEL_NONE || *v != 0;
}

static size_t
flat_field_size(const ProtobufCFieldDescriptor *fd, uint64_t v)
{
  size_t n = plumb__pb_varint_len((uint64_t)fd->id << 3);
  switch (plumb__pb_wire_of(fd->type)) {
  case PROTOBUF_C_WIRE_TYPE_32BIT: return n + 4;
  case PROTOBUF_C_WIRE_TYPE_64BIT: return n + 8;
  default: return n + plumb__pb_varint_len(v);
  }
}

size_t
plumb__flat_size(const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  size_t n = 0;
  uint64_t v;

  if (m->n_unknown_fields != 0 || !plumb__flat_is(d))
    return SIZE_MAX;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (flat_value(&d->fields[i], base, &v))
      n += flat_field_size(&d->fields[i], v);
  return n;
}

size_t
plumb__flat_pack(const ProtobufCMessage *m, uint8_t *out)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  uint8_t *p = out;
  uint64_t v;

  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[i];
    if (!flat_value(fd, base, &v))
      continue;
    unsigned wt = plumb__pb_wire_of(fd->type);
    p += plumb__pb_put_varint(p, (uint64_t)fd->id << 3 | wt);
    if (wt == PROTOBUF_C_WIRE_TYPE_VARINT) {
      p += plumb__pb_put_varint(p, v);
    } else {
      size_t w = wt == PROTOBUF_C_WIRE_TYPE_32BIT ? 4 : 8;
      memcpy(p, &v, w); /* little-endian: the low bytes first */
      p += w;
    }
  }
  return (size_t)(p - out);
}

int
plumb__flat_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                   size_t len, ProtobufCMessage *m)
{
  const uint8_t *end = p + len;
  char *base = (char *)m;
  unsigned next = 0; /* fields usually come in descriptor order */

  while (p < end) {
    const ProtobufCFieldDescriptor *fd;
    uint64_t tag, v = 0;
    if (!plumb__pb_get_varint(&p, end, 5, &tag) || (tag >> 3) == 0 ||
        (tag >> 3) > FLAT_FIELD_MAX)
      return 0;
    uint32_t num = (uint32_t)(tag >> 3);
    if (next < d->n_fields && d->fields[next].id == num)
      fd = &d->fields[next];
    else if ((fd = protobuf_c_message_descriptor_get_field(d, num)) == NULL)
      return 0; /* unknown: protobuf-c keeps it, the general path does */
    next = (unsigned)(fd - d->fields) + 1;
    unsigned wt = (unsigned)(tag & 7);
    if (wt != plumb__pb_wire_of(fd->type))
      return 0;
    char *mem = base + fd->offset;
    if (wt == PROTOBUF_C_WIRE_TYPE_32BIT || wt == PROTOBUF_C_WIRE_TYPE_64BIT) {
      size_t w = wt == PROTOBUF_C_WIRE_TYPE_32BIT ? 4 : 8;
      if ((size_t)(end - p) < w)
        return 0;
      memcpy(mem, p, w);
      p += w;
    } else {
      if (!plumb__pb_get_varint64(&p, end, &v))
        return 0;
      uint32_t u32 = (uint32_t)v;
      int32_t i32;
      int64_t i64;
      switch (fd->type) {
      case PROTOBUF_C_TYPE_SINT32:
        i32 = (int32_t)((u32 >> 1) ^ (uint32_t)-(int32_t)(u32 & 1));
        memcpy(mem, &i32, 4);
        break;
      case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64:
        memcpy(mem, &v, 8);
        break;
      case PROTOBUF_C_TYPE_SINT64:
        i64 = (int64_t)((v >> 1) ^ (uint64_t)-(int64_t)(v & 1));
        memcpy(mem, &i64, 8);
        break;
      case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean b = v != 0;
        memcpy(mem, &b, sizeof b);
        break;
      }
      default: /* INT32, UINT32, ENUM: the low 32 bits */
        memcpy(mem, &u32, 4);
        break;
      }
    }
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
      protobuf_c_boolean has = 1;
      memcpy(base + fd->quantifier_offset, &has, sizeof has);
    }
  }
  return 1;
}
