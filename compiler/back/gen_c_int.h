/* gen_c_int.h - what gen_c.c shares with the C back end's other parts
 * (gen_async.c): the parameter and stub helpers, and the async hooks.
 * Internal to compiler/back. */
#ifndef PLUMBC_GEN_C_INT_H
#define PLUMBC_GEN_C_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "back.h"

/* gen_c.c */
const char *gen_c_decl(const char *ctype, const char *name);
bool gen_c_op_out_ptr(const gop *op);
bool gen_c_op_has_out(const gop *op);
/* Is p passed to the stub tables as the address of its value (an
 * in-scalar or in-string; as_in: an inout one seen by _begin)? */
bool gen_c_arg_by_value(const gparam *p, bool as_in);
/* Functions of one generated .c file whose bodies and prototypes are the
 * same (key) are written once: the first under its name, the others as
 * aliases of it (`int name(...) __attribute__((alias("first")));`), which
 * cost the compiler nothing.  Writes the alias of `name` with prototype
 * `proto` ("int name(...)") into o and returns true if key was seen;
 * otherwise records name under key and returns false (write the body). */
bool gen_c_alias(gout *o, const char *key, const char *name,
                 const char *proto);

/* gen_async.c: the asynchronous stubs of an interface's own operations
 * (docs/IDL-MAPPING.md, "Asynchronous calls"): prototypes into h, code
 * into cl. */
void gen_async_protos(gout *h, const idl_node *iface, const gop *own,
                      size_t nown);
void gen_async_stubs(gout *cl, const idl_node *iface, const gop *own,
                     size_t nown, const char *const *sigs);

#endif
