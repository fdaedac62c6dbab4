/* cmd_describe.c - `plumb describe` and `plumb list`.  describe --idl
 * prints the IDL back from plumbc's tree (every declaration of the main
 * file, or one TYPE with its enclosing modules), in a form plumbc parses
 * again; list and describe without --idl need the server's introspection,
 * which this build does not have yet: they say so (exit 4). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "idlsrc.h"

static void print_decl(FILE *f, const idl_node *n, int ind);

static void
pad(FILE *f, int ind)
{
  fprintf(f, "%*s", ind * 2, "");
}

static void
print_type(FILE *f, const idl_type *t)
{
  switch (t->kind) {
  case IDL_T_VOID: fputs("void", f); return;
  case IDL_T_BOOLEAN: fputs("boolean", f); return;
  case IDL_T_CHAR: fputs("char", f); return;
  case IDL_T_WCHAR: fputs("wchar", f); return;
  case IDL_T_OCTET: fputs("octet", f); return;
  case IDL_T_INT8: fputs("int8", f); return;
  case IDL_T_UINT8: fputs("uint8", f); return;
  case IDL_T_SHORT: fputs("short", f); return;
  case IDL_T_USHORT: fputs("unsigned short", f); return;
  case IDL_T_LONG: fputs("long", f); return;
  case IDL_T_ULONG: fputs("unsigned long", f); return;
  case IDL_T_LLONG: fputs("long long", f); return;
  case IDL_T_ULLONG: fputs("unsigned long long", f); return;
  case IDL_T_FLOAT: fputs("float", f); return;
  case IDL_T_DOUBLE: fputs("double", f); return;
  case IDL_T_STRING: case IDL_T_WSTRING:
    fputs(t->kind == IDL_T_STRING ? "string" : "wstring", f);
    if (t->bound)
      fprintf(f, "<%" PRIu64 ">", t->bound);
    return;
  case IDL_T_SEQUENCE:
    fputs("sequence<", f);
    print_type(f, t->elem);
    if (t->bound)
      fprintf(f, ", %" PRIu64, t->bound);
    fputs(">", f);
    return;
  case IDL_T_ANY: fputs("any", f); return;
  case IDL_T_OBJECT: fputs("Object", f); return;
  case IDL_T_NAMED: {
    /* the fully scoped name: valid wherever it is printed */
    char *sn = t->ref ? idl_scoped_name(t->ref) : NULL;
    fputs(sn ? sn : t->name, f);
    free(sn);
    return;
  }
  }
}

static void
print_dims(FILE *f, const idl_node *n)
{
  for (size_t i = 0; i < n->ndims; i++)
    fprintf(f, "[%" PRIu64 "]", n->dims[i]);
}

static void
print_value(FILE *f, const idl_value *v, const idl_type *t)
{
  switch (v->kind) {
  case IDL_V_INT: fprintf(f, "%" PRId64, v->i); break;
  case IDL_V_UINT: fprintf(f, "%" PRIu64, v->u); break;
  case IDL_V_FLOAT: fprintf(f, "%.17g", v->f); break;
  case IDL_V_BOOL: fputs(v->b ? "TRUE" : "FALSE", f); break;
  case IDL_V_CHAR:
    if (v->u >= 32 && v->u < 127 && v->u != '\'' && v->u != '\\')
      fprintf(f, "'%c'", (char)v->u);
    else
      fprintf(f, "'\\x%02" PRIx64 "'", v->u & 0xff);
    break;
  case IDL_V_STRING:
    fputc('"', f);
    for (const char *p = v->s ? v->s : ""; *p; p++) {
      if (*p == '"' || *p == '\\')
        fprintf(f, "\\%c", *p);
      else if ((unsigned char)*p < 32)
        fprintf(f, "\\x%02x", (unsigned char)*p);
      else
        fputc(*p, f);
    }
    fputc('"', f);
    break;
  case IDL_V_ENUM: {
    char *sn = idl_scoped_name(v->e);
    fputs(sn ? sn : v->e->name, f);
    free(sn);
    break;
  }
  default: fputs("0", f); break;
  }
  (void)t;
}

static void
print_members(FILE *f, const idl_node *n, int ind)
{
  for (const idl_node *m = n->children; m; m = m->next) {
    if (m->kind != IDL_MEMBER) {
      print_decl(f, m, ind);
      continue;
    }
    pad(f, ind);
    print_type(f, m->type);
    fprintf(f, " %s", m->name);
    print_dims(f, m);
    fputs(";\n", f);
  }
}

