/* srv_ref.c - plumb_server_ref(): the reference of one of the server's
 * objects, with every endpoint it listens on, as clients dial them
 * (docs/RUNTIME.md, "Objects and references").
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "plumb/objref.h"
#include "server_int.h"

/* pipe: endpoints are the server's own stdin/stdout: only the process that
 * started it can reach them, and `pipe:exec=` would start another server
 * per client - not this object.  A reference never carries one. */
static int
ref_carries(const srv_listener *sl)
{
  return strcmp(sl->tr->scheme, "pipe") != 0;
}

int
plumb_server_ref(plumb_server *s, const char *name, plumb_objref *ref,
                 plumb_arena *arena)
{
  static const plumb_objref nil = PLUMB_OBJREF_INIT;
  char buf[512];
  int st = PLUMB_OK;

  if (s == NULL || ref == NULL || arena == NULL)
    return PLUMB_EINVAL;
  *ref = nil;
  srv_object *ob = plumb__srv_object_get(s, name ? name : "",
                                         name ? strlen(name) : 0);
  if (ob == NULL) {
    plumb__log(PLUMB__LOG_WARN, "server ref: no object '%s'",
               name ? name : "(default)");
    return PLUMB_ENOOBJECT;
  }
  ref->object = plumb_arena_strdup(arena, ob->name);
  ref->type_id = plumb_arena_strdup(arena, ob->iface->type_id);
  ref->host = plumb_arena_strdup(arena, plumb_host_identity());
  plumb__srv_object_put(ob);
  if (ref->object == NULL || ref->type_id == NULL || ref->host == NULL)
    return PLUMB_ENOMEM;

  pthread_mutex_lock(&s->mu);
  size_t n = 0;
  for (srv_listener *sl = s->listeners; sl != NULL; sl = sl->next)
    n += ref_carries(sl);
  char **eps = n ? plumb_arena_alloc(arena, n * sizeof(char *)) : NULL;
  size_t k = n;
  /* s->listeners is newest first: fill from the back, so the reference
   * lists endpoints in the order the server listened on them. */
  for (srv_listener *sl = s->listeners; sl != NULL && eps != NULL;
       sl = sl->next) {
    if (!ref_carries(sl))
      continue;
    const char *ep = sl->endpoint;
    if (sl->tr->listener_endpoint != NULL &&
        sl->tr->listener_endpoint(sl->l, buf, sizeof buf) == PLUMB_OK)
      ep = buf;
    if ((eps[--k] = plumb_arena_strdup(arena, ep)) == NULL) {
      st = PLUMB_ENOMEM;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  if (n != 0 && eps == NULL)
    st = PLUMB_ENOMEM;
  if (st != PLUMB_OK)
    return st;
  if (n == 0) {
    plumb__log(PLUMB__LOG_WARN, "server ref '%s': the server listens on no "
               "endpoint a reference can carry (pipe: endpoints never are)",
               ref->object);
    ref->object = ref->type_id = ref->host = (char *)"";
    return PLUMB_ENOTSUP;
  }
  ref->endpoints = eps;
  ref->n_endpoints = n;
  ref->endpoint = eps[0];
  return PLUMB_OK;
}
