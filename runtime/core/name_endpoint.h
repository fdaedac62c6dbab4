/* name_endpoint.h - the name: endpoint scheme (name_endpoint.c). */
#ifndef PLUMB__NAME_ENDPOINT_H
#define PLUMB__NAME_ENDPOINT_H

#include "plumb/client.h"
#include "open_opts.h"

/* endpoint starts with "name:"; opens what the name is bound to. */
int plumb__name_open(plumb_client **out, const char *endpoint,
                     const char *object, const plumb_client_opts *opts,
                     const plumb_tran_opts *topts);

#endif
