/* test_naming.c - plumb-naming end to end: the service over every built-in
 * transport at once, the plumb CLI's names/resolve/bind/unbind with
 * contexts and iterators, plumb_naming_resolve / rebind / unbind, the
 * name: endpoint in plumb.conf (calc-client reaches calc-server by name),
 * persistence across a restart and across kill -9 during writes, and the
 * hand-written CosNaming tables of libplumb against plumbc's. */
#include <errno.h>
#include <pthread.h>
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
#include <sqlite3.h>

#include "CosNaming.h"
#include "naming_wire.h"
#include "proc.h"
#include "ptest.h"
#include "shell.h"
#include "tmpdir.h"

static char dir[128], db[192], ns_ep[256], out[256], conf[256];
static pid_t ns_pid = -1;
static const char *const *ns_opts; /* more options for the next ns_start */

/* A command line with its output in `out`, and text looked for there
 * (tests/support/shell.h). */
#define sh(...) ptest_sh(out, __VA_ARGS__)
#define out_has(needle) ptest_out_has(out, needle)

/* Starts plumb-naming on the given endpoints (NULL-terminated) with
 * extra options, waiting until `plumb names` answers. */
static int
ns_start(const char *const *eps, int memory)
{
  char *argv[16];
  int k = 0;
  argv[k++] = (char *)PLUMB_NAMING;
  if (memory) {
    argv[k++] = (char *)"--memory";
  } else {
    argv[k++] = (char *)"--db";
    argv[k++] = db;
  }
  for (int i = 0; ns_opts && ns_opts[i] && k < 10; i++)
    argv[k++] = (char *)ns_opts[i];
  for (int i = 0; eps[i] && k < 15; i++)
    argv[k++] = (char *)eps[i];
  argv[k] = NULL;
  char log[256];
  snprintf(log, sizeof log, "%s/naming.log", dir);
  ns_pid = ptest_spawn(argv, log);
  long long end = ptest_now_ms() + 5000;
  while (ptest_now_ms() < end) {
    if (sh("%s names", PLUMB_CLI) == 0)
      return 0;
    if (ptest_exited(ns_pid)) {
      ns_pid = -1;
      return -1;
    }
    usleep(20000);
  }
  return -1;
}

static int
ns_stop(int sig)
{
  int rc = ns_pid > 0 ? ptest_stop(ns_pid, sig, 5000) : -1;
  ns_pid = -1;
  return rc;
}

static int
init(void)
{
  if (ptest_tmpdir(dir, sizeof dir, "naming-test") != 0)
    return -1;
  snprintf(db, sizeof db, "%s/naming.db", dir);
  snprintf(out, sizeof out, "%s/out.txt", dir);
  snprintf(conf, sizeof conf, "%s/plumb.conf", dir);
  snprintf(ns_ep, sizeof ns_ep, "unix:%s/ns.sock", dir);
  setenv("PLUMB_NAMING_ENDPOINT", ns_ep, 1);
  unsetenv("PLUMB_CONFIG");
  unsetenv("PLUMB_ENDPOINT");
  return 0;
}

static int
cleanup(void)
{
  ns_stop(SIGTERM);
  return ptest_rmtree(dir);
}

/* ---- libplumb's hand-written tables equal plumbc's -------------------- */

