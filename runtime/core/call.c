/* call.c - what handlers see of the call they serve: plumb_call_peer,
 * _object, _alloc, _strdup, _arena, _raise (plumb_call_fail is in
 * call_fail.c).
 */
#include <stddef.h>

#include "call.h"
#include "server_int.h"

/* ---- what handlers see ----------------------------------------------- */

const plumb_peer *
plumb_call_peer(const plumb_call *call)
{
  return &call->conn->peer;
}

const char *
plumb_call_object(const plumb_call *call)
{
  return call->obj->name;
}

void *
plumb_call_alloc(plumb_call *call, size_t size)
{
  return plumb_arena_alloc(call->arena, size);
}

char *
plumb_call_strdup(plumb_call *call, const char *s)
{
  return plumb_arena_strdup(call->arena, s ? s : "");
}

plumb_arena *
plumb_call_arena(plumb_call *call)
{
  return call->arena;
}

int
plumb_call_raise(plumb_call *call, const plumb_type_info *type,
                 const void *value)
{
  if (call == NULL || type == NULL || value == NULL)
    return PLUMB_EINVAL;
  const ProtobufCMessage *m = value;
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *p = plumb_arena_alloc(call->arena, n ? n : 1);
  if (p == NULL)
    return PLUMB_ENOMEM;
  call->exc_len = protobuf_c_message_pack(m, p);
  call->exc_body = p;
  call->exc_type = type;
  return PLUMB_EEXCEPTION;
}

