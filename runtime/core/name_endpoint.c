/* name_endpoint.c - the "name:NAME" endpoint scheme: plumb_client_open
 * resolves NAME through the naming service (naming.c) and opens the
 * reference found.  The hook in client open calls plumb__name_open. */
#include <stdio.h>
#include <string.h>

#include "plumb/naming.h"
#include "name_endpoint.h"
#include "log.h"

int
plumb__name_open(plumb_client **out, const char *endpoint,
                 const char *object, const plumb_client_opts *opts,
                 const plumb_tran_opts *topts)
{
  char err[600];
  plumb_objref ref;
  plumb_arena *a = plumb_arena_new();
  int rc;

  if (a == NULL)
    return PLUMB_ENOMEM;
  rc = plumb_naming_resolve(&ref, endpoint + 5, a, err, sizeof err);
  if (rc != PLUMB_OK) {
    plumb__log(PLUMB__LOG_ERROR, "%s: %s", endpoint, err);
    if (rc == PLUMB_EEXCEPTION) /* NotFound     plumb__log(PLUMB__LOG_ERROR, "%s: %s", endpoint, err); co: nothing to open */
      rc = PLUMB_ENOOBJECT;
  } else if (strncmp(ref.endpoint, "name:", 5) == 0) {
    plumb__log(PLUMB__LOG_ERROR, "%s: bound to another name: endpoint "
               "'%s' (names are resolved once)", endpoint, ref.endpoint);
    rc = PLUMB_EADDR;
  } else {
    rc = plumb__client_open_opts(out, ref.endpoint,
                                 object && object[0] ? object : ref.object,
                                 opts, topts);
  }
  plumb_arena_free(a);
  return rc;
}
