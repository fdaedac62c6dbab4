/* gfmt.h - the back ends' printf: the conversions generated code is made of
 * (%s %c, %d %u %x with l or z, %%, a width in digits or '*', a ".*"
 * precision, the '-' and '0' flags) formatted without stdio's machinery; any other conversion falls back to
 * vsnprintf for the whole format.  It exists for speed alone: on
 * gen_big_idl.py 20000 vsnprintf/vfprintf were a third of plumbc's time. */
#ifndef PLUMBC_GFMT_H
#define PLUMBC_GFMT_H

#include <stdarg.h>
#include <stddef.h>

typedef struct gfmt_buf {
  char *p; /* NUL-terminated after each call; owned, grown with realloc */
  size_t len, cap;
} gfmt_buf;

/* Appends fmt formatted with ap to b; returns the number of bytes appended
 * or -1 when out of memory (b keeps what it had).  Same output as
 * vsnprintf for every format. */
long gfmt_vappend(gfmt_buf *b, const char *fmt, va_list ap);
void gfmt_free(gfmt_buf *b);

#endif
