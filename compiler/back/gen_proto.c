/* gen_proto.c - the .proto back end (plumbc --proto): writes BASE.proto, a
 * proto3 file describing exactly the messages whose protobuf-c descriptors
 * gen_c.c emits (same names, same field numbers), so any protobuf toolchain
 * can read plumb's wire bodies.  If object references are used it also
 * writes plumb.proto (package plumb, message ObjRef).
 *
 * What a non-C peer needs beyond the messages travels as the custom options
 * of idl/plumb/options.proto (installed with plumb): repository ids of
 * structs, unions, exceptions and enums; per service the interface's
 * repository id, hash and bases; per rpc its operation index, oneway and
 * raises.  A oneway rpc declares no reply message and returns
 * google.protobuf.Empty.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "back.h"

static gout P;
static bool uses_any, uses_objref, uses_oneway;
/* identical request/reply messages are declared once (as in gen_c.c) */
static gshare req_share, rep_share;

#define p(...) gout_printf(&P, __VA_ARGS__)

static void
scan_uses(const gshape *s)
{
  if (s->base == B_ANY)
    uses_any = true;
  if (s->base == B_OBJREF)
    uses_objref = true;
  if (s->base == B_WRAP) {
    gmsg m;
    if (msg_of_wrap(s, &m) == 0)
      scan_uses(&m.f[0].sh);
  }
}

static void
p_field(const gfield *f, const char *ind)
{
  const char *label = "";
  if (f->sh.rep != REP_NONE)
    label = "repeated ";
  else if (f->optional)
    label = "optional ";
  p("%s%s%s %s = %u;\n", ind, label, base_proto_type(&f->sh), f->pname,
    f->id);
}

static void
p_msg(const gmsg *m)
{
  p("\nmessage %s {\n", m->pshort);
  if (m->node != NULL &&
      (m->node->kind == IDL_STRUCT || m->node->kind == IDL_UNION ||
       m->node->kind == IDL_EXCEPTION))
    p("  option (plumb.type_id) = %s;\n", c_string_lit(repo_id(m->node)));
  if (!m->is_union) {
    for (size_t i = 0; i < m->nf; i++)
      p_field(&m->f[i], "  ");
  } else {
    bool oneof = false;
    p_field(&m->f[0], "  ");
    for (size_t i = 1; i < m->nf; i++)
      oneof |= m->f[i].oneof;
    if (oneof) {
      p("  oneof _u {\n");
      for (size_t i = 1; i < m->nf; i++)
        if (m->f[i].oneof)
          p_field(&m->f[i], "    ");
      p("  }\n");
    }
    for (size_t i = 1; i < m->nf; i++)
      if (!m->f[i].oneof)
        p_field(&m->f[i], "  ");
  }
  p("}\n");
}

static void
p_enum(const idl_node *n)
{
  p("\nenum %s {\n", proto_local(n));
  p("  option (plumb.enum_type_id) = %s;\n", c_string_lit(repo_id(n)));
  for (const idl_node *e = n->children; e != NULL; e = e->next)
    if (e->kind == IDL_ENUMERATOR)
      p("  %s = %" PRIu64 ";\n", proto_enumerator(e), e->value.u);
  p("}\n");
}

static void
p_interface(const idl_node *iface)
{
  size_t n;
  gop *ops = iface_own_ops(iface, &n);
  const char **rqn = galloc(sizeof *rqn * (n ? n : 1));
  const char **rpn = galloc(sizeof *rpn * (n ? n : 1));
  for (size_t i = 0; i < n; i++) {
    gmsg rq, rp;
    const char *same;
    for (size_t k = 0; k < ops[i].np; k++)
      for_owned_wraps(&ops[i].p[k].sh, p_msg);
    if (ops[i].has_ret)
      for_owned_wraps(&ops[i].ret.sh, p_msg);
    msg_of_request(&ops[i], &rq);
    rqn[i] = gstr(".%s", rq.pfull);
    if ((same = gshare_find_or_add(&req_share, msg_key(&rq), rqn[i])))
      rqn[i] = same;
    else
      p_msg(&rq);
    if (!ops[i].oneway) {
      msg_of_reply(&ops[i], &rp);
      rpn[i] = gstr(".%s", rp.pfull);
      if ((same = gshare_find_or_add(&rep_share, msg_key(&rp), rpn[i])))
        rpn[i] = same;
      else
        p_msg(&rp);
    }
  }
  /* Only the operations declared here: an inherited one belongs to its
   * declaring interface's service (re-listing it would grow the output
   * with the square of the inheritance depth). */
  p("\n// %s (%s): its own operations in plumb_interface order\n",
    iface->name, repo_id(iface));
  for (size_t b = 0; b < iface->nbases; b++)
    p("// inherits the operations of service %s\n",
      proto_full(iface_of(iface->bases[b])));
  p("service %s {\n", proto_local(iface));
  p("  option (plumb.interface_id) = %s;\n", c_string_lit(repo_id(iface)));
  p("  option (plumb.interface_hash) = %" PRIu32 ";\n", fnv1a(repo_id(iface)));
  for (size_t b = 0; b < iface->nbases; b++)
    p("  option (plumb.base_interface_ids) = %s;\n",
      c_string_lit(repo_id(iface_of(iface->bases[b]))));
  for (size_t i = 0; i < n; i++) {
    const idl_node *on = ops[i].node;
    p("  rpc %s(%s) returns (%s) {\n", ops[i].name, rqn[i],
      ops[i].oneway ? ".google.protobuf.Empty" : rpn[i]);
    p("    option (plumb.op_index) = %u;\n", ops[i].decl_index);
    if (ops[i].oneway)
      p("    option (plumb.oneway) = true;\n");
    if (ops[i].kind == GOP_OP)
      for (size_t k = 0; k < on->nraises; k++)
        p("    option (plumb.raises) = { type_id: %s message: \"%s\" };\n",
          c_string_lit(repo_id(on->raises[k])), proto_full(on->raises[k]));
    p("  }\n");
  }
  p("}\n");
}

