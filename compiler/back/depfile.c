/* depfile.c - plumbc -M / --depfile: writes a make-style dependency rule
 * "OUT1 OUT2 ...: IN1 IN2 ..." naming every file the front end read (the
 * main IDL file and everything reached through #include), the form gcc -MD
 * writes and both make and ninja (meson's custom_target depfile:) read.
 * Names are escaped for make: a space or '#' gets a backslash, '$' is
 * doubled; a name holding a newline cannot be written (error).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "depfile.h"

/* Writes name escaped; -1 if it cannot be represented. */
static int
put_name(FILE *f, const char *name)
{
  for (const char *p = name; *p != '\0'; p++) {
    if (*p == '\n' || *p == '\r')
      return -1;
    if (*p == ' ' || *p == '\t' || *p == '#' || *p == '\\')
      fputc('\\', f);
    else if (*p == '$')
      fputc('$', f);
    fputc(*p, f);
  }
  return 0;
}

int
depfile_write(FILE *f, const char *const *targets, size_t ntargets,
              const char *const *deps, size_t ndeps)
{
  for (size_t i = 0; i < ntargets; i++) {
    if (i > 0)
      fputs(" \\\n ", f);
    if (put_name(f, targets[i]) != 0) {
      fprintf(stderr, "plumbc: cannot write a dependency rule for '%s': "
                      "the name holds a newline\n", targets[i]);
      return -1;
    }
  }
  fputc(':', f);
  for (size_t i = 0; i < ndeps; i++) {
    fputs(" \\\n  ", f);
    if (put_name(f, deps[i]) != 0) {
      fprintf(stderr, "plumbc: cannot write a dependency rule for '%s': "
                      "the name holds a newline\n", deps[i]);
      return -1;
    }
  }
  fputc('\n', f);
  return 0;
}

int
depfile_save(const char *path, const char *const *targets, size_t ntargets,
             const char *const *deps, size_t ndeps)
{
  FILE *f = fopen(path, "w");
  int rc;
  if (f == NULL) {
    fprintf(stderr, "plumbc: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  rc = depfile_write(f, targets, ntargets, deps, ndeps);
  if (fclose(f) != 0 && rc == 0) {
    fprintf(stderr, "plumbc: cannot write %s: %s\n", path, strerror(errno));
    rc = -1;
  }
  if (rc != 0)
    remove(path);
  return rc;
}
