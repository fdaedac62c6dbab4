/* validate.c - plumb_validate(): the one interpreter of the check tables
 * plumbc emits for every message (plumb/generated.h), plus the thin wrappers
 * thunks and stubs call (plumb_call_check, plumb_client_check), the checked
 * any unpacking T_from_any inlines (plumb_any_unpack_checked) and the check
 * tables of the well-known any / objref messages.
 *
 * It owns what "a valid value" means beyond protobuf: narrow integer
 * ranges, enum values, UTF-8 of every string, string / sequence bounds,
 * array lengths, union branch selection and the nesting limit.  A failure
 * names the field by its path ("entries[3].key").  Recursion is bounded by
 * max_depth (one C frame per message level, a few dozen bytes each).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "plumb/generated.h"
#include "plumb/sysexc.h"

#define VPATH_MAX 160 /* bytes of field path kept for messages */

typedef struct vctx {
  unsigned max_depth;
  char *why;
  size_t why_len;
  size_t plen;      /* length of path (may exceed VPATH_MAX - 1: cut) */
  char path[VPATH_MAX];
} vctx;

static int vfail(vctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
vfail(vctx *x, const char *fmt, ...)
{
  char reason[160];
  va_list ap;
  if (x->why == NULL || x->why_len == 0)
    return PLUMB_EBADBODY;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (x->plen == 0)
    snprintf(x->why, x->why_len, "%s", reason);
  else
    snprintf(x->why, x->why_len, "field '%s%s': %s", x->path,
             x->plen >= VPATH_MAX ? "..." : "", reason);
  return PLUMB_EBADBODY;
}

/* Appends ".name" (or "name" at the top) or "[i]" to the path; returns the
 * previous length for path_pop.  Done by hand, not with snprintf: it runs
 * for every field of every message checked (twice per call on each side),
 * and snprintf was a third of a small call's client CPU. */
static size_t
path_push(vctx *x, const char *name, size_t index, bool is_index)
{
  size_t old = x->plen, at = old;
  char tmp[24];
  const char *src;
  size_t n, room;
  if (old >= VPATH_MAX - 1) {
    x->plen = old + 1; /* keep counting: marks the path as cut */
    return old;
  }
  if (is_index) {
    char *e = tmp + sizeof tmp, *q = e;
    *--q = ']';
    do
      *--q = (char)('0' + index % 10);
    while ((index /= 10) != 0);
    *--q = '[';
    src = q;
    n = (size_t)(e - q);
  } else {
    if (at > 0)
      x->path[at++] = '.'; /* at < VPATH_MAX - 1: room for it */
    src = name;
    n = strlen(name);
  }
  room = VPATH_MAX - 1 - at;
  if (n < room)
    room = n;
  memcpy(x->path + at, src, room);
  x->path[at + room] = '\0';
  x->plen = at + n;
  return old;
}

static void
path_pop(vctx *x, size_t old)
{
  x->plen = old;
  if (old < VPATH_MAX)
    x->path[old] = '\0';
}

/* Length in code points of valid UTF-8 s (RFC 3629: shortest form only, no
 * surrogates, at most U+10FFFF), or -1 if s is not valid UTF-8. */
static int64_t
utf8_count(const unsigned char *s)
{
  int64_t n = 0;
  while (*s) {
    unsigned c = *s;
    if (c < 0x80) {
      s++;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if ((s[1] & 0xC0) != 0x80)
        return -1;
      s += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
        return -1;
      s += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 ||
          (s[3] & 0xC0) != 0x80)
        return -1;
      s += 4;
    } else {
      return -1; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    n++;
  }
  return n;
}

static size_t
elem_size(ProtobufCType t)
{
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
    return sizeof(void *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  default: return 4;
  }
}

/* A scalar field as 64 bits (signed types sign-extended). */
static uint64_t
scalar_bits(ProtobufCType t, const void *p)
{
  switch (t) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    return (uint64_t)(int64_t)*(const int32_t *)p;
  case PROTOBUF_C_TYPE_ENUM: return (uint64_t)(int64_t)*(const int *)p;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    return *(const uint32_t *)p;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    return (uint64_t)*(const int64_t *)p;
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
    return *(const uint64_t *)p;
  case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p != 0;
  default: return 0;
  }
}

