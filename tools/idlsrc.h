/* idlsrc.h - `--idl FILE [-I DIR]...` for the plumb CLI (idlsrc.c): the
 * IDL parsed by plumbc's front end, and lookups of interfaces and
 * operations in it. */
#ifndef PLUMB_IDLSRC_H
#define PLUMB_IDLSRC_H

#include "back.h"

typedef struct idl_src {
  const char *idl;       /* --idl FILE, NULL if not given */
  const char *dirs[32];  /* -I DIR, then plumb's IDL directory */
  size_t ndirs;
  const char *iface;     /* --interface NAME */
  idl_tree *tree;
  int owned_iface;       /* iface malloc'd (set by introspection) */
} idl_src;

/* Takes --idl, -I and --interface out of argv (setting them to NULL).
 * 0, or -1 after reporting a usage error. */
int idlsrc_args(idl_src *s, int argc, char **argv);
/* Parses s->idl; 0 or -1 (diagnostics reported). */
int idlsrc_load(idl_src *s);
/* Parses IDL text (from a server's introspection) named name. */
int idlsrc_load_text(idl_src *s, const char *name, const char *text);
/* The operation `name` ("op", "Iface.op", "M::Iface::op", "_get_attr")
 * of the interface chosen by --interface or by the name, searching
 * inherited operations too.  NULL after reporting why. */
const gop *idlsrc_find_op(idl_src *s, const char *name);
/* Calls fn for every interface of the main file (not #included ones). */
void idlsrc_each_iface(idl_src *s, void (*fn)(const idl_node *, void *),
                       void *arg);
/* The declaration of scoped name (with or without leading "::"). */
const idl_node *idlsrc_lookup(idl_src *s, const char *scoped);
void idlsrc_free(idl_src *s);

#endif
