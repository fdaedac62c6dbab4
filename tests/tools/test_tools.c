/* test_tools.c - the plumb CLI against the example servers (calc-server,
 * kv-server) over every built-in transport: describe --idl (its output
 * parsed again by plumbc), call --idl with JSON in and out (values
 * checked: unions, sequences of structs, 64-bit integers, bytes, user
 * exceptions, attributes, oneway), ping, usage errors and exit statuses,
 * and what the CLI says without --idl (no introspection in this build). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "proc.h"
#include "ptest.h"

static char dir[128], out[256];

static int
sh(const char *fmt, ...)
{
  char cmd[4096], line[4400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  snprintf(line, sizeof line, "timeout 20 %s >%s 2>&1", cmd, out);
  int st = system(line);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
out_has(const char *needle)
{
  int r = ptest_file_contains(out, needle);
  if (!r) {
    char buf[2048] = "";
    FILE *f = fopen(out, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
      fclose(f);
    printf("\n    expected '%s' in: %s", needle, buf);
  }
  return r;
}

static int
init(void)
{
  snprintf(dir, sizeof dir, "/tmp/plumb-tools-test-%d", (int)getpid());
  if (mkdir(dir, 0700) != 0)
    return -1;
  snprintf(out, sizeof out, "%s/out.txt", dir);
  unsetenv("PLUMB_CONFIG");
  unsetenv("PLUMB_ENDPOINT");
  return 0;
}

static int
cleanup(void)
{
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Starts server `bin` on ep and waits until `plumb ping` answers. */
static pid_t
start(const char *bin, const char *ep)
{
  char *argv[] = { (char *)bin, (char *)ep, NULL };
  char log[256];
  snprintf(log, sizeof log, "%s/server.log", dir);
  pid_t p = ptest_spawn(argv, log);
  for (long long end = ptest_now_ms() + 5000; ptest_now_ms() < end;
       usleep(20000)) {
    if (sh("%s ping -c 1 %s", PLUMB_CLI, ep) == 0)
      return p;
    if (ptest_exited(p))
      return -1;
  }
  ptest_stop(p, SIGKILL, 1000);
  return -1;
}

static const char *
endpoint_for(const char *t, char *buf, size_t n, int salt)
{
  int pid = (int)getpid();
  if (strcmp(t, "unix") == 0)
    snprintf(buf, n, "unix:%s/s%d.sock", dir, salt);
  else if (strcmp(t, "tcp") == 0)
    snprintf(buf, n, "tcp://127.0.0.1:%d", ptest_free_port(AF_INET, salt));
  else if (strcmp(t, "fifo") == 0)
    snprintf(buf, n, "fifo:%s/s%d.fifo", dir, salt);
  else if (strcmp(t, "sysvmq") == 0)
    snprintf(buf, n, "sysvmq:%s/s%d.key", dir, salt);
  else
    snprintf(buf, n, "%s:/plumb-tt-%d-%d", t, pid, salt);
  plumb_config c;
  return plumb_config_resolve("x", buf, &c, NULL, 0) == PLUMB_OK ? buf
                                                                 : NULL;
}

static const char *const transports[] = { "unix", "tcp", "shm", "fifo",
                                          "mq", "sysvmq", NULL };

/* ---- describe ------------------------------------------------------------- */

static void
test_describe(void)
{
  const char *idls[] = { KV_IDL, CALC_IDL, COSNAMING_IDL, INTROSPECT_IDL,
                         NULL };
  for (int i = 0; idls[i]; i++) {
    CU_ASSERT_EQUAL(sh("sh -c '%s describe --idl %s > %s/d%d.idl'",
                       PLUMB_CLI, idls[i], dir, i), 0);
    CU_ASSERT_EQUAL(sh("%s -o %s/g%d %s/d%d.idl", PLUMBC, dir, i, dir, i),
                    0);
  }
  CU_ASSERT_EQUAL(sh("cat %s/d0.idl", dir), 0);
  CU_ASSERT(out_has("union Value switch (::kv::Kind) {"));
  CU_ASSERT(out_has("::kv::Value get(in string key) raises "
                    "(::kv::NotFound);"));
  CU_ASSERT(out_has("oneway void log(in string message);"));
  CU_ASSERT(out_has("readonly attribute unsigned long size;"));
  CU_ASSERT(out_has("string<256> key;"));
  CU_ASSERT_EQUAL(sh("%s describe --idl %s kv::Entry", PLUMB_CLI, KV_IDL),
                  0);
  CU_ASSERT(out_has("module kv {\n  struct Entry {"));
  CU_ASSERT_EQUAL(sh("%s describe --idl %s kv::Nope", PLUMB_CLI, KV_IDL), 2);
  CU_ASSERT(out_has("no declaration 'kv::Nope'"));
}

/* ---- call over every transport ------------------------------------------- */

