/* jmap.c - the JSON mapping of IDL values used by `plumb call` (see
 * docs/IDL-MAPPING.md "JSON mapping"): integers up to 32 bits as numbers,
 * 64-bit ones as strings (numbers accepted on input), float/double as
 * numbers ("NaN", "Infinity", "-Infinity" as strings), boolean, char and
 * wchar as one-character strings, string, bytes (sequence<octet>) as
 * base64, enums by enumerator name, sequences and arrays as arrays,
 * structs and exceptions as objects, unions as {"_d": discriminator,
 * "<member>": value}, object references as {"endpoint", "object",
 * "type_id"}, any as {"@type": "type.plumb/" + repository id, "value":
 * V}, V the JSON of the held value when its type is a struct, union or
 * exception of the IDL loaded (jm_set_types), else base64 of its encoded
 * bytes (both accepted on input).  json-c parses and prints; this file
 * only maps. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jmap.h"

#define ANY_PREFIX "type.plumb/"

/* The IDL whose declarations an any may hold (jm_set_types). */
static const idl_node *types_root;

void
jm_set_types(const idl_node *root)
{
  types_root = root;
}

/* The struct, union or exception of the loaded IDL with repository id
 * tid, or NULL (bounded: the tree is the parsed, finite IDL). */
static const idl_node *
decl_by_id(const idl_node *n, const char *tid, unsigned depth)
{
  if (n == NULL || depth > 64)
    return NULL;
  for (const idl_node *c = n->children; c; c = c->next) {
    if ((c->kind == IDL_STRUCT || c->kind == IDL_UNION ||
         c->kind == IDL_EXCEPTION) && strcmp(repo_id(c), tid) == 0)
      return c;
    if (c->kind == IDL_MODULE || c->kind == IDL_INTERFACE) {
      const idl_node *f = decl_by_id(c, tid, depth + 1);
      if (f != NULL)
        return f;
    }
  }
  return NULL;
}

static const dyn_msg *
any_type(const char *type_url)
{
  if (strncmp(type_url, ANY_PREFIX, sizeof ANY_PREFIX - 1) != 0)
    return NULL;
  const idl_node *d =
      decl_by_id(types_root, type_url + sizeof ANY_PREFIX - 1, 0);
  return d ? dyn_of_decl(d) : NULL;
}

typedef struct jctx {
  plumb_arena *a;
  char *err;
  size_t errlen;
  char path[512];
} jctx;

static int
bad(jctx *c, const char *fmt, ...)
{
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errlen, "%s%s%s", c->path[0] ? "field '" : "",
           c->path[0] ? c->path : "", c->path[0] ? "': " : "");
  size_t l = strlen(c->err);
  snprintf(c->err + l, c->errlen - l, "%s", why);
  return -1;
}

/* ---- base64 (RFC 4648, with padding) ------------------------------------- */

static const char b64[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *
b64_encode(const uint8_t *p, size_t n)
{
  char *o = malloc(4 * ((n + 2) / 3) + 1), *q = o;
  if (o == NULL)
    return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    *q++ = b64[v >> 18];
    *q++ = b64[(v >> 12) & 63];
    *q++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    *q++ = i + 2 < n ? b64[v & 63] : '=';
  }
  *q = '\0';
  return o;
}

static int
b64_val(int ch)
{
  const char *p = ch ? strchr(b64, ch) : NULL;
  if (ch == '-')
    return 62; /* base64url accepted too */
  if (ch == '_')
    return 63;
  return p ? (int)(p - b64) : -1;
}

static int
b64_decode(jctx *c, const char *s, ProtobufCBinaryData *out)
{
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '=')
    n--;
  uint8_t *o = plumb_arena_alloc(c->a, n * 3 / 4 + 1);
  size_t k = 0;
  uint32_t acc = 0;
  int bits = 0;
  if (o == NULL)
    return bad(c, "out of memory");
  for (size_t i = 0; i < n; i++) {
    int v = b64_val((unsigned char)s[i]);
    if (v < 0)
      return bad(c, "bytes must be base64: bad character '%c'", s[i]);
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[k++] = (uint8_t)(acc >> bits);
    }
  }
  out->data = o;
  out->len = k;
  return 0;
}

