/* gen_impl.c - plumbc --impl: writes BASE-impl.c, an implementation
 * skeleton the user then owns (like omniidl -Wbexample or tao_idl -GI).
 *
 * For every interface of the main file: a state struct (the handlers'
 * _ctx), one handler per operation and attribute accessor - its own and
 * every inherited one, so the object is complete - each with its IDL
 * signature, location and who owns what, returning PLUMB_ENOOP through
 * plumb_call_fail() ("not implemented"), and the ops struct filled in
 * (base members included).  Then a main() that serves one object per
 * interface (named by its scoped IDL name, "calc::Calculator"; the first is
 * the default object) on the endpoints given on the command line or else on
 * the endpoint configured for service BASE (plumb_server_listen_service).
 * The file is created with O_EXCL: an existing file is never overwritten.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "back.h"

static gout I;
#define w(...) gout_printf(&I, __VA_ARGS__)

static const char *
loc_of(const idl_node *n)
{
  const char *f = n->loc.file ? n->loc.file : "?", *b = strrchr(f, '/');
  return gstr("%s:%d", b ? b + 1 : f, n->loc.line);
}

static const char *
dir_word(idl_dir d)
{
  return d == IDL_IN ? "in" : d == IDL_OUT ? "out" : "inout";
}

/* The IDL declaration of op, as a comment line. */
static const char *
idl_signature(const gop *op)
{
  const idl_node *n = op->node;
  const char *s;
  if (op->kind == GOP_GET)
    return gstr("%sattribute %s %s (get)",
                (n->flags & IDL_F_READONLY) ? "readonly " : "",
                g_type_text(n->type), n->name);
  if (op->kind == GOP_SET)
    return gstr("attribute %s %s (set)", g_type_text(n->type), n->name);
  s = gstr("%s%s %s(", op->oneway ? "oneway " : "", g_type_text(n->type),
           n->name);
  for (size_t i = 0; i < op->np; i++)
    s = gstr("%s%s%s %s %s", s, i ? ", " : "", dir_word(op->p[i].dir),
             g_type_text(op->p[i].type), op->p[i].name);
  s = gstr("%s)", s);
  if (n->nraises) {
    s = gstr("%s raises (", s);
    for (size_t i = 0; i < n->nraises; i++)
      s = gstr("%s%s%s", s, i ? ", " : "", g_scoped(n->raises[i]));
    s = gstr("%s)", s);
  }
  return s;
}

/* One ownership line for parameter p (NULL: nothing worth saying). */
static const char *
ownership(const gparam *p)
{
  bool ptr = shape_has_ptr(&p->sh) || p->sh.rep != REP_NONE ||
             p->sh.base == B_BYTES;
  const char *n = p->name;
  if (p->dir == IDL_IN)
    return ptr ? gstr("%s points into the request: valid during the call "
                      "only (copy what you keep)", n)
               : NULL;
  if (!ptr)
    return gstr("*%s starts as %s; set it", n,
                p->dir == IDL_INOUT ? "the value received" : "0");
  return gstr("*%s %s; what you hand back by pointer must outlive the "
              "handler: plumb_call_alloc() / plumb_call_strdup(_call, ...) "
              "(released after the reply is sent) or static data",
              n, p->dir == IDL_INOUT ? "holds the value received"
                                     : "is pre-initialised (empty)");
}

/* " * text" wrapped at 79 columns (continuations indented). */
static void
w_note(const char *text)
{
  const char *p = text;
  int first = 1;
  while (*p != '\0') {
    size_t room = first ? 76 : 74, n = strlen(p), cut = n;
    if (n > room) {
      cut = room;
      while (cut > 0 && p[cut] != ' ')
        cut--;
      if (cut == 0)
        cut = room;
    }
    w(" * %s%.*s\n", first ? "" : "  ", (int)cut, p);
    p += cut;
    while (*p == ' ')
      p++;
    first = 0;
  }
}

/* "NAME(void *_ctx, plumb_call *_call, ...)" broken after commas so that
 * lines stay within 79 columns. */
static void
w_head(const char *name, const char *params)
{
  const char *p = params;
  size_t col;
  w("%s(void *_ctx, plumb_call *_call", name);
  col = strlen(name) + 32;
  while (*p != '\0') {
    const char *next = strstr(p + 2, ", ");
    size_t n = next ? (size_t)(next - p) : strlen(p);
    /* p starts with ", " */
    if (col + n + 1 > 79) {
      w(",\n    %.*s", (int)(n - 2), p + 2);
      col = 4 + n - 2;
    } else {
      w("%.*s", (int)n, p);
      col += n;
    }
    p += n;
  }
  w(")\n");
}

static const char *
handler_name(const idl_node *iface, const gop *op)
{
  return gstr("impl_%s_%s", cname(iface), op->name);
}

