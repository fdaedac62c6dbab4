/* test_front.c - CUnit tests of the plumbc front end (compiler/front):
 * the tree built for IDL given as strings (kinds, names, resolved types,
 * constant values, labels, field ids, bases), a table of malformed IDL with
 * the exact diagnostic each must produce, the real-world style IDL files
 * under tests/compiler/idl/ (includes, guards, -I), the diagnostic text
 * format, and a generated 20,000-line file (path in $PLUMB_BIG_IDL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "front.h"
#include "ptest.h"

#ifndef IDL_DIR
#error "IDL_DIR must point at tests/compiler/idl"
#endif

/* --- diagnostics capture ------------------------------------------------- */

#define MAX_CAPS 64

typedef struct cap {
  char file[256];
  int line, col;
  diag_severity sev;
  char msg[512];
} cap;

static cap caps[MAX_CAPS];
static size_t ncaps;

static void
capture(const diag_record *r, void *ctx)
{
  cap *c;
  (void)ctx;
  if (ncaps >= MAX_CAPS)
    return;
  c = &caps[ncaps++];
  snprintf(c->file, sizeof c->file, "%s", r->file ? r->file : "");
  c->line = r->line;
  c->col = r->col;
  c->sev = r->severity;
  snprintf(c->msg, sizeof c->msg, "%s", r->message);
}

static const char *const inc_dirs[] = {IDL_DIR "/include",
                                       IDL_DIR "/world"};
static const idl_options opts = {.include_dirs = inc_dirs,
                                 .ninclude_dirs = 2};

static size_t
count_sev(diag_severity sev)
{
  size_t n = 0;
  for (size_t i = 0; i < ncaps; i++)
    if (caps[i].sev == sev)
      n++;
  return n;
}

static const cap *
first_sev(diag_severity sev)
{
  for (size_t i = 0; i < ncaps; i++)
    if (caps[i].sev == sev)
      return &caps[i];
  return NULL;
}

static void
dump_caps(const char *what)
{
  for (size_t i = 0; i < ncaps; i++)
    fprintf(stderr, "  [%s] %s:%d:%d: %d: %s\n", what, caps[i].file,
            caps[i].line, caps[i].col, (int)caps[i].sev, caps[i].msg);
}

/* Parses text that must be valid: no error, no warning. */
static idl_tree *
parse_ok(const char *text)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl", text, &opts, &t);
  diag_set_sink(NULL, NULL);
  if (errors != 0 || t == NULL || ncaps != 0)
    dump_caps("unexpected");
  CU_ASSERT_EQUAL(errors, 0);
  CU_ASSERT_EQUAL(count_sev(DIAG_ERROR), 0);
  CU_ASSERT_EQUAL(count_sev(DIAG_WARNING), 0);
  return t;
}

/* --- tree navigation ---------------------------------------------------------- */

