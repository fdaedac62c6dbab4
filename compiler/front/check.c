/* check.c - semantic checks over the parsed tree, in declaration order.
 *
 * One walk declares every name (scope.c), resolves every type and scoped
 * name, evaluates every expression (const_eval.c) and fills in what ast.h
 * promises: refs, const values, enumerator ordinals, case labels, field
 * ids, bases, raises and FORWARD.definition.  Along the way it reports
 * redefinitions, names differing only in case, undefined or misused names,
 * recursive structs without a sequence, union label problems, oneway
 * violations, clashes through inheritance, unsupported interface kinds
 * and C identifiers that two IDL names would flatten to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "front_int.h"

struct check_ctx {
  pstate *ps;
  idl_tree *tree;
  symtab *st;     /* scoped names, case folded */
  symtab *cnames; /* flattened C names, exact */
  idl_node **forwards;
  size_t nforwards, capforwards;
  unsigned walk; /* inheritance walks, for fnode.walk */
  symtab *fwds;  /* scoped name -> newest forward declaration (exact) */
};

/* protobuf field numbers: 1 .. 2^29-1 without 19000..19999 */
#define FIELD_ID_MAX 536870911u

/* --- lookup ------------------------------------------------------------------- */

idl_node *
check_lookup(check_ctx *cx, const idl_node *scope, const char *name,
             const idl_loc *loc, const char *what)
{
  idl_node *case_hit = NULL;
  idl_node *n = scope_lookup(cx->st, scope, name, &case_hit);
  if (n != NULL)
    return n;
  if (case_hit != NULL) {
    diag_error(loc, "'%s' differs only in case from '%s'", name,
               case_hit->name);
    diag_note(&case_hit->loc, "'%s' declared here", case_hit->name);
  } else {
    diag_error(loc, "undefined %s '%s'", what, name);
  }
  return NULL;
}

/* --- declarations ----------------------------------------------------------------- */

static char *
join_name(const char *prefix, const char *name)
{
  size_t a = strlen(prefix), b = strlen(name);
  char *s = xmalloc(a + b + 3);
  memcpy(s, prefix, a);
  memcpy(s + a, "::", 2);
  memcpy(s + a + 2, name, b + 1);
  return s;
}

static bool
has_c_name(const idl_node *n)
{
  switch (n->kind) {
  case IDL_STRUCT:
  case IDL_UNION:
  case IDL_ENUM:
  case IDL_ENUMERATOR:
  case IDL_TYPEDEF:
  case IDL_CONST:
  case IDL_EXCEPTION:
  case IDL_INTERFACE:
  case IDL_OPERATION:
  case IDL_ATTRIBUTE:
    return true;
  default:
    return false;
  }
}

/* "::a_b::c" -> "a_b_c" and reports a clash with another IDL name. */
static void
check_c_name(check_ctx *cx, idl_node *n)
{
  const char *s = FNODE(n)->sname;
  char *flat = xmalloc(strlen(s) + 1);
  size_t k = 0;
  idl_node *prev;

  if (s[0] == ':' && s[1] == ':')
    s += 2;
  while (*s) {
    if (s[0] == ':' && s[1] == ':') {
      flat[k++] = '_';
      s += 2;
    } else {
      flat[k++] = *s++;
    }
  }
  flat[k] = '\0';
  prev = symtab_insert(cx->cnames, flat, n);
  if (prev != NULL && prev != n &&
      strcmp(FNODE(prev)->sname, FNODE(n)->sname) != 0) {
    diag_error(&n->loc, "C name '%s' of '%s' collides with '%s'", flat,
               FNODE(n)->sname, FNODE(prev)->sname);
    diag_note(&prev->loc, "'%s' declared here", FNODE(prev)->sname);
  }
  free(flat);
}

/* Forward declarations are also chained per scoped name (fnode.fwd_next,
 * newest first, in cx->fwds) so that binding them is not O(forwards) per
 * interface. */
