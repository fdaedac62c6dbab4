/* test_hostile.c - CUnit tests of plumbc's front end on hostile input:
 * include re-entry (guards, #pragma once, cycles, include bombs against
 * the input limit), nesting limits (#if expressions and conditionals,
 * { ( nesting, sequence<>, constant expressions, inheritance), and the
 * volume of diagnostics (echo window, message cap, error cap, control
 * characters).  Every input is held in memory (idl_parse_memory); each
 * case checks the exact diagnostic and that it comes quickly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "front.h"
#include "ptest.h"

/* --- helpers ----------------------------------------------------------------- */

typedef struct rec {
  char file[64];
  int line, col;
  diag_severity sev;
  char msg[512];
} rec;

#define MAX_RECS 128
static rec recs[MAX_RECS];
static size_t nrecs, nrecs_seen;

static void
keep(const diag_record *r, void *ctx)
{
  (void)ctx;
  nrecs_seen++;
  if (nrecs < MAX_RECS) {
    rec *k = &recs[nrecs++];
    snprintf(k->file, sizeof k->file, "%s", r->file ? r->file : "");
    k->line = r->line;
    k->col = r->col;
    k->sev = r->severity;
    snprintf(k->msg, sizeof k->msg, "%s", r->message);
  }
}

/* The bounds below catch super-linear blow-ups, not speed: they measure
 * this process's CPU time (other load on the machine does not count) and
 * are scaled for sanitizer builds, which run several times slower. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define CPU_SCALE 4.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPU_SCALE 4.0
#endif
#endif
#ifndef CPU_SCALE
#define CPU_SCALE 1.0
#endif

static double
now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ((double)ts.tv_sec + ts.tv_nsec / 1e9) / CPU_SCALE;
}

/* Parses files[] (files[0] is main) collecting diagnostics; returns the
 * error count; *secs = time taken. */
static int
parse_files(const idl_memfile *files, size_t n, size_t limit, double *secs)
{
  static const char *const dirs[] = {"inc"};
  idl_options o = {.include_dirs = dirs, .ninclude_dirs = 1};
  idl_tree *t = NULL;
  double t0 = now();
  int errors;
  nrecs = nrecs_seen = 0;
  diag_set_sink(keep, NULL);
  errors = idl_parse_memory(files, n, &o, limit, &t);
  diag_set_sink(NULL, NULL);
  if (secs != NULL)
    *secs = now() - t0;
  CU_ASSERT_TRUE(errors == 0 ? t != NULL : t == NULL);
  idl_tree_free(t);
  return errors;
}

static int
parse_one(const char *text, double *secs)
{
  idl_memfile f = {"t.idl", text, strlen(text)};
  return parse_files(&f, 1, 0, secs);
}

/* Asserts the first record is an error at t.idl-or-file:line:col with msg. */
static void
expect_first(const char *file, int line, int col, const char *msg)
{
  CU_ASSERT_TRUE_FATAL(nrecs >= 1);
  if (strcmp(recs[0].msg, msg) != 0 || recs[0].line != line ||
      recs[0].col != col || strcmp(recs[0].file, file) != 0)
    fprintf(stderr, "  got %s:%d:%d: %s\n  want %s:%d:%d: %s\n",
            recs[0].file, recs[0].line, recs[0].col, recs[0].msg, file, line,
            col, msg);
  for (size_t i = 0; i < nrecs && i < 8; i++)
    if (getenv("HOSTILE_VERBOSE"))
      fprintf(stderr, "  [%zu] %s:%d:%d: %s\n", i, recs[i].file, recs[i].line,
              recs[i].col, recs[i].msg);
  CU_ASSERT_EQUAL(recs[0].sev, DIAG_ERROR);
  CU_ASSERT_STRING_EQUAL(recs[0].file, file);
  CU_ASSERT_EQUAL(recs[0].line, line);
  CU_ASSERT_EQUAL(recs[0].col, col);
  CU_ASSERT_STRING_EQUAL(recs[0].msg, msg);
}

static void *
tmalloc(size_t n)
{
  void *p = malloc(n);
  if (p == NULL)
    abort();
  return p;
}

/* A string of n copies of unit between head and tail (caller frees). */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
  size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
  char *s = tmalloc(hl + ul * n + tl + 1), *p = s;
  memcpy(p, head, hl);
  p += hl;
  for (size_t i = 0; i < n; i++, p += ul)
    memcpy(p, unit, ul);
  memcpy(p, tail, tl + 1);
  return s;
}

