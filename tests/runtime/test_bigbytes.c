/* test_bigbytes.c - unit tests of large bytes fields by reference
 * (runtime/core/bigbytes.c): the scattered wire is the same message as
 * protobuf-c's own packing; a borrowed decode points into the frame and
 * gives the values a plain unpack gives, also for the wire shapes where it
 * must not borrow (a field seen twice, a rest bigger than the big fields,
 * small fields); the decode's checks still refuse bad bodies; the arena
 * keeps adopted frame buffers until reset and hands one back. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena_internal.h"
#include "bigbytes.h"
#include "decode.h"
#include "plumb/plumb.h"
#include "ptest.h"

/* message Big { int32 n = 1; bytes a = 2; string s = 3; bytes b = 4;
 *               repeated bytes r = 5; } written as plumbc emits it. */
typedef struct {
  ProtobufCMessage base;
  int32_t n;
  ProtobufCBinaryData a;
  char *s;
  ProtobufCBinaryData b;
  size_t n_r;
  ProtobufCBinaryData *r;
} Big;

static void big_init(Big *m);

static const ProtobufCFieldDescriptor big_fields[5] = {
  { "n", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0,
    offsetof(Big, n), NULL, NULL, 0, 0, NULL, NULL },
  { "a", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, 0,
    offsetof(Big, a), NULL, NULL, 0, 0, NULL, NULL },
  { "s", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
    offsetof(Big, s), NULL, &protobuf_c_empty_string, 0, 0, NULL, NULL },
  { "b", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, 0,
    offsetof(Big, b), NULL, NULL, 0, 0, NULL, NULL },
  { "r", 5, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES,
    offsetof(Big, n_r), offsetof(Big, r), NULL, NULL, 0, 0, NULL, NULL },
};
static const unsigned big_by_name[5] = { 1, 3, 0, 4, 2 };
static const ProtobufCIntRange big_ranges[2] = { { 1, 0 }, { 0, 5 } };
static const ProtobufCMessageDescriptor big_desc = {
  PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "t.Big", "Big", "Big", "t",
  sizeof(Big), 5, big_fields, big_by_name, 1, big_ranges,
  (ProtobufCMessageInit)big_init, NULL, NULL, NULL
};

static void
big_init(Big *m)
{
  memset(m, 0, sizeof *m);
  m->base.descriptor = &big_desc;
  m->s = (char *)protobuf_c_empty_string;
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
  uint8_t *p = malloc(n ? n : 1);
  for (size_t i = 0; p != NULL && i < n; i++)
    p[i] = (uint8_t)(i * 131 + seed);
  return p;
}

/* The scattered body gathered into one buffer (malloc'd), *len its size. */
static uint8_t *
gather(const plumb__scatter *sc, const uint8_t *head, size_t *len)
{
  struct iovec iov[PLUMB__BIG_IOV];
  int n = plumb__scatter_iov(sc, head, iov);
  uint8_t *out = malloc(sc->len ? sc->len : 1);
  size_t off = 0;
  for (int i = 0; out != NULL && i < n; i++) {
    memcpy(out + off, iov[i].iov_base, iov[i].iov_len);
    off += iov[i].iov_len;
  }
  *len = off;
  return out;
}

static int
same_bytes(ProtobufCBinaryData x, const uint8_t *p, size_t n)
{
  return x.len == n && (n == 0 || memcmp(x.data, p, n) == 0);
}

/* Decodes body through the server's path (scan, budgets, borrow). */
static Big *
decode(plumb_arena *a, const uint8_t *body, size_t len, unsigned *borrowed,
       int *st)
{
  plumb__decode_limits lim = { .max_depth = 0, .budget = 16 };
  plumb__decode_pool pool = { .max = 0 };
  ProtobufCMessage *m = NULL;
  size_t taken;
  char why[PLUMB__DECODE_WHY_MAX];
  atomic_init(&pool.in_use, 0);
  *st = plumb__decode_body_borrow(&lim, &pool, &big_desc, a, body, len,
                                  len + 64, &m, &taken, borrowed, why,
                                  sizeof why);
  return (Big *)m;
}

