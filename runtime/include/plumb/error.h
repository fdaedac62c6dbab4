/* plumb/error.h - why the calling thread's last failing call failed.
 *
 * plumb_client_open, plumb_client_open_service, plumb_server_listen,
 * plumb_server_listen_service, plumb_config_resolve and plumb_endpoint_check
 * clear it when they start and, when they fail, set it to one line naming
 * the endpoint or file and what is wrong, e.g.
 *
 *   tcp://127.0.0.1: missing port
 *   tcp://127.0.0.1:99999: port 99999 out of range
 *   plumb.conf:3: [naming] unknown key 'timeout' (allowed: ...)
 *
 * It is per thread and not sticky: the next of these calls on the same
 * thread overwrites it ("" after a success).  Other calls leave it alone.
 */
#ifndef PLUMB_ERROR_H
#define PLUMB_ERROR_H

#include "plumb/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The message of the calling thread's last failing call listed above, or
 * "" if the last one succeeded (or none ran).  Valid until the next such
 * call on this thread. */
PLUMB_API const char *plumb_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