/* Parses head + n * unit + tail: exactly nerrors errors, the first as
 * given; returns the time taken. */
static double
expect_repeated(const char *head, const char *unit, size_t n,
                const char *tail, int nerrors, int line, int col,
                const char *msg)
{
  char *s = repeat(head, unit, n, tail);
  double secs;
  CU_ASSERT_EQUAL(parse_one(s, &secs), nerrors);
  expect_first("t.idl", line, col, msg);
  free(s);
  return secs;
}

/* --- includes ------------------------------------------------------------------ */

/* A guarded file costs its text once however often it is included: the
 * limit of 1500 bytes admits three includes of a ~1000-byte guarded file
 * but not of the same file unguarded. */
static void
test_guard_skips_rescan(void)
{
  char *body = repeat("", "// padding padding padding padding padding\n", 22,
                      "typedef long G;\n");
  char *guarded = repeat("#ifndef G_IDL /* guard */\n#define G_IDL\n", "", 0,
                         "");
  char *g;
  idl_memfile f[2] = {{"t.idl", "#include \"g.idl\"\n#include \"g.idl\"\n"
                                "#include \"g.idl\"\nstruct S { G g; };\n",
                       0},
                      {"g.idl", NULL, 0}};
  f[0].len = strlen(f[0].text);
  g = tmalloc(strlen(guarded) + strlen(body) + 32);
  sprintf(g, "%s%s#endif // G_IDL\n\n", guarded, body);
  f[1].text = g;
  f[1].len = strlen(g);
  CU_ASSERT_TRUE(f[1].len > 1000 && f[1].len < 1200);
  CU_ASSERT_EQUAL(parse_files(f, 2, 1500, NULL), 0);
  CU_ASSERT_EQUAL(nrecs, 0);

  /* "#pragma once" has the same effect */
  sprintf(g, "#pragma once\n%s", body);
  f[1].len = strlen(g);
  CU_ASSERT_EQUAL(parse_files(f, 2, 1500, NULL), 0);
  CU_ASSERT_EQUAL(nrecs, 0);

  /* unguarded (text after the #endif): the second include is refused */
  sprintf(g, "%s%s#endif\nconst long AFTER = 1;\n", guarded, body);
  f[1].len = strlen(g);
  CU_ASSERT_EQUAL(parse_files(f, 2, 1500, NULL), 1);
  CU_ASSERT_EQUAL(nrecs, 1);
  expect_first("t.idl", 2, 1,
               "input limit reached: #include of 'g.idl' would make more "
               "than 1500 bytes of IDL text to scan in total; stopping");
  free(body);
  free(guarded);
  free(g);
}

/* `#if !defined(X)` guards count too; #else at the guard's level does not. */
static void
test_guard_forms(void)
{
  idl_memfile f[2] = {{"t.idl", "#include \"g.idl\"\n#include \"g.idl\"\n", 0},
                      {"g.idl", NULL, 0}};
  char g[1200];
  f[0].len = strlen(f[0].text);
  f[1].text = g;
  snprintf(g, sizeof g, "#if !defined ( G2 )\n#define G2\n%*s\n#endif\n", 900,
           "");
  f[1].len = strlen(g);
  CU_ASSERT_EQUAL(parse_files(f, 2, 1900, NULL), 0);
  snprintf(g, sizeof g, "#ifndef G3\n#define G3\n#else\n%*s\n#endif\n", 900,
           "");
  f[1].len = strlen(g);
  CU_ASSERT_EQUAL(parse_files(f, 2, 1900, NULL), 1);
  CU_ASSERT_TRUE(nrecs >= 1 && strncmp(recs[0].msg, "input limit reached", 19)
                                   == 0);
}

