/* srv_objects.c - the server's object table: add and remove objects at any
 * time from any thread (handlers included), anonymous objects with
 * unguessable ids, and the counted lookup every request makes
 * (docs/RUNTIME.md, "Objects and references").
 *
 * A hash table of names (FNV-1a, chained, power-of-two size) under a
 * read-write lock: lookups share it, add and remove take it alone for a
 * few pointer moves.  Each object is counted: one reference for the
 * table, one per call in progress.  Removal unlinks it and drops the
 * table's reference; whoever drops the last one runs the destroy callback
 * and frees it, so calls in progress finish on an intact object and later
 * ones get OBJECT_NOT_EXIST.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "introspect.h"
#include "log.h"
#include "server_int.h"

#define OBJ_TAB_MIN 16

static uint32_t
obj_hash(const char *name, size_t len)
{
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= 16777619u;
  }
  return h;
}

void
plumb__srv_objects_init(plumb_server *s)
{
  pthread_rwlock_init(&s->obj_lock, NULL);
}

static void
obj_free(srv_object *ob)
{
  if (ob->destroy != NULL)
    ob->destroy(ob->ctx);
  free(ob->name);
  free(ob);
}

void
plumb__srv_objects_free(plumb_server *s)
{
  for (size_t i = 0; i < s->obj_cap; i++)
    while (s->obj_tab[i] != NULL) {
      srv_object *ob = s->obj_tab[i];
      s->obj_tab[i] = ob->hnext;
      obj_free(ob); /* no call runs any more */
    }
  free(s->obj_tab);
  s->obj_tab = NULL;
  s->obj_cap = s->n_objs = 0;
  pthread_rwlock_destroy(&s->obj_lock);
}

/* The object called name in the table, or NULL; holds obj_lock. */
static srv_object *
obj_find(plumb_server *s, const char *name, size_t len, uint32_t h)
{
  if (s->obj_cap == 0)
    return NULL;
  for (srv_object *ob = s->obj_tab[h & (s->obj_cap - 1)]; ob != NULL;
       ob = ob->hnext)
    if (ob->hash == h && ob->name_len == len &&
        memcmp(ob->name, name, len) == 0)
      return ob;
  return NULL;
}

/* Doubles the table when it is 3/4 full; holds obj_lock for writing. */
static int
obj_grow(plumb_server *s)
{
  if (s->obj_cap != 0 && s->n_objs + 1 <= s->obj_cap / 4 * 3)
    return PLUMB_OK;
  size_t cap = s->obj_cap ? s->obj_cap * 2 : OBJ_TAB_MIN;
  srv_object **t = calloc(cap, sizeof(*t));
  if (t == NULL)
    return PLUMB_ENOMEM;
  for (size_t i = 0; i < s->obj_cap; i++)
    while (s->obj_tab[i] != NULL) {
      srv_object *ob = s->obj_tab[i];
      s->obj_tab[i] = ob->hnext;
      ob->hnext = t[ob->hash & (cap - 1)];
      t[ob->hash & (cap - 1)] = ob;
    }
  free(s->obj_tab);
  s->obj_tab = t;
  s->obj_cap = cap;
  return PLUMB_OK;
}

/* 128 random bits as 32 lowercase hex digits. */
static int
obj_random_id(char out[PLUMB_OBJECT_ID_MAX])
{
  uint8_t r[16];
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = getrandom(r + got, sizeof r - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return PLUMB_ESYS;
    }
    got += (size_t)n;
  }
  for (size_t i = 0; i < sizeof r; i++)
    snprintf(out + 2 * i, 3, "%02x", r[i]);
  return PLUMB_OK;
}

