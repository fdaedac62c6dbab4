/* gen_defer.c - deferred-reply helpers (docs/IDL-MAPPING.md, "Deferred
 * replies"; docs/RUNTIME.md, "The call model").  For every two-way
 * operation op of interface I:
 *
 *   int I_op_reply(struct plumb_deferred *d, <return value, out and inout
 *                  values>);                  fills the reply, completes d
 *   int I_op_raise_E(struct plumb_deferred *d, const E *e);
 *                                             for each exception E op raises
 *
 * declared in BASE.h, defined in BASE-server.c.  Values are taken by value
 * (numbers, enums, bool), as const char * (strings) or by const pointer
 * (structs, unions, any, object references, sequences, arrays, octet
 * sequences); they are packed before the helper returns.  A helper is one
 * call of plumb_deferred_reply_args() with the operation's signature table
 * (gen_c.c).  gen_c.c calls gen_defer() once per interface.
 */
#include <string.h>

#include "gen_c_int.h"
#include "gen_defer.h"

/* C type of value p in a _reply helper. */
static const char *
defer_ctype(const gparam *p)
{
  if (p->sh.rep != REP_NONE || p->sh.base == B_BYTES)
    return gstr("const %s *", p->api);
  switch (p->sh.base) {
  case B_STRING: case B_WSTRING: return "const char *";
  case B_MSG: case B_ANY: case B_OBJREF:
    return gstr("const %s *", base_api_ctype(&p->sh));
  default: return base_api_ctype(&p->sh);
  }
}

static const char *
defer_decl(const char *ctype, const char *name)
{
  size_t n = strlen(ctype);
  return gstr(n && ctype[n - 1] == '*' ? "%s%s" : "%s %s", ctype, name);
}

/* ", T ret, T out..." of op's _reply helper. */
static const char *
defer_params(const gop *op)
{
  const char *s = "";
  if (op->has_ret)
    s = gstr("%s, %s", s, defer_decl(defer_ctype(&op->ret), "_ret"));
  for (size_t i = 0; i < op->np; i++)
    if (op->p[i].dir != IDL_IN)
      s = gstr("%s, %s", s, defer_decl(defer_ctype(&op->p[i]), op->p[i].name));
  return s;
}

/* "void *const _a[N] = { ... };\n": the values in the signature's order
 * (parameters, then the result), NULL for in-parameters. */
static const char *
defer_args(const gop *op)
{
  const char *args = "";
  size_t n = op->np + (op->has_ret ? 1 : 0);
  for (size_t i = 0; i < n; i++) {
    const gparam *p = i < op->np ? &op->p[i] : &op->ret;
    bool by_value = p->sh.rep == REP_NONE && p->sh.base != B_BYTES &&
                    p->sh.base != B_MSG && p->sh.base != B_ANY &&
                    p->sh.base != B_OBJREF;
    args = gstr("%s%s%s", args, i ? ", " : "",
                p->dir == IDL_IN ? "NULL"
                                 : gstr("(void *)%s%s", by_value ? "&" : "",
                                        p->name));
  }
  return n ? gstr("  void *const _a[%zu] = { %s };\n", n, args) : "";
}

void
gen_defer(gout *h, gout *sv, const idl_node *iface, const gop *own,
          size_t nown, const char *const *sigs)
{
  const char *icn = cname(iface);
  bool any = false;

  for (size_t i = 0; i < nown; i++)
    any |= !own[i].oneway;
  if (!any)
    return;
  gout_printf(h, "\n/* deferred replies of %s (plumb_call_defer): complete "
              "the call from any\n * thread; 0 (PLUMB_OK) or a PLUMB_E* "
              "status (plumb/call.h) */\nstruct plumb_deferred;\n",
              iface->name);
  for (size_t i = 0; i < nown; i++) {
    const gop *op = &own[i];
    if (op->oneway)
      continue;
    gout_printf(h, "int %s_%s_reply(struct plumb_deferred *_d%s);\n", icn,
                op->name, defer_params(op));
    {
      const char *a = defer_args(op);
      const char *name = gstr("%s_%s_reply", icn, op->name);
      const char *params = defer_params(op);
      if (!gen_c_alias(sv, gstr("reply|%s|%s|%s", sigs[i], params, a), name,
                       gstr("int %s(struct plumb_deferred *_d%s)", name,
                            params)))
        gout_printf(sv, "\n/* Completes a deferred %s with its results. */\n"
                    "int\n%s(struct plumb_deferred *_d%s)\n{\n"
                    "%s  return plumb_deferred_reply_args(_d, &%s, %s);\n}\n",
                    op->name, name, params, a, sigs[i], *a ? "_a" : "NULL");
    }
    const idl_node *on = op->node;
    if (op->kind != GOP_OP)
      continue;
    for (size_t k = 0; k < on->nraises; k++) {
      const idl_node *e = on->raises[k];
      const char *ecn = cname(e);
      const char *name = gstr("%s_%s_raise_%s", icn, op->name, e->name);
      gout_printf(h, "int %s(struct plumb_deferred *_d, const %s *_e);\n",
                  name, ecn);
      if (gen_c_alias(sv, gstr("raise|%s", ecn), name,
                      gstr("int %s(struct plumb_deferred *_d, const %s *_e)",
                           name, ecn)))
        continue;
      gout_printf(sv, "\n/* Completes a deferred %s by raising %s. */\n"
                  "int\n%s_%s_raise_%s(struct plumb_deferred *_d, "
                  "const %s *_e)\n{\n"
                  "  int _rc = plumb_call_raise(plumb_deferred_call(_d), "
                  "&%s_type, _e);\n"
                  "  return plumb_deferred_complete(_d, _rc, NULL);\n}\n",
                  op->name, e->name, icn, op->name, e->name, ecn, ecn);
    }
  }
}
