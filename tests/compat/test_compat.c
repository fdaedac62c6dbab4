/* test_compat.c - `plumbc --check-compat` on the OLD/NEW pairs in
 * tests/compat/pairs/ and on its command line.
 *
 * Each pairs/NAME/ holds old.idl, new.idl and `expected`: the exact stdout
 * followed by a line "exit N" with the exit status.  An optional `args` file
 * replaces the arguments after --check-compat (default "old.idl new.idl");
 * plumbc runs inside the pair's folder so locations print as written.
 * After an intended change of the rules, regenerate with
 * tests/compat/update.sh and review the diff line by line.  Further cases
 * check that the checker's interface ids and field numbers are the ones the
 * generators emit, and the usage / parse-error exit status 2.
 * Environment: PLUMBC (the binary), COMPAT_DIR (this folder), OUT_DIR.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "ptest.h"

static const char *plumbc, *src, *out;

static int
setup(void)
{
  plumbc = getenv("PLUMBC");
  src = getenv("COMPAT_DIR");
  out = getenv("OUT_DIR");
  if (plumbc == NULL || src == NULL || out == NULL) {
    fprintf(stderr, "PLUMBC, COMPAT_DIR and OUT_DIR must be set\n");
    return 1;
  }
  mkdir(out, 0755);
  return 0;
}

/* Reads a whole file (NUL-terminated, NULL if absent). */
static char *
slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  if (f == NULL)
    return NULL;
  do {
    if (len + 4096 + 1 > cap) {
      char *nb;
      cap = cap ? cap * 2 : 8192;
      nb = realloc(buf, cap);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    n = fread(buf + len, 1, 4096, f);
    len += n;
  } while (n > 0);
  buf[len] = '\0';
  fclose(f);
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

static int
name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs one pair; returns 1 if its output is the expected one. */
static int
check_pair(const char *name)
{
  char dir[1024], path[1400], got_p[1200], cmd[4096], line[512] = "";
  char *args, *got, *exp;
  int st, ok;
  snprintf(dir, sizeof dir, "%s/pairs/%s", src, name);
  snprintf(path, sizeof path, "%s/args", dir);
  args = slurp(path);
  if (args != NULL)
    args[strcspn(args, "\n")] = '\0';
  snprintf(got_p, sizeof got_p, "%s/%s.out", out, name);
  snprintf(cmd, sizeof cmd,
           "cd '%s' && timeout 20 '%s' --check-compat %s > '%s' 2> '%s.err'",
           dir, plumbc, args ? args : "old.idl new.idl", got_p, got_p);
  free(args);
  st = run(cmd);
  snprintf(line, sizeof line, "exit %d\n", st);
  got = slurp(got_p);
  if (got != NULL) {
    FILE *f = fopen(got_p, "a");
    if (f != NULL) {
      fputs(line, f);
      fclose(f);
    }
    free(got);
  }
  got = slurp(got_p);
  snprintf(path, sizeof path, "%s/expected", dir);
  exp = slurp(path);
  ok = got != NULL && exp != NULL && strcmp(got, exp) == 0;
  /* under build-asan: no sanitizer report either */
  snprintf(path, sizeof path, "%s.err", got_p);
  if (ptest_file_contains(path, "runtime error") == 1 ||
      ptest_file_contains(path, "Sanitizer") == 1) {
    fprintf(stderr, "compat pair %s: sanitizer report in %s\n", name, path);
    ok = 0;
  }
  snprintf(path, sizeof path, "%s/expected", dir);
  if (!ok) {
    snprintf(cmd, sizeof cmd, "diff -u '%s' '%s' >&2; cat '%s.err' >&2", path,
             got_p, got_p);
    run(cmd);
    fprintf(stderr, "compat pair %s: output differs from %s\n", name, path);
  }
  printf("  pair %-32s %s\n", name, ok ? "ok" : "FAILED");
  free(got);
  free(exp);
  return ok;
}

static void
test_pairs(void)
{
  char dir[1024];
  char *names[256];
  size_t n = 0, passed = 0;
  DIR *d;
  struct dirent *e;
  snprintf(dir, sizeof dir, "%s/pairs", src);
  d = opendir(dir);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  while ((e = readdir(d)) != NULL && n < sizeof names / sizeof names[0])
    if (e->d_name[0] != '.')
      names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof names[0], name_cmp);
  printf("\n");
  for (size_t i = 0; i < n; i++) {
    passed += (size_t)check_pair(names[i]);
    free(names[i]);
  }
  CU_ASSERT(n >= 20);
  CU_ASSERT_EQUAL(passed, n);
}

/* The interface ids the checker prints for a renamed interface are those
 * the generator writes into the interface tables. */