static void
scan(const idl_node *scope)
{
  for (const idl_node *c = scope->children; c != NULL; c = c->next) {
    if (uses_any && uses_objref && uses_oneway)
      return; /* every import is known: the rest cannot add one */
    if (!node_main(c))
      continue;
    if (c->kind == IDL_MODULE) {
      scan(c);
      continue;
    }
    gpool_scratch_begin(); /* its strings go once it is written */
    switch (c->kind) {
    case IDL_STRUCT: case IDL_UNION: case IDL_EXCEPTION: {
      gmsg m;
      scan(c); /* nested types */
      if (msg_of_decl(c, &m) == 0)
        for (size_t i = 0; i < m.nf; i++)
          scan_uses(&m.f[i].sh);
      break;
    }
    case IDL_INTERFACE: {
      size_t n;
      gop *ops;
      scan(c);
      if (c->is_local)
        break;
      ops = iface_own_ops(c, &n);
      for (size_t i = 0; i < n; i++) {
        uses_oneway |= ops[i].oneway;
        for (size_t k = 0; k < ops[i].np; k++)
          scan_uses(&ops[i].p[k].sh);
        if (ops[i].has_ret)
          scan_uses(&ops[i].ret.sh);
      }
      break;
    }
    default:
      break;
    }
    gpool_scratch_end();
  }
}

static void
walk(const idl_node *scope)
{
  for (const idl_node *c = scope->children; c != NULL; c = c->next) {
    if (!node_main(c))
      continue;
    if (c->kind == IDL_MODULE) {
      walk(c);
      continue;
    }
    gpool_scratch_begin(); /* its strings go once it is written */
    switch (c->kind) {
    case IDL_ENUM:
      p_enum(c);
      break;
    case IDL_TYPEDEF: {
      gshape sh;
      gowner ow;
      ow.c = cname(c);
      ow.pkg = proto_package(c);
      ow.plocal = proto_local(c);
      if (shape_of_owned(c->type, c->dims, c->ndims, &c->loc, &ow, &sh) == 0)
        for_owned_wraps(&sh, p_msg);
      break;
    }
    case IDL_STRUCT: case IDL_UNION: case IDL_EXCEPTION: {
      gmsg m;
      walk(c); /* nested types */
      if (msg_of_decl(c, &m) == 0) {
        for (size_t i = 0; i < m.nf; i++)
          for_owned_wraps(&m.f[i].sh, p_msg);
        p_msg(&m);
      }
      break;
    }
    case IDL_INTERFACE:
      walk(c);
      if (!c->is_local)
        p_interface(c);
      break;
    default:
      break;
    }
    gpool_scratch_end();
  }
}

/* The package of the main file: that of its first non-module declaration. */
static const char *
main_package(const idl_node *scope)
{
  for (const idl_node *c = scope->children; c != NULL; c = c->next) {
    const char *r;
    if (!node_main(c))
      continue;
    if (c->kind != IDL_MODULE)
      return proto_package(c);
    if ((r = main_package(c)) != NULL)
      return r;
  }
  return NULL;
}

static int
write_plumb_proto(const gen_options *o)
{
  gen_options po = *o;
  gout g;
  po.base = "plumb";
  if (gout_open(&g, &po, ".proto") != 0)
    return -1;
  gout_printf(&g,
              "// plumb.proto - Generated by plumbc %s - do not edit.\n"
              "// plumb's well-known messages (see plumb/generated.h).\n"
              "syntax = \"proto3\";\n\npackage plumb;\n\n"
              "// An IDL object reference: enough to reach the object.\n"
              "message ObjRef {\n  string endpoint = 1;\n"
              "  string object = 2;\n  string type_id = 3;\n"
              "  repeated string endpoints = 4;\n  string host = 5;\n}\n",
              PLUMBC_VERSION);
  return gout_close(&g);
}

int
gen_proto(const idl_tree *tree, const gen_options *o)
{
  const char *pkg;
  int before = back_errors;

  proto_set_tree(tree);
  uses_any = uses_objref = uses_oneway = false;
  memset(&req_share, 0, sizeof req_share);
  memset(&rep_share, 0, sizeof rep_share);
  scan(tree->root);
  if (gout_open(&P, o, ".proto") != 0)
    return 1;
  p("// %s.proto - Generated by plumbc %s from %s - do not edit.\n"
    "// The protobuf schema of every message plumb sends for this IDL file.\n"
    "syntax = \"proto3\";\n",
    o->base, PLUMBC_VERSION, o->idl);
  pkg = main_package(tree->root);
  if (pkg != NULL && *pkg)
    p("\npackage %s;\n", pkg);
  p("\n");
  if (uses_any)
    p("import \"google/protobuf/any.proto\";\n");
  if (uses_oneway)
    p("import \"google/protobuf/empty.proto\";\n");
  p("import \"plumb/options.proto\";\n");
  if (uses_objref)
    p("import \"plumb.proto\";\n");
  for (size_t i = 0; i < tree->nincludes; i++)
    if (!include_seen(tree, i))
      p("import \"%s.proto\";\n", file_base(tree->includes[i]));
  walk(tree->root);
  gout_close(&P);
  if (back_errors != before)
    remove(P.path);
  else if (uses_objref)
    write_plumb_proto(o);
  return back_errors - before;
}