static idl_node *
child(const idl_node *p, const char *name)
{
  if (p == NULL)
    return NULL;
  for (idl_node *c = p->children; c != NULL; c = c->next)
    if (c->name != NULL && strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

/* "a::b::c" from the root, first match at each level */
static idl_node *
find(const idl_tree *t, const char *path)
{
  char buf[256], *save = NULL, *tok;
  idl_node *n;
  if (t == NULL)
    return NULL;
  n = t->root;
  snprintf(buf, sizeof buf, "%s", path);
  for (tok = strtok_r(buf, ":", &save); tok != NULL && n != NULL;
       tok = strtok_r(NULL, ":", &save))
    n = child(n, tok);
  return n;
}

static size_t
nchildren(const idl_node *n)
{
  size_t k = 0;
  for (const idl_node *c = n ? n->children : NULL; c != NULL; c = c->next)
    k++;
  return k;
}

/* --- tree tests ------------------------------------------------------------------ */

static void
test_struct_members(void)
{
  idl_tree *t = parse_ok("module geo {\n"
                         "  struct Point { long x; unsigned short y, z; };\n"
                         "  struct Line { Point a; ::geo::Point b; };\n"
                         "};\n");
  idl_node *p = find(t, "geo::Point"), *l = find(t, "geo::Line");
  idl_node *m;
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(l);
  CU_ASSERT_EQUAL(p->kind, IDL_STRUCT);
  CU_ASSERT_EQUAL(p->loc.line, 2);
  CU_ASSERT_EQUAL(p->loc.col, 10);
  CU_ASSERT_STRING_EQUAL(p->loc.file, "t.idl");
  CU_ASSERT_EQUAL(nchildren(p), 3);
  m = child(p, "x");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(m->kind, IDL_MEMBER);
  CU_ASSERT_EQUAL(m->type->kind, IDL_T_LONG);
  CU_ASSERT_EQUAL(m->field_id, 1);
  CU_ASSERT_PTR_EQUAL(m->parent, p);
  m = child(p, "z");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(m->type->kind, IDL_T_USHORT);
  CU_ASSERT_EQUAL(m->field_id, 3);
  CU_ASSERT_PTR_NOT_EQUAL(child(p, "y")->type, m->type); /* own copies */
  m = child(l, "b");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(m->type->kind, IDL_T_NAMED);
  CU_ASSERT_STRING_EQUAL(m->type->name, "::geo::Point");
  CU_ASSERT_PTR_EQUAL(m->type->ref, p);
  CU_ASSERT_PTR_EQUAL(child(l, "a")->type->ref, p);
  CU_ASSERT_FALSE(p->flags & IDL_F_INCLUDED);
  idl_tree_free(t);
}

static void
test_typedefs_sequences_arrays(void)
{
  idl_tree *t = parse_ok(
      "const long N = 3;\n"
      "struct P { long v; };\n"
      "typedef sequence<P, 10> Ps;\n"
      "typedef Ps MorePs;\n"
      "typedef long Grid[N][N + 1], Single;\n"
      "typedef sequence<sequence<string<8>>> Nested;\n"
      "struct Holder { MorePs ps; Grid g; double m[2][3][4]; Nested n; };\n");
  idl_node *ps = find(t, "Ps"), *grid = find(t, "Grid"), *h = find(t, "Holder");
  const idl_type *r;
  idl_node *m;
  CU_ASSERT_PTR_NOT_NULL_FATAL(ps);
  CU_ASSERT_PTR_NOT_NULL_FATAL(grid);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  CU_ASSERT_EQUAL(ps->kind, IDL_TYPEDEF);
  CU_ASSERT_EQUAL(ps->type->kind, IDL_T_SEQUENCE);
  CU_ASSERT_EQUAL(ps->type->bound, 10);
  CU_ASSERT_EQUAL(ps->type->elem->kind, IDL_T_NAMED);
  CU_ASSERT_PTR_EQUAL(ps->type->elem->ref, find(t, "P"));
  m = child(h, "ps");
  CU_ASSERT_PTR_EQUAL(m->type->ref, find(t, "MorePs"));
  r = idl_resolve_typedefs(m->type);
  CU_ASSERT_PTR_EQUAL(r, ps->type);
  CU_ASSERT_EQUAL(grid->ndims, 2);
  CU_ASSERT_EQUAL(grid->dims[0], 3);
  CU_ASSERT_EQUAL(grid->dims[1], 4);
  CU_ASSERT_EQUAL(find(t, "Single")->ndims, 0);
  CU_ASSERT_EQUAL(find(t, "Single")->type->kind, IDL_T_LONG);
  /* an array typedef is where idl_resolve_typedefs stops */
  m = child(h, "g");
  CU_ASSERT_PTR_EQUAL(idl_resolve_typedefs(m->type), m->type);
  m = child(h, "m");
  CU_ASSERT_EQUAL(m->ndims, 3);
  CU_ASSERT_EQUAL(m->dims[2], 4);
  m = child(h, "n");
  r = idl_resolve_typedefs(m->type);
  CU_ASSERT_EQUAL(r->kind, IDL_T_SEQUENCE);
  CU_ASSERT_EQUAL(r->bound, 0);
  CU_ASSERT_EQUAL(r->elem->kind, IDL_T_SEQUENCE);
  CU_ASSERT_EQUAL(r->elem->elem->kind, IDL_T_STRING);
  CU_ASSERT_EQUAL(r->elem->elem->bound, 8);
  idl_tree_free(t);
}

/* The value of constant `path`; a missing constant fails the test and
 * yields a zero value so the following asserts stay harmless. */
static const idl_value *
const_value(const idl_tree *t, const char *path, idl_node **np)
{
  static idl_node dummy;
  idl_node *n = find(t, path);
  if (n == NULL) {
    fprintf(stderr, "constant %s not found\n", path);
    CU_FAIL("constant not found");
    memset(&dummy, 0, sizeof dummy);
    n = &dummy;
  }
  *np = n;
  return &n->value;
}

static void
test_const_values(void)
{
  idl_tree *t = parse_ok(
      "module k {\n"
      "  const long A = 3 + 4 * 2;\n"
      "  const long B = (A - 1) / 3 % 3;\n"
      "  const short NEG = -A << 2;\n"
      "  const unsigned long ALL = ~0;\n"
      "  const unsigned long FLAGS = (1 << 4) | 0x3 & ~0x1 ^ 2;\n"
      "  const long long BIG = -9223372036854775807 - 1;\n"
      "  const unsigned long long UBIG = 18446744073709551615;\n"
      "  const octet O = 0377;\n"
      "  const double D = 1.5 * A;\n"
      "  const float F = 2.5e3;\n"
      "  const string S = \"ab\" \"cd\";\n"
      "  const char C = '\\n';\n"
      "  const wchar W = L'x';\n"
      "  const boolean T = TRUE;\n"
      "  enum Color { RED, GREEN, BLUE };\n"
      "  const Color FAV = BLUE;\n"
      "  typedef Color Colour;\n"
      "  const Colour FAV2 = k::GREEN;\n"
      "  const int8 I8 = -128;\n"
      "  const uint64 U64 = 1 << 63;\n"
      "};\n");
  idl_node *n;
#define VAL(path) const_value(t, path, &n)
  CU_ASSERT_EQUAL(VAL("k::A")->kind, IDL_V_INT);
  CU_ASSERT_EQUAL(n->value.i, 11);
  CU_ASSERT_EQUAL(n->kind, IDL_CONST);
  CU_ASSERT_EQUAL(n->type->kind, IDL_T_LONG);
  CU_ASSERT_EQUAL(VAL("k::B")->i, 0);
  CU_ASSERT_EQUAL(VAL("k::NEG")->i, -44);
  CU_ASSERT_EQUAL(VAL("k::ALL")->kind, IDL_V_UINT);
  CU_ASSERT_EQUAL(n->value.u, 0xffffffffu);
  CU_ASSERT_EQUAL(VAL("k::FLAGS")->u, 16);
  CU_ASSERT_EQUAL(VAL("k::BIG")->i, INT64_MIN);
  CU_ASSERT_EQUAL(VAL("k::UBIG")->u, UINT64_MAX);
  CU_ASSERT_EQUAL(VAL("k::O")->u, 255);
  CU_ASSERT_EQUAL(VAL("k::D")->kind, IDL_V_FLOAT);
  CU_ASSERT_DOUBLE_EQUAL(n->value.f, 16.5, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(VAL("k::F")->f, 2500.0, 1e-9);
  CU_ASSERT_EQUAL(VAL("k::S")->kind, IDL_V_STRING);
  CU_ASSERT_STRING_EQUAL(n->value.s, "abcd");
  CU_ASSERT_EQUAL(VAL("k::C")->kind, IDL_V_CHAR);
  CU_ASSERT_EQUAL(n->value.u, '\n');
  CU_ASSERT_EQUAL(VAL("k::W")->u, 'x');
  CU_ASSERT_EQUAL(VAL("k::T")->kind, IDL_V_BOOL);
  CU_ASSERT_TRUE(n->value.b);
  CU_ASSERT_EQUAL(VAL("k::FAV")->kind, IDL_V_ENUM);
  CU_ASSERT_EQUAL(n->value.u, 2);
  CU_ASSERT_PTR_EQUAL(n->value.e, find(t, "k::Color::BLUE"));
  CU_ASSERT_EQUAL(VAL("k::FAV2")->u, 1);
  CU_ASSERT_PTR_EQUAL(n->value.e, find(t, "k::Color::GREEN"));
  CU_ASSERT_EQUAL(VAL("k::I8")->i, -128);
  CU_ASSERT_EQUAL(VAL("k::U64")->u, UINT64_C(1) << 63);
#undef VAL
  idl_tree_free(t);
}

static void
test_enums_and_scoped_names(void)
{
  idl_tree *t = parse_ok("module m { module n {\n"
                         "  enum Color { RED, GREEN, BLUE };\n"
                         "  struct S { Color c; };\n"
                         "}; };\n");
  idl_node *e = find(t, "m::n::Color");
  idl_node *v;
  char *s;
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT_EQUAL(e->kind, IDL_ENUM);
  CU_ASSERT_EQUAL(nchildren(e), 3);
  v = child(e, "BLUE");
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_EQUAL(v->kind, IDL_ENUMERATOR);
  CU_ASSERT_EQUAL(v->value.u, 2);
  CU_ASSERT_EQUAL(child(e, "RED")->value.u, 0);
  s = idl_scoped_name(v);
  CU_ASSERT_STRING_EQUAL(s, "::m::n::BLUE");
  free(s);
  s = idl_scoped_name(find(t, "m::n::S::c"));
  CU_ASSERT_STRING_EQUAL(s, "::m::n::S::c");
  free(s);
  s = idl_scoped_name(t->root);
  CU_ASSERT_STRING_EQUAL(s, "");
  free(s);
  CU_ASSERT_PTR_EQUAL(find(t, "m::n::S::c")->type->ref, e);
  idl_tree_free(t);
}

static void
test_union(void)
{
  idl_tree *t = parse_ok(
      "enum Kind { K_INT, K_STR, K_PT, K_NONE };\n"
      "struct Pt { long x; };\n"
      "typedef Kind KindAlias;\n"
      "union V switch (KindAlias) {\n"
      "  case K_INT: long i;\n"
      "  case K_STR: string s;\n"
      "  case K_PT: case K_NONE: Pt p;\n"
      "};\n"
      "union W switch (char) {\n"
      "  case 'a': @id(9) long a;\n"
      "  default: double d;\n"
      "};\n"
      "union B switch (boolean) { case TRUE: long yes; case FALSE: short no; };\n");
  idl_node *v = find(t, "V"), *w = find(t, "W"), *c;
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  CU_ASSERT_EQUAL(v->kind, IDL_UNION);
  CU_ASSERT_EQUAL(v->type->kind, IDL_T_NAMED);
  CU_ASSERT_PTR_EQUAL(v->type->ref, find(t, "KindAlias"));
  CU_ASSERT_EQUAL(nchildren(v), 3);
  c = child(v, "i");
  CU_ASSERT_EQUAL(c->kind, IDL_CASE);
  CU_ASSERT_EQUAL(c->field_id, 2);
  CU_ASSERT_EQUAL(c->nlabels, 1);
  CU_ASSERT_EQUAL(c->labels[0].kind, IDL_V_ENUM);
  CU_ASSERT_EQUAL(c->labels[0].u, 0);
  c = child(v, "p");
  CU_ASSERT_EQUAL(c->field_id, 4);
  CU_ASSERT_EQUAL(c->nlabels, 2);
  CU_ASSERT_EQUAL(c->labels[0].u, 2);
  CU_ASSERT_EQUAL(c->labels[1].u, 3);
  CU_ASSERT_PTR_EQUAL(c->labels[1].e, find(t, "Kind::K_NONE"));
  CU_ASSERT_PTR_EQUAL(c->type->ref, find(t, "Pt"));
  CU_ASSERT_FALSE(c->flags & IDL_F_DEFAULT);
  c = child(w, "a");
  CU_ASSERT_EQUAL(c->field_id, 9);
  CU_ASSERT_EQUAL(c->labels[0].kind, IDL_V_CHAR);
  CU_ASSERT_EQUAL(c->labels[0].u, 'a');
  c = child(w, "d");
  CU_ASSERT_TRUE(c->flags & IDL_F_DEFAULT);
  CU_ASSERT_EQUAL(c->nlabels, 0);
  CU_ASSERT_EQUAL(c->field_id, 10); /* @autoid(SEQUENTIAL): after @id(9) */
  c = child(find(t, "B"), "no");
  CU_ASSERT_EQUAL(c->labels[0].kind, IDL_V_BOOL);
  CU_ASSERT_FALSE(c->labels[0].b);
  idl_tree_free(t);
}

static void
test_interfaces(void)
{
  idl_tree *t = parse_ok(
      "module svc {\n"
      "  interface Peer;\n"
      "  exception Oops { long code; string why; };\n"
      "  interface Base { readonly attribute long id, version; };\n"
      "  interface Other { attribute string label; };\n"
      "  interface Peer : Base, Other {\n"
      "    long call(in long a, out string b, inout Peer c) raises (Oops);\n"
      "    oneway void ping(in any payload);\n"
      "    Object find(in Base who);\n"
      "    void self_check(in long version_hint);\n"
      "  };\n"
      "};\n");
  idl_node *fwd = find(t, "svc::Peer"), *peer, *base = find(t, "svc::Base");
  idl_node *op, *p;
  CU_ASSERT_PTR_NOT_NULL_FATAL(fwd);
  CU_ASSERT_EQUAL(fwd->kind, IDL_FORWARD);
  peer = fwd->definition;
  CU_ASSERT_PTR_NOT_NULL_FATAL(peer);
  CU_ASSERT_EQUAL(peer->kind, IDL_INTERFACE);
  CU_ASSERT_STRING_EQUAL(peer->name, "Peer");
  CU_ASSERT_EQUAL(peer->nbases, 2);
  CU_ASSERT_PTR_EQUAL(peer->bases[0], base);
  CU_ASSERT_PTR_EQUAL(peer->bases[1], find(t, "svc::Other"));
  CU_ASSERT_EQUAL(base->nbases, 0);
  p = child(base, "version");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(p->kind, IDL_ATTRIBUTE);
  CU_ASSERT_TRUE(p->flags & IDL_F_READONLY);
  CU_ASSERT_EQUAL(p->type->kind, IDL_T_LONG);
  CU_ASSERT_FALSE(child(find(t, "svc::Other"), "label")->flags &
                  IDL_F_READONLY);
  op = child(peer, "call");
  CU_ASSERT_PTR_NOT_NULL_FATAL(op);
  CU_ASSERT_EQUAL(op->kind, IDL_OPERATION);
  CU_ASSERT_EQUAL(op->type->kind, IDL_T_LONG);
  CU_ASSERT_EQUAL(nchildren(op), 3);
  CU_ASSERT_EQUAL(child(op, "a")->dir, IDL_IN);
  CU_ASSERT_EQUAL(child(op, "b")->dir, IDL_OUT);
  CU_ASSERT_EQUAL(child(op, "b")->type->kind, IDL_T_STRING);
  p = child(op, "c");
  CU_ASSERT_EQUAL(p->kind, IDL_PARAM);
  CU_ASSERT_EQUAL(p->dir, IDL_INOUT);
  /* inside its own body the name denotes the interface being defined */
  CU_ASSERT_PTR_EQUAL(p->type->ref, peer);
  CU_ASSERT_EQUAL(op->nraises, 1);
  CU_ASSERT_PTR_EQUAL(op->raises[0], find(t, "svc::Oops"));
  op = child(peer, "ping");
  CU_ASSERT_TRUE(op->flags & IDL_F_ONEWAY);
  CU_ASSERT_EQUAL(op->type->kind, IDL_T_VOID);
  CU_ASSERT_EQUAL(child(op, "payload")->type->kind, IDL_T_ANY);
  CU_ASSERT_EQUAL(op->nraises, 0);
  op = child(peer, "find");
  CU_ASSERT_EQUAL(op->type->kind, IDL_T_OBJECT);
  CU_ASSERT_PTR_EQUAL(child(op, "who")->type->ref, base);
  idl_tree_free(t);
}

static void
test_forward_reference_type(void)
{
  idl_tree *t = parse_ok("interface Later;\n"
                         "struct Holder { Later ref; };\n"
                         "interface Later { Holder get(); };\n");
  idl_node *fwd = t ? t->root->children : NULL;
  idl_node *m = find(t, "Holder::ref");
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_EQUAL(fwd->kind, IDL_FORWARD);
  CU_ASSERT_PTR_EQUAL(m->type->ref, fwd);
  CU_ASSERT_PTR_EQUAL(fwd->definition, fwd->next->next);
  CU_ASSERT_EQUAL(fwd->definition->kind, IDL_INTERFACE);
  idl_tree_free(t);
}

static void
test_inherited_scope_lookup(void)
{
  idl_tree *t = parse_ok("interface A { typedef long Num; exception E {}; };\n"
                         "interface B : A { Num f() raises (E); };\n"
                         "interface D : B { A::Num g(); };\n"
                         "interface Diamond : B, D {};\n");
  idl_node *f = find(t, "B::f");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_PTR_EQUAL(f->type->ref, find(t, "A::Num"));
  CU_ASSERT_PTR_EQUAL(f->raises[0], find(t, "A::E"));
  CU_ASSERT_PTR_EQUAL(find(t, "D::g")->type->ref, find(t, "A::Num"));
  CU_ASSERT_EQUAL(find(t, "Diamond")->nbases, 2);
  idl_tree_free(t);
}

static void
test_reopened_modules(void)
{
  idl_tree *t = parse_ok("module m { struct S { long a; }; };\n"
                         "module other { typedef long L; };\n"
                         "module m { struct T { S s; other::L l; }; };\n");
  idl_node *m1, *m2, *tt;
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  m1 = t->root->children;
  m2 = m1->next->next;
  CU_ASSERT_EQUAL(m1->kind, IDL_MODULE);
  CU_ASSERT_EQUAL(m2->kind, IDL_MODULE);
  CU_ASSERT_STRING_EQUAL(m2->name, "m");
  tt = child(m2, "T");
  CU_ASSERT_PTR_NOT_NULL_FATAL(tt);
  CU_ASSERT_PTR_EQUAL(child(tt, "s")->type->ref, child(m1, "S"));
  CU_ASSERT_PTR_EQUAL(child(tt, "l")->type->ref, find(t, "other::L"));
  idl_tree_free(t);
}

static void
test_recursion_through_sequence(void)
{
  idl_tree *t = parse_ok("struct Node { long v; sequence<Node> kids; };\n"
                         "union Tree switch (long) {\n"
                         "  case 0: long leaf;\n"
                         "  case 1: sequence<Tree, 2> branch;\n"
                         "};\n");
  idl_node *k = find(t, "Node::kids");
  CU_ASSERT_PTR_NOT_NULL_FATAL(k);
  CU_ASSERT_EQUAL(k->type->kind, IDL_T_SEQUENCE);
  CU_ASSERT_PTR_EQUAL(k->type->elem->ref, find(t, "Node"));
  CU_ASSERT_EQUAL(find(t, "Tree::branch")->type->bound, 2);
  idl_tree_free(t);
}

static void
test_nested_struct_declarations(void)
{
  idl_tree *t = parse_ok("struct Outer {\n"
                         "  struct Inner { long a; } first, second;\n"
                         "  enum Mode { ON, OFF } current;\n"
                         "  Inner third;\n"
                         "};\n"
                         "typedef struct Tagged { long t; } TaggedT;\n");
  idl_node *o = find(t, "Outer"), *inner = find(t, "Outer::Inner");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_PTR_NOT_NULL_FATAL(inner);
  CU_ASSERT_EQUAL(inner->kind, IDL_STRUCT);
  CU_ASSERT_PTR_EQUAL(find(t, "Outer::first")->type->ref, inner);
  CU_ASSERT_PTR_EQUAL(find(t, "Outer::third")->type->ref, inner);
  /* nested declarations do not take field numbers */
  CU_ASSERT_EQUAL(find(t, "Outer::first")->field_id, 1);
  CU_ASSERT_EQUAL(find(t, "Outer::second")->field_id, 2);
  CU_ASSERT_EQUAL(find(t, "Outer::current")->field_id, 3);
  CU_ASSERT_EQUAL(find(t, "Outer::third")->field_id, 4);
  CU_ASSERT_PTR_EQUAL(find(t, "TaggedT")->type->ref, find(t, "Tagged"));
  idl_tree_free(t);
}

static void
test_annotations(void)
{
  idl_tree *t = NULL;
  idl_node *s, *m;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl",
                            "@topic\n"
                            "struct Sample {\n"
                            "  @key long id;\n"
                            "  @optional @id(10) string note;\n"
                            "  @default(5) long count;\n"
                            "  @range(min = 1, max = 9) short level;\n"
                            "  @vendor_thing(1) @other long z;\n"
                            "};\n",
                            &opts, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 0);
  /* standard IDL4 / XTypes annotations are accepted quietly; unknown ones
   * are warned about */
  CU_ASSERT_EQUAL(count_sev(DIAG_WARNING), 2);
  CU_ASSERT_EQUAL(count_sev(DIAG_ERROR), 0);
  if (ncaps >= 2) {
    CU_ASSERT_EQUAL(caps[0].line, 7);
    CU_ASSERT_EQUAL(caps[0].col, 3);
    CU_ASSERT_STRING_EQUAL(caps[0].msg, "annotation '@vendor_thing' ignored");
    CU_ASSERT_STRING_EQUAL(caps[1].msg, "annotation '@other' ignored");
  }
  s = find(t, "Sample");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL(s->annotations);
  m = child(s, "id");
  CU_ASSERT_TRUE(m->flags & IDL_F_KEY);
  CU_ASSERT_EQUAL(m->field_id, 1);
  m = child(s, "note");
  CU_ASSERT_TRUE(m->flags & IDL_F_OPTIONAL);
  CU_ASSERT_FALSE(m->flags & IDL_F_KEY);
  CU_ASSERT_EQUAL(m->field_id, 10);
  CU_ASSERT_EQUAL(child(s, "count")->field_id, 11);
  CU_ASSERT_EQUAL(child(s, "level")->field_id, 12);
  idl_tree_free(t);
}

static void
test_escaped_identifier_and_idl4_types(void)
{
  idl_tree *t = parse_ok("struct _module { int8 a; uint8 b; int16 c;\n"
                         "  uint16 d; int32 e; uint32 f; int64 g; uint64 h;\n"
                         "  wchar w; wstring<5> ws; octet o; any x; };\n");
  idl_node *s = find(t, "module");
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_EQUAL(child(s, "a")->type->kind, IDL_T_INT8);
  CU_ASSERT_EQUAL(child(s, "b")->type->kind, IDL_T_UINT8);
  CU_ASSERT_EQUAL(child(s, "c")->type->kind, IDL_T_SHORT);
  CU_ASSERT_EQUAL(child(s, "d")->type->kind, IDL_T_USHORT);
  CU_ASSERT_EQUAL(child(s, "e")->type->kind, IDL_T_LONG);
  CU_ASSERT_EQUAL(child(s, "f")->type->kind, IDL_T_ULONG);
  CU_ASSERT_EQUAL(child(s, "g")->type->kind, IDL_T_LLONG);
  CU_ASSERT_EQUAL(child(s, "h")->type->kind, IDL_T_ULLONG);
  CU_ASSERT_EQUAL(child(s, "w")->type->kind, IDL_T_WCHAR);
  CU_ASSERT_EQUAL(child(s, "ws")->type->kind, IDL_T_WSTRING);
  CU_ASSERT_EQUAL(child(s, "ws")->type->bound, 5);
  CU_ASSERT_EQUAL(child(s, "o")->type->kind, IDL_T_OCTET);
  CU_ASSERT_EQUAL(child(s, "x")->type->kind, IDL_T_ANY);
  idl_tree_free(t);
}

static void
test_preprocessor_conditionals(void)
{
  idl_tree *t = parse_ok("#define FEATURE 1\n"
                         "#define GUARD\n"
                         "#ifdef GUARD\n"
                         "struct A { long a; };\n"
                         "#else\n"
                         "struct A { this is not idl };\n"
                         "#endif\n"
                         "#if defined(MISSING) || !defined(GUARD)\n"
                         "struct B { garbage };\n"
                         "#elif FEATURE && defined GUARD\n"
                         "struct B { long b; };\n"
                         "#else\n"
                         "struct B { more garbage };\n"
                         "#endif\n"
                         "#undef GUARD\n"
                         "#ifndef GUARD\n"
                         "  #ifdef FEATURE\n"
                         "struct C { long c; };\n"
                         "  #endif\n"
                         "#endif\n"
                         "#if 0\n"
                         "#include \"does-not-exist.idl\"\n"
                         "#endif\n");
  CU_ASSERT_PTR_NOT_NULL(find(t, "A::a"));
  CU_ASSERT_PTR_NOT_NULL(find(t, "B::b"));
  CU_ASSERT_PTR_NOT_NULL(find(t, "C::c"));
  CU_ASSERT_EQUAL(nchildren(t ? t->root : NULL), 3);
  idl_tree_free(t);
}

/* #if takes C's integer expressions (issue 15). */
static void
test_preprocessor_expressions(void)
{
  static const struct {
    const char *expr;
    bool value;
  } cases[] = {
    {"2 > 1", true}, {"1 > 2", false}, {"1 < 2 && 2 <= 2", true},
    {"3 >= 4 || 0", false}, {"0x10 == 16", true}, {"010 == 8", true},
    {"1 + 2 * 3 == 7", true}, {"(1 + 2) * 3 == 9", true},
    {"7 / 2 == 3 && 7 % 2 == 1", true}, {"-1 < 0", true},
    {"~0 == -1", true}, {"1 << 4 == 16 && 256 >> 4 == 16", true},
    {"(6 & 3) == 2 && (6 | 1) == 7 && (6 ^ 2) == 4", true},
    {"V == 3", true}, {"V != 3", false}, {"defined V && !defined W", true},
    {"defined(V) ? V - 3 : 1", false}, {"UNDEFINED == 0", true},
    {"0 && 1 / 0", false}, {"1 || 1 % 0", true}, {"'a' == 97", true},
    {"'\\n' == 10", true}, {"10ul > 9L", true}, {"1 ? 0 ? 5 : 6 : 7", true},
    {"-9223372036854775807 - 1 < 0", true}, {"__LINE__ == 2", true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[256];
    idl_tree *t;
    snprintf(text, sizeof text,
             "#define V 3\n#if %s\nstruct Yes { long a; };\n#else\n"
             "struct No { long a; };\n#endif\n", cases[i].expr);
    t = parse_ok(text);
    if ((find(t, "Yes") != NULL) != cases[i].value)
      fprintf(stderr, "  #if %s: wrong value\n", cases[i].expr);
    CU_ASSERT_EQUAL(find(t, "Yes") != NULL, cases[i].value);
    CU_ASSERT_EQUAL(find(t, "No") != NULL, !cases[i].value);
    idl_tree_free(t);
  }
}

/* -D / -U (idl_options.macros), applied in order before the file. */
static void
test_command_line_macros(void)
{
  static const char *const macros[] = {"FEAT=3", "OFF", "GONE=1", "-GONE",
                                       "EMPTY="};
  idl_options o = {.macros = macros, .nmacros = 5};
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl",
                            "#if FEAT == 3 && defined OFF && !defined(GONE) "
                            "&& defined EMPTY\n"
                            "struct Yes { long a; };\n#endif\n",
                            &o, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 0);
  CU_ASSERT_PTR_NOT_NULL(find(t, "Yes"));
  idl_tree_free(t);
  ncaps = 0;
  diag_set_sink(capture, NULL);
  {
    static const char *const bad[] = {"=3"};
    idl_options ob = {.macros = bad, .nmacros = 1};
    errors = idl_parse_string("t.idl", "struct S { long a; };\n", &ob, &t);
  }
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 1);
  CU_ASSERT_EQUAL_FATAL(ncaps, 1);
  CU_ASSERT_STRING_EQUAL(caps[0].file, "<command line>");
  CU_ASSERT_STRING_EQUAL(caps[0].msg, "#define expects a macro name");
}

static void
test_pragma_note(void)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl", "#pragma keylist S a\n"
                                     "struct S { long a; };\n", &opts, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 0);
  CU_ASSERT_PTR_NOT_NULL(t);
  CU_ASSERT_EQUAL_FATAL(ncaps, 1);
  CU_ASSERT_EQUAL(caps[0].sev, DIAG_NOTE);
  CU_ASSERT_EQUAL(caps[0].line, 1);
  CU_ASSERT_EQUAL(caps[0].col, 1);
  CU_ASSERT_STRING_EQUAL(caps[0].msg, "#pragma keylist ignored");
  idl_tree_free(t);
}

