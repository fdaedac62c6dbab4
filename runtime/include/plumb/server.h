/* plumb/server.h - the server side: objects, endpoints and the serving loop.
 *
 * A server holds named objects (each implements one generated interface),
 * listens on one or more endpoints at once (any mix of transports) and runs
 * until plumb_server_stop() or SIGINT/SIGTERM (plumb_server_run installs the
 * handlers when asked to).  On stop it closes and unlinks every IPC object it
 * created.  Threading model: see docs/RUNTIME.md.
 */
#ifndef PLUMB_SERVER_H
#define PLUMB_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "plumb/export.h"
#include "plumb/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct plumb_server plumb_server;
typedef struct plumb_call plumb_call; /* one call being served */
struct plumb_interface;                /* generated, see plumb/generated.h */

typedef struct plumb_server_opts {
  unsigned workers;   /* worker threads; 0 = number of CPUs */
  uint32_t max_frame; /* 0 = 16 MiB */
  unsigned mode;      /* permission bits of created IPC objects; 0 = 0600 */
  /* Who may connect, on every listener of plumb_server_listen (a service's
   * plumb.conf keys allow / allow_uids / allow_gids win for its listener;
   * docs/CONFIG.md, "Access").  The server's own uid and root always may.
   * All NULL/0 = derived from `mode`: 0600 admits nobody else.  Lists are
   * names or numbers, comma- or blank-separated, e.g. "1000, alice";
   * groups count as primary or supplementary membership. */
  const char *allow_uids; /* users also admitted; NULL = none */
  const char *allow_gids; /* members of these groups also admitted */
  int allow_any;          /* 1: anyone who can reach the endpoint */
  /* Decode limits (docs/PROTOCOL.md, "Limits"; plumb.conf max_depth,
   * decode_budget, max_decode_memory): */
  unsigned max_depth;         /* nested messages in a body; 0 = 64 */
  unsigned decode_budget;     /* arena bytes per request, x frame length,
                                 + 1 MiB; 0 = 16 */
  size_t max_decode_memory;   /* decode memory of all requests being
                                 served at once; 0 = 256 MiB */
  /* Flow control (docs/RUNTIME.md, "Server I/O"); 0 = the default. */
  size_t conn_queue_bytes;     /* replies queued per connection; max_frame+1M */
  unsigned conn_queue_frames;  /* frames queued per connection; 4096 */
  uint64_t server_queue_bytes; /* queued on all connections; 512 MiB */
  int send_timeout_ms;   /* queue waiting this long drops the peer; 10000 */
  int frame_timeout_ms;  /* a frame begun must complete in this; 30000 */
  /* 1: do not answer the introspection object "_plumb.introspect"
   * (docs/TOOLS.md); 0 = answer it (the default) */
  int no_introspection;
  /* The call model (docs/RUNTIME.md, "The call model"): calls of one
   * connection served at once (waiting, running or deferred; reading the
   * connection pauses at the limit); 0 = 16. */
  unsigned conn_max_calls;
  /* Bytes all connections together may hold for frames still arriving
   * (beyond 64 KiB each); over it the peer that asks is dropped.  0 =
   * 256 MiB; never below 2 x max_frame (docs/RUNTIME.md, "Server I/O"). */
  size_t max_rx_memory;
} plumb_server_opts;

PLUMB_API int plumb_server_new(plumb_server **out, const plumb_server_opts *o);
/* Registers impl (a generated Module_Interface_ops struct) as object name.
 * The first object added is the default object (until it is removed).
 * Objects may be added and removed at any time, from any thread, also
 * from inside a handler (docs/RUNTIME.md, "Objects and references").
 * PLUMB_EBUSY if name exists. */
PLUMB_API int plumb_server_add_object(plumb_server *s, const char *name,
                                      const struct plumb_interface *iface,
                                      const void *impl, void *ctx);

/* Longest id the server gives an anonymous object, with its NUL. */
#define PLUMB_OBJECT_ID_MAX 40

