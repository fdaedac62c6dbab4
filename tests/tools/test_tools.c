/* test_tools.c - the plumb CLI against the example servers (calc-server,
 * kv-server) over every built-in transport: describe --idl (its output
 * parsed again by plumbc), call --idl with JSON in and out (values
 * checked: unions, sequences of structs, 64-bit integers, bytes, user
 * exceptions, attributes, oneway) and the same by introspection, list,
 * describe of what a server serves (parsed again by plumbc), ping, usage
 * errors and exit statuses, introspection switched off in plumb.conf, and
 * libplumb's hand-written introspection tables against plumbc's. */
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

#include "introspect.h" /* runtime/core: the hand-written tables */
#include "plumb_introspect.h"
#include "proc.h"
#include "ptest.h"
#include "shell.h"
#include "tmpdir.h"

static char dir[128], out[256];

/* A command line with its output in `out`, and text looked for there
 * (tests/support/shell.h). */
#define sh(...) ptest_sh(out, __VA_ARGS__)
#define out_has(needle) ptest_out_has(out, needle)

static int
init(void)
{
  if (ptest_tmpdir(dir, sizeof dir, "tools-test") != 0)
    return -1;
  snprintf(out, sizeof out, "%s/out.txt", dir);
  unsetenv("PLUMB_CONFIG");
  unsetenv("PLUMB_ENDPOINT");
  return 0;
}

static int
cleanup(void)
{
  return ptest_rmtree(dir);
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
  CU_ASSERT_EQUAL(sh("%s --json describe --idl %s kv::Entry", PLUMB_CLI,
                     KV_IDL), 0);
  CU_ASSERT(out_has("{\"idl\":\"// described by plumb describe from "));
  CU_ASSERT(out_has("module kv {\\n  struct Entry {"));
  CU_ASSERT_EQUAL(sh("%s describe --idl %s kv::Nope", PLUMB_CLI, KV_IDL), 2);
  CU_ASSERT(out_has("no declaration 'kv::Nope'"));
}

/* ---- call over every transport ------------------------------------------- */

/* "--idl FILE" for call --idl, "" for calls by introspection */
static char kvidl[400], calcidl[400];

static void
calls_on(const char *kv, const char *calc)
{
#define KV PLUMB_CLI, kvidl, kv
#define CALL "%s call %s %s '' "
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
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' get '{\"key\":\"n\"}'",
                     KV), 0);
  CU_ASSERT(out_has("{\"_ret\":{\"_d\":\"K_NUMBER\",\"number\":"
                    "\"-9007199254740993\"}}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' get '{\"key\":\"b\"}'",
                     KV), 0);
  CU_ASSERT(out_has("{\"_ret\":{\"_d\":\"K_BLOB\",\"blob\":\"AAEC/w==\"}}"));
  /* a sequence of structs in (put_many) and out (list) */
  CU_ASSERT_EQUAL(sh("echo '{\"entries\":[{\"key\":\"m1\",\"value\":"
                     "{\"number\":\"1\"}},{\"key\":\"m2\",\"value\":"
                     "{\"text\":\"two\"}}]}' | %s --json call %s %s "
                     "'' put_many -", KV), 0);
  CU_ASSERT(out_has("{\"_ret\":2}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' list "
                     "'{\"prefix\":\"m\"}'", KV), 0);
  CU_ASSERT(out_has("{\"key\":\"m1\",\"value\":{\"_d\":\"K_NUMBER\","
                    "\"number\":\"1\"},\"version\":1}"));
  CU_ASSERT(out_has("{\"key\":\"m2\",\"value\":{\"_d\":\"K_TEXT\","
                    "\"text\":\"two\"},\"version\":1}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' keys", KV), 0);
  CU_ASSERT(out_has("\"m1\""));
  /* a user exception: JSON with its type id, exit 3 */
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' get '{\"key\":\"no\"}'",
                     KV), 3);
  CU_ASSERT(out_has("{\"exception\":\"IDL:kv/NotFound:1.0\",\"value\":"
                    "{\"key\":\"no\"}}"));
  /* attributes and oneway */
  CU_ASSERT_EQUAL(sh(CALL "_set_name '{\"value\":\"store-1\"}'", KV), 0);
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' _get_name", KV), 0);
  CU_ASSERT(out_has("{\"_ret\":\"store-1\"}"));
  CU_ASSERT_EQUAL(sh(CALL "log '{\"message\":\"hi\"}'", KV), 0);
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' Store._get_size", KV),
                  0);
  CU_ASSERT(out_has("{\"_ret\":5}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s '' remove "
                     "'{\"key\":\"m1\"}'", KV), 0);
  CU_ASSERT(out_has("{\"_ret\":true}"));
