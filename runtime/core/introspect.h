/* introspect.h - the reserved introspection object (introspect.c). */
#ifndef PLUMB__INTROSPECT_H
#define PLUMB__INTROSPECT_H

#include <stddef.h>

#include "server_int.h"

#define PLUMB__INTROSPECT_OBJECT "_plumb.introspect"

/* The introspection object if name (len bytes) names it and s serves it,
 * else NULL; counted like plumb__srv_object_get's. */
srv_object *plumb__introspect_find(plumb_server *s, const char *name,
                                   size_t len);

/* Switches s's introspection object off (plumb.conf introspection = off). */
void plumb__server_no_introspection(plumb_server *s);

/* Its interface (hand-written tables, checked against plumbc's by
 * tests/tools), for clients too. */
extern const plumb_interface plumb__introspect_iface;

#endif
