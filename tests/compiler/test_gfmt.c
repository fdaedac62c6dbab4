/* test_gfmt.c - plumbc's formatter (compiler/back/gfmt.c) against
 * vsnprintf: every conversion it formats itself, the ones it hands back to
 * stdio, appending, and output far larger than its first buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>
#include <limits.h>

#include <CUnit/CUnit.h>

#include "gfmt.h"
#include "ptest.h"

/* Formats with both and checks they agree (and the returned length). */
static void
same(const char *fmt, ...)
{
  char want[512];
  gfmt_buf b = { 0 };
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(want, sizeof want, fmt, ap);
  long m = gfmt_vappend(&b, fmt, ap2);
  va_end(ap2);
  va_end(ap);
  CU_ASSERT_EQUAL(m, n);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b.p);
  if (strcmp(b.p, want) != 0)
    fprintf(stderr, "gfmt \"%s\": got [%s] want [%s]\n", fmt, b.p, want);
  CU_ASSERT_STRING_EQUAL(b.p, want);
  gfmt_free(&b);
}

static void
test_own_conversions(void)
{
  same("");
  same("plain text, no conversion");
  same("%s", "");
  same("%s_%s__%s", "calc", "Calculator", "add");
  same("[%.*s]", 3, "abcdef");
  same("[%.*s]", 10, "abc");
  same("[%.*s]", -1, "abc"); /* a negative precision is none */
  same("[%*s]", 6, "ab");
  same("[%-*s]", 6, "ab");
  same("[%*s]", -6, "ab"); /* a negative width means '-' */
  same("[%*s]", 1, "abc");
  same("%c%c", 'x', '\t');
  same("%d %d %d %d", 0, -1, INT_MAX, INT_MIN);
  same("%ld %ld", LONG_MAX, LONG_MIN);
  same("%u %u", 0u, UINT_MAX);
  same("%lu %zu", ULONG_MAX, (size_t)SIZE_MAX);
  same("%" PRIu64 " %" PRId64, UINT64_MAX, INT64_MIN);
  same("0x%08" PRIx32 "u", (uint32_t)0xbeefu);
  same("0x%08" PRIx32 "u", (uint32_t)0xdeadbeefu);
  same("%x %lx %02x", 0u, ULONG_MAX, 7u);
  same("[%5d][%-5d][%05d][%05d]", 42, 42, 42, -42);
  same("[%3u][%03u]", 12345u, 7u);
  same("100%% of %s", "it");
  same("%s%%%s", "a", "b");
}

static void
test_falls_back(void)
{
  same("%.17g", 0.1);
  same("%g|%s", 1e300, "after");
  same("\\%03o", 7);
  static int obj;
  same("%p", (void *)&obj);
  same("[%s]", (const char *)NULL);
  same("[%.3s]", (const char *)NULL);
  same("%La", 1.5L);
  same("%5s|%.2d|%lld|%hd|%+d|% d", "ab", 3, 1LL, (short)4, 5, 6);
  same("%zd %i %X %e", (ssize_t)-3, 9, 255u, 2.5);
}

static long
append(gfmt_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  long n = gfmt_vappend(b, fmt, ap);
  va_end(ap);
  return n;
}

static void
test_appends_and_grows(void)
{
  gfmt_buf b = { 0 };
  char big[5000];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CU_ASSERT_EQUAL(append(&b, "%s=", "k"), 2);
  CU_ASSERT_EQUAL(append(&b, "%d", 17), 2);
  CU_ASSERT_STRING_EQUAL(b.p, "k=17");
  CU_ASSERT_EQUAL(append(&b, "%s", big), (long)sizeof big - 1);
  CU_ASSERT_EQUAL(b.len, 4 + sizeof big - 1);
  CU_ASSERT_EQUAL(strlen(b.p), b.len);
  CU_ASSERT_EQUAL(append(&b, "%.17g", 0.5), 3); /* a fallback appends too */
  CU_ASSERT_EQUAL(strcmp(b.p + b.len - 3, "0.5"), 0);
  CU_ASSERT_EQUAL(strncmp(b.p, "k=17qqq", 7), 0);
  gfmt_free(&b);
  CU_ASSERT_PTR_NULL(b.p);
  CU_ASSERT_EQUAL(b.len, 0);
}

int
main(int argc, char **argv)
{
  static const ptest_case cases[] = {
    {"own_conversions", test_own_conversions},
    {"falls_back", test_falls_back},
    {"appends_and_grows", test_appends_and_grows},
    {NULL, NULL},
  };
  static const ptest_suite suites[] = {
    {"gfmt", cases, NULL, NULL},
    {NULL, NULL, NULL, NULL},
  };
  return ptest_run(suites, argc, argv);
}