#undef KV
  /* the calculator: numbers, double, its exception */
  CU_ASSERT_EQUAL(sh("%s --json call %s %s calc add "
                     "'{\"a\":2147483600,\"b\":47}'", PLUMB_CLI, calcidl,
                     calc), 0);
  CU_ASSERT(out_has("{\"_ret\":2147483647}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s calc div "
                     "'{\"a\":1,\"b\":4}'", PLUMB_CLI, calcidl, calc), 0);
  CU_ASSERT(out_has("{\"_ret\":0.25}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s calc div "
                     "'{\"a\":1,\"b\":0}'", PLUMB_CLI, calcidl, calc), 3);
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
      snprintf(kvidl, sizeof kvidl, "--idl %s", KV_IDL);
      snprintf(calcidl, sizeof calcidl, "--idl %s", CALC_IDL);
      calls_on(kv, calc);
      if ((int)CU_get_number_of_failures() != before)
        printf("\n    ^ over %s with --idl", transports[i]);
      /* the same through introspection, on a fresh store */
      CU_ASSERT_EQUAL(ptest_stop(k, SIGTERM, 5000), 0);
      k = start(KV_SERVER, kv);
      CU_ASSERT_FATAL(k > 0);
      kvidl[0] = calcidl[0] = '\0';
      before = (int)CU_get_number_of_failures();
      calls_on(kv, calc);
      if ((int)CU_get_number_of_failures() != before)
        printf("\n    ^ over %s by introspection", transports[i]);
      CU_ASSERT_EQUAL(sh("%s list %s", PLUMB_CLI, kv), 0);
      CU_ASSERT(out_has("kv IDL:kv/Store:1.0\n# plumb "));
      /* the calls above were counted (introspection's info) */
      CU_ASSERT(out_has(" calls served\n"));
      CU_ASSERT(!ptest_file_contains(out, " 0 calls served\n"));
      CU_ASSERT_EQUAL(sh("%s --json describe %s kv", PLUMB_CLI, kv), 0);
      CU_ASSERT(out_has("{\"interface\":\"kv::Store\",\"type_id\":"
                        "\"IDL:kv/Store:1.0\",\"idl\":\"// kv::Store "
                        "served by "));
      /* the same, structured for scripts */
      CU_ASSERT(out_has("{\"name\":\"get\",\"oneway\":false,\"result\":"
                        "\"kv::Value\",\"params\":[{\"name\":\"key\",\"dir\":"
                        "\"in\",\"type\":\"string\"}],\"raises\":["
                        "\"IDL:kv/NotFound:1.0\"]}"));
      CU_ASSERT(out_has("{\"name\":\"version\",\"dir\":\"out\",\"type\":"
                        "\"unsigned long\"}"));
      CU_ASSERT(out_has("{\"name\":\"log\",\"oneway\":true,"));
      CU_ASSERT(out_has("\"attributes\":[{\"name\":\"name\",\"readonly\":"
                        "false,\"type\":\"string\"},{\"name\":\"size\","
                        "\"readonly\":true,\"type\":\"unsigned long\"}]"));
      CU_ASSERT_EQUAL(sh("sh -c '%s describe %s > %s/served.idl' && "
                         "%s -o %s/gs %s/served.idl", PLUMB_CLI, kv, dir,
                         PLUMBC, dir, dir), 0);
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

/* ---- chat: object references in and out, anonymous objects ------------ */

/* Lobby.create returns a Room reference; the room (anonymous, never
 * listed) is then called by its id: attribute, user exception, a bad
 * reference argument, close.  idl: "--idl FILE" or "" (introspection:
 * the room's type comes from its built-in _interface). */
