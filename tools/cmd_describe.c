/* cmd_describe.c - `plumb describe` and `plumb list`.  describe --idl
 * prints the IDL back from plumbc's tree (every declaration of the main
 * file, or one TYPE with its enclosing modules), in a form plumbc parses
 * again; list and describe without --idl need the server's introspection,
 * which this build does not have yet: they say so (exit 4). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "idl_print.h"
#include "idlsrc.h"

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

static int
describe_run(cli *g, int argc, char **argv)
{
  idl_src src;
  const char *pos[2] = { NULL };
  int n = 0;
  (void)g;

  if (idlsrc_args(&src, argc, argv) != 0)
    return CLI_USAGE;
  for (int i = 1; i < argc; i++)
    if (argv[i] != NULL) {
      if (n == 2)
        return cli_error(CLI_USAGE, "describe: unexpected '%s'", argv[i]);
      pos[n++] = argv[i];
    }
  if (src.idl == NULL)
    return cli_error(CLI_NOINFO, "describe: this plumb cannot read a "
                     "server's interfaces by introspection yet; give the "
                     "IDL with --idl FILE");
  if (idlsrc_load(&src) != 0)
    return CLI_USAGE;
  /* ENDPOINT is optional with --idl: the description comes from the file */
  const char *type = n == 2 ? pos[1]
                     : n == 1 && strchr(pos[0], ':') == NULL ? pos[0]
                     : n == 1 && strstr(pos[0], "::") ? pos[0] : NULL;
  int st = CLI_OK;
  printf("// described by plumb describe from %s\n", src.idl);
  if (type != NULL) {
    const idl_node *d = idlsrc_lookup(&src, type);
    if (d == NULL)
      st = cli_error(CLI_USAGE, "describe: no declaration '%s' in %s", type,
                     src.idl);
    else
      print_in_modules(stdout, d);
  } else {
    for (const idl_node *c = src.tree->root->children; c; c = c->next)
      if (node_main(c))
        idl_print_decl(stdout, c, 0);
  }
  idlsrc_free(&src);
  return st;
}

static int
list_run(cli *g, int argc, char **argv)
{
  (void)g;
  (void)argc;
  (void)argv;
  return cli_error(CLI_NOINFO, "list: this plumb cannot ask a server for "
                   "its objects yet (introspection is not built); see "
                   "docs/TOOLS.md");
}

const cli_cmd cli_cmd_describe = {
  "describe", describe_run, "describe --idl FILE [-I DIR]... [ENDPOINT] "
  "[TYPE]",
  "Prints the declarations of FILE (or only TYPE, a scoped name such as\n"
  "kv::Store, inside its modules) back as IDL that plumbc parses again:\n"
  "types fully scoped, constants and case labels evaluated.  Without\n"
  "--idl the server's introspection would be asked, which this build\n"
  "does not have yet (exit 4).\n",
};
const cli_cmd cli_cmd_list = {
  "list", list_run, "list ENDPOINT",
  "Lists the objects of a server and their interfaces, by introspection\n"
  "(not in this build yet: exit 4).\n",
};
