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
/* Sets the server's flow-control knobs (srv_flow.c): the non-zero ones win,
 * the others stay.  Before plumb_server_run. */
void plumb__server_set_flow(plumb_server *s, size_t conn_queue_bytes,
                            unsigned conn_queue_frames,
                            uint64_t server_queue_bytes, int send_timeout_ms,
                            int frame_timeout_ms);
/* Sets the server's max_rx_memory (0 = keep; never below 2 x max_frame). */
void plumb__server_set_rx_memory(plumb_server *s, size_t max_rx_memory);
/* plumb_client_open with transport options `to` (its max_frame is ignored:
 * the client's own limit from opts is used). */
int plumb__client_open_opts(plumb_client **out, const char *endpoint,
                            const char *object, const plumb_client_opts *opts,
                            const plumb_tran_opts *to);
/* plumb_client_open on a "plumbref:" string (client_ref.c): the object
 * named in it, or `object` if that is not NULL or empty; no type check. */
int plumb__client_open_refstr(plumb_client **out, const char *ref,
                              const char *object,
                              const plumb_client_opts *opts);
/* plumb_endpoint_check for a "plumbref:" string (objref.c). */
int plumb__objref_check(const char *ref, char *err, size_t errlen);

#endif
