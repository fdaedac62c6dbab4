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
  idl_type **pending; /* types naming a not yet defined forward struct */
  size_t npending, cappending;
  unsigned map_entries; /* synthesized map entry structs (names) */
  idl_node *anchor, *anchor_prev; /* declaration being checked, the node
                                     before it (O(1) map entry insertion) */
  size_t inherited; /* members copied from bases (bounded) */
};

/* Bases' members copied into derived structs / values / bitsets, in all:
 * a chain or a fan of derivations would otherwise grow quadratically. */
#define MAX_INHERITED_MEMBERS 1000000u

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
  case IDL_BITMASK:
  case IDL_BITSET:
  case IDL_NATIVE:
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
    if (prev->kind == IDL_FORWARD_TYPE && n->kind == IDL_FORWARD_TYPE)
      return true;
    if (prev->kind == IDL_FORWARD_TYPE &&
        (n->kind == IDL_STRUCT || n->kind == IDL_UNION) &&
        prev->definition == NULL) {
      if (FNODE(prev)->fwd_kind != (int)n->kind ||
          (prev->value_kind != IDL_VK_NONE) != (n->value_kind != IDL_VK_NONE)) {
        diag_error(&n->loc, "'%s' was forward-declared as a %s",
                   n->name, prev->value_kind != IDL_VK_NONE ? "valuetype"
                   : FNODE(prev)->fwd_kind == IDL_STRUCT ? "struct"
                                                          : "union");
        diag_note(&prev->loc, "forward declaration of '%s'", prev->name);
        return false;
      }
      prev->definition = n;
      symtab_replace(cx->st, f->sname, n);
      ok = true;
    } else if ((prev->kind == IDL_STRUCT || prev->kind == IDL_UNION) &&
               n->kind == IDL_FORWARD_TYPE) {
      n->definition = prev;
      return true;
    } else if (prev->kind == IDL_FORWARD && n->kind == IDL_INTERFACE) {
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

static void check_decl(check_ctx *cx, idl_node *n);
static void check_fixed_type(check_ctx *cx, idl_type *t,
                             const idl_node *scope);
static void resolve_map(check_ctx *cx, idl_type *t, const idl_node *scope,
                        const idl_node *owner);

static bool
in_local_interface(const idl_node *n)
{
  for (; n != NULL; n = n->parent)
    if (n->kind == IDL_INTERFACE)
      return n->is_local;
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
  case IDL_T_FIXED:
    check_fixed_type(cx, t, scope);
    return;
  case IDL_T_MAP:
    resolve_map(cx, t, scope, owner);
    return;
  case IDL_T_NAMED:
    break;
  default:
    return;
  }
  if (FTYPE(t)->bad || t->ref != NULL) /* ref: copied from a base struct */
    return;
  n = check_lookup(cx, scope, t->name, &t->loc, "type");
  if (n == NULL)
    return;
  if (n->kind == IDL_FORWARD_TYPE) {
    if (n->definition != NULL) {
      n = n->definition;
    } else if (!in_seq && n->value_kind == IDL_VK_NONE) {
      diag_error(&t->loc, "%s '%s' is not defined yet; before its definition "
                          "it can only be used in a sequence",
                 FNODE(n)->fwd_kind == IDL_STRUCT ? "struct" : "union",
                 t->name);
      return;
    } else {
      /* patched to the definition at the end (check_tree) */
      if (cx->npending == cx->cappending) {
        cx->cappending = cx->cappending ? 2 * cx->cappending : 16;
        cx->pending =
            xrealloc(cx->pending, cx->cappending * sizeof *cx->pending);
      }
      cx->pending[cx->npending++] = t;
      t->ref = n;
      return;
    }
  }
  switch (n->kind) {
  case IDL_STRUCT:
  case IDL_UNION:
  case IDL_EXCEPTION:
    if (n->kind == IDL_EXCEPTION) {
      diag_error(&t->loc, "exception '%s' cannot be used as a type", t->name);
      return;
    }
    if (!in_seq && owner != NULL && is_ancestor(n, owner) &&
        n->value_kind == IDL_VK_NONE) { /* values are nullable: may nest */
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
  case IDL_BITMASK:
  case IDL_BITSET:
    break;
  case IDL_NATIVE:
    if (!in_local_interface(owner)) {
      diag_error(&t->loc, "native type '%s' can only be used in local "
                          "interfaces", t->name);
      return;
    }
    break;
  default:
    diag_error(&t->loc, "'%s' is not a type", t->name);
    return;
  }
  t->ref = n;
}

/* fixed<digits, scale>: 1 <= digits <= 31, scale <= digits (OMG). */
static void
check_fixed_type(check_ctx *cx, idl_type *t, const idl_node *scope)
{
  uint64_t d = 0, sc = 0;
  expr *sx = FTYPE(t)->scale_x;
  if (FTYPE(t)->bound_x == NULL)
    return; /* plain `fixed`: constants only (check_const) */
  if (!const_eval_positive(cx, FTYPE(t)->bound_x, scope, "fixed digits", &d))
    return;
  if (sx->k == X_INT && sx->u == 0) {
    sc = 0;
  } else {
    idl_type u;
    idl_value v;
    memset(&u, 0, sizeof u);
    u.kind = IDL_T_USHORT;
    u.loc = sx->loc;
    if (!const_eval(cx, sx, &u, scope, &v))
      return;
    sc = v.u;
  }
  if (d > 31) {
    diag_error(&FTYPE(t)->bound_x->loc, "fixed<%llu,%llu> has more than 31 "
               "digits", (unsigned long long)d, (unsigned long long)sc);
    return;
  }
  if (sc > d) {
    diag_error(&sx->loc, "fixed<%llu,%llu>: the scale is larger than the "
               "number of digits", (unsigned long long)d,
               (unsigned long long)sc);
    return;
  }
  t->bound = d;
  t->scale = (unsigned)sc;
}

static bool
valid_map_key(const idl_type *t)
{
  const idl_type *r = idl_resolve_typedefs(t);
  if (r == NULL)
    return false;
  switch (r->kind) {
  case IDL_T_OCTET: case IDL_T_INT8: case IDL_T_UINT8: case IDL_T_SHORT:
  case IDL_T_USHORT: case IDL_T_LONG: case IDL_T_ULONG: case IDL_T_LLONG:
  case IDL_T_ULLONG: case IDL_T_STRING: case IDL_T_WSTRING:
  case IDL_T_BOOLEAN: case IDL_T_CHAR: case IDL_T_WCHAR:
    return true;
  case IDL_T_NAMED:
    return r->ref != NULL && r->ref->kind == IDL_ENUM;
  default:
    return false;
  }
}

/* map<K, V[, N]> becomes sequence<E[, N]> of a synthesized struct E
 * { K key; V value; } (fields 1 and 2): protobuf's map wire form.  E is
 * named after the declaration holding the map (S_m_Entry for member m of
 * S, D_Entry for typedef D, ...) and inserted into the tree just before
 * it, in the same scope, so every back end emits it first. */
static void
resolve_map(check_ctx *cx, idl_type *t, const idl_node *scope,
            const idl_node *owner)
{
  idl_node *anchor = (idl_node *)owner, *parent, *e, *k, *v;
  idl_type *named;
  char *name;
  const char *oname;

  if (anchor == NULL)
    return;
  if (anchor->kind == IDL_PARAM)
    anchor = anchor->parent; /* the operation */
  parent = anchor->parent;
  if (parent == NULL) {
    diag_error(&t->loc, "map is not supported here");
    return;
  }
  resolve_type(cx, t->key, scope, owner, true);
  if (t->key->kind != IDL_T_NAMED || t->key->ref != NULL) {
    if (!valid_map_key(t->key)) {
      diag_error(&t->key->loc, "map key type '%s' must be an integer, "
                 "boolean, character, enum or string type",
                 t->key->kind == IDL_T_NAMED ? t->key->name
                                             : idl_tkind_name(t->key->kind));
      return;
    }
  } else {
    return; /* undefined key: reported */
  }
  oname = owner->kind == IDL_PARAM
              ? NULL : owner->name;
  cx->map_entries++;
  if (oname != NULL && parent->kind != IDL_INTERFACE &&
      (owner->kind == IDL_MEMBER || owner->kind == IDL_CASE)) {
    /* member m of S: inserted before m, inside S: S_m_Entry */
    name = xmalloc(strlen(oname) + 16);
    sprintf(name, "%s_Entry", oname);
  } else if (oname != NULL) {
    name = xmalloc(strlen(oname) + 16);
    sprintf(name, "%s_Entry", oname);
  } else {
    name = xmalloc(strlen(anchor->name) + strlen(owner->name) + 16);
    sprintf(name, "%s_%s_Entry", anchor->name, owner->name);
  }
  if (t->elem->kind == IDL_T_MAP || t->key->kind == IDL_T_MAP) {
    /* nested maps: name the inner entry after the outer */
  }
  e = node_new(NULL, IDL_STRUCT, name, t->loc);
  e->flags |= IDL_F_MAP_ENTRY | (anchor->flags & IDL_F_INCLUDED);
  k = node_new(NULL, IDL_MEMBER, xstrdup("key"), t->key->loc);
  k->type = t->key;
  v = node_new(NULL, IDL_MEMBER, xstrdup("value"), t->elem->loc);
  v->type = t->elem;
  node_add_child(e, k);
  node_add_child(e, v);
  t->key = NULL;
  /* insert e before anchor in parent (the walk knows its predecessor) */
  e->parent = parent;
  {
    idl_node *p = NULL;
    if (cx->anchor == anchor) {
      p = cx->anchor_prev;
    } else if (parent->children != anchor) {
      p = parent->children;
      while (p != NULL && p->next != anchor)
        p = p->next;
    }
    if (p == NULL && parent->children != anchor) {
      node_add_child(parent, e); /* not a child yet: cannot happen */
    } else if (p == NULL) {
      e->next = anchor;
      parent->children = e;
    } else {
      e->next = anchor;
      p->next = e;
    }
  }
  {
    idl_node *sa = cx->anchor;
    check_decl(cx, e);
    cx->anchor = sa;
    cx->anchor_prev = e;
  }
  named = type_new(IDL_T_NAMED, t->loc);
  named->name = xstrdup(e->name);
  named->ref = e;
  t->kind = IDL_T_SEQUENCE;
  t->elem = named;
  if (FTYPE(t)->bound_x != NULL)
    const_eval_positive(cx, FTYPE(t)->bound_x, scope, "map bound",
                        &t->bound);
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

/* Annotations plumb parses and accepts without a mapping effect (IDL4 /
 * DDS-XTypes / RPC-over-DDS standard ones): no warning.  See
 * docs/IDL-MAPPING.md, "Annotations". */
static const char *const quiet_annotations[] = {
  "ami", "appendable", "bit_bound", "data_representation", "default",
  "default_literal", "default_nested", "extensibility", "external", "final",
  "hashid", "ignore_literal_names", "range", "max", "min", "must_understand",
  "mutable", "nested", "non_serialized", "oneway", "service", "topic",
  "try_construct", "unit", "value", "verbatim", "position", "autoid",
  "annotation", "choice", "empty", "format", "shared", "transient",
  "verbatim", NULL
};

static bool
quiet_annotation(const char *name)
{
  for (size_t i = 0; quiet_annotations[i] != NULL; i++)
    if (strcmp(name, quiet_annotations[i]) == 0)
      return true;
  return false;
}

static bool
user_annotation(const check_ctx *cx, const char *name)
{
  for (size_t i = 0; i < cx->ps->nuser_annos; i++)
    if (strcmp(cx->ps->user_annos[i], name) == 0)
      return true;
  return false;
}

static void
check_annotations(check_ctx *cx, idl_node *n, const idl_node *scope)
{
  for (idl_annotation *a = n->annotations; a != NULL; a = a->next) {
    expr *x = FANNO(a)->x;
    if (strcmp(a->name, "key") == 0) {
      if (x == NULL || x->k != X_BOOL || x->b)
        n->flags |= IDL_F_KEY;
    } else if (strcmp(a->name, "optional") == 0) {
      if (x == NULL || x->k != X_BOOL || x->b)
        n->flags |= IDL_F_OPTIONAL;
    } else if (strcmp(a->name, "id") == 0 || strcmp(a->name, "position") == 0 ||
               strcmp(a->name, "bit_bound") == 0) {
      uint64_t v;
      bool zero_ok = a->name[0] == 'p';
      if (x == NULL) {
        diag_error(&a->loc, "@%s needs a value", a->name);
      } else if (zero_ok && x->k == X_INT && x->u == 0) {
        a->value.kind = IDL_V_UINT;
      } else if (const_eval_positive(cx, x, scope, a->name[0] == 'i' ? "@id"
                                     : a->name[0] == 'p' ? "@position"
                                                         : "@bit_bound",
                                     &v)) {
        a->value.kind = IDL_V_UINT;
        a->value.u = v;
        a->value.i = (int64_t)v;
      }
    } else if (strcmp(a->name, "autoid") == 0) {
      a->value.kind = IDL_V_UINT;
      a->value.u = 0; /* SEQUENTIAL */
      if (x != NULL && (x->k != X_NAME || (strcmp(x->s, "SEQUENTIAL") != 0 &&
                                           strcmp(x->s, "HASH") != 0)))
        diag_error(&a->loc, "@autoid takes SEQUENTIAL or HASH");
      else if (x != NULL && strcmp(x->s, "HASH") == 0)
        a->value.u = 1;
    } else if (!quiet_annotation(a->name) && !user_annotation(cx, a->name)) {
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

/* MD5 of s (RFC 1321), for @autoid(HASH) ids as DDS-XTypes computes them
 * (the first 4 bytes, little-endian, & 0x0fffffff). */
static uint32_t
md5_id(const char *s)
{
  static const uint32_t k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
  static const unsigned r[16] = {7, 12, 17, 22, 5, 9, 14, 20,
                                 4, 11, 16, 23, 6, 10, 15, 21};
  size_t len = strlen(s), total = ((len + 8) / 64 + 1) * 64;
  unsigned char *m = xcalloc(total, 1);
  uint32_t h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476;
  uint64_t bits = (uint64_t)len * 8;

  memcpy(m, s, len);
  m[len] = 0x80;
  for (int i = 0; i < 8; i++)
    m[total - 8 + (size_t)i] = (unsigned char)(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[16], a = h0, b = h1, c = h2, d = h3;
    for (int i = 0; i < 16; i++)
      w[i] = (uint32_t)m[off + 4 * (size_t)i] |
             (uint32_t)m[off + 4 * (size_t)i + 1] << 8 |
             (uint32_t)m[off + 4 * (size_t)i + 2] << 16 |
             (uint32_t)m[off + 4 * (size_t)i + 3] << 24;
    for (unsigned i = 0; i < 64; i++) {
      uint32_t f, g, t;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      t = d;
      d = c;
      c = b;
      {
        uint32_t x = a + f + k[i] + w[g];
        unsigned sh = r[(i / 16) * 4 + i % 4];
        b = b + ((x << sh) | (x >> (32 - sh)));
      }
      a = t;
    }
    h0 += a;
    h1 += b;
    h2 += c;
    h3 += d;
  }
  free(m);
  return h0 & 0x0fffffffu;
}

/* @autoid of n's declaration or the nearest enclosing scope: 0 =
 * SEQUENTIAL (the default), 1 = HASH. */
static int
autoid_of(const idl_node *n)
{
  for (const idl_node *p = n; p != NULL; p = p->parent) {
    const idl_annotation *a = find_annotation(p, "autoid");
    if (a != NULL)
      return a->value.kind == IDL_V_UINT && a->value.u == 1;
  }
  return 0;
}

/* Assigns field_id to n: @id if given, else (@autoid SEQUENTIAL, the
 * default) the previous member's id + 1 (`*next`), or (@autoid(HASH))
 * the XTypes hash of its name; reports duplicates against ids[0..*nids)
 * (indexed by `set`).  owners parallel to ids (NULL = discriminator). */
static void
assign_field_id(idl_node *n, uint32_t *next, bool hash, uint32_t *ids,
                const idl_node **owners, size_t *nids, idset *set)
{
  size_t i;
  const idl_annotation *a = find_annotation(n, "id");
  uint64_t id = *next;
  if (n->flags & IDL_F_INHERITED)
    id = n->field_id; /* keeps the base's number */
  else if (a != NULL && a->value.kind == IDL_V_UINT)
    id = a->value.u;
  else if (hash)
    id = md5_id(n->name);
  if (id > FIELD_ID_MAX || (id >= 19000 && id <= 19999)) {
    diag_error(a != NULL ? &a->loc : &n->loc,
               "field id %llu of '%s' is out of range or reserved",
               (unsigned long long)id, n->name);
    id = *next;
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
  if (!hash || a != NULL)
    *next = (uint32_t)id + 1;
}

/* --- declarations, one kind at a time --------------------------------------------------------- */

static size_t
count_children(const idl_node *n)
{
  size_t k = 0;
  for (const idl_node *c = n->children; c != NULL; c = c->next)
    k++;
  return k;
}

/* A copy of base member m for a derived struct / value / bitset, types and
 * dimensions already resolved (resolve_type keeps a copied ref). */
static idl_node *
inherit_member(const idl_node *m)
{
  idl_node *c = node_new(NULL, IDL_MEMBER, xstrdup(m->name), m->loc);
  c->flags = m->flags | IDL_F_INHERITED;
  c->type = type_clone(m->type);
  c->field_id = m->field_id;
  c->bit_width = m->bit_width;
  c->annotations = anno_clone(m->annotations);
  if (m->ndims > 0) {
    c->dims = xmalloc(m->ndims * sizeof *c->dims);
    memcpy(c->dims, m->dims, m->ndims * sizeof *c->dims);
    c->ndims = m->ndims;
  }
  return c;
}

/* struct B : A, valuetype V : W, bitset B : A: resolves the bases and puts
 * copies of their members first (IDL4 / CORBA: the base's state comes
 * first, its field numbers are kept). */
static void
inherit_bases(check_ctx *cx, idl_node *s)
{
  fnode *f = FNODE(s);
  idl_node *first = NULL, *last = NULL;
  bool value = s->value_kind != IDL_VK_NONE;

  for (size_t k = 0; k < f->nnames; k++) {
    idl_type *t = f->names[k];
    idl_node *b = check_lookup(cx, s->parent, t->name, &t->loc,
                               value ? "valuetype" : idl_kind_name(s->kind));
    if (b == NULL)
      continue;
    if (b->kind == IDL_FORWARD_TYPE && b->definition != NULL)
      b = b->definition;
    if (b->kind == IDL_FORWARD_TYPE) {
      diag_error(&t->loc, "'%s' is only forward-declared and cannot be a "
                          "base", t->name);
      continue;
    }
    if (b->kind != s->kind || (b->value_kind != IDL_VK_NONE) != value ||
        b->value_kind == IDL_VK_BOXED) {
      diag_error(&t->loc, "'%s' is not a %s", t->name,
                 value ? "valuetype" : idl_kind_name(s->kind));
      continue;
    }
    if (value && k > 0 && b->value_kind != IDL_VK_ABSTRACT) {
      diag_error(&t->loc, "only the first base of valuetype '%s' may be "
                          "concrete", s->name);
      continue;
    }
    if (value && s->value_kind == IDL_VK_ABSTRACT &&
        b->value_kind != IDL_VK_ABSTRACT) {
      diag_error(&t->loc, "abstract valuetype '%s' cannot inherit from "
                          "concrete '%s'", s->name, t->name);
      continue;
    }
    t->ref = b;
    if (k == 0)
      s->base = b;
    for (idl_node *m = b->children; m != NULL; m = m->next) {
      idl_node *c;
      if (m->kind != IDL_MEMBER)
        continue;
      if (++cx->inherited > MAX_INHERITED_MEMBERS) {
        if (cx->inherited == MAX_INHERITED_MEMBERS + 1)
          diag_error(&t->loc, "more than %u members inherited from bases "
                              "in all; stopping", MAX_INHERITED_MEMBERS);
        break;
      }
      c = inherit_member(m);
      c->parent = s;
      if (last == NULL)
        first = c;
      else
        last->next = c;
      last = c;
    }
  }
  if (s->is_truncatable && s->base != NULL &&
      s->base->value_kind == IDL_VK_ABSTRACT)
    diag_error(&FNODE(s)->kw_loc, "truncatable valuetype '%s' needs a "
                                  "concrete base", s->name);
  if (first != NULL) {
    last->next = s->children;
    if (s->children == NULL)
      s->last_child = last;
    s->children = first;
  }
}

static void
check_value_member(idl_node *s, idl_node *m)
{
  if (s->value_kind == IDL_VK_ABSTRACT && !(m->flags & IDL_F_INHERITED))
    diag_error(&m->loc, "abstract valuetype '%s' cannot have state member "
                        "'%s'", s->name, m->name);
  if (s->value_kind == IDL_VK_BOXED) {
    const idl_type *r = idl_resolve_typedefs(m->type);
    if (r != NULL && r->kind == IDL_T_NAMED && r->ref != NULL &&
        r->ref->value_kind != IDL_VK_NONE)
      diag_error(&m->type->loc, "boxed valuetype '%s' cannot box the "
                                "valuetype '%s'", s->name, r->ref->name);
  }
}

/* bitset field: width 1..64 and a destination type that holds it */
static void
check_bitfield(check_ctx *cx, idl_node *bs, idl_node *m, unsigned *total)
{
  uint64_t w = 0;
  unsigned cap;
  if (!(m->flags & IDL_F_INHERITED)) {
    if (!const_eval_positive(cx, FNODE(m)->bits_x, bs, "bitfield width", &w))
      return;
    if (w > 64) {
      diag_error(&FNODE(m)->bits_x->loc, "bitfield width %llu is more than "
                 "64 bits", (unsigned long long)w);
      return;
    }
    m->bit_width = (unsigned)w;
    if (FNODE(m)->auto_type) {
      m->type->kind = w == 1 ? IDL_T_BOOLEAN : w <= 8 ? IDL_T_OCTET
                      : w <= 16 ? IDL_T_USHORT : w <= 32 ? IDL_T_ULONG
                                                : IDL_T_ULLONG;
    }
  }
  switch (m->type->kind) {
  case IDL_T_BOOLEAN: cap = 1; break;
  case IDL_T_OCTET: case IDL_T_INT8: case IDL_T_UINT8: cap = 8; break;
  case IDL_T_SHORT: case IDL_T_USHORT: cap = 16; break;
  case IDL_T_LONG: case IDL_T_ULONG: cap = 32; break;
  case IDL_T_LLONG: case IDL_T_ULLONG: cap = 64; break;
  default:
    diag_error(&m->type->loc, "bitfield type must be boolean or an integer "
                              "type, not '%s'", idl_tkind_name(m->type->kind));
    return;
  }
  if (m->bit_width > cap)
    diag_error(&m->loc, "bitfield '%s' of %u bits does not fit in '%s'",
               m->name[0] ? m->name : "(padding)", m->bit_width,
               idl_tkind_name(m->type->kind));
  *total += m->bit_width;
}

static void
check_members(check_ctx *cx, idl_node *s)
{
  size_t max, nids = 0;
  uint32_t *ids;
  const idl_node **owners;
  uint32_t next = 1;
  unsigned bits = 0;
  bool hash = autoid_of(s);
  idset set;

  inherit_bases(cx, s);
  max = count_children(s) + 1;
  ids = xcalloc(max, sizeof *ids);
  owners = xcalloc(max, sizeof *owners);
  idset_init(&set, max);
  for (idl_node *m = s->children, *prev = NULL; m != NULL;
       prev = m, m = m->next) {
    cx->anchor = m;
    cx->anchor_prev = prev;
    if (m->kind != IDL_MEMBER) {
      check_decl(cx, m);
      continue;
    }
    if (s->kind == IDL_BITSET) {
      if (m->name[0] != '\0')
        declare(cx, m, s);
      check_annotations(cx, m, s);
      check_bitfield(cx, s, m, &bits);
      continue;
    }
    declare(cx, m, s);
    resolve_type(cx, m->type, s, m, false);
    if (!(m->flags & IDL_F_INHERITED))
      eval_dims(cx, m, s);
    check_annotations(cx, m, s);
    if (s->value_kind != IDL_VK_NONE)
      check_value_member(s, m);
    assign_field_id(m, &next, hash, ids, owners, &nids, &set);
  }
  if (s->kind == IDL_BITSET) {
    s->bit_bound = bits;
    if (bits > 64)
      diag_error(&s->loc, "bitset '%s' has %u bits; at most 64 are "
                          "supported", s->name, bits);
  }
  idset_free(&set);
  free(ids);
  free(owners);
}

/* bitmask: @bit_bound(N) (default 32, at most 64); each value's position
 * is @position(p) or the previous one + 1. */
static void
check_bitmask(check_ctx *cx, idl_node *b)
{
  const idl_annotation *bb = find_annotation(b, "bit_bound");
  uint64_t bound = 32, pos = 0;
  idset set;
  size_t k = 0;

  if (bb != NULL && bb->value.kind == IDL_V_UINT) {
    bound = bb->value.u;
    if (bound > 64) {
      diag_error(&bb->loc, "bit_bound %llu of bitmask '%s' is more than 64",
                 (unsigned long long)bound, b->name);
      bound = 64;
    }
  }
  b->bit_bound = (unsigned)bound;
  idset_init(&set, count_children(b) + 1);
  for (idl_node *v = b->children; v != NULL; v = v->next, k++) {
    const idl_annotation *pa;
    size_t j;
    check_annotations(cx, v, b);
    pa = find_annotation(v, "position");
    if (pa != NULL && pa->value.kind == IDL_V_UINT)
      pos = pa->value.u;
    if (pos >= bound) {
      diag_error(&v->loc, "bitmask '%s' has more than %llu bits: '%s' would "
                          "be bit %llu", b->name, (unsigned long long)bound,
                 v->name, (unsigned long long)pos);
    } else if ((j = idset_put(&set, pos, k)) != SIZE_MAX) {
      diag_error(&v->loc, "bit %llu of '%s' is already used in bitmask '%s'",
                 (unsigned long long)pos, v->name, b->name);
    }
    v->value.kind = IDL_V_UINT;
    v->value.u = pos;
    v->value.i = (int64_t)pos;
    declare(cx, v, b);
    pos++;
  }
  idset_free(&set);
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
  uint32_t next = 2;
  bool hash = autoid_of(u);
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
  for (idl_node *c = u->children, *prev = NULL; c != NULL;
       prev = c, c = c->next) {
    fnode *f = FNODE(c);
    cx->anchor = c;
    cx->anchor_prev = prev;
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
    assign_field_id(c, &next, hash, ids, owners, &nids, &idx);
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

/* local / abstract interfaces are accepted (docs/IDL-MAPPING.md); a
 * non-local interface cannot inherit from a local one (CORBA 3). */
static void
check_interface_kind(const idl_node *i)
{
  for (size_t k = 0; k < i->nbases; k++) {
    if (i->bases[k]->is_local && !i->is_local)
      diag_error(&i->loc, "unconstrained interface '%s' cannot inherit "
                          "from local interface '%s'", i->name,
                 i->bases[k]->name);
    if (i->is_abstract && !i->bases[k]->is_abstract)
      diag_error(&i->loc, "abstract interface '%s' can only inherit from "
                          "abstract interfaces, not '%s'", i->name,
                 i->bases[k]->name);
  }
}

static void
resolve_raises(check_ctx *cx, const idl_node *scope, idl_type **names,
               size_t n, idl_node ***out, size_t *nout)
{
  *out = xcalloc(n ? n : 1, sizeof **out);
  *nout = 0;
  for (size_t k = 0; k < n; k++) {
    idl_type *t = names[k];
    idl_node *e = check_lookup(cx, scope, t->name, &t->loc, "exception");
    if (e == NULL)
      continue;
    if (e->kind != IDL_EXCEPTION) {
      diag_error(&t->loc, "'%s' in raises is not an exception", t->name);
      continue;
    }
    t->ref = e;
    (*out)[(*nout)++] = e;
  }
}

/* typeid / typeprefix / #pragma ID / #pragma version */
static void
check_repoid(check_ctx *cx, idl_node *r)
{
  idl_node *n = check_lookup(cx, r->parent, r->name, &r->loc, "name");
  fnode *f;
  if (n == NULL)
    return;
  if (n->kind == IDL_FORWARD && n->definition != NULL)
    n = n->definition;
  f = FNODE(n);
  if (r->flags & IDL_F_PREFIX) {
    if (n->kind != IDL_MODULE && n->kind != IDL_INTERFACE &&
        n->kind != IDL_STRUCT && n->kind != IDL_UNION &&
        n->kind != IDL_EXCEPTION) {
      diag_error(&r->loc, "typeprefix needs a module, interface or "
                          "valuetype, not %s '%s'",
                 idl_kind_name(n->kind), r->name);
      return;
    }
    free(f->rprefix);
    f->rprefix = xstrdup(r->value.s);
  } else if (r->flags & IDL_F_VERSION) {
    if (f->rid != NULL && strncmp(f->rid, "IDL:", 4) == 0) {
      diag_error(&r->loc, "#pragma version for '%s' after its repository "
                          "id was set", r->name);
      return;
    }
    free(f->rversion);
    f->rversion = xstrdup(r->value.s);
  } else {
    if (f->rid != NULL && strcmp(f->rid, r->value.s) != 0) {
      diag_error(&r->loc, "repository id of '%s' is already '%s'", r->name,
                 f->rid);
      return;
    }
    if (strchr(r->value.s, ':') == NULL) {
      diag_error(&r->loc, "repository id '%s' has no format prefix (such as "
                          "'IDL:')", r->value.s);
      return;
    }
    free(f->rid);
    f->rid = xstrdup(r->value.s);
  }
}

/* Repository ids of every named declaration, after all pragmas are seen:
 * explicit id, else "IDL:" [prefix "/"] path ":" version, where prefix is
 * the nearest enclosing typeprefix, else the #pragma prefix in force
 * where the declaration was written (per file). */
static void
assign_repo_ids(idl_node *scope, const char *tprefix)
{
  for (idl_node *c = scope->children; c != NULL; c = c->next) {
    fnode *f = FNODE(c);
    const char *prefix;
    char *path, *id;
    size_t n;
    if (c->kind == IDL_REPOID || c->kind == IDL_PARAM || c->name == NULL)
      continue;
    prefix = f->rprefix ? f->rprefix : tprefix ? tprefix : f->prefix;
    if (f->rid != NULL) {
      id = xstrdup(f->rid);
    } else {
      path = idl_scoped_name(c); /* "::a::b" */
      for (char *p = path; *p; p++)
        ;
      n = strlen(path) + (prefix ? strlen(prefix) : 0) + 32 +
          (f->rversion ? strlen(f->rversion) : 3);
      id = xmalloc(n);
      {
        /* "::a::b" -> "a/b" */
        char *o = path, *q = path;
        while (*q) {
          if (q[0] == ':' && q[1] == ':') {
            if (o != path)
              *o++ = '/';
            q += 2;
          } else {
            *o++ = *q++;
          }
        }
        *o = '\0';
      }
      snprintf(id, n, "IDL:%s%s%s:%s", prefix && *prefix ? prefix : "",
               prefix && *prefix ? "/" : "", path,
               f->rversion ? f->rversion : "1.0");
      free(path);
    }
    free((char *)c->repo_id);
    c->repo_id = id;
    switch (c->kind) {
    case IDL_MODULE: case IDL_INTERFACE: case IDL_STRUCT: case IDL_UNION:
    case IDL_EXCEPTION:
      assign_repo_ids(c, f->rprefix ? f->rprefix : tprefix);
      break;
    default:
      break;
    }
  }
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
check_children(check_ctx *cx, idl_node *scope)
{
  for (idl_node *c = scope->children, *prev = NULL; c != NULL;
       prev = c, c = c->next) {
    cx->anchor = c;
    cx->anchor_prev = prev;
    check_decl(cx, c);
  }
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
    check_children(cx, n);
    break;
  case IDL_FORWARD:
    declare(cx, n, scope);
    add_forward(cx, n);
    break;
  case IDL_INTERFACE:
    check_annotations(cx, n, scope);
    resolve_bases(cx, n);
    check_interface_kind(n);
    if (declare(cx, n, scope))
      bind_forwards(cx, n);
    check_children(cx, n);
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
    resolve_raises(cx, scope, FNODE(n)->gnames, FNODE(n)->ngnames,
                   &n->getraises, &n->ngetraises);
    resolve_raises(cx, scope, FNODE(n)->snames, FNODE(n)->nsnames,
                   &n->setraises, &n->nsetraises);
    break;
  case IDL_FORWARD_TYPE:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    break;
  case IDL_BITMASK:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    check_bitmask(cx, n);
    break;
  case IDL_BITSET:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    check_members(cx, n);
    break;
  case IDL_NATIVE:
    check_annotations(cx, n, scope);
    declare(cx, n, scope);
    break;
  case IDL_REPOID:
    check_repoid(cx, n);
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
  check_children(&cx, t->root);
  /* an interface forward-declared and never defined is legal OMG IDL: it
   * is only used as an object reference (like Object) */
  for (size_t k = 0; k < cx.npending; k++) {
    idl_type *ty = cx.pending[k];
    idl_node *f = ty->ref;
    if (f->definition != NULL) {
      ty->ref = f->definition;
    } else {
      diag_error(&ty->loc, "%s '%s' is forward-declared but never defined",
                 f->value_kind != IDL_VK_NONE ? "valuetype"
                 : FNODE(f)->fwd_kind == IDL_STRUCT ? "struct" : "union",
                 f->name);
      ty->ref = NULL;
    }
  }
  if (diag_error_count() == before)
    assign_repo_ids(t->root, NULL);
  free(cx.pending);
  symtab_free(cx.st);
  symtab_free(cx.cnames);
  symtab_free(cx.fwds);
  free(cx.forwards);
  return (int)(diag_error_count() - before);
}
