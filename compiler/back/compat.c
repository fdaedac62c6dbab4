/* compat.c - plumbc's compatibility checker (compat.h): parses an OLD and a
 * NEW version of an IDL file, pairs their declarations by repository id
 * (then, for renamed scopes, by kind and simple name), and compares each
 * pair on what the generators put on the wire: field numbers from
 * msg_of_decl, operation indexes from iface_own_ops, shapes (type, bounds,
 * repetition) from shape_of, interface ids from repo_id/fnv1a - the very
 * functions gen_c.c uses, so the checker and the generated code agree.
 * Every difference becomes one line "FILE:LINE:COL: CLASS: text (was
 * FILE:LINE:COL)", sorted by location, followed by a summary.  The rules
 * (what is breaking, source or safe, and why) are in docs/IDL-MAPPING.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "back.h"
#include "compat.h"
#include "front.h"

/* ---- the report ----------------------------------------------------------- */

typedef enum cclass { C_BREAK, C_SOURCE, C_SAFE } cclass;
static const char *const class_name[] = { "breaking", "source", "safe" };

typedef struct change {
  cclass cls;
  int side;      /* 0: `at` is in NEW, 1: only OLD has it (a removal) */
  idl_loc at, was;
  bool has_was;
  const char *text;
  size_t seq;
} change;

static change *changes;
static size_t nchanges, capchanges;