static void
w_handler(const idl_node *iface, const gop *op)
{
  const char *icn = cname(iface);
  w("\n/*\n");
  w_note(idl_signature(op));
  w_note(gstr("%s::%s (%s)%s", g_scoped(op->iface),
              op->kind == GOP_OP ? op->node->name : op->name,
              loc_of(op->node),
              op->iface != iface ? ", inherited" : ""));
  for (size_t i = 0; i < op->np; i++) {
    const char *o = ownership(&op->p[i]);
    if (o != NULL)
      w_note(o);
  }
  if (op->has_ret) {
    const char *o = ownership(&op->ret);
    if (o != NULL)
      w_note(o);
  }
  if (op->kind == GOP_OP && op->node->nraises) {
    const char *s = "";
    for (size_t i = 0; i < op->node->nraises; i++)
      s = gstr("%s%s&%s_type", s, i ? ", " : "", cname(op->node->raises[i]));
    w_note(gstr("raise with plumb_call_raise(_call, TYPE, &ex), TYPE one of "
                "%s (ex may be a local: it is packed at once)", s));
  }
  if (op->oneway)
    w(" * oneway: the caller gets no reply and no status.\n");
  w(" * Return PLUMB_OK, or a PLUMB_E* status the client receives. */\n");
  w("static int\n");
  w_head(handler_name(iface, op), c_param_list(op));
  w("{\n");
  w("  impl_%s *self = _ctx;\n\n  (void)self;\n", icn);
  for (size_t i = 0; i < op->np; i++)
    w("  (void)%s;\n", op->p[i].name);
  if (op->has_ret)
    w("  (void)_ret;\n");
  w("  return plumb_call_fail(_call, PLUMB_ENOOP,\n"
    "                         \"%s::%s is not implemented\");\n}\n",
    g_scoped(iface), op->name);
}

/* Calls fn for every operation of iface, inherited ones included, once
 * each (a diamond's shared base once), bases first. */
static void
each_op(const idl_node *iface, const idl_node *target,
        void (*fn)(const idl_node *, const gop *), const idl_node ***seen,
        size_t *nseen, size_t *capseen)
{
  size_t n;
  gop *ops;
  for (size_t i = 0; i < *nseen; i++)
    if ((*seen)[i] == iface)
      return;
  if (*nseen == *capseen) {
    const idl_node **v;
    *capseen = *capseen ? *capseen * 2 : 16;
    v = galloc(sizeof *v * *capseen);
    if (*nseen)
      memcpy(v, *seen, sizeof *v * *nseen);
    *seen = v;
  }
  (*seen)[(*nseen)++] = iface;
  for (size_t b = 0; b < iface->nbases; b++)
    each_op(iface_of(iface->bases[b]), target, fn, seen, nseen, capseen);
  ops = iface_own_ops(iface, &n);
  for (size_t i = 0; i < n; i++)
    fn(target, &ops[i]);
}

/* The designated initialiser of `iface`'s ops struct inside the one of
 * `target` (whose handlers are impl_TARGET_op). */
static void
w_ops_init(const idl_node *iface, const idl_node *target, int depth)
{
  size_t n;
  gop *ops = iface_own_ops(iface, &n);
  const char *ind = gstr("%*s", 2 * depth + 2, "");
  for (size_t b = 0; b < iface->nbases; b++) {
    const idl_node *base = iface_of(iface->bases[b]);
    w("%s.%s = {\n", ind, cname(base));
    w_ops_init(base, target, depth + 1);
    w("%s},\n", ind);
  }
  for (size_t i = 0; i < n; i++)
    w("%s.%s = %s,\n", ind, ops[i].name, handler_name(target, &ops[i]));
}

static void
w_interface(const idl_node *iface)
{
  const char *icn = cname(iface);
  const idl_node **seen = NULL;
  size_t nseen = 0, capseen = 0;

  w("\n/* ---- interface %s (%s) ---- */\n", g_scoped(iface), loc_of(iface));
  w("\n/* One %s object: its state, the handlers' _ctx. */\n"
    "typedef struct impl_%s {\n"
    "  unsigned long calls; /* replace with your object's state */\n"
    "} impl_%s;\n",
    g_scoped(iface), icn, icn);
  each_op(iface, iface, w_handler, &seen, &nseen, &capseen);
  w("\nstatic const %s_ops\nimpl_%s_ops = {\n", icn, icn);
  w_ops_init(iface, iface, 0);
  w("};\n");
}

static void
walk(const idl_node *scope, void (*fn)(const idl_node *))
{
  for (const idl_node *c = scope->children; c != NULL; c = c->next) {
    if (!node_main(c))
      continue;
    if (c->kind == IDL_MODULE)
      walk(c, fn);
    else if (c->kind == IDL_INTERFACE)
      fn(c);
  }
}

