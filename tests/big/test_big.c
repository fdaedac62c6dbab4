/* test_big.c - large sequence<octet> payloads end to end, once per
 * transport (`test_big SCHEME`): a real big-server process (big_server.c)
 * and this client call big::Big through the generated stubs with payloads
 * below, at and above the by-reference threshold (runtime/core/bigbytes.h)
 * up to 4 MiB - echoed from the request's frame, two big inputs moved to
 * two big outputs, bytes the handler made, a big request alone - through
 * the synchronous and the asynchronous stubs, results kept in one arena
 * across calls (each reply's frame is adopted by it), and no IPC object
 * left behind when the server stops.  Over unix, a raw peer also sends
 * hand-made request bodies (a big field twice, big after small, a length
 * past the end): the server answers each as protobuf says, or refuses it
 * and keeps serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <plumb/async.h>
#include <plumb/plumb.h>

#include "big-wire.h"
#include "big.h"
#include "frame.h"
#include "proc.h"
#include "ptest.h"

#define MIB (1024u * 1024u)

static char scheme[16], sep[256], cep[512], logp[128], ipc[96];
static pid_t srv = -1;

static uint8_t *
pattern(size_t n, unsigned seed)
{
  uint8_t *p = malloc(n ? n : 1);
  for (size_t i = 0; p != NULL && i < n; i++)
    p[i] = (uint8_t)(i * 131u + seed);
  return p;
}

static int
same(const big_Bytes *b, const uint8_t *p, size_t n)
{
  return b->_length == n && (n == 0 || memcmp(b->_buffer, p, n) == 0);
}

static plumb_client *
open_client(void)
{
  plumb_client *c = NULL;
  plumb_client_opts o = { .timeout_ms = 20000, .max_frame = 8 * MIB };
  long long end = ptest_now_ms() + 5000;
  int rc;
  do {
    if ((rc = plumb_client_open(&c, cep, "big", &o)) == PLUMB_OK)
      return c;
    usleep(20000);
  } while (ptest_now_ms() < end);
  fprintf(stderr, "open %s: %s\n", cep, plumb_strerror(rc));
  return NULL;
}

static int
suite_init(void)
{
  snprintf(ipc, sizeof ipc, "plumb-big-%d", (int)getpid());
  snprintf(logp, sizeof logp, "/tmp/%s.log", ipc);
  if (strcmp(scheme, "unix") == 0)
    snprintf(sep, sizeof sep, "unix:/tmp/%s.sock", ipc);
  else if (strcmp(scheme, "tcp") == 0)
    snprintf(sep, sizeof sep, "tcp://127.0.0.1:%d",
             ptest_free_port(AF_INET, 7));
  else if (strcmp(scheme, "fifo") == 0)
    snprintf(sep, sizeof sep, "fifo:/tmp/%s", ipc);
  else if (strcmp(scheme, "sysvmq") == 0)
    snprintf(sep, sizeof sep, "sysvmq:/tmp/%s.key", ipc);
  else if (strcmp(scheme, "pipe") == 0)
    snprintf(sep, sizeof sep, "pipe:");
  else
    snprintf(sep, sizeof sep, "%s:/%s", scheme, ipc);
  if (strcmp(scheme, "pipe") == 0) {
    snprintf(cep, sizeof cep, "pipe:exec=%s pipe:", BIG_SERVER);
    return 0; /* the client spawns its server */
  }
  snprintf(cep, sizeof cep, "%s", sep);
  char *argv[] = { (char *)BIG_SERVER, sep, NULL };
  if ((srv = ptest_spawn(argv, logp)) < 0)
    return -1;
  plumb_client *c = open_client();
  plumb_client_close(c);
  return c != NULL ? 0 : -1;
}

static int
suite_cleanup(void)
{
  int rc = 0;
  if (srv > 0 && ptest_stop(srv, SIGTERM, 10000) != 0)
    rc = -1;
  unlink(logp);
  return rc;
}

