/* test_golden.c - golden tests of plumbc's output and its command line.
 *
 * For every tests/golden/NAME.idl it runs the built plumbc into the build
 * directory and compares NAME.h, NAME-wire.h and NAME.proto byte for byte with
 * tests/golden/expected/.  After an intended change of the generators,
 * regenerate the expected files with scripts/update-golden.sh and review
 * the diff (see tests/golden/README.md).  Environment: PLUMBC (the binary),
 * GOLDEN_DIR (this source folder), OUT_DIR (a scratch folder).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptest.h"

static const char *plumbc, *src, *out;

static int
setup(void)
{
  plumbc = getenv("PLUMBC");
  src = getenv("GOLDEN_DIR");
  out = getenv("OUT_DIR");
  if (plumbc == NULL || src == NULL || out == NULL) {
    fprintf(stderr, "PLUMBC, GOLDEN_DIR and OUT_DIR must be set\n");
    return 1;
  }
  mkdir(out, 0755);
  return 0;
}

static char *
slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return NULL;
  }
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* Runs a shell command; returns its exit status (or -1). */
static int
run(const char *cmd)
{
  int st = system(cmd);
  if (st == -1 || !WIFEXITED(st))
    return -1;
  return WEXITSTATUS(st);
}

static void
compare(const char *name, const char *ext)
{
  char got_p[1024], exp_p[1024], cmd[4096];
  size_t gl = 0, el = 0;
  char *got, *exp;
  snprintf(got_p, sizeof got_p, "%s/%s%s", out, name, ext);
  snprintf(exp_p, sizeof exp_p, "%s/expected/%s%s", src, name, ext);
  got = slurp(got_p, &gl);
  exp = slurp(exp_p, &el);
  CU_ASSERT_PTR_NOT_NULL(got);
  CU_ASSERT_PTR_NOT_NULL(exp);
  if (got && exp && (gl != el || memcmp(got, exp, gl) != 0)) {
    snprintf(cmd, sizeof cmd, "diff -u '%s' '%s' >&2", exp_p, got_p);
    run(cmd);
    fprintf(stderr, "%s%s differs from the golden file "
                    "(scripts/update-golden.sh regenerates it)\n", name, ext);
    CU_FAIL("generated output differs from golden");
  }
  free(got);
  free(exp);
}

static void
golden(const char *name)
{
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' --proto -I '%s' -o '%s' '%s/%s.idl'",
           plumbc, src, out, src, name);
  CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
  compare(name, ".h");
  compare(name, "-wire.h");
  compare(name, ".proto");
}

static void test_calc(void) { golden("calc"); }
static void test_base(void) { golden("base"); }
static void test_app(void) { golden("app"); }
static void test_inherit(void) { golden("inherit"); }
static void test_nested(void) { golden("nested"); }
static void test_naming(void) { golden("naming"); }
static void test_seqseq(void) { golden("seqseq"); }
static void test_idl4(void) { golden("idl4"); }

static void
test_cli(void)
{
  char cmd[4096], path[1024];
  snprintf(cmd, sizeof cmd, "'%s' --version | grep -q '^plumbc '", plumbc);
  CU_ASSERT_EQUAL(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s' --help | grep -q '^usage: plumbc'", plumbc);
  CU_ASSERT_EQUAL(run(cmd), 0);
  snprintf(cmd, sizeof cmd, "'%s' 2>/dev/null", plumbc);
  CU_ASSERT_EQUAL(run(cmd), 1);
  snprintf(cmd, sizeof cmd, "'%s' --bogus x.idl 2>/dev/null", plumbc);
  CU_ASSERT_EQUAL(run(cmd), 1);
  snprintf(cmd, sizeof cmd, "'%s' -o '%s' '%s/no-such-file.idl' 2>/dev/null",
           plumbc, out, src);
  CU_ASSERT_EQUAL(run(cmd), 1);
  /* a front-end error: exit 1 and no outputs left behind */
  snprintf(cmd, sizeof cmd,
           "printf 'module m { struct S { Undefined x; }; };' > '%s/broken.idl' && "
           "'%s' -o '%s' '%s/broken.idl' 2>/dev/null",
           out, plumbc, out, out);
  CU_ASSERT_EQUAL(run(cmd), 1);
  snprintf(path, sizeof path, "%s/broken.h", out);
  CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

/* Bytes plumbc writes (C and .proto) for a chain of n interfaces, each
 * inheriting the previous one and declaring one operation; -1 on error. */
static long
chain_bytes(int n)
{
  char idl[1024], cmd[4096];
  const char *exts[] = { ".h", "-wire.h", "-types.c", "-client.c", "-server.c",
                         ".proto" };
  long total = 0;
  FILE *f;
  snprintf(idl, sizeof idl, "%s/chain%d.idl", out, n);
  if ((f = fopen(idl, "w")) == NULL)
    return -1;
  fprintf(f, "module m {\n");
  for (int i = 0; i < n; i++) {
    if (i == 0)
      fprintf(f, "interface I0 { void f0(); };\n");
    else
      fprintf(f, "interface I%d : I%d { void f%d(); };\n", i, i - 1, i);
  }
  fprintf(f, "};\n");
  fclose(f);
  snprintf(cmd, sizeof cmd, "'%s' --proto -o '%s' '%s'", plumbc, out, idl);
  if (run(cmd) != 0)
    return -1;
  for (size_t k = 0; k < sizeof exts / sizeof exts[0]; k++) {
    struct stat st;
    char path[1100];
    snprintf(path, sizeof path, "%s/chain%d%s", out, n, exts[k]);
    if (stat(path, &st) != 0)
      return -1;
    total += (long)st.st_size;
    remove(path);
  }
  remove(idl);
  return total;
}

/* Inherited operations reuse their base's thunks, tables and stubs: a
 * 200-interface chain (~7.6 KB of IDL) made 32 MB of C before; now the
 * output grows linearly with the chain. */
static void
test_code_volume(void)
{
  long b100 = chain_bytes(100), b200 = chain_bytes(200);
  CU_ASSERT_FATAL(b100 > 0 && b200 > 0);
  fprintf(stderr, "chain of 100: %ld bytes, of 200: %ld bytes\n", b100, b200);
  CU_ASSERT(b200 < 2 * 1024 * 1024);
  CU_ASSERT(b200 < b100 * 21 / 10); /* linear, not quadratic (4x) */
}

static const ptest_case cases[] = {
  { "calc", test_calc },
  { "base (included)", test_base },
  { "app (includes base)", test_app },
  { "inherit", test_inherit },
  { "nested", test_nested },
  { "naming", test_naming },
  { "sequences of sequences", test_seqseq },
  { "IDL4 / CORBA 3 constructs", test_idl4 },
  { "command line", test_cli },
  { "code volume of a 200-interface chain", test_code_volume },
  { NULL, NULL },
};

int
main(int argc, char **argv)
{
  static const ptest_suite suites[] = {
    { "golden", cases, setup, NULL },
    { NULL, NULL, NULL, NULL },
  };
  return ptest_run(suites, argc, argv);
}