/* IDL4 / CORBA 3 constructs in the tree (issue 15) */
static void
test_idl4_tree(void)
{
  idl_tree *t = parse_ok(
      "#pragma prefix \"omg.org\"\n"
      "module m {\n"
      "  struct Tree;\n"
      "  typedef sequence<Tree> Forest;\n"
      "  struct Tree { Forest kids; };\n"
      "  @bit_bound(8) bitmask P { A, @position(5) B, C };\n"
      "  bitset Bs { bitfield<3> x; bitfield<2>; bitfield<7, short> y; };\n"
      "  struct Base { long a; };\n"
      "  struct D : Base { map<string, long> mp; long port; };\n"
      "  valuetype V { public long v; private V next; factory mk(); };\n"
      "  valuetype W : truncatable V { public long w; };\n"
      "  valuetype Box string;\n"
      "  abstract valuetype AV { };\n"
      "  interface Never;\n"
      "  local interface L { void f(in Never n); };\n"
      "  interface I { void g(in long component, in string home); };\n"
      "  #pragma version I 2.3\n"
      "  typedef fixed<8,3> F;\n"
      "  typedef long double LD;\n"
      "};\n");
  idl_node *m = find(t, "m"), *n, *c;
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  /* forward struct: the typedef's element resolves to the definition */
  n = child(m, "Forest");
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  c = find(t, "m::Tree"); /* the first: the forward declaration */
  CU_ASSERT_EQUAL_FATAL(c->kind, IDL_FORWARD_TYPE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c->definition);
  CU_ASSERT_EQUAL(c->definition->kind, IDL_STRUCT);
  CU_ASSERT_PTR_EQUAL(n->type->elem->ref, c->definition);
  /* bitmask positions and bit_bound */
  n = find(t, "m::P");
  CU_ASSERT_EQUAL(n->kind, IDL_BITMASK);
  CU_ASSERT_EQUAL(n->bit_bound, 8);
  CU_ASSERT_EQUAL(child(n, "B")->value.u, 5);
  CU_ASSERT_EQUAL(child(n, "C")->value.u, 6);
  /* bitset widths, automatic and explicit types */
  n = find(t, "m::Bs");
  CU_ASSERT_EQUAL(n->bit_bound, 12);
  CU_ASSERT_EQUAL(child(n, "x")->bit_width, 3);
  CU_ASSERT_EQUAL(child(n, "x")->type->kind, IDL_T_OCTET);
  CU_ASSERT_EQUAL(child(n, "y")->type->kind, IDL_T_SHORT);
  /* inheritance: the base's member first; map -> sequence of an entry */
  n = find(t, "m::D");
  CU_ASSERT_PTR_EQUAL(n->base, find(t, "m::Base"));
  c = child(n, "a");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_TRUE(c->flags & IDL_F_INHERITED);
  CU_ASSERT_EQUAL(c->field_id, 1);
  c = child(n, "mp");
  CU_ASSERT_EQUAL(c->field_id, 2);
  CU_ASSERT_EQUAL(c->type->kind, IDL_T_SEQUENCE);
  CU_ASSERT_PTR_EQUAL(c->type->elem->ref, child(n, "mp_Entry"));
  CU_ASSERT_TRUE(child(n, "mp_Entry")->flags & IDL_F_MAP_ENTRY);
  CU_ASSERT_EQUAL(child(n, "port")->field_id, 3); /* CCM word as a name */
  /* valuetypes */
  n = find(t, "m::V");
  CU_ASSERT_EQUAL(n->kind, IDL_STRUCT);
  CU_ASSERT_EQUAL(n->value_kind, IDL_VK_CONCRETE);
  CU_ASSERT_TRUE(child(n, "next")->flags & IDL_F_PRIVATE);
  CU_ASSERT_TRUE(child(n, "mk")->flags & IDL_F_FACTORY);
  n = find(t, "m::W");
  CU_ASSERT_TRUE(n->is_truncatable);
  CU_ASSERT_PTR_EQUAL(n->base, find(t, "m::V"));
  CU_ASSERT_EQUAL(find(t, "m::Box")->value_kind, IDL_VK_BOXED);
  CU_ASSERT_EQUAL(find(t, "m::AV")->value_kind, IDL_VK_ABSTRACT);
  /* local interface, never-defined forward, repository ids */
  CU_ASSERT_TRUE(find(t, "m::L")->is_local);
  CU_ASSERT_PTR_NULL(find(t, "m::Never")->definition);
  CU_ASSERT_STRING_EQUAL(find(t, "m::I")->repo_id, "IDL:omg.org/m/I:2.3");
  CU_ASSERT_STRING_EQUAL(find(t, "m::Tree")->repo_id,
                         "IDL:omg.org/m/Tree:1.0");
  /* fixed and long double */
  n = find(t, "m::F");
  CU_ASSERT_EQUAL(n->type->kind, IDL_T_FIXED);
  CU_ASSERT_EQUAL(n->type->bound, 8);
  CU_ASSERT_EQUAL(n->type->scale, 3);
  CU_ASSERT_EQUAL(find(t, "m::LD")->type->kind, IDL_T_LDOUBLE);
  idl_tree_free(t);
}

