/* builtin_ops.c - the operations every object answers, whatever its
 * interface (docs/PROTOCOL.md 2.8): _is_a(type_id), _interface and
 * _non_existent, on the reserved interface IDL:omg.org/CORBA/Object:1.0;
 * the server's thunks and the client calls plumb_client_is_a & co.
 * Written in plumbc's generated style, so the dispatch runs them like any
 * other operation.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "builtin_ops.h"
#include "call.h"
#include "plumb/objref.h"
#include "server_int.h"

/* The layouts of wellknown.c's plumb.String and plumb.Boolean. */
typedef struct {
  ProtobufCMessage base;
  char *value;
} bi_string;
typedef struct {
  ProtobufCMessage base;
  protobuf_c_boolean value;
} bi_bool;
typedef struct {
  ProtobufCMessage base;
} bi_empty;

static const ProtobufCIntRange empty_ranges[1] = { { 0, 0 } };
static const ProtobufCMessageDescriptor empty_descriptor;

static void
empty_init(ProtobufCMessage *m)
{
  memset(m, 0, sizeof(bi_empty));
  m->descriptor = &empty_descriptor;
}

static const ProtobufCMessageDescriptor empty_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "plumb.Empty", "Empty",
  "plumb_empty", "plumb", sizeof(bi_empty), 0, NULL, NULL, 0, empty_ranges,
  empty_init, NULL, NULL, NULL
};

int
plumb__iface_is_a(const plumb_interface *iface, const char *type_id)
{
  /* Depth-first over the bases with an explicit, bounded stack. */
  const plumb_interface *stack[64];
  size_t n = 0, visited = 0;
  if (strcmp(type_id, PLUMB__OBJECT_TYPE_ID) == 0)
    return 1;
  stack[n++] = iface;
  while (n > 0 && visited++ < 1024) {
    const plumb_interface *i = stack[--n];
    if (strcmp(i->type_id, type_id) == 0)
      return 1;
    for (size_t k = 0; k < i->n_bases && n < 64; k++)
      stack[n++] = i->bases[k];
  }
  return 0;
}

static int
thunk_is_a(const void *impl, void *ctx, plumb_call *call,
           const ProtobufCMessage *req, ProtobufCMessage *rep)
{
  (void)impl;
  (void)ctx;
  const bi_string *q = (const bi_string *)req;
  ((bi_bool *)rep)->value =
      plumb__iface_is_a(call->obj->iface, q->value ? q->value : "");
  return PLUMB_OK;
}

static int
thunk_interface(const void *impl, void *ctx, plumb_call *call,
                const ProtobufCMessage *req, ProtobufCMessage *rep)
{
  (void)impl;
  (void)ctx;
  (void)req;
  ((bi_string *)rep)->value = (char *)call->obj->iface->type_id;
  return PLUMB_OK;
}

/* Reached only for an object that exists: the dispatch answers `true`
 * itself when there is none. */
static int
thunk_non_existent(const void *impl, void *ctx, plumb_call *call,
                   const ProtobufCMessage *req, ProtobufCMessage *rep)
{
  (void)impl;
  (void)ctx;
  (void)call;
  (void)req;
  ((bi_bool *)rep)->value = 0;
  return PLUMB_OK;
}

static const plumb_operation object_ops[3] = {
  { .name = "_is_a", .decl_iface = PLUMB__OBJECT_IFACE_ID,
    .decl_index = PLUMB__OP_IS_A, .thunk = thunk_is_a },
  { .name = "_interface", .decl_iface = PLUMB__OBJECT_IFACE_ID,
    .decl_index = PLUMB__OP_INTERFACE, .request = &empty_descriptor,
    .thunk = thunk_interface },
  { .name = "_non_existent", .decl_iface = PLUMB__OBJECT_IFACE_ID,
    .decl_index = PLUMB__OP_NON_EXISTENT, .request = &empty_descriptor,
    .thunk = thunk_non_existent },
};

/* request/reply descriptors are wellknown.c's: filled in on first use
 * (a static initializer cannot take them from another file's struct). */
static plumb_operation object_ops_full[3];
static pthread_once_t ops_once = PTHREAD_ONCE_INIT;

static void
ops_fill(void)
{
  memcpy(object_ops_full, object_ops, sizeof object_ops);
  object_ops_full[0].request = plumb_string_type.descriptor;
  object_ops_full[0].reply = plumb_boolean_type.descriptor;
  object_ops_full[1].reply = plumb_string_type.descriptor;
  object_ops_full[2].reply = plumb_boolean_type.descriptor;
}

const plumb_interface plumb__object_interface = {
  PLUMB_GENERATED_ABI, PLUMB__OBJECT_TYPE_ID, PLUMB__OBJECT_IFACE_ID,
  object_ops_full, 3, NULL, 0, NULL, NULL
};

const plumb_operation *
plumb__builtin_op(uint32_t index)
{
  pthread_once(&ops_once, ops_fill);
  return index < 3 ? &object_ops_full[index] : NULL;
}

/* ---- client side ---------------------------------------------------- */

int
plumb_client_is_a(plumb_client *c, const char *type_id, int *yes)
{
  bi_string q;
  ProtobufCMessage *rep;
  int st;

  if (c == NULL || type_id == NULL || yes == NULL)
    return PLUMB_EINVAL;
  pthread_once(&ops_once, ops_fill);
  plumb_string_type.descriptor->message_init(&q.base);
  q.value = (char *)type_id;
  if ((st = plumb_invoke(c, &plumb__object_interface, PLUMB__OP_IS_A,
                         &q.base, &rep, NULL)) != PLUMB_OK)
    return st;
  *yes = ((bi_bool *)rep)->value != 0;
  return PLUMB_OK;
}

int
plumb_client_non_existent(plumb_client *c, int *gone)
{
  bi_empty q;
  ProtobufCMessage *rep;
  int st;

  if (c == NULL || gone == NULL)
    return PLUMB_EINVAL;
  pthread_once(&ops_once, ops_fill);
  empty_init(&q.base);
  if ((st = plumb_invoke(c, &plumb__object_interface,
                         PLUMB__OP_NON_EXISTENT, &q.base, &rep, NULL)) !=
      PLUMB_OK)
    return st;
  *gone = ((bi_bool *)rep)->value != 0;
  return PLUMB_OK;
}

int
plumb_client_interface(plumb_client *c, char **type_id, plumb_arena *arena)
{
  bi_empty q;
  ProtobufCMessage *rep;
  int st;

  if (c == NULL || type_id == NULL || arena == NULL)
    return PLUMB_EINVAL;
  pthread_once(&ops_once, ops_fill);
  empty_init(&q.base);
  if ((st = plumb_invoke(c, &plumb__object_interface, PLUMB__OP_INTERFACE,
                         &q.base, &rep, arena)) != PLUMB_OK)
    return st;
  *type_id = ((bi_string *)rep)->value;
  return PLUMB_OK;
}
