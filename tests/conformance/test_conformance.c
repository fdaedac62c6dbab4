/* test_conformance.c - the transport conformance suite.
 *
 * One CUnit suite, run once per transport (`test_conformance SCHEME`), that
 * every transport must pass unchanged: the calculator and key-value store
 * examples are started as real server processes on an endpoint of that
 * transport, and this program calls every operation through the generated
 * stubs: values, user exceptions, oneway delivery, attributes, unknown
 * objects, large payloads (a 1 MiB blob and a 1 MiB sequence), 16 concurrent
 * client processes with no cross-talk, a server that vanishes, a client
 * killed in the middle of its calls, and, at the end, no IPC object left
 * behind.  What a transport cannot do by its nature is listed in the
 * exemption table below - visibly, not skipped in silence.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "calculator.h"
#include "kvstore.h"
#include "proc.h"
#include "ptest.h"

#define CLIENTS 16
#define CALLS 500
#define BIG (1024u * 1024u)

/* What a transport cannot do by nature; each row is reported when used. */
typedef struct exemption {
  const char *scheme;
  const char *test;
  const char *why;
} exemption;

static const exemption exemptions[] = {
  { "pipe", "concurrent_clients",
    "an anonymous pipe pair joins exactly one client to the server it spawned" },
  { "pipe", "client_killed",
    "the server's only client is its parent: when it dies the server exits" },
  { "pipe", "kv_oneway_log",
    "the spawned server writes to the client's own stderr, so delivery is "
    "shown only by the next call on the same pipe" },
  { NULL, NULL, NULL },
};

static char scheme[16];
static char calc_ep[512], kv_ep[512];   /* what clients dial */
static char calc_sep[512], kv_sep[512]; /* what servers listen on */
static char ipc_name[64];              /* base name of this run's objects */
static char calc_log[160], kv_log[160];
static pid_t calc_pid = -1, kv_pid = -1;

static const exemption *
exempt(const char *test)
{
  for (const exemption *e = exemptions; e->scheme; e++)
    if (strcmp(e->scheme, scheme) == 0 && strcmp(e->test, test) == 0) {
      printf("\n    exempt on %s: %s ", scheme, e->why);
      return e;
    }
  return NULL;
}

/* Endpoints for one server of this run ("calc" or "kv"). */
static void
make_endpoints(const char *tag, char *sep, char *cep, size_t n,
               const char *server_path)
{
  char base[96];
  int off = tag[0] == 'c' ? 0 : tag[0] == 'k' ? 1 : 2; /* calc, kv, gone */
  snprintf(base, sizeof base, "plumb-conf-%d-%s", (int)getpid(), tag);
  if (strcmp(scheme, "unix") == 0) {
    snprintf(sep, n, "unix:/tmp/%s.sock", base);
  } else if (strcmp(scheme, "tcp") == 0) {
    snprintf(sep, n, "tcp://127.0.0.1:%d", ptest_free_port(AF_INET, off));
  } else if (strcmp(scheme, "tcp6") == 0) {
    snprintf(sep, n, "tcp://[::1]:%d", ptest_free_port(AF_INET6, off));
  } else if (strcmp(scheme, "fifo") == 0) {
    snprintf(sep, n, "fifo:/tmp/%s", base);
  } else if (strcmp(scheme, "mq") == 0 || strcmp(scheme, "shm") == 0) {
    snprintf(sep, n, "%s:/%s", scheme, base);
  } else if (strcmp(scheme, "sysvmq") == 0) {
    snprintf(sep, n, "sysvmq:/tmp/%s.key", base);
  } else if (strcmp(scheme, "pipe") == 0) {
    snprintf(sep, n, "pipe:");
    snprintf(cep, n, "pipe:exec=%s pipe:", server_path);
    return;
  }
  snprintf(cep, n, "%s", sep);
}

static int
is_pipe(void)
{
  return strcmp(scheme, "pipe") == 0;
}