static void
test_idl4_literals(void)
{
  idl_tree *t = parse_ok(
      "const long a = -2147483648;\n"
      "const long long b = -9223372036854775808;\n"
      "const unsigned long c = ~0;\n"
      "const long d = ~ -1;\n"
      "const unsigned long long e = 0xFFFFFFFFFFFFFFFFull;\n"
      "const long f = 017L;\n"
      "const fixed g = -012.50d;\n"
      "const wchar h = L'\\u00e9';\n"
      "const long double i = 2.5;\n");
  CU_ASSERT_EQUAL(find(t, "a")->value.i, INT32_MIN);
  CU_ASSERT_EQUAL(find(t, "b")->value.i, INT64_MIN);
  CU_ASSERT_EQUAL(find(t, "c")->value.u, UINT32_MAX);
  CU_ASSERT_EQUAL(find(t, "d")->value.i, 0);
  CU_ASSERT_EQUAL(find(t, "e")->value.u, UINT64_MAX);
  CU_ASSERT_EQUAL(find(t, "f")->value.i, 15);
  CU_ASSERT_EQUAL(find(t, "g")->value.kind, IDL_V_FIXED);
  CU_ASSERT_STRING_EQUAL(find(t, "g")->value.s, "-12.5");
  CU_ASSERT_EQUAL(find(t, "h")->value.u, 0xe9);
  CU_ASSERT_EQUAL(find(t, "i")->value.f, 2.5);
  idl_tree_free(t);
}