/* ---- JSON -> message ---------------------------------------------------- */

static int msg_from(jctx *c, const dyn_msg *t, json_object *o,
                    ProtobufCMessage **out);

/* {"@type": URL, "value": JSON object of a known type | base64} */
static int
any_from(jctx *c, json_object *v, plumb_any **out)
{
  json_object *t = NULL, *val = NULL;
  if (!json_object_is_type(v, json_type_object) ||
      !json_object_object_get_ex(v, "@type", &t) ||
      !json_object_is_type(t, json_type_string))
    return bad(c, "expected an any {\"@type\": \"" ANY_PREFIX
               "IDL:...:1.0\", \"value\": ...}");
  json_object_object_foreach(v, key, x) {
    (void)x;
    if (strcmp(key, "@type") != 0 && strcmp(key, "value") != 0)
      return bad(c, "an any has only \"@type\" and \"value\", not '%s'",
                 key);
  }
  const char *url = json_object_get_string(t);
  if (strncmp(url, "IDL:", 4) == 0) { /* a bare repository id */
    size_t n = strlen(url);
    char *u = plumb_arena_alloc(c->a, sizeof ANY_PREFIX + n);
    if (u == NULL)
      return bad(c, "out of memory");
    memcpy(u, ANY_PREFIX, sizeof ANY_PREFIX - 1);
    memcpy(u + sizeof ANY_PREFIX - 1, url, n + 1);
    url = u;
  }
  if (strncmp(url, ANY_PREFIX "IDL:", sizeof ANY_PREFIX + 3) != 0)
    return bad(c, "'@type' must be \"" ANY_PREFIX "IDL:...\" or a "
               "repository id, not '%s'", url);
  plumb_any *a = plumb_arena_alloc(c->a, sizeof *a);
  static const plumb_any init = PLUMB_ANY_INIT;
  if (a == NULL)
    return bad(c, "out of memory");
  *a = init;
  json_object_object_get_ex(v, "value", &val);
  if (val == NULL || json_object_is_type(val, json_type_string)) {
    a->type_url = plumb_arena_strdup(c->a, url);
    if (val != NULL && b64_decode(c, json_object_get_string(val), &a->value))
      return -1;
    *out = a;
    return 0;
  }
  const dyn_msg *dt = any_type(url);
  if (dt == NULL)
    return bad(c, "%s is no struct, union or exception of the IDL: give "
               "its value as base64 of its encoding", url);
  if (!json_object_is_type(val, json_type_object))
    return bad(c, "the value of an any holding %s must be an object",
               url + sizeof ANY_PREFIX - 1);
  ProtobufCMessage *m = NULL;
  size_t l = strlen(c->path);
  snprintf(c->path + l, sizeof c->path - l, ".value");
  int rc = msg_from(c, dt, val, &m);
  c->path[l] = '\0';
  if (rc != 0)
    return rc;
  plumb_type_info ti = { url + sizeof ANY_PREFIX - 1, &dt->d };
  if (plumb_any_pack(a, &ti, m, c->a) != PLUMB_OK)
    return bad(c, "cannot encode the value of %s", url);
  *out = a;
  return 0;
}

static int
get_int(jctx *c, json_object *v, int64_t lo, int64_t hi, int64_t *out)
{
  errno = 0;
  if (json_object_is_type(v, json_type_int)) {
    *out = json_object_get_int64(v);
  } else if (json_object_is_type(v, json_type_string)) {
    char *end;
    const char *s = json_object_get_string(v);
    *out = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno)
      return bad(c, "'%s' is not an integer", s);
  } else {
    return bad(c, "expected an integer, got %s",
               json_type_to_name(json_object_get_type(v)));
  }
  if (errno || *out < lo || *out > hi)
    return bad(c, "%" PRId64 " out of range %" PRId64 "..%" PRId64, *out,
               lo, hi);
  return 0;
}

