/* stub.c - plumb_stub_call(): the one body of every generated client stub.
 *
 * plumbc describes each distinct operation signature as a plumb_op_sig
 * (plumb/generated.h): the request and reply types, their check tables,
 * and per parameter its kind, direction and field offsets.  A stub passes
 * pointers to its arguments; this file fills the request from them, checks
 * it, calls plumb_invoke() and copies the checked reply back - what the
 * per-operation C bodies used to do, in one place.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "plumb/generated.h"

/* Requests up to this size are built on the stack (a request holds one or
 * two words per in-parameter); larger ones are allocated. */
#define STUB_REQ_STACK 512

#define AT(m, off, T) ((T *)(void *)((unsigned char *)(m) + (off)))
#define CAT(m, off, T) \
  ((const T *)(const void *)((const unsigned char *)(m) + (off)))

/* The { _length, _buffer } shape every generated sequence typedef has. */
typedef struct stub_seq {
  size_t _length;
  void *_buffer;
} stub_seq;

static void
fill(const plumb_op_param *p, void *req, const void *a)
{
  unsigned char *f = (unsigned char *)req + p->req_off;
  switch (p->kind) {
  case PLUMB_OPK_BOOL: *(protobuf_c_boolean *)(void *)f = *(const bool *)a;
    break;
  case PLUMB_OPK_CHAR: *(int32_t *)(void *)f = *(const char *)a; break;
  case PLUMB_OPK_INT8: *(int32_t *)(void *)f = *(const int8_t *)a; break;
  case PLUMB_OPK_UINT8: *(uint32_t *)(void *)f = *(const uint8_t *)a; break;
  case PLUMB_OPK_INT16: *(int32_t *)(void *)f = *(const int16_t *)a; break;
  case PLUMB_OPK_UINT16: *(uint32_t *)(void *)f = *(const uint16_t *)a;
    break;
  case PLUMB_OPK_32: memcpy(f, a, 4); break;
  case PLUMB_OPK_64: memcpy(f, a, 8); break;
  case PLUMB_OPK_STRING: *(char **)(void *)f = *(char *const *)a; break;
  case PLUMB_OPK_MSG: *(const void **)(void *)f = a; break;
  case PLUMB_OPK_SEQ:
    if (a != NULL) {
      const stub_seq *s = a;
      *AT(req, p->req_n_off, size_t) = s->_length;
      *(void **)(void *)f = s->_buffer;
    }
    break;
  case PLUMB_OPK_BYTES:
    if (a != NULL) {
      const stub_seq *s = a;
      ProtobufCBinaryData *b = (ProtobufCBinaryData *)(void *)f;
      b->len = s->_length;
      b->data = s->_buffer;
    }
    break;
  }
}

static void
copy_out(const plumb_op_param *p, const ProtobufCMessage *rep, void *a)
{
  const unsigned char *f = (const unsigned char *)rep + p->rep_off;
  switch (p->kind) {
  case PLUMB_OPK_BOOL:
    *(bool *)a = *(const protobuf_c_boolean *)(const void *)f != 0;
    break;
  case PLUMB_OPK_CHAR: *(char *)a = (char)*(const int32_t *)(const void *)f;
    break;
  case PLUMB_OPK_INT8:
    *(int8_t *)a = (int8_t)*(const int32_t *)(const void *)f;
    break;
  case PLUMB_OPK_UINT8:
    *(uint8_t *)a = (uint8_t)*(const uint32_t *)(const void *)f;
    break;
  case PLUMB_OPK_INT16:
    *(int16_t *)a = (int16_t)*(const int32_t *)(const void *)f;
    break;
  case PLUMB_OPK_UINT16:
    *(uint16_t *)a = (uint16_t)*(const uint32_t *)(const void *)f;
    break;
  case PLUMB_OPK_32: memcpy(a, f, 4); break;
  case PLUMB_OPK_64: memcpy(a, f, 8); break;
  case PLUMB_OPK_STRING: *(char **)a = *(char *const *)(const void *)f;
    break;
  case PLUMB_OPK_MSG: {
    const void *v = *(const void *const *)(const void *)f;
    if (v != NULL)
      memcpy(a, v, p->msg->sizeof_message);
    else
      p->msg->message_init(a);
    break;
  }
  case PLUMB_OPK_SEQ: {
    stub_seq *s = a;
    s->_length = *CAT(rep, p->rep_n_off, size_t);
    s->_buffer = *(void *const *)(const void *)f;
    break;
  }
  case PLUMB_OPK_BYTES: {
    stub_seq *s = a;
    const ProtobufCBinaryData *b = (const ProtobufCBinaryData *)(const void *)f;
    s->_length = b->len;
    s->_buffer = b->data;
    break;
  }
  }
}

/* The request of sig from args, in stack if it fits (else malloc'd):
 * NULL if out of memory. */