static void
chat_calls(const char *ep, const char *idl)
{
  CU_ASSERT_EQUAL(sh("%s --json call %s %s lobby create "
                     "'{\"topic\":\"t1\"}'", PLUMB_CLI, idl, ep), 0);
  CU_ASSERT(out_has("\"type_id\":\"IDL:chat/Room:1.0\""));
  char buf[2048], room[64] = "";
  ptest_slurp(out, buf, sizeof buf);
  const char *o = strstr(buf, "\"object\":\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_EQUAL(sscanf(o + 10, "%32[0-9a-f]", room), 1);
  CU_ASSERT_EQUAL_FATAL(strlen(room), 32);
  CU_ASSERT_EQUAL(sh("%s --json call %s %s %s _get_topic", PLUMB_CLI, idl,
                     ep, room), 0);
  CU_ASSERT(out_has("{\"_ret\":\"t1\"}"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s %s say "
                     "'{\"nick\":\"x\",\"text\":\"hi\"}'", PLUMB_CLI, idl,
                     ep, room), 3);
  CU_ASSERT(out_has("{\"exception\":\"IDL:chat/NotMember:1.0\",\"value\":"
                    "{\"nick\":\"x\"}}"));
  /* a reference to something that is not a Listener: refused, named */
  CU_ASSERT_EQUAL(sh("%s --json call %s %s %s join '{\"nick\":\"x\","
                     "\"who\":{\"endpoint\":\"%s\",\"object\":\"lobby\","
                     "\"type_id\":\"IDL:chat/Listener:1.0\"}}'", PLUMB_CLI,
                     idl, ep, room, ep), 1);
  CU_ASSERT(out_has("cannot call back 'x'"));
  CU_ASSERT_EQUAL(sh("%s --json call %s %s %s close", PLUMB_CLI, idl, ep,
                     room), 0);
  if (idl[0] != '\0') { /* a system exception, with its minor code */
    CU_ASSERT_EQUAL(sh("%s --json call %s %s %s _get_topic", PLUMB_CLI, idl,
                       ep, room), 1);
    CU_ASSERT(out_has("{\"system_exception\":\"OBJECT_NOT_EXIST\","
                      "\"type_id\":\"IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0\","
                      "\"minor\":1,\"completed\":\"no\",\"status\":"
                      "\"ENOOBJECT\",\"message\":"));
    CU_ASSERT_EQUAL(sh("%s call %s %s %s _get_topic", PLUMB_CLI, idl, ep,
                       room), 1);
    CU_ASSERT(out_has("system exception OBJECT_NOT_EXIST, minor 1, "
                      "completed no)"));
  } else { /* by introspection the object is already not found */
    CU_ASSERT_EQUAL(sh("%s --json call %s %s _get_topic", PLUMB_CLI, ep,
                       room), 2);
    CU_ASSERT(out_has("no object '"));
  }
}

static void
test_chat(void)
{
  char ep[300], idl[400];
  int tried = 0;
  for (int i = 0; transports[i]; i++) {
    if (!endpoint_for(transports[i], ep, sizeof ep, 70 + i))
      continue;
    pid_t p = start(CHAT_SERVER, ep);
    CU_ASSERT(p > 0);
    if (p <= 0)
      continue;
    int before = (int)CU_get_number_of_failures();
    snprintf(idl, sizeof idl, "--idl %s", CHAT_IDL);
    chat_calls(ep, idl);
    chat_calls(ep, "");
    if ((int)CU_get_number_of_failures() != before)
      printf("\n    ^ chat over %s", transports[i]);
    CU_ASSERT_EQUAL(ptest_stop(p, SIGTERM, 5000), 0);
    tried++;
  }
  printf("\n    chat over %d transports", tried);
  CU_ASSERT(tried >= 2);
}

/* ---- any in and out ---------------------------------------------------- */

/* Writes {"a": any} holding a Tree nested depth deep (kids = field 2,
 * each level one kid), its encoding in base64, to path; 0 or -1. */
static int
write_tree_any(const char *path, int depth)
{
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char b[1024], t[1024];
  size_t n = 0;
  for (int i = 0; i < depth && n + 3 < sizeof b; i++) {
    size_t h = 0;
    t[h++] = 0x12;
    if (n < 128) {
      t[h++] = (unsigned char)n;
    } else {
      t[h++] = (unsigned char)(n & 127) | 128;
      t[h++] = (unsigned char)(n >> 7);
    }
    memcpy(t + h, b, n);
    memcpy(b, t, n + h);
    n += h;
  }
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  fputs("{\"a\":{\"@type\":\"IDL:anyt/Tree:1.0\",\"value\":\"", f);
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? b[i + 1] << 8 : 0) |
                 (i + 2 < n ? b[i + 2] : 0);
    fputc(b64[v >> 18 & 63], f);
    fputc(b64[v >> 12 & 63], f);
    fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
    fputc(i + 2 < n ? b64[v & 63] : '=', f);
  }
  fputs("\"}}\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

/* Calls echo with argument JSON `in` and checks the printed result
 * contains `want`; then feeds the printed "_ret" back in (round trip). */
static void
any_calls(const char *ep, const char *idl)
{
#define ECHO "%s --json call %s %s echo "
  /* a struct of the IDL, given as JSON, printed back as JSON */
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":{\"@type\":\"IDL:anyt/Point:1.0\","
                     "\"value\":{\"x\":1,\"y\":-2}}}'", PLUMB_CLI, idl, ep),
                  0);
  CU_ASSERT(out_has("{\"_ret\":{\"@type\":\"type.plumb/IDL:anyt/Point:1.0\","
                    "\"value\":{\"x\":1,\"y\":-2}}}"));
  /* the server saw the type */
  CU_ASSERT_EQUAL(sh(ECHO "type_of '{\"a\":{\"@type\":\"type.plumb/IDL:"
                     "anyt/Point:1.0\",\"value\":{\"x\":3}}}'", PLUMB_CLI,
                     idl, ep), 0);
  CU_ASSERT(out_has("{\"_ret\":\"type.plumb/IDL:anyt/Point:1.0\"}"));
  /* a struct with a sequence of structs, 64 bits, bytes and a union:
   * what is printed, given back, prints the same */
  const char *bag = "{\"@type\":\"type.plumb/IDL:anyt/Bag:1.0\",\"value\":"
                    "{\"pts\":[{\"x\":1,\"y\":2},{\"x\":-3,\"y\":4}],"
                    "\"big\":\"-9007199254740993\",\"raw\":\"AAEC/w==\","
                    "\"shape\":{\"_d\":2,\"label\":\"l\"}}}";
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":%s}'", PLUMB_CLI, idl, ep, bag), 0);
  char want[600];
  snprintf(want, sizeof want, "{\"_ret\":%s}", bag);
  CU_ASSERT(out_has(want));
  /* what was printed, given back as the argument, prints the same */
  char rt[300];
  snprintf(rt, sizeof rt, "%s/rt.json", dir);
  FILE *in = fopen(out, "r"), *o = fopen(rt, "w");
  char buf[1024] = "";
  size_t n = in ? fread(buf, 1, sizeof buf - 1, in) : 0;
  buf[n] = '\0';
  CU_ASSERT(strstr(buf, "{\"_ret\":") == buf);
  if (o != NULL)
    fprintf(o, "{\"a\"%s", buf + 7);
  if (in)
    fclose(in);
  if (o)
    fclose(o);
  CU_ASSERT_EQUAL(sh("%s --json call %s %s echo echo - < %s", PLUMB_CLI,
                     idl, ep, rt), 0);
  CU_ASSERT(out_has(want));
  /* the base64 form: for a type the IDL does not declare, both ways */
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":{\"@type\":\"IDL:other/T:1.0\","
                     "\"value\":\"CAE=\"}}'", PLUMB_CLI, idl, ep), 0);
  CU_ASSERT(out_has("{\"_ret\":{\"@type\":\"type.plumb/IDL:other/T:1.0\","
                    "\"value\":\"CAE=\"}}"));
  /* a recursive type nested 4 deep prints as JSON; nested 101 deep (as
   * a hostile server might send it) it is not unpacked: base64 */
  if (idl[0] != '\0') {
    for (int depth = 3; depth <= 100; depth += 97) {
      char gen[300];
      snprintf(gen, sizeof gen, "%s/tree.json", dir);
      CU_ASSERT_EQUAL(write_tree_any(gen, depth), 0);
      CU_ASSERT_EQUAL(sh("%s --json call %s %s echo echo - < %s", PLUMB_CLI,
                         idl, ep, gen), 0);
      if (depth == 3) {
        CU_ASSERT(out_has("\"value\":{\"label\":\"\",\"kids\":[{\"label\""
                          ":\"\",\"kids\":[{\"label\":\"\",\"kids\":[{"
                          "\"label\":\"\",\"kids\":[]}]}]}]}"));
      } else {
        CU_ASSERT(out_has("\"@type\":\"type.plumb/IDL:anyt/Tree:1.0\","
                          "\"value\":\"EukB"));
      }
    }
  }
  /* errors, named */
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":5}'", PLUMB_CLI, idl, ep), 2);
  CU_ASSERT(out_has("field 'a': expected an any"));
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":{\"@type\":\"IDL:other/T:1.0\","
                     "\"value\":{\"x\":1}}}'", PLUMB_CLI, idl, ep), 2);
  CU_ASSERT(out_has("no struct, union or exception of the IDL"));
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":{\"@type\":\"IDL:anyt/Point:1.0\","
                     "\"value\":{\"z\":1}}}'", PLUMB_CLI, idl, ep), 2);
  CU_ASSERT(out_has("field 'a.value"));
  CU_ASSERT_EQUAL(sh(ECHO "echo '{\"a\":{\"@type\":\"http://x\"}}'",
                     PLUMB_CLI, idl, ep), 2);
  CU_ASSERT(out_has("'@type' must be"));