static void
test_echo_sizes(void)
{
  static const size_t sizes[] = { 0, 1, 16 * 1024 - 1, 16 * 1024,
                                  64 * 1024 + 3, MIB, 4 * MIB };
  plumb_client *c = open_client();
  plumb_arena *a = plumb_arena_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint8_t *p = pattern(sizes[i], (unsigned)i);
    big_Bytes in = { sizes[i], p }, out = { 0, NULL };
    for (int k = 0; k < 3; k++) { /* reset: the frames swap places */
      plumb_arena_reset(a);
      int rc = big_Big_echo(c, &in, &out, a);
      CU_ASSERT_EQUAL(rc, PLUMB_OK);
      if (rc != PLUMB_OK)
        fprintf(stderr, "echo %zu: %s\n", sizes[i],
                plumb_client_last_error(c));
      CU_ASSERT(same(&out, p, sizes[i]));
    }
    /* a scalar result: the thread's scratch arena (arena NULL) */
    uint32_t sum = 1, want = 0;
    for (size_t j = 0; j < sizes[i]; j++)
      want += p[j];
    CU_ASSERT_EQUAL(big_Big_sum(c, &in, &sum, NULL), PLUMB_OK);
    CU_ASSERT_EQUAL(sum, want);
    free(p);
  }
  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
