/* plumb/async.h - asynchronous calls on a plumb_client: begin a call, get
 * its outcome later, from your own event loop.
 *
 * A call begun with plumb_invoke_begin() (or a generated
 * Module_Iface_op_begin stub) is a plumb_pending.  It completes when its
 * answer arrives, its deadline passes, it is cancelled, or the connection
 * breaks.  Nothing runs on hidden threads: answers are read by whichever
 * thread is inside plumb_client_dispatch(), plumb_pending_wait(),
 * plumb_pending_poll() or a synchronous call on the same handle.
 *
 * Event loops watch plumb_client_fd(c): it polls readable when an answer
 * may be waiting or a call completed on another thread; then call
 * plumb_client_dispatch(c), which never blocks and runs completion
 * callbacks on the calling thread.  See docs/RUNTIME.md, "Asynchronous
 * client".
 */
#ifndef PLUMB_ASYNC_H
#define PLUMB_ASYNC_H

#include <stdint.h>
#include "plumb/export.h"
#include "plumb/status.h"
#include "plumb/arena.h"
#include "plumb/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct plumb_pending plumb_pending;
struct plumb_interface;
struct ProtobufCMessage;

/* Default limit of calls outstanding on one handle (plumb_client_opts
 * .max_pending); a begin past it fails with PLUMB_EBUSY. */
#define PLUMB_DEFAULT_MAX_PENDING 4096

/* Completion callback: run by plumb_client_dispatch() on the thread that
 * called it, once, after p completed.  It may call the _finish stub (which
 * releases p), plumb_pending_free(p), or begin new calls. */
typedef void (*plumb_pending_cb)(plumb_pending *p, void *user);

/* Sends iface->ops[op] with request req and returns at once (after the
 * request was handed to the transport) with *out set to the pending call.
 * The deadline is the thread's plumb_client_next_timeout(), else the
 * client's default, counted from now; it travels to the server.  A oneway
 * operation completes as soon as it is sent.
 * Errors (then *out is NULL): PLUMB_EINVAL, PLUMB_ENOMEM, PLUMB_ETOOBIG,
 * PLUMB_EBUSY (max_pending calls outstanding), and the connection's
 * status (PLUMB_ECLOSED, PLUMB_ECONNREFUSED, ...). */
PLUMB_API int plumb_invoke_begin(plumb_client *c,
                                 const struct plumb_interface *iface,
                                 uint32_t op,
                                 const struct ProtobufCMessage *req,
                                 plumb_pending **out);
/* Waits for p (until its deadline), decodes its outcome into arena (which
 * must not be NULL for operations with a reply) like plumb_invoke(), and
 * releases p.  Returns the call's status: PLUMB_OK with *rep set,
 * PLUMB_EEXCEPTION, PLUMB_ETIMEDOUT, PLUMB_ECANCELLED, PLUMB_ECLOSED, ... */
PLUMB_API int plumb_invoke_finish(plumb_pending *p,
                                  struct ProtobufCMessage **rep,
                                  plumb_arena *arena);

/* 1 once p completed, 0 while it is outstanding.  Never blocks: reads
 * answers that are already there if no other thread is reading. */
PLUMB_API int plumb_pending_poll(plumb_pending *p);
/* Waits up to timeout_ms (-1: until the call's deadline) for p to
 * complete, reading answers meanwhile.  PLUMB_OK once complete (the call's
 * own status comes from _finish), PLUMB_ETIMEDOUT if it is still
 * outstanding. */
PLUMB_API int plumb_pending_wait(plumb_pending *p, int64_t timeout_ms);
/* The call's status once complete (PLUMB_OK for an answer, which _finish
 * may still turn into PLUMB_EEXCEPTION or a server error), PLUMB_EAGAIN
 * while outstanding. */
PLUMB_API int plumb_pending_status(const plumb_pending *p);
/* Completes p at once with PLUMB_ECANCELLED and sends the server a CANCEL
 * frame (docs/PROTOCOL.md 2.7); an answer that still arrives is dropped.
 * No effect on a call that already completed.  p stays valid until
 * _finish or plumb_pending_free. */
PLUMB_API void plumb_pending_cancel(plumb_pending *p);
/* Releases p; an outstanding call is cancelled first.  NULL is ignored. */
PLUMB_API void plumb_pending_free(plumb_pending *p);
/* Sets p's completion callback (NULL: none).  If p already completed, the
 * next plumb_client_dispatch() runs it. */
PLUMB_API void plumb_pending_set_callback(plumb_pending *p,
                                          plumb_pending_cb cb, void *user);
/* The client p was begun on. */
PLUMB_API plumb_client *plumb_pending_client(const plumb_pending *p);

/* A file descriptor (an epoll set holding the client's completion eventfd,
 * the connection's fd and a deadline timer) that polls readable when
 * plumb_client_dispatch() has work.  Owned by c: do not close it.  Stays
 * the same across reconnections.  -1 (PLUMB_ESYS in last_error) if it
 * could not be made. */
PLUMB_API int plumb_client_fd(plumb_client *c);
/* Reads the answers that are waiting, completes calls whose deadline
 * passed, and runs the callbacks of completed calls on this thread.
 * Never blocks.  Returns the number of callbacks run, or a negative
 * status (PLUMB_EINVAL). */
PLUMB_API int plumb_client_dispatch(plumb_client *c);

#ifdef __cplusplus
}
#endif
#endif
