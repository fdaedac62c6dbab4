/* dyn.c - builds protobuf-c descriptors at run time from plumbc's model
 * (compiler/back/model.c): the same field numbers, types and labels that
 * gen_c.c writes as C tables, with a struct layout computed here.  Types
 * are cached by C name, so shared and recursive types are built once. */
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dyn.h"

typedef struct dyn_entry {
  struct dyn_entry *next;
  const char *key;
  dyn_msg *t;
  const idl_node *decl; /* the declaration it was built from, if any */
} dyn_entry;
static dyn_entry *cache;

typedef struct dyn_iface {
  struct dyn_iface *next;
  plumb_interface iface;
  plumb_operation op;
  plumb_type_info *types;
  const plumb_type_info **raises;
} dyn_iface;
static dyn_iface *ifaces;

static ProtobufCType
pbtype(gbase b)
{
  switch (b) {
  case B_BOOL: return PROTOBUF_C_TYPE_BOOL;
  case B_CHAR: case B_INT8: case B_SHORT: case B_LONG:
    return PROTOBUF_C_TYPE_INT32;
  case B_WCHAR: case B_OCTET: case B_UINT8: case B_USHORT: case B_ULONG:
    return PROTOBUF_C_TYPE_UINT32;
  case B_LLONG: return PROTOBUF_C_TYPE_INT64;
  case B_ULLONG: return PROTOBUF_C_TYPE_UINT64;
  case B_FLOAT: return PROTOBUF_C_TYPE_FLOAT;
  case B_DOUBLE: return PROTOBUF_C_TYPE_DOUBLE;
  case B_STRING: case B_WSTRING: return PROTOBUF_C_TYPE_STRING;
  case B_BYTES: return PROTOBUF_C_TYPE_BYTES;
  case B_ENUM: return PROTOBUF_C_TYPE_ENUM;
  default: return PROTOBUF_C_TYPE_MESSAGE;
  }
}

static size_t
elem_size(ProtobufCType t, size_t *align)
{
  switch (t) {
  case PROTOBUF_C_TYPE_BOOL:
    *align = alignof(protobuf_c_boolean);
    return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_UINT32:
  case PROTOBUF_C_TYPE_ENUM: case PROTOBUF_C_TYPE_FLOAT:
    *align = 4;
    return 4;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_DOUBLE:
    *align = alignof(uint64_t);
    return 8;
  case PROTOBUF_C_TYPE_BYTES:
    *align = alignof(ProtobufCBinaryData);
    return sizeof(ProtobufCBinaryData);
  default:
    *align = alignof(void *);
    return sizeof(void *);
  }
}

static size_t
place(size_t *off, size_t size, size_t align)
{
  size_t o = (*off + align - 1) / align * align;
  *off = o + size;
  return o;
}

static const ProtobufCFieldDescriptor *sort_base;
static int
by_id(const void *a, const void *b)
{
  uint32_t x = sort_base[*(const size_t *)a].id;
  uint32_t y = sort_base[*(const size_t *)b].id;
  return x < y ? -1 : x > y;
}
static int
by_name(const void *a, const void *b)
{
  return strcmp(sort_base[*(const unsigned *)a].name,
                sort_base[*(const unsigned *)b].name);
}

static dyn_msg *build(const gmsg *m);

/* The element message type of field f (MSG, WRAP), else NULL. */
static int
sub_of(const gfield *f, dyn_msg **out)
{
  *out = NULL;
  if (f->sh.base == B_MSG) {
    *out = dyn_of_decl(f->sh.decl);
    return *out ? 0 : -1;
  }
  if (f->sh.base == B_WRAP) {
    gmsg w;
    if (msg_of_wrap(&f->sh, (gmsg_fwd *)&w) != 0)
      return -1;
    *out = build(&w);
    return *out ? 0 : -1;
  }
  return 0;
}