static void
report(cclass cls, int side, const idl_loc *at, const idl_loc *was,
       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
report(cclass cls, int side, const idl_loc *at, const idl_loc *was,
       const char *fmt, ...)
{
  va_list ap;
  char *tmp = NULL;
  change *c;
  if (nchanges == capchanges) {
    change *v;
    capchanges = capchanges ? capchanges * 2 : 32;
    v = galloc(sizeof *v * capchanges);
    if (nchanges)
      memcpy(v, changes, sizeof *v * nchanges);
    changes = v;
  }
  c = &changes[nchanges];
  c->cls = cls;
  c->side = side;
  c->at = *at;
  c->has_was = was != NULL;
  if (was != NULL)
    c->was = *was;
  va_start(ap, fmt);
  if (vasprintf(&tmp, fmt, ap) < 0)
    tmp = NULL;
  va_end(ap);
  c->text = gstr("%s", tmp ? tmp : "(out of memory)");
  free(tmp);
  c->seq = nchanges++;
}

/* What changed in NEW (at a NEW location), or was removed (at OLD's). */
#define CHANGED(cls, at, was, ...) report(cls, 0, at, was, __VA_ARGS__)
#define REMOVED(cls, at, ...) report(cls, 1, at, NULL, __VA_ARGS__)

static int
change_cmp(const void *a, const void *b)
{
  const change *x = a, *y = b;
  int r;
  if (x->side != y->side)
    return x->side - y->side;
  r = strcmp(x->at.file ? x->at.file : "", y->at.file ? y->at.file : "");
  if (r != 0)
    return r;
  if (x->at.line != y->at.line)
    return x->at.line < y->at.line ? -1 : 1;
  if (x->at.col != y->at.col)
    return x->at.col < y->at.col ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
print_loc(FILE *f, const idl_loc *l)
{
  fprintf(f, "%s:%d:%d", l->file ? l->file : "?", l->line, l->col);
}

/* ---- declarations of one tree --------------------------------------------- */

typedef struct cdecl {
  const idl_node *n;
  const char *rid;   /* repository id */
  const char *sname; /* scoped name without the leading "::" */
  struct cdecl *pair; /* the same declaration in the other tree */
  bool wire;         /* OLD only: reachable from an operation */
  bool done;         /* matched or reported */
} cdecl;

typedef struct pmap_slot {
  const void *key;
  cdecl *val;
} pmap_slot;

typedef struct ctree {
  idl_tree *t;
  cdecl *d;
  size_t nd, capd;
  pmap_slot *map; /* node pointer -> cdecl */
  size_t mapcap;  /* power of two */
} ctree;

static ctree told, tnew;

static size_t
ptr_hash(const void *p, size_t cap)
{
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 17) & (cap - 1);
}

static cdecl *
decl_of(const ctree *ct, const idl_node *n)
{
  if (n == NULL || ct->mapcap == 0)
    return NULL;
  for (size_t i = ptr_hash(n, ct->mapcap);; i = (i + 1) & (ct->mapcap - 1)) {
    if (ct->map[i].key == n)
      return ct->map[i].val;
    if (ct->map[i].key == NULL)
      return NULL;
  }
}

static bool
kind_tracked(idl_kind k)
{
  return k == IDL_INTERFACE || k == IDL_STRUCT || k == IDL_UNION ||
         k == IDL_ENUM || k == IDL_TYPEDEF || k == IDL_CONST ||
         k == IDL_EXCEPTION;
}

static const char *
kind_word(idl_kind k)
{
  switch (k) {
  case IDL_INTERFACE: return "interface";
  case IDL_STRUCT: return "struct";
  case IDL_UNION: return "union";
  case IDL_ENUM: return "enum";
  case IDL_TYPEDEF: return "typedef";
  case IDL_CONST: return "constant";
  case IDL_EXCEPTION: return "exception";
  default: return "declaration";
  }
}


static void
collect(ctree *ct, const idl_node *scope)
{
  for (const idl_node *c = scope->children; c != NULL; c = c->next) {
    if (kind_tracked(c->kind)) {
      cdecl *d;
      if (ct->nd == ct->capd) {
        cdecl *v;
        ct->capd = ct->capd ? ct->capd * 2 : 64;
        v = galloc(sizeof *v * ct->capd);
        if (ct->nd)
          memcpy(v, ct->d, sizeof *v * ct->nd);
        ct->d = v;
      }
      d = &ct->d[ct->nd++];
      d->n = c;
      d->rid = repo_id(c);
      d->sname = g_scoped(c);
    }
    if (c->kind == IDL_MODULE || c->kind == IDL_INTERFACE ||
        c->kind == IDL_STRUCT || c->kind == IDL_UNION ||
        c->kind == IDL_EXCEPTION)
      collect(ct, c);
  }
}

static void
index_tree(ctree *ct)
{
  collect(ct, ct->t->root);
  ct->mapcap = 16;
  while (ct->mapcap < ct->nd * 2)
    ct->mapcap *= 2;
  ct->map = galloc(sizeof *ct->map * ct->mapcap);
  for (size_t k = 0; k < ct->nd; k++) {
    size_t i = ptr_hash(ct->d[k].n, ct->mapcap);
    while (ct->map[i].key != NULL)
      i = (i + 1) & (ct->mapcap - 1);
    ct->map[i].key = ct->d[k].n;
    ct->map[i].val = &ct->d[k];
  }
}

static int
rid_cmp(const void *a, const void *b)
{
  return strcmp((*(cdecl *const *)a)->rid, (*(cdecl *const *)b)->rid);
}

/* The NEW declaration paired with OLD node n (NULL if none). */
static const idl_node *
pair_of(const idl_node *n)
{
  const cdecl *d = decl_of(&told, iface_of(n));
  return d != NULL && d->pair != NULL ? d->pair->n : NULL;
}

static bool
same_decl(const idl_node *o, const idl_node *n)
{
  o = iface_of(o);
  n = iface_of(n);
  if (o == NULL || n == NULL)
    return o == n;
  return pair_of(o) == n;
}

/* ---- which OLD types travel on the wire ------------------------------------ */

static void mark_type(const idl_type *t);

static void
mark_node(const idl_node *n)
{
  cdecl *d = decl_of(&told, n);
  if (d == NULL || d->wire)
    return;
  d->wire = true;
  if (n->type != NULL)
    mark_type(n->type); /* typedef target, union discriminator */
  for (const idl_node *c = n->children; c != NULL; c = c->next)
    if (c->kind == IDL_MEMBER || c->kind == IDL_CASE)
      mark_type(c->type);
}

static void
mark_type(const idl_type *t)
{
  for (; t != NULL; t = t->elem) {
    if (t->kind == IDL_T_NAMED && t->ref != NULL)
      mark_node(iface_of(t->ref));
    if (t->kind != IDL_T_SEQUENCE)
      break;
  }
}

static void
mark_wire(void)
{
  for (size_t k = 0; k < told.nd; k++) {
    const idl_node *n = told.d[k].n;
    if (n->kind != IDL_INTERFACE)
      continue;
    for (const idl_node *c = n->children; c != NULL; c = c->next) {
      if (c->kind == IDL_ATTRIBUTE)
        mark_type(c->type);
      if (c->kind != IDL_OPERATION)
        continue;
      mark_type(c->type);
      for (const idl_node *p = c->children; p != NULL; p = p->next)
        if (p->kind == IDL_PARAM)
          mark_type(p->type);
      for (size_t r = 0; r < c->nraises; r++)
        mark_node(c->raises[r]);
    }
  }
}

/* ---- spelling types and values ----------------------------------------------- */


static const char *
dims_text(const uint64_t *dims, size_t nd)
{
  const char *s = "";
  for (size_t i = 0; i < nd; i++)
    s = gstr("%s[%" PRIu64 "]", s, dims[i]);
  return s;
}

static const char *
value_text(const idl_value *v)
{
  switch (v->kind) {
  case IDL_V_INT: return gstr("%" PRId64, v->i);
  case IDL_V_UINT: return gstr("%" PRIu64, v->u);
  case IDL_V_FLOAT: return gstr("%g", v->f);
  case IDL_V_BOOL: return v->b ? "TRUE" : "FALSE";
  case IDL_V_CHAR:
    return v->u >= 0x20 && v->u < 0x7f ? gstr("'%c'", (char)v->u)
                                        : gstr("'\\x%" PRIx64 "'", v->u);
  case IDL_V_STRING: return c_string_lit(v->s ? v->s : "");
  case IDL_V_ENUM: return v->e ? v->e->name : gstr("%" PRIu64, v->u);
  default: return "?";
  }
}

/* The values are the same as far as anything generated can tell. */
static bool
value_same(const idl_value *a, const idl_value *b)
{
  return strcmp(value_text(a), value_text(b)) == 0;
}

/* Same IDL spelling (up to paired declarations): the C types agree. */
static bool
spelling_same(const idl_type *a, const idl_type *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  if (a->kind != b->kind)
    return false;
  switch (a->kind) {
  case IDL_T_STRING: case IDL_T_WSTRING: return a->bound == b->bound;
  case IDL_T_SEQUENCE:
    return a->bound == b->bound && spelling_same(a->elem, b->elem);
  case IDL_T_NAMED: return same_decl(a->ref, b->ref);
  default: return true;
  }
}

static bool
dims_same(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
  if (na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (a[i] != b[i])
      return false;
  return true;
}

/* ---- shapes ---------------------------------------------------------------- */

typedef enum cres { R_SAME, R_WIDER, R_NARROWER, R_CHANGED } cres;

static cres
worse(cres a, cres b)
{
  return a > b ? a : b;
}

static cres
bound_cmp(uint64_t o, uint64_t n)
{
  if (o == n)
    return R_SAME;
  if (n == 0 || (o != 0 && n > o))
    return R_WIDER;
  return R_NARROWER;
}

/* Compares the wire shapes of an OLD and a NEW value. */
static cres
shape_cmp(const gshape *a, const gshape *b)
{
  cres r = R_SAME;
  if (a->rep != b->rep || a->base != b->base)
    return R_CHANGED;
  if (a->rep == REP_ARRAY && a->count != b->count)
    return R_CHANGED;
  if (a->rep == REP_SEQ)
    r = bound_cmp(a->seq_bound, b->seq_bound);
  switch (a->base) {
  case B_MSG: case B_ENUM: case B_OBJREF:
    if (!same_decl(a->decl, b->decl))
      return R_CHANGED;
    break;
  case B_STRING: case B_WSTRING: case B_BYTES:
    r = worse(r, bound_cmp(a->bound, b->bound));
    break;
  case B_WRAP: {
    gmsg ma, mb;
    if (msg_of_wrap(a, &ma) != 0 || msg_of_wrap(b, &mb) != 0)
      return R_CHANGED;
    r = worse(r, shape_cmp(&ma.f[0].sh, &mb.f[0].sh));
    break;
  }
  default:
    break;
  }
  return r;
}

/* A typed thing on one side: its shape and its IDL spelling. */
typedef struct typed {
  const gshape *sh;
  const idl_type *t;
  const uint64_t *dims;
  size_t nd;
} typed;

static const char *
typed_text(const typed *x)
{
  return gstr("%s%s", g_type_text(x->t), dims_text(x->dims, x->nd));
}

static bool
is_typedef_ref(const idl_type *t)
{
  return t != NULL && t->kind == IDL_T_NAMED && t->ref != NULL &&
         t->ref->kind == IDL_TYPEDEF;
}

/* Compares the types of `subject` (e.g. "field 'x' of struct 'S'") and
 * reports what changed; returns true if anything did. */
static bool
cmp_typed(const char *subject, const idl_loc *at, const idl_loc *was,
          const typed *o, const typed *n)
{
  cres r;
  bool spelled = spelling_same(o->t, n->t) &&
                 dims_same(o->dims, o->nd, n->dims, n->nd);
  /* The same typedef on both sides: the typedef itself is compared (and
   * reported) once, where it is declared. */
  if (spelled && is_typedef_ref(o->t))
    return false;
  r = shape_cmp(o->sh, n->sh);
  switch (r) {
  case R_CHANGED:
    CHANGED(C_BREAK, at, was, "%s changed type %s -> %s", subject,
            typed_text(o), typed_text(n));
    return true;
  case R_NARROWER:
    CHANGED(C_BREAK, at, was, "%s narrowed %s -> %s", subject, typed_text(o),
            typed_text(n));
    return true;
  case R_WIDER:
    CHANGED(C_SAFE, at, was, "%s widened %s -> %s", subject, typed_text(o),
            typed_text(n));
    return true;
  case R_SAME:
    break;
  }
  if (!spelled) {
    CHANGED(C_SOURCE, at, was, "%s changed type %s -> %s (same wire type)",
            subject, typed_text(o), typed_text(n));
    return true;
  }
  return false;
}

/* ---- structs, exceptions, unions -------------------------------------------- */

static const gfield *
field_named(const gmsg *m, const char *name)
{
  for (size_t i = 0; i < m->nf; i++)
    if (m->f[i].src != NULL && strcmp(m->f[i].pname, name) == 0)
      return &m->f[i];
  return NULL;
}

static const gfield *
field_numbered(const gmsg *m, uint32_t id)
{
  for (size_t i = 0; i < m->nf; i++)
    if (m->f[i].src != NULL && m->f[i].id == id)
      return &m->f[i];
  return NULL;
}

/* The labels of a union case, sorted; as_key spells enumerators by their
 * value (what travels in _d), otherwise by name. */
static const char *
labels_text(const idl_node *c, bool as_key)
{
  const char **v = galloc(sizeof *v * (c->nlabels + 1));
  const char *s = "";
  size_t n = 0;
  for (size_t i = 0; i < c->nlabels; i++)
    v[n++] = as_key && c->labels[i].kind == IDL_V_ENUM
                 ? gstr("#%" PRIu64, c->labels[i].u)
                 : value_text(&c->labels[i]);
  if (c->flags & IDL_F_DEFAULT)
    v[n++] = "default";
  for (size_t i = 1; i < n; i++) /* sorted: the order of labels is free */
    for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
      const char *x = v[k];
      v[k] = v[k - 1];
      v[k - 1] = x;
    }
  for (size_t i = 0; i < n; i++)
    s = gstr("%s%s%s", s, i ? ", " : "", v[i]);
  return s;
}

static void
cmp_field_pair(const char *what, const char *owner, const gfield *fo,
               const gfield *fn)
{
  const char *subj = gstr("%s '%s' of %s", what, fn->pname, owner);
  const idl_node *so = fo->src, *sn = fn->src;
  typed o = { &fo->sh, so->type, so->dims, so->ndims };
  typed n = { &fn->sh, sn->type, sn->dims, sn->ndims };
  if (fo->id != fn->id)
    CHANGED(C_BREAK, &sn->loc, &so->loc, "%s renumbered %" PRIu32
            " -> %" PRIu32, subj, fo->id, fn->id);
  else if (strcmp(fo->pname, fn->pname) != 0)
    CHANGED(C_SOURCE, &sn->loc, &so->loc, "%s '%s' of %s renamed to '%s' "
            "(number %" PRIu32 " kept)", what, fo->pname, owner, fn->pname,
            fn->id);
  cmp_typed(subj, &sn->loc, &so->loc, &o, &n);
  if ((so->flags & IDL_F_OPTIONAL) != (sn->flags & IDL_F_OPTIONAL))
    CHANGED(C_SOURCE, &sn->loc, &so->loc, "%s is %s @optional", subj,
            (sn->flags & IDL_F_OPTIONAL) ? "now" : "no longer");
  if (so->kind == IDL_CASE) {
    if (strcmp(labels_text(so, true), labels_text(sn, true)) != 0)
      CHANGED(C_BREAK, &sn->loc, &so->loc, "%s changed labels %s -> %s",
              subj, labels_text(so, false), labels_text(sn, false));
  }
}

static void
cmp_message(const cdecl *od, const cdecl *nd)
{
  gmsg mo, mn;
  const char *what = nd->n->kind == IDL_UNION ? "case" : "field";
  const char *owner = gstr("%s '%s'", kind_word(nd->n->kind), nd->sname);
  bool *used;

  if (msg_of_decl(od->n, &mo) != 0 || msg_of_decl(nd->n, &mn) != 0)
    return;
  if (nd->n->kind == IDL_UNION) {
    gshape so, sn;
    if (shape_of(od->n->type, NULL, 0, &od->n->loc, &so) == 0 &&
        shape_of(nd->n->type, NULL, 0, &nd->n->loc, &sn) == 0) {
      typed o = { &so, od->n->type, NULL, 0 }, n = { &sn, nd->n->type, NULL, 0 };
      cmp_typed(gstr("discriminator of %s", owner), &nd->n->loc, &od->n->loc,
                &o, &n);
    }
  }
  used = galloc(sizeof *used * (mn.nf + 1));
  /* by name first (a renumbered field keeps its name), then by number
   * (a renamed field keeps its number) */
  for (size_t i = 0; i < mo.nf; i++) {
    const gfield *fo = &mo.f[i], *fn;
    if (fo->src == NULL)
      continue;
    fn = field_named(&mn, fo->pname);
    if (fn == NULL) {
      fn = field_numbered(&mn, fo->id);
      if (fn != NULL && field_named(&mo, fn->pname) != NULL)
        fn = NULL; /* that number went to another old field */
    }
    if (fn == NULL) {
      CHANGED(C_BREAK, &nd->n->loc, &fo->src->loc,
              "%s '%s' of %s removed (number %" PRIu32 ")", what, fo->pname,
              owner, fo->id);
      continue;
    }
    used[fn - mn.f] = true;
    cmp_field_pair(what, owner, fo, fn);
  }
  for (size_t i = 0; i < mn.nf; i++) {
    const gfield *fn = &mn.f[i], *fo;
    if (fn->src == NULL || used[i])
      continue;
    fo = field_numbered(&mo, fn->id);
    if (fo != NULL)
      CHANGED(C_BREAK, &fn->src->loc, &fo->src->loc,
              "%s '%s' of %s reuses number %" PRIu32 " of '%s'", what,
              fn->pname, owner, fn->id, fo->pname);
    else
      CHANGED(C_SAFE, &fn->src->loc, NULL, "new %s '%s' of %s (number %"
              PRIu32 ")", what, fn->pname, owner, fn->id);
  }
}

/* ---- enums, typedefs, constants ---------------------------------------------- */

static const idl_node *
enumerator(const idl_node *en, const char *name, uint64_t ordinal)
{
  for (const idl_node *e = en->children; e != NULL; e = e->next)
    if (e->kind == IDL_ENUMERATOR &&
        (name != NULL ? strcmp(e->name, name) == 0 : e->value.u == ordinal))
      return e;
  return NULL;
}

static void
cmp_enum(const cdecl *od, const cdecl *nd)
{
  const char *owner = nd->sname;
  for (const idl_node *eo = od->n->children; eo != NULL; eo = eo->next) {
    const idl_node *en;
    if (eo->kind != IDL_ENUMERATOR)
      continue;
    en = enumerator(nd->n, eo->name, 0);
    if (en != NULL) {
      if (en->value.u != eo->value.u)
        CHANGED(C_BREAK, &en->loc, &eo->loc, "enumerator '%s' of enum '%s' "
                "changed value %" PRIu64 " -> %" PRIu64, eo->name, owner,
                eo->value.u, en->value.u);
      continue;
    }
    en = enumerator(nd->n, NULL, eo->value.u);
    if (en != NULL && enumerator(od->n, en->name, 0) == NULL)
      CHANGED(C_SOURCE, &en->loc, &eo->loc, "enumerator '%s' of enum '%s' "
              "renamed to '%s' (value %" PRIu64 " kept)", eo->name, owner,
              en->name, en->value.u);
    else
      CHANGED(C_BREAK, &nd->n->loc, &eo->loc, "enumerator '%s' of enum '%s' "
              "removed (value %" PRIu64 ")", eo->name, owner, eo->value.u);
  }
  for (const idl_node *en = nd->n->children; en != NULL; en = en->next) {
    const idl_node *eo;
    if (en->kind != IDL_ENUMERATOR || enumerator(od->n, en->name, 0) != NULL)
      continue;
    eo = enumerator(od->n, NULL, en->value.u);
    if (eo != NULL && enumerator(nd->n, eo->name, 0) == NULL)
      continue; /* a rename, reported above */
    if (eo != NULL)
      CHANGED(C_BREAK, &en->loc, &eo->loc, "enumerator '%s' of enum '%s' "
              "takes value %" PRIu64 " of '%s'", en->name, owner, en->value.u,
              eo->name);
    else
      CHANGED(C_SAFE, &en->loc, NULL, "new enumerator '%s' of enum '%s' "
              "(value %" PRIu64 ")", en->name, owner, en->value.u);
  }
}

static int
typedef_shape(const idl_node *td, gshape *sh)
{
  gowner ow = { cname(td), proto_package(td), proto_local(td) };
  return shape_of_owned(td->type, td->dims, td->ndims, &td->loc, &ow, sh);
}

static void
cmp_typedef(const cdecl *od, const cdecl *nd)
{
  gshape so, sn;
  if (typedef_shape(od->n, &so) != 0 || typedef_shape(nd->n, &sn) != 0)
    return;
  {
    typed o = { &so, od->n->type, od->n->dims, od->n->ndims };
    typed n = { &sn, nd->n->type, nd->n->dims, nd->n->ndims };
    cmp_typed(gstr("typedef '%s'", nd->sname), &nd->n->loc, &od->n->loc, &o,
              &n);
  }
}

static void
cmp_const(const cdecl *od, const cdecl *nd)
{
  if (!spelling_same(od->n->type, nd->n->type))
    CHANGED(C_SOURCE, &nd->n->loc, &od->n->loc, "constant '%s' changed type "
            "%s -> %s", nd->sname, g_type_text(od->n->type),
            g_type_text(nd->n->type));
  if (!value_same(&od->n->value, &nd->n->value))
    CHANGED(C_SOURCE, &nd->n->loc, &od->n->loc, "constant '%s' changed value "
            "%s -> %s", nd->sname, value_text(&od->n->value),
            value_text(&nd->n->value));
}

/* ---- interfaces and operations ------------------------------------------------ */

static const char *
dir_word(idl_dir d)
{
  return d == IDL_IN ? "in" : d == IDL_OUT ? "out" : "inout";
}

/* The field number of parameter i in the request (in, inout) or the reply
 * (_ret first, then out, inout) - the numbering of msg_of_request/reply. */
static size_t
wire_pos(const gop *op, size_t i, bool reply)
{
  size_t k = reply && op->has_ret ? 2 : 1;
  for (size_t j = 0; j < i; j++)
    if (reply ? op->p[j].dir != IDL_IN : op->p[j].dir != IDL_OUT)
      k++;
  return k;
}

static const idl_node *
param_node(const gop *op, size_t i)
{
  size_t k = 0;
  if (op->kind != GOP_OP)
    return op->node;
  for (const idl_node *p = op->node->children; p != NULL; p = p->next)
    if (p->kind == IDL_PARAM && k++ == i)
      return p;
  return op->node;
}

static ptrdiff_t
param_named(const gop *op, const char *name)
{
  for (size_t i = 0; i < op->np; i++)
    if (strcmp(op->p[i].pname, name) == 0)
      return (ptrdiff_t)i;
  return -1;
}

static void
cmp_params(const char *opname, const gop *oo, const gop *no)
{
  bool *used = galloc(sizeof *used * (no->np + 1));
  for (size_t i = 0; i < oo->np; i++) {
    const gparam *po = &oo->p[i], *pn;
    const idl_node *so = param_node(oo, i), *sn;
    ptrdiff_t j = param_named(no, po->pname);
    const char *subj;
    if (j < 0 && i < no->np && !used[i] && param_named(oo, no->p[i].pname) < 0) {
      j = (ptrdiff_t)i; /* same place, new name */
      CHANGED(C_SOURCE, &param_node(no, i)->loc, &so->loc, "parameter '%s' "
              "of operation '%s' renamed to '%s'", po->pname, opname,
              no->p[i].pname);
    }
    if (j < 0) {
      CHANGED(C_BREAK, &no->node->loc, &so->loc, "parameter '%s' of "
              "operation '%s' removed", po->pname, opname);
      continue;
    }
    used[j] = true;
    pn = &no->p[j];
    sn = param_node(no, (size_t)j);
    subj = gstr("parameter '%s' of operation '%s'", pn->pname, opname);
    if (po->dir != pn->dir) {
      CHANGED(C_BREAK, &sn->loc, &so->loc, "%s changed direction %s -> %s",
              subj, dir_word(po->dir), dir_word(pn->dir));
      continue;
    }
    if (po->dir != IDL_OUT &&
        wire_pos(oo, i, false) != wire_pos(no, (size_t)j, false))
      CHANGED(C_BREAK, &sn->loc, &so->loc, "%s moved from request field %zu "
              "to %zu", subj, wire_pos(oo, i, false),
              wire_pos(no, (size_t)j, false));
    else if (po->dir != IDL_IN && oo->has_ret == no->has_ret &&
             wire_pos(oo, i, true) != wire_pos(no, (size_t)j, true))
      CHANGED(C_BREAK, &sn->loc, &so->loc, "%s moved from reply field %zu "
              "to %zu", subj, wire_pos(oo, i, true), wire_pos(no, (size_t)j, true));
    {
      typed o = { &po->sh, po->type, NULL, 0 }, n = { &pn->sh, pn->type, NULL, 0 };
      cmp_typed(subj, &sn->loc, &so->loc, &o, &n);
    }
  }
  for (size_t j = 0; j < no->np; j++)
    if (!used[j])
      CHANGED(C_SOURCE, &param_node(no, j)->loc, NULL, "new %s parameter '%s' "
              "of operation '%s' (old peers leave it empty)",
              dir_word(no->p[j].dir), no->p[j].pname, opname);
}

/* Is x (of the OLD tree if x_is_old) the same declaration as one of v
 * (of the other tree)? */
static bool
among(const idl_node *x, const idl_node *const *v, size_t n, bool x_is_old)
{
  for (size_t i = 0; i < n; i++)
    if (x_is_old ? same_decl(x, v[i]) : same_decl(v[i], x))
      return true;
  return false;
}

static bool
raises_has(const idl_node *op, const idl_node *exc, bool exc_is_old)
{
  return among(exc, (const idl_node *const *)op->raises, op->nraises,
               exc_is_old);
}

static void
cmp_raises(const char *opname, const gop *oo, const gop *no)
{
  const idl_node *a = oo->node, *b = no->node;
  if (oo->kind != GOP_OP || no->kind != GOP_OP)
    return;
  for (size_t i = 0; i < b->nraises; i++)
    if (!raises_has(a, b->raises[i], false))
      CHANGED(C_BREAK, &b->loc, &a->loc, "operation '%s' now raises '%s' "
              "(old clients see PLUMB_ESERVER)", opname, g_scoped(b->raises[i]));
  for (size_t i = 0; i < a->nraises; i++)
    if (!raises_has(b, a->raises[i], true))
      CHANGED(C_SAFE, &b->loc, &a->loc, "operation '%s' no longer raises '%s'",
              opname, g_scoped(a->raises[i]));
}

static void
cmp_op(const char *iname, const gop *oo, const gop *no)
{
  const char *opname = gstr("%s::%s", iname, no->name);
  const idl_loc *at = &no->node->loc, *was = &oo->node->loc;
  if (oo->decl_index != no->decl_index)
    CHANGED(C_BREAK, at, was, "operation '%s' moved from index %u to %u",
            opname, oo->decl_index, no->decl_index);
  if (oo->oneway != no->oneway)
    CHANGED(C_BREAK, at, was, "operation '%s' is %s oneway", opname,
            no->oneway ? "now" : "no longer");
  if (oo->has_ret != no->has_ret) {
    CHANGED(C_BREAK, at, was, "return value of operation '%s' changed type "
            "%s -> %s", opname, oo->has_ret ? g_type_text(oo->ret.type) : "void",
            no->has_ret ? g_type_text(no->ret.type) : "void");
  } else if (oo->has_ret) {
    typed o = { &oo->ret.sh, oo->ret.type, NULL, 0 };
    typed n = { &no->ret.sh, no->ret.type, NULL, 0 };
    cmp_typed(gstr("return value of operation '%s'", opname), at, was, &o, &n);
  }
  cmp_params(opname, oo, no);
  cmp_raises(opname, oo, no);
}

static const gop *
op_named(const gop *v, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i].name, name) == 0)
      return &v[i];
  return NULL;
}

