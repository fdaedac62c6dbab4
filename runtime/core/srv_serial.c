/* srv_serial.c - objects whose handlers never run concurrently
 * (PLUMB_OBJECT_SERIALIZE, plumb_server_object_flags): a striped set of
 * locks, the object's chosen by its name. */
#include <string.h>

#include "server_int.h"

int
plumb_server_object_flags(plumb_server *s, const char *name, unsigned flags)
{
  if (s == NULL || name == NULL || name[0] == '\0' ||
      (flags & ~(unsigned)PLUMB_OBJECT_SERIALIZE))
    return PLUMB_EINVAL;
  srv_object *ob = plumb__srv_object_get(s, name, strlen(name));
  if (ob == NULL)
    return PLUMB_ENOOBJECT;
  ob->flags = flags; /* read by the calls after this one (documented) */
  plumb__srv_object_put(ob);
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
