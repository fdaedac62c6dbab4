/* cmd_describe.c - `plumb describe`: the IDL printed back from plumbc's
 * tree, in a form plumbc parses again - of --idl FILE (every declaration
 * of the main file, or one TYPE inside its modules), or of what a server
 * serves for an OBJECT or a type id, asked by introspection. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "idl_print.h"
#include "idlsrc.h"
#include "introspect_cli.h"

static void
pad(FILE *f, int ind)
{
  fprintf(f, "%*s", ind * 2, "");
}

/* Prints n inside its enclosing modules (an interface's nested type as a
 * whole interface would lose nothing but is longer: print the interface). */
static void
print_in_modules(FILE *f, const idl_node *n)
{
  const idl_node *chain[64];
  int k = 0;
  for (const idl_node *p = n->parent; p && p->kind == IDL_MODULE && k < 64;
       p = p->parent)
    chain[k++] = p;
  for (int i = k - 1; i >= 0; i--) {
    pad(f, k - 1 - i);
    fprintf(f, "module %s {\n", chain[i]->name);
  }
  idl_print_decl(f, n, k);
  for (int i = 0; i < k; i++) {
    pad(f, k - 1 - i);
    fputs("};\n", f);
  }
}

/* --json's "interfaces": each interface of the tree (main_only: of the
 * main file) as {"name", "type_id", "bases", "operations": [{"name",
 * "oneway", "result", "params": [{"name", "dir", "type"}], "raises"}],
 * "attributes": [{"name", "readonly", "type"}]}, types as IDL text with
 * scoped names: for scripts, which then need not parse the IDL. */
static void
ifaces_json(json_object *arr, const idl_node *n, int main_only,
            unsigned depth)
{
  static const char *const dirs[] = { "in", "out", "inout" };
  for (const idl_node *c = n->children; c && depth < 64; c = c->next) {
    if (c->kind == IDL_MODULE) {
      ifaces_json(arr, c, main_only, depth + 1);
      continue;
    }
    if (c->kind != IDL_INTERFACE || (main_only && !node_main(c)))
      continue;
    json_object *o = json_object_new_object(), *b = json_object_new_array(),
                *ops = json_object_new_array(),
                *attrs = json_object_new_array();
    json_object_object_add(o, "name", json_object_new_string(g_scoped(c)));
    json_object_object_add(o, "type_id", json_object_new_string(repo_id(c)));
    for (size_t i = 0; i < c->nbases; i++)
      json_object_array_add(b, json_object_new_string(repo_id(c->bases[i])));
    json_object_object_add(o, "bases", b);
    for (const idl_node *m = c->children; m; m = m->next) {
      if (m->kind == IDL_OPERATION) {
        json_object *op = json_object_new_object(),
                    *ps = json_object_new_array(),
                    *rs = json_object_new_array();
        json_object_object_add(op, "name", json_object_new_string(m->name));
        json_object_object_add(op, "oneway", json_object_new_boolean(
                                   (m->flags & IDL_F_ONEWAY) != 0));
        json_object_object_add(op, "result",
                               json_object_new_string(g_type_text(m->type)));
        for (const idl_node *p = m->children; p; p = p->next) {
          if (p->kind != IDL_PARAM)
            continue;
          json_object *po = json_object_new_object();
          json_object_object_add(po, "name", json_object_new_string(p->name));
          json_object_object_add(po, "dir", json_object_new_string(
                                     dirs[p->dir <= IDL_INOUT ? p->dir : 0]));
          json_object_object_add(po, "type",
                                 json_object_new_string(g_type_text(p->type)));
          json_object_array_add(ps, po);
        }
        json_object_object_add(op, "params", ps);
        for (size_t i = 0; i < m->nraises; i++)
          json_object_array_add(rs,
                                json_object_new_string(repo_id(m->raises[i])));
        json_object_object_add(op, "raises", rs);
        json_object_array_add(ops, op);
      } else if (m->kind == IDL_ATTRIBUTE) {
        json_object *at = json_object_new_object();
        json_object_object_add(at, "name", json_object_new_string(m->name));
        json_object_object_add(at, "readonly", json_object_new_boolean(
                                   (m->flags & IDL_F_READONLY) != 0));
        json_object_object_add(at, "type",
                               json_object_new_string(g_type_text(m->type)));
        json_object_array_add(attrs, at);
      }
    }
    json_object_object_add(o, "operations", ops);
    json_object_object_add(o, "attributes", attrs);
    json_object_array_add(arr, o);
  }
}

