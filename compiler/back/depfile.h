/* depfile.h - make-style dependency rules for plumbc -M / --depfile
 * (depfile.c). */
#ifndef PLUMBC_DEPFILE_H
#define PLUMBC_DEPFILE_H

#include <stddef.h>
#include <stdio.h>

/* "targets...: deps..." to f; 0 or -1 (reported). */
int depfile_write(FILE *f, const char *const *targets, size_t ntargets,
                  const char *const *deps, size_t ndeps);
/* The same into the file `path` (replaced; removed on error). */
int depfile_save(const char *path, const char *const *targets,
                 size_t ntargets, const char *const *deps, size_t ndeps);

#endif
