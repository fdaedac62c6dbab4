/* flat_msgs.c - the descriptors of flat_msgs.h, laid out as protoc-c and
 * plumbc lay theirs out (fields sorted by number, ranges, by-name index). */
#include <string.h>

#include "flat_msgs.h"

#define F(name, id, label, type, q, member)                                  \
  { name, id, PROTOBUF_C_LABEL_##label, PROTOBUF_C_TYPE_##type, q,           \
    offsetof(FlatAll, member), NULL, NULL, 0, 0, NULL, NULL }

static const ProtobufCFieldDescriptor all_fields[14] = {
  F("i32", 1, NONE, INT32, 0, i32),
  F("s32", 2, NONE, SINT32, 0, s32),
  F("sf32", 3, NONE, SFIXED32, 0, sf32),
  F("i64", 4, NONE, INT64, 0, i64),
  F("s64", 5, NONE, SINT64, 0, s64),
  F("sf64", 6, NONE, SFIXED64, 0, sf64),
  F("u32", 7, NONE, UINT32, 0, u32),
  F("f32", 8, NONE, FIXED32, 0, f32),
  F("u64", 9, NONE, UINT64, 0, u64),
  F("f64", 10, NONE, FIXED64, 0, f64),
  F("fl", 20, NONE, FLOAT, 0, fl),
  F("db", 21, NONE, DOUBLE, 0, db),
  F("b", 100, NONE, BOOL, 0, b),
  F("en", 1000, NONE, ENUM, 0, en),
};
#undef F
static const unsigned all_by_name[14] = { 12, 11, 13, 7, 9, 10, 0,
                                          3, 1, 4, 2, 5, 6, 8 };
static const ProtobufCIntRange all_ranges[5] = {
  { 1, 0 }, { 20, 10 }, { 100, 12 }, { 1000, 13 }, { 0, 14 }
};

static void
all_init(void *m)
{
  memset(m, 0, sizeof(FlatAll));
  ((ProtobufCMessage *)m)->descriptor = &flat_all_desc;
}

const ProtobufCMessageDescriptor flat_all_desc = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "t.FlatAll", "FlatAll", "FlatAll",
  "t", sizeof(FlatAll), 14, all_fields, all_by_name, 4, all_ranges,
  (ProtobufCMessageInit)all_init, NULL, NULL, NULL
};

#define O(name, id, type, member)                                           \
  { name, id, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_##type,             \
    offsetof(FlatOpt, has_##member), offsetof(FlatOpt, member), NULL, NULL,  \
    0, 0, NULL, NULL }

static const ProtobufCFieldDescriptor opt_fields[4] = {
  O("a", 1, INT32, a),
  O("d", 2, DOUBLE, d),
  O("b", 3, BOOL, b),
  O("z", 4, SINT64, z),
};
#undef O
static const unsigned opt_by_name[4] = { 0, 2, 1, 3 };
static const ProtobufCIntRange opt_ranges[2] = { { 1, 0 }, { 0, 4 } };

static void
opt_init(void *m)
{
  memset(m, 0, sizeof(FlatOpt));
  ((ProtobufCMessage *)m)->descriptor = &flat_opt_desc;
}

const ProtobufCMessageDescriptor flat_opt_desc = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "t.FlatOpt", "FlatOpt", "FlatOpt",
  "t", sizeof(FlatOpt), 4, opt_fields, opt_by_name, 1, opt_ranges,
  (ProtobufCMessageInit)opt_init, NULL, NULL, NULL
};

static const ProtobufCFieldDescriptor nf_fields[2] = {
  { "n", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0,
    offsetof(NotFlat, n), NULL, NULL, 0, 0, NULL, NULL },
  { "s", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(NotFlat, s), NULL, &protobuf_c_empty_string, 0, 0, NULL, NULL },
};
static const unsigned nf_by_name[2] = { 0, 1 };
static const ProtobufCIntRange nf_ranges[2] = { { 1, 0 }, { 0, 2 } };

static void
nf_init(void *m)
{
  memset(m, 0, sizeof(NotFlat));
  ((ProtobufCMessage *)m)->descriptor = &not_flat_desc;
  ((NotFlat *)m)->s = (char *)protobuf_c_empty_string;
}

const ProtobufCMessageDescriptor not_flat_desc = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "t.NotFlat", "NotFlat", "NotFlat",
  "t", sizeof(NotFlat), 2, nf_fields, nf_by_name, 1, nf_ranges,
  (ProtobufCMessageInit)nf_init, NULL, NULL, NULL
};

static size_t
scalar_size(ProtobufCType t)
{
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL:
    return sizeof(protobuf_c_boolean);
  default:
    return 4;
  }
}

int
flat_msgs_equal(const ProtobufCMessageDescriptor *d, const void *a,
                const void *b)
{
  const char *pa = a, *pb = b;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[i];
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
        memcmp(pa + fd->quantifier_offset, pb + fd->quantifier_offset,
               sizeof(protobuf_c_boolean)) != 0)
      return 0;
    if (memcmp(pa + fd->offset, pb + fd->offset, scalar_size(fd->type)) != 0)
      return 0;
  }
  return 1;
}
