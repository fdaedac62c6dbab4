/* srv_serial.c - objects whose handlers never run concurrently
 * (PLUMB_OBJECT_SERIALIZE, plumb_server_add_object_opts): a striped set of
 * locks, the object's chosen by its name. */
#include <string.h>

#include "server_int.h"

int
plumb_server_add_object_opts(plumb_server *s, const char *name,
                             const struct plumb_interface *iface,
                             const void *impl, void *ctx, unsigned flags)
{
  if (flags & ~(unsigned)PLUMB_OBJECT_SERIALIZE)
    return PLUMB_EINVAL;
  int st = plumb_server_add_object(s, name, iface, impl, ctx);
  if (st != PLUMB_OK)
    return st;
  srv_object *o =
      (srv_object *)plumb__srv_find_object(s, name, strlen(name));
  if (o == NULL)
    return PLUMB_ESERVER;
  o->flags = flags;
  return PLUMB_OK;
}

pthread_mutex_t *
plumb__srv_serial_lock(plumb_server *s, const char *name)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = name; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  return &s->calls.serial[h % SRV_SERIAL_LOCKS];
}