static int v_msg(vctx *x, const plumb_msg_check *c, const ProtobufCMessage *m,
                 unsigned depth);

/* One value (element) at p of field fd, checked by fc. */
static int
v_elem(vctx *x, const ProtobufCFieldDescriptor *fd,
       const plumb_field_check *fc, const void *p, bool in_rep,
       unsigned depth)
{
  int64_t i = (int64_t)scalar_bits(fd->type, p);
  uint64_t u = scalar_bits(fd->type, p);

  switch (fc->kind) {
  case PLUMB_CK_CHAR:
    return i < -128 || i > 255 ? vfail(x, "%lld is out of range for a char",
                                       (long long)i) : PLUMB_OK;
  case PLUMB_CK_INT8:
    return i < -128 || i > 127 ? vfail(x, "%lld is out of range for an int8",
                                       (long long)i) : PLUMB_OK;
  case PLUMB_CK_SHORT:
    return i < -32768 || i > 32767
               ? vfail(x, "%lld is out of range for a short", (long long)i)
               : PLUMB_OK;
  case PLUMB_CK_OCTET:
    return u > 255u ? vfail(x, "%llu is out of range for an octet",
                            (unsigned long long)u) : PLUMB_OK;
  case PLUMB_CK_USHORT:
    return u > 65535u ? vfail(x, "%llu is out of range for an unsigned short",
                              (unsigned long long)u) : PLUMB_OK;
  case PLUMB_CK_WCHAR:
    return u > 0x10FFFFu || (u >= 0xD800u && u <= 0xDFFFu)
               ? vfail(x, "0x%llx is not a Unicode scalar value for a wchar",
                       (unsigned long long)u)
               : PLUMB_OK;
  case PLUMB_CK_ENUM:
    if (fd->descriptor == NULL ||
        protobuf_c_enum_descriptor_get_value(fd->descriptor, (int)i) == NULL)
      return vfail(x, "%lld is not a value of enum %s", (long long)i,
                   fd->descriptor ? ((const ProtobufCEnumDescriptor *)
                                         fd->descriptor)->short_name
                                  : "?");
    return PLUMB_OK;
  case PLUMB_CK_STRING: case PLUMB_CK_WSTRING: {
    const char *s = *(const char *const *)p;
    int64_t n;
    if (s == NULL)
      return in_rep ? vfail(x, "missing string") : PLUMB_OK;
    if ((n = utf8_count((const unsigned char *)s)) < 0)
      return vfail(x, "not valid UTF-8");
    if (fc->kind == PLUMB_CK_STRING && fc->bound && strlen(s) > fc->bound)
      return vfail(x, "string longer than its bound %llu",
                   (unsigned long long)fc->bound);
    if (fc->kind == PLUMB_CK_WSTRING && fc->bound &&
        (uint64_t)n > fc->bound)
      return vfail(x, "wstring longer than its bound %llu",
                   (unsigned long long)fc->bound);
    return PLUMB_OK;
  }
  case PLUMB_CK_BYTES: {
    const ProtobufCBinaryData *b = p;
    if (b->len > 0 && b->data == NULL)
      return vfail(x, "missing bytes");
    if (fc->bound && b->len > fc->bound)
      return vfail(x, "sequence<octet> longer than its bound %llu",
                   (unsigned long long)fc->bound);
    return PLUMB_OK;
  }
  case PLUMB_CK_MSG: {
    const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
    if (sub == NULL)
      return in_rep ? vfail(x, "missing element") : PLUMB_OK;
    return v_msg(x, fc->msg, sub, depth + 1);
  }
  default:
    /* plain strings still need valid UTF-8 (kind NONE on a string field) */
    if (fd->type == PROTOBUF_C_TYPE_STRING) {
      const char *s = *(const char *const *)p;
      if (s == NULL)
        return in_rep ? vfail(x, "missing string") : PLUMB_OK;
      if (utf8_count((const unsigned char *)s) < 0)
        return vfail(x, "not valid UTF-8");
    }
    return PLUMB_OK;
  }
}

