/* fuzz_naming.c - the CosNaming stringified-name parser that plumb-naming
 * runs on names from its peers (to_name, resolve_str) and libplumb on
 * name: endpoints (runtime/core/naming_names.c).  Property: whatever
 * parses formats back to a string that parses to the same components. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "naming_names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  plumb__nn_comp *c, *c2;
  size_t n, n2;
  if (plumb__nn_parse(s, 64, &c, &n) == 0) {
    size_t cap = 2 * size + 2 * n + 2, len = 0;
    char *f = malloc(cap);
    if (f == NULL)
      abort();
    f[0] = '\0';
    for (size_t i = 0; i < n; i++)
      if (plumb__nn_format_comp(f, cap, &len, c[i].id, c[i].kind) != 0)
        abort(); /* the bound above always suffices */
    if (plumb__nn_parse(f, 64, &c2, &n2) != 0 || n2 != n)
      abort();
    for (size_t i = 0; i < n; i++)
      if (strcmp(c[i].id, c2[i].id) != 0 || strcmp(c[i].kind, c2[i].kind))
        abort();
    plumb__nn_free(c2, n2);
    plumb__nn_free(c, n);
    free(f);
  }
  free(s);
  return 0;
}