static void
calls_on(const char *kv, const char *calc)
{
#define KV PLUMB_CLI, KV_IDL, kv
#define CALL "%s call --idl %s %s '' "
  CU_ASSERT_EQUAL(sh(CALL "put '{\"key\":\"n\",\"value\":{\"_d\":"
                     "\"K_NUMBER\",\"number\":\"-9007199254740993\"}}'", KV),
                  0);
  CU_ASSERT(out_has("\"version\":1"));
  CU_ASSERT_EQUAL(sh(CALL "put '{\"key\":\"b\",\"value\":{\"blob\":"
                     "\"AAEC/w==\"}}'", KV), 0);
  CU_ASSERT_EQUAL(sh(CALL "put '{\"key\":\"t\",\"value\":{\"text\":"
                     "\"h\\u00e9llo\"}}'", KV), 0);
  CU_ASSERT_EQUAL(sh(CALL "put '{\"key\":\"t\",\"value\":{\"text\":"
                     "\"again\"}}'", KV), 0);
  CU_ASSERT(out_has("\"version\":2"));
  /* 64-bit through a union, bytes, text */
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' get '{\"key\":\"n\"}'",
                     KV), 0);
  CU_ASSERT(out_has("{\"_ret\":{\"_d\":\"K_NUMBER\",\"number\":"
                    "\"-9007199254740993\"}}"));
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' get '{\"key\":\"b\"}'",
                     KV), 0);
  CU_ASSERT(out_has("{\"_ret\":{\"_d\":\"K_BLOB\",\"blob\":\"AAEC/w==\"}}"));
  /* a sequence of structs in (put_many) and out (list) */
  CU_ASSERT_EQUAL(sh("echo '{\"entries\":[{\"key\":\"m1\",\"value\":"
                     "{\"number\":\"1\"}},{\"key\":\"m2\",\"value\":"
                     "{\"text\":\"two\"}}]}' | %s --json call --idl %s %s "
                     "'' put_many -", KV), 0);
  CU_ASSERT(out_has("{\"_ret\":2}"));
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' list "
                     "'{\"prefix\":\"m\"}'", KV), 0);
  CU_ASSERT(out_has("{\"key\":\"m1\",\"value\":{\"_d\":\"K_NUMBER\","
                    "\"number\":\"1\"},\"version\":1}"));
  CU_ASSERT(out_has("{\"key\":\"m2\",\"value\":{\"_d\":\"K_TEXT\","
                    "\"text\":\"two\"},\"version\":1}"));
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' keys", KV), 0);
  CU_ASSERT(out_has("\"m1\""));
  /* a user exception: JSON with its type id, exit 3 */
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' get '{\"key\":\"no\"}'",
                     KV), 3);
  CU_ASSERT(out_has("{\"exception\":\"IDL:kv/NotFound:1.0\",\"value\":"
                    "{\"key\":\"no\"}}"));
  /* attributes and oneway */
  CU_ASSERT_EQUAL(sh(CALL "_set_name '{\"value\":\"store-1\"}'", KV), 0);
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' _get_name", KV), 0);
  CU_ASSERT(out_has("{\"_ret\":\"store-1\"}"));
  CU_ASSERT_EQUAL(sh(CALL "log '{\"message\":\"hi\"}'", KV), 0);
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' Store._get_size", KV),
                  0);
  CU_ASSERT(out_has("{\"_ret\":5}"));
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s '' remove "
                     "'{\"key\":\"m1\"}'", KV), 0);
  CU_ASSERT(out_has("{\"_ret\":true}"));
#undef KV
  /* the calculator: numbers, double, its exception */
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s calc add "
                     "'{\"a\":2147483600,\"b\":47}'", PLUMB_CLI, CALC_IDL,
                     calc), 0);
  CU_ASSERT(out_has("{\"_ret\":2147483647}"));
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s calc div "
                     "'{\"a\":1,\"b\":4}'", PLUMB_CLI, CALC_IDL, calc), 0);
  CU_ASSERT(out_has("{\"_ret\":0.25}"));
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s calc div "
                     "'{\"a\":1,\"b\":0}'", PLUMB_CLI, CALC_IDL, calc), 3);
  CU_ASSERT(out_has("\"exception\":\"IDL:calc/DivByZero:1.0\""));
  CU_ASSERT_EQUAL(sh("%s ping -c 5 %s", PLUMB_CLI, calc), 0);
  CU_ASSERT(out_has("5 sent, 5 received, 0% lost"));
#undef CALL
}

