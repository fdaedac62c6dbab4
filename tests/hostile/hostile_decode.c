/* hostile_decode.c - requests built to crash or blow up the decoder.
 *
 * Suite "scan" checks the pre-scan and the budgets in process (decode.c):
 * depth limits, malformed wire data, the memory it predicts against what
 * protobuf-c really allocates, the per-request and server-wide budgets.
 * Then one suite per built-in transport starts hostile-decode-server
 * (hdecode.idl) as a real process and, over that transport:
 *   - sends a request nested 10,000 levels deep (and 65): EBADBODY, and the
 *     same connection then serves a good call; 64 levels are served;
 *   - sends one ~16 MiB put_many of empty entries (an amplification of
 *     ~50x): the peer gets an error reply, the server's peak RSS (VmHWM)
 *     stays under a bound, and a well-behaved client on another connection
 *     is served within its deadline meanwhile.
 * Bodies are sent as they are through plumb_invoke: the request message
 * carries them as one unknown field, which protobuf-c packs verbatim.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "arena_internal.h"
#include "decode.h"
#include "proc.h"
#include "ptest.h"
#include "hdecode-wire.h" /* hdecode.h + request/reply messages */

#define DEEP 10000
#define AMP_BODY ((16u << 20) - 256u) /* under the 16 MiB frame limit */
#define RSS_BOUND_KB (64u * 1024u) /* measured ~34 MiB; before: ~800 MiB */
#define GOOD_DEADLINE_MS 3000

static const char *const schemes[] = { "unix", "tcp", "pipe", "fifo", "mq",
                                       "sysvmq", "shm" };

/* ---- building hostile bodies ------------------------------------------- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
  size_t n = 0;
  do {
    p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  return n;
}

/* The request of depth(): a Node nested `levels` deep (levels >= 1), as
 * the data of field 1 (varint length + Node bytes).  Built inside out at
 * the end of a buffer; returns it (malloc'd) with its length. */
static uint8_t *
deep_field(unsigned levels, size_t *len)
{
  size_t cap = (size_t)levels * 6 + 16, start = cap;
  uint8_t *b = malloc(cap), tmp[10];
  if (b == NULL)
    return NULL;
  for (unsigned i = 1; i < levels; i++) { /* wrap as kids (field 2) */
    size_t inner = cap - start, n = put_varint(tmp, inner);
    start -= n;
    memcpy(b + start, tmp, n);
    b[--start] = 0x12;
  }
  size_t n = put_varint(tmp, cap - start);
  start -= n;
  memcpy(b + start, tmp, n);
  *len = cap - start;
  memmove(b, b + start, *len);
  return b;
}

/* The request of put_many(): n empty Items, as the data of field 1 (its
 * first occurrence's length byte, then n - 1 further `0a 00`). */
static uint8_t *
amp_field(size_t body, size_t *len)
{
  size_t n = body / 2;
  uint8_t *b = malloc(2 * n);
  if (b == NULL)
    return NULL;
  b[0] = 0;
  for (size_t i = 1; i < n; i++) {
    b[2 * i - 1] = 0x0a;
    b[2 * i] = 0;
  }
  *len = 2 * n - 1;
  return b;
}

/* Calls op with a request of type d whose body is field 1 with data. */
static int
call_raw(plumb_client *c, uint32_t op, const ProtobufCMessageDescriptor *d,
         uint8_t *data, size_t len, ProtobufCMessage **rep, plumb_arena *a)
{
  ProtobufCMessage *m = calloc(1, d->sizeof_message);
  ProtobufCMessageUnknownField uf = { .tag = 1,
    .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, .len = len,
    .data = data };
  if (m == NULL)
    return PLUMB_ENOMEM;
  d->message_init(m);
  m->n_unknown_fields = 1;
  m->unknown_fields = &uf;
  int rc = plumb_invoke(c, &hd_Deep_interface, op, m, rep, a);
  free(m);
  return rc;
}

