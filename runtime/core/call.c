/* call.c - what handlers see of the call they serve: plumb_call_peer,
 * _object, _alloc, _strdup, _arena, _raise, its deadline and whether it was
 * cancelled (plumb_call_fail is in call_fail.c, deferral in call_defer.c).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "plumb/call.h"
#include "plumb/client.h"

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


/* ---- the call model: deadline and cancellation ------------------------ */

int64_t
plumb_call_deadline(const plumb_call *call)
{
  return call != NULL && call->sv != NULL ? call->sv->deadline : 0;
}

int64_t
plumb_call_remaining_ms(const plumb_call *call)
{
  int64_t d = plumb_call_deadline(call);
  if (d == 0)
    return -1;
  int64_t left = d - plumb__now_ns();
  return left <= 0 ? 0 : left / 1000000;
}

int64_t
plumb_call_pass_deadline(const plumb_call *call, plumb_client *c)
{
  int64_t ms = plumb_call_remaining_ms(call);
  if (ms < 0 || c == NULL)
    return -1;
  /* 0 ms left would read as "no timeout" to some callers: 1 ms fails fast
   * the same way. */
  plumb_client_next_timeout(c, ms > 0 ? ms : 1);
  return ms > 0 ? ms : 1;
}

int
plumb_call_cancelled(const plumb_call *call)
{
  return call != NULL && call->sv != NULL &&
         atomic_load(&call->sv->cancelled);
}