typedef struct plumb_object_opts {
  /* NULL: anonymous - the server names the object with 128 random bits
   * (32 hex digits), so that knowing its reference is the capability to
   * call it. */
  const char *name;
  /* Called once with ctx after the object was removed (or the server
   * freed) and the last call on it returned; on the thread that returned
   * last.  NULL = none. */
  void (*destroy)(void *ctx);
} plumb_object_opts;

/* plumb_server_add_object with options (o may be NULL: anonymous, no
 * destroy callback).  The object's name is copied to id (if not NULL). */
PLUMB_API int plumb_server_add_object_opts(plumb_server *s,
                                           const struct plumb_interface *iface,
                                           const void *impl, void *ctx,
                                           const plumb_object_opts *o,
                                           char id[PLUMB_OBJECT_ID_MAX]);
/* plumb_server_object_flags. */
enum {
  /* The object's handlers never run concurrently (with each other, and
   * possibly with another serialized object's): for implementations that
   * are not thread-safe (docs/RUNTIME.md, "The call model").  A worker
   * waits for its turn. */
  PLUMB_OBJECT_SERIALIZE = 1u
};
/* Sets the PLUMB_OBJECT_* flags of object name; call it right after adding
 * the object, before a call can reach it.  PLUMB_ENOOBJECT if there is no
 * such object, PLUMB_EINVAL for unknown flags. */
PLUMB_API int plumb_server_object_flags(plumb_server *s, const char *name,
                                        unsigned flags);
/* Removes object name: calls in progress on it finish, later ones get
 * OBJECT_NOT_EXIST (PLUMB_ENOOBJECT); its destroy callback runs once the
 * last of them returned.  PLUMB_ENOOBJECT if there is no such object. */
PLUMB_API int plumb_server_remove_object(plumb_server *s, const char *name);
/* Starts listening on endpoint (may be called several times). */
PLUMB_API int plumb_server_listen(plumb_server *s, const char *endpoint);
/* Serves until stopped.  If handle_signals, SIGINT and SIGTERM stop it, and
 * SIGPIPE is set to be ignored for the process (unless the program has its
 * own handler): plumb's writes report a vanished peer as an error instead. */
PLUMB_API int plumb_server_run(plumb_server *s, int handle_signals);
/* Asks a running server to stop; async-signal-safe and thread-safe. */
PLUMB_API void plumb_server_stop(plumb_server *s);
/* Closes all endpoints (unlinking their IPC objects) and frees the server. */
PLUMB_API void plumb_server_free(plumb_server *s);

/* What a handler may learn about the call it serves.  Local mechanisms
 * report credentials (has_creds, pid, uid, gid; addr is ""); tcp reports
 * none but the peer's address and port in addr ("127.0.0.1:54321",
 * "[::1]:54321").  Members are only ever added at the end. */
#define PLUMB_PEER_ADDR_MAX 56 /* "[" IPv6 "]:" port, with NUL */
typedef struct plumb_peer {
  int has_creds; /* 1 if the mechanism reported credentials */
  pid_t pid;
  uid_t uid;
  gid_t gid;
  char addr[PLUMB_PEER_ADDR_MAX]; /* network peer's "host:port", or "" */
} plumb_peer;

PLUMB_API const plumb_peer *plumb_call_peer(const plumb_call *call);
/* Name of the object being called. */
PLUMB_API const char *plumb_call_object(const plumb_call *call);
/* Memory that lives until the reply is sent: use it for out values. */
PLUMB_API void *plumb_call_alloc(plumb_call *call, size_t size);
PLUMB_API char *plumb_call_strdup(plumb_call *call, const char *s);
/* Ends the call with `status` (a negative PLUMB_E* code) and a message for
 * the client (printf format, at most 255 bytes): return its result from the
 * handler, e.g. `return plumb_call_fail(call, PLUMB_EBADBODY, "field 'key':
 * empty");`.  Generated thunks use it to name the field that failed
 * validation.  Returns status. */
PLUMB_API int plumb_call_fail(plumb_call *call, int status, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