static void
ancestors(const idl_node *i, const idl_node ***v, size_t *n, size_t *cap)
{
  for (size_t b = 0; b < i->nbases; b++) {
    const idl_node *base = iface_of(i->bases[b]);
    bool seen = false;
    if (base == NULL)
      continue;
    for (size_t k = 0; k < *n; k++)
      seen |= (*v)[k] == base;
    if (seen)
      continue;
    if (*n == *cap) {
      const idl_node **w;
      *cap = *cap ? *cap * 2 : 8;
      w = galloc(sizeof *w * *cap);
      if (*n)
        memcpy(w, *v, sizeof *w * *n);
      *v = w;
    }
    (*v)[(*n)++] = base;
    ancestors(base, v, n, cap);
  }
}

static void
cmp_bases(const cdecl *od, const cdecl *nd)
{
  const idl_node **va = NULL, **vb = NULL;
  size_t na = 0, nb = 0, ca = 0, cb = 0;
  bool order = od->n->nbases == nd->n->nbases;
  ancestors(od->n, &va, &na, &ca);
  ancestors(nd->n, &vb, &nb, &cb);
  for (size_t i = 0; i < na; i++)
    if (!among(va[i], vb, nb, true))
      CHANGED(C_BREAK, &nd->n->loc, &od->n->loc, "interface '%s' no longer "
              "inherits '%s'", nd->sname, g_scoped(va[i]));
  for (size_t k = 0; k < nb; k++)
    if (!among(vb[k], va, na, false))
      CHANGED(C_SAFE, &nd->n->loc, &od->n->loc, "interface '%s' now inherits "
              "'%s'", nd->sname, g_scoped(vb[k]));
  for (size_t b = 0; order && b < od->n->nbases; b++)
    order = same_decl(od->n->bases[b], nd->n->bases[b]);
  if (!order && na == nb)
    CHANGED(C_SOURCE, &nd->n->loc, &od->n->loc, "interface '%s' lists its "
            "bases in another order", nd->sname);
}