static void
test_ids_agree(void)
{
  char cmd[4096], path[1200];
  char *rep, *told, *tnew, *p;
  unsigned a = 0, b = 0;
  char ha[32], hb[32];
  snprintf(cmd, sizeof cmd,
           "cd '%s/pairs/25-module-renamed' && '%s' --check-compat old.idl "
           "new.idl > '%s/ids.out'; '%s' -o '%s' '%s/pairs/25-module-renamed/"
           "old.idl' && '%s' -o '%s' '%s/pairs/25-module-renamed/new.idl'",
           src, plumbc, out, plumbc, out, src, plumbc, out, src);
  CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
  snprintf(path, sizeof path, "%s/ids.out", out);
  rep = slurp(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rep);
  p = strstr(rep, "(interface id 0x");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(sscanf(p, "(interface id 0x%x -> 0x%x)", &a, &b), 2);
  snprintf(ha, sizeof ha, "0x%08xu", a);
  snprintf(hb, sizeof hb, "0x%08xu", b);
  snprintf(path, sizeof path, "%s/old-types.c", out);
  told = slurp(path);
  snprintf(path, sizeof path, "%s/new-types.c", out);
  tnew = slurp(path);
  CU_ASSERT(told != NULL && strstr(told, ha) != NULL);
  CU_ASSERT(tnew != NULL && strstr(tnew, hb) != NULL);
  free(rep);
  free(told);
  free(tnew);
}

/* The field numbers it prints are those of the generated .proto. */
static void
test_numbers_agree(void)
{
  char cmd[4096], path[1200];
  char *po, *pn;
  snprintf(cmd, sizeof cmd,
           "'%s' --proto -o '%s' '%s/pairs/04-field-inserted/old.idl' && "
           "'%s' --proto -o '%s' '%s/pairs/04-field-inserted/new.idl'",
           plumbc, out, src, plumbc, out, src);
  CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
  snprintf(path, sizeof path, "%s/old.proto", out);
  po = slurp(path);
  snprintf(path, sizeof path, "%s/new.proto", out);
  pn = slurp(path);
  /* expected: "'inserted' reuses number 2 of 'b'", "'b' renumbered 2 -> 3" */
  CU_ASSERT(po != NULL && strstr(po, " b = 2;") != NULL);
  CU_ASSERT(pn != NULL && strstr(pn, " inserted = 2;") != NULL);
  CU_ASSERT(pn != NULL && strstr(pn, " b = 3;") != NULL);
  free(po);
  free(pn);
}

/* Exit status of plumbc ARGS run in pairs/PAIR (output discarded). */
static int
status_in(const char *pair, const char *args)
{
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd '%s/pairs/%s' && '%s' %s >/dev/null 2>&1",
           src, pair, plumbc, args);
  return run(cmd);
}

static void
test_usage(void)
{
  char cmd[4096];
  const char *pair = "01-identical";
  /* one file, three files, a missing file, an unknown option: status 2 */
  CU_ASSERT_EQUAL(status_in(pair, "--check-compat old.idl"), 2);
  CU_ASSERT_EQUAL(status_in(pair, "--check-compat old.idl new.idl new.idl"), 2);
  CU_ASSERT_EQUAL(status_in(pair, "--check-compat old.idl no-such.idl"), 2);
  CU_ASSERT_EQUAL(status_in(pair, "--check-compat --bogus old.idl new.idl"), 2);
  CU_ASSERT_EQUAL(status_in(pair, "--check-compat --strict old.idl new.idl"), 0);
  /* pair 43 passes -I inc; without it the include is not found */
  CU_ASSERT_EQUAL(status_in("43-include-dir", "--check-compat old.idl new.idl"),
                  2);
  /* without --check-compat a second file is still a usage error (1) */
  CU_ASSERT_EQUAL(status_in(pair, "-o /nonexistent/x old.idl new.idl"), 1);
  CU_ASSERT_EQUAL(status_in(pair, "--strict old.idl"), 1);
  /* a parse error says where on stderr */
  snprintf(cmd, sizeof cmd, "cd '%s/pairs/35-parse-error' && '%s' "
           "--check-compat old.idl new.idl 2>&1 >/dev/null | grep -q "
           "'^new.idl:2:21: error: syntax error'", src, plumbc);
  CU_ASSERT_EQUAL(run(cmd), 0);
  /* and the help names the option */
  snprintf(cmd, sizeof cmd, "'%s' --help | grep -q -- '--check-compat'",
           plumbc);
  CU_ASSERT_EQUAL(run(cmd), 0);
}

static const ptest_case cases[] = {
  { "pairs (expected output and status)", test_pairs },
  { "interface ids agree with the generator", test_ids_agree },
  { "field numbers agree with --proto", test_numbers_agree },
  { "usage and parse errors exit 2", test_usage },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "compat", cases, setup, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