/* Field fd of m (not a oneof member: v_branch handles those). */
static int
v_field(vctx *x, const ProtobufCFieldDescriptor *fd,
        const plumb_field_check *fc, const ProtobufCMessage *m,
        unsigned depth)
{
  const char *base = (const char *)m;
  /* Nothing to check - one value of a plain type, most fields - and so no
   * path to keep either. */
  if (fc->kind == PLUMB_CK_NONE && fd->label != PROTOBUF_C_LABEL_REPEATED &&
      fd->type != PROTOBUF_C_TYPE_STRING)
    return PLUMB_OK;
  size_t old = path_push(x, fd->name, 0, false);
  int st = PLUMB_OK;

  if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
    size_t n = *(const size_t *)(base + fd->quantifier_offset);
    const char *arr = *(const char *const *)(base + fd->offset);
    size_t es = elem_size(fd->type);
    if (fc->rep == PLUMB_CK_ARRAY && n != fc->count)
      st = vfail(x, "array has %zu elements, not %llu", n,
                 (unsigned long long)fc->count);
    else if (fc->rep == PLUMB_CK_SEQ && fc->count && n > fc->count)
      st = vfail(x, "sequence longer than its bound %llu",
                 (unsigned long long)fc->count);
    else if (n > 0 && arr == NULL)
      st = vfail(x, "%zu elements but no storage", n);
    for (size_t i = 0; st == PLUMB_OK && i < n; i++) {
      size_t o2 = path_push(x, NULL, i, true);
      st = v_elem(x, fd, fc, arr + i * es, true, depth);
      if (st == PLUMB_OK)
        path_pop(x, o2);
    }
  } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL &&
             fd->quantifier_offset != 0 &&
             fd->type != PROTOBUF_C_TYPE_STRING &&
             fd->type != PROTOBUF_C_TYPE_MESSAGE) {
    if (*(const protobuf_c_boolean *)(base + fd->quantifier_offset))
      st = v_elem(x, fd, fc, base + fd->offset, false, depth);
  } else {
    st = v_elem(x, fd, fc, base + fd->offset, false, depth);
  }
  if (st == PLUMB_OK)
    path_pop(x, old);
  return st;
}

/* A union: the discriminator selects at most one branch; the set oneof
 * member must be exactly that branch, other repeated branches empty. */
static int
v_union(vctx *x, const plumb_msg_check *c, const ProtobufCMessage *m,
        unsigned depth)
{
  const ProtobufCMessageDescriptor *d = c->descriptor;
  const ProtobufCFieldDescriptor *fd0 = &d->fields[0];
  const char *base = (const char *)m;
  uint64_t dv;
  int64_t sel = c->default_field;
  uint32_t set_case = 0;
  int st;

  if ((st = v_field(x, fd0, &c->fields[0], m, depth)) != PLUMB_OK)
    return st;
  dv = scalar_bits(fd0->type, base + fd0->offset);
  for (size_t k = 0; k < c->n_labels; k++)
    if (c->labels[k].value == dv) {
      sel = (int64_t)c->labels[k].field;
      break;
    }
  for (unsigned i = 1; i < d->n_fields; i++)
    if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      set_case = *(const uint32_t *)(base + d->fields[i].quantifier_offset);
      break;
    }
  for (unsigned i = 1; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[i];
    bool selected = (int64_t)i == sel;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      bool is_set = set_case == fd->id;
      /* protobuf-c does not send a NULL string or message oneof member,
       * so those arrive unset: legal, read as the default value */
      bool may_be_absent = fd->type == PROTOBUF_C_TYPE_STRING ||
                           fd->type == PROTOBUF_C_TYPE_MESSAGE;
      if (selected && !is_set && !(may_be_absent && set_case == 0))
        return vfail(x, "discriminator %lld selects branch '%s', which is "
                     "not set", (long long)dv, fd->name);
      if (!selected && is_set)
        return vfail(x, "discriminator %lld does not select branch '%s', "
                     "which is set", (long long)dv, fd->name);
      if (selected) {
        size_t old = path_push(x, fd->name, 0, false);
        st = v_elem(x, fd, &c->fields[i], base + fd->offset, false, depth);
        if (st != PLUMB_OK)
          return st;
        path_pop(x, old);
      }
    } else if (selected) {
      if ((st = v_field(x, fd, &c->fields[i], m, depth)) != PLUMB_OK)
        return st;
    } else if (fd->label == PROTOBUF_C_LABEL_REPEATED &&
               *(const size_t *)(base + fd->quantifier_offset) != 0) {
      return vfail(x, "discriminator %lld does not select branch '%s', "
                   "which has elements", (long long)dv, fd->name);
    }
  }
  if (set_case != 0) { /* a case number that names no oneof branch */
    bool known = false;
    for (unsigned i = 1; i < d->n_fields; i++)
      known |= (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
               d->fields[i].id == set_case;
    if (!known)
      return vfail(x, "unknown branch %u is set", (unsigned)set_case);
  }
  return PLUMB_OK;
}

