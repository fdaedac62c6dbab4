/* gen_async.c - plumbc's asynchronous client stubs (docs/IDL-MAPPING.md,
 * "Asynchronous calls").  For every operation op of interface M::I:
 *
 *   int M_I_op_begin(plumb_client *_c, <in and inout values>,
 *                    plumb_pending **_pending);
 *   int M_I_op_finish(plumb_pending *_pending, <out, inout, _ret
 *                     pointers>, plumb_arena *_arena);
 *
 * _begin fills the request like the synchronous stub and calls
 * plumb_invoke_begin(); _finish waits if needed, calls
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
    gout_printf(h, "int %s_%s_begin(plumb_client *_c%s,\n"
                "    plumb_pending **_pending);\n",
                icn, own[i].name, begin_params(&own[i]));
    gout_printf(h, "int %s_%s_finish(plumb_pending *_pending%s,\n"
                "    plumb_arena *_arena);\n",
                icn, own[i].name, finish_params(&own[i]));
  }
}

static void
stub_begin(gout *cl, const char *icn, const gop *op, size_t index)
{
  gout_printf(cl, "\n/* %s, asynchronous: send */\nint\n%s_%s_begin("
              "plumb_client *_c%s,\n    plumb_pending **_pending)\n{\n",
              op->name, icn, op->name, begin_params(op));
  gout_printf(cl, "  %s _req = %s_INIT;\n  int _rc;\n\n", op->req, op->req);
  gout_printf(cl, "  if (_pending == NULL)\n    return PLUMB_EINVAL;\n"
              "  *_pending = NULL;\n");
  for (size_t i = 0; i < op->np; i++)
    if (op->p[i].dir != IDL_OUT) {
      gparam q = as_in(&op->p[i]);
      gen_c_cl_fill(&q);
    }
  gout_printf(cl, "  if ((_rc = plumb_client_check(_c, \"%s\", &%s__check, "
              "&_req.base, 0)) != PLUMB_OK)\n    return _rc;\n",
              op->name, op->req);
  gout_printf(cl, "  return plumb_invoke_begin(_c, &%s_interface, %zu, "
              "&_req.base, _pending);\n}\n", icn, index);
}

static void
stub_finish(gout *cl, const char *icn, const gop *op)
{
  bool need_arena = gen_c_op_out_ptr(op);
  gout_printf(cl, "\n/* %s, asynchronous: collect */\nint\n%s_%s_finish("
              "plumb_pending *_pending%s,\n    plumb_arena *_arena)\n{\n",
              op->name, icn, op->name, finish_params(op));
  gout_printf(cl, "  ProtobufCMessage *_rm = NULL;\n");
  if (!op->oneway)
    gout_printf(cl, "  const %s *_rep;\n", op->rep);
  gout_printf(cl, "  plumb_client *_c = plumb_pending_client(_pending);\n"
              "  int _rc;\n\n");
  gout_printf(cl, "  if (_pending == NULL)\n    return PLUMB_EINVAL;\n");
  const char *bad = "  if (%s == NULL) {\n    plumb_pending_free(_pending);\n"
                    "    return PLUMB_EINVAL;\n  }\n";
  if (need_arena)
    gout_printf(cl, bad, "_arena");
  for (size_t i = 0; i < op->np; i++)
    if (op->p[i].dir != IDL_IN)
      gout_printf(cl, bad, op->p[i].name);
  if (op->has_ret)
    gout_printf(cl, bad, "_ret");
  gout_printf(cl, "  _rc = plumb_invoke_finish(_pending, &_rm, _arena);\n"
              "  if (_rc != PLUMB_OK)\n    return _rc;\n");
  if (op->oneway) {
    gout_printf(cl, "  (void)_rm;\n  (void)_c;\n  return PLUMB_OK;\n}\n");
    return;
  }
  gout_printf(cl, "  if (_rm == NULL || _rm->descriptor != &%s__descriptor)\n"
              "    return PLUMB_EBADBODY;\n  _rep = (const %s *)_rm;\n"
              "  if ((_rc = plumb_client_check(_c, \"%s\", &%s__check, _rm, "
              "1)) != PLUMB_OK)\n    return _rc;\n",
              op->rep, op->rep, op->name, op->rep);
  if (!op->has_ret && !gen_c_op_has_out(op))
    gout_printf(cl, "  (void)_rep;\n");
  if (op->has_ret)
    gen_c_copy_out_rep(cl, &op->ret, "_ret", "_rep->", "  ");
  for (size_t i = 0; i < op->np; i++)
    if (op->p[i].dir != IDL_IN)
      gen_c_copy_out_rep(cl, &op->p[i], op->p[i].name, "_rep->", "  ");
  gout_printf(cl, "  return PLUMB_OK;\n}\n");
}

void
gen_async_stubs(gout *cl, const idl_node *iface, const gop *own, size_t nown)
{
  const char *icn = cname(iface);
  for (size_t i = 0; i < nown; i++) {
    stub_begin(cl, icn, &own[i], i);
    stub_finish(cl, icn, &own[i]);
  }
}
