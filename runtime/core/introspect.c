/* introspect.c - the introspection object every server answers on the
 * reserved name "_plumb.introspect" (docs/TOOLS.md), serving
 * plumb::introspect::Introspector (idl/plumb/introspect.idl):
 *   list_objects  the objects served, with their type ids;
 *   describe      name, type id, bases and the IDL text plumbc emitted
 *                 (plumb_interface.idl) of a served interface or a base;
 *   info          version, uptime, endpoints, object count, health.
 * It reveals nothing but the IDL of what is served.  It is found through
 * plumb__srv_object_get (one hook), so it is not in the object table and
 * never becomes a server's default object; access rules are those of the
 * connection, as for every object.  list_objects leaves out anonymous
 * objects: their ids are capabilities.  The protobuf-c tables are written by
 * hand (libplumb carries no plumbc-generated code); tests/tools compares
 * them with what plumbc makes of introspect.idl. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plumb/plumb.h"
#include "call.h"
#include "introspect.h"

#define NS "plumb.introspect."
#define TID "IDL:plumb/introspect/Introspector:1.0"
#define TID_UNKNOWN "IDL:plumb/introspect/UnknownType:1.0"
#define ID_INTROSPECTOR 0x6e72ab04u /* plumb_type_hash(TID), tested */

typedef struct objinfo {
  ProtobufCMessage base;
  char *name, *type_id;
} objinfo;
typedef struct list_rep {
  ProtobufCMessage base;
  size_t n_ret;
  objinfo **ret;
} list_rep;
typedef struct str_msg { /* describe request, UnknownType */
  ProtobufCMessage base;
  char *type_id;
} str_msg;
typedef struct ifdesc {
  ProtobufCMessage base;
  char *name, *type_id;
  size_t n_bases;
  char **bases;
  char *idl;
} ifdesc;
typedef struct desc_rep {
  ProtobufCMessage base;
  ifdesc *ret;
} desc_rep;
typedef struct srvinfo {
  ProtobufCMessage base;
  char *version;
  uint64_t uptime_ms;
  size_t n_endpoints;
  char **endpoints;
  uint32_t objects;
  uint64_t calls_served;
  char *health;
} srvinfo;
typedef struct info_rep {
  ProtobufCMessage base;
  srvinfo *ret;
} info_rep;
typedef struct empty_msg {
  ProtobufCMessage base;
} empty_msg;

#define STR(n, id, T, f)                                                       \
  { n, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(T, f),  \
    NULL, protobuf_c_empty_string, 0, 0, NULL, NULL }
#define MSG(n, id, T, f, d)                                                    \
  { n, id, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(T, f), \
    d, NULL, 0, 0, NULL, NULL }