static void
test_wire_tables(void)
{
  const plumb_interface *ctx = &CosNaming_NamingContext_interface;
  const plumb_interface *ext = &CosNaming_NamingContextExt_interface;
  CU_ASSERT_STRING_EQUAL(plumb__naming_ctx_iface.type_id, ctx->type_id);
  CU_ASSERT_EQUAL(plumb__naming_ctx_iface.id, ctx->id);
  CU_ASSERT_STRING_EQUAL(plumb__naming_ext_iface.type_id, ext->type_id);
  CU_ASSERT_EQUAL(plumb__naming_ext_iface.id, ext->id);
  CU_ASSERT_EQUAL(plumb__naming_ctx_iface.id,
                  plumb_type_hash(plumb__naming_ctx_iface.type_id));
  /* rebind, unbind, resolve_str: same declaring interface and index */
  const char *names[] = { "rebind", "unbind" };
  for (int i = 0; i < 2; i++) {
    const plumb_operation *o = &plumb__naming_ctx_iface.ops[i];
    const plumb_operation *g = NULL;
    for (size_t k = 0; k < ctx->n_ops; k++)
      if (strcmp(ctx->ops[k].name, names[i]) == 0)
        g = &ctx->ops[k];
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_STRING_EQUAL(o->name, g->name);
    CU_ASSERT_EQUAL(o->decl_iface, g->decl_iface);
    CU_ASSERT_EQUAL(o->decl_index, g->decl_index);
    CU_ASSERT_EQUAL(o->request->n_fields, i == 0 ? 2u : 1u);
    for (unsigned f = 0; f < o->request->n_fields; f++) {
      CU_ASSERT_EQUAL(o->request->fields[f].id, g->request->fields[f].id);
      CU_ASSERT_EQUAL(o->request->fields[f].type,
                      g->request->fields[f].type);
      CU_ASSERT_EQUAL(o->request->fields[f].label,
                      g->request->fields[f].label);
    }
    for (size_t k = 0; k < o->n_raises; k++) {
      int found = 0;
      for (size_t j = 0; j < g->n_raises; j++)
        found |= strcmp(o->raises[k]->type_id, g->raises[j]->type_id) == 0;
      CU_ASSERT(found);
    }
  }
  const plumb_operation *o = &plumb__naming_ext_iface.ops[0];
  const plumb_operation *g = &ext->ops[3];
  CU_ASSERT_STRING_EQUAL(g->name, "resolve_str");
  CU_ASSERT_EQUAL(o->decl_iface, g->decl_iface);
  CU_ASSERT_EQUAL(o->decl_index, g->decl_index);
  CU_ASSERT_EQUAL(o->request->fields[0].id, g->request->fields[0].id);
  CU_ASSERT_EQUAL(o->reply->fields[0].id, g->reply->fields[0].id);
  CU_ASSERT_EQUAL(o->reply->fields[0].descriptor, g->reply->fields[0].descriptor);
}

/* ---- the CLI ------------------------------------------------------------- */

