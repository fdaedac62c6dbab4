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
