/* thunk.c - plumb_thunk_run(): the one server-side body of every generated
 * operation, and plumb_operation_run(), which the server calls per request.
 *
 * A generated operation has no thunk function: its plumb_operation entry
 * names its plumb_op_sig (plumb/generated.h), where its handler sits in the
 * ops struct and a `caller` - the only generated code that knows the
 * handler's C type, shared by every operation with that type.  Here the request is checked, unpacked into
 * arguments (in-values converted to their C types, out-values initialised,
 * inout ones copied from the request), the handler called, and what it
 * returned stored into the reply and checked - what the per-operation C
 * bodies used to do.  plumb_deferred_reply_args() is the body of the
 * generated deferred-reply helpers (I_op_reply): the same stores, from the
 * values the helper was given.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "plumb/call.h"
#include "plumb/generated.h"

/* Arguments of up to this many parameters live on the stack; more are
 * drawn from the call's arena. */
#define THUNK_STACK_ARGS 16

typedef struct thunk_seq {
  size_t _length;
  void *_buffer;
} thunk_seq;

typedef union thunk_slot {
  bool b;
  char c;
  int8_t i8;
  uint8_t u8;
  int16_t i16;
  uint16_t u16;
  unsigned char w[8];
  char *s;
  thunk_seq seq;
} thunk_slot;

#define FLD(m, off) ((const unsigned char *)(m) + (off))

/* Fills slot v (and *arg) with parameter p's value from the request (in)
 * or its initial value (out); PLUMB_OK or PLUMB_ENOMEM. */
static int
unpack(const plumb_op_param *p, plumb_call *call, const ProtobufCMessage *req,
       thunk_slot *v, void **arg)
{
  bool in = (p->dir & PLUMB_OPD_IN) != 0;
  const unsigned char *f = in ? FLD(req, p->req_off) : NULL;
  memset(v, 0, sizeof *v);
  *arg = v;
  if (p->kind == PLUMB_OPK_MSG) {
    const void *m = in ? *(const void *const *)(const void *)f : NULL;
    void *o;
    if (m != NULL && p->dir == PLUMB_OPD_IN) {
      *arg = (void *)m;
      return PLUMB_OK;
    }
    /* a missing in-value is the type's initial value, as an out one */
    if ((o = plumb_call_alloc(call, p->msg->sizeof_message)) == NULL)
      return PLUMB_ENOMEM;
    if (m != NULL)
      memcpy(o, m, p->msg->sizeof_message);
    else
      p->msg->message_init(o);
    *arg = o;
    return PLUMB_OK;
  }
  if (!in)
    return PLUMB_OK;
  switch (p->kind) {
  case PLUMB_OPK_BOOL:
    v->b = *(const protobuf_c_boolean *)(const void *)f != 0;
    break;
  case PLUMB_OPK_CHAR: v->c = (char)*(const int32_t *)(const void *)f; break;
  case PLUMB_OPK_INT8: v->i8 = (int8_t)*(const int32_t *)(const void *)f;
    break;
  case PLUMB_OPK_UINT8: v->u8 = (uint8_t)*(const uint32_t *)(const void *)f;
    break;
  case PLUMB_OPK_INT16: v->i16 = (int16_t)*(const int32_t *)(const void *)f;
    break;
  case PLUMB_OPK_UINT16:
    v->u16 = (uint16_t)*(const uint32_t *)(const void *)f;
    break;
  case PLUMB_OPK_32: memcpy(v->w, f, 4); break;
  case PLUMB_OPK_64: memcpy(v->w, f, 8); break;
  case PLUMB_OPK_STRING:
    v->s = *(char *const *)(const void *)f;
    if (v->s == NULL && p->dir == PLUMB_OPD_IN)
      v->s = (char *)"";
    break;
  case PLUMB_OPK_SEQ:
    v->seq._length = *(const size_t *)(const void *)FLD(req, p->req_n_off);
    v->seq._buffer = *(void *const *)(const void *)f;
    break;
  case PLUMB_OPK_BYTES: {
    const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)(const void *)f;
    v->seq._length = b->len;
    v->seq._buffer = b->data;
    break;
  }
  }
  return PLUMB_OK;
}

/* Stores out-parameter p's value (slot v or the message at arg). */
static void
store(const plumb_op_param *p, ProtobufCMessage *rep, const thunk_slot *v,
      void *arg)
{
  unsigned char *f = (unsigned char *)rep + p->rep_off;
  switch (p->kind) {
  case PLUMB_OPK_BOOL: *(protobuf_c_boolean *)(void *)f = v->b; break;
  case PLUMB_OPK_CHAR: *(int32_t *)(void *)f = v->c; break;
  case PLUMB_OPK_INT8: *(int32_t *)(void *)f = v->i8; break;
  case PLUMB_OPK_UINT8: *(uint32_t *)(void *)f = v->u8; break;
  case PLUMB_OPK_INT16: *(int32_t *)(void *)f = v->i16; break;
  case PLUMB_OPK_UINT16: *(uint32_t *)(void *)f = v->u16; break;
  case PLUMB_OPK_32: memcpy(f, v->w, 4); break;
  case PLUMB_OPK_64: memcpy(f, v->w, 8); break;
  case PLUMB_OPK_STRING: *(char **)(void *)f = v->s; break;
  case PLUMB_OPK_MSG: *(void **)(void *)f = arg; break;
  case PLUMB_OPK_SEQ:
    *(size_t *)(void *)((unsigned char *)rep + p->rep_n_off) = v->seq._length;
    *(void **)(void *)f = v->seq._buffer;
    break;
  case PLUMB_OPK_BYTES: {
    ProtobufCBinaryData *b = (ProtobufCBinaryData *)(void *)f;
    b->len = v->seq._length;
    b->data = v->seq._buffer;
    break;
  }
  }
}

