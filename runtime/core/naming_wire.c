/* naming_wire.c - protobuf-c descriptors and interface tables of the three
 * CosNaming operations libplumb calls itself (rebind, unbind,
 * resolve_str), written by hand so that libplumb does not carry
 * plumbc-generated CosNaming symbols that would clash with a program's
 * own.  They must stay equal to what plumbc makes of idl/CosNaming.idl:
 * tests/naming compares the type ids, interface ids, operation indexes and
 * field numbers with the generated tables. */
#include <stddef.h>

#include "naming_wire.h"

#define NS "CosNaming."
#define TID_CTX "IDL:omg.org/CosNaming/NamingContext:1.0"
#define TID_EXT "IDL:omg.org/CosNaming/NamingContextExt:1.0"

/* ---- messages ------------------------------------------------------------ */

static const ProtobufCIntRange one_range[2] = { { 1, 0 }, { 0, 1 } };
static const ProtobufCIntRange two_range[2] = { { 1, 0 }, { 0, 2 } };
static const unsigned by_name_1[1] = { 0 };
static const unsigned by_name_2[2] = { 0, 1 };

static const ProtobufCFieldDescriptor nc_fields[2] = {
  { "id", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb__nc, id), NULL, protobuf_c_empty_string, 0, 0, NULL,
    NULL },
  { "kind", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb__nc, kind), NULL, protobuf_c_empty_string, 0, 0, NULL,
    NULL },
};
const ProtobufCMessageDescriptor plumb__nc_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NS "NameComponent", "NameComponent",
  "plumb__nc", "CosNaming", sizeof(plumb__nc), 2, nc_fields, by_name_2, 1,
  two_range, NULL, NULL, NULL, NULL
};

static const ProtobufCFieldDescriptor bind_fields[2] = {
  { "n", 1, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_MESSAGE,
    offsetof(plumb__nbind_req, n_n), offsetof(plumb__nbind_req, n),
    &plumb__nc_descriptor, NULL, 0, 0, NULL, NULL },
  { "obj", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0,
    offsetof(plumb__nbind_req, obj), &plumb_objref_descriptor, NULL, 0, 0,
    NULL, NULL },
};
const ProtobufCMessageDescriptor plumb__nrebind_req_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NS "NamingContext_rebind_Request",
  "NamingContext_rebind_Request", "plumb__nbind_req", "CosNaming",
  sizeof(plumb__nbind_req), 2, bind_fields, by_name_2, 1, two_range, NULL,
  NULL, NULL, NULL
};
const ProtobufCMessageDescriptor plumb__nunbind_req_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NS "NamingContext_unbind_Request",
  "NamingContext_unbind_Request", "plumb__nbind_req", "CosNaming",
  sizeof(plumb__nbind_req), 1, bind_fields, by_name_1, 1, one_range, NULL,
  NULL, NULL, NULL
};

typedef struct empty_msg {
  ProtobufCMessage base;
} empty_msg;
static const ProtobufCIntRange no_range[1] = { { 0, 0 } };
static const ProtobufCMessageDescriptor empty_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NS "Empty", "Empty", "empty_msg",
  "CosNaming", sizeof(empty_msg), 0, NULL, NULL, 0, no_range, NULL, NULL,
  NULL, NULL
};

static const ProtobufCFieldDescriptor res_req_fields[1] = {
  { "sn", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb__nres_req, sn), NULL, protobuf_c_empty_string, 0, 0, NULL,
    NULL },
};
const ProtobufCMessageDescriptor plumb__nres_req_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
  NS "NamingContextExt_resolve_str_Request",
  "NamingContextExt_resolve_str_Request", "plumb__nres_req", "CosNaming",
  sizeof(plumb__nres_req), 1, res_req_fields, by_name_1, 1, one_range, NULL,
  NULL, NULL, NULL
};
static const ProtobufCFieldDescriptor res_rep_fields[1] = {
  { "_ret", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0,
    offsetof(plumb__nres_rep, _ret), &plumb_objref_descriptor, NULL, 0, 0,
    NULL, NULL },
};
static const ProtobufCMessageDescriptor res_rep_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
  NS "NamingContextExt_resolve_str_Reply",
  "NamingContextExt_resolve_str_Reply", "plumb__nres_rep", "CosNaming",
  sizeof(plumb__nres_rep), 1, res_rep_fields, by_name_1, 1, one_range, NULL,
  NULL, NULL, NULL
};

/* ---- exceptions (bodies skipped: an empty message keeps them unknown) --- */

static const plumb_type_info ex_notfound = {
  "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0",
  &empty_descriptor };
static const plumb_type_info ex_cannot = {
  "IDL:omg.org/CosNaming/NamingContext/CannotProceed:1.0",
  &empty_descriptor };
static const plumb_type_info ex_invalid = {
  "IDL:omg.org/CosNaming/NamingContext/InvalidName:1.0",
  &empty_descriptor };
static const plumb_type_info *const raises[3] = {
  &ex_notfound, &ex_cannot, &ex_invalid };

/* ---- interfaces ----------------------------------------------------------- */

/* plumb_type_hash of TID_CTX / TID_EXT, checked by tests/naming */
#define ID_CTX 0xe3f4150cu
#define ID_EXT 0xff9b8c85u

static const plumb_operation ctx_ops[2] = {
  { .name = "rebind", .decl_iface = ID_CTX, .decl_index = 1,
    .request = &plumb__nrebind_req_descriptor, .reply = &empty_descriptor,
    .raises = raises, .n_raises = 3 },
  { .name = "unbind", .decl_iface = ID_CTX, .decl_index = 5,
    .request = &plumb__nunbind_req_descriptor, .reply = &empty_descriptor,
    .raises = raises, .n_raises = 3 },
};
const plumb_interface plumb__naming_ctx_iface = {
  PLUMB_GENERATED_ABI, TID_CTX, ID_CTX, ctx_ops, 2, NULL, 0, NULL, NULL
};

static const plumb_operation ext_ops[1] = {
  { .name = "resolve_str", .decl_iface = ID_EXT, .decl_index = 3,
    .request = &plumb__nres_req_descriptor, .reply = &res_rep_descriptor,
    .raises = raises, .n_raises = 3 },
};
const plumb_interface plumb__naming_ext_iface = {
  PLUMB_GENERATED_ABI, TID_EXT, ID_EXT, ext_ops, 1, NULL, 0, NULL, NULL
};
