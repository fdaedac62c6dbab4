/* compat.h - `plumbc --check-compat OLD.idl NEW.idl`: compares two versions
 * of an IDL file on the wire model the generators use (field numbers,
 * operation indexes, repository ids, bounds) and reports every change as
 * breaking, source (C source changes, wire unchanged) or safe.  The rules
 * are written down in docs/IDL-MAPPING.md, "Compatibility rules".
 */
#ifndef PLUMBC_COMPAT_H
#define PLUMBC_COMPAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct compat_options {
  const char *const *include_dirs; /* -I directories, used for both files */
  size_t ninclude_dirs;
  bool strict; /* source-only changes make the exit status 1 too */
  FILE *out;   /* where the report goes (stdout if NULL) */
} compat_options;

/* Parses both files (diagnostics on stderr), prints one line per change and
 * a summary.  Returns the exit status: 0 nothing breaks, 1 something does
 * (or, with strict, a source-only change), 2 a file did not parse. */
int compat_check(const char *old_path, const char *new_path,
                 const compat_options *o);

#endif