test_kept_results(void)
{
  plumb_client *c = open_client();
  plumb_arena *a = plumb_arena_new();
  uint8_t *p = pattern(MIB, 3), *q = pattern(200 * 1024, 4);
  big_Bytes r1, r2, r3, first;
  int32_t got = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  /* three replies in one arena, no reset: every one stays readable */
  big_Bytes in1 = { MIB, p }, in2 = { 200 * 1024, q };
  CU_ASSERT_EQUAL(big_Big_echo(c, &in1, &r1, a), PLUMB_OK);
  CU_ASSERT_EQUAL(big_Big_echo(c, &in2, &r2, a), PLUMB_OK);
  CU_ASSERT_EQUAL(big_Big_swap(c, &in1, -9, &in2, &first, &got, &r3, a),
                  PLUMB_OK);
  CU_ASSERT(same(&r1, p, MIB));
  CU_ASSERT(same(&r2, q, 200 * 1024));
  CU_ASSERT(same(&first, p, MIB));
  CU_ASSERT(same(&r3, q, 200 * 1024));
  CU_ASSERT_EQUAL(got, -9);
  /* bytes the handler made in its arena */
  uint8_t *m = pattern(MIB + 5, 7);
  CU_ASSERT_EQUAL(big_Big_make(c, MIB + 5, 7, &r1, a), PLUMB_OK);
  CU_ASSERT(same(&r1, m, MIB + 5));
  CU_ASSERT_EQUAL(big_Big_make(c, 10, 7, &r1, a), PLUMB_OK);
  CU_ASSERT(same(&r1, m, 10));
  /* a big request, a small reply */
  uint32_t sum = 0, want = 0;
  for (size_t i = 0; i < MIB; i++)
    want += p[i];
  CU_ASSERT_EQUAL(big_Big_sum(c, &in1, &sum, a), PLUMB_OK);
  CU_ASSERT_EQUAL(sum, want);
  free(m);
  free(p);
  free(q);
  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
test_async(void)
{
  plumb_client *c = open_client();
  plumb_arena *a = plumb_arena_new();
  uint8_t *p = pattern(MIB, 9), *q = pattern(300 * 1024, 10);
  big_Bytes in1 = { MIB, p }, in2 = { 300 * 1024, q }, r1, r2;
  plumb_pending *h1 = NULL, *h2 = NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL_FATAL(big_Big_echo_begin(c, &in1, &h1), PLUMB_OK);
  CU_ASSERT_EQUAL_FATAL(big_Big_echo_begin(c, &in2, &h2), PLUMB_OK);
  CU_ASSERT_EQUAL(big_Big_echo_finish(h2, &r2, a), PLUMB_OK);
  CU_ASSERT_EQUAL(big_Big_echo_finish(h1, &r1, a), PLUMB_OK);
  CU_ASSERT(same(&r1, p, MIB));
  CU_ASSERT(same(&r2, q, 300 * 1024));
  free(p);
  free(q);
  plumb_arena_free(a);
  plumb_client_close(c);
}

/* ---- a raw peer (unix only) ----------------------------------------- */

static size_t
put_varint(uint8_t *p, uint64_t v)
{
  size_t n = 0;
  for (; v >= 0x80; v >>= 7)
    p[n++] = (uint8_t)(v | 0x80);
  p[n++] = (uint8_t)v;
  return n;
}

/* Field 1 (data) of an echo request: bytes p[0..n), claiming `claim`
 * bytes (n for an honest one). */
static size_t
put_data(uint8_t *w, const uint8_t *p, size_t n, size_t claim)
{
  size_t k = 0;
  w[k++] = 0x0a;
  k += put_varint(w + k, claim);
  memcpy(w + k, p, n);
  return k + n;
}

static int
io_all(int fd, uint8_t *p, size_t n, int out)
{
  long long end = ptest_now_ms() + 10000;
  while (n > 0 && ptest_now_ms() < end) {
    struct pollfd pf = { fd, (short)(out ? POLLOUT : POLLIN), 0 };
    if (poll(&pf, 1, 100) <= 0)
      continue;
    ssize_t r = out ? write(fd, p, n) : read(fd, p, n);
    if (r <= 0)
      return -1;
    p += r;
    n -= (size_t)r;
  }
  return n == 0 ? 0 : -1;
}

/* Sends an echo request with body b[0..n) on fd and reads the answer:
 * its kind, and for a reply the returned bytes into *out (malloc'd). */
static int
raw_echo(int fd, uint32_t id, const uint8_t *b, size_t n, uint8_t **out,
         size_t *outlen)
{
  const plumb_operation *o = &big_Big_interface.ops[0];
  uint8_t pre[4 + PLUMB__FRAME_HDR + 3];
  plumb__frame f;
  memset(&f, 0, sizeof f);
  f.kind = PLUMB__FRAME_REQUEST;
  f.call_id = id;
  f.iface = o->decl_iface;
  f.op = o->decl_index;
  f.text_len = 3;
  f.body_len = (uint32_t)n;
  uint32_t len = (uint32_t)(PLUMB__FRAME_HDR + 3 + n);
  pre[0] = (uint8_t)len, pre[1] = (uint8_t)(len >> 8);
  pre[2] = (uint8_t)(len >> 16), pre[3] = (uint8_t)(len >> 24);
  plumb__frame_encode(pre + 4, &f);
  memcpy(pre + 4 + PLUMB__FRAME_HDR, "big", 3);
  if (io_all(fd, pre, sizeof pre, 1) != 0 ||
      io_all(fd, (uint8_t *)b, n, 1) != 0 || io_all(fd, pre, 4, 0) != 0)
    return -1;
  len = pre[0] | pre[1] << 8 | pre[2] << 16 | (uint32_t)pre[3] << 24;
  uint8_t *fr = malloc(len ? len : 1);
  const char *why;
  plumb__frame a;
  if (fr == NULL || io_all(fd, fr, len, 0) != 0 ||
      plumb__frame_decode(fr, len, 64u << 20, &a, &why) != PLUMB_OK ||
      a.call_id != id) {
    free(fr);
    return -1;
  }
  int kind = a.kind;
  *out = NULL;
  *outlen = 0;
  if (kind == PLUMB__FRAME_REPLY) {
    big_Big_echo__reply *r = (big_Big_echo__reply *)protobuf_c_message_unpack(
        &big_Big_echo__reply__descriptor, NULL, a.body_len, a.body);
    if (r == NULL) {
      free(fr);
      return -1;
    }
    *outlen = r->_ret.len;
    *out = malloc(r->_ret.len ? r->_ret.len : 1);
    memcpy(*out, r->_ret.data, r->_ret.len);
    protobuf_c_message_free_unpacked(&r->base, NULL);
  }
  free(fr);
  return kind;
}

static void
test_raw_shapes(void)
{
  if (strcmp(scheme, "unix") != 0)
    return; /* one stream peer is enough: the decode is the same */
  size_t big = 40 * 1024;
  uint8_t *p = pattern(big, 11), *q = pattern(big, 12);
  uint8_t *w = malloc(3 * big + 64), *out;
  size_t n, outlen;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  CU_ASSERT_FATAL(strlen(sep + 5) < sizeof sa.sun_path);
  memcpy(sa.sun_path, sep + 5, strlen(sep + 5) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  fcntl(fd, F_SETFL, O_NONBLOCK);

  /* big, then small: the last wins */
  n = put_data(w, p, big, big);
  n += put_data(w + n, (const uint8_t *)"yz", 2, 2);
  CU_ASSERT_EQUAL(raw_echo(fd, 1, w, n, &out, &outlen), PLUMB__FRAME_REPLY);
  CU_ASSERT(outlen == 2 && out != NULL && memcmp(out, "yz", 2) == 0);
  free(out);
  /* small, then big: the big one (borrowed from the frame, echoed back) */
  n = put_data(w, (const uint8_t *)"yz", 2, 2);
  n += put_data(w + n, p, big, big);
  CU_ASSERT_EQUAL(raw_echo(fd, 2, w, n, &out, &outlen), PLUMB__FRAME_REPLY);
  CU_ASSERT(outlen == big && out != NULL && memcmp(out, p, big) == 0);
  free(out);
  /* two big ones: the second */
  n = put_data(w, p, big, big);
  n += put_data(w + n, q, big, big);
  CU_ASSERT_EQUAL(raw_echo(fd, 3, w, n, &out, &outlen), PLUMB__FRAME_REPLY);
  CU_ASSERT(outlen == big && out != NULL && memcmp(out, q, big) == 0);
  free(out);
  /* a big field claiming more bytes than the body has: refused ... */
  n = put_data(w, p, big, big + 100);
  CU_ASSERT_EQUAL(raw_echo(fd, 4, w, n, &out, &outlen), PLUMB__FRAME_SYSEXC);
  free(out);
  /* ... and the connection still served */
  n = put_data(w, q, big, big);
  CU_ASSERT_EQUAL(raw_echo(fd, 5, w, n, &out, &outlen), PLUMB__FRAME_REPLY);
  CU_ASSERT(outlen == big && out != NULL && memcmp(out, q, big) == 0);
  free(out);
  close(fd);
  free(w);
  free(p);
  free(q);
}

/* Run last: stops the server and looks for what it may have left. */
static void
test_nothing_left(void)
{
  struct stat st;
  char path[160];
  if (srv <= 0)
    return; /* pipe: each client's server ended with it */
  CU_ASSERT_EQUAL(ptest_stop(srv, SIGTERM, 10000), 0);
  srv = -1;
  snprintf(path, sizeof path, "/tmp/%s.sock", ipc);
  CU_ASSERT(stat(path, &st) < 0 && errno == ENOENT);
  snprintf(path, sizeof path, "/tmp/%s", ipc);
  CU_ASSERT(stat(path, &st) < 0 && errno == ENOENT);
  snprintf(path, sizeof path, "/dev/shm/plumb-%s", ipc);
  CU_ASSERT(stat(path, &st) < 0 && errno == ENOENT);
  snprintf(path, sizeof path, "/%s", ipc);
  mqd_t q = mq_open(path, O_RDONLY);
  CU_ASSERT(q == (mqd_t)-1 && errno == ENOENT);
  if (q != (mqd_t)-1)
    mq_close(q);
}

static const ptest_case cases[] = {
  { "echo and sum, 0 B to 4 MiB", test_echo_sizes },
  { "results kept in one arena; swap, make, sum", test_kept_results },
  { "asynchronous stubs", test_async },
  { "raw peer: repeated and bad big fields (unix)", test_raw_shapes },
  { "nothing left behind", test_nothing_left },
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
