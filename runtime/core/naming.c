/* naming.c - the client side of the naming service (plumb/naming.h):
 * finding plumb-naming through the configuration, resolve / rebind /
 * unbind by stringified name, and plumb_naming_run, the server helper that
 * keeps a server's objects bound while it runs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/config.h"
#include "plumb/naming.h"
#include "naming_names.h"
#include "naming_wire.h"

#define NAMING_MAX_COMPONENTS 64

static int
say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
  va_list ap;
  if (err != NULL && errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Opens a client of the root context; *ep receives the endpoint used. */
static int
naming_open(plumb_client **c, plumb_config *cfg, char *err, size_t errlen)
{
  char why[512];
  int rc = plumb_config_resolve("naming", NULL, cfg, why, sizeof why);
  if (rc != PLUMB_OK)
    return say(err, errlen, rc, "naming service: %s", why);
  if (strncmp(cfg->endpoint, "name:", 5) == 0)
    return say(err, errlen, PLUMB_ECONFIG, "naming service endpoint '%s' "
               "is itself a name: endpoint (set PLUMB_NAMING_ENDPOINT or "
               "[naming] endpoint to a transport endpoint)", cfg->endpoint);
  plumb_client_opts o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = cfg->timeout_ms;
  o.max_frame = cfg->max_frame;
  rc = plumb_client_open(c, cfg->endpoint, PLUMB_NAMING_ROOT, &o);
  if (rc != PLUMB_OK)
    return say(err, errlen, rc, "naming service at %s: %s", cfg->endpoint,
               plumb_strerror(rc));
  return PLUMB_OK;
}

/* Explains a failed naming call on name. */
static int
call_failed(plumb_client *c, const plumb_config *cfg, plumb_arena *a,
            int rc, const char *op, const char *name, char *err,
            size_t errlen)
{
  const char *tid = NULL;
  if (rc == PLUMB_EEXCEPTION && plumb_arena_exception(a, &tid) != NULL &&
      tid != NULL) {
    if (strstr(tid, "/NotFound:") != NULL)
      return say(err, errlen, rc, "name '%s' is not bound in the naming "
                 "service at %s", name, cfg->endpoint);
    if (strstr(tid, "/InvalidName:") != NULL)
      return say(err, errlen, PLUMB_EINVAL, "'%s' is not a valid name",
                 name);
    return say(err, errlen, rc, "%s '%s': naming service at %s raised %s",
               op, name, cfg->endpoint, tid);
  }
  return say(err, errlen, rc, "%s '%s': naming service at %s: %s", op, name,
             cfg->endpoint, plumb_client_last_error(c));
}

int
plumb_naming_resolve(plumb_objref *ref, const char *name, plumb_arena *arena,
                     char *err, size_t errlen)
{
  plumb_client *c;
  plumb_config cfg;
  plumb__nres_req req = { PROTOBUF_C_MESSAGE_INIT(&plumb__nres_req_descriptor),
                          NULL };
  ProtobufCMessage *rep = NULL;
  int rc;

  if (ref == NULL || name == NULL || arena == NULL)
    return say(err, errlen, PLUMB_EINVAL, "plumb_naming_resolve: NULL "
               "argument");
  if (name[0] == '\0' || strlen(name) > 4096)
    return say(err, errlen, PLUMB_EINVAL, "'%s' is not a valid name: "
               "1 to 4096 bytes", name);
  if ((rc = naming_open(&c, &cfg, err, errlen)) != PLUMB_OK)
    return rc;
  req.sn = (char *)name;
  rc = plumb_invoke(c, &plumb__naming_ext_iface, PLUMB__NOP_RESOLVE_STR,
                    &req.base, &rep, arena);
  if (rc != PLUMB_OK) {
    rc = call_failed(c, &cfg, arena, rc, "resolve", name, err, errlen);
  } else {
    const plumb__nres_rep *r = (const plumb__nres_rep *)rep;
    if (r->_ret == NULL || r->_ret->endpoint[0] == '\0') {
      rc = say(err, errlen, PLUMB_ENOOBJECT, "name '%s' is bound to a nil "
               "reference", name);
    } else {
      *ref = *r->_ret;
      say(err, errlen, 0, "%s", "");
    }
  }
  plumb_client_close(c);
  return rc;
}