static int
get_uint64(jctx *c, json_object *v, uint64_t *out)
{
  if (json_object_is_type(v, json_type_int)) {
    if (json_object_get_int64(v) < 0)
      return bad(c, "negative value for an unsigned type");
    *out = json_object_get_uint64(v);
    return 0;
  }
  if (json_object_is_type(v, json_type_string)) {
    char *end;
    const char *s = json_object_get_string(v);
    errno = 0;
    *out = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno)
      return bad(c, "'%s' is not an unsigned 64-bit integer", s);
    return 0;
  }
  return bad(c, "expected an unsigned integer (a string for 64 bits)");
}

static int
get_double(jctx *c, json_object *v, double *out)
{
  if (json_object_is_type(v, json_type_double) ||
      json_object_is_type(v, json_type_int)) {
    *out = json_object_get_double(v);
    return 0;
  }
  if (json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v);
    if (strcmp(s, "NaN") == 0)
      *out = NAN;
    else if (strcmp(s, "Infinity") == 0)
      *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0)
      *out = -INFINITY;
    else
      return bad(c, "'%s' is not a number", s);
    return 0;
  }
  return bad(c, "expected a number");
}

/* UTF-8 of one code point in a one-character string. */
static int
get_char(jctx *c, json_object *v, int wide, int64_t *out)
{
  if (json_object_is_type(v, json_type_int))
    return get_int(c, v, wide ? 0 : -128, wide ? 0x10FFFF : 255, out);
  if (!json_object_is_type(v, json_type_string))
    return bad(c, "expected a one-character string");
  const unsigned char *s = (const unsigned char *)json_object_get_string(v);
  int len = json_object_get_string_len(v);
  uint32_t cp;
  int k;
  if (len == 0)
    return bad(c, "expected a one-character string, got \"\"");
  if (s[0] < 0x80) {
    cp = s[0];
    k = 1;
  } else if ((s[0] & 0xE0) == 0xC0) {
    cp = s[0] & 0x1F;
    k = 2;
  } else if ((s[0] & 0xF0) == 0xE0) {
    cp = s[0] & 0x0F;
    k = 3;
  } else {
    cp = s[0] & 0x07;
    k = 4;
  }
  if (len != k)
    return bad(c, "expected exactly one character");
  for (int i = 1; i < k; i++)
    cp = (cp << 6) | (s[i] & 0x3F);
  if (!wide && cp > 255)
    return bad(c, "character U+%04X does not fit a char", (unsigned)cp);
  *out = cp;
  return 0;
}

static int
enum_from(jctx *c, const idl_node *en, json_object *v, int64_t *out)
{
  if (json_object_is_type(v, json_type_string)) {
    const char *s = json_object_get_string(v);
    for (const idl_node *e = en->children; e; e = e->next)
      if (e->kind == IDL_ENUMERATOR && strcmp(e->name, s) == 0) {
        *out = (int64_t)e->value.u;
        return 0;
      }
    return bad(c, "'%s' is not an enumerator of %s", s, en->name);
  }
  if (json_object_is_type(v, json_type_int)) {
    int64_t x = json_object_get_int64(v);
    for (const idl_node *e = en->children; e; e = e->next)
      if (e->kind == IDL_ENUMERATOR && (int64_t)e->value.u == x) {
        *out = x;
        return 0;
      }
    return bad(c, "%" PRId64 " is not a value of %s", x, en->name);
  }
  return bad(c, "expected an enumerator name of %s", en->name);
}

