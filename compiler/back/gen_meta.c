/* gen_meta.c - the metadata plumbc emits for introspection: per generated
 * file, the self-contained IDL of its interfaces (them, their bases and
 * every type they use, as idl_print.c prints them) as a NULL-terminated
 * array of string chunks, referenced from each plumb_interface.idl.  One
 * text per file keeps generated code linear in the IDL (a per-interface
 * text would repeat the bases of an inheritance chain).  It is the IDL of
 * the file's interfaces, nothing more; unused constants and types are
 * left out.  Chunks stay far below the 4095 bytes ISO C guarantees for a
 * string literal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "back.h"
#include "idl_print.h"

#define CHUNK 1000

static void
close_all(idl_print_set *s, const idl_node *n)
{
  for (const idl_node *c = n->children; c; c = c->next) {
    if (c->kind == IDL_INTERFACE && node_main(c))
      idl_print_closure(s, c);
    else if (c->kind == IDL_MODULE)
      close_all(s, c);
  }
}

/* The table of the file being written: made at the first interface gen_c
 * writes into t (its order need not be the tree's), reused by the rest. */
static FILE *done_f;
static char done_name[300];

const char *
gen_meta_iface(gout *t, const idl_node *iface)
{
  const idl_node *root = iface;
  while (root->parent)
    root = root->parent;
  if (t->f != NULL && t->f == done_f)
    return gstr("%s", done_name);
  const char *name = gstr("%s__idl", cname(iface));
  done_f = t->f;
  snprintf(done_name, sizeof done_name, "%s", name);
  idl_print_set set = { 0 };
  char *text = NULL;
  size_t tlen = 0;
  close_all(&set, root);
  FILE *mf = open_memstream(&text, &tlen);
  if (mf != NULL) {
    idl_print_set_print(mf, root, &set);
    fclose(mf);
  }
  idl_print_set_free(&set);
  if (text == NULL) {
    back_error(&iface->loc, "out of memory printing %s", iface->name);
    return "NULL";
  }
  gout_printf(t, "/* The interfaces of this file and every type they use, "
              "as IDL, for\n * introspection (plumb docs/TOOLS.md); shared "
              "by all of them. */\n"
              "static const char *const %s[] = {\n", name);
  size_t len = strlen(text), at = 0;
  while (at < len) {
    size_t n = len - at;
    if (n > CHUNK) { /* cut after a newline when there is one */
      n = CHUNK;
      for (size_t k = CHUNK; k > CHUNK / 2; k--)
        if (text[at + k - 1] == '\n') {
          n = k;
          break;
        }
    }
    char save = text[at + n];
    text[at + n] = '\0';
    gout_printf(t, "  %s,\n", c_string_lit(text + at));
    text[at + n] = save;
    at += n;
  }
  gout_printf(t, "  NULL\n};\n");
  free(text);
  return name;
}