static void
add_forward(check_ctx *cx, idl_node *f)
{
  idl_node *prev = symtab_get(cx->fwds, FNODE(f)->sname, NULL);
  FNODE(f)->fwd_next = prev;
  if (prev == NULL)
    symtab_insert(cx->fwds, FNODE(f)->sname, f);
  else
    symtab_replace(cx->fwds, FNODE(f)->sname, f);
  if (cx->nforwards == cx->capforwards) {
    cx->capforwards = cx->capforwards ? 2 * cx->capforwards : 16;
    cx->forwards =
        xrealloc(cx->forwards, cx->capforwards * sizeof *cx->forwards);
  }
  cx->forwards[cx->nforwards++] = f;
}

/* Enters n (named `n->name`) into `scope`.  Returns false on a clash. */
static bool
declare(check_ctx *cx, idl_node *n, const idl_node *scope)
{
  fnode *f = FNODE(n);
  idl_node *prev;
  bool ok = true;

  free(f->sname);
  f->sname = join_name(scope_name_of(scope), n->name);
  prev = symtab_insert(cx->st, f->sname, n);
  if (prev != NULL) {
    if (strcmp(FNODE(prev)->sname, f->sname) != 0) {
      diag_error(&n->loc, "'%s' differs only in case from '%s'", n->name,
                 prev->name);
      diag_note(&prev->loc, "'%s' declared here", prev->name);
      return false;
    }
    if (prev->kind == IDL_MODULE && n->kind == IDL_MODULE)
      return true; /* reopened module */
    if (prev->kind == IDL_FORWARD && n->kind == IDL_FORWARD)
      return true;
    if (prev->kind == IDL_INTERFACE && n->kind == IDL_FORWARD) {
      n->definition = prev;
      return true;
    }
    if (prev->kind == IDL_FORWARD && n->kind == IDL_INTERFACE) {
      symtab_replace(cx->st, f->sname, n);
      ok = true;
    } else {
      diag_error(&n->loc, "redefinition of '%s'", n->name);
      diag_note(&prev->loc, "previous declaration of '%s'", prev->name);
      return false;
    }
  }
  f->declared = true;
  if (has_c_name(n))
    check_c_name(cx, n);
  return ok;
}

/* --- types --------------------------------------------------------------------------- */

static bool
is_ancestor(const idl_node *a, const idl_node *n)
{
  for (const idl_node *p = n; p != NULL; p = p->parent)
    if (p == a)
      return true;
  return false;
}

/* Resolves names inside t and evaluates its bounds.  owner is the member,
 * case, typedef... the type belongs to (recursion check). */
static void
resolve_type(check_ctx *cx, idl_type *t, const idl_node *scope,
             const idl_node *owner, bool in_seq)
{
  idl_node *n;

  switch (t->kind) {
  case IDL_T_SEQUENCE:
    if (FTYPE(t)->bound_x != NULL)
      const_eval_positive(cx, FTYPE(t)->bound_x, scope, "sequence bound",
                          &t->bound);
    resolve_type(cx, t->elem, scope, owner, true);
    return;
  case IDL_T_STRING:
  case IDL_T_WSTRING:
    if (FTYPE(t)->bound_x != NULL)
      const_eval_positive(cx, FTYPE(t)->bound_x, scope, "string bound",
                          &t->bound);
    return;
  case IDL_T_NAMED:
    break;
  default:
    return;
  }
  if (FTYPE(t)->bad)
    return;
  n = check_lookup(cx, scope, t->name, &t->loc, "type");
  if (n == NULL)
    return;
  switch (n->kind) {
  case IDL_STRUCT:
  case IDL_UNION:
  case IDL_EXCEPTION:
    if (n->kind == IDL_EXCEPTION) {
      diag_error(&t->loc, "exception '%s' cannot be used as a type", t->name);
      return;
    }
    if (!in_seq && owner != NULL && is_ancestor(n, owner)) {
      diag_error(&t->loc,
                 "%s '%s' contains itself; recursion needs a sequence",
                 idl_kind_name(n->kind), n->name);
      return;
    }
    break;
  case IDL_ENUM:
  case IDL_TYPEDEF:
  case IDL_INTERFACE:
  case IDL_FORWARD:
    break;
  default:
    diag_error(&t->loc, "'%s' is not a type", t->name);
    return;
  }
  t->ref = n;
}

