/* gen_async.c - plumbc's asynchronous client stubs (docs/IDL-MAPPING.md,
 * "Asynchronous calls").  For every operation op of interface M::I:
 *
 *   int M_I_op_begin(plumb_client *_c, <in and inout values>,
 *                    plumb_pending **_pending);
 *   int M_I_op_finish(plumb_pending *_pending, <out, inout, _ret
 *                     pointers>, plumb_arena *_arena);
 *
 * Both are one call into the runtime with the operation's signature table
 * (gen_c.c): plumb_stub_begin() fills and sends the request like the
 * synchronous stub; plumb_stub_finish() waits if needed, calls
 * plumb_invoke_finish() (which releases the pending call, whatever the
 * outcome) and copies the reply out like the synchronous stub.  inout
 * parameters are values in _begin and pointers in _finish.
 */
#include <stdbool.h>
#include <stddef.h>

#include "back.h"
#include "gen_c_int.h"

/* p as _begin sees it: inout parameters travel in as values. */
static gparam
as_in(const gparam *p)
{
  gparam q = *p;
  q.dir = IDL_IN;
  return q;
}

static const char *
begin_params(const gop *op)
{
  const char *s = "";
  for (size_t i = 0; i < op->np; i++)
    if (op->p[i].dir != IDL_OUT) {
      gparam q = as_in(&op->p[i]);
      s = gstr("%s, %s", s, gen_c_decl(c_param_ctype(&q), q.name));
    }
  return s;
}

static const char *
finish_params(const gop *op)
{
  const char *s = "";
  for (size_t i = 0; i < op->np; i++)
    if (op->p[i].dir != IDL_IN) {
      gparam q = op->p[i];
      q.dir = IDL_OUT; /* a pointer to where the value goes */
      s = gstr("%s, %s", s, gen_c_decl(c_param_ctype(&q), q.name));
    }
  if (op->has_ret)
    s = gstr("%s, %s", s, gen_c_decl(c_param_ctype(&op->ret), "_ret"));
  return s;
}

void
gen_async_protos(gout *h, const idl_node *iface, const gop *own, size_t nown)
{
  const char *icn = cname(iface);
  if (nown == 0)
    return;
  gout_printf(h, "/* asynchronous stubs of %s: _begin sends, _finish "
              "collects (and releases the pending call) */\n", iface->name);
  for (size_t i = 0; i < nown; i++) {
    gout_printf(h, "static inline int %s_%s_begin(plumb_client *_c%s,\n"
                "    plumb_pending **_pending);\n",
                icn, own[i].name, begin_params(&own[i]));
    gout_printf(h, "static inline int %s_%s_finish(plumb_pending *_pending%s,\n"
                "    plumb_arena *_arena);\n",
                icn, own[i].name, finish_params(&own[i]));
  }
}

/* "void *const _a[N] = { ... };\n" with the arguments _begin (in) or
 * _finish (!in) has, NULL for the others; "" without parameters. */
static const char *
args_array(const gop *op, bool in)
{
  const char *args = "";
  size_t n = op->np + (op->has_ret ? 1 : 0);
  if (n == 0)
    return "";
  for (size_t i = 0; i < n; i++) {
    const gparam *p = i < op->np ? &op->p[i] : &op->ret;
    const char *a = "NULL";
    if (in && p->dir != IDL_OUT)
      a = gstr("(void *)%s%s", gen_c_arg_by_value(p, true) ? "&" : "",
               p->name);
    else if (!in && p->dir != IDL_IN)
      a = gstr("(void *)%s", p->name);
    args = gstr("%s%s%s", args, i ? ", " : "", a);
  }
  return gstr("  void *const _a[%zu] = { %s };\n", n, args);
}

static void
stub_begin(gout *cl, const char *icn, const gop *op, size_t index,
           const char *sig)
{
  const char *a = args_array(op, true);
  gout_printf(cl, "\n/* %s, asynchronous: send */\nstatic inline int\n%s_%s_begin("
              "plumb_client *_c%s,\n    plumb_pending **_pending)\n{\n",
              op->name, icn, op->name, begin_params(op));
  gout_printf(cl, "%s  return plumb_stub_begin(_c, &%s_interface, %zu, &%s, "
              "%s, _pending);\n}\n", a, icn, index, sig, *a ? "_a" : "NULL");
}

static void
stub_finish(gout *cl, const char *icn, const gop *op, size_t index,
            const char *sig)
{
  const char *a = args_array(op, false);
  const char *params = finish_params(op);
  const char *name = gstr("%s_%s_finish", icn, op->name);
  (void)index; /* the pending call knows its operation */
  gout_printf(cl, "\n/* %s, asynchronous: collect */\nstatic inline int\n%s("
              "plumb_pending *_pending%s,\n    plumb_arena *_arena)\n{\n",
              op->name, name, params);
  gout_printf(cl, "%s  return plumb_stub_finish(_pending, NULL, 0, "
              "&%s, %s, _arena);\n}\n", a, sig, *a ? "_a" : "NULL");
}

void
gen_async_stubs(gout *cl, const idl_node *iface, const gop *own, size_t nown,
                const char *const *sigs)
{
  const char *icn = cname(iface);
  for (size_t i = 0; i < nown; i++) {
    stub_begin(cl, icn, &own[i], i, sigs[i]);
    stub_finish(cl, icn, &own[i], i, sigs[i]);
  }
}
