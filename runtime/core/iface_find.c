/* iface_find.c - plumb_interface_find_op(): which operation an interface
 * offers for a (declaring interface id, index) pair, following inheritance.
 *
 * Generated tables list only each interface's own operations; inherited ones
 * live in the bases' tables (plumb/generated.h).  The walk is iterative and
 * bounded (interfaces visited, pending bases, remembered interfaces), so a
 * deep chain or a lattice of diamonds costs at most a fixed amount of work
 * per lookup and never recursion. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plumb/generated.h"

#define FIND_MAX_VISITS 65536 /* interfaces looked at per lookup */
#define FIND_MAX_PENDING 256  /* bases waiting to be looked at */
#define FIND_MAX_SEEN 256     /* interfaces remembered below a diamond */

typedef struct find_ent {
  const plumb_interface *iface;
  const char *impl;
  bool branched; /* some interface above this one has several bases */
} find_ent;

static bool
seen_add(const plumb_interface **seen, size_t *n, const plumb_interface *i,
         bool *full)
{
  for (size_t k = 0; k < *n; k++)
    if (seen[k] == i)
      return false;
  if (*n == FIND_MAX_SEEN) {
    *full = true;
    return false;
  }
  seen[(*n)++] = i;
  return true;
}

const plumb_operation *
plumb_interface_find_op(const plumb_interface *iface, uint32_t decl_iface,
                        uint32_t decl_index, const void **impl)
{
  find_ent stack[FIND_MAX_PENDING];
  const plumb_interface *seen[FIND_MAX_SEEN];
  size_t n = 0, nseen = 0, visits = 0;
  bool full = false;

  if (iface == NULL)
    return NULL;
  stack[n++] = (find_ent){ iface, impl ? *impl : NULL, false };
  while (n > 0 && visits++ < FIND_MAX_VISITS) {
    find_ent e = stack[--n];
    /* On a path with no multiple inheritance above it an interface is met
     * for the first time; below a diamond, skip what was already walked. */
    if (e.branched && !seen_add(seen, &nseen, e.iface, &full)) {
      if (full)
        return NULL;
      continue;
    }
    if (e.iface->id == decl_iface) {
      if (decl_index >= e.iface->n_ops)
        return NULL;
      if (impl)
        *impl = e.impl;
      return &e.iface->ops[decl_index];
    }
    if (e.iface->n_bases > FIND_MAX_PENDING - n)
      return NULL;
    bool br = e.branched || e.iface->n_bases > 1;
    for (size_t b = e.iface->n_bases; b-- > 0;) {
      const plumb_interface *bi = e.iface->bases[b];
      size_t off = e.iface->base_offsets ? e.iface->base_offsets[b] : 0;
      if (bi == NULL)
        continue;
      stack[n++] = (find_ent){ bi, e.impl ? e.impl + off : NULL, br };
    }
  }
  return NULL;
}
