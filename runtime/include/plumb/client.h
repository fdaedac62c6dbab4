/* plumb/client.h - the client side: a connection to one object on a server.
 *
 * A plumb_client is opened on an endpoint string ("tcp://127.0.0.1:9000",
 * "unix:/tmp/calc.sock", "shm:/calc", ...) and names the object it calls.
 * Generated stubs (Module_Interface_op) take it as their first argument.
 * A client is thread-safe: several threads may call through one handle at
 * once; replies are matched to callers by call id.  A handle whose
 * connection broke re-dials on its next call (docs/RUNTIME.md,
 * "Reconnection"); asynchronous calls are in plumb/async.h.
 */
#ifndef PLUMB_CLIENT_H
#define PLUMB_CLIENT_H

#include <stdint.h>
#include "plumb/export.h"
#include "plumb/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct plumb_client plumb_client;

typedef struct plumb_client_opts {
  /* Default deadline of every call in milliseconds; 0 = 5000. -1 = none. */
  int64_t timeout_ms;
  /* Largest frame sent or accepted; 0 = 16 MiB. */
  uint32_t max_frame;
  /* 1: a broken connection stays broken (every later call fails with its
   * status) instead of being re-dialled on the next call. */
  int no_reconnect;
  /* Most calls outstanding at once on the handle (async and sync);
   * 0 = PLUMB_DEFAULT_MAX_PENDING (4096). */
  uint32_t max_pending;
} plumb_client_opts;

/* Connects to endpoint and binds the client to object (NULL or "" = the
 * server's default object).  opts may be NULL.  On failure *out is NULL. */
PLUMB_API int plumb_client_open(plumb_client **out, const char *endpoint,
                                const char *object,
                                const plumb_client_opts *opts);
/* Closes the connection; calls still waiting fail with PLUMB_ECLOSED.
 * Pending calls (plumb/async.h) must be freed before. */
PLUMB_API void plumb_client_close(plumb_client *c);
/* Changes the default deadline of later calls (milliseconds, -1 = none). */
PLUMB_API void plumb_client_set_timeout(plumb_client *c, int64_t timeout_ms);
/* Sets the deadline of the calling thread's next call through c only
 * (milliseconds, -1 = none); calls after it use the default again.  This is
 * the per-call deadline: generated stubs need no extra argument. */
PLUMB_API void plumb_client_next_timeout(plumb_client *c, int64_t timeout_ms);
/* A readable description of the last transport/protocol error on c (for
 * messages); never NULL. */
PLUMB_API const char *plumb_client_last_error(plumb_client *c);
/* The endpoint c is connected to (for a reference: the one chosen). */
PLUMB_API const char *plumb_client_endpoint(const plumb_client *c);

#ifdef __cplusplus
}
#endif
#endif
