/* idl_print.c - prints declarations of the checked tree back as IDL that
 * plumbc parses again: types fully scoped ("::kv::Value"), constants and
 * case labels as evaluated values.  Used by `plumb describe` and by
 * gen_meta.c (the IDL text an interface carries for introspection). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "back.h"
#include "idl_print.h"

static void print_filtered(FILE *f, const idl_node *n, int ind,
                           const idl_print_set *set);


static void
pad(FILE *f, int ind)
{
  fprintf(f, "%*s", ind * 2, "");
}

void
idl_print_type(FILE *f, const idl_type *t)
{
  switch (t->kind) {
  case IDL_T_VOID: fputs("void", f); return;
  case IDL_T_BOOLEAN: fputs("boolean", f); return;
  case IDL_T_CHAR: fputs("char", f); return;
  case IDL_T_WCHAR: fputs("wchar", f); return;
  case IDL_T_OCTET: fputs("octet", f); return;
  case IDL_T_INT8: fputs("int8", f); return;
  case IDL_T_UINT8: fputs("uint8", f); return;
  case IDL_T_SHORT: fputs("short", f); return;
  case IDL_T_USHORT: fputs("unsigned short", f); return;
  case IDL_T_LONG: fputs("long", f); return;
  case IDL_T_ULONG: fputs("unsigned long", f); return;
  case IDL_T_LLONG: fputs("long long", f); return;
  case IDL_T_ULLONG: fputs("unsigned long long", f); return;
  case IDL_T_FLOAT: fputs("float", f); return;
  case IDL_T_DOUBLE: fputs("double", f); return;
  case IDL_T_STRING: case IDL_T_WSTRING:
    fputs(t->kind == IDL_T_STRING ? "string" : "wstring", f);
    if (t->bound)
      fprintf(f, "<%" PRIu64 ">", t->bound);
    return;
  case IDL_T_SEQUENCE:
    fputs("sequence<", f);
    idl_print_type(f, t->elem);
    if (t->bound)
      fprintf(f, ", %" PRIu64, t->bound);
    fputs(">", f);
    return;
  case IDL_T_LDOUBLE: fputs("long double", f); return;
  case IDL_T_FIXED:
    fprintf(f, "fixed<%" PRIu64 ", %u>", t->bound, t->scale);
    return;
  case IDL_T_MAP:
    fputs("map<", f);
    idl_print_type(f, t->key);
    fputs(", ", f);
    idl_print_type(f, t->elem);
    if (t->bound)
      fprintf(f, ", %" PRIu64, t->bound);
    fputs(">", f);
    return;
  case IDL_T_VALUEBASE: fputs("ValueBase", f); return;
  case IDL_T_ANY: fputs("any", f); return;
  case IDL_T_OBJECT: fputs("Object", f); return;
  case IDL_T_NAMED: {
    /* the fully scoped name: valid wherever it is printed */
    char *sn = t->ref ? idl_scoped_name(t->ref) : NULL;
    fputs(sn ? sn : t->name, f);
    free(sn);
    return;
  }
  }
}

static void
print_dims(FILE *f, const idl_node *n)
{
  for (size_t i = 0; i < n->ndims; i++)
    fprintf(f, "[%" PRIu64 "]", n->dims[i]);
}

static void
print_value(FILE *f, const idl_value *v, const idl_type *t)
{
  switch (v->kind) {
  case IDL_V_INT: fprintf(f, "%" PRId64, v->i); break;
  case IDL_V_UINT: fprintf(f, "%" PRIu64, v->u); break;
  case IDL_V_FLOAT: fprintf(f, "%.17g", v->f); break;
  case IDL_V_BOOL: fputs(v->b ? "TRUE" : "FALSE", f); break;
  case IDL_V_CHAR:
    if (v->u >= 32 && v->u < 127 && v->u != '\'' && v->u != '\\')
      fprintf(f, "'%c'", (char)v->u);
    else
      fprintf(f, "'\\x%02" PRIx64 "'", v->u & 0xff);
    break;
  case IDL_V_STRING:
    fputc('"', f);
    for (const char *p = v->s ? v->s : ""; *p; p++) {
      if (*p == '"' || *p == '\\')
        fprintf(f, "\\%c", *p);
      else if ((unsigned char)*p < 32)
        fprintf(f, "\\x%02x", (unsigned char)*p);
      else
        fputc(*p, f);
    }
    fputc('"', f);
    break;
  case IDL_V_ENUM: {
    char *sn = idl_scoped_name(v->e);
    fputs(sn ? sn : v->e->name, f);
    free(sn);
    break;
  }
  default: fputs("0", f); break;
  }
  (void)t;
}