/* ---- suite "scan": the pre-scan and budgets in process --------------- */

static int
scan_deep(unsigned levels, char *why, size_t n)
{
  size_t len = 0, need;
  uint8_t *f = deep_field(levels, &len);
  uint8_t *body = malloc(len + 1);
  body[0] = 0x0a;
  memcpy(body + 1, f, len);
  int rc = plumb__decode_scan(&hd_Deep_depth__request__descriptor, body,
                              len + 1, 0, &need, why, n);
  free(f);
  free(body);
  return rc;
}

static void
test_scan_depth(void)
{
  char why[PLUMB__DECODE_WHY_MAX];
  CU_ASSERT_EQUAL(scan_deep(64, why, sizeof why), PLUMB_OK);
  CU_ASSERT_EQUAL(scan_deep(65, why, sizeof why), PLUMB_EBADBODY);
  CU_ASSERT(strstr(why, "field 'kids': messages nested deeper than 64 "
                        "levels") != NULL);
  CU_ASSERT_EQUAL(scan_deep(DEEP, why, sizeof why), PLUMB_EBADBODY);
  CU_ASSERT_EQUAL(scan_deep(1000000, why, sizeof why), PLUMB_EBADBODY);
}

static void
test_scan_malformed(void)
{
  static const struct {
    const char *name;
    uint8_t b[12];
    size_t n;
    const char *why;
  } bad[] = {
    { "truncated tag", { 0x80 }, 1, "bad field tag" },
    { "tag over 29 bits", { 0xf8, 0xff, 0xff, 0xff, 0x7f }, 5, "bad field tag" },
    { "field 0", { 0x02, 0x00 }, 2, "field number 0" },
    { "length past end", { 0x0a, 0x05, 0x00 }, 3, "length past the end" },
    { "huge length", { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f }, 6,
      "length past the end" },
    { "group", { 0x0b }, 1, "unsupported wire type" },
    { "varint 11 bytes", { 0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                           0x80, 0x80, 0x80, 0x01 }, 12, "bad varint" },
    { "fixed32 truncated", { 0x1d, 0x00, 0x00 }, 3, "truncated" },
    { "n as varint", { 0x08, 0x01 }, 2, "wrong wire type" },
    { "tag as string", { 0x0a, 0x02, 0x0a, 0x00 }, 4, "wrong wire type" },
    { "kid truncated", { 0x0a, 0x03, 0x12, 0x05, 0x00 }, 5, "length past" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[PLUMB__DECODE_WHY_MAX] = "";
    size_t need;
    int rc = plumb__decode_scan(&hd_Deep_depth__request__descriptor,
                                bad[i].b, bad[i].n, 0, &need, why,
                                sizeof why);
    if (rc != PLUMB_EBADBODY || strstr(why, bad[i].why) == NULL)
      printf("\n    %s: rc %d, why '%s' ", bad[i].name, rc, why);
    CU_ASSERT_EQUAL(rc, PLUMB_EBADBODY);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
  }
}

/* Packs m, decodes it through the budgets and checks the scan's memory
 * prediction against what unpack really took from the arena. */
static void
check_need(const ProtobufCMessage *m)
{
  size_t n = protobuf_c_message_get_packed_size(m), need, taken;
  uint8_t *b = malloc(n + 1);
  plumb_arena *a = plumb_arena_new();
  plumb__decode_pool pool = { .max = 0 };
  plumb__decode_limits lim = { .max_depth = 64, .budget = 16 };
  ProtobufCMessage *out;
  char why[PLUMB__DECODE_WHY_MAX];
  CU_ASSERT_FATAL(b != NULL && a != NULL);
  protobuf_c_message_pack(m, b);
  CU_ASSERT_EQUAL(plumb__decode_scan(m->descriptor, b, n, 0, &need, why,
                                     sizeof why), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool, m->descriptor, a, b, n,
                                     n + 32, &out, &taken, why, sizeof why),
                  PLUMB_OK);
  if (need < taken || need > taken + taken / 8 + 64)
    printf("\n    %s of %zu bytes: scan said %zu, unpack took %zu ",
           m->descriptor->name, n, need, taken);
  CU_ASSERT(need >= taken);
  CU_ASSERT(need <= taken + taken / 8 + 64);
  CU_ASSERT_EQUAL(atomic_load(&pool.in_use), taken);
  plumb__decode_release(&pool, taken);
  CU_ASSERT_EQUAL(atomic_load(&pool.in_use), 0);
  plumb_arena_free(a);
  free(b);
}