/* --- malformed IDL: exact diagnostics --------------------------------------------- */

typedef struct bad_case {
  const char *name;
  const char *idl;
  int line, col;
  const char *message; /* the first error */
  size_t nerrors;      /* errors in total */
} bad_case;

static const bad_case bad_cases[] = {
  {"undefined_type",
    "struct S {\n"
    "  Foo x;\n"
    "};\n",
    2, 3, "undefined type 'Foo'", 1},
  {"redefinition",
    "struct S { long a; };\n"
    "struct S { long b; };\n",
    2, 8, "redefinition of 'S'", 1},
  {"clash_base_derived",
    "interface A { void f(); };\n"
    "interface B : A { void f(); };\n",
    2, 24, "operation 'f' clashes with operation 'f' inherited from '::A'", 1},
  {"clash_two_bases",
    "interface A { void f(); };\n"
    "interface B { long f(); };\n"
    "interface C : A, B {};\n",
    3, 11, "interface 'C' inherits operation 'f' from both '::A' and '::B'", 1},
  {"clash_attribute",
    "interface A { attribute long size; };\n"
    "interface B : A { long size(); };\n",
    2, 24, "operation 'size' clashes with attribute 'size' inherited from '::A'", 1},
  {"oneway_out",
    "interface I {\n"
    "  oneway void f(in long a, out long x);\n"
    "};\n",
    2, 37, "oneway operation 'f' cannot have out parameter 'x'", 1},
  {"oneway_inout",
    "interface I { oneway void f(inout long x); };\n",
    1, 40, "oneway operation 'f' cannot have inout parameter 'x'", 1},
  {"oneway_nonvoid",
    "interface I { oneway long f(); };\n",
    1, 22, "oneway operation 'f' must return void", 1},
  {"oneway_raises",
    "exception E {};\n"
    "interface I { oneway void f() raises (E); };\n",
    2, 39, "oneway operation 'f' cannot raise exceptions", 1},
  {"label_wrong_type",
    "union U switch (long) {\n"
    "  case 'a': long x;\n"
    "};\n",
    2, 8, "character value is not valid for type 'long'", 1},
  {"label_other_enum",
    "enum E { A, B };\n"
    "enum F { C };\n"
    "union U switch (E) { case C: long x; };\n",
    3, 27, "enumerator 'C' is not valid for type 'E'", 1},
  {"label_out_of_range",
    "union U switch (octet) { case 300: long x; };\n",
    1, 31, "value 300 is out of range for type 'octet'", 1},
  {"duplicate_label",
    "union U switch (long) {\n"
    "  case 1: long x;\n"
    "  case 2: case 1: short y;\n"
    "};\n",
    3, 16, "duplicate case label 1 in union 'U'", 1},
  {"two_defaults",
    "union U switch (long) { default: long x; default: short y; };\n",
    1, 42, "union 'U' has more than one default case", 1},
  {"const_octet_overflow",
    "const octet x = 256;\n",
    1, 17, "value 256 is out of range for type 'octet'", 1},
  {"const_short_overflow",
    "const short s = 40000;\n",
    1, 17, "value 40000 is out of range for type 'short'", 1},
  {"const_negative_unsigned",
    "const unsigned long u = -1;\n",
    1, 25, "value -1 is out of range for type 'unsigned long'", 1},
  {"const_int64_overflow",
    "const long long big = 9223372036854775807 + 1;\n",
    1, 43, "value 9223372036854775808 is out of range for type 'long long'", 1},
  {"division_by_zero",
    "const long d = 10 / (5 - 5);\n",
    1, 19, "division by zero in constant expression", 1},
  {"modulo_by_zero",
    "const long d = 10 % 0;\n",
    1, 19, "division by zero in constant expression", 1},
  {"shift_count",
    "const long x = 1 << 64;\n",
    1, 18, "shift count out of range in constant expression", 1},
  {"recursive_struct",
    "struct Node {\n"
    "  long value;\n"
    "  Node next;\n"
    "};\n",
    3, 3, "struct 'Node' contains itself; recursion needs a sequence", 1},
  {"recursive_nested",
    "struct A {\n"
    "  struct B { A a; } member_b;\n"
    "};\n",
    2, 14, "struct 'A' contains itself; recursion needs a sequence", 1},
  {"include_not_found",
    "// header\n"
    "  #include \"nothere.idl\"\n",
    2, 3, "include file 'nothere.idl' not found", 1},
  {"include_angle_not_found",
    "#include <Echo.idl>\n",
    1, 1, "include file 'Echo.idl' not found", 1},
  {"unterminated_comment",
    "struct S { long a; };\n"
    "/* never\n"
    " closed\n",
    2, 1, "unterminated comment", 1},
  {"unterminated_string",
    "const string s = \"abc;\n",
    1, 18, "unterminated string literal", 2},
  {"unterminated_char",
    "const char c = 'a;\n",
    1, 16, "unterminated character literal", 2},
  {"syntax_missing_semicolon",
    "struct S { long a; } x\n",
    1, 22, "syntax error, unexpected identifier 'x', expecting ';'", 1},
  {"syntax_missing_name",
    "struct { long x; };\n",
    1, 8, "syntax error, unexpected '{', expecting identifier", 2},
  {"syntax_keyword_as_name",
    "struct module { long x; };\n",
    1, 8, "syntax error, unexpected 'module', expecting identifier", 2},
  {"syntax_eof",
    "module m {\n"
    "  struct S { long a; };\n",
    2, 24, "syntax error, unexpected end of file", 1},
  {"invalid_character",
    "struct S { long $a; };\n",
    1, 17, "invalid character '$'", 1},
  {"component_unsupported",
    "component C { };\n",
    1, 1, "'component' is not supported", 1},
  {"home_unsupported",
    "module m {\n"
    "  home H manages C { factory make(); };\n"
    "  struct S { long a; };\n"
    "};\n",
    2, 3, "'home' is not supported", 1},
  {"case_collision",
    "struct Point { long x; };\n"
    "struct point { long y; };\n",
    2, 8, "'point' differs only in case from 'Point'", 1},
  {"case_collision_use",
    "struct Point { long x; };\n"
    "typedef point P;\n",
    2, 9, "'point' differs only in case from 'Point'", 1},
  {"c_name_collision",
    "module a_b { const long c = 1; };\n"
    "module a { const long b_c = 2; };\n",
    2, 23, "C name 'a_b_c' of '::a::b_c' collides with '::a_b::c'", 1},
  {"raises_not_exception",
    "interface I { void f() raises (I); };\n",
    1, 32, "'I' in raises is not an exception", 1},
  {"raises_undefined",
    "interface I { void f() raises (Oops); };\n",
    1, 32, "undefined exception 'Oops'", 1},
  {"base_not_interface",
    "typedef long T;\n"
    "interface I : T {};\n",
    2, 15, "'T' is not an interface", 1},
  {"base_undefined",
    "interface I : Missing {};\n",
    1, 15, "undefined interface 'Missing'", 1},
  {"base_forward_only",
    "interface A;\n"
    "interface B : A {};\n"
    "interface A {};\n",
    2, 15, "interface 'A' is only forward-declared and cannot be a base", 1},
  {"const_string_to_long",
    "const long x = \"s\";\n",
    1, 16, "string value is not valid for type 'long'", 1},
  {"const_float_to_long",
    "const long x = 1.5;\n",
    1, 16, "floating-point value is not valid for type 'long'", 1},
  {"const_mixed",
    "const long x = 1 + 2.0;\n",
    1, 18, "floating-point operand in an integer expression", 1},
  {"const_bool_arith",
    "const boolean b = TRUE + 1;\n",
    1, 24, "operator '+' needs numeric operands", 1},
  {"const_string_bound",
    "const string<2> s = \"abc\";\n",
    1, 21, "string of length 3 exceeds the bound 2 of 'string'", 1},
  {"const_float_range",
    "const float f = 1e40;\n",
    1, 17, "value 1e+40 is out of range for type 'float'", 1},
  {"const_struct_type",
    "struct S { long a; };\n"
    "const S k = 1;\n",
    2, 7, "invalid constant type 'S'", 1},
  {"const_use_before",
    "const long c = x;\n"
    "const long x = 1;\n",
    1, 16, "undefined constant 'x'", 1},
  {"const_not_constant",
    "struct S { long a; };\n"
    "const long x = S;\n",
    2, 16, "'S' is not a constant", 1},
  {"duplicate_member",
    "struct S { long a; long a; };\n",
    1, 25, "redefinition of 'a'", 1},
  {"duplicate_enumerator",
    "enum E { A, B, A };\n",
    1, 16, "redefinition of 'A'", 1},
  {"duplicate_param",
    "interface I { void f(in long a, in long a); };\n",
    1, 41, "redefinition of 'a'", 1},
  {"duplicate_field_id",
    "struct S { @id(3) long a; @id(3) long b; };\n",
    1, 39, "field id 3 of 'b' is already used by 'a'", 1},
  {"bad_discriminator",
    "union U switch (string) { case 1: long a; };\n",
    1, 17, "invalid union discriminator type 'string'", 1},
  {"sequence_bound_zero",
    "typedef sequence<long, 0> S0;\n",
    1, 24, "sequence bound must be positive", 1},
  {"array_dim_zero",
    "typedef long A[0];\n",
    1, 16, "array dimension must be positive", 1},
  {"module_reopen_redefinition",
    "module m { struct S { long a; }; };\n"
    "module m { struct S { long b; }; };\n",
    2, 19, "redefinition of 'S'", 1},
  {"exception_as_type",
    "exception E {};\n"
    "struct S { E e; };\n",
    2, 12, "exception 'E' cannot be used as a type", 1},
  {"not_a_type",
    "const long K = 1;\n"
    "struct S { K k; };\n",
    2, 12, "'K' is not a type", 1},
  {"char_literal_two_chars",
    "const char c = 'ab';\n",
    1, 16, "character literal 'ab' holds more than one character", 1},
  {"unterminated_ifndef",
    "#ifndef X\n"
    "struct T { long x; };\n",
    1, 1, "unterminated conditional directive", 1},
  {"endif_without_if",
    "#endif\n",
    1, 1, "#endif without #if", 1},
  {"unknown_directive",
    "#bogus\n",
    1, 1, "unknown preprocessor directive '#bogus'", 1},
  {"error_directive",
    "#error stop here\n",
    1, 1, "#error stop here", 1},
  {"line_renumbers",
    "#line 40 \"other.idl\"\nstruct S { Nope x; };\n",
    40, 12, "undefined type 'Nope'", 1},
  {"line_bad",
    "#line x\n",
    1, 1, "#line expects a line number from 1 to 1000000000", 1},
  {"if_division_by_zero",
    "#if 1 / (2 - 2)\n#endif\n",
    1, 1, "division by zero in #if expression", 1},
  {"if_bad_expression",
    "#if 1 +\n#endif\n",
    1, 1, "unsupported #if expression '1 +'", 1},
  {"if_missing_colon",
    "#if 1 ? 2\n#endif\n",
    1, 1, "unsupported #if expression '1 ? 2'", 1},
  /* IDL4 / CORBA 3 constructs (issue 15) */
  {"bitmask_too_many_bits",
    "@bit_bound(4) bitmask M { A, B, C, D, E };\n",
    1, 39, "bitmask 'M' has more than 4 bits: 'E' would be bit 4", 1},
  {"bitmask_position_out",
    "bitmask M { A, @position(32) B };\n",
    1, 30, "bitmask 'M' has more than 32 bits: 'B' would be bit 32", 1},
  {"bitmask_bit_bound_65",
    "@bit_bound(65) bitmask M { A };\n",
    1, 1, "bit_bound 65 of bitmask 'M' is more than 64", 1},
  {"bitmask_duplicate_bit",
    "bitmask M { A, @position(0) B };\n",
    1, 29, "bit 0 of 'B' is already used in bitmask 'M'", 1},
  {"bitset_too_wide",
    "bitset B { bitfield<40> a; bitfield<30> b; };\n",
    1, 8, "bitset 'B' has 70 bits; at most 64 are supported", 1},
  {"bitfield_width_65",
    "bitset B { bitfield<65> a; };\n",
    1, 21, "bitfield width 65 is more than 64 bits", 1},
  {"bitfield_type_too_small",
    "bitset B { bitfield<9, octet> a; };\n",
    1, 31, "bitfield 'a' of 9 bits does not fit in 'octet'", 1},
  {"bitfield_bad_type",
    "bitset B { bitfield<2, float> a; };\n",
    1, 24, "bitfield type must be boolean or an integer type, not 'float'", 1},
  {"bitfield_zero",
    "bitset B { bitfield<0> a; };\n",
    1, 21, "bitfield width must be positive", 1},
  {"map_key_struct",
    "struct K { long a; };\n"
    "struct S { map<K, long> m; };\n",
    2, 16, "map key type 'K' must be an integer, boolean, character, enum or string type", 1},
  {"map_key_double",
    "typedef map<double, string> D;\n",
    1, 13, "map key type 'double' must be an integer, boolean, character, enum or string type", 1},
  {"map_key_sequence",
    "struct S { map<sequence<long>, long> m; };\n",
    1, 16, "map key type 'sequence' must be an integer, boolean, character, enum or string type", 1},
  {"map_bound_zero",
    "typedef map<string, long, 0> D;\n",
    1, 27, "map bound must be positive", 1},
  {"fixed_const_digits",
    "typedef fixed<5,2> Money;\n"
    "const Money m = 1234.5d;\n",
    2, 17, "fixed-point value 1234.5 does not fit in fixed<5,2>", 1},
  {"fixed_const_scale",
    "const fixed<5,1> f = 1.25d;\n",
    1, 22, "fixed-point value 1.25 does not fit in fixed<5,1>", 1},
  {"fixed_digits_32",
    "typedef fixed<32,2> F;\n",
    1, 15, "fixed<32,2> has more than 31 digits", 1},
  {"fixed_scale_over",
    "typedef fixed<3,4> F;\n",
    1, 17, "fixed<3,4>: the scale is larger than the number of digits", 1},
  {"fixed_const_long",
    "const fixed f = 12345678901234567890123456789012d;\n",
    1, 17, "fixed-point value 12345678901234567890123456789012 has more than 31 digits", 1},
  {"fixed_to_long",
    "const long x = 1.5d;\n",
    1, 16, "fixed-point value is not valid for type 'long'", 1},
  {"truncatable_no_base",
    "valuetype V : truncatable W { public long x; };\n",
    1, 27, "undefined valuetype 'W'", 1},
  {"truncatable_abstract_base",
    "abstract valuetype A { };\n"
    "valuetype V : truncatable A { public long x; };\n",
    2, 1, "truncatable valuetype 'V' needs a concrete base", 1},
  {"abstract_value_state",
    "abstract valuetype A { public long x; };\n",
    1, 36, "abstract valuetype 'A' cannot have state member 'x'", 1},
  {"boxed_value_of_value",
    "valuetype V { public long x; };\n"
    "valuetype B V;\n",
    2, 13, "boxed valuetype 'B' cannot box the valuetype 'V'", 1},
  {"value_base_not_value",
    "struct S { long a; };\n"
    "valuetype V : S { public long x; };\n",
    2, 15, "'S' is not a valuetype", 1},
  {"value_second_base_concrete",
    "valuetype A { public long a; };\n"
    "valuetype B { public long b; };\n"
    "valuetype V : A, B { };\n",
    3, 18, "only the first base of valuetype 'V' may be concrete", 1},
  {"boxed_custom",
    "custom valuetype V long;\n",
    1, 1, "a boxed valuetype cannot be abstract, custom or an eventtype", 1},
  {"struct_base_not_struct",
    "union U switch (long) { case 1: long a; };\n"
    "struct S : U { long b; };\n",
    2, 12, "'U' is not a struct", 1},
  {"struct_base_member_clash",
    "struct A { long x; };\n"
    "struct B : A { string x; };\n",
    2, 23, "redefinition of 'x'", 1},
  {"struct_base_forward_only",
    "struct A;\n"
    "struct B : A { long y; };\n",
    2, 12, "'A' is only forward-declared and cannot be a base", 1},
  {"forward_struct_as_member",
    "struct T;\n"
    "struct U { T t; };\n"
    "struct T { long a; };\n",
    2, 12, "struct 'T' is not defined yet; before its definition it can only be used in a sequence", 1},
  {"forward_struct_never_defined",
    "struct T;\n"
    "typedef sequence<T> Ts;\n",
    2, 18, "struct 'T' is forward-declared but never defined", 1},
  {"forward_kind_mismatch",
    "struct T;\n"
    "union T switch (long) { case 1: long a; };\n",
    2, 7, "'T' was forward-declared as a struct", 1},
  {"autoid_bad",
    "@autoid(RANDOM) struct S { long a; };\n",
    1, 1, "@autoid takes SEQUENTIAL or HASH", 1},
  {"sequential_after_id_clash",
    "struct S { @id(2) long a; long b; @id(3) long c; };\n",
    1, 47, "field id 3 of 'c' is already used by 'b'", 1},
  {"local_base_of_remote",
    "local interface L { };\n"
    "interface R : L { };\n",
    2, 11, "unconstrained interface 'R' cannot inherit from local interface 'L'", 1},
  {"abstract_base_concrete",
    "interface C { };\n"
    "abstract interface A : C { };\n",
    2, 20, "abstract interface 'A' can only inherit from abstract interfaces, not 'C'", 1},
  {"getraises_not_exception",
    "struct S { long a; };\n"
    "interface I { attribute long x getraises (S); };\n",
    2, 43, "'S' in raises is not an exception", 1},
  {"setraises_undefined",
    "interface I { attribute long x setraises (Nope); };\n",
    1, 43, "undefined exception 'Nope'", 1},
  {"typeid_undefined",
    "typeid Nope \"IDL:x/Nope:1.0\";\n",
    1, 1, "undefined name 'Nope'", 1},
  {"typeid_twice",
    "struct S { long a; };\n"
    "typeid S \"IDL:a/S:1.0\";\n"
    "typeid S \"IDL:b/S:1.0\";\n",
    3, 1, "repository id of 'S' is already 'IDL:a/S:1.0'", 1},
  {"typeid_no_format",
    "struct S { long a; };\n"
    "typeid S \"S\";\n",
    2, 1, "repository id 'S' has no format prefix (such as 'IDL:')", 1},
  {"typeprefix_on_const",
    "const long K = 1;\n"
    "typeprefix K \"x.org\";\n",
    2, 1, "typeprefix needs a module, interface or valuetype, not constant 'K'", 1},
  {"pragma_id_bad",
    "#pragma ID S\n",
    1, 1, "#pragma ID expects a name and a string literal", 1},
  {"pragma_version_bad",
    "struct S { long a; };\n"
    "#pragma version S one\n",
    2, 1, "#pragma version expects a name and major.minor", 1},
  {"pragma_prefix_bad",
    "#pragma prefix omg.org\n",
    1, 1, "#pragma prefix expects a string literal", 1},
  {"native_in_struct",
    "native H;\n"
    "struct S { H h; };\n",
    2, 12, "native type 'H' can only be used in local interfaces", 1},
  {"ccm_component",
    "component C { };\n",
    1, 1, "'component' is not supported", 1},
  {"import_unsupported",
    "import ::CORBA;\n",
    1, 1, "'import' is not supported", 1},
  {"annotation_id_zero",
    "struct S { @id(0) long a; };\n",
    1, 16, "@id must be positive", 1},
  {"ldouble_const_string",
    "const long double d = \"x\";\n",
    1, 23, "string value is not valid for type 'long double'", 1},
};

