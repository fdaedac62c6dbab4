/* naming_names.h - CosNaming stringified names (naming_names.c); used by
 * libplumb (plumb_naming_*) and compiled into plumb-naming too. */
#ifndef PLUMB__NAMING_NAMES_H
#define PLUMB__NAMING_NAMES_H

#include <stddef.h>

/* One component of a parsed name (malloc'd strings). */
typedef struct plumb__nn_comp {
  char *id, *kind;
} plumb__nn_comp;

/* Parses a stringified name ("a/b.kind/c\\/d"): components separated by
 * '/', id and kind by the first unescaped '.', '\' escapes '/', '.' and
 * '\'.  0 with *out (malloc'd, plumb__nn_free) or -1 if sn is not a valid name
 * (empty, an empty component, a trailing '\'). At most max components. */
int plumb__nn_parse(const char *sn, size_t max, plumb__nn_comp **out, size_t *n);
void plumb__nn_free(plumb__nn_comp *c, size_t n);
/* Appends the escaped form of one component to buf (size cap) at *len; -1
 * if it does not fit. */
int plumb__nn_format_comp(char *buf, size_t cap, size_t *len, const char *id,
                   const char *kind);

#endif
