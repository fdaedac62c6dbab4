/* wellknown.c - plumb's well-known protobuf types and the `any` helpers.
 *
 * Holds the hand-written protobuf-c descriptors of plumb_any (wire-compatible
 * with google.protobuf.Any) and plumb_objref (plumb.ObjRef), in exactly the
 * shape plumbc emits for generated messages; the FNV-1a type hash plumbc also
 * computes at compile time; plumb_any_pack/unpack; and one-field wrapper
 * messages (plumb.Long, plumb.String, ...) that let basic IDL values travel
 * in an any.  It knows nothing about calls or transports.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/generated.h"

#define ANY_URL_PREFIX "type.plumb/"

uint32_t
plumb_type_hash(const char *type_id)
{
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)type_id; *p; p++) {
    h ^= *p;
    h *= 16777619u;
  }
  return h;
}

/* ---- google.protobuf.Any ------------------------------------------------ */

static const ProtobufCFieldDescriptor any_fields[2] = {
  { "type_url", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb_any, type_url), NULL, protobuf_c_empty_string, 0, 0, NULL,
    NULL },
  { "value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, 0,
    offsetof(plumb_any, value), NULL, NULL, 0, 0, NULL, NULL },
};
static const unsigned any_fields_by_name[2] = { 0, 1 };
static const ProtobufCIntRange any_ranges[2] = { { 1, 0 }, { 0, 2 } };

/* Not PLUMB_ANY_INIT: unpack may free a previous string unless it is the
 * field's default_value, so unpacked messages must start from that. */
static void
any_init(ProtobufCMessage *m)
{
  plumb_any *a = (plumb_any *)m;
  a->base.descriptor = &plumb_any_descriptor;
  a->base.n_unknown_fields = 0;
  a->base.unknown_fields = NULL;
  a->type_url = (char *)protobuf_c_empty_string;
  a->value.len = 0;
  a->value.data = NULL;
}

const ProtobufCMessageDescriptor plumb_any_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
  "google.protobuf.Any",
  "Any",
  "plumb_any",
  "google.protobuf",
  sizeof(plumb_any),
  2,
  any_fields,
  any_fields_by_name,
  1,
  any_ranges,
  any_init,
  NULL, NULL, NULL
};

/* ---- plumb.ObjRef --------------------------------------------------------- */

static const ProtobufCFieldDescriptor objref_fields[5] = {
  { "endpoint", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb_objref, endpoint), NULL, protobuf_c_empty_string, 0, 0,
    NULL, NULL },
  { "object", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb_objref, object), NULL, protobuf_c_empty_string, 0, 0,
    NULL, NULL },
  { "type_id", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb_objref, type_id), NULL, protobuf_c_empty_string, 0, 0,
    NULL, NULL },
  { "endpoints", 4, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_STRING,
    offsetof(plumb_objref, n_endpoints), offsetof(plumb_objref, endpoints),
    NULL, NULL, 0, 0, NULL, NULL },
  { "host", 5, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(plumb_objref, host), NULL, protobuf_c_empty_string, 0, 0,
    NULL, NULL },
};
/* by name: endpoint, endpoints, host, object, type_id */
static const unsigned objref_fields_by_name[5] = { 0, 3, 4, 1, 2 };
static const ProtobufCIntRange objref_ranges[2] = { { 1, 0 }, { 0, 5 } };

static void
objref_init(ProtobufCMessage *m)
{
  plumb_objref *r = (plumb_objref *)m;
  r->base.descriptor = &plumb_objref_descriptor;
  r->base.n_unknown_fields = 0;
  r->base.unknown_fields = NULL;
  r->endpoint = (char *)protobuf_c_empty_string;
  r->object = (char *)protobuf_c_empty_string;
  r->type_id = (char *)protobuf_c_empty_string;
  r->n_endpoints = 0;
  r->endpoints = NULL;
  r->host = (char *)protobuf_c_empty_string;
}

const ProtobufCMessageDescriptor plumb_objref_descriptor = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
  "plumb.ObjRef",
  "ObjRef",
  "plumb_objref",
  "plumb",
  sizeof(plumb_objref),
  5,
  objref_fields,
  objref_fields_by_name,
  1,
  objref_ranges,
  objref_init,
  NULL, NULL, NULL
};

/* ---- any pack / unpack ------------------------------------------------------ */

