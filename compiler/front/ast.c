/* ast.c - constructors, copies and destructors of the syntax tree (ast.h),
 * plus the two public helpers idl_scoped_name and idl_resolve_typedefs.
 * Allocation failure aborts the compiler (it is a short-lived tool).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front_int.h"

void *
xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fputs("plumbc: out of memory\n", stderr);
    abort();
  }
  return p;
}

void *
xcalloc(size_t n, size_t m)
{
  void *p = calloc(n ? n : 1, m ? m : 1);
  if (p == NULL) {
    fputs("plumbc: out of memory\n", stderr);
    abort();
  }
  return p;
}

void *
xrealloc(void *p, size_t n)
{
  p = realloc(p, n ? n : 1);
  if (p == NULL) {
    fputs("plumbc: out of memory\n", stderr);
    abort();
  }
  return p;
}

char *
xstrdup(const char *s)
{
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

char *
xstrndup(const char *s, size_t n)
{
  char *d = xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* --- expressions ---------------------------------------------------------- */

expr *
expr_new(xkind k, idl_loc loc)
{
  expr *x = xcalloc(1, sizeof *x);
  x->k = k;
  x->loc = loc;
  return x;
}

expr *
expr_clone(const expr *x)
{
  expr *c;
  if (x == NULL)
    return NULL;
  c = xmalloc(sizeof *c);
  *c = *x;
  c->s = x->s ? xstrdup(x->s) : NULL;
  c->a = expr_clone(x->a);
  c->bx = expr_clone(x->bx);
  return c;
}

void
expr_free(expr *x)
{
  if (x == NULL)
    return;
  expr_free(x->a);
  expr_free(x->bx);
  free(x->s);
  free(x);
}

static void
expr_array_free(expr **v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    expr_free(v[i]);
  free(v);
}

/* --- types ----------------------------------------------------------------- */

idl_type *
type_new(idl_tkind k, idl_loc loc)
{
  ftype *t = xcalloc(1, sizeof *t);
  t->t.kind = k;
  t->t.loc = loc;
  return &t->t;
}

idl_type *
type_clone(const idl_type *t)
{
  ftype *c;
  if (t == NULL)
    return NULL;
  c = xmalloc(sizeof *c);
  *c = *FTYPE(t);
  c->t.elem = type_clone(t->elem);
  c->t.key = type_clone(t->key);
  c->t.name = t->name ? xstrdup(t->name) : NULL;
  c->bound_x = expr_clone(FTYPE(t)->bound_x);
  c->scale_x = expr_clone(FTYPE(t)->scale_x);
  return &c->t;
}

void
type_free(idl_type *t)
{
  if (t == NULL)
    return;
  type_free(t->elem);
  type_free(t->key);
  free(t->name);
  expr_free(FTYPE(t)->bound_x);
  expr_free(FTYPE(t)->scale_x);
  free(FTYPE(t));
}

/* --- values and annotations ------------------------------------------------ */

void
value_free(idl_value *v)
{
  free(v->s);
  v->s = NULL;
}

void
anno_free(idl_annotation *a)
{
  while (a != NULL) {
    idl_annotation *next = a->next;
    free(a->name);
    value_free(&a->value);
    expr_free(FANNO(a)->x);
    free(FANNO(a));
    a = next;
  }
}

idl_annotation *
anno_clone(const idl_annotation *a)
{
  idl_annotation *head = NULL, **tail = &head;
  for (; a != NULL; a = a->next) {
    fanno *c = xcalloc(1, sizeof *c);
    c->a.name = xstrdup(a->name);
    c->a.loc = a->loc;
    c->x = expr_clone(FANNO(a)->x);
    *tail = &c->a;
    tail = &c->a.next;
  }
  return head;
}

/* --- parser lists ---------------------------------------------------------- */

void
decl_free(decl *d)
{
  while (d != NULL) {
    decl *next = d->next;
    free(d->name);
    expr_array_free(d->dims, d->ndims);
    free(d);
    d = next;
  }
}

void
xlist_free(xlist *l)
{
  expr_array_free(l->v, l->n);
  l->v = NULL;
  l->n = 0;
}

