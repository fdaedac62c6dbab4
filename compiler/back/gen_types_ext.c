/* gen_types_ext.c - C emission of the IDL4 types without a protobuf-c
 * message of their own: bitmask (flag constants + an unsigned typedef),
 * bitset (a struct of bit-fields + pack/unpack to the uint64_t carried on
 * the wire) and native (an opaque pointer).  gen_c.c calls these from its
 * tree walk; the mapping is documented in docs/IDL-MAPPING.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "back.h"

static const char *
loc_of(const idl_node *n)
{
  const char *f = n->loc.file ? n->loc.file : "?";
  const char *b = strrchr(f, '/');
  return gstr("%s:%d", b ? b + 1 : f, n->loc.line);
}

/* bitmask M { A, @position(4) B }: typedef uintN_t M (N from bit_bound)
 * and one #define per flag (C enum constants are int: bit 31 and up would
 * not fit).  On the wire: uint32 (bit_bound <= 32) or uint64. */
void
gen_ext_bitmask(gout *h, const idl_node *n)
{
  const char *cn = cname(n);
  unsigned bb = n->bit_bound;
  const char *ct = bb <= 8 ? "uint8_t" : bb <= 16 ? "uint16_t"
                 : bb <= 32 ? "uint32_t" : "uint64_t";
  gout_printf(h, "\n/* bitmask %s (%s), bit_bound %u */\ntypedef %s %s;\n",
              n->name, loc_of(n), bb, ct, cn);
  for (const idl_node *v = n->children; v != NULL; v = v->next)
    if (v->kind == IDL_ENUMERATOR)
      gout_printf(h, "#define %s ((%s)1 << %" PRIu64 ")\n", cname(v), cn,
                  v->value.u);
}

static bool
bitfield_signed(const idl_type *t)
{
  return t->kind == IDL_T_INT8 || t->kind == IDL_T_SHORT ||
         t->kind == IDL_T_LONG || t->kind == IDL_T_LLONG;
}

/* bitset B { bitfield<3> a; bitfield<1, boolean> f; }: a struct of C
 * bit-fields (fields wider than 32 bits are plain uint64_t / int64_t
 * members: C11 bit-fields are at most int wide), and B_pack / B_unpack
 * between it and the uint64_t on the wire (first field in the low bits,
 * a base bitset's fields first). */
void
gen_ext_bitset(gout *h, const idl_node *n)
{
  const char *cn = cname(n);
  unsigned off = 0;
  int any = 0;

  gout_printf(h, "\n/* bitset %s (%s), %u bits, on the wire a uint64 */\n"
              "typedef struct %s {\n", n->name, loc_of(n), n->bit_bound, cn);
  for (const idl_node *m = n->children; m != NULL; m = m->next) {
    bool sg;
    if (m->kind != IDL_MEMBER)
      continue;
    sg = bitfield_signed(m->type);
    if (m->name[0] == '\0') {
      if (m->bit_width <= 32)
        gout_printf(h, "  unsigned int : %u;\n", m->bit_width);
      continue;
    }
    any = 1;
    if (m->type->kind == IDL_T_BOOLEAN)
      gout_printf(h, "  _Bool %s : 1;\n", cident(m->name));
    else if (m->bit_width > 32)
      gout_printf(h, "  %s %s;\n", sg ? "int64_t" : "uint64_t",
                  cident(m->name));
    else
      gout_printf(h, "  %s int %s : %u;\n", sg ? "signed" : "unsigned",
                  cident(m->name), m->bit_width);
  }
  if (!any)
    gout_printf(h, "  unsigned char _empty; /* no named field */\n");
  gout_printf(h, "} %s;\n", cn);

  gout_printf(h, "static inline uint64_t\n%s_pack(const %s *v)\n{\n"
              "  uint64_t r = 0;\n", cn, cn);
  off = 0;
  for (const idl_node *m = n->children; m != NULL; m = m->next) {
    uint64_t mask;
    if (m->kind != IDL_MEMBER)
      continue;
    mask = m->bit_width >= 64 ? UINT64_MAX
                              : (((uint64_t)1 << m->bit_width) - 1);
    if (m->name[0] != '\0')
      gout_printf(h, "  r |= ((uint64_t)v->%s & UINT64_C(0x%" PRIx64
                  ")) << %u;\n", cident(m->name), mask, off);
    off += m->bit_width;
  }
  if (off == 0)
    gout_printf(h, "  (void)v;\n");
  gout_printf(h, "  return r;\n}\n");

  gout_printf(h, "static inline void\n%s_unpack(%s *v, uint64_t r)\n{\n",
              cn, cn);
  off = 0;
  for (const idl_node *m = n->children; m != NULL; m = m->next) {
    uint64_t mask;
    const char *f;
    if (m->kind != IDL_MEMBER)
      continue;
    mask = m->bit_width >= 64 ? UINT64_MAX
                              : (((uint64_t)1 << m->bit_width) - 1);
    if (m->name[0] == '\0') {
      off += m->bit_width;
      continue;
    }
    f = cident(m->name);
    if (m->type->kind == IDL_T_BOOLEAN)
      gout_printf(h, "  v->%s = (r >> %u) & 1u;\n", f, off);
    else if (bitfield_signed(m->type) && m->bit_width < 64)
      gout_printf(h, "  v->%s = (int64_t)((((r >> %u) & UINT64_C(0x%" PRIx64
                  ")) ^ UINT64_C(0x%" PRIx64 ")) - UINT64_C(0x%" PRIx64
                  "));\n", f, off, mask, (uint64_t)1 << (m->bit_width - 1),
                  (uint64_t)1 << (m->bit_width - 1));
    else
      gout_printf(h, "  v->%s = (r >> %u) & UINT64_C(0x%" PRIx64 ");\n", f,
                  off, mask);
    off += m->bit_width;
  }
  if (!any)
    gout_printf(h, "  (void)v;\n  (void)r;\n");
  gout_printf(h, "}\n");
}

