/* testif.c - descriptors, interface tables, stubs and thunks of the
 * hand-written test interface (see testif.h), in plumbc's style. */
#include <stddef.h>
#include <string.h>

#include "testif.h"

#define FIELD(nm, tag, ty, st, mem)                                            \
  { nm, tag, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_##ty, 0,                  \
    offsetof(st, mem), NULL, NULL, 0, 0, NULL, NULL }

#define DESC(var, nm, st, fields, sorted, init)                                \
  const ProtobufCMessageDescriptor var = {                                     \
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test." nm, nm, "test_" nm, "test", \
    sizeof(st), sizeof(fields) / sizeof(fields[0]), fields, sorted,           \
    1, range_##st, (ProtobufCMessageInit)init, NULL, NULL, NULL }

static const ProtobufCIntRange range_test_Pair[] = { { 1, 0 }, { 0, 2 } };
static const ProtobufCIntRange range_test_Int[] = { { 1, 0 }, { 0, 1 } };
static const ProtobufCIntRange range_test_Str[] = { { 1, 0 }, { 0, 1 } };
static const ProtobufCIntRange range_test_EchoRep[] = { { 1, 0 }, { 0, 3 } };
static const ProtobufCIntRange range_test_DivByZero[] = { { 1, 0 }, { 0, 2 } };
static const ProtobufCIntRange range_test_Empty[] = { { 0, 0 } };

static const ProtobufCFieldDescriptor pair_fields[] = {
  FIELD("a", 1, INT32, test_Pair, a),
  FIELD("b", 2, INT32, test_Pair, b),
};
static const unsigned pair_sorted[] = { 0, 1 };
static const ProtobufCFieldDescriptor int_fields[] = {
  FIELD("_ret", 1, INT32, test_Int, ret),
};
static const unsigned one_sorted[] = { 0 };
static const ProtobufCFieldDescriptor str_fields[] = {
  FIELD("s", 1, STRING, test_Str, s),
};
static const ProtobufCFieldDescriptor echo_rep_fields[] = {
  FIELD("_ret", 1, STRING, test_EchoRep, ret),
  FIELD("pid", 2, INT32, test_EchoRep, pid),
  FIELD("has_creds", 3, INT32, test_EchoRep, has_creds),
};
static const unsigned echo_rep_sorted[] = { 0, 2, 1 };
static const ProtobufCFieldDescriptor dbz_fields[] = {
  FIELD("msg", 1, STRING, test_DivByZero, msg),
  FIELD("num", 2, INT32, test_DivByZero, num),
};
static const unsigned dbz_sorted[] = { 0, 1 };

static void
pair_init(test_Pair *m)
{
  memset(m, 0, sizeof(*m));
  m->base.descriptor = &test_pair_descriptor;
}
static void
int_init(test_Int *m)
{
  memset(m, 0, sizeof(*m));
  m->base.descriptor = &test_int_descriptor;
}
static void
str_init(test_Str *m)
{
  memset(m, 0, sizeof(*m));
  m->base.descriptor = &test_str_descriptor;
  m->s = (char *)protobuf_c_empty_string;
}
static void
echo_rep_init(test_EchoRep *m)
{
  memset(m, 0, sizeof(*m));
  m->base.descriptor = &test_echo_rep_descriptor;
  m->ret = (char *)protobuf_c_empty_string;
}
static void
dbz_init(test_DivByZero *m)
{
  memset(m, 0, sizeof(*m));
  m->base.descriptor = &test_div_by_zero_descriptor;
  m->msg = (char *)protobuf_c_empty_string;
}
static void
empty_init(test_Empty *m)
{
  memset(m, 0, sizeof(*m));
  m->base.descriptor = &test_empty_descriptor;
}

DESC(test_pair_descriptor, "Pair", test_Pair, pair_fields, pair_sorted,
     pair_init);
DESC(test_int_descriptor, "Int", test_Int, int_fields, one_sorted, int_init);
DESC(test_str_descriptor, "Str", test_Str, str_fields, one_sorted, str_init);
DESC(test_echo_rep_descriptor, "EchoRep", test_EchoRep, echo_rep_fields,
     echo_rep_sorted, echo_rep_init);
DESC(test_div_by_zero_descriptor, "DivByZero", test_DivByZero, dbz_fields,
     dbz_sorted, dbz_init);
const ProtobufCMessageDescriptor test_empty_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Empty", "Empty", "test_Empty",
  "test", sizeof(test_Empty), 0, NULL, NULL, 0, range_test_Empty,
  (ProtobufCMessageInit)empty_init, NULL, NULL, NULL };