static void
print_op(FILE *f, const idl_node *o, int ind)
{
  pad(f, ind);
  if (o->flags & IDL_F_ONEWAY)
    fputs("oneway ", f);
  print_type(f, o->type);
  fprintf(f, " %s(", o->name);
  int first = 1;
  for (const idl_node *p = o->children; p; p = p->next) {
    if (p->kind != IDL_PARAM)
      continue;
    fprintf(f, "%s%s ", first ? "" : ", ",
            p->dir == IDL_IN ? "in" : p->dir == IDL_OUT ? "out" : "inout");
    print_type(f, p->type);
    fprintf(f, " %s", p->name);
    first = 0;
  }
  fputs(")", f);
  for (size_t i = 0; i < o->nraises; i++) {
    char *sn = idl_scoped_name(o->raises[i]);
    fprintf(f, "%s%s", i ? ", " : " raises (", sn);
    free(sn);
  }
  fputs(o->nraises ? ");\n" : ";\n", f);
}

static void
print_decl(FILE *f, const idl_node *n, int ind)
{
  switch (n->kind) {
  case IDL_MODULE:
    pad(f, ind);
    fprintf(f, "module %s {\n", n->name);
    for (const idl_node *c = n->children; c; c = c->next)
      print_decl(f, c, ind + 1);
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_FORWARD:
    pad(f, ind);
    fprintf(f, "interface %s;\n", n->name);
    return;
  case IDL_INTERFACE:
    pad(f, ind);
    fprintf(f, "interface %s", n->name);
    for (size_t i = 0; i < n->nbases; i++) {
      char *sn = idl_scoped_name(n->bases[i]);
      fprintf(f, "%s%s", i ? ", " : " : ", sn);
      free(sn);
    }
    fputs(" {\n", f);
    for (const idl_node *c = n->children; c; c = c->next) {
      if (c->kind == IDL_OPERATION) {
        print_op(f, c, ind + 1);
      } else if (c->kind == IDL_ATTRIBUTE) {
        pad(f, ind + 1);
        fputs(c->flags & IDL_F_READONLY ? "readonly attribute " :
              "attribute ", f);
        print_type(f, c->type);
        fprintf(f, " %s;\n", c->name);
      } else {
        print_decl(f, c, ind + 1);
      }
    }
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_STRUCT: case IDL_EXCEPTION:
    pad(f, ind);
    fprintf(f, "%s %s {\n", n->kind == IDL_STRUCT ? "struct" : "exception",
            n->name);
    print_members(f, n, ind + 1);
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_UNION:
    pad(f, ind);
    fprintf(f, "union %s switch (", n->name);
    print_type(f, n->type);
    fputs(") {\n", f);
    for (const idl_node *c = n->children; c; c = c->next) {
      if (c->kind != IDL_CASE)
        continue;
      for (size_t i = 0; i < c->nlabels; i++) {
        pad(f, ind + 1);
        fputs("case ", f);
        print_value(f, &c->labels[i], n->type);
        fputs(":\n", f);
      }
      if (c->flags & IDL_F_DEFAULT) {
        pad(f, ind + 1);
        fputs("default:\n", f);
      }
      pad(f, ind + 2);
      print_type(f, c->type);
      fprintf(f, " %s", c->name);
      print_dims(f, c);
      fputs(";\n", f);
    }
    pad(f, ind);
    fputs("};\n", f);
    return;
  case IDL_ENUM: {
    pad(f, ind);
    fprintf(f, "enum %s { ", n->name);
    int first = 1;
    for (const idl_node *e = n->children; e; e = e->next)
      if (e->kind == IDL_ENUMERATOR) {
        fprintf(f, "%s%s", first ? "" : ", ", e->name);
        first = 0;
      }
    fputs(" };\n", f);
    return;
  }
  case IDL_TYPEDEF:
    pad(f, ind);
    fputs("typedef ", f);
    print_type(f, n->type);
    fprintf(f, " %s", n->name);
    print_dims(f, n);
    fputs(";\n", f);
    return;
  case IDL_CONST:
    pad(f, ind);
    fputs("const ", f);
    print_type(f, n->type);
    fprintf(f, " %s = ", n->name);
    print_value(f, &n->value, n->type);
    fputs(";\n", f);
    return;
  default:
    return;
  }
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
  print_decl(f, n, k);
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
        print_decl(stdout, c, 0);
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