static void
test_cli(void)
{
  const char *eps[] = { ns_ep, NULL };
  CU_ASSERT_EQUAL_FATAL(ns_start(eps, 1), 0);
  CU_ASSERT_EQUAL(sh("%s bind --context apps", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s bind apps/calc.svc tcp://127.0.0.1:9 calc "
                     "IDL:calc/Calculator:1.0", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s bind apps/calc.svc unix:/x", PLUMB_CLI), 3);
  CU_ASSERT(out_has("already bound"));
  CU_ASSERT_EQUAL(sh("%s resolve apps/calc.svc", PLUMB_CLI), 0);
  CU_ASSERT(out_has("tcp://127.0.0.1:9 calc IDL:calc/Calculator:1.0"));
  CU_ASSERT_EQUAL(sh("%s --json resolve apps/calc.svc", PLUMB_CLI), 0);
  CU_ASSERT(out_has("{\"name\":\"apps/calc.svc\",\"endpoint\":"
                    "\"tcp://127.0.0.1:9\",\"object\":\"calc\","
                    "\"type_id\":\"IDL:calc/Calculator:1.0\"}"));
  CU_ASSERT_EQUAL(sh("%s bind --rebind apps/calc.svc unix:/y", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s resolve apps/calc.svc", PLUMB_CLI), 0);
  CU_ASSERT(out_has("unix:/y - -"));
  /* a context inside a context, an object inside that */
  CU_ASSERT_EQUAL(sh("%s bind -c apps/deep", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s bind apps/deep/x unix:/z", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s resolve apps/deep/x", PLUMB_CLI), 0);
  CU_ASSERT(out_has("unix:/z"));
  /* a context made at run time is an object of its own at once */
  CU_ASSERT_EQUAL(sh("%s names apps", PLUMB_CLI), 0);
  CU_ASSERT(out_has("calc.svc\ndeep/\n"));
  CU_ASSERT_EQUAL(sh("%s names apps/deep", PLUMB_CLI), 0);
  CU_ASSERT(out_has("x\n"));
  /* through a missing context / an object used as a context */
  CU_ASSERT_EQUAL(sh("%s resolve apps/nope/x", PLUMB_CLI), 3);
  CU_ASSERT(out_has("not bound"));
  CU_ASSERT_EQUAL(sh("%s bind apps/calc.svc/x unix:/z", PLUMB_CLI), 3);
  CU_ASSERT_EQUAL(sh("%s resolve 'a//b'", PLUMB_CLI), 2);
  CU_ASSERT(out_has("not a valid name"));
  /* iterators: 25 bindings listed 4 at a time */
  char cmd[512];
  snprintf(cmd, sizeof cmd, "for i in $(seq 1 25); do %s bind k$i "
           "unix:/k$i || exit 1; done", PLUMB_CLI);
  CU_ASSERT_EQUAL(sh("sh -c '%s'", cmd), 0);
  CU_ASSERT_EQUAL(sh("%s names --batch 4", PLUMB_CLI), 0);
  CU_ASSERT(out_has("apps/\nk1\nk10\n"));
  CU_ASSERT(out_has("k9\n"));
  CU_ASSERT_EQUAL(sh("%s names --batch 4 | wc -l | grep -qx 26",
                     PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s --json names --batch 7", PLUMB_CLI), 0);
  CU_ASSERT(out_has("[{\"id\":\"apps\",\"kind\":\"\",\"type\":\"ncontext\"},"
                    "{\"id\":\"k1\",\"kind\":\"\",\"type\":\"nobject\"}"));
  /* unbind */
  CU_ASSERT_EQUAL(sh("%s unbind k7", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s resolve k7", PLUMB_CLI), 3);
  CU_ASSERT_EQUAL(sh("%s unbind k7", PLUMB_CLI), 3);
  /* ping reaches the service */
  CU_ASSERT_EQUAL(sh("%s ping -c 3 %s", PLUMB_CLI, ns_ep), 0);
  CU_ASSERT(out_has("3 sent, 3 received, 0% lost"));
  CU_ASSERT(out_has("rtt min/avg/max/p99 = "));
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
  /* the service gone: a clear failure, status 1 */
  CU_ASSERT_EQUAL(sh("%s resolve k1", PLUMB_CLI), 1);
  CU_ASSERT(out_has(ns_ep));
}

/* ---- libplumb's client side and name: endpoints --------------------------- */

static void
test_client_api(void)
{
  const char *eps[] = { ns_ep, NULL };
  char err[512];
  CU_ASSERT_EQUAL_FATAL(ns_start(eps, 1), 0);
  plumb_objref r = PLUMB_OBJREF_INIT;
  r.endpoint = (char *)"tcp://127.0.0.1:7";
  r.object = (char *)"o";
  r.type_id = (char *)"IDL:x/Y:1.0";
  CU_ASSERT_EQUAL(sh("%s bind -c apps", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(plumb_naming_rebind("apps/one", &r, err, sizeof err),
                  PLUMB_OK);
  plumb_arena *a = plumb_arena_new();
  plumb_objref got;
  CU_ASSERT_EQUAL(plumb_naming_resolve(&got, "apps/one", a, err, sizeof err),
                  PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(got.endpoint, "tcp://127.0.0.1:7");
  CU_ASSERT_STRING_EQUAL(got.object, "o");
  CU_ASSERT_STRING_EQUAL(got.type_id, "IDL:x/Y:1.0");
  CU_ASSERT_EQUAL(plumb_naming_resolve(&got, "apps/two", a, err, sizeof err),
                  PLUMB_EEXCEPTION);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "name 'apps/two' is not bound in the "
                                     "naming service at unix:"));
  CU_ASSERT_EQUAL(plumb_naming_rebind("nosuch/one", &r, err, sizeof err),
                  PLUMB_EEXCEPTION);
  CU_ASSERT_EQUAL(plumb_naming_rebind("a//b", &r, err, sizeof err),
                  PLUMB_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'a//b' is not a valid name"));
  CU_ASSERT_EQUAL(plumb_naming_unbind("apps/one", err, sizeof err), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_naming_resolve(&got, "apps/one", a, err, sizeof err),
                  PLUMB_EEXCEPTION);
  plumb_arena_free(a);

  /* name: in plumb.conf: the calc example found by name */
  char calc_ep[200], text[512];
  snprintf(calc_ep, sizeof calc_ep, "unix:%s/calc.sock", dir);
  char *sargv[] = { (char *)CALC_SERVER, calc_ep, NULL };
  pid_t calc = ptest_spawn(sargv, "/dev/null");
  CU_ASSERT_EQUAL(sh("%s bind apps/calc %s calc IDL:calc/Calculator:1.0",
                     PLUMB_CLI, calc_ep), 0);
  snprintf(text, sizeof text, "[calc]\nendpoint = name:apps/calc\n");
  FILE *f = fopen(conf, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
  int rc = -1;
  for (long long end = ptest_now_ms() + 5000; ptest_now_ms() < end;
       usleep(50000))
    if ((rc = sh("env PLUMB_CONFIG=%s %s", conf, CALC_CLIENT)) == 0)
      break;
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(out_has("add(2, 3) = 5"));
  /* and as an explicit endpoint */
  CU_ASSERT_EQUAL(sh("%s name:apps/calc", CALC_CLIENT), 0);
  CU_ASSERT(out_has("add(2, 3) = 5"));
  CU_ASSERT_NOT_EQUAL(sh("%s name:apps/absent", CALC_CLIENT), 0);
  plumb_client *c = NULL;
  CU_ASSERT_EQUAL(plumb_client_open(&c, "name:apps/absent", NULL, NULL),
                  PLUMB_ENOOBJECT);
  CU_ASSERT_PTR_NULL(c);
  CU_ASSERT_EQUAL(plumb_client_open(&c, "name:apps/calc", NULL, NULL),
                  PLUMB_OK);
  plumb_client_close(c);
  /* the naming service may not itself be a name: endpoint */
  setenv("PLUMB_NAMING_ENDPOINT", "name:loop", 1);
  a = plumb_arena_new();
  CU_ASSERT_EQUAL(plumb_naming_resolve(&got, "apps/calc", a, err, sizeof err),
                  PLUMB_ECONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "is itself a name: endpoint"));
  plumb_arena_free(a);
  setenv("PLUMB_NAMING_ENDPOINT", ns_ep, 1);
  CU_ASSERT_EQUAL(ptest_stop(calc, SIGTERM, 5000), 0);
  unlink(conf);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
}

/* ---- every transport at once ---------------------------------------------- */

static void
test_transports(void)
{
  char eps[6][300];
  const char *list[8];
  int pid = (int)getpid(), k = 0;
  plumb_config c;

  snprintf(eps[0], sizeof eps[0], "%s", ns_ep);
  snprintf(eps[1], sizeof eps[1], "tcp://127.0.0.1:%d",
           ptest_free_port(AF_INET, 14));
  snprintf(eps[2], sizeof eps[2], "shm:/plumb-nt-%d", pid);
  snprintf(eps[3], sizeof eps[3], "fifo:%s/ns.fifo", dir);
  snprintf(eps[4], sizeof eps[4], "mq:/plumb-nt-%d", pid);
  snprintf(eps[5], sizeof eps[5], "sysvmq:%s/ns.key", dir);
  for (int i = 0; i < 6; i++)
    if (plumb_config_resolve("x", eps[i], &c, NULL, 0) == PLUMB_OK)
      list[k++] = eps[i];
  list[k] = NULL;
  CU_ASSERT(k >= 2);
  CU_ASSERT_EQUAL_FATAL(ns_start(list, 1), 0);
  CU_ASSERT_EQUAL(sh("%s bind t unix:/t", PLUMB_CLI), 0);
  for (int i = 0; i < k; i++) {
    int rc = sh("%s --naming %s resolve t", PLUMB_CLI, list[i]);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0 || !out_has("unix:/t - -"))
      printf("\n    resolve over %s failed", list[i]);
    char name[32];
    snprintf(name, sizeof name, "via%d", i);
    CU_ASSERT_EQUAL(sh("%s --naming %s bind %s unix:/v", PLUMB_CLI, list[i],
                       name), 0);
  }
  CU_ASSERT_EQUAL(sh("%s names | grep -c '^via' | grep -qx %d", PLUMB_CLI,
                     k), 0);
  printf("\n    naming served and used over %d transports", k);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
}

/* ---- persistence ------------------------------------------------------------ */

static int
count_rows(const char *sql)
{
  sqlite3 *h;
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

static void
test_persistence(void)
{
  const char *eps[] = { ns_ep, NULL };
  struct stat sb;
  unlink(db);
  CU_ASSERT_EQUAL_FATAL(ns_start(eps, 0), 0);
  CU_ASSERT_EQUAL(stat(db, &sb), 0);
  CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
  CU_ASSERT_EQUAL(sh("%s bind -c apps", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(sh("%s bind apps/kept unix:/kept", PLUMB_CLI), 0);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
  CU_ASSERT_EQUAL_FATAL(ns_start(eps, 0), 0);
  CU_ASSERT_EQUAL(sh("%s resolve apps/kept", PLUMB_CLI), 0);
  CU_ASSERT(out_has("unix:/kept"));
  /* after a restart the context is also an object of its own */
  CU_ASSERT_EQUAL(sh("%s names apps", PLUMB_CLI), 0);
  CU_ASSERT(out_has("kept\n"));

  /* kill -9 while a writer binds w1, w2, ...: every binding the writer saw
   * committed is there afterwards, and the database is intact */
  char wlog[256], cmd[768];
  snprintf(wlog, sizeof wlog, "%s/written.txt", dir);
  snprintf(cmd, sizeof cmd, "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); "
           "%s --timeout 2000 bind apps/w$i unix:/w$i 2>/dev/null || exit 0;"
           " echo $i >>%s; done", PLUMB_CLI, wlog);
  char *wargv[] = { (char *)"/bin/sh", (char *)"-c", cmd, NULL };
  pid_t w = ptest_spawn(wargv, "/dev/null");
  long long end = ptest_now_ms() + 10000;
  while (ptest_now_ms() < end && count_rows("SELECT count(*) FROM bindings "
                                            "WHERE id LIKE 'w%'") < 40)
    usleep(20000);
  CU_ASSERT_EQUAL(ptest_stop(ns_pid, SIGKILL, 5000), 128 + SIGKILL);
  ns_pid = -1;
  CU_ASSERT(ptest_stop(w, 0, 10000) >= 0);
  int last = 0;
  FILE *f = fopen(wlog, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  for (int v; fscanf(f, "%d", &v) == 1;)
    last = v;
  fclose(f);
  CU_ASSERT(last >= 40);
  CU_ASSERT_EQUAL_FATAL(ns_start(eps, 0), 0);
  CU_ASSERT_EQUAL(count_rows("SELECT count(*) FROM pragma_integrity_check "
                             "WHERE integrity_check = 'ok'"), 1);
  int have = count_rows("SELECT count(*) FROM bindings WHERE id LIKE 'w%'");
  CU_ASSERT(have >= last); /* at most one more: bound, not yet logged */
  CU_ASSERT(have <= last + 1);
  for (int i = 1; i <= last; i += last / 7 + 1) {
    CU_ASSERT_EQUAL(sh("%s resolve apps/w%d", PLUMB_CLI, i), 0);
  }
  CU_ASSERT_EQUAL(sh("%s resolve apps/w%d", PLUMB_CLI, last), 0);
  printf("\n    %d bindings committed before kill -9, %d found after", last,
         have);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
}

/* ---- a stranger's calls: bounds, 10,000 iterators, concurrency -------- */

static void *
writer(void *arg)
{
  long id = (long)arg;
  char name[64], err[256];
  plumb_objref r = PLUMB_OBJREF_INIT;
  r.endpoint = (char *)"unix:/c";
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof name, "c%ld_%d", id, i);
    if (plumb_naming_rebind(name, &r, err, sizeof err) != PLUMB_OK)
      return (void *)1;
  }
  return NULL;
}

/* The resident memory of process pid in KiB, or -1. */
static long
rss_kb(pid_t pid)
{
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

/* The object count of `plumb list`'s last line in out. */
static int
out_objects(unsigned *n)
{
  char buf[4096];
  ptest_slurp(out, buf, sizeof buf);
  const char *p = strstr(buf, " objects, ");
  while (p > buf && p[-1] >= '0' && p[-1] <= '9')
    p--;
  return p && sscanf(p, "%u objects", n) == 1 ? 0 : -1;
}

typedef struct other_arg {
  volatile int *stop;
  int runs, ok;
} other_arg;

/* Another client: `plumb names --batch 1` (an iterator per listing,
 * followed to the end, destroyed) until stopped; at most 200 runs. */
static void *
other_lister(void *arg)
{
  other_arg *o = arg;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "timeout 20 %s names --batch 1 2>&1 | "
           "grep -c '^i[0-2]' | grep -qx 3", PLUMB_CLI);
  while (!*o->stop && o->runs < 200) {
    o->runs++;
    o->ok += system(cmd) == 0;
  }
  return NULL;
}

static void
test_hostile(void)
{
  const char *eps[] = { ns_ep, NULL };
  /* the pool's size from plumb.conf [naming] */
  FILE *cf = fopen(conf, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cf);
  fputs("[naming]\nmax_iterators = 64\niterator_idle_s = 3600\n", cf);
  fclose(cf);
  setenv("PLUMB_CONFIG", conf, 1);
  /* under ASan, freed memory sits in its quarantine (256 MiB), which the
   * RSS bound below would count: the server runs without one */
  const char *asan = getenv("ASAN_OPTIONS");
  char *saved = asan ? strdup(asan) : NULL, opts[1024];
  snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0:"
           "thread_local_quarantine_size_kb=0", saved ? saved : "",
           saved && *saved ? ":" : "");
  setenv("ASAN_OPTIONS", opts, 1);
  int started = ns_start(eps, 1);
  if (saved)
    setenv("ASAN_OPTIONS", saved, 1);
  else
    unsetenv("ASAN_OPTIONS");
  free(saved);
  unsetenv("PLUMB_CONFIG");
  CU_ASSERT_EQUAL_FATAL(started, 0);
  plumb_client *c;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ns_ep, "NameService", NULL),
                        PLUMB_OK);
  plumb_arena *a = plumb_arena_new();
  const char *tid = NULL;
  /* 65 components: InvalidName, by Name and by string */
  CosNaming_NameComponent comps[65], *pv[65];
  for (int i = 0; i < 65; i++) {
    CosNaming_NameComponent_init(&comps[i]);
    comps[i].id = (char *)"x";
    pv[i] = &comps[i];
  }
  CosNaming_Name name = { 65, pv };
  plumb_objref r = PLUMB_OBJREF_INIT;
  r.endpoint = (char *)"unix:/h";
  CU_ASSERT_EQUAL(CosNaming_NamingContext_bind(c, &name, &r, a),
                  PLUMB_EEXCEPTION);
  plumb_arena_exception(a, &tid);
  CU_ASSERT_PTR_NOT_NULL_FATAL(tid);
  CU_ASSERT_PTR_NOT_NULL(strstr(tid, "/InvalidName:"));
  char sn[300] = "";
  for (int i = 0; i < 70; i++)
    strcat(sn, i ? "/x" : "x");
  CU_ASSERT_EQUAL(CosNaming_NamingContextExt_resolve_str(c, sn, &r, a),
                  PLUMB_EEXCEPTION);
  CU_ASSERT_EQUAL(CosNaming_NamingContextExt_resolve_str(c, "a\\\\", &r, a),
                  PLUMB_EEXCEPTION); /* a\\ is a valid name, unbound */
  CU_ASSERT_EQUAL(CosNaming_NamingContextExt_resolve_str(c, "a\\\\\\",
                                                         &r, a),
                  PLUMB_EEXCEPTION); /* trailing escape: InvalidName */
  plumb_arena_exception(a, &tid);
  CU_ASSERT_PTR_NOT_NULL(strstr(tid, "/InvalidName:"));
  CU_ASSERT_EQUAL(CosNaming_NamingContext_destroy(c, a), PLUMB_EPERM);
  /* iterators: a full pool destroys the least recently used of the peer
   * holding most; destroy frees one */
  name._length = 1;
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "i%d", i);
    comps[0].id = id;
    CU_ASSERT_EQUAL(CosNaming_NamingContext_bind(c, &name, &r, a), PLUMB_OK);
  }
  plumb_objref bis[64];
  int got = 0;
  for (int i = 0; i < 64; i++) {
    CosNaming_BindingList bl = { 0, NULL };
    plumb_objref bi = PLUMB_OBJREF_INIT;
    if (CosNaming_NamingContext_list(c, 1, &bl, &bi, a) == PLUMB_OK &&
        bl._length == 1 && strlen(bi.object) == 32) /* anonymous: 128 bits */
      bis[got++] = bi;
  }
  CU_ASSERT_EQUAL_FATAL(got, 64);
  CU_ASSERT_STRING_NOT_EQUAL(bis[0].object, bis[1].object);
  CosNaming_BindingList bl = { 0, NULL };
  plumb_objref bi = PLUMB_OBJREF_INIT;
  CU_ASSERT_EQUAL(CosNaming_NamingContext_list(c, 1, &bl, &bi, a), PLUMB_OK);
  /* everything fits: a nil iterator */
  CU_ASSERT_EQUAL(CosNaming_NamingContext_list(c, 100, &bl, &bi, a),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(bl._length, 3u);
  CU_ASSERT_STRING_EQUAL(bi.endpoint, "");
  plumb_client *it;
  bool more = false;
  /* the 65th destroyed the oldest */
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&it, ns_ep, bis[0].object, NULL),
                        PLUMB_OK);
  CU_ASSERT_EQUAL(CosNaming_BindingIterator_next_n(it, 10, &bl, &more, a),
                  PLUMB_ENOOBJECT);
  plumb_client_close(it);
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&it, ns_ep, bis[1].object, NULL),
                        PLUMB_OK);
  CU_ASSERT_EQUAL(CosNaming_BindingIterator_next_n(it, 0, &bl, &more, a),
                  PLUMB_EINVAL);
  CU_ASSERT_EQUAL(CosNaming_BindingIterator_next_n(it, 10, &bl, &more, a),
                  PLUMB_OK);
  CU_ASSERT(more);
  CU_ASSERT_EQUAL(bl._length, 2u);
  CU_ASSERT_EQUAL(CosNaming_BindingIterator_destroy(it, a), PLUMB_OK);
  CU_ASSERT_EQUAL(CosNaming_BindingIterator_next_n(it, 10, &bl, &more, a),
                  PLUMB_ENOOBJECT);
  plumb_client_close(it);
  /* a client making 10,000 iterators and destroying none: the server's
   * objects and memory stay bounded, and another client (another
   * process) listing with iterators all the while is served */
  long rss0 = -1, rss1 = -1;
  unsigned objs = 0;
  pthread_t other;
  volatile int stop = 0;
  other_arg oa = { &stop, 0, 0 };
  CU_ASSERT_EQUAL_FATAL(pthread_create(&other, NULL, other_lister, &oa), 0);
  long long t0 = ptest_now_ms();
  int made = 0;
  for (int i = 0; i < 10000 && ptest_now_ms() - t0 < 120000; i++) {
    plumb_arena_reset(a);
    if (CosNaming_NamingContext_list(c, 1, &bl, &bi, a) == PLUMB_OK &&
        bi.object[0] != '\0')
      made++;
    if (i == 999)
      rss0 = rss_kb(ns_pid);
  }
  rss1 = rss_kb(ns_pid);
  stop = 1;
  pthread_join(other, NULL);
  printf("\n    10000 lists in %lld ms, %d iterators; server RSS %ld -> "
         "%ld KiB; the other client: %d/%d listings whole", ptest_now_ms() -
         t0, made, rss0, rss1, oa.ok, oa.runs);
  CU_ASSERT_EQUAL(made, 10000);
  CU_ASSERT(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 2048);
  CU_ASSERT(oa.runs > 0);
  CU_ASSERT_EQUAL(oa.ok, oa.runs);
  CU_ASSERT_EQUAL(sh("%s list %s", PLUMB_CLI, ns_ep), 0);
  CU_ASSERT(out_objects(&objs) == 0 && objs <= 64 + 1);
  /* eight writers at once: every binding lands */
  pthread_t th[8];
  for (long i = 0; i < 8; i++)
    pthread_create(&th[i], NULL, writer, (void *)i);
  int fails = 0;
  for (int i = 0; i < 8; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    fails += rv != NULL;
  }
  CU_ASSERT_EQUAL(fails, 0);
  /* (--batch 1000: all fits, no iterator needed while 64 are held) */
  CU_ASSERT_EQUAL(sh("%s names --batch 1000 | grep -c '^c[0-7]_' | "
                     "grep -qx 320", PLUMB_CLI), 0);
  plumb_arena_free(a);
  plumb_client_close(c);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
}

/* --max-iterators / --iterator-idle on the command line (over plumb.conf's
 * keys): idle iterators are destroyed, the pool's size holds */
static void
test_iter_flags(void)
{
  const char *eps[] = { ns_ep, NULL };
  static const char *const opts[] = { "--max-iterators", "2",
                                      "--iterator-idle", "1", NULL };
  CU_ASSERT_EQUAL(sh("%s --max-iterators 0 --memory %s", PLUMB_NAMING,
                     ns_ep), 2);
  CU_ASSERT(out_has("--max-iterators: expected 1 to 65536 iterators"));
  /* the flags win over plumb.conf */
  FILE *cf = fopen(conf, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(cf);
  fputs("[naming]\nmax_iterators = 64\niterator_idle_s = 3600\n", cf);
  fclose(cf);
  setenv("PLUMB_CONFIG", conf, 1);
  ns_opts = opts;
  int started = ns_start(eps, 1);
  ns_opts = NULL;
  unsetenv("PLUMB_CONFIG");
  CU_ASSERT_EQUAL_FATAL(started, 0);
  CU_ASSERT_EQUAL(sh("%s bind a unix:/x o && %s bind b unix:/x o", PLUMB_CLI,
                     PLUMB_CLI), 0);
  plumb_client *c, *it;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ns_ep, "NameService", NULL),
                        PLUMB_OK);
  plumb_arena *a = plumb_arena_new();
  plumb_objref bi[3];
  CosNaming_BindingList bl = { 0, NULL };
  bool more;
  for (int i = 0; i < 3; i++)
    CU_ASSERT_EQUAL(CosNaming_NamingContext_list(c, 1, &bl, &bi[i], a),
                    PLUMB_OK);
  /* the third took the place of the first */
  int alive[3];
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_EQUAL_FATAL(plumb_client_open(&it, ns_ep, bi[i].object, NULL),
                          PLUMB_OK);
    alive[i] = CosNaming_BindingIterator_next_n(it, 1, &bl, &more, a) ==
               PLUMB_OK;
    plumb_client_close(it);
  }
  CU_ASSERT(!alive[0] && alive[1] && alive[2]);
  /* idle for more than a second: destroyed at the next list */
  usleep(2100 * 1000);
  plumb_objref fresh;
  CU_ASSERT_EQUAL(CosNaming_NamingContext_list(c, 1, &bl, &fresh, a),
                  PLUMB_OK);
  for (int i = 1; i < 3; i++) {
    CU_ASSERT_EQUAL_FATAL(plumb_client_open(&it, ns_ep, bi[i].object, NULL),
                          PLUMB_OK);
    CU_ASSERT_EQUAL(CosNaming_BindingIterator_next_n(it, 1, &bl, &more, a),
                    PLUMB_ENOOBJECT);
    plumb_client_close(it);
  }
  plumb_arena_free(a);
  plumb_client_close(c);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
}

/* ---- plumb_naming_run: bound while serving, unbound at a clean stop ------- */

static void
test_naming_run(void)
{
  const char *eps[] = { ns_ep, NULL };
  char srv_ep[300], err[512];
  CU_ASSERT_EQUAL_FATAL(ns_start(eps, 1), 0);
  snprintf(srv_ep, sizeof srv_ep, "unix:%s/helper.sock", dir);
  pid_t child = fork();
  CU_ASSERT_FATAL(child >= 0);
  if (child == 0) {
    static const CosNaming_BindingIterator_ops none = { 0 };
    plumb_server *s;
    plumb_naming_entry e[2] = {
      { "helper", srv_ep, "it", CosNaming_BindingIterator_interface.type_id },
      { "helper-too", srv_ep, "it", "" },
    };
    if (plumb_server_new(&s, NULL) != PLUMB_OK ||
        CosNaming_BindingIterator__serve(s, "it", &none, NULL) != PLUMB_OK ||
        plumb_server_listen(s, srv_ep) != PLUMB_OK)
      _exit(2);
    int rc = plumb_naming_run(s, e, 2, 1, err, sizeof err);
    plumb_server_free(s);
    _exit(rc == PLUMB_OK ? 0 : 3);
  }
  int rc = -1;
  for (long long end = ptest_now_ms() + 5000; ptest_now_ms() < end;
       usleep(20000))
    if ((rc = sh("%s resolve helper-too", PLUMB_CLI)) == 0)
      break;
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_EQUAL(sh("%s resolve helper", PLUMB_CLI), 0);
  CU_ASSERT(out_has(" it IDL:omg.org/CosNaming/BindingIterator:1.0"));
  CU_ASSERT_EQUAL(ptest_stop(child, SIGTERM, 5000), 0);
  CU_ASSERT_EQUAL(sh("%s resolve helper", PLUMB_CLI), 3);
  CU_ASSERT_EQUAL(sh("%s resolve helper-too", PLUMB_CLI), 3);
  CU_ASSERT_EQUAL(ns_stop(SIGTERM), 0);
}

static const ptest_case naming_cases[] = {
  { "libplumb CosNaming tables equal plumbc's", test_wire_tables },
  { "CLI: bind/resolve/names/unbind, contexts, iterators", test_cli },
  { "plumb_naming_* and name: endpoints", test_client_api },
  { "one service over every transport", test_transports },
  { "persistence: restart and kill -9 during writes", test_persistence },
  { "hostile: bounds, 10,000 iterators never destroyed, concurrent "
    "writers", test_hostile },
  { "iterator pool and idle timeout from the command line",
    test_iter_flags },
  { "plumb_naming_run binds while serving, unbinds at stop",
    test_naming_run },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "naming", naming_cases, init, cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  signal(SIGPIPE, SIG_IGN);
  return ptest_run(suites, argc, argv);
}