static void
test_scan_memory(void)
{
  enum { N = 3000 };
  static hd_Item items[N];
  static hd_Item *ptrs[N];
  static char keys[N][16];
  static uint8_t data[100];
  for (size_t i = 0; i < N; i++) {
    hd_Item_init(&items[i]);
    snprintf(keys[i], sizeof keys[i], "k%zu", i);
    items[i].key = keys[i];
    items[i].data.len = i % 3 ? i % 100 : 0;
    items[i].data.data = data;
    ptrs[i] = &items[i];
  }
  for (size_t n = 0; n <= N; n = n ? n * 3 : 1) {
    hd_Deep_put_many__request r = hd_Deep_put_many__request_INIT;
    r.n_items = n;
    r.items = ptrs;
    check_need(&r.base);
  }
  /* A bushy tree: 3 levels of 20 kids. */
  static hd_Node nodes[1 + 20 + 400];
  static hd_Node *kid_ptrs[1 + 20 + 400];
  for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
    hd_Node_init(&nodes[i]);
    nodes[i].tag = (int32_t)i;
    kid_ptrs[i] = &nodes[i];
  }
  nodes[0].n_kids = 20;
  nodes[0].kids = &kid_ptrs[1];
  for (size_t i = 1; i <= 20; i++) {
    nodes[i].n_kids = 20;
    nodes[i].kids = &kid_ptrs[21 + (i - 1) * 20];
  }
  hd_Deep_depth__request d = hd_Deep_depth__request_INIT;
  d.n = &nodes[0];
  check_need(&d.base);
}

static void
test_scan_budgets(void)
{
  size_t len = 0, taken;
  uint8_t *f = amp_field(4u << 20, &len);
  uint8_t *body = malloc(len + 1);
  plumb_arena *a = plumb_arena_new();
  plumb__decode_limits lim = { .max_depth = 64, .budget = 16 };
  plumb__decode_pool pool = { .max = 256u << 20 };
  ProtobufCMessage *out;
  char why[PLUMB__DECODE_WHY_MAX];
  CU_ASSERT_FATAL(f != NULL && body != NULL && a != NULL);
  body[0] = 0x0a;
  memcpy(body + 1, f, len);
  /* 2M empty entries in 4 MiB: ~50x, over 16x + 1 MiB; nothing taken. */
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool,
                                     &hd_Deep_put_many__request__descriptor,
                                     a, body, len + 1, len + 64, &out, &taken,
                                     why, sizeof why), PLUMB_ETOOBIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "per-request budget"));
  CU_ASSERT_EQUAL(atomic_load(&pool.in_use), 0);
  CU_ASSERT_EQUAL(plumb__arena_counted(a), 0);
  /* With a budget that fits it, a full pool refuses it for now... */
  lim.budget = 100;
  atomic_store(&pool.in_use, pool.max - 1000);
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool,
                                     &hd_Deep_put_many__request__descriptor,
                                     a, body, len + 1, len + 64, &out, &taken,
                                     why, sizeof why), PLUMB_EBUSY);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "retry"));
  CU_ASSERT_EQUAL(atomic_load(&pool.in_use), pool.max - 1000);
  /* ...a pool smaller than the request refuses it for good... */
  atomic_store(&pool.in_use, 0);
  pool.max = 1u << 20;
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool,
                                     &hd_Deep_put_many__request__descriptor,
                                     a, body, len + 1, len + 64, &out, &taken,
                                     why, sizeof why), PLUMB_ETOOBIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "max_decode_memory"));
  /* ...and an empty one of enough room decodes it and accounts for it. */
  pool.max = 1u << 30;
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool,
                                     &hd_Deep_put_many__request__descriptor,
                                     a, body, len + 1, len + 64, &out, &taken,
                                     why, sizeof why), PLUMB_OK);
  CU_ASSERT_EQUAL(((hd_Deep_put_many__request *)out)->n_items,
                  (len + 1) / 2);
  CU_ASSERT(taken > 40 * len && atomic_load(&pool.in_use) == taken);
  plumb__decode_release(&pool, taken);
  plumb_arena_free(a);
  free(body);
  free(f);
}