static void
print_members(FILE *f, const idl_node *n, int ind)
{
  for (const idl_node *m = n->children; m; m = m->next) {
    if (m->kind != IDL_MEMBER) {
      idl_print_decl(f, m, ind);
      continue;
    }
    pad(f, ind);
    idl_print_type(f, m->type);
    fprintf(f, " %s", m->name);
    print_dims(f, m);
    fputs(";\n", f);
  }
}

static void
print_op(FILE *f, const idl_node *o, int ind)
{
  pad(f, ind);
  if (o->flags & IDL_F_ONEWAY)
    fputs("oneway ", f);
  idl_print_type(f, o->type);
  fprintf(f, " %s(", o->name);
  int first = 1;
  for (const idl_node *p = o->children; p; p = p->next) {
    if (p->kind != IDL_PARAM)
      continue;
    fprintf(f, "%s%s ", first ? "" : ", ",
            p->dir == IDL_IN ? "in" : p->dir == IDL_OUT ? "out" : "inout");
    idl_print_type(f, p->type);
    fprintf(f, " %s", p->name);
    first = 0;
  }
  fputs(")", f);
  for (size_t i = 0; i < o->nraises; i++) {
    char *sn = idl_scoped_name(o->raises[i]);
    fprintf(f, "%s%s", i ? ", " : " raises (", sn);
    free(sn);
  }
  fputs(o->nraises ? ");\n" : ";\n", f);
}

void
idl_print_decl(FILE *f, const idl_node *n, int ind)
{
  switch (n->kind) {
  case IDL_MODULE:
    pad(f, ind);
    fprintf(f, "module %s {\n", n->name);
    for (const idl_node *c = n->children; c; c = c->next)
      idl_print_decl(f, c, ind + 1);
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_FORWARD:
    pad(f, ind);
    fprintf(f, "interface %s;\n", n->name);
    return;
  case IDL_INTERFACE:
    pad(f, ind);
    fprintf(f, "interface %s", n->name);
    for (size_t i = 0; i < n->nbases; i++) {
      char *sn = idl_scoped_name(n->bases[i]);
      fprintf(f, "%s%s", i ? ", " : " : ", sn);
      free(sn);
    }
    fputs(" {\n", f);
    for (const idl_node *c = n->children; c; c = c->next) {
      if (c->kind == IDL_OPERATION) {
        print_op(f, c, ind + 1);
      } else if (c->kind == IDL_ATTRIBUTE) {
        pad(f, ind + 1);
        fputs(c->flags & IDL_F_READONLY ? "readonly attribute " :
              "attribute ", f);
        idl_print_type(f, c->type);
        fprintf(f, " %s;\n", c->name);
      } else {
        idl_print_decl(f, c, ind + 1);
      }
    }
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_STRUCT: case IDL_EXCEPTION:
    pad(f, ind);
    fprintf(f, "%s %s {\n", n->kind == IDL_STRUCT ? "struct" : "exception",
            n->name);
    print_members(f, n, ind + 1);
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_UNION:
    pad(f, ind);
    fprintf(f, "union %s switch (", n->name);
    idl_print_type(f, n->type);
    fputs(") {\n", f);
    for (const idl_node *c = n->children; c; c = c->next) {
      if (c->kind != IDL_CASE)
        continue;
      for (size_t i = 0; i < c->nlabels; i++) {
        pad(f, ind + 1);
        fputs("case ", f);
        print_value(f, &c->labels[i], n->type);
        fputs(":\n", f);
      }
      if (c->flags & IDL_F_DEFAULT) {
        pad(f, ind + 1);
        fputs("default:\n", f);
      }
      pad(f, ind + 2);
      idl_print_type(f, c->type);
      fprintf(f, " %s", c->name);
      print_dims(f, c);
      fputs(";\n", f);
    }
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_ENUM: {
    pad(f, ind);
    fprintf(f, "enum %s { ", n->name);
    int first = 1;
    for (const idl_node *e = n->children; e; e = e->next)
      if (e->kind == IDL_ENUMERATOR) {
        fprintf(f, "%s%s", first ? "" : ", ", e->name);
        first = 0;
      }
    fputs(" };\n", f);
    return;
  }
  case IDL_TYPEDEF:
    pad(f, ind);
    fputs("typedef ", f);
    idl_print_type(f, n->type);
    fprintf(f, " %s", n->name);
    print_dims(f, n);
    fputs(";\n", f);
    return;
  case IDL_CONST:
    pad(f, ind);
    fputs("const ", f);
    idl_print_type(f, n->type);
    fprintf(f, " %s = ", n->name);
    print_value(f, &n->value, n->type);
    fputs(";\n", f);
    return;
  default:
    return;
  }
}


