/* call_defer.c - deferred replies (docs/RUNTIME.md, "The call model"): a
 * handler takes its call with plumb_call_defer() and returns
 * PLUMB_DEFERRED; any thread completes it later with
 * plumb_deferred_complete() (or a generated _reply / _raise_X helper).
 *
 * The handler's worker and the completing thread may race (a completion
 * from another thread can come before the handler has even returned):
 * srv_call.dstate decides with one swap who sends the answer and releases
 * the call (srv_dispatch.c's side is in plumb__srv_call_run).
 */
#include <stdatomic.h>

#include "call.h"
#include "plumb/call.h"
#include "server_int.h"

plumb_deferred *
plumb_call_defer(plumb_call *call)
{
  if (call == NULL || call->sv == NULL || call->deferred || call->sv->oneway)
    return NULL;
  call->deferred = 1;
  return (plumb_deferred *)call->sv;
}

plumb_call *
plumb_deferred_call(plumb_deferred *d)
{
  return d != NULL ? &((srv_call *)d)->call : NULL;
}

ProtobufCMessage *
plumb_deferred_reply(plumb_deferred *d)
{
  return d != NULL ? ((srv_call *)d)->rep : NULL;
}

int
plumb_deferred_cancelled(const plumb_deferred *d)
{
  return d != NULL && atomic_load(&((const srv_call *)d)->cancelled);
}

int
plumb_deferred_complete(plumb_deferred *d, int status,
                        const ProtobufCMessage *reply)
{
  srv_call *c = (srv_call *)d;

  if (c == NULL)
    return PLUMB_EINVAL;
  if (status == PLUMB_DEFERRED)
    status = plumb_call_fail(&c->call, PLUMB_ESERVER, "completed with "
                             "PLUMB_DEFERRED");
  /* Packed now: reply may live on the completer's stack. */
  plumb__srv_call_prepare(c, status, reply != NULL ? reply : c->rep);
  int st = c->ans_kind == PLUMB__FRAME_SYSEXC && status == PLUMB_OK
               ? c->ans_status : PLUMB_OK; /* e.g. ETOOBIG */
  int none = SRV_DEFER_NONE;
  if (atomic_compare_exchange_strong(&c->dstate, &none, SRV_DEFER_DONE)) {
    /* The handler has not returned yet: its worker sends - nothing, if
     * the call is cancelled (a CANCEL, or the client went away), which
     * the completer is told as it would be below. */
    return atomic_load(&c->cancelled) && st == PLUMB_OK ? PLUMB_ECLOSED : st;
  }
  int sent = plumb__srv_call_send(c);
  plumb__srv_call_release(NULL, c);
  return st != PLUMB_OK ? st : sent == PLUMB_OK ? PLUMB_OK : PLUMB_ECLOSED;
}