static void
eval_dims(check_ctx *cx, idl_node *n, const idl_node *scope)
{
  fnode *f = FNODE(n);
  if (f->ndim_x == 0)
    return;
  n->dims = xcalloc(f->ndim_x, sizeof *n->dims);
  n->ndims = f->ndim_x;
  for (size_t i = 0; i < f->ndim_x; i++)
    const_eval_positive(cx, f->dim_x[i], scope, "array dimension",
                        &n->dims[i]);
}

/* --- annotations ------------------------------------------------------------------------- */

static void
check_annotations(check_ctx *cx, idl_node *n, const idl_node *scope)
{
  for (idl_annotation *a = n->annotations; a != NULL; a = a->next) {
    expr *x = FANNO(a)->x;
    if (strcmp(a->name, "key") == 0) {
      n->flags |= IDL_F_KEY;
    } else if (strcmp(a->name, "optional") == 0) {
      n->flags |= IDL_F_OPTIONAL;
    } else if (strcmp(a->name, "id") == 0) {
      uint64_t v;
      if (x == NULL) {
        diag_error(&a->loc, "@id needs a value");
      } else if (const_eval_positive(cx, x, scope, "@id", &v)) {
        a->value.kind = IDL_V_UINT;
        a->value.u = v;
        a->value.i = (int64_t)v;
      }
    } else {
      diag_warning(&a->loc, "annotation '@%s' ignored", a->name);
    }
  }
}

static const idl_annotation *
find_annotation(const idl_node *n, const char *name)
{
  for (const idl_annotation *a = n->annotations; a != NULL; a = a->next)
    if (strcmp(a->name, name) == 0)
      return a;
  return NULL;
}

/* Open-addressing set of 64-bit keys -> index (field ids, case labels),
 * so checking a declaration with n members or labels is O(n), not O(n^2). */
typedef struct idset {
  uint64_t *key;
  size_t *idx; /* index + 1; 0 = free slot */
  size_t cap;
} idset;

static void
idset_init(idset *s, size_t max)
{
  s->cap = 16;
  while (s->cap < 2 * max + 2)
    s->cap *= 2;
  s->key = xcalloc(s->cap, sizeof *s->key);
  s->idx = xcalloc(s->cap, sizeof *s->idx);
}

static void
idset_free(idset *s)
{
  free(s->key);
  free(s->idx);
}

/* The index stored for key, or enters `idx` and returns SIZE_MAX. */
static size_t
idset_put(idset *s, uint64_t key, size_t idx)
{
  size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 7) & (s->cap - 1);
  while (s->idx[i] != 0) {
    if (s->key[i] == key)
      return s->idx[i] - 1;
    i = (i + 1) & (s->cap - 1);
  }
  s->key[i] = key;
  s->idx[i] = idx + 1;
  return SIZE_MAX;
}

/* Assigns field_id to n: @id if given, else `pos`; reports duplicates
 * against ids[0..*nids) (indexed by `set`).  owners parallel to ids (NULL
 * = discriminator). */
static void
assign_field_id(idl_node *n, uint32_t pos, uint32_t *ids,
                const idl_node **owners, size_t *nids, idset *set)
{
  size_t i;
  const idl_annotation *a = find_annotation(n, "id");
  uint64_t id = pos;
  if (a != NULL && a->value.kind == IDL_V_UINT)
    id = a->value.u;
  if (id > FIELD_ID_MAX || (id >= 19000 && id <= 19999)) {
    diag_error(a != NULL ? &a->loc : &n->loc,
               "field id %llu of '%s' is out of range or reserved",
               (unsigned long long)id, n->name);
    id = pos;
  }
  i = idset_put(set, id, *nids);
  if (i != SIZE_MAX) {
    if (owners[i] == NULL)
      diag_error(&n->loc,
                 "field id %llu of '%s' is already used by the "
                 "discriminator",
                 (unsigned long long)id, n->name);
    else
      diag_error(&n->loc, "field id %llu of '%s' is already used by '%s'",
                 (unsigned long long)id, n->name, owners[i]->name);
  }
  n->field_id = (uint32_t)id;
  ids[*nids] = (uint32_t)id;
  owners[*nids] = n;
  (*nids)++;
}

/* --- declarations, one kind at a time --------------------------------------------------------- */

static void check_decl(check_ctx *cx, idl_node *n);