static void
cmp_interface(const cdecl *od, const cdecl *nd)
{
  size_t no, nn;
  gop *vo = iface_own_ops(od->n, &no), *vn = iface_own_ops(nd->n, &nn);
  bool *used = galloc(sizeof *used * (nn + 1));
  const char *iname = nd->sname;

  cmp_bases(od, nd);
  for (size_t i = 0; i < no; i++) {
    const gop *oo = &vo[i], *on = op_named(vn, nn, oo->name);
    if (on == NULL && i < nn && !used[i] && vn[i].kind == oo->kind &&
        op_named(vo, no, vn[i].name) == NULL) {
      on = &vn[i]; /* same index, new name */
      CHANGED(C_SOURCE, &on->node->loc, &oo->node->loc, "operation '%s::%s' "
              "renamed to '%s' (index %u kept)", iname, oo->name, on->name,
              on->decl_index);
    }
    if (on == NULL) {
      CHANGED(C_BREAK, &nd->n->loc, &oo->node->loc, "operation '%s::%s' "
              "removed (index %u)", iname, oo->name, oo->decl_index);
      continue;
    }
    used[on - vn] = true;
    cmp_op(iname, oo, on);
  }
  for (size_t i = 0; i < nn; i++)
    if (!used[i])
      CHANGED(C_SAFE, &vn[i].node->loc, NULL, "new operation '%s::%s' "
              "(index %u)", iname, vn[i].name, vn[i].decl_index);
}

