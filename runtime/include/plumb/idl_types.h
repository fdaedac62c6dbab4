/* plumb/idl_types.h - helpers for the IDL types plumb carries as text.
 *
 * `long double` travels as the C99 hex-float text of its value ("%La",
 * e.g. "0xc.8p-2"): exact on every platform that can hold the value, and a
 * plain protobuf string.  `fixed<d,s>` travels as decimal text
 * ("-123.45").  See docs/IDL-MAPPING.md, "long double" and "fixed".
 */
#ifndef PLUMB_IDL_TYPES_H
#define PLUMB_IDL_TYPES_H

#include <stddef.h>
#include "plumb/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for any long double as text, with the NUL. */
#define PLUMB_LDOUBLE_TEXT_MAX 64

/* Writes v as "%La" text into buf[size]: 0, or PLUMB_EINVAL if it does
 * not fit (size < PLUMB_LDOUBLE_TEXT_MAX never happens to fit all). */
PLUMB_API int plumb_ldouble_to_text(long double v, char *buf, size_t size);
/* Parses text written by plumb_ldouble_to_text (or any strtold form):
 * 0, or PLUMB_EINVAL for NULL, empty, trailing garbage or more than
 * PLUMB_LDOUBLE_TEXT_MAX - 1 bytes. */
PLUMB_API int plumb_ldouble_from_text(const char *s, long double *out);
/* Checks that s is a decimal "[-]digits[.digits]" with at most `digits`
 * significant digits, `scale` of them after the point (fixed<digits,
 * scale>): 0 or PLUMB_EINVAL. */
PLUMB_API int plumb_fixed_check(const char *s, unsigned digits,
                                unsigned scale);

#ifdef __cplusplus
}
#endif
#endif