/* Stores one element (JSON v) of field fd / shape sh at p. */
static int
elem_from(jctx *c, const dyn_msg *t, size_t fi, json_object *v, void *p)
{
  const gfield *f = &t->m.f[t->order[fi]];
  const gshape *sh = &f->sh;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;

  switch (sh->base) {
  case B_BOOL:
    if (!json_object_is_type(v, json_type_boolean))
      return bad(c, "expected true or false");
    *(protobuf_c_boolean *)p = json_object_get_boolean(v);
    return 0;
  case B_CHAR:
    if (get_char(c, v, 0, &i))
      return -1;
    *(int32_t *)p = (int32_t)(i > 127 ? i - 256 : i);
    return 0;
  case B_WCHAR:
    if (get_char(c, v, 1, &i))
      return -1;
    *(uint32_t *)p = (uint32_t)i;
    return 0;
  case B_INT8:
    if (get_int(c, v, INT8_MIN, INT8_MAX, &i)) return -1;
    *(int32_t *)p = (int32_t)i;
    return 0;
  case B_SHORT:
    if (get_int(c, v, INT16_MIN, INT16_MAX, &i)) return -1;
    *(int32_t *)p = (int32_t)i;
    return 0;
  case B_LONG:
    if (get_int(c, v, INT32_MIN, INT32_MAX, &i)) return -1;
    *(int32_t *)p = (int32_t)i;
    return 0;
  case B_OCTET: case B_UINT8:
    if (get_int(c, v, 0, UINT8_MAX, &i)) return -1;
    *(uint32_t *)p = (uint32_t)i;
    return 0;
  case B_USHORT:
    if (get_int(c, v, 0, UINT16_MAX, &i)) return -1;
    *(uint32_t *)p = (uint32_t)i;
    return 0;
  case B_ULONG:
    if (get_int(c, v, 0, UINT32_MAX, &i)) return -1;
    *(uint32_t *)p = (uint32_t)i;
    return 0;
  case B_LLONG:
    if (get_int(c, v, INT64_MIN, INT64_MAX, &i)) return -1;
    *(int64_t *)p = i;
    return 0;
  case B_ULLONG:
    if (get_uint64(c, v, &u)) return -1;
    *(uint64_t *)p = u;
    return 0;
  case B_FLOAT:
    if (get_double(c, v, &d)) return -1;
    *(float *)p = (float)d;
    return 0;
  case B_DOUBLE:
    if (get_double(c, v, &d)) return -1;
    *(double *)p = d;
    return 0;
  case B_STRING: case B_WSTRING: {
    if (!json_object_is_type(v, json_type_string))
      return bad(c, "expected a string");
    size_t len = (size_t)json_object_get_string_len(v);
    if (sh->bound && len > sh->bound)
      return bad(c, "string longer than its bound %" PRIu64, sh->bound);
    char *s = plumb_arena_strdup(c->a, json_object_get_string(v));
    if (s == NULL)
      return bad(c, "out of memory");
    *(char **)p = s;
    return 0;
  }
  case B_BYTES:
    if (!json_object_is_type(v, json_type_string))
      return bad(c, "expected base64 bytes in a string");
    if (b64_decode(c, json_object_get_string(v), p))
      return -1;
    if (sh->bound && ((ProtobufCBinaryData *)p)->len > sh->bound)
      return bad(c, "longer than its bound %" PRIu64, sh->bound);
    return 0;
  case B_ENUM:
    if (enum_from(c, sh->decl, v, &i)) return -1;
    *(int32_t *)p = (int32_t)i;
    return 0;
  case B_OBJREF: {
    if (!json_object_is_type(v, json_type_object))
      return bad(c, "expected a reference {\"endpoint\", \"object\", "
                 "\"type_id\"}");
    plumb_objref *r = plumb_arena_alloc(c->a, sizeof *r);
    static const plumb_objref init = PLUMB_OBJREF_INIT;
    if (r == NULL)
      return bad(c, "out of memory");
    *r = init;
    json_object *x;
    if (json_object_object_get_ex(v, "endpoint", &x))
      r->endpoint = plumb_arena_strdup(c->a, json_object_get_string(x));
    if (json_object_object_get_ex(v, "object", &x))
      r->object = plumb_arena_strdup(c->a, json_object_get_string(x));
    if (json_object_object_get_ex(v, "type_id", &x))
      r->type_id = plumb_arena_strdup(c->a, json_object_get_string(x));
    *(plumb_objref **)p = r;
    return 0;
  }
  case B_ANY:
    return any_from(c, v, (plumb_any **)p);
  case B_MSG:
    return msg_from(c, t->sub[fi], v, (ProtobufCMessage **)p);
  case B_WRAP: { /* an element that is itself a sequence: {v: [...]} */
    json_object *w = json_object_new_object();
    json_object_object_add(w, "v", json_object_get(v));
    int rc = msg_from(c, t->sub[fi], w, (ProtobufCMessage **)p);
    json_object_put(w);
    return rc;
  }
  }
  return bad(c, "unsupported type");
}