/* ---- pairing and the whole comparison ----------------------------------------- */

static void
cmp_pair(const cdecl *od, const cdecl *nd)
{
  switch (nd->n->kind) {
  case IDL_STRUCT: case IDL_UNION: case IDL_EXCEPTION:
    cmp_message(od, nd);
    break;
  case IDL_ENUM: cmp_enum(od, nd); break;
  case IDL_TYPEDEF: cmp_typedef(od, nd); break;
  case IDL_CONST: cmp_const(od, nd); break;
  case IDL_INTERFACE: cmp_interface(od, nd); break;
  default: break;
  }
}

/* Kinds whose repository id travels on the wire: interface ids, exception
 * frames, any type URLs. */
static bool
rid_on_wire(idl_kind k)
{
  return k == IDL_INTERFACE || k == IDL_STRUCT || k == IDL_UNION ||
         k == IDL_EXCEPTION;
}

static void
pair_decls(void)
{
  cdecl **byrid = galloc(sizeof *byrid * (tnew.nd + 1));
  for (size_t k = 0; k < tnew.nd; k++)
    byrid[k] = &tnew.d[k];
  qsort(byrid, tnew.nd, sizeof *byrid, rid_cmp);
  /* 1. the same repository id */
  for (size_t k = 0; k < told.nd; k++) {
    cdecl *od = &told.d[k], key = { .rid = od->rid }, *kp = &key, **hit;
    hit = bsearch(&kp, byrid, tnew.nd, sizeof *byrid, rid_cmp);
    if (hit == NULL || (*hit)->done)
      continue;
    od->done = (*hit)->done = true;
    if ((*hit)->n->kind != od->n->kind) {
      CHANGED(C_BREAK, &(*hit)->n->loc, &od->n->loc, "%s '%s' is now %s %s",
              kind_word(od->n->kind), od->sname,
              (*hit)->n->kind == IDL_INTERFACE || (*hit)->n->kind == IDL_ENUM ||
                      (*hit)->n->kind == IDL_EXCEPTION
                  ? "an" : "a",
              kind_word((*hit)->n->kind));
      continue;
    }
    od->pair = *hit;
    (*hit)->pair = od;
  }
  /* 2. a renamed scope: the one unpaired declaration of that kind and
   * simple name on each side */
  for (size_t k = 0; k < told.nd; k++) {
    cdecl *od = &told.d[k], *cand = NULL;
    size_t nc = 0, no = 0;
    if (od->done)
      continue;
    for (size_t j = 0; j < tnew.nd; j++)
      if (!tnew.d[j].done && tnew.d[j].n->kind == od->n->kind &&
          strcmp(tnew.d[j].n->name, od->n->name) == 0)
        cand = &tnew.d[j], nc++;
    for (size_t j = 0; cand != NULL && j < told.nd; j++)
      if (!told.d[j].done && told.d[j].n->kind == od->n->kind &&
          strcmp(told.d[j].n->name, od->n->name) == 0)
        no++;
    if (nc != 1 || no != 1)
      continue;
    od->done = cand->done = true;
    od->pair = cand;
    cand->pair = od;
    if (od->n->kind == IDL_INTERFACE)
      CHANGED(C_BREAK, &cand->n->loc, &od->n->loc, "interface '%s' renamed "
              "to '%s': repository id %s -> %s (interface id 0x%08" PRIx32
              " -> 0x%08" PRIx32 ")", od->sname, cand->sname, od->rid,
              cand->rid, fnv1a(od->rid), fnv1a(cand->rid));
    else
      CHANGED(rid_on_wire(od->n->kind) ? C_BREAK : C_SOURCE, &cand->n->loc,
              &od->n->loc, "%s '%s' renamed to '%s': repository id %s -> %s",
              kind_word(od->n->kind), od->sname, cand->sname, od->rid,
              cand->rid);
  }
}