static size_t
count_children(const idl_node *n)
{
  size_t k = 0;
  for (const idl_node *c = n->children; c != NULL; c = c->next)
    k++;
  return k;
}

static void
check_members(check_ctx *cx, idl_node *s)
{
  size_t max = count_children(s) + 1, nids = 0;
  uint32_t *ids = xcalloc(max, sizeof *ids);
  const idl_node **owners = xcalloc(max, sizeof *owners);
  uint32_t pos = 0;
  idset set;

  idset_init(&set, max);
  for (idl_node *m = s->children; m != NULL; m = m->next) {
    if (m->kind != IDL_MEMBER) {
      check_decl(cx, m);
      continue;
    }
    declare(cx, m, s);
    resolve_type(cx, m->type, s, m, false);
    eval_dims(cx, m, s);
    check_annotations(cx, m, s);
    assign_field_id(m, ++pos, ids, owners, &nids, &set);
  }
  idset_free(&set);
  free(ids);
  free(owners);
}

static bool
label_equal(const idl_value *a, const idl_value *b)
{
  return a->kind == b->kind && a->u == b->u && a->b == b->b;
}

static bool
valid_discriminator(const idl_type *t)
{
  const idl_type *r = idl_resolve_typedefs(t);
  if (r == NULL)
    return false;
  switch (r->kind) {
  case IDL_T_BOOLEAN:
  case IDL_T_CHAR:
  case IDL_T_WCHAR:
  case IDL_T_OCTET:
  case IDL_T_INT8:
  case IDL_T_UINT8:
  case IDL_T_SHORT:
  case IDL_T_USHORT:
  case IDL_T_LONG:
  case IDL_T_ULONG:
  case IDL_T_LLONG:
  case IDL_T_ULLONG:
    return true;
  case IDL_T_NAMED:
    return r->ref != NULL && r->ref->kind == IDL_ENUM;
  default:
    return false;
  }
}

static void
check_union(check_ctx *cx, idl_node *u)
{
  size_t max = count_children(u) + 2, nids = 1, nlabels = 0, caplabels = 16;
  uint32_t *ids = xcalloc(max, sizeof *ids);
  const idl_node **owners = xcalloc(max, sizeof *owners);
  const idl_value **seen = xmalloc(caplabels * sizeof *seen);
  const idl_node **seen_by = xmalloc(caplabels * sizeof *seen_by);
  const idl_node *default_case = NULL;
  bool disc_ok;
  uint32_t pos = 1;
  idset idx, labels;
  size_t total_labels = 0;

  for (const idl_node *c = u->children; c != NULL; c = c->next)
    total_labels += FNODE(c)->nlabel_x;
  idset_init(&idx, max);
  idset_init(&labels, total_labels);
  ids[0] = 1; /* the discriminator */
  owners[0] = NULL;
  idset_put(&idx, 1, 0);
  resolve_type(cx, u->type, u, u, false);
  disc_ok = u->type->kind != IDL_T_NAMED || u->type->ref != NULL;
  if (disc_ok && !valid_discriminator(u->type)) {
    diag_error(&u->type->loc, "invalid union discriminator type '%s'",
               u->type->kind == IDL_T_NAMED ? u->type->name
                                            : idl_tkind_name(u->type->kind));
    disc_ok = false;
  }
  for (idl_node *c = u->children; c != NULL; c = c->next) {
    fnode *f = FNODE(c);
    if (c->kind != IDL_CASE) {
      check_decl(cx, c);
      continue;
    }
    declare(cx, c, u);
    resolve_type(cx, c->type, u, c, false);
    eval_dims(cx, c, u);
    check_annotations(cx, c, u);
    if (c->flags & IDL_F_DEFAULT) {
      if (default_case != NULL) {
        diag_error(&f->kw_loc, "union '%s' has more than one default case",
                   u->name);
        diag_note(&FNODE(default_case)->kw_loc, "first default case here");
      }
      default_case = c;
    }
    if (disc_ok && f->nlabel_x > 0) {
      c->labels = xcalloc(f->nlabel_x, sizeof *c->labels);
      for (size_t i = 0; i < f->nlabel_x; i++) {
        if (!const_eval(cx, f->label_x[i], u->type, u, &c->labels[c->nlabels]))
          continue;
        {
          /* labels of one union share one kind, and u holds each value */
          const idl_value *lv = &c->labels[c->nlabels];
          size_t j = idset_put(&labels, lv->u, nlabels);
          if (j != SIZE_MAX && label_equal(seen[j], lv)) {
            char *s = value_to_string(lv);
            diag_error(&f->label_x[i]->loc,
                       "duplicate case label %s in union '%s'", s, u->name);
            diag_note(&seen_by[j]->loc, "previous use in case '%s'",
                      seen_by[j]->name);
            free(s);
          }
        }
        /* the pointers stay valid: c->labels is not reallocated */
        if (nlabels == caplabels) {
          caplabels *= 2;
          seen = xrealloc(seen, caplabels * sizeof *seen);
          seen_by = xrealloc(seen_by, caplabels * sizeof *seen_by);
        }
        seen[nlabels] = &c->labels[c->nlabels];
        seen_by[nlabels] = c;
        nlabels++;
        c->nlabels++;
      }
    }
    assign_field_id(c, ++pos, ids, owners, &nids, &idx);
  }
  idset_free(&idx);
  idset_free(&labels);
  free(ids);
  free(owners);
  free(seen);
  free(seen_by);
}