int
plumb_any_pack(plumb_any *any, const plumb_type_info *type, const void *msg,
               plumb_arena *arena)
{
  static const plumb_any init = PLUMB_ANY_INIT;
  const ProtobufCMessage *m = msg;
  size_t len, idlen;
  uint8_t *buf;
  char *url;

  if (any == NULL || type == NULL || msg == NULL || arena == NULL ||
      m->descriptor != type->descriptor)
    return PLUMB_EINVAL;
  len = protobuf_c_message_get_packed_size(m);
  buf = plumb_arena_alloc(arena, len ? len : 1);
  idlen = strlen(type->type_id);
  url = plumb_arena_alloc(arena, sizeof ANY_URL_PREFIX + idlen);
  if (buf == NULL || url == NULL)
    return PLUMB_ENOMEM;
  memcpy(url, ANY_URL_PREFIX, sizeof ANY_URL_PREFIX - 1);
  memcpy(url + sizeof ANY_URL_PREFIX - 1, type->type_id, idlen + 1);
  if (protobuf_c_message_pack(m, buf) != len)
    return PLUMB_EINVAL;
  *any = init;
  any->type_url = url;
  any->value.len = len;
  any->value.data = buf;
  return PLUMB_OK;
}

int
plumb_any_is(const plumb_any *any, const plumb_type_info *type)
{
  const char *u;
  if (any == NULL || type == NULL || any->type_url == NULL)
    return 0;
  u = any->type_url;
  if (strncmp(u, ANY_URL_PREFIX, sizeof ANY_URL_PREFIX - 1) != 0)
    return 0;
  return strcmp(u + sizeof ANY_URL_PREFIX - 1, type->type_id) == 0;
}

int
plumb_any_unpack(const plumb_any *any, const plumb_type_info *type,
                 void **msg, plumb_arena *arena)
{
  ProtobufCMessage *m;
  if (any == NULL || type == NULL || msg == NULL || arena == NULL)
    return PLUMB_EINVAL;
  if (!plumb_any_is(any, type))
    return PLUMB_EINTERFACE;
  m = protobuf_c_message_unpack(type->descriptor, plumb_arena_allocator(arena),
                                any->value.len, any->value.data);
  if (m == NULL)
    return PLUMB_EBADBODY;
  *msg = m;
  return PLUMB_OK;
}

/* ---- wrappers for basic types ---------------------------------------------
 * One message per C type, a single field `value` = 1, proto3 rules (a zero
 * value is omitted on the wire).  WRAP(name, Proto, ctype, TYPE, init) */

#define WRAPPERS(XX)                                                           \
  XX(boolean, Boolean, protobuf_c_boolean, BOOL, 0)                            \
  XX(long, Long, int32_t, INT32, 0)                                            \
  XX(ulong, ULong, uint32_t, UINT32, 0)                                        \
  XX(longlong, LongLong, int64_t, INT64, 0)                                    \
  XX(ulonglong, ULongLong, uint64_t, UINT64, 0)                                \
  XX(float, Float, float, FLOAT, 0)                                            \
  XX(double, Double, double, DOUBLE, 0)                                        \
  XX(string, String, char *, STRING, (char *)protobuf_c_empty_string)

#define WRAP_DEF(name, Proto, ctype, TYPE, init)                               \
  typedef struct wrap_##name {                                                 \
    ProtobufCMessage base;                                                     \
    ctype value;                                                               \
  } wrap_##name;                                                               \
  static const ProtobufCMessageDescriptor wrap_##name##_descriptor;           \
  static const ProtobufCFieldDescriptor wrap_##name##_fields[1] = {            \
    { "value", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_##TYPE, 0,            \
      offsetof(wrap_##name, value), NULL,                                      \
      PROTOBUF_C_TYPE_##TYPE == PROTOBUF_C_TYPE_STRING                         \
          ? (const void *)protobuf_c_empty_string : NULL,                      \
      0, 0, NULL, NULL },                                                      \
  };                                                                           \
  static void wrap_##name##_init(ProtobufCMessage *m)                          \
  {                                                                            \
    wrap_##name *w = (wrap_##name *)m;                                         \
    w->base.descriptor = &wrap_##name##_descriptor;                            \
    w->base.n_unknown_fields = 0;                                              \
    w->base.unknown_fields = NULL;                                             \
    w->value = init;                                                           \
  }                                                                            \
  static const ProtobufCMessageDescriptor wrap_##name##_descriptor = {         \
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "plumb." #Proto, #Proto,             \
    "plumb_" #name, "plumb", sizeof(wrap_##name), 1, wrap_##name##_fields,     \
    wrap_one_by_name, 1, wrap_one_ranges, wrap_##name##_init,                  \
    NULL, NULL, NULL                                                           \
  };                                                                           \
  const plumb_type_info plumb_##name##_type = { "IDL:plumb/" #Proto ":1.0",   \
                                                &wrap_##name##_descriptor };

