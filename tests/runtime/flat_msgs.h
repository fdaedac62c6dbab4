/* flat_msgs.h - hand-written protobuf-c messages for the flat codec's
 * tests (test_flat.c, tests/fuzz/fuzz_flat.c): every scalar type with the
 * proto3 label NONE and field numbers in four ranges (FlatAll), OPTIONAL
 * fields with has_ flags (FlatOpt), and a message that is not flat
 * (NotFlat: a string). */
#ifndef FLAT_MSGS_H
#define FLAT_MSGS_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

typedef struct {
  ProtobufCMessage base;
  int32_t i32;   /* 1 */
  int32_t s32;   /* 2, sint32 */
  int32_t sf32;  /* 3, sfixed32 */
  int64_t i64;   /* 4 */
  int64_t s64;   /* 5, sint64 */
  int64_t sf64;  /* 6, sfixed64 */
  uint32_t u32;  /* 7 */
  uint32_t f32;  /* 8, fixed32 */
  uint64_t u64;  /* 9 */
  uint64_t f64;  /* 10, fixed64 */
  float fl;      /* 20 */
  double db;     /* 21 */
  protobuf_c_boolean b; /* 100 */
  int en;        /* 1000, enum */
} FlatAll;

typedef struct {
  ProtobufCMessage base;
  protobuf_c_boolean has_a;
  int32_t a;     /* 1 */
  protobuf_c_boolean has_d;
  double d;      /* 2 */
  protobuf_c_boolean has_b;
  protobuf_c_boolean b; /* 3 */
  protobuf_c_boolean has_z;
  int64_t z;     /* 4, sint64 */
} FlatOpt;

typedef struct {
  ProtobufCMessage base;
  int32_t n; /* 1 */
  char *s;   /* 2 */
} NotFlat;

extern const ProtobufCMessageDescriptor flat_all_desc, flat_opt_desc,
    not_flat_desc;

/* Field by field, as stored (bits, so NaNs compare), has_ flags included:
 * 1 if a and b (both of type d) hold the same values. */
int flat_msgs_equal(const ProtobufCMessageDescriptor *d, const void *a,
                    const void *b);

#endif
