/* plumb/call.h - the call model on the server side (docs/RUNTIME.md, "The
 * call model"): a call's deadline and cancellation as its handler sees
 * them, and deferred replies (a handler that answers later, from any
 * thread).
 *
 * Handlers keep their shape: one that returns PLUMB_OK, an exception or an
 * error behaves as before.  Everything here is optional.
 */
#ifndef PLUMB_CALL_H_PUBLIC
#define PLUMB_CALL_H_PUBLIC

#include <stdint.h>
#include "plumb/export.h"
#include "plumb/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct plumb_call plumb_call;
typedef struct plumb_client plumb_client;
struct ProtobufCMessage;

/* ---- deadlines --------------------------------------------------------- */

/* The call's deadline: absolute CLOCK_MONOTONIC nanoseconds (as
 * clock_gettime(CLOCK_MONOTONIC) counts them), computed when the request
 * arrived from the remaining time its client sent; 0 = the client sent
 * none.  A call whose deadline has passed before it starts is answered
 * PLUMB_ETIMEDOUT without running the handler. */
PLUMB_API int64_t plumb_call_deadline(const plumb_call *call);
/* Milliseconds left until the deadline (0 once it has passed), or -1 if the
 * call has none: the value plumb_client_next_timeout() takes. */
PLUMB_API int64_t plumb_call_remaining_ms(const plumb_call *call);
/* Deadline propagation (A -> B -> C): makes the calling thread's next call
 * through c carry what is left of this call's deadline (if it has one, and
 * if that is shorter than c's own default).  Call it right before the
 * nested call.  Returns the timeout set in ms, or -1 if none was. */
PLUMB_API int64_t plumb_call_pass_deadline(const plumb_call *call,
                                           plumb_client *c);

/* ---- cancellation ------------------------------------------------------ */

/* Non-zero once the client cancelled the call (a CANCEL frame) or went
 * away.  A handler doing long work may poll it and give up early; what it
 * then returns is not sent (a cancelled call is never answered). */
PLUMB_API int plumb_call_cancelled(const plumb_call *call);

/* ---- deferred replies -------------------------------------------------- */

/* A handler return value (not an error): "I took the call with
 * plumb_call_defer() and will answer it later". */
#define PLUMB_DEFERRED 1

typedef struct plumb_deferred plumb_deferred;

/* Takes the call out of the handler's hands: the handler must then return
 * PLUMB_DEFERRED (and write nothing to its out parameters).  The returned
 * handle, the call's arena (plumb_deferred_call) and its peer info stay
 * valid until the call is completed with plumb_deferred_complete (or a
 * generated Module_Iface_op_reply / _raise_X helper), from any thread.
 * Every deferred call must be completed exactly once, also after a cancel
 * (completing a cancelled call sends nothing and just frees it).  When the
 * server stops, calls still held are answered TRANSIENT and read as
 * cancelled; plumb_server_free() waits (up to 10 s) for their completion,
 * which must not come after it returned.  NULL if call is NULL or already
 * deferred, or for a oneway call (those have nothing to answer). */
PLUMB_API plumb_deferred *plumb_call_defer(plumb_call *call);
/* The call behind d: for plumb_call_alloc, _strdup, _arena, _peer,
 * _object, _deadline, _raise, _fail while it is not completed. */
PLUMB_API plumb_call *plumb_deferred_call(plumb_deferred *d);
/* The reply message of the operation, initialised in the call's arena: fill
 * it and pass it to plumb_deferred_complete (generated _reply helpers do). */
PLUMB_API struct ProtobufCMessage *plumb_deferred_reply(plumb_deferred *d);
/* Non-zero if the client cancelled the call or its connection is gone: an
 * answer would reach nobody (completing is still required, and harmless).
 */
PLUMB_API int plumb_deferred_cancelled(const plumb_deferred *d);
/* Completes d and frees it (d is invalid afterwards):
 *   status PLUMB_OK: reply (the operation's reply message; NULL = the one
 *     from plumb_deferred_reply) is sent;
 *   PLUMB_EEXCEPTION after plumb_call_raise(plumb_deferred_call(d), ...):
 *     the exception is sent;
 *   another status: the client gets it as an error (as a handler's
 *     status would be mapped; plumb_call_fail's message is used).
 * Returns PLUMB_OK if the answer was sent or queued, PLUMB_ECLOSED if
 * nobody was left to answer (cancelled, client gone, server stopped),
 * PLUMB_ETOOBIG if the reply was over the frame limit (the client got an
 * error instead), PLUMB_EINVAL for d == NULL. */
PLUMB_API int plumb_deferred_complete(plumb_deferred *d, int status,
                                      const struct ProtobufCMessage *reply);

#ifdef __cplusplus
}
#endif
#endif