static void
test_malformed(void)
{
  size_t ncases = sizeof bad_cases / sizeof bad_cases[0];
  CU_ASSERT_TRUE(ncases >= 100);
  for (size_t i = 0; i < ncases; i++) {
    const bad_case *c = &bad_cases[i];
    idl_tree *t = (idl_tree *)&t; /* must be overwritten with NULL */
    const cap *e;
    int errors;
    bool ok;

    ncaps = 0;
    diag_set_sink(capture, NULL);
    errors = idl_parse_string("t.idl", c->idl, &opts, &t);
    diag_set_sink(NULL, NULL);
    e = first_sev(DIAG_ERROR);
    ok = errors == (int)c->nerrors && count_sev(DIAG_ERROR) == c->nerrors &&
         t == NULL && e != NULL && strcmp(e->file, "t.idl") == 0 &&
         e->line == c->line && e->col == c->col &&
         strcmp(e->msg, c->message) == 0;
    if (!ok) {
      fprintf(stderr, "case %s: expected %zu error(s), first t.idl:%d:%d: %s"
                      "; got %d:\n", c->name, c->nerrors, c->line, c->col,
              c->message, errors);
      dump_caps(c->name);
    }
    CU_ASSERT_TRUE(ok);
    if (t != NULL && t != (idl_tree *)&t)
      idl_tree_free(t);
  }
}