static void
check_enum(check_ctx *cx, idl_node *e)
{
  uint64_t ord = 0;
  for (idl_node *v = e->children; v != NULL; v = v->next, ord++) {
    v->value.kind = IDL_V_ENUM;
    v->value.e = v;
    v->value.u = ord;
    v->value.i = (int64_t)ord;
    check_annotations(cx, v, e->parent);
    declare(cx, v, e->parent);
  }
}

static bool
valid_const_type(const idl_type *t)
{
  const idl_type *r = idl_resolve_typedefs(t);
  if (r == NULL)
    return false;
  switch (r->kind) {
  case IDL_T_SEQUENCE:
  case IDL_T_ANY:
  case IDL_T_OBJECT:
  case IDL_T_VOID:
    return false;
  case IDL_T_NAMED:
    return r->ref != NULL && r->ref->kind == IDL_ENUM;
  default:
    return true;
  }
}

static void
check_const(check_ctx *cx, idl_node *c)
{
  fnode *f = FNODE(c);
  f->bad = true;
  resolve_type(cx, c->type, c->parent, c, false);
  if (c->type->kind == IDL_T_NAMED && c->type->ref == NULL) {
    /* already reported */
  } else if (!valid_const_type(c->type)) {
    diag_error(&c->type->loc, "invalid constant type '%s'",
               c->type->kind == IDL_T_NAMED ? c->type->name
                                            : idl_tkind_name(c->type->kind));
  } else if (const_eval(cx, f->value_x, c->type, c->parent, &c->value)) {
    f->bad = false;
    f->done = true;
  }
  declare(cx, c, c->parent);
}

/* Sets the definition of every forward declaration of i. */
static void
bind_forwards(check_ctx *cx, idl_node *i)
{
  for (idl_node *f = symtab_get(cx->fwds, FNODE(i)->sname, NULL); f != NULL;
       f = FNODE(f)->fwd_next)
    if (f->definition == NULL)
      f->definition = i;
}

static void
check_interface_kind(const idl_node *i)
{
  if (i->is_local)
    diag_error(&FNODE(i)->kw_loc, "local interfaces are not supported");
  if (i->is_abstract)
    diag_error(&FNODE(i)->kw_loc, "abstract interfaces are not supported");
}

