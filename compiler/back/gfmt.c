/* gfmt.c - the back ends' printf (see gfmt.h): a single pass over the
 * format that copies literal runs and formats the few conversions generated
 * code uses; at the first conversion it does not know it starts again with
 * vsnprintf on a copy of the arguments, so the output is always vsnprintf's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gfmt.h"

static int
reserve(gfmt_buf *b, size_t more)
{
  size_t need = b->len + more + 1;
  if (need <= b->cap)
    return 0;
  size_t nc = b->cap ? b->cap * 2 : 256;
  while (nc < need)
    nc *= 2;
  char *np = realloc(b->p, nc);
  if (np == NULL)
    return -1;
  b->p = np;
  b->cap = nc;
  return 0;
}

/* Appends s[0..n) padded to width (right-justified unless left). */
static int
put(gfmt_buf *b, const char *s, size_t n, size_t width, int left)
{
  size_t pad = width > n ? width - n : 0;
  if (reserve(b, n + pad) != 0)
    return -1;
  char *d = b->p + b->len;
  if (!left && pad) {
    memset(d, ' ', pad);
    d += pad;
  }
  memcpy(d, s, n);
  d += n;
  if (left && pad) {
    memset(d, ' ', pad);
    d += pad;
  }
  b->len = (size_t)(d - b->p);
  return 0;
}

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *
utoa_back(char *end, unsigned long long v)
{
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return end;
}

static long
fallback(gfmt_buf *b, size_t start, const char *fmt, va_list ap)
{
  va_list ap2;
  b->len = start;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  long rc = -1;
  if (n >= 0 && reserve(b, (size_t)n) == 0) {
    vsnprintf(b->p + start, (size_t)n + 1, fmt, ap2);
    b->len = start + (size_t)n;
    rc = n;
  }
  va_end(ap2);
  if (b->p != NULL)
    b->p[b->len] = '\0';
  return rc;
}

long
gfmt_vappend(gfmt_buf *b, const char *fmt, va_list ap)
{
  const size_t start = b->len;
  va_list orig;
  va_copy(orig, ap);
  const char *f = fmt;
  long rc;

  for (;;) {
    const char *pct = strchr(f, '%');
    size_t lit = pct ? (size_t)(pct - f) : strlen(f);
    if (lit && put(b, f, lit, 0, 0) != 0)
      goto oom;
    if (pct == NULL)
      break;
    f = pct + 1;
    int left = 0, zero = 0, prec = -1;
    size_t width = 0;
    char len = 0;
    if (*f == '-') {
      left = 1;
      f++;
    } else if (*f == '0') {
      zero = 1;
      f++;
    }
    if (*f >= '1' && *f <= '9') {
      while (*f >= '0' && *f <= '9' && width < 1000)
        width = width * 10 + (size_t)(*f++ - '0');
      if (*f >= '0' && *f <= '9')
        goto other;
    } else if (*f == '*') {
      int w = va_arg(ap, int);
      if (w < 0) {
        left = 1;
        w = -w;
      }
      width = (size_t)w;
      f++;
    }
    if (f[0] == '.' && f[1] == '*') {
      prec = va_arg(ap, int);
      f += 2;
    }
    if (*f == 'l' || *f == 'z') {
      len = *f;
      f++;
    }
    char digits[24], *end = digits + sizeof digits;
    const char *s;
    size_t n;
    switch (*f) {
    case 's':
      if (len)
        goto other;
      s = va_arg(ap, const char *);
      if (s == NULL)
        goto other; /* "(null)" and its precision rules are stdio's */
      n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
      break;
    case 'c':
      if (len || prec >= 0)
        goto other;
      digits[0] = (char)va_arg(ap, int);
      s = digits;
      n = 1;
      break;
    case 'd': {
      if (len == 'z' || prec >= 0)
        goto other;
      long long v = len == 'l' ? va_arg(ap, long) : va_arg(ap, int);
      unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                   : (unsigned long long)v;
      char *p = utoa_back(end, u);
      if (v < 0)
        *--p = '-';
      s = p;
      n = (size_t)(end - p);
      break;
    }
    case 'u': {
      if (prec >= 0)
        goto other;
      unsigned long long v = len == 'l'   ? va_arg(ap, unsigned long)
                             : len == 'z' ? va_arg(ap, size_t)
                                          : va_arg(ap, unsigned);
      s = utoa_back(end, v);
      n = (size_t)(end - s);
      break;
    }
    case 'x': {
      if (len == 'z' || prec >= 0)
        goto other;
      unsigned long v = len == 'l' ? va_arg(ap, unsigned long)
                                   : va_arg(ap, unsigned);
      char *p = end;
      do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
      } while (v != 0);
      s = p;
      n = (size_t)(end - p);
      break;
    }
    case '%':
      if (left || zero || width || prec >= 0 || len)
        goto other;
      s = "%";
      n = 1;
      break;
    default:
      goto other;
    }
    if (zero && *f != 's' && *f != 'c') {
      /* '0' pads integers after their sign (%d, %u, %x) */
      if (*f == 'd' && *s == '-') {
        if (put(b, "-", 1, 0, 0) != 0)
          goto oom;
        s++;
        n--;
        width = width ? width - 1 : 0;
      }
      while (n < width) {
        if (put(b, "0", 1, 0, 0) != 0)
          goto oom;
        width--;
      }
    } else if (zero) {
      goto other;
    }
    if (put(b, s, n, width, left) != 0)
      goto oom;
    f++;
  }
  if (reserve(b, 0) != 0)
    goto oom;
  b->p[b->len] = '\0';
  va_end(orig);
  return (long)(b->len - start);

other:
  rc = fallback(b, start, fmt, orig);
  va_end(orig);
  return rc;
oom:
  b->len = start;
  if (b->p != NULL)
    b->p[b->len] = '\0';
  va_end(orig);
  return -1;
}

void
gfmt_free(gfmt_buf *b)
{
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