/* Several errors in one run: recovery at ';' keeps the parser going. */
static void
test_error_recovery(void)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl",
                            "struct A { long a b; };\n"
                            "interface I {\n"
                            "  void f(in long);\n"
                            "  long ok();\n"
                            "};\n"
                            "const long = 3;\n"
                            "struct Fine { long x; };\n",
                            &opts, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 3);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_EQUAL_FATAL(count_sev(DIAG_ERROR), 3);
  CU_ASSERT_EQUAL(caps[0].line, 1);
  CU_ASSERT_EQUAL(caps[0].col, 19);
  CU_ASSERT_STRING_EQUAL(caps[0].msg, "syntax error, unexpected identifier "
                                      "'b', expecting ';' or ',' or '['");
  CU_ASSERT_EQUAL(caps[1].line, 3);
  CU_ASSERT_EQUAL(caps[1].col, 17);
  CU_ASSERT_STRING_EQUAL(caps[1].msg,
                         "syntax error, unexpected ')', expecting identifier "
                         "or 'long' or 'double'");
  CU_ASSERT_EQUAL(caps[2].line, 6);
  CU_ASSERT_EQUAL(caps[2].col, 12);
  CU_ASSERT_STRING_EQUAL(caps[2].msg,
                         "syntax error, unexpected '=', expecting identifier "
                         "or 'long' or 'double'");
  /* semantic errors are all reported too */
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl",
                            "struct S { Missing a; };\n"
                            "const octet o = 1000;\n"
                            "interface I { oneway long f(out long x); };\n",
                            &opts, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 4);
  CU_ASSERT_EQUAL(count_sev(DIAG_ERROR), 4);
}

/* The default output: location, severity, message, source line, caret. */
static void
test_diag_format(void)
{
  char path[] = "/tmp/plumb-diag-XXXXXX";
  char buf[1024];
  int fd = mkstemp(path), saved;
  idl_tree *t = NULL;
  FILE *f;
  size_t n;

  CU_ASSERT_TRUE_FATAL(fd >= 0);
  fflush(stderr);
  saved = dup(2);
  dup2(fd, 2);
  idl_parse_string("demo.idl", "module m {\n\tstruct S { Nope x; };\n};\n",
                   &opts, &t);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  f = fopen(path, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  unlink(path);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_STRING_EQUAL(buf, "demo.idl:2:13: error: undefined type 'Nope'\n"
                              "\tstruct S { Nope x; };\n"
                              "\t           ^\n");
}

/* --- real-world style files ------------------------------------------------------------ */

static idl_tree *
parse_file_ok(const char *path, size_t *nwarnings)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_file(path, &opts, &t);
  diag_set_sink(NULL, NULL);
  if (errors != 0)
    dump_caps(path);
  CU_ASSERT_EQUAL(errors, 0);
  CU_ASSERT_EQUAL(count_sev(DIAG_ERROR), 0);
  CU_ASSERT_PTR_NOT_NULL(t);
  if (nwarnings != NULL)
    *nwarnings = count_sev(DIAG_WARNING);
  return t;
}

static void
test_real_world_files(void)
{
  static const char *const files[] = {
      "CosNaming.idl", "CosEvent.idl", "Bank.idl", "Echo.idl", "services.idl",
      "world/CosNotifyLike.idl", "world/TaoLiterals.idl",
      "world/ValueTypes.idl", "world/XTypes.idl", "world/Pose.idl",
      "world/pkg/msg/Header.idl", "world/pkg/msg/Time.idl"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[512];
    size_t warnings = 1;
    snprintf(path, sizeof path, "%s/%s", IDL_DIR, files[i]);
    idl_tree_free(parse_file_ok(path, &warnings));
    CU_ASSERT_EQUAL(warnings, 0);
  }
}

