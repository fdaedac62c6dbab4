/* idlsrc.c - the IDL given to the plumb CLI with --idl: parsed with
 * plumbc's front end (same include path rules as plumbc: -I first, then
 * plumb's installed IDL directory), and searched for interfaces and
 * operations by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dyn.h"
#include "front.h"
#include "idlsrc.h"

#ifndef PLUMBC_IDLDIR
#define PLUMBC_IDLDIR "/usr/local/share/plumb/idl"
#endif

int
idlsrc_args(idl_src *s, int argc, char **argv)
{
  memset(s, 0, sizeof *s);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a == NULL)
      continue;
    if ((strcmp(a, "--idl") == 0 || strcmp(a, "--interface") == 0 ||
         strcmp(a, "-I") == 0) && (i + 1 >= argc || argv[i + 1] == NULL)) {
      cli_error(CLI_USAGE, "%s needs a value", a);
      return -1;
    }
    if (strcmp(a, "--idl") == 0) {
      s->idl = argv[i + 1];
    } else if (strcmp(a, "--interface") == 0) {
      s->iface = argv[i + 1];
    } else if (strcmp(a, "-I") == 0) {
      if (s->ndirs + 2 >= sizeof s->dirs / sizeof s->dirs[0]) {
        cli_error(CLI_USAGE, "too many -I directories");
        return -1;
      }
      s->dirs[s->ndirs++] = argv[i + 1];
    } else if (strncmp(a, "-I", 2) == 0 && a[2]) {
      if (s->ndirs + 2 >= sizeof s->dirs / sizeof s->dirs[0])
        return -1;
      s->dirs[s->ndirs++] = a + 2;
      argv[i] = NULL;
      continue;
    } else {
      continue;
    }
    argv[i] = argv[i + 1] = NULL;
    i++;
  }
  return 0;
}

int
idlsrc_load(idl_src *s)
{
  idl_options io;
  memset(&io, 0, sizeof io);
  s->dirs[s->ndirs++] = PLUMBC_IDLDIR;
  io.include_dirs = s->dirs;
  io.ninclude_dirs = s->ndirs;
  if (idl_parse_file(s->idl, &io, &s->tree) != 0 || s->tree == NULL) {
    cli_error(CLI_USAGE, "%s: the IDL has errors (above)", s->idl);
    return -1;
  }
  proto_set_tree(s->tree);
  return 0;
}

int
idlsrc_load_text(idl_src *s, const char *name, const char *text)
{
  idl_options io;
  memset(&io, 0, sizeof io);
  s->idl = name;
  s->owned_iface = 1;
  if (idl_parse_string(name, text, &io, &s->tree) != 0 || s->tree == NULL) {
    cli_error(CLI_FAIL, "%s: the IDL the server describes has errors "
              "(above)", name);
    return -1;
  }
  proto_set_tree(s->tree);
  return 0;
}

static void
walk(const idl_node *n, int main_only, void (*fn)(const idl_node *, void *),
     void *arg)
{
  for (const idl_node *c = n->children; c; c = c->next) {
    if (c->kind == IDL_MODULE)
      walk(c, main_only, fn, arg);
    else if (c->kind == IDL_INTERFACE && (!main_only || node_main(c)))
      fn(c, arg);
  }
}

void
idlsrc_each_iface(idl_src *s, void (*fn)(const idl_node *, void *),
                  void *arg)
{
  walk(s->tree->root, 1, fn, arg);
}

/* "::a::b" / "a::b" / "a.b" compare with a node's scoped name */
static int
name_is(const idl_node *n, const char *want, size_t len)
{
  char *sn = idl_scoped_name(n), buf[512];
  size_t k = 0;
  for (size_t i = 0; i < len && k + 3 < sizeof buf; i++) {
    if (want[i] == '.') {
      buf[k++] = ':';
      buf[k++] = ':';
    } else {
      buf[k++] = want[i];
    }
  }
  buf[k] = '\0';
  const char *w = strncmp(buf, "::", 2) == 0 ? buf + 2 : buf;
  int eq = sn && (strcmp(sn + 2, w) == 0 || strcmp(n->name, w) == 0);
  free(sn);
  return eq;
}