/* native N: an opaque pointer, usable in local interfaces only */
void
gen_ext_native(gout *h, const idl_node *n)
{
  gout_printf(h, "\n/* native %s (%s): opaque, never marshalled */\n"
              "typedef void *%s;\n", n->name, loc_of(n), cname(n));
}

/* C type of a value operation's parameter / result (no marshalling here:
 * these are local calls).  Scalars and enums by value, strings as char
 * pointers, messages and everything repeated by pointer. */
static const char *
local_ctype(const idl_type *t, bool in, const idl_loc *loc)
{
  gshape sh;
  const idl_type *r = idl_resolve_typedefs(t);
  if (t->kind == IDL_T_VOID)
    return "void";
  if (r != NULL && r->kind == IDL_T_NAMED && r->ref != NULL &&
      r->ref->kind == IDL_NATIVE)
    return cname(r->ref);
  if (r != NULL && r->kind == IDL_T_LDOUBLE)
    return "long double"; /* a local call: the real type */
  if (shape_of(t, NULL, 0, loc, &sh) != 0)
    return "void *";
  if (sh.rep != REP_NONE || sh.base == B_BYTES) {
    if (t->kind == IDL_T_NAMED && t->ref != NULL)
      return gstr("%s%s *", in ? "const " : "", cname(t->ref));
    return in ? "const void *" : "void *";
  }
  if (r != NULL && r->kind == IDL_T_NAMED && r->ref != NULL &&
      r->ref->kind == IDL_BITSET)
    return "uint64_t";
  if (base_is_scalar(sh.base))
    return base_api_ctype(&sh);
  if (sh.base == B_STRING || sh.base == B_WSTRING)
    return in ? "const char *" : "char *";
  return gstr("%s%s", in ? "const " : "", base_field_ctype(&sh));
}

static const char *
local_params(const idl_node *op)
{
  const char *s = "";
  for (const idl_node *p = op->children; p != NULL; p = p->next) {
    const char *ct;
    if (p->kind != IDL_PARAM)
      continue;
    ct = local_ctype(p->type, p->dir == IDL_IN, &p->loc);
    if (p->dir != IDL_IN)
      ct = gstr("%s *", ct);
    s = gstr("%s, %s%s%s", s, ct,
             ct[strlen(ct) - 1] == '*' ? "" : " ", cident(p->name));
  }
  return s;
}

/* valuetype V with operations / attributes / factories: the application
 * implements them; plumb declares the tables it fills in:
 *   M_V_ops      one function pointer per operation and accessor, each
 *                taking the value as `self`
 *   M_V_factory  one per `factory` initialiser: fills a fresh *self
 * Values are local data here: nothing of this crosses the wire. */
