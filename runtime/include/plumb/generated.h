/* plumb/generated.h - the contract between plumbc's generated code and libplumb.
 *
 * Generated headers include this file.  User code rarely needs anything here
 * directly except the well-known types plumb_any and plumb_objref.  Nothing in
 * this header knows about transports.
 *
 * Shape of what plumbc emits for interface calc::Calculator:
 *   - one protobuf-c request message and one reply message per operation
 *     (in + inout -> request; return "_ret" + out + inout -> reply);
 *   - `const plumb_interface calc_Calculator_interface`, whose ops[] table
 *     lists only the operations the interface itself declares; inherited
 *     ones are reached through bases[] (the base interfaces' own tables);
 *   - client stubs of the declared operations (static inline in the
 *     header): one call of plumb_stub_call()
 *     with the operation's signature table (plumb_op_sig, below), which
 *     fills the request and calls plumb_invoke() (an inherited operation is
 *     called with its declaring interface's stub, on any handle);
 *   - a `calc_Calculator_ops` struct that the server fills in: one member
 *     per direct base (that base's ops struct, named after the base's C
 *     name), then one handler pointer per declared operation; no thunk
 *     function: each ops[] entry names its signature table, the `caller`
 *     of its handler type and the handler's offset in the ops struct, and
 *     the server runs it with plumb_operation_run() -> plumb_thunk_run(),
 *     which unpacks the request fields, calls the handler and fills the
 *     reply.
 * Nothing is re-emitted per inheriting interface, so generated code grows
 * linearly with the IDL however deep the inheritance.
 */
#ifndef PLUMB_GENERATED_H
#define PLUMB_GENERATED_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "plumb/export.h"
#include "plumb/status.h"
#include "plumb/arena.h"
#include "plumb/client.h"
#include "plumb/server.h"
#include "plumb/async.h"
#include "plumb/call.h" /* deferred replies, deadlines, cancel */