/* --json: {"interface", "type_id", "idl", "interfaces"} (interface and
 * type_id only when the description came from a server), from the text
 * in buf. */
static void
print_json(const idl_src *src, const char *iface, char *buf)
{
  printf("{");
  if (iface != NULL) {
    const idl_node *d = idlsrc_lookup((idl_src *)src, iface);
    printf("\"interface\":");
    cli_json_str(stdout, iface);
    printf(",\"type_id\":");
    cli_json_str(stdout, d ? repo_id(d) : "");
    printf(",");
  }
  printf("\"idl\":");
  cli_json_str(stdout, buf ? buf : "");
  json_object *arr = json_object_new_array();
  ifaces_json(arr, src->tree->root, iface == NULL, 0);
  printf(",\"interfaces\":%s}\n",
         json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
                                             JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put(arr);
}

static int
describe_run(cli *g, int argc, char **argv)
{
  idl_src src;
  const char *pos[2] = { NULL };
  int n = 0;
  if (idlsrc_args(&src, argc, argv) != 0)
    return CLI_USAGE;
  for (int i = 1; i < argc; i++)
    if (argv[i] != NULL) {
      if (n == 2)
        return cli_error(CLI_USAGE, "describe: unexpected '%s'", argv[i]);
      pos[n++] = argv[i];
    }
  if (src.idl == NULL) { /* ask the server: OBJECT or IDL:TYPE_ID */
    if (n == 0)
      return cli_error(CLI_USAGE, "describe: expected ENDPOINT (or --idl "
                       "FILE)");
    const char *what = n == 2 ? pos[1] : NULL;
    int is_tid = what && strncmp(what, "IDL:", 4) == 0;
    int st = cli_introspect_load(g, &src, pos[0], is_tid ? NULL : what,
                                 is_tid ? what : NULL);
    if (st == CLI_OK) {
      char *buf = NULL;
      size_t len = 0;
      FILE *f = g->json ? open_memstream(&buf, &len) : stdout;
      if (f == NULL)
        f = stdout;
      fprintf(f, "// %s served by %s\n", src.iface, pos[0]);
      for (const idl_node *c = src.tree->root->children; c; c = c->next)
        idl_print_decl(f, c, 0);
      if (f != stdout) {
        fclose(f);
        print_json(&src, src.iface, buf);
        free(buf);
      }
    }
    idlsrc_free(&src);
    return st;
  }
  if (idlsrc_load(&src) != 0)
    return CLI_USAGE;
  /* ENDPOINT is optional with --idl: the description comes from the file */
  const char *type = n == 2 ? pos[1]
                     : n == 1 && strchr(pos[0], ':') == NULL ? pos[0]
                     : n == 1 && strstr(pos[0], "::") ? pos[0] : NULL;
  int st = CLI_OK;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = g->json ? open_memstream(&buf, &len) : stdout;
  if (f == NULL)
    f = stdout;
  fprintf(f, "// described by plumb describe from %s\n", src.idl);
  if (type != NULL) {
    const idl_node *d = idlsrc_lookup(&src, type);
    if (d == NULL)
      st = cli_error(CLI_USAGE, "describe: no declaration '%s' in %s", type,
                     src.idl);
    else
      print_in_modules(f, d);
  } else {
    for (const idl_node *c = src.tree->root->children; c; c = c->next)
      if (node_main(c))
        idl_print_decl(f, c, 0);
  }
  if (f != stdout) {
    fclose(f);
    if (st == CLI_OK)
      print_json(&src, NULL, buf);
    free(buf);
  }
  idlsrc_free(&src);
  return st;
}

const cli_cmd cli_cmd_describe = {
  "describe", describe_run, "describe ENDPOINT [OBJECT | TYPE_ID] | "
  "describe --idl FILE [-I DIR]... [TYPE]",
  "Prints as IDL, which plumbc parses again (types fully scoped,\n"
  "constants and case labels evaluated), what the server at ENDPOINT\n"
  "serves for OBJECT (default: its default object) or TYPE_ID (IDL:...),\n"
  "asked by introspection (exit 4 if the server does not answer it); or,\n"
  "with --idl, the declarations of FILE, or only TYPE (a scoped name such\n"
  "as kv::Store) inside its modules.  With --json: {\"interface\",\n"
  "\"type_id\", \"idl\", \"interfaces\"} (interface and type_id from a\n"
  "server only; interfaces: operations, parameters with directions and\n"
  "types, exceptions, attributes, bases).\n",
};