/* Opens a client on ep, retrying (bounded) while the server starts. */
static plumb_client *
open_client(const char *ep, const char *object)
{
  plumb_client *c = NULL;
  long long end = ptest_now_ms() + 5000;
  int rc;
  do {
    rc = plumb_client_open(&c, ep, object, NULL);
    if (rc == PLUMB_OK)
      return c;
    usleep(20000);
  } while (ptest_now_ms() < end);
  fprintf(stderr, "open %s: %s\n", ep, plumb_strerror(rc));
  return NULL;
}

static pid_t
start_server(const char *path, const char *ep, const char *log)
{
  char *argv[] = { (char *)path, (char *)ep, NULL };
  return ptest_spawn(argv, log);
}

static void dump_log(const char *path);

static int
suite_init(void)
{
  snprintf(ipc_name, sizeof ipc_name, "plumb-conf-%d", (int)getpid());
  snprintf(calc_log, sizeof calc_log, "/tmp/%s-calc.log", ipc_name);
  snprintf(kv_log, sizeof kv_log, "/tmp/%s-kv.log", ipc_name);
  make_endpoints("calc", calc_sep, calc_ep, sizeof calc_ep, CALC_SERVER);
  make_endpoints("kv", kv_sep, kv_ep, sizeof kv_ep, KV_SERVER);
  if (is_pipe())
    return 0; /* each client spawns its own server */
  calc_pid = start_server(CALC_SERVER, calc_sep, calc_log);
  kv_pid = start_server(KV_SERVER, kv_sep, kv_log);
  if (calc_pid < 0 || kv_pid < 0)
    return -1;
  /* Ready when both answer. */
  plumb_client *a = open_client(calc_ep, "calc");
  plumb_client *b = open_client(kv_ep, "kv");
  int ok = a && b;
  plumb_client_close(a);
  plumb_client_close(b);
  if (!ok) {
    /* CUnit skips cleanup when init fails: stop the servers here. */
    ptest_stop(calc_pid, SIGTERM, 5000);
    ptest_stop(kv_pid, SIGTERM, 5000);
    calc_pid = kv_pid = -1;
    dump_log(calc_log);
    dump_log(kv_log);
    unlink(calc_log);
    unlink(kv_log);
  }
  return ok ? 0 : -1;
}

/* Prints a server's log (sanitizer reports, reasons) when it failed. */
static void
dump_log(const char *path)
{
  char line[512];
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return;
  printf("\n---- %s ----\n", path);
  while (fgets(line, sizeof line, f))
    fputs(line, stdout);
  fclose(f);
}

static int
suite_cleanup(void)
{
  int rc = 0;
  if (calc_pid > 0 && ptest_stop(calc_pid, SIGTERM, 5000) != 0)
    rc = -1;
  if (kv_pid > 0 && ptest_stop(kv_pid, SIGTERM, 5000) != 0)
    rc = -1;
  if (CU_get_number_of_failures() > 0 || rc != 0) {
    dump_log(calc_log);
    dump_log(kv_log);
  }
  unlink(calc_log);
  unlink(kv_log);
  return rc;
}

/* ---- calculator ------------------------------------------------------ */

