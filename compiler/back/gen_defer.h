/* gen_defer.h - the deferred-reply helpers gen_c.c emits per interface
 * (gen_defer.c). */
#ifndef PLUMBC_GEN_DEFER_H
#define PLUMBC_GEN_DEFER_H

#include "back.h"

/* Declares (in h) and defines (in sv) I_op_reply and I_op_raise_E for the
 * two-way operations own[0..nown) of interface iface; sigs[i] names
 * own[i]'s signature table. */
void gen_defer(gout *h, gout *sv, const idl_node *iface, const gop *own,
               size_t nown, const char *const *sigs);

#endif