#ifdef __cplusplus
extern "C" {
#endif

/* Generated files check this: bump it whenever the contract changes. */
#define PLUMB_GENERATED_ABI 3

/* A named, protobuf-encoded type: every IDL struct, union and exception has
 * one (`calc_DivByZero_type`).  type_id is the IDL repository id,
 * e.g. "IDL:calc/DivByZero:1.0". */
typedef struct plumb_type_info {
  const char *type_id;
  const ProtobufCMessageDescriptor *descriptor;
} plumb_type_info;

/* Server thunk: request `req` has been unpacked and `rep` initialised (both in
 * the call's arena).  The thunk calls the user's handler from `impl` (the
 * generated ops struct) with `ctx`, and fills rep.  Returns PLUMB_OK,
 * PLUMB_EEXCEPTION after plumb_call_raise(), or another status, which the
 * client receives as PLUMB_ESERVER. */
typedef int (*plumb_thunk)(const void *impl, void *ctx, plumb_call *call,
                           const ProtobufCMessage *req, ProtobufCMessage *rep);

enum { PLUMB_OP_ONEWAY = 1u };

struct plumb_op_sig;
/* A handler, as a generic function pointer (cast back by the caller). */
typedef void (*plumb_fn)(void);
/* Calls handler fn with args[i] pointing at each argument as
 * plumb_stub_call's args do (generated, one per distinct handler type). */
typedef int (*plumb_op_caller)(plumb_fn fn, void *ctx, plumb_call *call,
                               void *const *args);
/* How the server runs an operation: hand-written tables (libplumb's own
 * objects, tests) give a `thunk`; generated ones give no thunk but the
 * operation's signature table, the caller of its handler type and where
 * the handler sits in the ops struct, and the runtime runs
 * plumb_thunk_run(sig, handler, caller, ...) itself - no function per
 * operation.  Initialise with designated initialisers (.name = ...): new
 * members may be added. */
typedef struct plumb_operation {
  const char *name;      /* IDL name; attributes are "_get_x" / "_set_x" */
  unsigned flags;        /* PLUMB_OP_* */
  uint32_t decl_iface;   /* id of the interface that declares the op */
  uint32_t decl_index;   /* index of the op in its declaring interface */
  const ProtobufCMessageDescriptor *request;
  const ProtobufCMessageDescriptor *reply; /* NULL for oneway */
  const plumb_type_info *const *raises;    /* exceptions it may raise */
  size_t n_raises;
  plumb_thunk thunk;     /* NULL: run through sig / caller / handler_off */
  const struct plumb_op_sig *sig; /* generated: the signature table */
  plumb_op_caller caller;         /* generated: calls the handler */
  size_t handler_off; /* generated: offset of the handler pointer in the
                         declaring interface's ops struct */
} plumb_operation;

typedef struct plumb_interface {
  uint32_t abi;        /* PLUMB_GENERATED_ABI */
  const char *type_id; /* "IDL:calc/Calculator:1.0" */
  uint32_t id;         /* plumb_type_hash(type_id), carried in frames */
  const plumb_operation *ops; /* the operations declared here, in order */
  size_t n_ops;
  const struct plumb_interface *const *bases; /* direct bases, in order */
  size_t n_bases;
  /* base_offsets[i]: offset of bases[i]'s ops struct inside this
   * interface's ops struct (the impl pointer a base's thunk receives) */
  const size_t *base_offsets;
  /* The interface as self-contained IDL (itself, its bases, every type it
   * uses), in NULL-terminated chunks to concatenate; what the server's
   * introspection object hands out (docs/TOOLS.md).  NULL = none. */
  const char *const *idl;
} plumb_interface;

/* Finds the operation (decl_iface, decl_index) that iface offers, its own or
 * inherited: bases are walked depth first, in declaration order, without
 * recursion and within a bound of visited interfaces.  *impl is iface's ops
 * struct on entry and the declaring interface's embedded ops struct on
 * return.  NULL if iface offers no such operation. */
PLUMB_API const plumb_operation *
plumb_interface_find_op(const plumb_interface *iface, uint32_t decl_iface,
                        uint32_t decl_index, const void **impl);

/* 32-bit FNV-1a of a type id; plumbc computes the same value at compile time. */
PLUMB_API uint32_t plumb_type_hash(const char *type_id);

/* ---- validation (runtime/core/validate.c) --------------------------------
 * Every generated message has a check table `M__check`: one plumb_field_check
 * per field, in the order of its descriptor's fields[] (by field number),
 * saying what IDL adds to the protobuf type - narrow integer ranges, string /
 * sequence bounds, array lengths, nested checks, union branch selection.
 * One runtime function, plumb_validate(), interprets the tables: it checks
 * every string and wstring for valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), every enum value against its descriptor, and
 * never descends more than max_depth message levels (the message itself is
 * level 1): deeper is a failure, not a stack overflow. */

/* Nesting limit of decoded values when nothing else is configured: the
 * validators' default and the runtime decode pre-scan's. */
#define PLUMB_DEFAULT_MAX_DEPTH 64

enum plumb_check_kind {
  PLUMB_CK_NONE,    /* nothing beyond the protobuf type */
  PLUMB_CK_CHAR,    /* int32 in -128..255 */
  PLUMB_CK_INT8,    /* int32 in -128..127 */
  PLUMB_CK_SHORT,   /* int32 in -32768..32767 */
  PLUMB_CK_OCTET,   /* uint32 <= 255 (octet, uint8) */
  PLUMB_CK_USHORT,  /* uint32 <= 65535 */
  PLUMB_CK_WCHAR,   /* uint32 Unicode scalar value */
  PLUMB_CK_ENUM,    /* a value of the field's enum descriptor */
  PLUMB_CK_STRING,  /* UTF-8, at most `bound` bytes (0 = unbounded) */
  PLUMB_CK_WSTRING, /* UTF-8, at most `bound` code points */
  PLUMB_CK_BYTES,   /* at most `bound` bytes */
  PLUMB_CK_MSG      /* nested message checked with `msg` */
};
enum { PLUMB_CK_SINGLE, PLUMB_CK_SEQ, PLUMB_CK_ARRAY };

typedef struct plumb_field_check {
  uint8_t kind;      /* plumb_check_kind of each element */
  uint8_t rep;       /* PLUMB_CK_SINGLE / SEQ / ARRAY */
  uint64_t bound;    /* STRING/WSTRING/BYTES bound, 0 = none */
  uint64_t count;    /* SEQ: bound (0 = none); ARRAY: exact length */
  const struct plumb_msg_check *msg; /* MSG: check of the element type */
} plumb_field_check;

/* One union case label: discriminator value (as 64 bits, sign-extended for
 * signed discriminators) -> index of the branch in descriptor->fields. */
typedef struct plumb_union_label {
  uint64_t value;
  uint32_t field;
} plumb_union_label;

typedef struct plumb_msg_check {
  const ProtobufCMessageDescriptor *descriptor;
  const plumb_field_check *fields; /* parallel to descriptor->fields */
  /* unions only (fields[0] is the discriminator `_d`): */
  int is_union;
  const plumb_union_label *labels;
  size_t n_labels;
  int32_t default_field; /* branch of `default:`, -1 = none */
} plumb_msg_check;

PLUMB_API extern const plumb_msg_check plumb_any_check;
PLUMB_API extern const plumb_msg_check plumb_objref_check;

/* Checks m (of check->descriptor's type, or NULL = nothing to check)
 * against check, at most max_depth levels deep (0 = PLUMB_DEFAULT_MAX_DEPTH).
 * PLUMB_OK, or PLUMB_EBADBODY with a text naming the field, e.g.
 * "field 'entries[3].key': string longer than its bound 256", in why (if
 * not NULL). */
PLUMB_API int plumb_validate(const plumb_msg_check *check,
                             const ProtobufCMessage *m, unsigned max_depth,
                             char *why, size_t why_len);
/* Thunks: validates the request (is_reply 0: PLUMB_EBADBODY) or the
 * handler's reply (is_reply 1: PLUMB_ESERVER), with the call's depth limit;
 * on failure ends the call with plumb_call_fail() naming the field. */
PLUMB_API int plumb_call_check(plumb_call *call, const plumb_msg_check *check,
                               const ProtobufCMessage *m, int is_reply);
/* Stubs: validates the caller's request (is_reply 0: PLUMB_EINVAL) or a
 * reply (is_reply 1: PLUMB_EBADBODY); on failure the field is named in
 * plumb_client_last_error(c). */
PLUMB_API int plumb_client_check(plumb_client *c, const char *op,
                                 const plumb_msg_check *check,
                                 const ProtobufCMessage *m, int is_reply);
/* Sets the client's last error text and returns status. */
PLUMB_API int plumb_client_fail(plumb_client *c, int status, const char *fmt,
                                ...) __attribute__((format(printf, 3, 4)));

/* Client side: sends iface->ops[op] with request req and waits for the reply
 * (not for oneway ops).  On PLUMB_OK *rep points to the unpacked reply,
 * allocated in arena, or - if arena is NULL - in a per-thread scratch arena
 * that stays valid until this thread's next call with a NULL arena.  On
 * PLUMB_EEXCEPTION the exception is stored in arena (plumb_arena_exception). */
PLUMB_API int plumb_invoke(plumb_client *c, const plumb_interface *iface,
                           uint32_t op, const ProtobufCMessage *req,
                           ProtobufCMessage **rep, plumb_arena *arena);

struct plumb_deferred;
/* ---- table-driven stubs and thunks (runtime/core/stub.c, thunk.c) ------
 * A stub or thunk body is data: one plumb_op_param per parameter (in IDL
 * order, then the result), saying how the C argument maps to its request /
 * reply field.  plumbc emits one plumb_op_sig per distinct signature of a
 * file (operations with identical request, reply and parameter kinds share
 * it); a stub is one call of plumb_stub_call(); the server side is
 * plumb_thunk_run() with a `caller` shared by every operation with the same
 * C handler type, run from the operation's table entry. */
enum plumb_op_kind {
  PLUMB_OPK_BOOL,   /* bool        <-> protobuf_c_boolean */
  PLUMB_OPK_CHAR,   /* char        <-> int32 */
  PLUMB_OPK_INT8,   /* int8_t      <-> int32 */
  PLUMB_OPK_UINT8,  /* uint8_t     <-> uint32 (octet, uint8) */
  PLUMB_OPK_INT16,  /* int16_t     <-> int32 */
  PLUMB_OPK_UINT16, /* uint16_t    <-> uint32 */
  PLUMB_OPK_32,     /* 4 bytes as they are: (u)int32, wchar, enum, float */
  PLUMB_OPK_64,     /* 8 bytes as they are: (u)int64, double */
  PLUMB_OPK_STRING, /* char *      <-> char * ("" for a missing in) */
  PLUMB_OPK_MSG,    /* T (by pointer) <-> T * (struct, union, any, objref) */
  PLUMB_OPK_SEQ,    /* { _length, _buffer } <-> n_x, x */
  PLUMB_OPK_BYTES   /* { _length, _buffer } <-> ProtobufCBinaryData */
};
enum { PLUMB_OPD_IN = 1u, PLUMB_OPD_OUT = 2u, PLUMB_OPD_INOUT = 3u };

typedef struct plumb_op_param {
  uint8_t kind;           /* plumb_op_kind */
  uint8_t dir;            /* PLUMB_OPD_*: the result is OUT */
  uint32_t req_off;       /* offset of the field in the request (in) */
  uint32_t rep_off;       /* ... in the reply (out) */
  uint32_t req_n_off;     /* SEQ: offset of n_x in the request */
  uint32_t rep_n_off;     /* SEQ: offset of n_x in the reply */
  const ProtobufCMessageDescriptor *msg; /* MSG: the value's type */
} plumb_op_param;

enum { PLUMB_OPS_ONEWAY = 1u, PLUMB_OPS_ARENA = 2u /* out values point */ };

typedef struct plumb_op_sig {
  const ProtobufCMessageDescriptor *request;
  const ProtobufCMessageDescriptor *reply; /* NULL for oneway */
  const plumb_msg_check *req_check, *rep_check;
  const plumb_op_param *params; /* parameters, then the result */
  uint16_t n_params;
  uint16_t flags;              /* PLUMB_OPS_* */
} plumb_op_sig;

/* Client stub body: args[i] points at the i-th C argument's value (for
 * in-values passed by value or as strings, the argument variable; for the
 * others, the pointer the caller passed).  Checks the out pointers (and the
 * arena if out values point into it), fills the request, validates it,
 * calls iface->ops[op] and copies the validated reply out. */
PLUMB_API int plumb_stub_call(plumb_client *c, const plumb_interface *iface,
                              uint32_t op, const plumb_op_sig *sig,
                              void *const *args, plumb_arena *arena);

/* The asynchronous stubs' bodies: _begin fills, checks and sends the
 * request (args as plumb_stub_call's; only in-values are read); _finish
 * checks the out pointers (releasing pending on failure), waits, and
 * copies the checked reply out (only out-values are written).  _finish
 * may pass iface NULL (op is then ignored): errors name the operation the
 * pending call was sent for. */
PLUMB_API int plumb_stub_begin(plumb_client *c, const plumb_interface *iface,
                               uint32_t op, const plumb_op_sig *sig,
                               void *const *args, plumb_pending **pending);
PLUMB_API int plumb_stub_finish(plumb_pending *pending,
                                const plumb_interface *iface, uint32_t op,
                                const plumb_op_sig *sig, void *const *args,
                                plumb_arena *arena);

/* Server thunk body: checks and unpacks req into arguments, calls
 * caller(fn, ...), stores the results into rep and validates it. */
PLUMB_API int plumb_thunk_run(const plumb_op_sig *sig, plumb_fn fn,
                              plumb_op_caller caller, void *ctx,
                              plumb_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage *rep);
/* Runs operation op of a request on impl (the declaring interface's ops
 * struct): op->thunk if it has one, else plumb_thunk_run() with op->sig,
 * op->caller and the handler read from impl at op->handler_off
 * (PLUMB_ENOOP if that is NULL).  What the server calls for every
 * request. */
PLUMB_API int plumb_operation_run(const plumb_operation *op, const void *impl,
                                  void *ctx, plumb_call *call,
                                  const ProtobufCMessage *req,
                                  ProtobufCMessage *rep);
/* Deferred-reply helper body (I_op_reply): stores the out-values args
 * (pointers as plumb_stub_call's; in-parameters NULL) into d's reply,
 * checks it and completes d. */
PLUMB_API int plumb_deferred_reply_args(struct plumb_deferred *d,
                                        const plumb_op_sig *sig,
                                        void *const *args);

/* Server side: records exception `value` of type `type` as the outcome of the
 * call and returns PLUMB_EEXCEPTION, so a handler can `return plumb_call_raise(...)`.
 * The value is packed at once; it need not outlive the call. */
PLUMB_API int plumb_call_raise(plumb_call *call, const plumb_type_info *type,
                               const void *value);

/* The arena as a protobuf-c allocator (for unpacking into an arena). */
PLUMB_API ProtobufCAllocator *plumb_arena_allocator(plumb_arena *a);
/* The call's arena (what plumb_call_alloc draws from). */
PLUMB_API plumb_arena *plumb_call_arena(plumb_call *call);

/* ---- well-known types, defined in libplumb ---------------------------- */

/* IDL `any`: a self-describing value, wire-compatible with
 * google.protobuf.Any (type_url = 1, value = 2).  type_url is
 * "type.plumb/" + the IDL repository id of the packed type. */
typedef struct plumb_any {
  ProtobufCMessage base;
  char *type_url;
  ProtobufCBinaryData value;
} plumb_any;
PLUMB_API extern const ProtobufCMessageDescriptor plumb_any_descriptor;
#define PLUMB_ANY_INIT                                                         \
  { PROTOBUF_C_MESSAGE_INIT(&plumb_any_descriptor), (char *)"", { 0, NULL } }

/* Packs msg (of type `type`) into any; the bytes live in arena. */
PLUMB_API int plumb_any_pack(plumb_any *any, const plumb_type_info *type,
                             const void *msg, plumb_arena *arena);
/* Unpacks any into *msg (allocated in arena) if it holds `type`;
 * PLUMB_EINTERFACE if it holds another type, PLUMB_EBADBODY if corrupt. */
PLUMB_API int plumb_any_unpack(const plumb_any *any,
                               const plumb_type_info *type, void **msg,
                               plumb_arena *arena);
/* plumb_any_unpack, then plumb_validate against check: what a generated
 * T_from_any does.  PLUMB_EBADBODY if the value is not valid (*msg is
 * then left alone). */
PLUMB_API int plumb_any_unpack_checked(const plumb_any *any,
                                       const plumb_type_info *type,
                                       const plumb_msg_check *check,
                                       void **msg, plumb_arena *arena);

/* IDL object reference (an interface name or `Object` used as a type):
 * enough to reach the object - plumb_client_open_ref(), plumb/objref.h.
 * A reference plumb_server_ref() made lists every endpoint of its server
 * in endpoints[] (endpoint = the first, for plumb_client_open(endpoint,
 * object)) and the host / IPC namespace identity it was made in. */
typedef struct plumb_objref {
  ProtobufCMessage base;
  char *endpoint; /* "tcp://127.0.0.1:9000" */
  char *object;   /* object name on that server */
  char *type_id;  /* "IDL:calc/Calculator:1.0"; "" = unknown/Object */
  size_t n_endpoints;
  char **endpoints; /* every endpoint, in the server's order */
  char *host;       /* plumb_host_identity() of the server; "" = unknown */
} plumb_objref;
PLUMB_API extern const ProtobufCMessageDescriptor plumb_objref_descriptor;
#define PLUMB_OBJREF_INIT                                                      \
  { PROTOBUF_C_MESSAGE_INIT(&plumb_objref_descriptor), (char *)"",            \
    (char *)"", (char *)"", 0, NULL, (char *)"" }


/* ---- any helpers for basic IDL types (runtime/core/wellknown.c) ---------
 * Basic values travel in an any as one-field wrapper messages (field
 * `value` = 1): plumb.Boolean, plumb.Long (also char, short, int8/16),
 * plumb.ULong (octet, wchar, unsigned short, uint8/16), plumb.LongLong,
 * plumb.ULongLong, plumb.Float, plumb.Double, plumb.String (string and
 * wstring).  get_* return PLUMB_EINTERFACE if the any holds another type.
 * Structs, unions and exceptions have generated M_S_to_any/M_S_from_any. */
PLUMB_API extern const plumb_type_info plumb_boolean_type;
PLUMB_API extern const plumb_type_info plumb_long_type;
PLUMB_API extern const plumb_type_info plumb_ulong_type;
PLUMB_API extern const plumb_type_info plumb_longlong_type;
PLUMB_API extern const plumb_type_info plumb_ulonglong_type;
PLUMB_API extern const plumb_type_info plumb_float_type;
PLUMB_API extern const plumb_type_info plumb_double_type;
PLUMB_API extern const plumb_type_info plumb_string_type;
/* 1 if any holds a value of `type`, else 0. */
PLUMB_API int plumb_any_is(const plumb_any *any, const plumb_type_info *type);
PLUMB_API int plumb_any_put_boolean(plumb_any *a, int v, plumb_arena *arena);
PLUMB_API int plumb_any_put_long(plumb_any *a, int32_t v, plumb_arena *arena);
PLUMB_API int plumb_any_put_ulong(plumb_any *a, uint32_t v, plumb_arena *arena);
PLUMB_API int plumb_any_put_longlong(plumb_any *a, int64_t v,
                                     plumb_arena *arena);
PLUMB_API int plumb_any_put_ulonglong(plumb_any *a, uint64_t v,
                                      plumb_arena *arena);
PLUMB_API int plumb_any_put_float(plumb_any *a, float v, plumb_arena *arena);
PLUMB_API int plumb_any_put_double(plumb_any *a, double v, plumb_arena *arena);
PLUMB_API int plumb_any_put_string(plumb_any *a, const char *v,
                                   plumb_arena *arena);
PLUMB_API int plumb_any_get_boolean(const plumb_any *a, int *v);
PLUMB_API int plumb_any_get_long(const plumb_any *a, int32_t *v);
PLUMB_API int plumb_any_get_ulong(const plumb_any *a, uint32_t *v);
PLUMB_API int plumb_any_get_longlong(const plumb_any *a, int64_t *v);
PLUMB_API int plumb_any_get_ulonglong(const plumb_any *a, uint64_t *v);
PLUMB_API int plumb_any_get_float(const plumb_any *a, float *v);
PLUMB_API int plumb_any_get_double(const plumb_any *a, double *v);
/* The string lives in arena. */
PLUMB_API int plumb_any_get_string(const plumb_any *a, char **v,
                                   plumb_arena *arena);

#ifdef __cplusplus
}
#endif
#endif