static void
resolve_bases(check_ctx *cx, idl_node *i)
{
  fnode *f = FNODE(i);
  i->bases = xcalloc(f->nnames ? f->nnames : 1, sizeof *i->bases);
  for (size_t k = 0; k < f->nnames; k++) {
    idl_type *t = f->names[k];
    idl_node *b = check_lookup(cx, i->parent, t->name, &t->loc, "interface");
    if (b == NULL)
      continue;
    if (b->kind == IDL_FORWARD) {
      if (b->definition == NULL) {
        diag_error(&t->loc,
                   "interface '%s' is only forward-declared and cannot be "
                   "a base",
                   t->name);
        continue;
      }
      b = b->definition;
    }
    if (b->kind != IDL_INTERFACE) {
      diag_error(&t->loc, "'%s' is not an interface", t->name);
      continue;
    }
    t->ref = b;
    for (size_t j = 0; j < i->nbases; j++) {
      if (i->bases[j] == b) {
        diag_error(&t->loc, "'%s' is inherited more than once", t->name);
        b = NULL;
        break;
      }
    }
    if (b != NULL && FNODE(b)->inherit_depth >= PS_MAX_INHERIT_DEPTH) {
      diag_error(&t->loc, "inheritance nested too deeply: '%s' would be more "
                          "than %d levels of bases deep",
                 i->name, PS_MAX_INHERIT_DEPTH);
      b = NULL;
    }
    if (b != NULL) {
      i->bases[i->nbases++] = b;
      if (FNODE(b)->inherit_depth + 1 > f->inherit_depth)
        f->inherit_depth = FNODE(b)->inherit_depth + 1;
    }
  }
}

/* Operations and attributes of i and its ancestors, into st keyed by
 * name; clashes between different declarations are reported.  Each
 * ancestor is visited once per walk (a diamond or a lattice of bases would
 * otherwise be walked once per path: exponentially often); depth is
 * bounded by PS_MAX_INHERIT_DEPTH (resolve_bases). */
static void
collect_inherited(check_ctx *cx, const idl_node *derived, idl_node *i,
                  symtab *st, int depth)
{
  if (depth > PS_MAX_INHERIT_DEPTH || FNODE(i)->walk == cx->walk)
    return;
  FNODE(i)->walk = cx->walk;
  for (size_t k = 0; k < i->nbases; k++)
    collect_inherited(cx, derived, i->bases[k], st, depth + 1);
  for (idl_node *c = i->children; c != NULL; c = c->next) {
    idl_node *prev;
    if (c->kind != IDL_OPERATION && c->kind != IDL_ATTRIBUTE)
      continue;
    prev = symtab_insert(st, c->name, c);
    if (prev != NULL && prev != c)
      diag_error(&derived->loc,
                 "interface '%s' inherits %s '%s' from both '%s' and '%s'",
                 derived->name, idl_kind_name(c->kind), c->name,
                 scope_name_of(prev->parent), scope_name_of(c->parent));
  }
}

static void
check_inheritance(check_ctx *cx, idl_node *i)
{
  symtab *st;
  if (i->nbases == 0)
    return;
  st = symtab_new_fold(true);
  cx->walk++;
  for (size_t k = 0; k < i->nbases; k++)
    collect_inherited(cx, i, i->bases[k], st, 0);
  for (idl_node *c = i->children; c != NULL; c = c->next) {
    idl_node *prev;
    if (c->kind != IDL_OPERATION && c->kind != IDL_ATTRIBUTE)
      continue;
    prev = symtab_get(st, c->name, NULL);
    if (prev != NULL)
      diag_error(&c->loc, "%s '%s' clashes with %s '%s' inherited from '%s'",
                 idl_kind_name(c->kind), c->name, idl_kind_name(prev->kind),
                 prev->name, scope_name_of(prev->parent));
  }
  symtab_free(st);
}

static void
check_operation(check_ctx *cx, idl_node *op)
{
  fnode *f = FNODE(op);
  idl_node *scope = op->parent;

  resolve_type(cx, op->type, scope, op, false);
  check_annotations(cx, op, scope);
  declare(cx, op, scope);
  for (idl_node *p = op->children; p != NULL; p = p->next) {
    resolve_type(cx, p->type, scope, p, false);
    check_annotations(cx, p, scope);
    if (f->declared)
      declare(cx, p, op);
    if ((op->flags & IDL_F_ONEWAY) && p->dir != IDL_IN)
      diag_error(&p->loc,
                 "oneway operation '%s' cannot have %s parameter '%s'",
                 op->name, p->dir == IDL_OUT ? "out" : "inout", p->name);
  }
  if ((op->flags & IDL_F_ONEWAY) && op->type->kind != IDL_T_VOID)
    diag_error(&op->type->loc, "oneway operation '%s' must return void",
               op->name);
  op->raises = xcalloc(f->nnames ? f->nnames : 1, sizeof *op->raises);
  for (size_t k = 0; k < f->nnames; k++) {
    idl_type *t = f->names[k];
    idl_node *e = check_lookup(cx, scope, t->name, &t->loc, "exception");
    if (e == NULL)
      continue;
    if (e->kind != IDL_EXCEPTION) {
      diag_error(&t->loc, "'%s' in raises is not an exception", t->name);
      continue;
    }
    t->ref = e;
    op->raises[op->nraises++] = e;
  }
  if ((op->flags & IDL_F_ONEWAY) && f->nnames > 0)
    diag_error(&f->names[0]->loc,
               "oneway operation '%s' cannot raise exceptions", op->name);
}