/* ---- self-contained IDL of one interface ---------------------------------- */

/* Membership is a hash set, not a list: gen_meta.c closes over every
 * interface of a file at once, thousands of declarations for a large one
 * (gen_big_idl.py 20000: the linear scans were a tenth of plumbc's run). */
static int
pset_has(const idl_print_pset *p, const idl_node *x)
{
  if (p->cap == 0)
    return 0;
  for (size_t i = node_hash(x, p->cap);; i = (i + 1) & (p->cap - 1)) {
    if (p->slot[i] == x)
      return 1;
    if (p->slot[i] == NULL)
      return 0;
  }
}

/* Adds x; 1 if it was not there yet, 0 if it was (or out of memory). */
static int
pset_add(idl_print_pset *p, const idl_node *x)
{
  if (pset_has(p, x))
    return 0;
  if ((p->n + 1) * 2 > p->cap) { /* at most half full */
    size_t nc = p->cap ? p->cap * 2 : 64;
    const idl_node **ns = calloc(nc, sizeof *ns);
    if (ns == NULL)
      return 0;
    for (size_t i = 0; i < p->cap; i++)
      if (p->slot[i] != NULL) {
        size_t j = node_hash(p->slot[i], nc);
        while (ns[j] != NULL)
          j = (j + 1) & (nc - 1);
        ns[j] = p->slot[i];
      }
    free(p->slot);
    p->slot = ns;
    p->cap = nc;
  }
  size_t i = node_hash(x, p->cap);
  while (p->slot[i] != NULL)
    i = (i + 1) & (p->cap - 1);
  p->slot[i] = x;
  p->n++;
  return 1;
}

static void
pset_free(idl_print_pset *p)
{
  free(p->slot);
  memset(p, 0, sizeof *p);
}

static void add_full(idl_print_set *s, const idl_node *n);

static void
add_type(idl_print_set *s, const idl_type *t)
{
  for (unsigned depth = 0; t != NULL && depth < 64; depth++) {
    if (t->kind == IDL_T_SEQUENCE) {
      t = t->elem;
      continue;
    }
    if (t->kind != IDL_T_NAMED || t->ref == NULL)
      return;
    const idl_node *r = t->ref;
    if (r->kind == IDL_INTERFACE || r->kind == IDL_FORWARD) {
      if (r->parent && r->parent->kind == IDL_INTERFACE)
        add_full(s, r->parent);
      pset_add(&s->fwd, r);
      if (r->kind == IDL_FORWARD && r->definition)
        pset_add(&s->fwd, r->definition);
      return;
    }
    add_full(s, r);
    return;
  }
}