static size_t
path_push(jctx *c, const char *fmt, ...)
{
  size_t l = strlen(c->path);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->path + l, sizeof c->path - l, fmt, ap);
  va_end(ap);
  return l;
}

static int
field_from(jctx *c, const dyn_msg *t, size_t fi, json_object *v,
           ProtobufCMessage *m)
{
  const ProtobufCFieldDescriptor *fd = &t->fields[fi];
  const gfield *f = &t->m.f[t->order[fi]];
  char *base = (char *)m;
  size_t al;
  size_t esz = fd->type == PROTOBUF_C_TYPE_MESSAGE ? sizeof(void *) : 0;

  if (esz == 0) {
    static const size_t sizes[] = { 0 };
    (void)sizes;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_BOOL: esz = sizeof(protobuf_c_boolean); break;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_DOUBLE: esz = 8; break;
    case PROTOBUF_C_TYPE_STRING: esz = sizeof(char *); break;
    case PROTOBUF_C_TYPE_BYTES: esz = sizeof(ProtobufCBinaryData); break;
    default: esz = 4; break;
    }
  }
  (void)al;
  if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
    if (!json_object_is_type(v, json_type_array))
      return bad(c, "expected an array");
    size_t n = json_object_array_length(v);
    if (f->sh.rep == REP_ARRAY && n != f->sh.count)
      return bad(c, "array needs exactly %" PRIu64 " elements, got %zu",
                 f->sh.count, n);
    if (f->sh.rep == REP_SEQ && f->sh.seq_bound && n > f->sh.seq_bound)
      return bad(c, "sequence longer than its bound %" PRIu64,
                 f->sh.seq_bound);
    char *arr = plumb_arena_alloc(c->a, (n ? n : 1) * esz);
    if (arr == NULL)
      return bad(c, "out of memory");
    memset(arr, 0, (n ? n : 1) * esz);
    for (size_t i = 0; i < n; i++) {
      size_t l = path_push(c, "[%zu]", i);
      if (elem_from(c, t, fi, json_object_array_get_idx(v, i),
                    arr + i * esz))
        return -1;
      c->path[l] = '\0';
    }
    *(size_t *)(base + fd->quantifier_offset) = n;
    *(void **)(base + fd->offset) = arr;
    return 0;
  }
  if (elem_from(c, t, fi, v, base + fd->offset))
    return -1;
  if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    *(uint32_t *)(base + fd->quantifier_offset) = fd->id;
  else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset)
    *(protobuf_c_boolean *)(base + fd->quantifier_offset) = 1;
  return 0;
}

/* Union without "_d": the discriminator of the member given. */
static json_object *
label_json(const idl_value *v)
{
  switch (v->kind) {
  case IDL_V_ENUM: return json_object_new_string(v->e->name);
  case IDL_V_BOOL: return json_object_new_boolean(v->b);
  case IDL_V_CHAR: {
    char s[2] = { (char)v->u, 0 };
    return json_object_new_string(s);
  }
  case IDL_V_UINT: return json_object_new_uint64(v->u);
  default: return json_object_new_int64(v->i);
  }
}