/* A cycle of unguarded files is an error at the include that closes it. */
static void
test_include_cycle(void)
{
  idl_memfile f[3] = {
    {"t.idl", "#include \"a.idl\"\n", 0},
    {"a.idl", "// a\n#include \"b.idl\"\n#include \"b.idl\"\n", 0},
    {"b.idl", "#include \"a.idl\"\nconst long B = 1;\n", 0},
  };
  for (size_t i = 0; i < 3; i++)
    f[i].len = strlen(f[i].text);
  CU_ASSERT_EQUAL(parse_files(f, 3, 0, NULL), 2); /* b.idl twice */
  expect_first("b.idl", 1, 1,
               "#include of 'a.idl' re-enters a file that is still being "
               "read (an include cycle without an include guard)");
  /* the 38-byte file of issue 11: includes itself twice */
  {
    idl_memfile self = {"self.idl", "#include \"self.idl\"\n"
                                    "#include \"self.idl\"\n", 0};
    double secs;
    self.len = strlen(self.text);
    CU_ASSERT_EQUAL(parse_files(&self, 1, 0, &secs), 2);
    CU_ASSERT_TRUE(secs < 1.0);
    expect_first("self.idl", 1, 1,
                 "#include of 'self.idl' re-enters a file that is still "
                 "being read (an include cycle without an include guard)");
  }
}

/* 40 unguarded files, each including the next twice: 2^40 entries without
 * the total bound.  It stops at the default 16 MiB quickly. */
static void
test_include_bomb(void)
{
  enum { N = 40 };
  idl_memfile f[N + 1];
  char names[N + 1][16], texts[N + 1][160];
  double secs;
  for (int i = 0; i <= N; i++) {
    snprintf(names[i], sizeof names[i], "f%d.idl", i);
    if (i < N)
      snprintf(texts[i], sizeof texts[i],
               "// level %d, padding padding padding padding padding\n"
               "#include \"f%d.idl\"\n#include \"f%d.idl\"\n", i, i + 1,
               i + 1);
    else
      snprintf(texts[i], sizeof texts[i], "// leaf\n");
    f[i].name = names[i];
    f[i].text = texts[i];
    f[i].len = strlen(texts[i]);
  }
  CU_ASSERT_EQUAL(parse_files(f, N + 1, 0, &secs), 1);
  CU_ASSERT_TRUE(secs < 5.0);
  CU_ASSERT_EQUAL(nrecs, 1);
  CU_ASSERT_TRUE_FATAL(nrecs >= 1);
  CU_ASSERT_STRING_EQUAL(strstr(recs[0].msg, "would make more than"),
                         "would make more than 16777216 bytes of IDL text "
                         "to scan in total; stopping");
}

/* In-memory parsing never falls back to the file system. */
static void
test_memory_includes_only(void)
{
  idl_memfile f[2] = {{"t.idl", "#include \"/etc/hostname\"\n"
                                "#include <lib.idl>\nstruct S { L l; };\n", 0},
                      {"inc/lib.idl", "typedef string<8> L;\n", 0}};
  f[0].len = strlen(f[0].text);
  f[1].len = strlen(f[1].text);
  CU_ASSERT_EQUAL(parse_files(f, 2, 0, NULL), 1);
  expect_first("t.idl", 1, 1, "include file '/etc/hostname' not found");
}

/* --- nesting ---------------------------------------------------------------------- */

static void
test_if_expression_depth(void)
{
  char *s;
  CU_ASSERT_TRUE(expect_repeated("#if ", "(", 100000, "1\n#endif\n", 1, 1, 1,
                                 "#if expression nested too deeply (more "
                                 "than 256 levels of '(' and '!')") < 1.0);
  CU_ASSERT_TRUE(expect_repeated("#if ", "!", 100000, "0\n#endif\n", 1, 1, 1,
                                 "#if expression nested too deeply (more "
                                 "than 256 levels of '(' and '!')") < 1.0);
  /* 256 levels are fine */
  s = repeat("#if ", "!!", 128, "1\nstruct S { long a; };\n#endif\n");
  CU_ASSERT_EQUAL(parse_one(s, NULL), 0);
  free(s);
}

static void
test_conditional_depth(void)
{
  expect_repeated("", "#ifdef X\n", 300, "", 1, 257, 1,
                  "conditional directives nested too deeply (more than 256 "
                  "levels); stopping");
  CU_ASSERT_EQUAL(nrecs, 1);
}

static void
test_brace_and_paren_depth(void)
{
  expect_repeated("", "module m {", 300, "", 1, 1, 2570,
                  "'{' nested too deeply (more than 256 levels); stopping");
  CU_ASSERT_EQUAL(nrecs, 1);
  CU_ASSERT_TRUE(expect_repeated("const long x = ", "(", 100000, "1);", 1, 1,
                                 272, "'(' nested too deeply (more than 256 "
                                      "levels); stopping") < 1.0);
}