static const unsigned wrap_one_by_name[1] = { 0 };
static const ProtobufCIntRange wrap_one_ranges[2] = { { 1, 0 }, { 0, 1 } };

WRAPPERS(WRAP_DEF)

/* Packs a wrapper holding v. */
#define WRAP_PUT(name, vexpr)                                                  \
  do {                                                                         \
    wrap_##name w;                                                             \
    wrap_##name##_init(&w.base);                                               \
    w.value = (vexpr);                                                         \
    return plumb_any_pack(a, &plumb_##name##_type, &w, arena);                 \
  } while (0)

/* Unpacks a wrapper with the default allocator and copies the value out. */
#define WRAP_GET(name)                                                         \
  do {                                                                         \
    wrap_##name *w;                                                            \
    if (a == NULL || v == NULL)                                                \
      return PLUMB_EINVAL;                                                     \
    if (!plumb_any_is(a, &plumb_##name##_type))                                \
      return PLUMB_EINTERFACE;                                                 \
    w = (wrap_##name *)protobuf_c_message_unpack(                              \
        &wrap_##name##_descriptor, NULL, a->value.len, a->value.data);         \
    if (w == NULL)                                                             \
      return PLUMB_EBADBODY;                                                   \
    *v = w->value;                                                             \
    protobuf_c_message_free_unpacked(&w->base, NULL);                          \
    return PLUMB_OK;                                                           \
  } while (0)

int plumb_any_put_boolean(plumb_any *a, int v, plumb_arena *arena)
{ WRAP_PUT(boolean, v != 0); }
int plumb_any_put_long(plumb_any *a, int32_t v, plumb_arena *arena)
{ WRAP_PUT(long, v); }
int plumb_any_put_ulong(plumb_any *a, uint32_t v, plumb_arena *arena)
{ WRAP_PUT(ulong, v); }
int plumb_any_put_longlong(plumb_any *a, int64_t v, plumb_arena *arena)
{ WRAP_PUT(longlong, v); }
int plumb_any_put_ulonglong(plumb_any *a, uint64_t v, plumb_arena *arena)
{ WRAP_PUT(ulonglong, v); }
int plumb_any_put_float(plumb_any *a, float v, plumb_arena *arena)
{ WRAP_PUT(float, v); }
int plumb_any_put_double(plumb_any *a, double v, plumb_arena *arena)
{ WRAP_PUT(double, v); }
int plumb_any_put_string(plumb_any *a, const char *v, plumb_arena *arena)
{ WRAP_PUT(string, (char *)(v ? v : "")); }

static int
get_boolean(const plumb_any *a, protobuf_c_boolean *v)
{ WRAP_GET(boolean); }

int
plumb_any_get_boolean(const plumb_any *a, int *v)
{
  protobuf_c_boolean b = 0;
  int rc;
  if (v == NULL)
    return PLUMB_EINVAL;
  if ((rc = get_boolean(a, &b)) == PLUMB_OK)
    *v = b != 0;
  return rc;
}

int plumb_any_get_long(const plumb_any *a, int32_t *v) { WRAP_GET(long); }
int plumb_any_get_ulong(const plumb_any *a, uint32_t *v) { WRAP_GET(ulong); }
int plumb_any_get_longlong(const plumb_any *a, int64_t *v)
{ WRAP_GET(longlong); }
int plumb_any_get_ulonglong(const plumb_any *a, uint64_t *v)
{ WRAP_GET(ulonglong); }
int plumb_any_get_float(const plumb_any *a, float *v) { WRAP_GET(float); }
int plumb_any_get_double(const plumb_any *a, double *v) { WRAP_GET(double); }

int
plumb_any_get_string(const plumb_any *a, char **v, plumb_arena *arena)
{
  void *m = NULL;
  int rc;
  if (v == NULL)
    return PLUMB_EINVAL;
  rc = plumb_any_unpack(a, &plumb_string_type, &m, arena);
  if (rc == PLUMB_OK)
    *v = ((wrap_string *)m)->value;
  return rc;
}
