/* client_ref.c - opening a client on an object reference: choosing among
 * its endpoints (local mechanisms first on the same host and namespaces,
 * tcp elsewhere, falling back in order) and checking the object's type with
 * the built-in _is_a (docs/RUNTIME.md, "Objects and references").
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "open_opts.h"
#include "plumb/objref.h"

/* Local mechanisms, best first (shm: no system call per message). */
static const char *const local_order[] = { "shm", "unix", "mq", "sysvmq",
                                           "fifo", NULL };

static int
ep_scheme_is(const char *ep, const char *scheme)
{
  size_t n = strlen(scheme);
  return strncmp(ep, scheme, n) == 0 && ep[n] == ':';
}

static int
ep_is_tcp(const char *ep)
{
  return ep_scheme_is(ep, "tcp");
}

/* Dials ep and checks the type; PLUMB_OK with *out, or a status. */
static int
ref_try(plumb_client **out, const char *ep, const plumb_objref *ref,
        const plumb_interface *iface, const plumb_client_opts *opts)
{
  plumb_client *c;
  int st = plumb_client_open(&c, ep, ref->object, opts);
  if (st != PLUMB_OK) {
    plumb__log(PLUMB__LOG_DEBUG, "open ref: %s: %s", ep, plumb_strerror(st));
    return st;
  }
  if (iface != NULL) {
    int yes = 0;
    st = plumb_client_is_a(c, iface->type_id, &yes);
    if (st == PLUMB_ENOOP) {
      /* A server from before the built-in operations: trust the type the
       * reference names, if it names one. */
      yes = ref->type_id[0] == '\0' ||
            strcmp(ref->type_id, iface->type_id) == 0;
      st = PLUMB_OK;
    }
    if (st == PLUMB_OK && !yes) {
      plumb__log(PLUMB__LOG_WARN, "open ref: object '%s' at %s is %s, not "
                 "%s", ref->object, ep,
                 ref->type_id[0] ? ref->type_id : "of another type",
                 iface->type_id);
      st = PLUMB_EINTERFACE;
    }
    if (st != PLUMB_OK) {
      plumb_client_close(c);
      return st;
    }
  }
  *out = c;
  return PLUMB_OK;
}

/* The outcome of one endpoint is final (no point trying another) when it
 * is about the object, not the way to it. */
static int
ref_final(int st)
{
  return st == PLUMB_OK || st == PLUMB_EINTERFACE || st == PLUMB_ENOOBJECT ||
         st == PLUMB_EINVAL || st == PLUMB_ENOMEM;
}

int
plumb_client_open_ref(plumb_client **out, const plumb_objref *ref,
                      const plumb_interface *iface,
                      const plumb_client_opts *opts)
{
  const char *const *eps;
  const char *one[1];
  size_t n;
  int st = PLUMB_ECONNREFUSED, tried = 0;

  if (out == NULL)
    return PLUMB_EINVAL;
  *out = NULL;
  if (plumb_objref_is_nil(ref)) {
    plumb__log(PLUMB__LOG_WARN, "open ref: the reference is nil");
    return PLUMB_EINVAL;
  }
  if (ref->n_endpoints > 0) {
    eps = (const char *const *)ref->endpoints;
    n = ref->n_endpoints;
  } else {
    one[0] = ref->endpoint;
    eps = one;
    n = 1;
  }
  const char *host = ref->host ? ref->host : "";
  int same = host[0] != '\0' && strcmp(host, plumb_host_identity()) == 0;
  int unknown = host[0] == '\0';
  plumb_objref r = *ref;
  if (r.object == NULL)
    r.object = (char *)"";
  if (r.type_id == NULL)
    r.type_id = (char *)"";

  if (same) /* local mechanisms first, best first */
    for (size_t k = 0; local_order[k] != NULL; k++)
      for (size_t i = 0; i < n; i++)
        if (eps[i] != NULL && ep_scheme_is(eps[i], local_order[k])) {
          tried++;
          if (ref_final(st = ref_try(out, eps[i], &r, iface, opts)))
            return st;
        }
  /* Then tcp (and, for a reference of unknown origin, anything else in
   * its order).  Local endpoints of a reference from another host or
   * namespace are never dialled: the same name here is another server. */
  for (size_t i = 0; i < n; i++) {
    if (eps[i] == NULL || ep_scheme_is(eps[i], "pipe"))
      continue;
    int local = !ep_is_tcp(eps[i]);
    if (local && !unknown)
      continue;
    tried++;
    if (ref_final(st = ref_try(out, eps[i], &r, iface, opts)))
      return st;
  }
  if (!tried) {
    plumb__log(PLUMB__LOG_WARN, "open ref: no endpoint of object '%s' is "
               "reachable from here (made on another host or namespace, "
               "and no tcp endpoint)", r.object);
    return PLUMB_ECONNREFUSED;
  }
  return st;
}

int
plumb__client_open_refstr(plumb_client **out, const char *s,
                          const char *object, const plumb_client_opts *opts)
{
  plumb_objref r;
  char why[200];
  plumb_arena *a = plumb_arena_new();
  int st;

  if (a == NULL)
    return PLUMB_ENOMEM;
  if ((st = plumb_objref_parse(s, &r, a, why, sizeof why)) != PLUMB_OK) {
    plumb__log(PLUMB__LOG_WARN, "client: %s", why);
  } else {
    if (object != NULL && object[0] != '\0')
      r.object = (char *)object;
    st = plumb_client_open_ref(out, &r, NULL, opts);
  }
  plumb_arena_free(a);
  return st;
}