void
tlist_free(tlist *l)
{
  for (size_t i = 0; i < l->n; i++)
    type_free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* --- nodes ------------------------------------------------------------------ */

idl_node *
node_new(pstate *ps, idl_kind k, char *name, idl_loc loc)
{
  fnode *f = xcalloc(1, sizeof *f);
  f->n.kind = k;
  f->n.name = name;
  f->n.loc = loc;
  if (ps != NULL && loc.file != NULL && loc.file != ps->main_file)
    f->n.flags |= IDL_F_INCLUDED;
  if (ps != NULL && ps->prefix != NULL)
    f->prefix = xstrdup(ps->prefix);
  return &f->n;
}

void
node_add_child(idl_node *parent, idl_node *child)
{
  child->parent = parent;
  child->next = NULL;
  if (parent->last_child != NULL)
    parent->last_child->next = child;
  else
    parent->children = child;
  parent->last_child = child;
}

void
node_add_children(idl_node *parent, idl_node *first)
{
  while (first != NULL) {
    idl_node *next = first->next;
    node_add_child(parent, first);
    first = next;
  }
}

void
node_free(idl_node *n)
{
  fnode *f = FNODE(n);
  if (n == NULL)
    return;
  node_list_free(n->children);
  free(n->name);
  anno_free(n->annotations);
  type_free(n->type);
  free(n->dims);
  value_free(&n->value);
  for (size_t i = 0; i < n->nlabels; i++)
    value_free(&n->labels[i]);
  free(n->labels);
  free(n->raises);
  free(n->bases);
  free(n->getraises);
  free(n->setraises);
  free((char *)n->repo_id);
  free(f->prefix);
  free(f->rid);
  free(f->rversion);
  free(f->rprefix);
  free(f->sname);
  for (size_t i = 0; i < f->ngnames; i++)
    type_free(f->gnames[i]);
  free(f->gnames);
  for (size_t i = 0; i < f->nsnames; i++)
    type_free(f->snames[i]);
  free(f->snames);
  expr_free(f->value_x);
  expr_array_free(f->dim_x, f->ndim_x);
  expr_array_free(f->label_x, f->nlabel_x);
  expr_free(f->bits_x);
  for (size_t i = 0; i < f->nnames; i++)
    type_free(f->names[i]);
  free(f->names);
  free(f);
}

void
node_list_free(idl_node *first)
{
  while (first != NULL) {
    idl_node *next = first->next;
    node_free(first);
    first = next;
  }
}

/* --- names -------------------------------------------------------------------- */

const char *
idl_tkind_name(idl_tkind k)
{
  switch (k) {
  case IDL_T_VOID: return "void";
  case IDL_T_BOOLEAN: return "boolean";
  case IDL_T_CHAR: return "char";
  case IDL_T_WCHAR: return "wchar";
  case IDL_T_OCTET: return "octet";
  case IDL_T_INT8: return "int8";
  case IDL_T_UINT8: return "uint8";
  case IDL_T_SHORT: return "short";
  case IDL_T_USHORT: return "unsigned short";
  case IDL_T_LONG: return "long";
  case IDL_T_ULONG: return "unsigned long";
  case IDL_T_LLONG: return "long long";
  case IDL_T_ULLONG: return "unsigned long long";
  case IDL_T_FLOAT: return "float";
  case IDL_T_DOUBLE: return "double";
  case IDL_T_STRING: return "string";
  case IDL_T_WSTRING: return "wstring";
  case IDL_T_SEQUENCE: return "sequence";
  case IDL_T_ANY: return "any";
  case IDL_T_OBJECT: return "Object";
  case IDL_T_NAMED: return "named type";
  case IDL_T_LDOUBLE: return "long double";
  case IDL_T_FIXED: return "fixed";
  case IDL_T_MAP: return "map";
  case IDL_T_VALUEBASE: return "ValueBase";
  }
  return "?";
}

const char *
idl_kind_name(idl_kind k)
{
  switch (k) {
  case IDL_ROOT: return "global scope";
  case IDL_MODULE: return "module";
  case IDL_INTERFACE: return "interface";
  case IDL_FORWARD: return "interface";
  case IDL_STRUCT: return "struct";
  case IDL_UNION: return "union";
  case IDL_ENUM: return "enum";
  case IDL_ENUMERATOR: return "enumerator";
  case IDL_TYPEDEF: return "typedef";
  case IDL_CONST: return "constant";
  case IDL_EXCEPTION: return "exception";
  case IDL_OPERATION: return "operation";
  case IDL_ATTRIBUTE: return "attribute";
  case IDL_PARAM: return "parameter";
  case IDL_MEMBER: return "member";
  case IDL_CASE: return "union case";
  case IDL_FORWARD_TYPE: return "forward declaration";
  case IDL_BITMASK: return "bitmask";
  case IDL_BITSET: return "bitset";
  case IDL_NATIVE: return "native type";
  case IDL_REPOID: return "repository id declaration";
  }
  return "?";
}

char *
idl_scoped_name(const idl_node *n)
{
  size_t len = 0, pos;
  const idl_node *p;
  char *s;

  if (n == NULL || n->kind == IDL_ROOT)
    return xstrdup("");
  for (p = n; p != NULL && p->kind != IDL_ROOT; p = p->parent) {
    if (p->kind == IDL_ENUM && p != n)
      continue; /* enumerators live in the enum's enclosing scope */
    len += 2 + strlen(p->name ? p->name : "");
  }
  s = xmalloc(len + 1);
  s[len] = '\0';
  pos = len;
  for (p = n; p != NULL && p->kind != IDL_ROOT; p = p->parent) {
    size_t l;
    if (p->kind == IDL_ENUM && p != n)
      continue;
    l = strlen(p->name ? p->name : "");
    pos -= l;
    memcpy(s + pos, p->name ? p->name : "", l);
    pos -= 2;
    memcpy(s + pos, "::", 2);
  }
  return s;
}

const idl_type *
idl_resolve_typedefs(const idl_type *t)
{
  /* bounded: typedef chains cannot be cyclic (declare before use), but do
   * not trust that for a hand-built tree */
  for (int i = 0; i < 1000 && t != NULL; i++) {
    if (t->kind != IDL_T_NAMED || t->ref == NULL ||
        t->ref->kind != IDL_TYPEDEF || t->ref->ndims != 0)
      break;
    t = t->ref->type;
  }
  return t;
}