static dyn_msg *
build(const gmsg *m)
{
  for (dyn_entry *e = cache; e; e = e->next)
    if (strcmp(e->key, m->cname) == 0)
      return e->t;
  dyn_msg *t = calloc(1, sizeof *t);
  dyn_entry *e = calloc(1, sizeof *e);
  size_t n = m->nf;
  if (t == NULL || e == NULL)
    goto oom;
  /* cached before the fields are built: recursion finds it */
  e->key = m->cname;
  e->t = t;
  e->next = cache;
  cache = e;
  t->m = *m;
  t->fields = calloc(n ? n : 1, sizeof *t->fields);
  t->order = calloc(n ? n : 1, sizeof *t->order);
  t->sub = calloc(n ? n : 1, sizeof *t->sub);
  unsigned *names = calloc(n ? n : 1, sizeof *names);
  ProtobufCIntRange *ranges = calloc(n + 1, sizeof *ranges);
  ProtobufCFieldDescriptor *tmp = calloc(n ? n : 1, sizeof *tmp);
  if (!t->fields || !t->order || !t->sub || !names || !ranges || !tmp)
    goto oom;
  size_t off = sizeof(ProtobufCMessage), al;
  int has_case = 0;
  for (size_t i = 0; i < n; i++) {
    const gfield *f = &m->f[i];
    ProtobufCFieldDescriptor *fd = &tmp[i];
    fd->name = f->pname;
    fd->id = f->id;
    fd->type = pbtype(f->sh.base);
    if (f->sh.rep != REP_NONE) {
      fd->label = PROTOBUF_C_LABEL_REPEATED;
      fd->quantifier_offset = (unsigned)place(&off, sizeof(size_t),
                                              alignof(size_t));
      fd->offset = (unsigned)place(&off, sizeof(void *), alignof(void *));
      if (base_is_scalar(f->sh.base))
        fd->flags = PROTOBUF_C_FIELD_FLAG_PACKED;
    } else {
      if (f->oneof) {
        if (!has_case) {
          t->case_off = place(&off, sizeof(uint32_t), alignof(uint32_t));
          has_case = 1;
        }
        fd->label = PROTOBUF_C_LABEL_NONE;
        fd->quantifier_offset = (unsigned)t->case_off;
        fd->flags = PROTOBUF_C_FIELD_FLAG_ONEOF;
      } else if (f->optional) {
        fd->label = PROTOBUF_C_LABEL_OPTIONAL;
        if (base_is_scalar(f->sh.base) || f->sh.base == B_BYTES)
          fd->quantifier_offset = (unsigned)place(
              &off, sizeof(protobuf_c_boolean), alignof(protobuf_c_boolean));
      } else {
        fd->label = PROTOBUF_C_LABEL_NONE;
      }
      size_t sz = elem_size(fd->type, &al);
      fd->offset = (unsigned)place(&off, sz, al);
    }
    if ((f->sh.base == B_STRING || f->sh.base == B_WSTRING) &&
        f->sh.rep == REP_NONE && !f->oneof)
      fd->default_value = protobuf_c_empty_string;
    if (f->sh.base == B_OBJREF)
      fd->descriptor = &plumb_objref_descriptor;
    else if (f->sh.base == B_ANY)
      fd->descriptor = &plumb_any_descriptor;
  }
  /* descriptor fields sorted by number */
  size_t *idx = t->order;
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  sort_base = tmp;
  qsort(idx, n, sizeof *idx, by_id);
  for (size_t i = 0; i < n; i++)
    t->fields[i] = tmp[idx[i]];
  free(tmp);
  for (unsigned i = 0; i < n; i++)
    names[i] = i;
  sort_base = t->fields;
  qsort(names, n, sizeof *names, by_name);
  size_t nr = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || t->fields[i].id != t->fields[i - 1].id + 1)
      ranges[nr++] = (ProtobufCIntRange){ (int)t->fields[i].id, (int)i };
  ranges[nr] = (ProtobufCIntRange){ 0, (int)n };
  t->d = (ProtobufCMessageDescriptor){
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, m->pfull, m->pshort, m->cname,
    m->pkg, (off + alignof(max_align_t) - 1) / alignof(max_align_t) *
    alignof(max_align_t), (unsigned)n, t->fields, names, (unsigned)nr,
    ranges, NULL, NULL, NULL, NULL };
  /* nested types last: they may refer back to t */
  for (size_t i = 0; i < n; i++) {
    if (sub_of(&m->f[idx[i]], &t->sub[i]) != 0)
      return NULL;
    if (t->sub[i] != NULL)
      t->fields[i].descriptor = &t->sub[i]->d;
  }
  return t;