static ProtobufCMessage *
build_request(const plumb_op_sig *sig, void *const *args, void *stack,
              size_t stack_len)
{
  ProtobufCMessage *req = stack;
  if (sig->request->sizeof_message > stack_len &&
      (req = malloc(sig->request->sizeof_message)) == NULL)
    return NULL;
  sig->request->message_init(req);
  for (size_t i = 0; i < sig->n_params; i++)
    if (sig->params[i].dir & PLUMB_OPD_IN)
      fill(&sig->params[i], req, args[i]);
  return req;
}

/* Checks reply rm of sig and copies it out to args. */
static int
reply_out(plumb_client *c, const char *name, const plumb_op_sig *sig,
          const ProtobufCMessage *rm, void *const *args)
{
  int rc;
  if (rm == NULL || rm->descriptor != sig->reply)
    return PLUMB_EBADBODY;
  if ((rc = plumb_client_check(c, name, sig->rep_check, rm, 1)) != PLUMB_OK)
    return rc;
  for (size_t i = 0; i < sig->n_params; i++)
    if (sig->params[i].dir & PLUMB_OPD_OUT)
      copy_out(&sig->params[i], rm, args[i]);
  return PLUMB_OK;
}

typedef union stub_stack {
  ProtobufCMessage m;
  max_align_t align;
  unsigned char b[STUB_REQ_STACK];
} stub_stack;

int
plumb_stub_call(plumb_client *c, const plumb_interface *iface, uint32_t op,
                const plumb_op_sig *sig, void *const *args,
                plumb_arena *arena)
{
  stub_stack stack;
  const char *name = iface->ops[op].name;
  ProtobufCMessage *req, *rm = NULL;
  int rc;

  if ((sig->flags & PLUMB_OPS_ARENA) && arena == NULL)
    return PLUMB_EINVAL;
  for (size_t i = 0; i < sig->n_params; i++)
    if ((sig->params[i].dir & PLUMB_OPD_OUT) && args[i] == NULL)
      return PLUMB_EINVAL;
  if ((req = build_request(sig, args, &stack, sizeof stack)) == NULL)
    return plumb_client_fail(c, PLUMB_ENOMEM, "%s: no memory for a %zu-byte "
                             "request", name, sig->request->sizeof_message);
  rc = plumb_client_check(c, name, sig->req_check, req, 0);
  if (rc == PLUMB_OK)
    rc = plumb_invoke(c, iface, op, req, &rm, arena);
  if (req != &stack.m)
    free(req);
  if (rc != PLUMB_OK || (sig->flags & PLUMB_OPS_ONEWAY))
    return rc;
  return reply_out(c, name, sig, rm, args);
}

int
plumb_stub_begin(plumb_client *c, const plumb_interface *iface, uint32_t op,
                 const plumb_op_sig *sig, void *const *args,
                 plumb_pending **pending)
{
  stub_stack stack;
  const char *name = iface->ops[op].name;
  ProtobufCMessage *req;
  int rc;

  if (pending == NULL)
    return PLUMB_EINVAL;
  *pending = NULL;
  if ((req = build_request(sig, args, &stack, sizeof stack)) == NULL)
    return plumb_client_fail(c, PLUMB_ENOMEM, "%s: no memory for a %zu-byte "
                             "request", name, sig->request->sizeof_message);
  rc = plumb_client_check(c, name, sig->req_check, req, 0);
  if (rc == PLUMB_OK)
    rc = plumb_invoke_begin(c, iface, op, req, pending);
  if (req != &stack.m)
    free(req);
  return rc;
}

int
plumb_stub_finish(plumb_pending *pending, const plumb_interface *iface,
                  uint32_t op, const plumb_op_sig *sig, void *const *args,
                  plumb_arena *arena)
{
  ProtobufCMessage *rm = NULL;
  plumb_client *c;
  const char *name;
  int rc;

  if (pending == NULL)
    return PLUMB_EINVAL;
  c = plumb_pending_client(pending);
  /* iface NULL (generated _finish helpers, shared by every operation of a
   * signature): the operation the pending call was sent for */
  name = iface != NULL ? iface->ops[op].name
         : pending->op != NULL ? pending->op->name : "?";
  if ((sig->flags & PLUMB_OPS_ARENA) && arena == NULL) {
    plumb_pending_free(pending);
    return PLUMB_EINVAL;
  }
  for (size_t i = 0; i < sig->n_params; i++)
    if ((sig->params[i].dir & PLUMB_OPD_OUT) && args[i] == NULL) {
      plumb_pending_free(pending);
      return PLUMB_EINVAL;
    }
  rc = plumb_invoke_finish(pending, &rm, arena);
  if (rc != PLUMB_OK || (sig->flags & PLUMB_OPS_ONEWAY))
    return rc;
  return reply_out(c, name, sig, rm, args);
}