static void
test_calc_values(void)
{
  plumb_client *c = open_client(calc_ep, "calc");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  static const int32_t cases[][2] = {
    { 2, 3 }, { -7, 7 }, { 0, 0 }, { 2147483647, 1 }, { -2147483647 - 1, -1 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int32_t a = cases[i][0], b = cases[i][1], r = 0;
    CU_ASSERT_EQUAL(calc_Calculator_add(c, a, b, &r, NULL), PLUMB_OK);
    CU_ASSERT_EQUAL(r, (int32_t)((uint32_t)a + (uint32_t)b));
    CU_ASSERT_EQUAL(calc_Calculator_sub(c, a, b, &r, NULL), PLUMB_OK);
    CU_ASSERT_EQUAL(r, (int32_t)((uint32_t)a - (uint32_t)b));
  }
  double q = 0;
  CU_ASSERT_EQUAL(calc_Calculator_div(c, 1.0, 4.0, &q, NULL), PLUMB_OK);
  CU_ASSERT_DOUBLE_EQUAL(q, 0.25, 1e-12);
  CU_ASSERT_EQUAL(calc_Calculator_ping(c, NULL), PLUMB_OK);
  plumb_client_close(c);
}

static void
test_calc_exception(void)
{
  plumb_client *c = open_client(calc_ep, "calc");
  plumb_arena *a = plumb_arena_new();
  const char *id = NULL;
  double q = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(calc_Calculator_div(c, 1.0, 0.0, &q, a), PLUMB_EEXCEPTION);
  calc_DivByZero *ex = plumb_arena_exception(a, &id);
  CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
  CU_ASSERT_STRING_EQUAL(id, "IDL:calc/DivByZero:1.0");
  CU_ASSERT_STRING_EQUAL(ex->reason, "division by zero");
  /* The connection stays usable after an exception. */
  int32_t r = 0;
  CU_ASSERT_EQUAL(calc_Calculator_add(c, 20, 22, &r, a), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 42);
  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
test_calc_oneway_and_attribute(void)
{
  plumb_client *c = open_client(calc_ep, "calc");
  int32_t n = -1, r;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(calc_Calculator_add(c, 1, 1, &r, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(calc_Calculator__get_calls(c, &n, NULL), PLUMB_OK);
  CU_ASSERT(n >= 1);
  /* reset is oneway: it returns at once; its effect shows up shortly. */
  CU_ASSERT_EQUAL(calc_Calculator_reset(c, NULL), PLUMB_OK);
  long long end = ptest_now_ms() + 3000;
  do {
    CU_ASSERT_EQUAL_FATAL(calc_Calculator__get_calls(c, &n, NULL), PLUMB_OK);
    if (n == 0)
      break;
    usleep(10000);
  } while (ptest_now_ms() < end);
  CU_ASSERT_EQUAL(n, 0);
  plumb_client_close(c);
}

static void
test_unknown_object(void)
{
  plumb_client *c = open_client(calc_ep, "no-such-object");
  int32_t r;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(calc_Calculator_add(c, 1, 2, &r, NULL), PLUMB_ENOOBJECT);
  plumb_client_close(c);
}

static void
test_wrong_interface(void)
{
  /* The kv object does not implement calc::Calculator. */
  plumb_client *c = open_client(kv_ep, "kv");
  int32_t r;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  int rc = calc_Calculator_add(c, 1, 2, &r, NULL);
  CU_ASSERT(rc == PLUMB_ENOOP || rc == PLUMB_EINTERFACE);
  plumb_client_close(c);
}

/* ---- key-value store ------------------------------------------------- */

static void
kv_text(kv_Value *v, char *s)
{
  kv_Value_init(v);
  v->_d = kv_Kind_K_TEXT;
  v->_case = kv_Value_case_text;
  v->text = s;
}

static void
test_kv_operations(void)
{
  plumb_client *c = open_client(kv_ep, "kv");
  plumb_arena *a = plumb_arena_new();
  kv_Value v, out;
  uint32_t ver = 0, size = 0;
  bool gone = false;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);

  kv_text(&v, "hello");
  CU_ASSERT_EQUAL(kv_Store_put(c, "conf/a", &v, &ver, a), PLUMB_OK);
  CU_ASSERT_EQUAL(ver, 1);
  CU_ASSERT_EQUAL(kv_Store_put(c, "conf/a", &v, &ver, a), PLUMB_OK);
  CU_ASSERT_EQUAL(ver, 2);
  kv_Value_init(&v);
  v._d = kv_Kind_K_NUMBER;
  v._case = kv_Value_case_number;
  v.number = -1234567890123LL;
  CU_ASSERT_EQUAL(kv_Store_put(c, "conf/n", &v, &ver, a), PLUMB_OK);

  CU_ASSERT_EQUAL(kv_Store_get(c, "conf/a", &out, a), PLUMB_OK);
  CU_ASSERT_EQUAL(out._case, kv_Value_case_text);
  CU_ASSERT_STRING_EQUAL(out.text, "hello");
  CU_ASSERT_EQUAL(kv_Store_get(c, "conf/n", &out, a), PLUMB_OK);
  CU_ASSERT_EQUAL(out._d, kv_Kind_K_NUMBER);
  CU_ASSERT_EQUAL(out.number, -1234567890123LL);

  /* missing key -> NotFound carrying the key */
  const char *id = NULL;
  CU_ASSERT_EQUAL(kv_Store_get(c, "conf/missing", &out, a), PLUMB_EEXCEPTION);
  kv_NotFound *nf = plumb_arena_exception(a, &id);
  CU_ASSERT_PTR_NOT_NULL_FATAL(nf);
  CU_ASSERT_STRING_EQUAL(id, kv_NotFound_type.type_id);
  CU_ASSERT_STRING_EQUAL(nf->key, "conf/missing");

  /* list by prefix: a sequence of structs holding unions */
  kv_EntryList l;
  CU_ASSERT_EQUAL(kv_Store_list(c, "conf/", &l, a), PLUMB_OK);
  CU_ASSERT_EQUAL(l._length, 2);
  for (size_t i = 0; i < l._length; i++) {
    if (strcmp(l._buffer[i]->key, "conf/a") == 0) {
      CU_ASSERT_EQUAL(l._buffer[i]->version, 2);
      CU_ASSERT_STRING_EQUAL(l._buffer[i]->value->text, "hello");
    } else {
      CU_ASSERT_STRING_EQUAL(l._buffer[i]->key, "conf/n");
    }
  }
  kv_KeyList k;
  CU_ASSERT_EQUAL(kv_Store_keys(c, &k, a), PLUMB_OK);
  CU_ASSERT(k._length >= 2);

  /* attributes */
  char *name = NULL;
  CU_ASSERT_EQUAL(kv_Store__set_name(c, "conformance", a), PLUMB_OK);
  CU_ASSERT_EQUAL(kv_Store__get_name(c, &name, a), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(name, "conformance");
  CU_ASSERT_EQUAL(kv_Store__get_size(c, &size, a), PLUMB_OK);
  CU_ASSERT(size >= 2);

  CU_ASSERT_EQUAL(kv_Store_remove(c, "conf/a", &gone, a), PLUMB_OK);
  CU_ASSERT_TRUE(gone);
  CU_ASSERT_EQUAL(kv_Store_remove(c, "conf/a", &gone, a), PLUMB_OK);
  CU_ASSERT_FALSE(gone);
  CU_ASSERT_EQUAL(kv_Store_remove(c, "conf/n", &gone, a), PLUMB_OK);

  /* an out value needs an arena: refused clearly, not crashed */
  CU_ASSERT_EQUAL(kv_Store__get_name(c, &name, NULL), PLUMB_EINVAL);

  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
test_kv_oneway_log(void)
{
  plumb_client *c = open_client(kv_ep, "kv");
  char msg[64];
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  snprintf(msg, sizeof msg, "conformance-%s-%d", scheme, (int)getpid());
  CU_ASSERT_EQUAL(kv_Store_log(c, msg, NULL), PLUMB_OK);
  if (exempt("kv_oneway_log")) {
    /* the pipe server logs to our own stderr; a later call proves the
     * oneway frame did not break the stream */
    uint32_t n;
    CU_ASSERT_EQUAL(kv_Store__get_size(c, &n, NULL), PLUMB_OK);
  } else {
    long long end = ptest_now_ms() + 3000;
    while (!ptest_file_contains(kv_log, msg) && ptest_now_ms() < end)
      usleep(10000);
    CU_ASSERT_TRUE(ptest_file_contains(kv_log, msg));
  }
  plumb_client_close(c);
}

static void
test_kv_large(void)
{
  plumb_client *c = open_client(kv_ep, "kv");
  plumb_arena *a = plumb_arena_new();
  kv_Value v, out;
  uint32_t ver;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);

  /* a 1 MiB sequence<octet> each way */
  uint8_t *blob = malloc(BIG);
  CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
  for (size_t i = 0; i < BIG; i++)
    blob[i] = (uint8_t)(i * 31 + 7);
  kv_Value_init(&v);
  v._d = kv_Kind_K_BLOB;
  v._case = kv_Value_case_blob;
  v.blob.data = blob;
  v.blob.len = BIG;
  CU_ASSERT_EQUAL(kv_Store_put(c, "big/blob", &v, &ver, a), PLUMB_OK);
  CU_ASSERT_EQUAL(kv_Store_get(c, "big/blob", &out, a), PLUMB_OK);
  CU_ASSERT_EQUAL(out.blob.len, BIG);
  CU_ASSERT(out.blob.len == BIG && memcmp(out.blob.data, blob, BIG) == 0);

  /* a sequence of 4096 structs (~1 MiB on the wire) */
  enum { N = 4096 };
  static kv_Entry ents[N];
  static kv_Entry *ptrs[N];
  static kv_Value vals[N];
  static char keys[N][16];
  static char text[200];
  memset(text, 'x', sizeof text - 1);
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "bulk/%05d", i);
    kv_Entry_init(&ents[i]);
    kv_text(&vals[i], text);
    ents[i].key = keys[i];
    ents[i].value = &vals[i];
    ptrs[i] = &ents[i];
  }
  kv_EntryList in = { N, ptrs };
  uint32_t stored = 0;
  CU_ASSERT_EQUAL(kv_Store_put_many(c, &in, &stored, a), PLUMB_OK);
  CU_ASSERT_EQUAL(stored, N);
  kv_EntryList l;
  CU_ASSERT_EQUAL(kv_Store_list(c, "bulk/", &l, a), PLUMB_OK);
  CU_ASSERT_EQUAL(l._length, N);
  for (int i = 0; i < N; i++) {
    bool gone;
    if (kv_Store_remove(c, keys[i], &gone, NULL) != PLUMB_OK || !gone) {
      CU_FAIL("bulk remove");
      break;
    }
  }
  bool gone;
  CU_ASSERT_EQUAL(kv_Store_remove(c, "big/blob", &gone, a), PLUMB_OK);
  free(blob);
  plumb_arena_free(a);
  plumb_client_close(c);
}

/* ---- concurrency and faults ----------------------------------------- */

/* One client process: CALLS calls whose answers only it can predict. */
static int
client_worker(int id)
{
  plumb_client *c = open_client(calc_ep, "calc");
  plumb_client *k = open_client(kv_ep, "kv");
  plumb_arena *a = plumb_arena_new();
  char key[32], val[32];
  int bad = 0;
  if (c == NULL || k == NULL || a == NULL)
    return 2;
  snprintf(key, sizeof key, "worker/%d", id);
  for (int i = 0; i < CALLS && !bad; i++) {
    int32_t r = 0;
    if (calc_Calculator_add(c, id * 100000, i, &r, NULL) != PLUMB_OK ||
        r != id * 100000 + i)
      bad = 3;
    if (i % 10 == 0) {
      kv_Value v, out;
      uint32_t ver;
      snprintf(val, sizeof val, "%d:%d", id, i);
      kv_text(&v, val);
      plumb_arena_reset(a);
      if (kv_Store_put(k, key, &v, &ver, a) != PLUMB_OK ||
          kv_Store_get(k, key, &out, a) != PLUMB_OK ||
          out._case != kv_Value_case_text || strcmp(out.text, val) != 0)
        bad = 4;
    }
  }
  bool gone;
  kv_Store_remove(k, key, &gone, NULL);
  plumb_arena_free(a);
  plumb_client_close(c);
  plumb_client_close(k);
  return bad;
}

static void
test_concurrent_clients(void)
{
  pid_t kids[CLIENTS];
  if (exempt("concurrent_clients"))
    return;
  for (int i = 0; i < CLIENTS; i++) {
    kids[i] = fork();
    if (kids[i] == 0)
      _exit(client_worker(i + 1));
  }
  for (int i = 0; i < CLIENTS; i++) {
    int st = ptest_stop(kids[i], 0, 60000);
    CU_ASSERT_EQUAL(st, 0);
  }
}

static void
test_client_killed(void)
{
  if (exempt("client_killed"))
    return;
  for (int round = 0; round < 3; round++) {
    pid_t kid = fork();
    if (kid == 0) {
      /* calls until killed */
      plumb_client *c = open_client(kv_ep, "kv");
      static uint8_t blob[256 * 1024];
      kv_Value v;
      uint32_t ver;
      kv_Value_init(&v);
      v._d = kv_Kind_K_BLOB;
      v._case = kv_Value_case_blob;
      v.blob.data = blob;
      v.blob.len = sizeof blob;
      for (int i = 0; c != NULL && i < 100000; i++)
        kv_Store_put(c, "killed/blob", &v, &ver, NULL);
      _exit(0);
    }
    usleep(100000 + 50000 * round);
    kill(kid, SIGKILL);
    CU_ASSERT_EQUAL(ptest_stop(kid, 0, 5000), 128 + SIGKILL);
  }
  /* the servers still serve everyone else */
  plumb_client *c = open_client(kv_ep, "kv");
  plumb_client *d = open_client(calc_ep, "calc");
  uint32_t n;
  int32_t r;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  CU_ASSERT_EQUAL(kv_Store__get_size(c, &n, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(calc_Calculator_add(d, 40, 2, &r, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 42);
  bool gone;
  kv_Store_remove(c, "killed/blob", &gone, NULL);
  CU_ASSERT_FALSE(ptest_exited(kv_pid));
  plumb_client_close(c);
  plumb_client_close(d);
}

static int leftover_exists(const char *sep);

/* pid of a child of ours running program `path` (pipe: the client spawned
 * it), or -1. */
static pid_t
find_child(const char *path)
{
  DIR *d = opendir("/proc");
  struct dirent *e;
  pid_t found = -1;
  char p[64], exe[4096];
  while (d && found < 0 && (e = readdir(d)) != NULL) {
    int ppid = -1;
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 0)
      continue;
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (f == NULL)
      continue;
    if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
      ppid = -1;
    fclose(f);
    snprintf(p, sizeof p, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(p, exe, sizeof exe - 1);
    if (ppid == (int)getpid() && n > 0) {
      exe[n] = '\0';
      char real[4096];
      if (realpath(path, real) && strcmp(real, exe) == 0)
        found = pid;
    }
  }
  if (d)
    closedir(d);
  return found;
}

static void
test_server_gone(void)
{
  char sep[512], cep[512], log[160];
  plumb_client *c;
  pid_t pid = -1;
  int32_t r;

  make_endpoints("gone", sep, cep, sizeof sep, CALC_SERVER);
  snprintf(log, sizeof log, "/tmp/%s-gone.log", ipc_name);
  if (!is_pipe()) {
    pid = start_server(CALC_SERVER, sep, log);
    CU_ASSERT_FATAL(pid > 0);
  }
  c = open_client(cep, "calc");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(calc_Calculator_add(c, 1, 2, &r, NULL), PLUMB_OK);
  plumb_client_set_timeout(c, 2000);
  if (is_pipe())
    pid = find_child(CALC_SERVER); /* the server the client spawned */
  CU_ASSERT_FATAL(pid > 0);
  if (pid > 0)
    CU_ASSERT_EQUAL(ptest_stop(pid, SIGKILL, 5000), 128 + SIGKILL);
  long long t0 = ptest_now_ms();
  int rc = calc_Calculator_add(c, 1, 2, &r, NULL);
  long long took = ptest_now_ms() - t0;
  CU_ASSERT_NOT_EQUAL(rc, PLUMB_OK);
  CU_ASSERT(took < 3000);
  if (rc == PLUMB_OK || took >= 3000)
    fprintf(stderr, "server gone: %s after %lld ms\n", plumb_strerror(rc),
            took);
  plumb_client_close(c);

  /* A killed server leaves its IPC objects behind; the next server on the
   * same endpoint reclaims them, and a clean stop removes them. */
  if (!is_pipe()) {
    pid = start_server(CALC_SERVER, sep, log);
    c = open_client(cep, "calc");
    CU_ASSERT_PTR_NOT_NULL(c);
    if (c != NULL)
      CU_ASSERT_EQUAL(calc_Calculator_add(c, 2, 2, &r, NULL), PLUMB_OK);
    plumb_client_close(c);
    CU_ASSERT_EQUAL(ptest_stop(pid, SIGTERM, 5000), 0);
    CU_ASSERT_FALSE(leftover_exists(sep));
  }
  unlink(log);
}

/* ---- leftovers --------------------------------------------------------- */

static int
leftover_exists(const char *sep)
{
  const char *rest = strchr(sep, ':') + 1;
  struct stat st;
  if (strncmp(sep, "unix:", 5) == 0 || strncmp(sep, "fifo:", 5) == 0)
    return rest[0] == '/' && stat(rest, &st) == 0;
  if (strncmp(sep, "sysvmq:", 7) == 0) {
    key_t k = ftok(rest, 'P');
    int q = k == -1 ? -1 : msgget(k, 0);
    return stat(rest, &st) == 0 || q >= 0;
  }
  if (strncmp(sep, "mq:", 3) == 0) {
    mqd_t q = mq_open(rest, O_RDONLY);
    if (q == (mqd_t)-1)
      return 0;
    mq_close(q);
    return 1;
  }
  if (strncmp(sep, "shm:", 4) == 0) {
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d)) != NULL)
      found |= strstr(e->d_name, rest + 1) != NULL;
    if (d)
      closedir(d);
    return found;
  }
  return 0;
}

static void
test_no_leftovers(void)
{
  /* Stop the suite's servers cleanly and look for what they created. */
  if (calc_pid > 0)
    CU_ASSERT_EQUAL(ptest_stop(calc_pid, SIGTERM, 5000), 0);
  if (kv_pid > 0)
    CU_ASSERT_EQUAL(ptest_stop(kv_pid, SIGTERM, 5000), 0);
  calc_pid = kv_pid = -1;
  CU_ASSERT_FALSE(leftover_exists(calc_sep));
  CU_ASSERT_FALSE(leftover_exists(kv_sep));
  /* FIFOs or sockets of this run's clients anywhere in /tmp */
  DIR *d = opendir("/tmp");
  struct dirent *e;
  int stray = 0;
  while (d && (e = readdir(d)) != NULL)
    if (strstr(e->d_name, ipc_name) && !strstr(e->d_name, ".log")) {
      fprintf(stderr, "leftover: /tmp/%s\n", e->d_name);
      stray++;
    }
  if (d)
    closedir(d);
  /* shared-memory segments of this run */
  d = opendir("/dev/shm");
  while (d && (e = readdir(d)) != NULL)
    if (strstr(e->d_name, ipc_name)) {
      fprintf(stderr, "leftover: /dev/shm/%s\n", e->d_name);
      stray++;
    }
  if (d)
    closedir(d);
  CU_ASSERT_EQUAL(stray, 0);
}

static const ptest_case cases[] = {
  { "calc_values", test_calc_values },
  { "calc_exception", test_calc_exception },
  { "calc_oneway_and_attribute", test_calc_oneway_and_attribute },
  { "unknown_object", test_unknown_object },
  { "wrong_interface", test_wrong_interface },
  { "kv_operations", test_kv_operations },
  { "kv_oneway_log", test_kv_oneway_log },
  { "kv_large_payloads", test_kv_large },
  { "concurrent_clients", test_concurrent_clients },
  { "client_killed", test_client_killed },
  { "server_gone", test_server_gone },
  { "no_leftovers", test_no_leftovers },
  { NULL, NULL },
};

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCHEME\n", argv[0]);
    return 2;
  }
  snprintf(scheme, sizeof scheme, "%s", argv[1]);
  signal(SIGPIPE, SIG_IGN);
  ptest_suite suites[] = {
    { scheme, cases, suite_init, suite_cleanup },
    { NULL, NULL, NULL, NULL },
  };
  char *args[] = { argv[0], NULL };
  return ptest_run(suites, 1, args);
}