static int
msg_from(jctx *c, const dyn_msg *t, json_object *o, ProtobufCMessage **out)
{
  if (!json_object_is_type(o, json_type_object))
    return bad(c, "expected an object for %s",
               t->m.node && t->m.node->name ? t->m.node->name : "a message");
  ProtobufCMessage *m = dyn_new(t, c->a);
  if (m == NULL)
    return bad(c, "out of memory");
  int members = 0;
  json_object_object_foreach(o, key, val) {
    size_t fi = t->d.n_fields;
    for (size_t i = 0; i < t->d.n_fields; i++)
      if (strcmp(t->fields[i].name, key) == 0)
        fi = i;
    size_t l = path_push(c, "%s%s", c->path[0] ? "." : "", key);
    if (fi == t->d.n_fields) {
      char known[256] = "";
      size_t kl = 0;
      for (size_t i = 0; i < t->d.n_fields && kl < sizeof known - 40; i++)
        kl += (size_t)snprintf(known + kl, sizeof known - kl, "%s%s",
                               i ? ", " : "", t->fields[i].name);
      return bad(c, "no such field (known: %s)", kl ? known : "none");
    }
    if (t->m.is_union && strcmp(key, "_d") != 0) {
      if (++members > 1)
        return bad(c, "a union holds one member");
    }
    if (field_from(c, t, fi, val, m))
      return -1;
    c->path[l] = '\0';
  }
  if (t->m.is_union && !json_object_object_get_ex(o, "_d", NULL)) {
    /* derive _d from the member's first case label */
    for (size_t i = 0; i < t->m.nf; i++) {
      const gfield *f = &t->m.f[i];
      if (f->src == NULL || f->src->kind != IDL_CASE ||
          !json_object_object_get_ex(o, f->pname, NULL))
        continue;
      if (f->src->nlabels == 0)
        return bad(c, "member '%s' is the default case: give \"_d\"",
                   f->pname);
      json_object *d = label_json(&f->src->labels[0]);
      size_t fi = 0;
      for (size_t k = 0; k < t->d.n_fields; k++)
        if (strcmp(t->fields[k].name, "_d") == 0)
          fi = k;
      int rc = field_from(c, t, fi, d, m);
      json_object_put(d);
      if (rc)
        return -1;
    }
  }
  *out = m;
  return 0;
}

int
jm_from_json(const dyn_msg *t, json_object *o, ProtobufCMessage **out,
             plumb_arena *a, char *err, size_t errlen)
{
  jctx c = { a, err, errlen, "" };
  return msg_from(&c, t, o, out);
}

/* ---- message -> JSON ---------------------------------------------------- */

static json_object *msg_to(const dyn_msg *t, const ProtobufCMessage *m);

#define ANY_MAX_DEPTH 64

static int
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
  *v = 0;
  for (unsigned sh = 0; sh < 64 && *p < end; sh += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80))
      return 0;
  }
  return -1;
}

/* 0 if the any's bytes (from the server: a stranger) nest messages of
 * type d at most ANY_MAX_DEPTH deep and are well formed; walked without
 * recursion, as protobuf-c's unpack recurses once per nested message (a
 * recursive IDL type could otherwise exhaust the CLI's stack). */