/* typedef A B; typedef B C; ...: idl_resolve_typedefs (and the back ends)
 * follow such chains only PS_MAX_TYPEDEF_CHAIN links far. */
static void
check_typedef_chain(idl_node *n)
{
  const idl_type *t = n->type;
  const idl_node *r;
  if (t->kind != IDL_T_NAMED || t->ref == NULL || t->ref->kind != IDL_TYPEDEF)
    return;
  r = t->ref;
  FNODE(n)->typedef_depth = FNODE(r)->typedef_depth + 1;
  if (FNODE(n)->typedef_depth == PS_MAX_TYPEDEF_CHAIN)
    diag_error(&n->loc, "typedef chain of '%s' is longer than %d typedefs",
               n->name, PS_MAX_TYPEDEF_CHAIN);
}

static void
check_decl(check_ctx *cx, idl_node *n)
{
  idl_node *scope = n->parent;

  switch (n->kind) {
  case IDL_ROOT:
    break;
  case IDL_MODULE:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    for (idl_node *c = n->children; c != NULL; c = c->next)
      check_decl(cx, c);
    break;
  case IDL_FORWARD:
    check_interface_kind(n);
    declare(cx, n, scope);
    add_forward(cx, n);
    break;
  case IDL_INTERFACE:
    check_interface_kind(n);
    check_annotations(cx, n, scope);
    resolve_bases(cx, n);
    if (declare(cx, n, scope))
      bind_forwards(cx, n);
    for (idl_node *c = n->children; c != NULL; c = c->next)
      check_decl(cx, c);
    check_inheritance(cx, n);
    break;
  case IDL_STRUCT:
  case IDL_EXCEPTION:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    check_members(cx, n);
    break;
  case IDL_UNION:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    check_union(cx, n);
    break;
  case IDL_ENUM:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    check_enum(cx, n);
    break;
  case IDL_TYPEDEF:
    check_annotations(cx, n, scope);
    resolve_type(cx, n->type, scope, n, false);
    check_typedef_chain(n);
    eval_dims(cx, n, scope);
    declare(cx, n, scope);
    break;
  case IDL_CONST:
    check_annotations(cx, n, scope);
    check_const(cx, n);
    break;
  case IDL_OPERATION:
    check_operation(cx, n);
    break;
  case IDL_ATTRIBUTE:
    check_annotations(cx, n, scope);
    resolve_type(cx, n->type, scope, n, false);
    declare(cx, n, scope);
    break;
  case IDL_ENUMERATOR:
  case IDL_PARAM:
  case IDL_MEMBER:
  case IDL_CASE:
    break; /* handled by their parents */
  }
}

int
check_tree(pstate *ps, idl_tree *t)
{
  check_ctx cx;
  unsigned before = diag_error_count();

  memset(&cx, 0, sizeof cx);
  cx.ps = ps;
  cx.tree = t;
  cx.st = symtab_new();
  cx.cnames = symtab_new_fold(false);
  cx.fwds = symtab_new_fold(false);
  for (idl_node *c = t->root->children; c != NULL; c = c->next)
    check_decl(&cx, c);
  for (size_t k = 0; k < cx.nforwards; k++) {
    idl_node *f = cx.forwards[k];
    if (f->definition == NULL)
      diag_error(&f->loc, "interface '%s' is forward-declared but never "
                          "defined", f->name);
  }
  symtab_free(cx.st);
  symtab_free(cx.cnames);
  symtab_free(cx.fwds);
  free(cx.forwards);
  return (int)(diag_error_count() - before);
}
