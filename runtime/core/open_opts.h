/* open_opts.h - opening clients and listeners with full transport options
 * (core-internal: config.c passes the configured mode, group and transport
 * knobs through these; the public open/listen calls use the defaults). */
#ifndef PLUMB_OPEN_OPTS_H
#define PLUMB_OPEN_OPTS_H

#include "plumb/client.h"
#include "plumb/server.h"
#include "transport.h"

/* plumb_server_listen with the given transport options. */
int plumb__server_listen_opts(plumb_server *s, const char *endpoint,
                              const plumb_tran_opts *to);
/* plumb_client_open with transport options `to` (its max_frame is ignored:
 * the client's own limit from opts is used). */
int plumb__client_open_opts(plumb_client **out, const char *endpoint,
                            const char *object, const plumb_client_opts *opts,
                            const plumb_tran_opts *to);

#endif