#undef ECHO
}

static void
test_any(void)
{
  const char *ts[] = { "unix", "tcp", NULL };
  for (int i = 0; ts[i]; i++) {
    char ep[300], idl[400];
    if (!endpoint_for(ts[i], ep, sizeof ep, 60 + i))
      continue;
    pid_t p = start(ANY_SERVER, ep);
    CU_ASSERT_FATAL(p > 0);
    snprintf(idl, sizeof idl, "--idl %s", ANY_IDL);
    any_calls(ep, idl);
    any_calls(ep, ""); /* by introspection: the served IDL has the types */
    CU_ASSERT_EQUAL(ptest_stop(p, SIGTERM, 5000), 0);
  }
}

/* ---- ping -------------------------------------------------------------- */

static void
test_ping(void)
{
  char ep[300];
  snprintf(ep, sizeof ep, "unix:%s/p.sock", dir);
  pid_t k = start(CALC_SERVER, ep);
  CU_ASSERT_FATAL(k > 0);
  /* the default object, a named one: _non_existent answers "exists" */
  CU_ASSERT_EQUAL(sh("%s ping -c 3 %s", PLUMB_CLI, ep), 0);
  CU_ASSERT(out_has("3 sent, 3 received, 0% lost"));
  CU_ASSERT(!ptest_file_contains(out, "no such object"));
  CU_ASSERT_EQUAL(sh("%s --json ping -c 2 %s calc", PLUMB_CLI, ep), 0);
  CU_ASSERT(out_has("\"sent\":2,\"received\":2,"));
  CU_ASSERT(out_has("\"object_exists\":true}"));
  /* an object the server does not have: answered, reported, status 3 */
  CU_ASSERT_EQUAL(sh("%s ping -c 2 %s nobody", PLUMB_CLI, ep), 3);
  CU_ASSERT(out_has("time="));
  CU_ASSERT(out_has("(no such object)"));
  CU_ASSERT(out_has("has no object 'nobody'"));
  CU_ASSERT_EQUAL(sh("%s --json ping -c 1 %s nobody", PLUMB_CLI, ep), 3);
  CU_ASSERT(out_has("\"object_exists\":false}"));
  /* the probes ran no handler: calc's call counter is still 0 */
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s calc _get_calls",
                     PLUMB_CLI, CALC_IDL, ep), 0);
  CU_ASSERT(out_has("{\"_ret\":0}"));
  CU_ASSERT_EQUAL(ptest_stop(k, SIGTERM, 5000), 0);
  /* nobody there: status 1 */
  CU_ASSERT_EQUAL(sh("%s ping -c 1 unix:%s/none.sock", PLUMB_CLI, dir), 1);
}