static void
compare_trees(void)
{
  pair_decls();
  mark_wire();
  for (size_t k = 0; k < told.nd; k++) {
    const cdecl *od = &told.d[k];
    if (od->pair != NULL)
      cmp_pair(od, od->pair);
    else if (!od->done && od->n->kind == IDL_INTERFACE)
      REMOVED(C_BREAK, &od->n->loc, "interface '%s' removed", od->sname);
    else if (!od->done && od->wire)
      REMOVED(C_BREAK, &od->n->loc, "%s '%s' removed (used on the wire)",
              kind_word(od->n->kind), od->sname);
    else if (!od->done)
      REMOVED(C_SOURCE, &od->n->loc, "%s '%s' removed",
              kind_word(od->n->kind), od->sname);
  }
  for (size_t k = 0; k < tnew.nd; k++)
    if (!tnew.d[k].done)
      CHANGED(C_SAFE, &tnew.d[k].n->loc, NULL, "new %s '%s'",
              kind_word(tnew.d[k].n->kind), tnew.d[k].sname);
}

int
compat_check(const char *old_path, const char *new_path,
             const compat_options *o)
{
  idl_options io = { .include_dirs = o->include_dirs,
                     .ninclude_dirs = o->ninclude_dirs };
  FILE *out = o->out ? o->out : stdout;
  size_t count[3] = { 0, 0, 0 };
  int rc = 2;

  memset(&told, 0, sizeof told);
  memset(&tnew, 0, sizeof tnew);
  changes = NULL;
  nchanges = capchanges = 0;
  if (idl_parse_file(old_path, &io, &told.t) != 0 || told.t == NULL)
    goto out;
  if (idl_parse_file(new_path, &io, &tnew.t) != 0 || tnew.t == NULL)
    goto out;
  proto_set_tree(NULL);
  index_tree(&told);
  index_tree(&tnew);
  compare_trees();
  if (back_errors != 0)
    goto out;
  if (nchanges > 1)
    qsort(changes, nchanges, sizeof *changes, change_cmp);
  for (size_t i = 0; i < nchanges; i++) {
    const change *c = &changes[i];
    count[c->cls]++;
    print_loc(out, &c->at);
    fprintf(out, ": %s: %s", class_name[c->cls], c->text);
    if (c->has_was) {
      fputs(" (was ", out);
      print_loc(out, &c->was);
      fputc(')', out);
    }
    fputc('\n', out);
  }
  fprintf(out, "%s -> %s: %zu breaking, %zu source, %zu safe\n", old_path,
          new_path, count[C_BREAK], count[C_SOURCE], count[C_SAFE]);
  rc = count[C_BREAK] != 0 || (o->strict && count[C_SOURCE] != 0) ? 1 : 0;
out:
  if (told.t != NULL)
    idl_tree_free(told.t);
  if (tnew.t != NULL)
    idl_tree_free(tnew.t);
  told.t = tnew.t = NULL;
  return rc;
}