static void
test_arena_limit(void)
{
  plumb_arena *a = plumb_arena_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  plumb__arena_limit(a, 1000);
  CU_ASSERT_PTR_NOT_NULL(plumb_arena_alloc(a, 500));
  CU_ASSERT_FALSE(plumb__arena_over(a));
  CU_ASSERT_PTR_NULL(plumb_arena_alloc(a, 600));
  CU_ASSERT_TRUE(plumb__arena_over(a));
  CU_ASSERT_EQUAL(plumb__arena_counted(a), 512);
  plumb__arena_limit(a, 0); /* lifted: allocations succeed again */
  CU_ASSERT_PTR_NOT_NULL(plumb_arena_alloc(a, 1u << 20));
  plumb_arena_reset(a);
  CU_ASSERT_EQUAL(plumb__arena_counted(a), 0);
  CU_ASSERT_FALSE(plumb__arena_over(a));
  plumb_arena_free(a);
}

static const ptest_case scan_cases[] = {
  { "depth limit, iterative", test_scan_depth },
  { "malformed wire data", test_scan_malformed },
  { "predicted memory = unpack's", test_scan_memory },
  { "per-request and server-wide budgets", test_scan_budgets },
  { "arena cap", test_arena_limit },
  { NULL, NULL },
};

/* ---- per-transport suites: a real server process --------------------- */

static char scheme[16];
static char sep[512], cep[4200], logpath[160];
static char server_path[4096]; /* hostile-decode-server, next to us */
static pid_t server_pid = -1;

static int
is_pipe(void)
{
  return strcmp(scheme, "pipe") == 0;
}

static plumb_client *
open_client(void)
{
  plumb_client *c = NULL;
  long long end = ptest_now_ms() + 5000;
  int rc;
  do {
    if ((rc = plumb_client_open(&c, cep, "deep", NULL)) == PLUMB_OK) {
      plumb_client_set_timeout(c, 20000);
      return c;
    }
    usleep(20000);
  } while (ptest_now_ms() < end);
  fprintf(stderr, "open %s: %s\n", cep, plumb_strerror(rc));
  return NULL;
}

static void
dump_log(void)
{
  char line[512];
  FILE *f = fopen(logpath, "r");
  if (f == NULL)
    return;
  printf("\n---- %s ----\n", logpath);
  for (int i = 0; i < 200 && fgets(line, sizeof line, f); i++)
    fputs(line, stdout);
  fclose(f);
}