static int
v_msg(vctx *x, const plumb_msg_check *c, const ProtobufCMessage *m,
      unsigned depth)
{
  const ProtobufCMessageDescriptor *d;
  if (c == NULL || m == NULL)
    return PLUMB_OK;
  d = c->descriptor;
  if (m->descriptor != d)
    return vfail(x, "a %s where a %s belongs",
                 m->descriptor ? m->descriptor->name : "?", d->name);
  if (depth > x->max_depth)
    return vfail(x, "nested deeper than the limit of %u levels",
                 x->max_depth);
  /* protobuf-c keeps unknown fields (forward compatibility) but also
   * accepts an over-long encoded tag of the invalid field number 0, which
   * it would then re-send as bytes no decoder accepts */
  for (size_t i = 0; i < m->n_unknown_fields; i++)
    if (m->unknown_fields[i].tag == 0 || m->unknown_fields[i].tag > 536870911u)
      return vfail(x, "a field with the invalid number %u",
                   (unsigned)m->unknown_fields[i].tag);
  if (c->is_union && d->n_fields > 0)
    return v_union(x, c, m, depth);
  for (unsigned i = 0; i < d->n_fields; i++) {
    int st = v_field(x, &d->fields[i], &c->fields[i], m, depth);
    if (st != PLUMB_OK)
      return st;
  }
  return PLUMB_OK;
}

/* True if m needs nothing of v_msg beyond its descriptor: no unknown
 * fields, not a union, and every field one plain value that v_field would
 * pass at once (kind NONE, not repeated, not a string) - the requests and
 * replies of most small operations, checked on every call on both sides,
 * so without the context, the path or a call per field. */
static bool
v_plain(const plumb_msg_check *c, const ProtobufCMessage *m)
{
  const ProtobufCMessageDescriptor *d = c->descriptor;

  if (m->descriptor != d || m->n_unknown_fields != 0 || c->is_union)
    return false;
  for (unsigned i = 0; i < d->n_fields; i++)
    if (c->fields[i].kind != PLUMB_CK_NONE ||
        d->fields[i].label == PROTOBUF_C_LABEL_REPEATED ||
        d->fields[i].type == PROTOBUF_C_TYPE_STRING)
      return false;
  return true;
}

int
plumb_validate(const plumb_msg_check *check, const ProtobufCMessage *m,
               unsigned max_depth, char *why, size_t why_len)
{
  vctx x;
  if (check == NULL || m == NULL || v_plain(check, m)) {
    if (why != NULL && why_len > 0)
      why[0] = '\0';
    return PLUMB_OK;
  }
  x.max_depth = max_depth ? max_depth : PLUMB_DEFAULT_MAX_DEPTH;
  x.why = why;
  x.why_len = why_len;
  x.plen = 0;
  x.path[0] = '\0';
  if (why != NULL && why_len > 0)
    why[0] = '\0';
  return v_msg(&x, check, m, 1);
}