static void
add_full(idl_print_set *s, const idl_node *n)
{
  if (n == NULL || n->kind == IDL_ENUMERATOR)
    return;
  if (n->parent && n->parent->kind == IDL_INTERFACE) {
    add_full(s, n->parent); /* printed with its interface */
    return;
  }
  if (!pset_add(&s->full, n))
    return;
  switch (n->kind) {
  case IDL_TYPEDEF: case IDL_CONST:
    add_type(s, n->type);
    return;
  case IDL_UNION: case IDL_STRUCT: case IDL_EXCEPTION:
    if (n->kind == IDL_UNION)
      add_type(s, n->type); /* the discriminator */
    for (const idl_node *m = n->children; m; m = m->next)
      if (m->kind == IDL_MEMBER || m->kind == IDL_CASE)
        add_type(s, m->type);
      else
        add_full(s, m);
    return;
  case IDL_INTERFACE:
    for (size_t i = 0; i < n->nbases; i++) {
      const idl_node *b = n->bases[i];
      add_full(s, b && b->kind == IDL_FORWARD ? b->definition : b);
    }
    for (const idl_node *c = n->children; c; c = c->next) {
      if (c->kind == IDL_OPERATION) {
        add_type(s, c->type);
        for (const idl_node *p = c->children; p; p = p->next)
          add_type(s, p->type);
        for (size_t i = 0; i < c->nraises; i++)
          add_full(s, c->raises[i]);
      } else if (c->kind == IDL_ATTRIBUTE) {
        add_type(s, c->type);
      } else {
        for (const idl_node *m = c->children; m; m = m->next)
          if (m->type)
            add_type(s, m->type);
        if (c->type)
          add_type(s, c->type);
      }
    }
    return;
  default:
    return;
  }
}

void
idl_print_closure(idl_print_set *s, const idl_node *iface)
{
  add_full(s, iface);
}

/* Adds every module around the members of p to mods. */
static void
add_modules(idl_print_pset *mods, const idl_print_pset *p)
{
  for (size_t i = 0; i < p->cap; i++)
    if (p->slot[i] != NULL)
      for (const idl_node *m = p->slot[i]->parent; m; m = m->parent)
        if (!pset_add(mods, m))
          break; /* its parents are in already */
}

static void
print_filtered(FILE *f, const idl_node *n, int ind, const idl_print_set *s)
{
  for (const idl_node *c = n->children; c; c = c->next) {
    if (c->kind == IDL_MODULE) {
      if (!pset_has(&s->mods, c))
        continue;
      pad(f, ind);
      fprintf(f, "module %s {\n", c->name);
      print_filtered(f, c, ind + 1, s);
      pad(f, ind);
      fputs("};\n", f);
    } else if (pset_has(&s->full, c)) {
      idl_print_decl(f, c, ind);
    } else if (pset_has(&s->fwd, c)) {
      pad(f, ind);
      fprintf(f, "interface %s;\n", c->name);
    }
  }
}

void
idl_print_set_print(FILE *f, const idl_node *root, idl_print_set *s)
{
  pset_free(&s->mods);
  add_modules(&s->mods, &s->full);
  add_modules(&s->mods, &s->fwd);
  print_filtered(f, root, 0, s);
}

void
idl_print_set_free(idl_print_set *s)
{
  pset_free(&s->full);
  pset_free(&s->fwd);
  pset_free(&s->mods);
}

char *
idl_print_iface_text(const idl_node *iface)
{
  idl_print_set s = { 0 };
  char *buf = NULL;
  size_t len = 0;
  const idl_node *root = iface;
  while (root->parent)
    root = root->parent;
  idl_print_closure(&s, iface);
  FILE *f = open_memstream(&buf, &len);
  if (f != NULL) {
    idl_print_set_print(f, root, &s);
    fclose(f);
  }
  idl_print_set_free(&s);
  return buf;
}