static int
any_bounded(const ProtobufCMessageDescriptor *d, const uint8_t *p,
            size_t len)
{
  struct { const ProtobufCMessageDescriptor *d; const uint8_t *end; }
      st[ANY_MAX_DEPTH + 1];
  unsigned top = 0;
  if (len == 0)
    return 0;
  st[0].d = d;
  st[0].end = p + len;
  for (;;) {
    if (p == st[top].end) {
      if (top == 0)
        return 0;
      top--;
      continue;
    }
    uint64_t tag, v;
    if (wire_varint(&p, st[top].end, &tag) != 0)
      return -1;
    switch (tag & 7) {
    case 0:
      if (wire_varint(&p, st[top].end, &v) != 0)
        return -1;
      break;
    case 1:
    case 5: {
      size_t w = (tag & 7) == 1 ? 8 : 4;
      if ((size_t)(st[top].end - p) < w)
        return -1;
      p += w;
      break;
    }
    case 2: {
      if (wire_varint(&p, st[top].end, &v) != 0 ||
          v > (uint64_t)(st[top].end - p))
        return -1;
      const ProtobufCFieldDescriptor *f =
          protobuf_c_message_descriptor_get_field(st[top].d,
                                                  (unsigned)(tag >> 3));
      if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
          f->descriptor != NULL) {
        if (top == ANY_MAX_DEPTH)
          return -1;
        top++;
        st[top].d = f->descriptor;
        st[top].end = p + v;
      } else {
        p += v;
      }
      break;
    }
    default:
      return -1; /* groups: never written by plumb */
    }
  }
}

/* {"@type": URL, "value": JSON of a known type, else base64} */
static json_object *
any_to(const plumb_any *a)
{
  json_object *o = json_object_new_object(), *v = NULL;
  const char *url = a && a->type_url ? a->type_url : "";
  json_object_object_add(o, "@type", json_object_new_string(url));
  const dyn_msg *dt = a ? any_type(url) : NULL;
  plumb_arena *ar = dt ? plumb_arena_new() : NULL;
  if (ar != NULL) {
    plumb_type_info ti = { url + sizeof ANY_PREFIX - 1, &dt->d };
    void *m = NULL;
    if (any_bounded(&dt->d, a->value.data, a->value.len) == 0 &&
        plumb_any_unpack(a, &ti, &m, ar) == PLUMB_OK)
      v = msg_to(dt, m);
    plumb_arena_free(ar);
  }
  if (v == NULL) { /* a type the IDL does not declare, or undecodable */
    char *s = a ? b64_encode(a->value.data, a->value.len) : NULL;
    v = json_object_new_string(s ? s : "");
    free(s);
  }
  json_object_object_add(o, "value", v);
  return o;
}

static json_object *
char_json(uint32_t cp)
{
  char s[5];
  if (cp < 0x80) {
    s[0] = (char)cp;
    s[1] = 0;
  } else if (cp < 0x800) {
    s[0] = (char)(0xC0 | (cp >> 6));
    s[1] = (char)(0x80 | (cp & 63));
    s[2] = 0;
  } else if (cp < 0x10000) {
    s[0] = (char)(0xE0 | (cp >> 12));
    s[1] = (char)(0x80 | ((cp >> 6) & 63));
    s[2] = (char)(0x80 | (cp & 63));
    s[3] = 0;
  } else {
    s[0] = (char)(0xF0 | (cp >> 18));
    s[1] = (char)(0x80 | ((cp >> 12) & 63));
    s[2] = (char)(0x80 | ((cp >> 6) & 63));
    s[3] = (char)(0x80 | (cp & 63));
    s[4] = 0;
  }
  return json_object_new_string(s);
}

static json_object *
double_json(double d)
{
  if (isnan(d))
    return json_object_new_string("NaN");
  if (isinf(d))
    return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
  return json_object_new_double(d);
}