const plumb_type_info test_DivByZero_type = { "IDL:test/DivByZero:1.0",
                                              &test_div_by_zero_descriptor };
static const plumb_type_info *const div_raises[] = { &test_DivByZero_type };

/* ---- thunks ---------------------------------------------------------- */

#define PAIR_THUNK(name)                                                       \
  static int thunk_##name(const void *impl, void *ctx, plumb_call *call,      \
                          const ProtobufCMessage *req, ProtobufCMessage *rep) \
  {                                                                            \
    const test_Echo_ops *ops = impl;                                           \
    const test_Pair *rq = (const test_Pair *)req;                              \
    if (ops->name == NULL)                                                     \
      return PLUMB_ENOOP;                                                      \
    return ops->name(ctx, call, rq->a, rq->b, &((test_Int *)rep)->ret);       \
  }
PAIR_THUNK(add)
PAIR_THUNK(div)
PAIR_THUNK(nap)
PAIR_THUNK(mul)

static int
thunk_echo(const void *impl, void *ctx, plumb_call *call,
           const ProtobufCMessage *req, ProtobufCMessage *rep)
{
  const test_Echo_ops *ops = impl;
  test_EchoRep *r = (test_EchoRep *)rep;
  const plumb_peer *peer = plumb_call_peer(call);
  r->pid = (int32_t)peer->pid;
  r->has_creds = peer->has_creds;
  if (ops->echo == NULL)
    return PLUMB_ENOOP; /* like generated thunks: a NULL handler */
  return ops->echo(ctx, call, ((const test_Str *)req)->s, &r->ret);
}

static int
thunk_note(const void *impl, void *ctx, plumb_call *call,
           const ProtobufCMessage *req, ProtobufCMessage *rep)
{
  (void)rep;
  const test_Pair *rq = (const test_Pair *)req;
  if (((const test_Echo_ops *)impl)->note == NULL)
    return PLUMB_ENOOP;
  return ((const test_Echo_ops *)impl)->note(ctx, call, rq->a, rq->b);
}

static int
thunk_count(const void *impl, void *ctx, plumb_call *call,
            const ProtobufCMessage *req, ProtobufCMessage *rep)
{
  (void)req;
  if (((const test_Echo_ops *)impl)->count == NULL)
    return PLUMB_ENOOP;
  return ((const test_Echo_ops *)impl)->count(ctx, call,
                                              &((test_Int *)rep)->ret);
}

#define TEST_OP(NAME, FLAGS, IFACE, INDEX, RQ, RP, RAISES, NR, THUNK)          \
  { .name = NAME, .flags = FLAGS, .decl_iface = IFACE, .decl_index = INDEX,   \
    .request = RQ, .reply = RP, .raises = RAISES, .n_raises = NR,              \
    .thunk = THUNK }
#define ECHO_OPS(IFACE)                                                        \
  TEST_OP("add", 0, IFACE, 0, &test_pair_descriptor, &test_int_descriptor,    \
          NULL, 0, thunk_add),                                                 \
  TEST_OP("div", 0, IFACE, 1, &test_pair_descriptor, &test_int_descriptor,    \
          div_raises, 1, thunk_div),                                           \
  TEST_OP("echo", 0, IFACE, 2, &test_str_descriptor,                          \
          &test_echo_rep_descriptor, NULL, 0, thunk_echo),                     \
  TEST_OP("note", PLUMB_OP_ONEWAY, IFACE, 3, &test_pair_descriptor, NULL,     \
          NULL, 0, thunk_note),                                                \
  TEST_OP("count", 0, IFACE, 4, &test_empty_descriptor, &test_int_descriptor, \
          NULL, 0, thunk_count),                                               \
  TEST_OP("nap", 0, IFACE, 5, &test_pair_descriptor, &test_int_descriptor,    \
          NULL, 0, thunk_nap)

