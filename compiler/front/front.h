/* front.h - entry points of the plumbc front end (a library the plumbc
 * driver and the tests both link): parse + check an IDL file or string into
 * an idl_tree (ast.h), reporting diagnostics through diag.h. */
#ifndef PLUMBC_FRONT_H
#define PLUMBC_FRONT_H

#include <stddef.h>
#include <stdio.h>
#include "ast.h"

typedef struct idl_options {
  const char *const *include_dirs; /* -I directories, searched in order */
  size_t ninclude_dirs;
  /* Applied in order before the main file is read (plumbc -D / -U):
   * "NAME" (defined as 1), "NAME=VALUE", or "-NAME" (undefined). */
  const char *const *macros;
  size_t nmacros;
  /* plumbc -E: when set, every token scanned (after #include and #if) is
   * also written here, with a `#line N "file"` marker wherever the file or
   * line jumps; NULL = off. */
  FILE *echo;
} idl_options;

/* Parses and checks `path`.  Returns the number of errors (0 = success);
 * diagnostics have been reported.  On success *out holds the tree (free it
 * with idl_tree_free); on error *out is NULL. */
int idl_parse_file(const char *path, const idl_options *opts, idl_tree **out);
/* The same for IDL text in memory; `name` is used as the file name in
 * diagnostics and for resolving relative #includes. */
int idl_parse_string(const char *name, const char *text,
                     const idl_options *opts, idl_tree **out);
/* In-memory input for tools and the fuzzer: files[0] is the main file and
 * #include resolves only among files[] by name ("dir/x.idl" as joined from
 * the includer's directory or an -I directory); the file system is never
 * touched.  max_input_bytes bounds the text scanned across all #includes
 * (0 = the default, 16 MiB, as for the other two entry points). */
typedef struct idl_memfile {
  const char *name;
  const char *text; /* need not be NUL-terminated */
  size_t len;
} idl_memfile;
int idl_parse_memory(const idl_memfile *files, size_t nfiles,
                     const idl_options *opts, size_t max_input_bytes,
                     idl_tree **out);
void idl_tree_free(idl_tree *t);
/* Every file read to make t, main file first, then the #included ones in
 * the order they were first read, named as opened ("dir/x.idl"; a file
 * reached twice by different names appears once).  Returns the count and
 * a malloc'd array in *names (the caller frees the array; the strings
 * belong to t).  For plumbc -M / --depfile. */
size_t idl_tree_files(const idl_tree *t, const char ***names);
/* plumbc -E: scans `path` as idl_parse_file does, writing the token stream
 * to opts->echo (which must be set), without parsing it.  Returns the
 * number of errors (scanner and preprocessor only). */
int idl_preprocess_file(const char *path, const idl_options *opts);

#endif