static size_t n_ifaces;

/* PLUMB_<SERVICE>_ENDPOINT's middle, as plumb/config.h derives it. */
static const char *
env_name(const char *service)
{
  char *e = gstr("%s", service);
  for (char *p = e; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
    else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      *p = '_';
  return e;
}

static void
count_iface(const idl_node *n)
{
  (void)n;
  n_ifaces++;
}

static void
w_object(const idl_node *n)
{
  w("  static impl_%s %s_obj;\n", cname(n), cname(n));
}

static void
w_register(const idl_node *n)
{
  w("  if (rc == PLUMB_OK)\n"
    "    rc = %s__serve(srv, \"%s\",\n"
    "        &impl_%s_ops,\n        &%s_obj);\n",
    cname(n), g_scoped(n), cname(n), cname(n));
}

/* Creates path for writing; refuses an existing file. */
static int
open_new(gout *o, const gen_options *opt)
{
  o->path = gstr("%s/%s-impl.c", opt->outdir, opt->base);
  o->err = 0;
  memset(&o->buf, 0, sizeof o->buf);
  o->f = fopen(o->path, "wx");
  if (o->f != NULL)
    return 0;
  if (errno == EEXIST)
    fprintf(stderr, "plumbc: %s exists; not overwriting it (remove it or "
                    "choose another -o)\n", o->path);
  else
    fprintf(stderr, "plumbc: cannot write %s: %s\n", o->path,
            strerror(errno));
  back_errors++;
  return -1;
}

int
gen_impl(const idl_tree *tree, const gen_options *o)
{
  int before = back_errors;
  const char *b = o->base;

  proto_set_tree(tree);
  n_ifaces = 0;
  walk(tree->root, count_iface);
  if (open_new(&I, o) != 0)
    return 1;
  w("/* %s-impl.c - implementation skeleton generated by plumbc %s\n"
    " * from %s.\n"
    " *\n"
    " * Yours to edit (plumbc --impl never overwrites it).  Every handler "
    "answers\n"
    " * PLUMB_ENOOP \"not implemented\" until you write it.  Build and run:\n"
    " *\n"
    " *   cc -std=c11 -o %s-server %s-impl.c %s-types.c \\\n"
    " *      %s-server.c $(pkg-config --cflags --libs plumb)\n"
    " *   ./%s-server [ENDPOINT...]\n"
    " *\n"
    " * (plus the -types.c of every IDL file %s includes).  Without an\n"
    " * ENDPOINT it serves the endpoint configured for service \"%s\"\n"
    " * (PLUMB_%s_ENDPOINT, PLUMB_ENDPOINT, plumb.conf: see plumb/config.h),\n"
    " * until SIGINT or SIGTERM.\n"
    " */\n"
    "#include <stdio.h>\n\n#include <plumb/plumb.h>\n\n#include \"%s.h\"\n",
    b, PLUMBC_VERSION, o->idl, b, b, b, b, b, o->idl, b,
    env_name(b), b);
  walk(tree->root, w_interface);
  w("\nint\nmain(int argc, char **argv)\n{\n");
  if (n_ifaces == 0) {
    w("  (void)argc;\n  (void)argv;\n"
      "  fprintf(stderr, \"%s-server: %s declares no interface to "
      "serve\\n\");\n"
      "  return 1;\n}\n",
      b, o->idl);
  } else {
    walk(tree->root, w_object);
    w("  plumb_server *srv;\n  int rc;\n\n"
      "  if ((rc = plumb_server_new(&srv, NULL)) != PLUMB_OK) {\n"
      "    fprintf(stderr, \"%s-server: %%s\\n\", plumb_strerror(rc));\n"
      "    return 1;\n  }\n  rc = PLUMB_OK;\n",
      b);
    walk(tree->root, w_register);
    w("  for (int i = 1; rc == PLUMB_OK && i < argc; i++)\n"
      "    rc = plumb_server_listen_service(srv, \"%s\", argv[i]);\n"
      "  if (rc == PLUMB_OK && argc < 2)\n"
      "    rc = plumb_server_listen_service(srv, \"%s\", NULL);\n"
      "  if (rc == PLUMB_OK)\n    rc = plumb_server_run(srv, 1);\n"
      "  if (rc != PLUMB_OK)\n"
      "    fprintf(stderr, \"%s-server: %%s\\n\", plumb_strerror(rc));\n"
      "  plumb_server_free(srv);\n  return rc == PLUMB_OK ? 0 : 1;\n}\n",
      b, b, b);
  }
  gout_close(&I);
  if (back_errors != before)
    remove(I.path);
  return back_errors - before;
}