static int
transport_init(void)
{
  char base[96];
  snprintf(scheme, sizeof scheme, "%s", CU_get_current_suite()->pName);
  snprintf(base, sizeof base, "plumb-hd-%d-%s", (int)getpid(), scheme);
  snprintf(logpath, sizeof logpath, "/tmp/%s.log", base);
  if (strcmp(scheme, "unix") == 0)
    snprintf(sep, sizeof sep, "unix:/tmp/%s.sock", base);
  else if (strcmp(scheme, "tcp") == 0)
    snprintf(sep, sizeof sep, "tcp://127.0.0.1:%d",
             ptest_free_port(AF_INET, 7));
  else if (strcmp(scheme, "fifo") == 0)
    snprintf(sep, sizeof sep, "fifo:/tmp/%s", base);
  else if (strcmp(scheme, "mq") == 0 || strcmp(scheme, "shm") == 0)
    snprintf(sep, sizeof sep, "%s:/%s", scheme, base);
  else if (strcmp(scheme, "sysvmq") == 0)
    snprintf(sep, sizeof sep, "sysvmq:/tmp/%s.key", base);
  if (is_pipe()) {
    snprintf(cep, sizeof cep, "pipe:exec=%s pipe:", server_path);
    return 0; /* each client spawns its own server */
  }
  snprintf(cep, sizeof cep, "%s", sep);
  char *argv[] = { (char *)server_path, sep, NULL };
  if ((server_pid = ptest_spawn(argv, logpath)) < 0)
    return -1;
  plumb_client *c = open_client();
  if (c == NULL) {
    ptest_stop(server_pid, SIGTERM, 5000);
    server_pid = -1;
    dump_log();
    unlink(logpath);
    return -1;
  }
  plumb_client_close(c);
  return 0;
}

static int
transport_cleanup(void)
{
  int rc = 0;
  if (server_pid > 0 && ptest_stop(server_pid, SIGTERM, 5000) != 0)
    rc = -1;
  server_pid = -1;
  if (rc != 0 || CU_get_number_of_failures() > 0)
    dump_log();
  unlink(logpath);
  return rc;
}

static long
server_kb(pid_t pid, const char *key)
{
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, strlen(key)) == 0)
      kb = atol(line + strlen(key) + 1);
  fclose(f);
  return kb;
}

static void
test_deep_nesting(void)
{
  plumb_client *c = open_client();
  plumb_arena *a = plumb_arena_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  static const unsigned levels[] = { DEEP, 65, 64 };
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
    size_t len = 0;
    uint8_t *f = deep_field(levels[i], &len);
    ProtobufCMessage *rep = NULL;
    int rc = call_raw(c, 0, &hd_Deep_depth__request__descriptor, f, len,
                      &rep, a);
    if (levels[i] > 64) {
      CU_ASSERT_EQUAL(rc, PLUMB_EBADBODY);
      CU_ASSERT_PTR_NOT_NULL(strstr(plumb_client_last_error(c),
                                    "nested deeper than 64 levels"));
    } else {
      CU_ASSERT_EQUAL(rc, PLUMB_OK);
      if (rc != PLUMB_OK)
        fprintf(stderr, "depth %u: %s\n", levels[i], plumb_client_last_error(c));
      if (rc == PLUMB_OK)
        CU_ASSERT_EQUAL(((hd_Deep_depth__reply *)rep)->_ret, 64);
    }
    free(f);
    /* The same connection serves a good call afterwards. */
    int32_t r = 0;
    CU_ASSERT_EQUAL(hd_Deep_add(c, 40, 2, &r, a), PLUMB_OK);
    CU_ASSERT_EQUAL(r, 42);
    plumb_arena_reset(a);
  }
  plumb_arena_free(a);
  plumb_client_close(c);
}

typedef struct amp_job {
  plumb_client *c;
  int rc;
  char err[256];
  atomic_int done;
} amp_job;

static void *
amp_thread(void *arg)
{
  amp_job *j = arg;
  size_t len = 0;
  uint8_t *f = amp_field(AMP_BODY, &len);
  plumb_arena *a = plumb_arena_new();
  ProtobufCMessage *rep;
  j->rc = f && a ? call_raw(j->c, 1, &hd_Deep_put_many__request__descriptor,
                            f, len, &rep, a) : PLUMB_ENOMEM;
  snprintf(j->err, sizeof j->err, "%s", plumb_client_last_error(j->c));
  plumb_arena_free(a);
  free(f);
  atomic_store(&j->done, 1);
  return NULL;
}