/* Sends rebind (ref != NULL) or unbind of name. */
static int
naming_change(const char *name, const plumb_objref *ref, char *err,
              size_t errlen)
{
  plumb__nn_comp *comps;
  size_t n;
  plumb_client *c;
  plumb_config cfg;
  int rc;

  if (name == NULL || plumb__nn_parse(name, NAMING_MAX_COMPONENTS, &comps,
                                      &n) != 0)
    return say(err, errlen, PLUMB_EINVAL, "'%s' is not a valid name "
               "(components separated by '/', at most %d)",
               name ? name : "(null)", NAMING_MAX_COMPONENTS);
  plumb__nc *nc = calloc(n, sizeof *nc);
  plumb__nc **pv = calloc(n, sizeof *pv);
  plumb_arena *a = plumb_arena_new();
  if (nc == NULL || pv == NULL || a == NULL) {
    rc = say(err, errlen, PLUMB_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    nc[i].base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(
        &plumb__nc_descriptor);
    nc[i].id = comps[i].id;
    nc[i].kind = comps[i].kind;
    pv[i] = &nc[i];
  }
  plumb__nbind_req req = { PROTOBUF_C_MESSAGE_INIT(
                               ref ? &plumb__nrebind_req_descriptor
                                   : &plumb__nunbind_req_descriptor),
                           n, pv, (plumb_objref *)ref };
  if ((rc = naming_open(&c, &cfg, err, errlen)) != PLUMB_OK)
    goto out;
  ProtobufCMessage *rep = NULL;
  rc = plumb_invoke(c, &plumb__naming_ctx_iface,
                    ref ? PLUMB__NOP_REBIND : PLUMB__NOP_UNBIND, &req.base,
                    &rep, a);
  if (rc != PLUMB_OK)
    rc = call_failed(c, &cfg, a, rc, ref ? "bind" : "unbind", name, err,
                     errlen);
  plumb_client_close(c);
out:
  plumb_arena_free(a);
  free(pv);
  free(nc);
  plumb__nn_free(comps, n);
  return rc;
}

int
plumb_naming_rebind(const char *name, const plumb_objref *ref, char *err,
                    size_t errlen)
{
  if (ref == NULL)
    return say(err, errlen, PLUMB_EINVAL, "plumb_naming_rebind: NULL "
               "reference");
  return naming_change(name, ref, err, errlen);
}

int
plumb_naming_unbind(const char *name, char *err, size_t errlen)
{
  return naming_change(name, NULL, err, errlen);
}

int
plumb_naming_run(plumb_server *s, const plumb_naming_entry *e, size_t n,
                 int handle_signals, char *err, size_t errlen)
{
  size_t done;
  int rc = PLUMB_OK;

  if (s == NULL || (n > 0 && e == NULL))
    return say(err, errlen, PLUMB_EINVAL, "plumb_naming_run: NULL argument");
  for (done = 0; done < n; done++) {
    plumb_objref ref = PLUMB_OBJREF_INIT;
    ref.endpoint = (char *)(e[done].endpoint ? e[done].endpoint : "");
    ref.object = (char *)(e[done].object ? e[done].object : "");
    ref.type_id = (char *)(e[done].type_id ? e[done].type_id : "");
    if ((rc = plumb_naming_rebind(e[done].name, &ref, err, errlen)) !=
        PLUMB_OK)
      break;
  }
  if (rc == PLUMB_OK)
    rc = plumb_server_run(s, handle_signals);
  int first = rc;
  char why[512];
  while (done-- > 0) /* unbind what we bound, newest first */
    if (plumb_naming_unbind(e[done].name, why, sizeof why) != PLUMB_OK &&
        first == PLUMB_OK)
      first = say(err, errlen, PLUMB_ESERVER, "%s", why);
  return first;
}
