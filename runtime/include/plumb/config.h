/* plumb/config.h - choosing a service's endpoint and options by configuration.
 *
 * A program names a service ("calc"); plumb_config_resolve() finds its
 * endpoint in this order (the first that is set wins):
 *   1. an explicit endpoint given in code or on the command line;
 *   2. the environment: PLUMB_<SERVICE>_ENDPOINT (service upper-cased, other
 *      characters than letters and digits turned into '_'), then PLUMB_ENDPOINT;
 *   3. the config file: $PLUMB_CONFIG (which must exist if set), else
 *      ./plumb.conf, else /etc/plumb/plumb.conf - key `endpoint` of section
 *      [service], else of section [defaults];
 *   4. the built-in default unix:$XDG_RUNTIME_DIR/plumb-<service>.sock, or
 *      unix:/tmp/plumb-<service>.sock without XDG_RUNTIME_DIR.
 * Every other option comes from [service], else [defaults], else its
 * built-in default.  The file format and every key are in docs/CONFIG.md.
 */
#ifndef PLUMB_CONFIG_H
#define PLUMB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plumb/client.h"
#include "plumb/export.h"
#include "plumb/server.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum plumb_config_source {
  PLUMB_SRC_DEFAULT,  /* built-in default */
  PLUMB_SRC_EXPLICIT, /* given by the program */
  PLUMB_SRC_ENV,      /* an environment variable */
  PLUMB_SRC_FILE,     /* the config file */
} plumb_config_source;

typedef struct plumb_config {
  char endpoint[512];
  plumb_config_source endpoint_source;
  char file[512];       /* config file read ("" if none) */
  int64_t timeout_ms;   /* call deadline; -1 = none (default 5000) */
  uint32_t max_frame;   /* bytes (default 16 MiB) */
  unsigned mode;        /* permission bits of created IPC objects (0600) */
  gid_t group;          /* group of created IPC objects; (gid_t)-1 = none */
  uint32_t shm_ring_size; /* bytes per shm ring; 0 = transport default */
  uint32_t mq_msgsize;  /* POSIX mq message size; 0 = transport default */
  int32_t spin_us;      /* shm spin budget in µs; -1 = transport default */
  /* Who may connect to a server's listener (docs/CONFIG.md, "Access");
   * "" = not set (derived from mode and group). */
  char allow[16];       /* "any" or "owner" */
  char allow_uids[256]; /* user names or uids, comma-separated */
  char allow_gids[256]; /* group names or gids */
  unsigned max_depth;   /* servers: nested messages in a body; 0 = 64 */
  unsigned decode_budget; /* servers: x frame + 1 MiB per request; 0 = 16 */
  size_t max_decode_memory; /* servers: decode memory in use; 0 = 256 MiB */
  /* Servers: flow control (docs/RUNTIME.md, "Server I/O"; the same fields
   * of plumb_server_opts); 0 = not set (the server's value stays). */
  size_t conn_queue_bytes;     /* replies queued per connection */
  unsigned conn_queue_frames;  /* frames queued per connection */
  uint64_t server_queue_bytes; /* queued on all connections */
  int send_timeout_ms;         /* a full queue waiting this long: drop */
  int frame_timeout_ms;        /* a frame begun must complete in this */
  int introspection_off; /* servers: key introspection = off (default on) */
  unsigned conn_max_calls; /* servers: calls in flight per connection;
                              0 = 16 */
  size_t max_rx_memory;        /* servers: partial frames, all peers */
  /* plumb-naming (docs/TOOLS.md); 0 = not set (its defaults) */
  unsigned max_iterators;   /* BindingIterators alive at once */
  unsigned iterator_idle_s; /* an iterator unused this long is destroyed */
} plumb_config;

/* Resolves service's configuration into *out.  On a bad value returns
 * PLUMB_ECONFIG (or PLUMB_ENOTRANSPORT for an endpoint whose transport is not
 * built in) with a message naming file, line, key and what is allowed in
 * err (if errlen > 0). */
PLUMB_API int plumb_config_resolve(const char *service, const char *endpoint,
                                   plumb_config *out, char *err,
                                   size_t errlen);

/* Checks that endpoint names a transport built into this libplumb.
 * Returns PLUMB_OK, PLUMB_EADDR (no "scheme:") or PLUMB_ENOTRANSPORT, with
 * e.g. "transport 'mq' is not built into this libplumb (available: unix,
 * tcp, shm)" in err. */
PLUMB_API int plumb_endpoint_check(const char *endpoint, char *err,
                                   size_t errlen);

/* Opens a client of `service` (see plumb_config_resolve for `endpoint`),
 * bound to `object`, with the configured deadline and frame limit.  Errors
 * are also logged with their reason. */
PLUMB_API int plumb_client_open_service(plumb_client **out,
                                        const char *service,
                                        const char *endpoint,
                                        const char *object);

/* Listens for `service` on its configured endpoint, with the configured
 * permissions and frame limit. */
PLUMB_API int plumb_server_listen_service(plumb_server *s,
                                          const char *service,
                                          const char *endpoint);

#ifdef __cplusplus
}
#endif
#endif