int
plumb_call_check(plumb_call *call, const plumb_msg_check *check,
                 const ProtobufCMessage *m, int is_reply)
{
  char why[PLUMB__CALL_FAIL_MAX];
  unsigned depth = call && call->max_depth ? call->max_depth
                                           : PLUMB_DEFAULT_MAX_DEPTH;
  /* The request/reply message is the wrapper, not a level of any value:
   * values nest up to the limit, as the decode pre-scan counts them. */
  if (plumb_validate(check, m, depth + 1, why, sizeof why) == PLUMB_OK)
    return PLUMB_OK;
  /* The system exception the runtime answers with (srv_dispatch.c): a
   * request value that breaks the IDL is BAD_PARAM before the handler
   * ran; a reply that does is the server's own bug, after it ran. */
  if (call != NULL) {
    call->sys_code = is_reply ? PLUMB_SYS_INTERNAL : PLUMB_SYS_BAD_PARAM;
    call->sys_minor = is_reply ? PLUMB_MINOR_BAD_REPLY : PLUMB_MINOR_BAD_VALUE;
    call->sys_completed = 1 + (is_reply ? PLUMB_COMPLETED_YES
                                        : PLUMB_COMPLETED_NO);
  }
  if (is_reply)
    return plumb_call_fail(call, PLUMB_ESERVER, "the handler's reply is "
                           "invalid: %s", why);
  return plumb_call_fail(call, PLUMB_EBADBODY, "%s", why);
}

int
plumb_client_check(plumb_client *c, const char *op,
                   const plumb_msg_check *check, const ProtobufCMessage *m,
                   int is_reply)
{
  char why[200];
  /* + 1: the request/reply wrapper is not a level (see plumb_call_check) */
  if (plumb_validate(check, m, PLUMB_DEFAULT_MAX_DEPTH + 1, why,
                     sizeof why) == PLUMB_OK)
    return PLUMB_OK;
  if (!is_reply)
    return plumb_client_fail(c, PLUMB_EINVAL, "%s: invalid request: %s", op,
                             why);
  return plumb_client_fail(c, PLUMB_EBADBODY, "%s: invalid reply: %s", op,
                           why);
}

int
plumb_any_unpack_checked(const plumb_any *any, const plumb_type_info *type,
                         const plumb_msg_check *check, void **msg,
                         plumb_arena *arena)
{
  void *p = NULL;
  int rc = plumb_any_unpack(any, type, &p, arena);
  if (rc != PLUMB_OK)
    return rc;
  if (plumb_validate(check, p, 0, NULL, 0) != PLUMB_OK)
    return PLUMB_EBADBODY;
  *msg = p;
  return PLUMB_OK;
}

/* ---- the well-known messages (wellknown.c) ------------------------------ */

static const plumb_field_check any_fields[2] = {
  { PLUMB_CK_STRING, PLUMB_CK_SINGLE, 0, 0, NULL }, /* type_url */
  { PLUMB_CK_NONE, PLUMB_CK_SINGLE, 0, 0, NULL },   /* value */
};
const plumb_msg_check plumb_any_check = { &plumb_any_descriptor, any_fields,
                                          0, NULL, 0, -1 };

static const plumb_field_check objref_fields[5] = {
  { PLUMB_CK_STRING, PLUMB_CK_SINGLE, 0, 0, NULL }, /* endpoint */
  { PLUMB_CK_STRING, PLUMB_CK_SINGLE, 0, 0, NULL }, /* object */
  { PLUMB_CK_STRING, PLUMB_CK_SINGLE, 0, 0, NULL }, /* type_id */
  { PLUMB_CK_STRING, PLUMB_CK_SEQ, 0, 0, NULL },    /* endpoints */
  { PLUMB_CK_STRING, PLUMB_CK_SINGLE, 0, 0, NULL }, /* host */
};
const plumb_msg_check plumb_objref_check = { &plumb_objref_descriptor,
                                             objref_fields, 0, NULL, 0, -1 };