typedef struct find_arg {
  const char *iface;
  size_t iface_len;
  const char *op;
  const gop *found[8];
  const idl_node *where[8];
  size_t n;
} find_arg;

/* Searches iface and its bases (bounded) for op. */
static const gop *
op_in(const idl_node *iface, const char *op, unsigned depth)
{
  size_t n;
  if (iface == NULL || depth > 64)
    return NULL;
  gop *ops = iface_own_ops(iface, &n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(ops[i].name, op) == 0)
      return &ops[i];
  for (size_t i = 0; i < iface->nbases; i++) {
    const gop *g = op_in(iface_of(iface->bases[i]), op, depth + 1);
    if (g)
      return g;
  }
  return NULL;
}

static void
find_one(const idl_node *iface, void *arg)
{
  find_arg *f = arg;
  if (f->iface != NULL && !name_is(iface, f->iface, f->iface_len))
    return;
  const gop *g = op_in(iface, f->op, 0);
  if (g == NULL || f->n == 8)
    return;
  for (size_t i = 0; i < f->n; i++)
    if (f->found[i]->node == g->node && f->found[i]->kind == g->kind)
      return; /* the same inherited operation */
  f->where[f->n] = iface;
  f->found[f->n++] = g;
}

static void
all_ifaces(const idl_node *n, void (*fn)(const idl_node *, void *),
           void *arg)
{
  walk(n, 0, fn, arg);
}

const gop *
idlsrc_find_op(idl_src *s, const char *name)
{
  find_arg f = { 0 };
  const char *sep = strrchr(name, ':'), *dot = strrchr(name, '.');
  const char *cut = sep && (!dot || sep > dot) ? sep - 1 : dot;
  if (cut != NULL && cut > name) {
    f.iface = name;
    f.iface_len = (size_t)(cut - name);
    f.op = cut + (*cut == '.' ? 1 : 2);
  } else {
    f.iface = s->iface;
    f.iface_len = s->iface ? strlen(s->iface) : 0;
    f.op = name;
  }
  all_ifaces(s->tree->root, find_one, &f);
  if (f.n == 1)
    return f.found[0];
  if (f.n == 0) {
    cli_error(CLI_USAGE, "%s: no interface%s%.*s in %s has an operation "
              "'%s'", name, f.iface ? " " : "", (int)f.iface_len,
              f.iface ? f.iface : "", s->idl, f.op);
    return NULL;
  }
  char *a = idl_scoped_name(f.where[0]), *b = idl_scoped_name(f.where[1]);
  cli_error(CLI_USAGE, "%s: ambiguous, %s and %s both have it: write "
            "Interface.%s or use --interface", name, a, b, f.op);
  free(a);
  free(b);
  return NULL;
}

typedef struct lookup_arg {
  const char *name;
  const idl_node *found;
} lookup_arg;

static void
lookup_in(const idl_node *n, lookup_arg *l)
{
  for (const idl_node *c = n->children; c && !l->found; c = c->next) {
    if (c->name && c->kind != IDL_FORWARD &&
        name_is(c, l->name, strlen(l->name))) {
      l->found = c;
      return;
    }
    if (c->kind == IDL_MODULE || c->kind == IDL_INTERFACE)
      lookup_in(c, l);
  }
}

const idl_node *
idlsrc_lookup(idl_src *s, const char *scoped)
{
  lookup_arg l = { scoped, NULL };
  lookup_in(s->tree->root, &l);
  return l.found;
}

void
idlsrc_free(idl_src *s)
{
  if (s->tree)
    idl_tree_free(s->tree);
  s->tree = NULL;
  if (s->owned_iface)
    free((char *)s->iface);
  s->iface = NULL;
  dyn_free();
  back_pool_free();
}