static void
test_scatter_small(void)
{
  Big m;
  plumb_buf head = { 0 };
  plumb__scatter sc;
  uint8_t *small = pattern(100, 1);
  big_init(&m);
  m.n = 7;
  m.a = (ProtobufCBinaryData){ 100, small };
  CU_ASSERT_EQUAL_FATAL(plumb__scatter_pack(&m.base, &head, 1u << 20, &sc),
                        PLUMB_OK);
  CU_ASSERT_EQUAL(sc.n, 0);
  size_t want = protobuf_c_message_get_packed_size(&m.base);
  uint8_t *ref = malloc(want);
  CU_ASSERT_EQUAL(protobuf_c_message_pack(&m.base, ref), want);
  CU_ASSERT_EQUAL(sc.len, want);
  CU_ASSERT(head.len == want && memcmp(head.data, ref, want) == 0);
  /* NULL: an empty body */
  CU_ASSERT_EQUAL(plumb__scatter_pack(NULL, &head, 10, &sc), PLUMB_OK);
  CU_ASSERT_EQUAL(sc.len, 0);
  /* over the limit: refused, with the size it would have */
  CU_ASSERT_EQUAL(plumb__scatter_pack(&m.base, &head, want - 1, &sc),
                  PLUMB_ETOOBIG);
  CU_ASSERT_EQUAL(sc.len, want);
  free(ref);
  free(small);
  plumb__buf_free(&head);
}

static void
test_scatter_big(void)
{
  Big m, *out;
  plumb_buf head = { 0 };
  plumb__scatter sc;
  size_t la = 64 * 1024 + 3, lb = PLUMB__BIG_MIN, len;
  uint8_t *pa = pattern(la, 2), *pb = pattern(lb, 3), *pr = pattern(50, 4);
  ProtobufCBinaryData r[2] = { { 50, pr }, { 0, NULL } };
  big_init(&m);
  m.n = -5;
  m.s = (char *)"hello";
  m.a = (ProtobufCBinaryData){ la, pa };
  m.b = (ProtobufCBinaryData){ lb, pb };
  m.n_r = 2;
  m.r = r;
  CU_ASSERT_EQUAL_FATAL(plumb__scatter_pack(&m.base, &head, 1u << 20, &sc),
                        PLUMB_OK);
  CU_ASSERT_EQUAL(sc.n, 2);
  CU_ASSERT(sc.head_len < 100);
  CU_ASSERT_EQUAL(sc.len, protobuf_c_message_get_packed_size(&m.base));
  struct iovec iov[PLUMB__BIG_IOV];
  CU_ASSERT_EQUAL(plumb__scatter_iov(&sc, head.data, iov), 5);
  CU_ASSERT_PTR_EQUAL(iov[2].iov_base, pa); /* by reference */
  CU_ASSERT_PTR_EQUAL(iov[4].iov_base, pb);
  uint8_t *wire = gather(&sc, head.data, &len);
  /* the message is untouched, and the wire is the same message */
  CU_ASSERT(m.a.data == pa && m.a.len == la && m.b.len == lb);
  out = (Big *)protobuf_c_message_unpack(&big_desc, NULL, len, wire);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT_EQUAL(out->n, -5);
  CU_ASSERT_STRING_EQUAL(out->s, "hello");
  CU_ASSERT(same_bytes(out->a, pa, la));
  CU_ASSERT(same_bytes(out->b, pb, lb));
  CU_ASSERT(out->n_r == 2 && same_bytes(out->r[0], pr, 50) &&
            out->r[1].len == 0);
  protobuf_c_message_free_unpacked(&out->base, NULL);
  free(wire);
  free(pa);
  free(pb);
  free(pr);
  plumb__buf_free(&head);
}

static void
test_borrow(void)
{
  Big m, *out;
  size_t la = 100 * 1024, lb = 20 * 1024;
  uint8_t *pa = pattern(la, 5), *pb = pattern(lb, 6), *pr = pattern(30, 7);
  ProtobufCBinaryData r[1] = { { 30, pr } };
  plumb_arena *a = plumb_arena_new();
  unsigned borrowed;
  int st;
  big_init(&m);
  m.n = 42;
  m.s = (char *)"x";
  m.a = (ProtobufCBinaryData){ la, pa };
  m.b = (ProtobufCBinaryData){ lb, pb };
  m.n_r = 1;
  m.r = r;
  size_t len = protobuf_c_message_get_packed_size(&m.base);
  uint8_t *wire = malloc(len);
  protobuf_c_message_pack(&m.base, wire);
  out = decode(a, wire, len, &borrowed, &st);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(borrowed, 2);
  CU_ASSERT(out->a.data > wire && out->a.data + la <= wire + len);
  CU_ASSERT(out->b.data > wire && out->b.data + lb <= wire + len);
  CU_ASSERT(same_bytes(out->a, pa, la) && same_bytes(out->b, pb, lb));
  CU_ASSERT_EQUAL(out->n, 42);
  CU_ASSERT_STRING_EQUAL(out->s, "x");
  CU_ASSERT(out->n_r == 1 && same_bytes(out->r[0], pr, 30));
  /* the arena paid for the small rest, not for the big fields */
  CU_ASSERT(plumb__arena_counted(a) < 4096);
  /* small fields only: a plain unpack, nothing borrowed */
  plumb_arena_reset(a);
  m.a.len = m.b.len = 1000;
  len = protobuf_c_message_pack(&m.base, wire);
  out = decode(a, wire, len, &borrowed, &st);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(borrowed, 0);
  CU_ASSERT(same_bytes(out->a, pa, 1000));
  CU_ASSERT(out->a.data < wire || out->a.data >= wire + len);
  free(wire);
  free(pa);
  free(pb);
  free(pr);
  plumb_arena_free(a);
}

