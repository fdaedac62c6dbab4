/* plumb/naming.h - the client side of the naming service (plumb-naming,
 * CosNaming): resolve a name to a reference, bind and unbind names, and a
 * server helper that keeps its objects bound while it runs.
 *
 * The naming service is found like any service named "naming"
 * (plumb/config.h): PLUMB_NAMING_ENDPOINT, then plumb.conf section [naming]
 * key `endpoint`, then unix:$XDG_RUNTIME_DIR/plumb-naming.sock (PLUMB_ENDPOINT
 * is not consulted: it names the program's own service).  Its root context is the
 * object "NameService".  Names are CosNaming stringified names:
 * "apps/messenger", "apps/calc.service" (id.kind), '\' escapes '/', '.'
 * and '\'.  docs/TOOLS.md has the details.
 *
 * The endpoint scheme "name:NAME" (e.g. "name:apps/messenger"), accepted by
 * plumb_client_open and so by plumb.conf and the environment, resolves NAME
 * here and opens the reference found: its endpoint, and its object unless
 * the caller names one.
 */
#ifndef PLUMB_NAMING_H
#define PLUMB_NAMING_H

#include <stddef.h>

#include "plumb/arena.h"
#include "plumb/export.h"
#include "plumb/generated.h"
#include "plumb/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the root context object of plumb-naming. */
#define PLUMB_NAMING_ROOT "NameService"

/* Resolves name into *ref, whose strings live in arena.  PLUMB_OK, or:
 * PLUMB_EEXCEPTION with a message naming the name if it is not bound (or a
 * context on the way is missing), PLUMB_EINVAL if name is not a valid
 * stringified name, a transport status if the naming service cannot be
 * reached.  The reason is in err (if errlen > 0). */
PLUMB_API int plumb_naming_resolve(plumb_objref *ref, const char *name,
                                   plumb_arena *arena, char *err,
                                   size_t errlen);
/* Binds name to ref, replacing what name was bound to (CosNaming rebind).
 * The contexts on the way must exist. */
PLUMB_API int plumb_naming_rebind(const char *name, const plumb_objref *ref,
                                  char *err, size_t errlen);
/* Removes the binding of name. */
PLUMB_API int plumb_naming_unbind(const char *name, char *err,
                                  size_t errlen);

/* One object a server publishes: name -> (endpoint, object, type_id). */
typedef struct plumb_naming_entry {
  const char *name;     /* "apps/messenger" */
  const char *endpoint; /* where clients reach the server */
  const char *object;   /* object name on the server */
  const char *type_id;  /* its interface, e.g. iface->type_id */
} plumb_naming_entry;

/* Server helper: rebinds every entry, runs plumb_server_run(s,
 * handle_signals) and, after a clean stop, unbinds them again.  If a
 * binding fails nothing is left bound and the server is not run: the
 * status is returned with the reason in err. */
PLUMB_API int plumb_naming_run(plumb_server *s,
                               const plumb_naming_entry *entries, size_t n,
                               int handle_signals, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