static void
test_sequence_depth(void)
{
  char *s = repeat("typedef ", "sequence<", 3000, "long");
  char *t = repeat(s, ">", 3000, " T;\n");
  CU_ASSERT_EQUAL(parse_one(t, NULL), 1);
  CU_ASSERT_EQUAL(nrecs, 1);
  expect_first("t.idl", 1, 8 + 9 * (3000 - 65) + 1,
               "sequence nested too deeply (more than 64 levels)");
  free(s);
  free(t);
}

/* Left-recursive operators do not deepen the parser's stack but do deepen
 * the tree: bounded at 256 operators, reported once. */
static void
test_expression_depth(void)
{
  CU_ASSERT_TRUE(expect_repeated("const long x = 1", "+1", 300000, ";\n", 1,
                                 1, 16 + 2 * 256 + 1,
                                 "constant expression nested too deeply "
                                 "(more than 256 operators)") < 2.0);
  CU_ASSERT_EQUAL(nrecs, 1);
}

/* I_n : I_{n-1}, I_{n-2}: 2^n paths to I0 if every path were walked. */
static void
test_inheritance_lattice(void)
{
  char *s = tmalloc(80 * 100), *p = s;
  double secs;
  p += sprintf(p, "interface I0 { void f(); };\ninterface I1 : I0 {};\n");
  for (int i = 2; i < 90; i++)
    p += sprintf(p, "interface I%d : I%d, I%d { void g%d(); };\n", i, i - 1,
                 i - 2, i);
  p += sprintf(p, "interface Z : I89 { void h(in Nope n); };\n");
  CU_ASSERT_EQUAL(parse_one(s, &secs), 1);
  CU_ASSERT_TRUE(secs < 1.0);
  expect_first("t.idl", 91, 31, "undefined type 'Nope'");
  free(s);
}

static void
test_inheritance_depth(void)
{
  char *s = tmalloc(40 * 300), *p = s;
  p += sprintf(p, "interface I0 {};\n");
  for (int i = 1; i < 300; i++)
    p += sprintf(p, "interface I%d : I%d {};\n", i, i - 1);
  CU_ASSERT_EQUAL(parse_one(s, NULL), 1);
  expect_first("t.idl", 258, 18, "inheritance nested too deeply: 'I257' "
                                 "would be more than 256 levels of bases "
                                 "deep");
  free(s);
}

/* typedef T0 T1; typedef T1 T2; ... is followed at most 1000 links. */
static void
test_typedef_chain(void)
{
  char *s = tmalloc(40 * 1100), *p = s;
  p += sprintf(p, "typedef long T0;\n");
  for (int i = 1; i < 1100; i++)
    p += sprintf(p, "typedef T%d T%d;\n", i - 1, i);
  CU_ASSERT_EQUAL(parse_one(s, NULL), 1);
  expect_first("t.idl", 1001, 14,
               "typedef chain of 'T1000' is longer than 1000 typedefs");
  free(s);
}

/* --- diagnostic volume -------------------------------------------------------------- */

/* Runs text through the default (stderr-style) output into memory. */
static char *
stderr_of(const char *text, size_t *len, double *secs)
{
  char *out = NULL;
  FILE *f = open_memstream(&out, len);
  idl_tree *t = NULL;
  double t0 = now();
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  diag_set_output(f);
  idl_parse_string("long.idl", text, NULL, &t);
  diag_set_output(NULL);
  *secs = now() - t0;
  fclose(f);
  idl_tree_free(t);
  return out;
}

static void
test_echo_window(void)
{
  char *s = tmalloc(70000);
  char *out, *want;
  size_t len;
  double secs;
  memset(s, ' ', 65536);
  memcpy(s + 40000, "$", 1);
  memcpy(s + 65536, "\n", 2);
  out = stderr_of(s, &len, &secs);
  want = tmalloc(1024);
  sprintf(want, "long.idl:1:40001: error: invalid character '$'\n"
                "...%160s...\n   %80s^\n", "", "");
  want[3 + 80 + strlen("long.idl:1:40001: error: invalid character '$'\n")] =
      '$';
  CU_ASSERT_STRING_EQUAL(out, want);
  CU_ASSERT_TRUE(secs < 1.0);
  free(out);
  free(want);
  free(s);
}