static json_object *
elem_to(const dyn_msg *t, size_t fi, const void *p)
{
  const gshape *sh = &t->m.f[t->order[fi]].sh;
  char buf[32];
  switch (sh->base) {
  case B_BOOL: return json_object_new_boolean(*(const protobuf_c_boolean *)p);
  case B_CHAR: return char_json((uint8_t)*(const int32_t *)p);
  case B_WCHAR: return char_json(*(const uint32_t *)p);
  case B_INT8: case B_SHORT: case B_LONG:
    return json_object_new_int(*(const int32_t *)p);
  case B_OCTET: case B_UINT8: case B_USHORT: case B_ULONG:
    return json_object_new_int64(*(const uint32_t *)p);
  case B_LLONG:
    snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
    return json_object_new_string(buf);
  case B_ULLONG:
    snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
    return json_object_new_string(buf);
  case B_FLOAT: return double_json(*(const float *)p);
  case B_DOUBLE: return double_json(*(const double *)p);
  case B_STRING: case B_WSTRING: {
    const char *s = *(char *const *)p;
    return json_object_new_string(s ? s : "");
  }
  case B_BYTES: {
    const ProtobufCBinaryData *b = p;
    char *s = b64_encode(b->data, b->len);
    json_object *o = json_object_new_string(s ? s : "");
    free(s);
    return o;
  }
  case B_ENUM: {
    int32_t v = *(const int32_t *)p;
    for (const idl_node *e = sh->decl->children; e; e = e->next)
      if (e->kind == IDL_ENUMERATOR && (int64_t)e->value.u == v)
        return json_object_new_string(e->name);
    return json_object_new_int(v);
  }
  case B_OBJREF: {
    const plumb_objref *r = *(plumb_objref *const *)p;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "endpoint",
                           json_object_new_string(r ? r->endpoint : ""));
    json_object_object_add(o, "object",
                           json_object_new_string(r ? r->object : ""));
    json_object_object_add(o, "type_id",
                           json_object_new_string(r ? r->type_id : ""));
    return o;
  }
  case B_ANY:
    return any_to(*(plumb_any *const *)p);
  case B_MSG:
    return msg_to(t->sub[fi], *(ProtobufCMessage *const *)p);
  case B_WRAP: {
    const ProtobufCMessage *w = *(ProtobufCMessage *const *)p;
    json_object *o = msg_to(t->sub[fi], w), *v = NULL;
    json_object_object_get_ex(o, "v", &v);
    v = v ? json_object_get(v) : json_object_new_array();
    json_object_put(o);
    return v;
  }
  }
  return NULL;
}

static json_object *
msg_to(const dyn_msg *t, const ProtobufCMessage *m)
{
  json_object *o = json_object_new_object();
  if (m == NULL)
    return o;
  const char *base = (const char *)m;
  for (size_t fi = 0; fi < t->d.n_fields; fi++) {
    const ProtobufCFieldDescriptor *fd = &t->fields[fi];
    if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
      continue;
    if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->quantifier_offset &&
        !*(const protobuf_c_boolean *)(base + fd->quantifier_offset))
      continue;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + fd->quantifier_offset);
      const char *arr = *(char *const *)(base + fd->offset);
      size_t esz;
      switch (fd->type) {
      case PROTOBUF_C_TYPE_BOOL: esz = sizeof(protobuf_c_boolean); break;
      case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64:
      case PROTOBUF_C_TYPE_DOUBLE: esz = 8; break;
      case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
        esz = sizeof(void *); break;
      case PROTOBUF_C_TYPE_BYTES: esz = sizeof(ProtobufCBinaryData); break;
      default: esz = 4; break;
      }
      json_object *a = json_object_new_array();
      for (size_t i = 0; i < n; i++)
        json_object_array_add(a, elem_to(t, fi, arr + i * esz));
      json_object_object_add(o, fd->name, a);
      continue;
    }
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE &&
        *(void *const *)(base + fd->offset) == NULL &&
        !(fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
      /* absent message: an empty one (its zero value) */
      if (t->sub[fi] != NULL) {
        json_object_object_add(o, fd->name, msg_to(t->sub[fi], NULL));
        continue;
      }
    }
    json_object_object_add(o, fd->name, elem_to(t, fi, base + fd->offset));
  }
  return o;
}

json_object *
jm_to_json(const dyn_msg *t, const ProtobufCMessage *m)
{
  return msg_to(t, m);
}