static void
test_cosnaming_tree(void)
{
  idl_tree *t = parse_file_ok(IDL_DIR "/CosNaming.idl", NULL);
  idl_node *nc = find(t, "CosNaming::NamingContext"), *op, *ex;
  idl_node *fwd = find(t, "CosNaming::BindingIterator");
  CU_ASSERT_PTR_NOT_NULL_FATAL(nc);
  CU_ASSERT_EQUAL(t->nincludes, 1);
  CU_ASSERT_STRING_EQUAL(t->includes[0], "orb_types.idl");
  CU_ASSERT_TRUE(find(t, "Orb")->flags & IDL_F_INCLUDED);
  CU_ASSERT_FALSE(find(t, "CosNaming")->flags & IDL_F_INCLUDED);
  op = child(nc, "resolve");
  CU_ASSERT_EQUAL(op->type->kind, IDL_T_OBJECT);
  CU_ASSERT_EQUAL(op->nraises, 3);
  CU_ASSERT_PTR_EQUAL(op->raises[0], child(nc, "NotFound"));
  op = child(nc, "list");
  CU_ASSERT_PTR_EQUAL(child(op, "bi")->type->ref, fwd);
  CU_ASSERT_EQUAL(fwd->kind, IDL_FORWARD);
  CU_ASSERT_EQUAL(fwd->definition->kind, IDL_INTERFACE);
  ex = child(nc, "CannotProceed");
  CU_ASSERT_EQUAL(ex->kind, IDL_EXCEPTION);
  CU_ASSERT_PTR_EQUAL(child(ex, "cxt")->type->ref, nc);
  CU_ASSERT_EQUAL(child(ex, "rest_of_name")->field_id, 2);
  CU_ASSERT_PTR_EQUAL(find(t, "CosNaming::NamingContextExt")->bases[0], nc);
  idl_tree_free(t);
}

static void
test_includes(void)
{
  idl_tree *t = parse_file_ok(IDL_DIR "/services.idl", NULL);
  static const char *const expect[] = {"CosNaming.idl", "CosEvent.idl",
                                       "Bank.idl", "Echo.idl", "Bank.idl"};
  idl_node *dir;
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  CU_ASSERT_STRING_EQUAL(t->main_file, IDL_DIR "/services.idl");
  CU_ASSERT_EQUAL_FATAL(t->nincludes, 5);
  for (size_t i = 0; i < 5; i++)
    CU_ASSERT_STRING_EQUAL(t->includes[i], expect[i]);
  CU_ASSERT_TRUE(find(t, "Bank")->flags & IDL_F_INCLUDED);
  CU_ASSERT_TRUE(find(t, "Bank::Account")->flags & IDL_F_INCLUDED);
  CU_ASSERT_STRING_EQUAL(find(t, "Bank")->loc.file, IDL_DIR "/Bank.idl");
  CU_ASSERT_FALSE(find(t, "Services")->flags & IDL_F_INCLUDED);
  dir = find(t, "Services::Directory");
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  CU_ASSERT_PTR_EQUAL(dir->bases[0], find(t, "CosNaming::NamingContextExt"));
  /* raises names found through the inherited NamingContext scope */
  CU_ASSERT_PTR_EQUAL(child(dir, "register_bank")->raises[0],
                      find(t, "CosNaming::NamingContext::AlreadyBound"));
  CU_ASSERT_PTR_EQUAL(find(t, "Services::Registration::fee")->type->ref,
                      find(t, "Bank::Money"));
  idl_tree_free(t);
}

/* Quoted includes search the including file's directory first. */
static void
test_include_search_order(void)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string(IDL_DIR "/virtual.idl",
                            "#include \"Echo.idl\"\n"
                            "#include <orb_types.idl>\n"
                            "struct Uses { Orb::TimeT at; Demo::Echo e; };\n",
                            NULL, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 1); /* <...> is not searched in the file's dir */
  CU_ASSERT_EQUAL_FATAL(count_sev(DIAG_ERROR), 1);
  CU_ASSERT_EQUAL(first_sev(DIAG_ERROR)->line, 2);
  CU_ASSERT_STRING_EQUAL(first_sev(DIAG_ERROR)->msg,
                         "include file 'orb_types.idl' not found");
  idl_tree_free(t);
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string(IDL_DIR "/virtual.idl",
                            "#include \"Echo.idl\"\n"
                            "#include <orb_types.idl>\n"
                            "struct Uses { Orb::TimeT at; Demo::Echo e; };\n",
                            &opts, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 0);
  CU_ASSERT_PTR_NOT_NULL(find(t, "Uses"));
  CU_ASSERT_EQUAL(find(t, "Uses::at")->type->ref->kind, IDL_TYPEDEF);
  idl_tree_free(t);
}

static void
test_include_error_location(void)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string(IDL_DIR "/virtual.idl",
                            "#include \"include/bad_include.idl\"\n", &opts,
                            &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 1);
  CU_ASSERT_EQUAL_FATAL(ncaps >= 1, 1);
  CU_ASSERT_STRING_EQUAL(caps[0].file, IDL_DIR "/include/bad_include.idl");
  CU_ASSERT_EQUAL(caps[0].line, 4);
  CU_ASSERT_EQUAL(caps[0].col, 3);
  CU_ASSERT_STRING_EQUAL(caps[0].msg, "undefined type 'Unknown'");
}

static void
test_include_recursion(void)
{
  idl_tree *t = NULL;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_string("t.idl", "#include <self_include.idl>\n", &opts,
                            &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 1);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_EQUAL_FATAL(ncaps, 1);
  CU_ASSERT_STRING_EQUAL(caps[0].file, IDL_DIR "/include/self_include.idl");
  CU_ASSERT_EQUAL(caps[0].line, 3);
  CU_ASSERT_EQUAL(caps[0].col, 1);
  CU_ASSERT_STRING_EQUAL(caps[0].msg,
                         "#include of 'self_include.idl' re-enters a file "
                         "that is still being read (an include cycle without "
                         "an include guard)");
}

static void
test_big_file(void)
{
  const char *path = getenv("PLUMB_BIG_IDL");
  idl_tree *t;
  size_t modules = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(path);
  t = parse_file_ok(path, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  for (idl_node *m = t->root->children; m != NULL; m = m->next)
    if (m->kind == IDL_MODULE)
      modules++;
  CU_ASSERT_TRUE(modules > 300);
  CU_ASSERT_PTR_EQUAL(find(t, "M300::Service")->bases[1],
                      find(t, "M299::Base"));
  idl_tree_free(t);
}

static void
test_missing_main_file(void)
{
  idl_tree *t = (idl_tree *)&t;
  int errors;
  ncaps = 0;
  diag_set_sink(capture, NULL);
  errors = idl_parse_file(IDL_DIR "/no-such-file.idl", &opts, &t);
  diag_set_sink(NULL, NULL);
  CU_ASSERT_EQUAL(errors, 1);
  CU_ASSERT_PTR_NULL(t);
  CU_ASSERT_EQUAL_FATAL(ncaps, 1);
  CU_ASSERT_STRING_EQUAL(caps[0].msg, "cannot open '" IDL_DIR
                                      "/no-such-file.idl': No such file or "
                                      "directory");
}

static const ptest_case tree_cases[] = {
  {"struct_members", test_struct_members},
  {"typedefs_sequences_arrays", test_typedefs_sequences_arrays},
  {"const_values", test_const_values},
  {"enums_and_scoped_names", test_enums_and_scoped_names},
  {"union", test_union},
  {"interfaces", test_interfaces},
  {"forward_reference_type", test_forward_reference_type},
  {"inherited_scope_lookup", test_inherited_scope_lookup},
  {"reopened_modules", test_reopened_modules},
  {"recursion_through_sequence", test_recursion_through_sequence},
  {"nested_struct_declarations", test_nested_struct_declarations},
  {"annotations", test_annotations},
  {"escaped_identifier_and_idl4_types", test_escaped_identifier_and_idl4_types},
  {"preprocessor_conditionals", test_preprocessor_conditionals},
  {"preprocessor_expressions", test_preprocessor_expressions},
  {"command_line_macros", test_command_line_macros},
  {"pragma_note", test_pragma_note},
  {"idl4_tree", test_idl4_tree},
  {"idl4_literals", test_idl4_literals},
  {NULL, NULL},
};

static const ptest_case diag_cases[] = {
  {"malformed", test_malformed},
  {"error_recovery", test_error_recovery},
  {"diag_format", test_diag_format},
  {"missing_main_file", test_missing_main_file},
  {NULL, NULL},
};

static const ptest_case file_cases[] = {
  {"real_world_files", test_real_world_files},
  {"cosnaming_tree", test_cosnaming_tree},
  {"includes", test_includes},
  {"include_search_order", test_include_search_order},
  {"include_error_location", test_include_error_location},
  {"include_recursion", test_include_recursion},
  {"big_file", test_big_file},
  {NULL, NULL},
};

int
main(int argc, char **argv)
{
  static const ptest_suite suites[] = {
    {"front_tree", tree_cases, NULL, NULL},
    {"front_diagnostics", diag_cases, NULL, NULL},
    {"front_files", file_cases, NULL, NULL},
    {NULL, NULL, NULL, NULL},
  };
  return ptest_run(suites, argc, argv);
}
