/* srv_objects.c - the server's object table: plumb_server_add_object and
 * the lookup requests use.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server_int.h"

int
plumb_server_add_object(plumb_server *s, const char *name,
                        const plumb_interface *iface, const void *impl,
                        void *ctx)
{
  if (s == NULL || name == NULL || iface == NULL)
    return PLUMB_EINVAL;
  if (iface->abi != PLUMB_GENERATED_ABI) {
    plumb__log(PLUMB__LOG_ERROR, "object '%s': interface %s built for "
               "generated ABI %u, libplumb has %u", name, iface->type_id,
               iface->abi, PLUMB_GENERATED_ABI);
    return PLUMB_EVERSION;
  }
  if (strlen(name) > PLUMB__FRAME_TEXT_MAX)
    return PLUMB_EINVAL;
  for (size_t i = 0; i < s->n_objs; i++)
    if (strcmp(s->objs[i].name, name) == 0)
      return PLUMB_EBUSY;
  if (s->n_objs == s->cap_objs) {
    size_t cap = s->cap_objs ? s->cap_objs * 2 : 4;
    srv_object *n = realloc(s->objs, cap * sizeof(*n));
    if (n == NULL)
      return PLUMB_ENOMEM;
    s->objs = n;
    s->cap_objs = cap;
  }
  srv_object *ob = &s->objs[s->n_objs];
  if ((ob->name = strdup(name)) == NULL)
    return PLUMB_ENOMEM;
  ob->name_len = strlen(name);
  ob->iface = iface;
  ob->impl = impl;
  ob->ctx = ctx;
  ob->flags = 0;
  s->n_objs++;
  return PLUMB_OK;
}

const srv_object *
plumb__srv_find_object(plumb_server *s, const char *name, size_t len)
{
  if (len == 0)
    return s->n_objs ? &s->objs[0] : NULL;
  for (size_t i = 0; i < s->n_objs; i++)
    if (s->objs[i].name_len == len && memcmp(s->objs[i].name, name, len) == 0)
      return &s->objs[i];
  return NULL;
}
