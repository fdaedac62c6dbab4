/* idl_types.c - text wire forms of IDL long double and fixed
 * (plumb/idl_types.h): formatting, bounded parsing and validation.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/idl_types.h"
#include "plumb/status.h"

int
plumb_ldouble_to_text(long double v, char *buf, size_t size)
{
  int n;
  if (buf == NULL || size == 0)
    return PLUMB_EINVAL;
  n = snprintf(buf, size, "%La", v);
  if (n < 0 || (size_t)n >= size)
    return PLUMB_EINVAL;
  return PLUMB_OK;
}

int
plumb_ldouble_from_text(const char *s, long double *out)
{
  char *end;
  size_t n;
  if (s == NULL || out == NULL)
    return PLUMB_EINVAL;
  n = strnlen(s, PLUMB_LDOUBLE_TEXT_MAX);
  if (n == 0 || n >= PLUMB_LDOUBLE_TEXT_MAX)
    return PLUMB_EINVAL;
  errno = 0;
  *out = strtold(s, &end);
  if (end == s || *end != '\0')
    return PLUMB_EINVAL;
  return PLUMB_OK;
}

int
plumb_fixed_check(const char *s, unsigned digits, unsigned scale)
{
  unsigned intd = 0, frac = 0;
  const char *p = s;
  bool lead = true;
  if (s == NULL || digits == 0 || digits > 31 || scale > digits)
    return PLUMB_EINVAL;
  if (*p == '-')
    p++;
  if (*p < '0' || *p > '9')
    return PLUMB_EINVAL;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (lead && *p == '0')
      continue;
    lead = false;
    if (++intd > digits)
      return PLUMB_EINVAL;
  }
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9')
      return PLUMB_EINVAL;
    for (unsigned k = 1; *p >= '0' && *p <= '9'; p++, k++) {
      if (*p != '0')
        frac = k; /* trailing zeros do not count */
      if (k > 62)
        return PLUMB_EINVAL;
    }
    if (frac > scale)
      return PLUMB_EINVAL;
  }
  if (*p != '\0' || intd + scale > digits)
    return PLUMB_EINVAL;
  return PLUMB_OK;
}