int
plumb_server_add_object_opts(plumb_server *s,
                             const struct plumb_interface *iface,
                             const void *impl, void *ctx,
                             const plumb_object_opts *o,
                             char id_out[PLUMB_OBJECT_ID_MAX])
{
  char anon[PLUMB_OBJECT_ID_MAX];
  const char *name = o ? o->name : NULL;
  int st;

  if (s == NULL || iface == NULL)
    return PLUMB_EINVAL;
  if (iface->abi != PLUMB_GENERATED_ABI) {
    plumb__log(PLUMB__LOG_ERROR, "object '%s': interface %s built for "
               "generated ABI %u, libplumb has %u", name ? name : "(anon)",
               iface->type_id, iface->abi, PLUMB_GENERATED_ABI);
    return PLUMB_EVERSION;
  }
  if (name != NULL && (name[0] == '\0' ||
                       strlen(name) > PLUMB__FRAME_TEXT_MAX)) {
    plumb__log(PLUMB__LOG_ERROR, "add object: a name must have 1 to %u "
               "bytes", PLUMB__FRAME_TEXT_MAX);
    return PLUMB_EINVAL;
  }
  srv_object *ob = calloc(1, sizeof(*ob));
  if (ob == NULL)
    return PLUMB_ENOMEM;
  ob->iface = iface;
  ob->impl = impl;
  ob->ctx = ctx;
  ob->destroy = o ? o->destroy : NULL;
  ob->anon = name == NULL; /* introspection never lists these */
  atomic_init(&ob->refs, 1);
  pthread_rwlock_wrlock(&s->obj_lock);
  for (int tries = 0;; tries++) {
    if (name == NULL) {
      if (tries == 4 || (st = obj_random_id(anon)) != PLUMB_OK) {
        st = tries == 4 ? PLUMB_EBUSY : st;
        goto fail;
      }
    }
    const char *nm = name ? name : anon;
    size_t len = strlen(nm);
    uint32_t h = obj_hash(nm, len);
    if (obj_find(s, nm, len, h) != NULL) {
      if (name != NULL) {
        plumb__log(PLUMB__LOG_ERROR, "add object: '%s' already exists", nm);
        st = PLUMB_EBUSY;
        goto fail;
      }
      continue; /* 2^-128: but never hand out a live id twice */
    }
    if ((st = obj_grow(s)) != PLUMB_OK || (ob->name = strdup(nm)) == NULL) {
      st = PLUMB_ENOMEM;
      goto fail;
    }
    ob->name_len = len;
    ob->hash = h;
    break;
  }
  ob->hnext = s->obj_tab[ob->hash & (s->obj_cap - 1)];
  s->obj_tab[ob->hash & (s->obj_cap - 1)] = ob;
  s->n_objs++;
  if (!s->had_default) { /* the first object added is the default */
    s->had_default = 1;
    s->default_obj = ob;
  }
  /* Copied under the lock: once it is released another thread may remove
   * and free the object. */
  if (id_out != NULL)
    snprintf(id_out, PLUMB_OBJECT_ID_MAX, "%s", ob->name);
  pthread_rwlock_unlock(&s->obj_lock);
  return PLUMB_OK;

fail:
  pthread_rwlock_unlock(&s->obj_lock);
  free(ob);
  return st;
}

int
plumb_server_add_object(plumb_server *s, const char *name,
                        const plumb_interface *iface, const void *impl,
                        void *ctx)
{
  plumb_object_opts o = { 0 };
  if (name == NULL)
    return PLUMB_EINVAL;
  o.name = name;
  return plumb_server_add_object_opts(s, iface, impl, ctx, &o, NULL);
}

int
plumb_server_remove_object(plumb_server *s, const char *name)
{
  if (s == NULL || name == NULL)
    return PLUMB_EINVAL;
  size_t len = strlen(name);
  uint32_t h = obj_hash(name, len);
  pthread_rwlock_wrlock(&s->obj_lock);
  srv_object *ob = NULL;
  if (s->obj_cap != 0)
    for (srv_object **p = &s->obj_tab[h & (s->obj_cap - 1)]; *p != NULL;
         p = &(*p)->hnext)
      if ((*p)->hash == h && (*p)->name_len == len &&
          memcmp((*p)->name, name, len) == 0) {
        ob = *p;
        *p = ob->hnext;
        s->n_objs--;
        break;
      }
  if (ob != NULL && s->default_obj == ob)
    s->default_obj = NULL;
  pthread_rwlock_unlock(&s->obj_lock);
  if (ob == NULL)
    return PLUMB_ENOOBJECT;
  plumb__srv_object_put(ob); /* the table's reference */
  return PLUMB_OK;
}

srv_object *
plumb__srv_object_get(plumb_server *s, const char *name, size_t len)
{
  srv_object *ob;
  if (len > 0 && (ob = plumb__introspect_find(s, name, len)) != NULL)
    return ob; /* the reserved introspection object (introspect.c) */
  pthread_rwlock_rdlock(&s->obj_lock);
  ob = len == 0 ? s->default_obj : obj_find(s, name, len,
                                            obj_hash(name, len));
  if (ob != NULL)
    atomic_fetch_add_explicit(&ob->refs, 1, memory_order_relaxed);
  pthread_rwlock_unlock(&s->obj_lock);
  return ob;
}

void
plumb__srv_object_put(srv_object *ob)
{
  if (ob != NULL &&
      atomic_fetch_sub_explicit(&ob->refs, 1, memory_order_acq_rel) == 1)
    obj_free(ob);
}