/* 64 KB one-line files of several hostile kinds: each run writes at most
 * a few KB of diagnostics (at most 16 KB: 50 errors of ~260 bytes for
 * alternating junk, one line for most), quickly. */
static void
test_one_line_volume(void)
{
  static const char *const units[] = {"$", "$ ", "@a ", "(", "\"", "\x1b[2J",
                                      "struct ", "long long long ", "#"};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    char *s = repeat("", units[i], 65536 / strlen(units[i]), "\n");
    size_t len;
    double secs;
    char *out = stderr_of(s, &len, &secs);
    if (len > 16384 || secs > 1.0)
      fprintf(stderr, "  unit '%s': %zu bytes in %.3f s\n", units[i], len,
              secs);
    CU_ASSERT_TRUE(len <= 16384);
    CU_ASSERT_TRUE(secs < 1.0);
    CU_ASSERT_PTR_NULL(strchr(out, '\x1b'));
    free(out);
    free(s);
  }
}

/* After 50 errors: one "too many errors, stopping" and the scan stops. */
static void
test_error_cap(void)
{
  char *s = repeat("", "$\n", 80, "");
  CU_ASSERT_EQUAL(parse_one(s, NULL), 51);
  CU_ASSERT_EQUAL_FATAL(nrecs, 51);
  CU_ASSERT_EQUAL(recs[49].line, 50);
  CU_ASSERT_STRING_EQUAL(recs[49].msg, "invalid character '$'");
  CU_ASSERT_EQUAL(recs[50].sev, DIAG_ERROR);
  CU_ASSERT_EQUAL(recs[50].line, 0);
  CU_ASSERT_STRING_EQUAL(recs[50].file, "");
  CU_ASSERT_STRING_EQUAL(recs[50].msg, "too many errors, stopping");
  free(s);
}

/* A run of invalid bytes is one error (64 KB of them: one line out). */
static void
test_invalid_run(void)
{
  expect_repeated("struct S { long a; };\n", "\x01$", 32768, "\n", 1, 2, 1,
                  "65536 invalid characters, starting with '\\x01'");
  CU_ASSERT_EQUAL(nrecs, 1);
}

/* Messages are cut at 400 bytes; control characters never reach the
 * terminal. */
static void
test_message_cap(void)
{
  char *s = repeat("#error \x1b]0;", "x", 5000, "\n");
  size_t len;
  double secs;
  char *out = stderr_of(s, &len, &secs);
  const char *nl = strchr(out, '\n');
  CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
  CU_ASSERT_EQUAL((size_t)(nl - out),
                  strlen("long.idl:1:1: error: ") + 400 + 3);
  CU_ASSERT_EQUAL(strncmp(out, "long.idl:1:1: error: #error ?]0;xxx", 35), 0);
  CU_ASSERT_PTR_NULL(strchr(out, '\x1b'));
  free(out);
  free(s);
}

static const ptest_case include_cases[] = {
  {"guard_skips_rescan", test_guard_skips_rescan},
  {"guard_forms", test_guard_forms},
  {"include_cycle", test_include_cycle},
  {"include_bomb", test_include_bomb},
  {"memory_includes_only", test_memory_includes_only},
  {NULL, NULL},
};

static const ptest_case nesting_cases[] = {
  {"if_expression_depth", test_if_expression_depth},
  {"conditional_depth", test_conditional_depth},
  {"brace_and_paren_depth", test_brace_and_paren_depth},
  {"sequence_depth", test_sequence_depth},
  {"expression_depth", test_expression_depth},
  {"inheritance_lattice", test_inheritance_lattice},
  {"inheritance_depth", test_inheritance_depth},
  {"typedef_chain", test_typedef_chain},
  {NULL, NULL},
};

static const ptest_case volume_cases[] = {
  {"echo_window", test_echo_window},
  {"one_line_volume", test_one_line_volume},
  {"error_cap", test_error_cap},
  {"message_cap", test_message_cap},
  {"invalid_run", test_invalid_run},
  {NULL, NULL},
};

int
main(int argc, char **argv)
{
  static const ptest_suite suites[] = {
    {"hostile_includes", include_cases, NULL, NULL},
    {"hostile_nesting", nesting_cases, NULL, NULL},
    {"hostile_volume", volume_cases, NULL, NULL},
    {NULL, NULL, NULL, NULL},
  };
  return ptest_run(suites, argc, argv);
}
