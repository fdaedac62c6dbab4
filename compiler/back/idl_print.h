/* idl_print.h - the checked tree printed back as IDL (idl_print.c). */
#ifndef PLUMBC_IDL_PRINT_H
#define PLUMBC_IDL_PRINT_H

#include <stdio.h>

#include "ast.h"

/* One declaration (and what it contains), indented by ind levels. */
void idl_print_decl(FILE *f, const idl_node *n, int ind);
void idl_print_type(FILE *f, const idl_type *t);

/* Declarations chosen for printing: `full` ones whole, `fwd` interfaces
 * as forward declarations only. */
typedef struct idl_print_pset { /* a set of nodes: open addressing */
  const idl_node **slot;
  size_t n, cap;
} idl_print_pset;
typedef struct idl_print_set {
  idl_print_pset full, fwd;
  idl_print_pset mods; /* modules holding a chosen declaration (printing) */
} idl_print_set;

/* Adds iface, its bases and every type its operations and attributes use
 * (transitively) to s; interfaces used only as object references are
 * forward-declared.  A type nested in another interface brings that
 * interface whole. */
void idl_print_closure(idl_print_set *s, const idl_node *iface);
/* Prints the chosen declarations of tree root in declaration order inside
 * their modules: a self-contained IDL text plumbc parses. */
void idl_print_set_print(FILE *f, const idl_node *root, idl_print_set *s);
void idl_print_set_free(idl_print_set *s);
/* The self-contained IDL of iface as a malloc'd string (NULL: no memory). */
char *idl_print_iface_text(const idl_node *iface);

#endif