int
plumb_thunk_run(const plumb_op_sig *sig, plumb_fn fn, plumb_op_caller caller,
                void *ctx, plumb_call *call, const ProtobufCMessage *req,
                ProtobufCMessage *rep)
{
  thunk_slot vstack[THUNK_STACK_ARGS], *v = vstack;
  void *astack[THUNK_STACK_ARGS], **a = astack;
  size_t n = sig->n_params;
  int rc;

  if (fn == NULL)
    return PLUMB_ENOOP;
  if (req == NULL || req->descriptor != sig->request)
    return PLUMB_EBADBODY;
  if ((rc = plumb_call_check(call, sig->req_check, req, 0)) != PLUMB_OK)
    return rc;
  if (n > THUNK_STACK_ARGS) {
    v = plumb_call_alloc(call, n * sizeof *v);
    a = plumb_call_alloc(call, n * sizeof *a);
    if (v == NULL || a == NULL)
      return PLUMB_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    if ((rc = unpack(&sig->params[i], call, req, &v[i], &a[i])) != PLUMB_OK)
      return rc;
  if ((rc = caller(fn, ctx, call, a)) != PLUMB_OK)
    return rc;
  if (sig->flags & PLUMB_OPS_ONEWAY)
    return PLUMB_OK;
  for (size_t i = 0; i < n; i++)
    if (sig->params[i].dir & PLUMB_OPD_OUT)
      store(&sig->params[i], rep, &v[i], a[i]);
  return plumb_call_check(call, sig->rep_check, rep, 1);
}

int
plumb_operation_run(const plumb_operation *op, const void *impl, void *ctx,
                    plumb_call *call, const ProtobufCMessage *req,
                    ProtobufCMessage *rep)
{
  plumb_fn fn;
  if (op->thunk != NULL)
    return op->thunk(impl, ctx, call, req, rep);
  if (op->sig == NULL || op->caller == NULL || impl == NULL)
    return PLUMB_ENOOP;
  /* the handler member of the generated ops struct, as a generic pointer
   * (every function pointer has the same representation here) */
  memcpy(&fn, (const unsigned char *)impl + op->handler_off, sizeof fn);
  return plumb_thunk_run(op->sig, fn, op->caller, ctx, call, req, rep);
}

/* The value an API argument of kind k (as plumb_stub_call's args) holds,
 * as a slot store() reads. */
static void
slot_of(const plumb_op_param *p, const void *arg, thunk_slot *v)
{
  memset(v, 0, sizeof *v);
  switch (p->kind) {
  case PLUMB_OPK_BOOL: v->b = *(const bool *)arg; break;
  case PLUMB_OPK_CHAR: v->c = *(const char *)arg; break;
  case PLUMB_OPK_INT8: v->i8 = *(const int8_t *)arg; break;
  case PLUMB_OPK_UINT8: v->u8 = *(const uint8_t *)arg; break;
  case PLUMB_OPK_INT16: v->i16 = *(const int16_t *)arg; break;
  case PLUMB_OPK_UINT16: v->u16 = *(const uint16_t *)arg; break;
  case PLUMB_OPK_32: memcpy(v->w, arg, 4); break;
  case PLUMB_OPK_64: memcpy(v->w, arg, 8); break;
  case PLUMB_OPK_STRING: v->s = *(char *const *)arg; break;
  case PLUMB_OPK_MSG: break; /* the pointer itself */
  case PLUMB_OPK_SEQ: case PLUMB_OPK_BYTES:
    if (arg != NULL) /* NULL: empty */
      memcpy(&v->seq, arg, sizeof v->seq);
    break;
  }
}

int
plumb_deferred_reply_args(struct plumb_deferred *d, const plumb_op_sig *sig,
                          void *const *args)
{
  ProtobufCMessage *rep = plumb_deferred_reply(d);
  if (rep == NULL || sig->reply == NULL)
    return PLUMB_EINVAL;
  for (size_t i = 0; i < sig->n_params; i++) {
    const plumb_op_param *p = &sig->params[i];
    thunk_slot v;
    if (!(p->dir & PLUMB_OPD_OUT))
      continue;
    slot_of(p, args[i], &v);
    store(p, rep, &v, args[i]);
  }
  return plumb_deferred_complete(
      d, plumb_call_check(plumb_deferred_call(d), sig->rep_check, rep, 1),
      NULL);
}