#define REP(n, id, ty, T, f, d)                                                \
  { n, id, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_##ty,                   \
    offsetof(T, n_##f), offsetof(T, f), d, NULL, 0, 0, NULL, NULL }
#define DESC(var, full, T, flds, nf, byname, rngs, nr)                     \
  static void var##_init(ProtobufCMessage *m);                                \
  static const ProtobufCMessageDescriptor var = {                             \
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, NS full, full, #T, "plumb.introspect", \
    sizeof(T), nf, flds, byname, nr, rngs,                                \
    (ProtobufCMessageInit)var##_init, NULL, NULL, NULL };                     \
  static void var##_init(ProtobufCMessage *m)                                 \
  {                                                                           \
    memset(m, 0, sizeof(T));                                                  \
    m->descriptor = &var;                                                     \
    for (unsigned i = 0; i < var.n_fields; i++)                               \
      if (var.fields[i].default_value != NULL)                                \
        *(const char **)((char *)m + var.fields[i].offset) =                  \
            protobuf_c_empty_string;                                          \
  }

static const unsigned by_name_0[1] = { 0 };
static const unsigned by_name_1[1] = { 0 };
static const unsigned by_name_2[2] = { 1, 0 }; /* name, type_id */
static const ProtobufCIntRange none[1] = { { 0, 0 } };
static const ProtobufCIntRange r1[2] = { { 1, 0 }, { 0, 1 } };
static const ProtobufCIntRange r2[2] = { { 1, 0 }, { 0, 2 } };

static const ProtobufCFieldDescriptor objinfo_f[2] = {
  STR("name", 1, objinfo, name), STR("type_id", 2, objinfo, type_id),
};
DESC(objinfo_d, "ObjectInfo", objinfo, objinfo_f, 2, by_name_2, r2, 1)

static const ProtobufCFieldDescriptor list_rep_f[1] = {
  REP("_ret", 1, MESSAGE, list_rep, ret, &objinfo_d),
};
DESC(list_rep_d, "Introspector_list_objects_Reply", list_rep, list_rep_f, 1,
     by_name_1, r1, 1)
DESC(empty_d, "Introspector_Request", empty_msg, NULL, 0, by_name_0, none, 0)

static const ProtobufCFieldDescriptor str_f[1] = {
  STR("type_id", 1, str_msg, type_id),
};
DESC(desc_req_d, "Introspector_describe_Request", str_msg, str_f, 1,
     by_name_1, r1, 1)
DESC(unknown_d, "UnknownType", str_msg, str_f, 1, by_name_1, r1, 1)

static const ProtobufCFieldDescriptor ifdesc_f[4] = {
  STR("name", 1, ifdesc, name), STR("type_id", 2, ifdesc, type_id),
  REP("bases", 3, STRING, ifdesc, bases, NULL), STR("idl", 4, ifdesc, idl),
};
static const unsigned ifdesc_by_name[4] = { 2, 3, 0, 1 };
static const ProtobufCIntRange r4[2] = { { 1, 0 }, { 0, 4 } };
DESC(ifdesc_d, "InterfaceDesc", ifdesc, ifdesc_f, 4, ifdesc_by_name, r4, 1)
static const ProtobufCFieldDescriptor desc_rep_f[1] = {
  MSG("_ret", 1, desc_rep, ret, &ifdesc_d),
};
DESC(desc_rep_d, "Introspector_describe_Reply", desc_rep, desc_rep_f, 1,
     by_name_1, r1, 1)

static const ProtobufCFieldDescriptor srvinfo_f[6] = {
  STR("version", 1, srvinfo, version),
  { "uptime_ms", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT64, 0,
    offsetof(srvinfo, uptime_ms), NULL, NULL, 0, 0, NULL, NULL },
  REP("endpoints", 3, STRING, srvinfo, endpoints, NULL),
  { "objects", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT32, 0,
    offsetof(srvinfo, objects), NULL, NULL, 0, 0, NULL, NULL },
  { "calls_served", 5, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT64, 0,
    offsetof(srvinfo, calls_served), NULL, NULL, 0, 0, NULL, NULL },
  STR("health", 6, srvinfo, health),
};
static const unsigned srvinfo_by_name[6] = { 4, 2, 5, 3, 1, 0 };
static const ProtobufCIntRange r6[2] = { { 1, 0 }, { 0, 6 } };
DESC(srvinfo_d, "ServerInfo", srvinfo, srvinfo_f, 6, srvinfo_by_name, r6, 1)
static const ProtobufCFieldDescriptor info_rep_f[1] = {
  MSG("_ret", 1, info_rep, ret, &srvinfo_d),
};
DESC(info_rep_d, "Introspector_info_Reply", info_rep, info_rep_f, 1,
     by_name_1, r1, 1)

static const plumb_type_info unknown_type = { TID_UNKNOWN, &unknown_d };
static const plumb_type_info *const describe_raises[1] = { &unknown_type };

/* ---- the handlers ----------------------------------------------------------- */

static int
list_thunk(const void *impl, void *ctx, plumb_call *call,
           const ProtobufCMessage *rq, ProtobufCMessage *rp)
{
  plumb_server *s = call->server;
  list_rep *r = (list_rep *)rp;
  int st = PLUMB_OK;
  (void)impl, (void)ctx, (void)rq;
  pthread_rwlock_rdlock(&s->obj_lock);
  r->ret = plumb_call_alloc(call, (s->n_objs + 1) * sizeof *r->ret);
  for (size_t b = 0; r->ret && b < s->obj_cap; b++)
    for (srv_object *ob = s->obj_tab[b]; ob && st == PLUMB_OK;
         ob = ob->hnext) {
      if (ob->anon || r->n_ret == s->n_objs)
        continue; /* an anonymous object's id is a capability */
      objinfo *o = plumb_call_alloc(call, sizeof *o);
      if (o == NULL) {
        st = PLUMB_ENOMEM;
        break;
      }
      objinfo_d_init(&o->base);
      o->name = plumb_call_strdup(call, ob->name);
      o->type_id = (char *)ob->iface->type_id;
      r->ret[r->n_ret++] = o;
    }
  pthread_rwlock_unlock(&s->obj_lock);
  return r->ret == NULL ? PLUMB_ENOMEM : st;
}

/* The served interface (or a base of one) with type id tid; bounded. */
static const plumb_interface *
find_iface(const plumb_interface *i, const char *tid, unsigned depth)
{
  if (i == NULL || depth > 64)
    return NULL;
  if (strcmp(i->type_id, tid) == 0)
    return i;
  for (size_t b = 0; b < i->n_bases; b++) {
    const plumb_interface *f = find_iface(i->bases[b], tid, depth + 1);
    if (f)
      return f;
  }
  return NULL;
}

/* "IDL:a/b/C:1.0" -> "a::b::C" in the call's arena */
static char *
scoped_of(plumb_call *call, const char *tid)
{
  const char *p = strncmp(tid, "IDL:", 4) == 0 ? tid + 4 : tid;
  const char *end = strrchr(p, ':');
  size_t n = end ? (size_t)(end - p) : strlen(p), k = 0;
  char *o = plumb_call_alloc(call, 2 * n + 1);
  if (o == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '/') {
      o[k++] = ':';
      o[k++] = ':';
    } else {
      o[k++] = p[i];
    }
  }
  o[k] = '\0';
  return o;
}

static int
describe_thunk(const void *impl, void *ctx, plumb_call *call,
               const ProtobufCMessage *rq, ProtobufCMessage *rp)
{
  plumb_server *s = call->server;
  const str_msg *q = (const str_msg *)rq;
  desc_rep *r = (desc_rep *)rp;
  const plumb_interface *i = NULL;
  (void)impl, (void)ctx;
  /* interfaces live as long as the program: no lock needed after */
  pthread_rwlock_rdlock(&s->obj_lock);
  for (size_t b = 0; b < s->obj_cap && i == NULL; b++)
    for (srv_object *ob = s->obj_tab[b]; ob && i == NULL; ob = ob->hnext)
      i = find_iface(ob->iface, q->type_id, 0);
  pthread_rwlock_unlock(&s->obj_lock);
  if (i == NULL) {
    str_msg ex;
    unknown_d_init(&ex.base);
    ex.type_id = q->type_id;
    return plumb_call_raise(call, &unknown_type, &ex);
  }
  ifdesc *d = plumb_call_alloc(call, sizeof *d);
  if (d == NULL)
    return PLUMB_ENOMEM;
  ifdesc_d_init(&d->base);
  d->type_id = (char *)i->type_id;
  d->name = scoped_of(call, i->type_id);
  d->bases = plumb_call_alloc(call, (i->n_bases + 1) * sizeof *d->bases);
  if (d->name == NULL || d->bases == NULL)
    return PLUMB_ENOMEM;
  for (size_t b = 0; b < i->n_bases; b++)
    d->bases[d->n_bases++] = (char *)i->bases[b]->type_id;
  size_t len = 0;
  for (size_t c = 0; i->idl && i->idl[c]; c++)
    len += strlen(i->idl[c]);
  d->idl = plumb_call_alloc(call, len + 1);
  if (d->idl == NULL)
    return PLUMB_ENOMEM;
  d->idl[0] = '\0';
  for (size_t c = 0, at = 0; i->idl && i->idl[c]; c++) {
    size_t n = strlen(i->idl[c]);
    memcpy(d->idl + at, i->idl[c], n + 1);
    at += n;
  }
  r->ret = d;
  return PLUMB_OK;
}

static int
info_thunk(const void *impl, void *ctx, plumb_call *call,
           const ProtobufCMessage *rq, ProtobufCMessage *rp)
{
  plumb_server *s = call->server;
  info_rep *r = (info_rep *)rp;
  struct timespec now;
  (void)impl, (void)ctx, (void)rq;
  srvinfo *v = plumb_call_alloc(call, sizeof *v);
  if (v == NULL)
    return PLUMB_ENOMEM;
  srvinfo_d_init(&v->base);
  v->version = (char *)PLUMB_VERSION;
  clock_gettime(CLOCK_MONOTONIC, &now);
  v->uptime_ms = (uint64_t)((now.tv_sec - s->started.tv_sec) * 1000 +
                            (now.tv_nsec - s->started.tv_nsec) / 1000000);
  v->objects = (uint32_t)s->n_objs;
  v->calls_served = (uint64_t)atomic_load_explicit(&s->calls_served,
                                                  memory_order_relaxed);
  v->health = (char *)(atomic_load(&s->stopping) ? "stopping" : "ok");
  pthread_mutex_lock(&s->mu);
  size_t n = 0;
  for (srv_listener *l = s->listeners; l; l = l->next)
    n++;
  v->endpoints = plumb_call_alloc(call, (n + 1) * sizeof *v->endpoints);
  for (srv_listener *l = s->listeners; v->endpoints && l; l = l->next)
    v->endpoints[v->n_endpoints++] = plumb_call_strdup(call, l->endpoint);
  pthread_mutex_unlock(&s->mu);
  if (v->endpoints == NULL)
    return PLUMB_ENOMEM;
  r->ret = v;
  return PLUMB_OK;
}

static const plumb_operation ops[3] = {
  { .name = "list_objects", .decl_iface = ID_INTROSPECTOR, .decl_index = 0,
    .request = &empty_d, .reply = &list_rep_d, .thunk = list_thunk },
  { .name = "describe", .decl_iface = ID_INTROSPECTOR, .decl_index = 1,
    .request = &desc_req_d, .reply = &desc_rep_d, .raises = describe_raises,
    .n_raises = 1, .thunk = describe_thunk },
  { .name = "info", .decl_iface = ID_INTROSPECTOR, .decl_index = 2,
    .request = &empty_d, .reply = &info_rep_d, .thunk = info_thunk },
};
const plumb_interface plumb__introspect_iface = {
  PLUMB_GENERATED_ABI, TID, ID_INTROSPECTOR, ops, 3, NULL, 0, NULL, NULL
};

/* Shared by every server; never freed: its count starts at 1 (the
 * "table's" reference) and each call takes and puts one more. */
static srv_object introspect_object = {
  .name = (char *)PLUMB__INTROSPECT_OBJECT,
  .name_len = sizeof PLUMB__INTROSPECT_OBJECT - 1,
  .iface = &plumb__introspect_iface,
  .refs = 1,
};

srv_object *
plumb__introspect_find(plumb_server *s, const char *name, size_t len)
{
  if (s->no_introspection || len != sizeof PLUMB__INTROSPECT_OBJECT - 1 ||
      memcmp(name, PLUMB__INTROSPECT_OBJECT, len) != 0)
    return NULL;
  atomic_fetch_add_explicit(&introspect_object.refs, 1,
                            memory_order_relaxed);
  return &introspect_object;
}

void
plumb__server_no_introspection(plumb_server *s)
{
  s->no_introspection = 1;
}