oom:
  fprintf(stderr, "plumb: out of memory\n");
  exit(1);
}

/* Looked up by declaration first: msg_of_decl allocates in plumbc's pool,
 * which lives to the end of the process, so building the model again for
 * every value (every `any` of a reply) would grow without bound. */
dyn_msg *
dyn_of_decl(const idl_node *n)
{
  gmsg m;
  for (dyn_entry *e = cache; e; e = e->next)
    if (e->decl == n)
      return e->t;
  dyn_msg *t = msg_of_decl(n, &m) == 0 ? build(&m) : NULL;
  for (dyn_entry *e = cache; t != NULL && e; e = e->next)
    if (e->t == t) {
      e->decl = n;
      break;
    }
  return t;
}

dyn_msg *
dyn_of_request(const gop *op)
{
  gmsg m;
  return msg_of_request(op, &m) == 0 ? build(&m) : NULL;
}

dyn_msg *
dyn_of_reply(const gop *op)
{
  gmsg m;
  return msg_of_reply(op, &m) == 0 ? build(&m) : NULL;
}

const plumb_interface *
dyn_interface(const gop *op)
{
  dyn_iface *di = calloc(1, sizeof *di);
  dyn_msg *rq = dyn_of_request(op), *rp = op->oneway ? NULL
                                                      : dyn_of_reply(op);
  const idl_node *n = op->node;
  size_t nr = n->kind == IDL_OPERATION ? n->nraises : 0;
  if (di == NULL || rq == NULL || (!op->oneway && rp == NULL))
    return NULL;
  di->types = calloc(nr ? nr : 1, sizeof *di->types);
  di->raises = calloc(nr ? nr : 1, sizeof *di->raises);
  for (size_t i = 0; i < nr; i++) {
    dyn_msg *ex = dyn_of_decl(n->raises[i]);
    if (ex == NULL)
      return NULL;
    di->types[i].type_id = repo_id(n->raises[i]);
    di->types[i].descriptor = &ex->d;
    di->raises[i] = &di->types[i];
  }
  const char *tid = repo_id(op->iface);
  di->op = (plumb_operation){ .name = op->name,
                              .flags = op->oneway ? PLUMB_OP_ONEWAY : 0u,
                              .decl_iface = fnv1a(tid),
                              .decl_index = op->decl_index,
                              .request = &rq->d,
                              .reply = rp ? &rp->d : NULL,
                              .raises = di->raises, .n_raises = nr };
  di->iface = (plumb_interface){ PLUMB_GENERATED_ABI, tid, fnv1a(tid),
                                 &di->op, 1, NULL, 0, NULL, NULL };
  di->next = ifaces;
  ifaces = di;
  return &di->iface;
}

ProtobufCMessage *
dyn_new(const dyn_msg *t, plumb_arena *a)
{
  ProtobufCMessage *m = plumb_arena_alloc(a, t->d.sizeof_message);
  if (m == NULL)
    return NULL;
  memset(m, 0, t->d.sizeof_message);
  m->descriptor = &t->d;
  for (unsigned i = 0; i < t->d.n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &t->fields[i];
    if (f->default_value != NULL && f->type == PROTOBUF_C_TYPE_STRING)
      *(const char **)((char *)m + f->offset) = protobuf_c_empty_string;
  }
  return m;
}

void
dyn_free(void)
{
  while (cache) {
    dyn_entry *e = cache->next;
    free(cache->t->fields);
    free(cache->t->order);
    free(cache->t->sub);
    free((void *)cache->t->d.fields_sorted_by_name);
    free((void *)cache->t->d.field_ranges);
    free(cache->t);
    free(cache);
    cache = e;
  }
  while (ifaces) {
    dyn_iface *n = ifaces->next;
    free(ifaces->types);
    free(ifaces->raises);
    free(ifaces);
    ifaces = n;
  }
}