static const plumb_operation echo_ops[] = { ECHO_OPS(TEST_ECHO_ID) };
const plumb_interface test_Echo_interface = {
  PLUMB_GENERATED_ABI, "IDL:test/Echo:1.0", TEST_ECHO_ID, echo_ops, 6, NULL, 0,
  NULL, NULL
};

/* Like generated tables, Derived lists only its own operation; Echo's are
 * found through bases[] (test_Echo_ops is shared, so the offset is 0). */
static const plumb_operation derived_ops[] = {
  TEST_OP("mul", 0, TEST_DERIVED_ID, 0, &test_pair_descriptor,
          &test_int_descriptor, NULL, 0, thunk_mul),
};
static const plumb_interface *const derived_bases[] = { &test_Echo_interface };
static const size_t derived_base_offsets[] = { 0 };
const plumb_interface test_Derived_interface = {
  PLUMB_GENERATED_ABI, "IDL:test/Derived:1.0", TEST_DERIVED_ID, derived_ops, 1,
  derived_bases, 1, derived_base_offsets, NULL
};

/* ---- stubs ---------------------------------------------------------- */

int
test_call_pair(plumb_client *c, const plumb_interface *iface, uint32_t op,
               int32_t a, int32_t b, int32_t *ret)
{
  test_Pair rq;
  ProtobufCMessage *rep;
  pair_init(&rq);
  rq.a = a;
  rq.b = b;
  int st = plumb_invoke(c, iface, op, &rq.base, &rep, NULL);
  if (st == PLUMB_OK && ret && rep)
    *ret = ((test_Int *)rep)->ret;
  return st;
}

int
test_Echo_add(plumb_client *c, int32_t a, int32_t b, int32_t *ret)
{
  return test_call_pair(c, &test_Echo_interface, TEST_ADD, a, b, ret);
}

int
test_Echo_div(plumb_client *c, int32_t a, int32_t b, int32_t *ret,
              plumb_arena *arena)
{
  test_Pair rq;
  ProtobufCMessage *rep;
  pair_init(&rq);
  rq.a = a;
  rq.b = b;
  int st = plumb_invoke(c, &test_Echo_interface, TEST_DIV, &rq.base, &rep,
                        arena);
  if (st == PLUMB_OK)
    *ret = ((test_Int *)rep)->ret;
  return st;
}

int
test_Echo_echo(plumb_client *c, const char *s, char **ret, int32_t *pid,
               plumb_arena *arena)
{
  test_Str rq;
  ProtobufCMessage *rep;
  str_init(&rq);
  rq.s = (char *)s;
  int st = plumb_invoke(c, &test_Echo_interface, TEST_ECHO, &rq.base, &rep,
                        arena);
  if (st == PLUMB_OK) {
    *ret = ((test_EchoRep *)rep)->ret;
    if (pid)
      *pid = ((test_EchoRep *)rep)->has_creds ? ((test_EchoRep *)rep)->pid
                                              : -1;
  }
  return st;
}

int
test_Echo_note(plumb_client *c, int32_t a, int32_t b)
{
  test_Pair rq;
  pair_init(&rq);
  rq.a = a;
  rq.b = b;
  return plumb_invoke(c, &test_Echo_interface, TEST_NOTE, &rq.base, NULL,
                      NULL);
}

int
test_Echo_count(plumb_client *c, int32_t *ret)
{
  test_Empty rq;
  ProtobufCMessage *rep;
  empty_init(&rq);
  int st = plumb_invoke(c, &test_Echo_interface, TEST_COUNT, &rq.base, &rep,
                        NULL);
  if (st == PLUMB_OK)
    *ret = ((test_Int *)rep)->ret;
  return st;
}

int
test_Echo_nap(plumb_client *c, int32_t ms, int32_t b, int32_t *ret)
{
  return test_call_pair(c, &test_Echo_interface, TEST_NAP, ms, b, ret);
}

int
test_Derived_mul(plumb_client *c, int32_t a, int32_t b, int32_t *ret)
{
  return test_call_pair(c, &test_Derived_interface, 0, a, b, ret);
}