void
gen_ext_value_ops(gout *h, const idl_node *n)
{
  const char *cn = cname(n);
  int nops = 0, nfac = 0;
  for (const idl_node *c = n->children; c != NULL; c = c->next) {
    if (c->kind == IDL_OPERATION && (c->flags & IDL_F_FACTORY))
      nfac++;
    else if (c->kind == IDL_OPERATION || c->kind == IDL_ATTRIBUTE)
      nops++;
  }
  if (nops > 0) {
    gout_printf(h, "\n/* operations of valuetype %s (%s): implemented by "
                "the application, local calls */\ntypedef struct %s_ops {\n",
                n->name, loc_of(n), cn);
    for (const idl_node *c = n->children; c != NULL; c = c->next) {
      if (c->kind == IDL_OPERATION && !(c->flags & IDL_F_FACTORY)) {
        const char *rt = local_ctype(c->type, false, &c->loc);
        gout_printf(h, "  %s%s(*%s)(%s *self%s);\n", rt,
                    rt[strlen(rt) - 1] == '*' ? "" : " ",
                    ckeyword(c->name), cn, local_params(c));
      } else if (c->kind == IDL_ATTRIBUTE) {
        const char *in = local_ctype(c->type, true, &c->loc);
        const char *rt = local_ctype(c->type, false, &c->loc);
        gout_printf(h, "  %s%s(*_get_%s)(const %s *self);\n", rt,
                    rt[strlen(rt) - 1] == '*' ? "" : " ", c->name, cn);
        if (!(c->flags & IDL_F_READONLY))
          gout_printf(h, "  void (*_set_%s)(%s *self, %s%svalue);\n",
                      c->name, cn, in, in[strlen(in) - 1] == '*' ? "" : " ");
      }
    }
    gout_printf(h, "} %s_ops;\n", cn);
  }
  if (nfac > 0) {
    gout_printf(h, "\n/* factories of valuetype %s: each initialises *self "
                "(0 or a PLUMB_E* status) */\ntypedef struct %s_factory {\n",
                n->name, cn);
    for (const idl_node *c = n->children; c != NULL; c = c->next)
      if (c->kind == IDL_OPERATION && (c->flags & IDL_F_FACTORY))
        gout_printf(h, "  int (*%s)(%s *self%s);\n", ckeyword(c->name), cn,
                    local_params(c));
    gout_printf(h, "} %s_factory;\n", cn);
  }
}

/* local interface L: no remote side; a table of its operations (and
 * attribute accessors, each taking the implementation's `self`) that
 * local implementations fill in, plus each direct base's table. */
void
gen_ext_local_ops(gout *h, const idl_node *n)
{
  const char *cn = cname(n);
  gout_printf(h, "\n/* local interface %s (%s): local calls only, no stubs "
              "or wire messages */\ntypedef struct %s_ops {\n", n->name,
              loc_of(n), cn);
  for (size_t b = 0; b < n->nbases; b++)
    if (n->bases[b]->is_local)
      gout_printf(h, "  %s_ops %s;\n", cname(n->bases[b]),
                  cname(n->bases[b]));
  gout_printf(h, "  void *self; /* the implementation's own state */\n");
  for (const idl_node *c = n->children; c != NULL; c = c->next) {
    if (c->kind == IDL_OPERATION) {
      const char *rt = local_ctype(c->type, false, &c->loc);
      gout_printf(h, "  %s%s(*%s)(void *self%s);\n", rt,
                  rt[strlen(rt) - 1] == '*' ? "" : " ", ckeyword(c->name),
                  local_params(c));
    } else if (c->kind == IDL_ATTRIBUTE) {
      const char *in = local_ctype(c->type, true, &c->loc);
      const char *rt = local_ctype(c->type, false, &c->loc);
      gout_printf(h, "  %s%s(*_get_%s)(void *self);\n", rt,
                  rt[strlen(rt) - 1] == '*' ? "" : " ", c->name);
      if (!(c->flags & IDL_F_READONLY))
        gout_printf(h, "  void (*_set_%s)(void *self, %s%svalue);\n",
                    c->name, in, in[strlen(in) - 1] == '*' ? "" : " ");
    }
  }
  gout_printf(h, "} %s_ops;\n", cn);
}