static void
test_call_transports(void)
{
  char kv[300], calc[300];
  int tried = 0;
  for (int i = 0; transports[i]; i++) {
    if (!endpoint_for(transports[i], kv, sizeof kv, 2 * i + 20) ||
        !endpoint_for(transports[i], calc, sizeof calc, 2 * i + 21))
      continue;
    pid_t k = start(KV_SERVER, kv), c = start(CALC_SERVER, calc);
    CU_ASSERT(k > 0 && c > 0);
    if (k > 0 && c > 0) {
      int before = (int)CU_get_number_of_failures();
      calls_on(kv, calc);
      if ((int)CU_get_number_of_failures() != before)
        printf("\n    ^ over %s", transports[i]);
      tried++;
    }
    if (k > 0)
      CU_ASSERT_EQUAL(ptest_stop(k, SIGTERM, 5000), 0);
    if (c > 0)
      CU_ASSERT_EQUAL(ptest_stop(c, SIGTERM, 5000), 0);
  }
  printf("\n    call/ping over %d transports", tried);
  CU_ASSERT(tried >= 2);
}

/* ---- errors --------------------------------------------------------------- */

static void
test_errors(void)
{
  char ep[300];
  snprintf(ep, sizeof ep, "unix:%s/e.sock", dir);
  pid_t k = start(KV_SERVER, ep);
  CU_ASSERT_FATAL(k > 0);
  /* bad JSON, wrong types, unknown fields, out parameters given */
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' get '{\"key\":'", PLUMB_CLI,
                     KV_IDL, ep), 2);
  CU_ASSERT(out_has("arguments are not JSON"));
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' get '{\"key\":5}'", PLUMB_CLI,
                     KV_IDL, ep), 2);
  CU_ASSERT(out_has("field 'key': expected a string"));
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' put '{\"value\":{\"_d\":"
                     "\"K_NONE\"}}'", PLUMB_CLI, KV_IDL, ep), 2);
  CU_ASSERT(out_has("field 'value._d': 'K_NONE' is not an enumerator of "
                    "Kind"));
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' put '{\"version\":1}'",
                     PLUMB_CLI, KV_IDL, ep), 2);
  CU_ASSERT(out_has("'version' is an out parameter of put"));
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' put '{\"value\":{\"text\":"
                     "\"a\",\"number\":\"1\"}}'", PLUMB_CLI, KV_IDL, ep), 2);
  CU_ASSERT(out_has("a union holds one member"));
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' nosuch", PLUMB_CLI, KV_IDL, ep),
                  2);
  CU_ASSERT(out_has("has an operation 'nosuch'"));
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' put_many '{\"entries\":[{"
                     "\"key\":\"%0300d\"}]}'", PLUMB_CLI, KV_IDL, ep, 0), 2);
  CU_ASSERT(out_has("field 'entries[0].key': string longer than its bound "
                    "256"));
  CU_ASSERT_EQUAL(sh("%s call --idl /nonexistent.idl %s '' get", PLUMB_CLI,
                     ep), 2);
  /* no server there: status 1, the endpoint named */
  CU_ASSERT_EQUAL(sh("%s call --idl %s unix:%s/none.sock '' keys", PLUMB_CLI,
                     KV_IDL, dir), 1);
  CU_ASSERT(out_has("none.sock"));
  CU_ASSERT_EQUAL(sh("%s ping -c 2 unix:%s/none.sock", PLUMB_CLI, dir), 1);
  /* without --idl: no introspection in this build, status 4, and --idl
   * still works against the same server */
  CU_ASSERT_EQUAL(sh("%s list %s", PLUMB_CLI, ep), 4);
  CU_ASSERT(out_has("introspection"));
  CU_ASSERT_EQUAL(sh("%s call %s '' keys", PLUMB_CLI, ep), 4);
  CU_ASSERT(out_has("--idl FILE"));
  CU_ASSERT_EQUAL(sh("%s describe %s", PLUMB_CLI, ep), 4);
  CU_ASSERT_EQUAL(sh("%s call --idl %s %s '' keys", PLUMB_CLI, KV_IDL, ep),
                  0);
  /* usage and help */
  CU_ASSERT_EQUAL(sh("%s", PLUMB_CLI), 2);
  CU_ASSERT_EQUAL(sh("%s frobnicate", PLUMB_CLI), 2);
  CU_ASSERT(out_has("unknown command 'frobnicate'"));
  const char *cmds[] = { "list", "describe", "call", "ping", "names",
                         "resolve", "bind", "unbind", NULL };
  for (int i = 0; cmds[i]; i++) {
    CU_ASSERT_EQUAL(sh("%s %s --help", PLUMB_CLI, cmds[i]), 0);
    CU_ASSERT(out_has("usage: plumb"));
  }
  CU_ASSERT_EQUAL(sh("%s --timeout abc ping %s", PLUMB_CLI, ep), 2);
  CU_ASSERT_EQUAL(ptest_stop(k, SIGTERM, 5000), 0);
}

static const ptest_case cases[] = {
  { "describe --idl re-parses", test_describe },
  { "call --idl / ping over every transport", test_call_transports },
  { "errors, exit statuses, no introspection", test_errors },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "tools", cases, init, cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN);
  return ptest_run(suites, argc, argv);
}
