/* call.h - struct plumb_call, one call being served (internal).
 *
 * Shared by the dispatch (srv_dispatch.c), which fills it in for each request,
 * and by the plumb_call_* functions handlers and generated thunks use
 * (call.c, call_fail.c, call_defer.c).  Lives in its srv_call
 * (srv_calls.h); everything it points to lives until the reply is sent.
 */
#ifndef PLUMB_CALL_H
#define PLUMB_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "plumb/generated.h"

#define PLUMB__CALL_FAIL_MAX 256 /* bytes of a failure message, with NUL */

struct srv_object;
struct srv_conn;
struct srv_call;

struct plumb_call {
  plumb_server *server;
  const struct srv_object *obj;
  const struct srv_conn *conn;
  plumb_arena *arena;
  const plumb_type_info *exc_type;
  uint8_t *exc_body;
  size_t exc_len;
  /* plumb_call_fail(): the status and message the client is to get
   * (a new call clears everything but fail_msg's tail: srv_call_get) */
  int fail_status;
  char fail_msg[PLUMB__CALL_FAIL_MAX];
  /* plumb_call_raise_system() (sysexc.c): code (0 = none), minor, and
   * completion + 1 (0 = not set) */
  int sys_code;
  uint32_t sys_minor;
  int sys_completed;
  /* nesting limit the generated validators apply (0 = PLUMB_DEFAULT_MAX_DEPTH) */
  unsigned max_depth;
  /* the call model (srv_calls.h): deadline, cancel flag, deferral */
  struct srv_call *sv; /* NULL when served outside it */
  int deferred;        /* plumb_call_defer was called */
};

/* The status a peer gets for a call that failed with st (call_status.c). */
int plumb__call_status_for_peer(int st);

#endif
