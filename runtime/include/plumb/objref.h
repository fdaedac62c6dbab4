/* plumb/objref.h - object references at run time: the reference of a
 * server's object, opening a client on a reference (type-checked), the
 * built-in operations every object answers, the nil reference and the
 * `plumbref:` string form (docs/RUNTIME.md, "Objects and references";
 * docs/IDL-MAPPING.md, "Object references").
 *
 * A reference (plumb_objref, plumb/generated.h) lists every endpoint its
 * server listens on, like an IOR with one profile per mechanism, the
 * object's name and most-derived type id, and the identity of the host and
 * IPC namespace it was made in.
 */
#ifndef PLUMB_OBJREF_H
#define PLUMB_OBJREF_H

#include "plumb/client.h"
#include "plumb/generated.h"
#include "plumb/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The nil reference: no endpoint, no object. */
#define PLUMB_OBJREF_NIL PLUMB_OBJREF_INIT
/* 1 if r is NULL or nil (no endpoint at all), else 0. */
PLUMB_API int plumb_objref_is_nil(const plumb_objref *r);

/* The reference of object `name` of server s (NULL or "" = the default
 * object) with every endpoint s listens on, real addresses (a tcp port 0
 * resolved), pipe: endpoints left out; strings in arena.  PLUMB_ENOOBJECT
 * if there is no such object, PLUMB_ENOTSUP if s listens on nothing a
 * reference can carry. */
PLUMB_API int plumb_server_ref(plumb_server *s, const char *name,
                               plumb_objref *ref, plumb_arena *arena);

/* Opens a client on ref: endpoints of local mechanisms first when ref was
 * made on this host and in this IPC namespace, tcp otherwise, falling back
 * in that order when one fails.  With iface (may be NULL) the object is
 * asked `_is_a(iface->type_id)` and a wrong one fails with
 * PLUMB_EINTERFACE naming both types; a nil ref gives PLUMB_EINVAL. */
PLUMB_API int plumb_client_open_ref(plumb_client **out,
                                    const plumb_objref *ref,
                                    const plumb_interface *iface,
                                    const plumb_client_opts *opts);

/* The built-in operations (docs/PROTOCOL.md 2.8). */
PLUMB_API int plumb_client_is_a(plumb_client *c, const char *type_id,
                                int *yes);
/* *gone = 1 if the object no longer exists (never fails for that). */
PLUMB_API int plumb_client_non_existent(plumb_client *c, int *gone);
/* The object's most-derived type id, in arena. */
PLUMB_API int plumb_client_interface(plumb_client *c, char **type_id,
                                     plumb_arena *arena);

/* The string form:
 *   plumbref:OBJECT?type=TYPE_ID&host=HOST&ep=ENDPOINT&ep=ENDPOINT...
 * every part percent-encoded; "plumbref:" alone is nil.  format writes it
 * into arena; parse reads one (strings in arena) - PLUMB_EADDR naming what
 * is wrong, in why (may be NULL) if it is malformed. */
PLUMB_API int plumb_objref_format(const plumb_objref *r, char **out,
                                  plumb_arena *arena);
PLUMB_API int plumb_objref_parse(const char *s, plumb_objref *r,
                                 plumb_arena *arena, char *why,
                                 size_t why_len);

/* This host's and IPC namespace's identity, as references carry it. */
PLUMB_API const char *plumb_host_identity(void);

#ifdef __cplusplus
}
#endif
#endif
