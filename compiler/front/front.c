/* front.c - the front end's entry points (front.h): read the main file
 * (from disk, a string or in-memory files), start the diagnostics budget,
 * run the scanner/preprocessor and parser, then the semantic checks, and
 * hand the checked tree to the caller or free it.  The checks only run when
 * scanning and parsing reported no error, so a syntax error is never
 * followed by a cascade of "undefined type" errors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "front_int.h"

typedef struct front_priv {
  pfile *files;
  pdoc *docs; /* the texts idl_node.doc points at */
  size_t ndocs;
} front_priv;

void
idl_tree_free(idl_tree *t)
{
  front_priv *p;
  if (t == NULL)
    return;
  node_free(t->root);
  for (size_t i = 0; i < t->nincludes; i++)
    free((char *)t->includes[i]);
  free(t->includes);
  p = t->priv;
  if (p != NULL) {
    pfile *f = p->files;
    doc_free_all(p->docs, p->ndocs);
    while (f != NULL) {
      pfile *next = f->next;
      diag_unregister_source(f->name);
      free(f->name);
      free(f->text);
      free(f->guard);
      free(f);
      f = next;
    }
    free(p);
  }
  free(t);
}

size_t
idl_tree_files(const idl_tree *t, const char ***names)
{
  const front_priv *p = t != NULL ? t->priv : NULL;
  size_t n = 0, i;
  const pfile *f;
  *names = NULL;
  if (p == NULL)
    return 0;
  for (f = p->files; f != NULL; f = f->next)
    n++;
  *names = xcalloc(n ? n : 1, sizeof **names);
  /* the list is newest first: fill it from the end */
  for (f = p->files, i = n; f != NULL; f = f->next)
    (*names)[--i] = f->name;
  return n;
}

static int
front_run(pstate *ps, pfile *main, idl_tree **out)
{
  unsigned before = diag_error_count();
  idl_tree *t = xcalloc(1, sizeof *t);
  front_priv *priv = xcalloc(1, sizeof *priv);
  idl_loc loc = {main->name, 1, 1};
  int rc;
  int errors;

  t->priv = priv;
  t->main_file = main->name;
  ps->tree = t;
  ps->main_file = main->name;
  t->root = node_new(ps, IDL_ROOT, NULL, loc);
  pp_predefine(ps);
  if (!pp_charge(ps, main, NULL)) {
    /* reported: the main file alone is over the input limit */
  } else if (lex_init(ps, main) != 0) {
    diag_error(NULL, "cannot initialise the scanner");
  } else {
    rc = front_yyparse_run(ps);
    if (rc != 0 && diag_error_count() == before)
      diag_error(NULL, "parser ran out of memory");
  }
  lex_destroy(ps);
  pp_free(ps);
  doc_attach(ps, t->root);
  priv->docs = ps->docs;
  priv->ndocs = ps->ndocs;
  ps->docs = NULL;
  t->includes = ps->includes;
  t->nincludes = ps->nincludes;
  priv->files = ps->files;
  ps->files = NULL;
  if (diag_error_count() == before && !ps->fatal)
    check_tree(ps, t);
  for (size_t i = 0; i < ps->nuser_annos; i++)
    free(ps->user_annos[i]);
  ps->nuser_annos = 0;
  errors = (int)(diag_error_count() - before);
  if (errors > 0) {
    idl_tree_free(t);
    t = NULL;
  }
  if (out != NULL)
    *out = t;
  else
    idl_tree_free(t);
  return errors;
}

int
idl_parse_file(const char *path, const idl_options *opts, idl_tree **out)
{
  pstate ps;
  pfile *main;

  if (out != NULL)
    *out = NULL;
  memset(&ps, 0, sizeof ps);
  ps.opts = opts;
  diag_limits(0);
  errno = 0;
  main = pp_read_file(&ps, path, NULL);
  if (main == NULL) {
    diag_error(NULL, "cannot open '%s': %s", path,
               strerror(errno ? errno : ENOENT));
    return 1;
  }
  return front_run(&ps, main, out);
}

int
idl_parse_string(const char *name, const char *text, const idl_options *opts,
                 idl_tree **out)
{
  pstate ps;
  if (out != NULL)
    *out = NULL;
  memset(&ps, 0, sizeof ps);
  ps.opts = opts;
  diag_limits(0);
  return front_run(&ps, pp_add_text(&ps, name, text), out);
}

int
idl_parse_memory(const idl_memfile *files, size_t nfiles,
                 const idl_options *opts, size_t max_input_bytes,
                 idl_tree **out)
{
  pstate ps;
  pfile *main;
  if (out != NULL)
    *out = NULL;
  memset(&ps, 0, sizeof ps);
  ps.opts = opts;
  ps.memfiles = files;
  ps.nmemfiles = nfiles;
  ps.max_bytes = max_input_bytes;
  diag_limits(0);
  main = nfiles > 0 && files[0].name != NULL
             ? pp_read_file(&ps, files[0].name, NULL)
             : NULL;
  if (main == NULL) {
    diag_error(NULL, "no main file given");
    return 1;
  }
  return front_run(&ps, main, out);
}

int
idl_preprocess_file(const char *path, const idl_options *opts)
{
  pstate ps;
  pfile *main;
  unsigned before;
  idl_tree *t;
  front_priv *priv;
  idl_loc loc;

  if (opts == NULL || opts->echo == NULL)
    return 1;
  memset(&ps, 0, sizeof ps);
  ps.opts = opts;
  diag_limits(0);
  before = diag_error_count();
  errno = 0;
  main = pp_read_file(&ps, path, NULL);
  if (main == NULL) {
    diag_error(NULL, "cannot open '%s': %s", path,
               strerror(errno ? errno : ENOENT));
    return 1;
  }
  /* a tree only to own the files and nodes the scanner makes */
  t = xcalloc(1, sizeof *t);
  priv = xcalloc(1, sizeof *priv);
  loc.file = main->name;
  loc.line = 1;
  loc.col = 1;
  t->priv = priv;
  t->main_file = main->name;
  ps.tree = t;
  ps.main_file = main->name;
  t->root = node_new(&ps, IDL_ROOT, NULL, loc);
  pp_predefine(&ps);
  if (!pp_charge(&ps, main, NULL)) {
    /* reported */
  } else if (lex_init(&ps, main) != 0) {
    diag_error(NULL, "cannot initialise the scanner");
  } else {
    lex_scan_all(&ps);
  }
  lex_destroy(&ps);
  pp_free(&ps);
  doc_attach(&ps, NULL);
  priv->docs = ps.docs;
  priv->ndocs = ps.ndocs;
  t->includes = ps.includes;
  t->nincludes = ps.nincludes;
  priv->files = ps.files;
  idl_tree_free(t);
  return (int)(diag_error_count() - before);
}