/* tag 2 (bytes a), length n, bytes from p - appended at w. */
static size_t
put_a(uint8_t *w, const uint8_t *p, size_t n)
{
  size_t k = 0;
  w[k++] = 0x12;
  for (size_t v = n; ; v >>= 7) {
    w[k++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
    if (v < 0x80)
      break;
  }
  memcpy(w + k, p, n);
  return k + n;
}

static void
test_borrow_shapes(void)
{
  size_t big = 40 * 1024;
  uint8_t *p = pattern(big, 8), *w = malloc(3 * big + 64);
  plumb_arena *a = plumb_arena_new();
  unsigned borrowed;
  int st;
  Big *out;

  /* a big value, then a small one: the last wins, nothing borrowed */
  size_t len = put_a(w, p, big);
  len += put_a(w + len, (const uint8_t *)"yz", 2);
  out = decode(a, w, len, &borrowed, &st);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(borrowed, 0);
  CU_ASSERT(same_bytes(out->a, (const uint8_t *)"yz", 2));
  /* a small value, then a big one: the big one, borrowed */
  plumb_arena_reset(a);
  len = put_a(w, (const uint8_t *)"yz", 2);
  len += put_a(w + len, p, big);
  out = decode(a, w, len, &borrowed, &st);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(borrowed, 1);
  CU_ASSERT(same_bytes(out->a, p, big));
  /* two big values: the second, copied by protobuf-c */
  plumb_arena_reset(a);
  len = put_a(w, p + 1, big - 1);
  len += put_a(w + len, p, big);
  out = decode(a, w, len, &borrowed, &st);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(borrowed, 0);
  CU_ASSERT(same_bytes(out->a, p, big));
  /* a rest (repeated bytes) bigger than the big field: copied */
  plumb_arena_reset(a);
  len = put_a(w, p, PLUMB__BIG_MIN);
  for (int i = 0; i < 2; i++) {
    size_t k = put_a(w + len, p, big);
    w[len] = 0x2a; /* field 5 */
    len += k;
  }
  out = decode(a, w, len, &borrowed, &st);
  CU_ASSERT_EQUAL_FATAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(borrowed, 0);
  CU_ASSERT(same_bytes(out->a, p, PLUMB__BIG_MIN));
  CU_ASSERT(out->n_r == 2 && same_bytes(out->r[1], p, big));
  /* a truncated body is refused by the scan before anything is borrowed */
  plumb_arena_reset(a);
  len = put_a(w, p, big);
  out = decode(a, w, len - 1, &borrowed, &st);
  CU_ASSERT_EQUAL(st, PLUMB_EBADBODY);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_EQUAL(borrowed, 0);
  free(p);
  free(w);
  plumb_arena_free(a);
}

static void
test_arena_adopt(void)
{
  plumb_arena *a = plumb_arena_new();
  uint8_t *b1 = malloc(100), *b2 = malloc(200), *b3 = malloc(300);
  uint8_t *d = b1;
  size_t cap = 100;

  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  plumb__arena_adopt(a, &d, &cap); /* nothing to give back yet */
  CU_ASSERT(d == NULL && cap == 0);
  plumb_arena_reset(a); /* b1 becomes the spare */
  d = b2;
  cap = 200;
  plumb__arena_adopt(a, &d, &cap);
  CU_ASSERT(d == b1 && cap == 100);
  /* a second frame before the reset: held too */
  d = b3;
  cap = 300;
  plumb__arena_adopt(a, &d, &cap);
  CU_ASSERT(d == NULL && cap == 0);
  plumb_arena_reset(a); /* b3 kept as the spare, b2 freed */
  d = b1;
  cap = 100;
  plumb__arena_adopt(a, &d, &cap);
  CU_ASSERT(d == b3 && cap == 300);
  free(d);
  plumb_arena_free(a); /* frees b1 (ASan: no leak) */
}

static const ptest_case cases[] = {
  { "scatter: small fields packed as before", test_scatter_small },
  { "scatter: big fields by reference, same message", test_scatter_big },
  { "borrow: big fields point into the frame", test_borrow },
  { "borrow: repeated fields, last wins, big rest, bad bodies",
    test_borrow_shapes },
  { "arena adopts frame buffers", test_arena_adopt },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "bigbytes", cases, NULL, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
