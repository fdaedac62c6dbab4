/* plumb/log.h - where libplumb's log lines go.
 *
 * Logging is off by default.  PLUMB_LOG=error|warn|info|debug|trace in the
 * environment turns it on (to stderr); `trace` adds one line per frame sent
 * or received with its header.  A program may set the level itself and
 * install its own handler (e.g. to syslog); the handler may be called from
 * any libplumb thread, one call at a time. */
#ifndef PLUMB_LOG_H_PUBLIC
#define PLUMB_LOG_H_PUBLIC

#include "plumb/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum plumb_log_level {
  PLUMB_LOG_OFF = 0,
  PLUMB_LOG_ERROR = 1,
  PLUMB_LOG_WARN = 2,
  PLUMB_LOG_INFO = 3,
  PLUMB_LOG_DEBUG = 4,
  PLUMB_LOG_TRACE = 5,
};

/* Receives one message (no trailing newline) at `level`. */
typedef void (*plumb_log_fn)(void *arg, int level, const char *message);

/* Overrides PLUMB_LOG. */
PLUMB_API void plumb_log_set_level(int level);
/* fn = NULL restores the default (stderr, "plumb[pid] level: message"). */
PLUMB_API void plumb_log_set_handler(plumb_log_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