static void
test_amplification(void)
{
  amp_job j = { .c = open_client() };
  plumb_client *good = is_pipe() ? j.c : open_client();
  int32_t pid = 0, r = 0;
  pthread_t t;
  CU_ASSERT_PTR_NOT_NULL_FATAL(j.c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(good);
  CU_ASSERT_EQUAL_FATAL(hd_Deep_pid(j.c, &pid, NULL), PLUMB_OK);
  long before = server_kb(pid, "VmHWM:");
  long long t0 = ptest_now_ms(), worst = 0;
  int calls = 0;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, amp_thread, &j), 0);
  if (is_pipe())
    printf("\n    exempt on pipe: one client per server, so the good "
           "calls follow the hostile one on its connection ");
  else
    plumb_client_set_timeout(good, GOOD_DEADLINE_MS);
  while (!is_pipe() && !atomic_load(&j.done) && calls < 5000) {
    long long s = ptest_now_ms();
    CU_ASSERT_EQUAL(hd_Deep_add(good, calls, 1, &r, NULL), PLUMB_OK);
    CU_ASSERT_EQUAL(r, calls + 1);
    if (ptest_now_ms() - s > worst)
      worst = ptest_now_ms() - s;
    calls++;
    usleep(2000);
  }
  pthread_join(t, NULL);
  long long took = ptest_now_ms() - t0;
  CU_ASSERT(j.rc == PLUMB_ETOOBIG || j.rc == PLUMB_EBADBODY);
  CU_ASSERT_PTR_NOT_NULL(strstr(j.err, "budget"));
  CU_ASSERT_EQUAL(hd_Deep_add(good, 1, 2, &r, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(hd_Deep_add(j.c, 3, 4, &r, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 7);
  long hwm = server_kb(pid, "VmHWM:"), rss = server_kb(pid, "VmRSS:");
  printf("\n    %s: amplification answered %s in %lld ms; server VmHWM "
         "%ld -> %ld kB, VmRSS %ld kB; %d good calls meanwhile, worst "
         "%lld ms ", scheme, plumb_status_name(j.rc), took, before, hwm,
         rss, calls, worst);
  CU_ASSERT(hwm > 0 && hwm < (long)RSS_BOUND_KB);
  CU_ASSERT(worst < GOOD_DEADLINE_MS);
  if (good != j.c)
    plumb_client_close(good);
  plumb_client_close(j.c);
}

static const ptest_case transport_cases[] = {
  { "deep nesting", test_deep_nesting },
  { "amplification", test_amplification },
  { NULL, NULL },
};

int
main(int argc, char **argv)
{
  ptest_suite suites[2 + sizeof schemes / sizeof schemes[0]];
  size_t n = 0;
  signal(SIGPIPE, SIG_IGN);
  ssize_t k = readlink("/proc/self/exe", server_path, sizeof server_path - 32);
  if (k <= 0)
    return 1;
  server_path[k] = '\0';
  snprintf(strrchr(server_path, '/') + 1, 32, "hostile-decode-server");
  suites[n++] = (ptest_suite){ "scan", scan_cases, NULL, NULL };
  /* One suite per built-in transport (selected by argv[1], see ptest). */
  static char names[sizeof schemes / sizeof schemes[0]][16];
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
    char ep[32];
    snprintf(ep, sizeof ep, "%s:x", schemes[i]);
    if (plumb_endpoint_check(ep, NULL, 0) != PLUMB_OK) {
      printf("transport %s not built in: skipped\n", schemes[i]);
      continue;
    }
    snprintf(names[i], sizeof names[i], "%s", schemes[i]);
    suites[n++] = (ptest_suite){ names[i], transport_cases, transport_init,
                                 transport_cleanup };
  }
  suites[n] = (ptest_suite){ NULL, NULL, NULL, NULL };
  return ptest_run(suites, argc, argv);
}