/* ---- access rules apply to introspection -------------------------------- */

/* As root: another user (nobody, 65534, through setpriv) is refused by a
 * default (0600) server - introspection included - and served once
 * allow_uids admits it.  An abstract socket, so that no file permission
 * is what refuses it. */
static void
test_access(void)
{
  if (geteuid() != 0 || system("command -v setpriv >/dev/null") != 0) {
    printf("\n    SKIPPED: needs root and setpriv (another user)");
    return;
  }
  char ep[300], conf[300];
  snprintf(ep, sizeof ep, "unix:@plumb-tt-%d-acc", (int)getpid());
  snprintf(conf, sizeof conf, "%s/acc.conf", dir);
  /* nobody must be able to run the CLI: the build tree may sit where it
   * cannot go (a checkout in /root, mode 0700), so it runs copies of the
   * CLI, its libplumb (found through RUNPATH $ORIGIN/../runtime) and the
   * IDL from a scratch directory it may read. */
  char pub[] = "/tmp/plumb-tt-pub-XXXXXX", cli[400], idl[400];
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(pub));
  CU_ASSERT_EQUAL_FATAL(chmod(pub, 0755), 0);
  snprintf(cli, sizeof cli, "%s/bin/plumb", pub);
  snprintf(idl, sizeof idl, "%s/calculator.idl", pub);
  CU_ASSERT_EQUAL_FATAL(
      sh("mkdir -m 0755 %s/bin %s/runtime && cp %s %s && "
         "cp -L \"$(dirname %s)/../runtime/libplumb.so.0\" %s/runtime/ && "
         "cp %s %s && chmod -R a+rX %s",
         pub, pub, PLUMB_CLI, cli, PLUMB_CLI, pub, CALC_IDL, idl, pub), 0);
#define AS_NOBODY "setpriv --reuid=65534 --regid=65534 --clear-groups "
  for (int admitted = 0; admitted < 2; admitted++) {
    FILE *f = fopen(conf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(admitted ? "[calc]\nallow_uids = 65534\n" : "[calc]\n", f);
    fclose(f);
    setenv("PLUMB_CONFIG", conf, 1);
    pid_t p = start(CALC_SERVER, ep);
    unsetenv("PLUMB_CONFIG");
    CU_ASSERT_FATAL(p > 0);
    CU_ASSERT_EQUAL(sh("%s list %s", PLUMB_CLI, ep), 0); /* its owner */
    int want = admitted ? 0 : 1;
    CU_ASSERT_EQUAL(sh(AS_NOBODY "%s list %s", cli, ep), want);
    if (admitted) {
      CU_ASSERT(out_has("calc IDL:calc/Calculator:1.0"));
    } else { /* refused by the server, not by the file system */
      CU_ASSERT(strstr(out, "error while loading") == NULL);
    }
    CU_ASSERT_EQUAL(sh(AS_NOBODY "%s describe %s", cli, ep), want);
    CU_ASSERT_EQUAL(sh(AS_NOBODY "%s --json call %s calc add "
                       "'{\"a\":1,\"b\":2}'", cli, ep), want);
    if (admitted)
      CU_ASSERT(out_has("{\"_ret\":3}"));
    CU_ASSERT_EQUAL(sh(AS_NOBODY "%s --json call --idl %s %s calc add "
                       "'{\"a\":1,\"b\":2}'", cli, idl, ep), want);
    CU_ASSERT_EQUAL(ptest_stop(p, SIGTERM, 5000), 0);
  }
#undef AS_NOBODY
  CU_ASSERT_EQUAL(sh("rm -rf %s", pub), 0);
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
  /* introspection: a type the server does not serve, an unknown object */
  CU_ASSERT_EQUAL(sh("%s describe %s IDL:calc/Calculator:1.0", PLUMB_CLI,
                     ep), 2);
  CU_ASSERT(out_has("the server serves no interface IDL:calc/Calculator"));
  CU_ASSERT_EQUAL(sh("%s call %s nobody keys", PLUMB_CLI, ep), 2);
  CU_ASSERT(out_has("no object 'nobody'"));
  /* introspection switched off in plumb.conf: the CLI says so (status 4)
   * and --idl still works against the same server */
  char conf[300], off_ep[300];
  snprintf(conf, sizeof conf, "%s/off.conf", dir);
  snprintf(off_ep, sizeof off_ep, "unix:%s/off.sock", dir);
  FILE *f = fopen(conf, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("[calc]\nintrospection = off\n", f);
  fclose(f);
  setenv("PLUMB_CONFIG", conf, 1);
  pid_t off = start(CALC_SERVER, off_ep);
  unsetenv("PLUMB_CONFIG");
  CU_ASSERT_FATAL(off > 0);
  CU_ASSERT_EQUAL(sh("%s list %s", PLUMB_CLI, off_ep), 4);
  CU_ASSERT(out_has("does not answer introspection"));
  CU_ASSERT_EQUAL(sh("%s call %s calc add", PLUMB_CLI, off_ep), 4);
  CU_ASSERT(out_has("--idl FILE"));
  CU_ASSERT_EQUAL(sh("%s describe %s", PLUMB_CLI, off_ep), 4);
  CU_ASSERT_EQUAL(sh("%s --json call --idl %s %s calc add "
                     "'{\"a\":1,\"b\":2}'", PLUMB_CLI, CALC_IDL, off_ep), 0);
  CU_ASSERT(out_has("{\"_ret\":3}"));
  CU_ASSERT_EQUAL(ptest_stop(off, SIGTERM, 5000), 0);
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

/* ---- libplumb's introspection tables equal plumbc's ---------------------- */

static void
same_fields(const ProtobufCMessageDescriptor *hand,
            const ProtobufCMessageDescriptor *gen)
{
  CU_ASSERT_PTR_NOT_NULL_FATAL(hand);
  for (unsigned i = 0; i < hand->n_fields; i++) {
    const ProtobufCFieldDescriptor *h = &hand->fields[i];
    const ProtobufCFieldDescriptor *g =
        protobuf_c_message_descriptor_get_field(gen, h->id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_STRING_EQUAL(h->name, g->name);
    CU_ASSERT_EQUAL(h->type, g->type);
    CU_ASSERT_EQUAL(h->label, g->label);
    if (h->type == PROTOBUF_C_TYPE_MESSAGE)
      same_fields(h->descriptor, g->descriptor);
  }
  /* every field of introspect.idl is declared, none left out */
  CU_ASSERT_EQUAL(hand->n_fields, gen->n_fields);
}

static void
test_tables(void)
{
  const plumb_interface *h = &plumb__introspect_iface;
  const plumb_interface *g = &plumb_introspect_Introspector_interface;
  CU_ASSERT_STRING_EQUAL(h->type_id, g->type_id);
  CU_ASSERT_EQUAL(h->id, g->id);
  CU_ASSERT_EQUAL(h->id, plumb_type_hash(h->type_id));
  CU_ASSERT_EQUAL_FATAL(h->n_ops, g->n_ops);
  for (size_t i = 0; i < h->n_ops; i++) {
    CU_ASSERT_STRING_EQUAL(h->ops[i].name, g->ops[i].name);
    CU_ASSERT_EQUAL(h->ops[i].decl_iface, g->ops[i].decl_iface);
    CU_ASSERT_EQUAL(h->ops[i].decl_index, g->ops[i].decl_index);
    CU_ASSERT_EQUAL(h->ops[i].n_raises, g->ops[i].n_raises);
    for (size_t r = 0; r < h->ops[i].n_raises; r++)
      CU_ASSERT_STRING_EQUAL(h->ops[i].raises[r]->type_id,
                             g->ops[i].raises[r]->type_id);
    same_fields(h->ops[i].request, g->ops[i].request);
    same_fields(h->ops[i].reply, g->ops[i].reply);
  }
}

static const ptest_case cases[] = {
  { "libplumb introspection tables equal plumbc's", test_tables },
  { "describe --idl re-parses", test_describe },
  { "call --idl / ping over every transport", test_call_transports },
  { "errors, exit statuses, no introspection", test_errors },
  { "chat: references, anonymous objects, every transport", test_chat },
  { "any in JSON, both forms, round trip", test_any },
  { "ping by _non_existent", test_ping },
  { "access rules apply to introspection", test_access },
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
