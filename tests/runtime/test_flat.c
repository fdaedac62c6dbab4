/* test_flat.c - unit tests of the flat-message codec (runtime/core/flat.c)
 * against protobuf-c itself: which messages are flat; packed bytes equal
 * to protobuf-c's for edge values and random ones; an unpack sets what
 * protobuf-c's unpack sets, for protobuf-c's own bytes, for non-canonical
 * encodings (over-long varints, a field twice) and for random mutations,
 * and declines what it must leave to the general path; and the decode
 * path (decode.c) takes it, counts its memory and still refuses bad
 * bodies with the general path's message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flat.h"
#include "flat_msgs.h"
#include "plumb/plumb.h"
#include "ptest.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* An interesting 64-bit value: edges, small, or random bits. */
static uint64_t
pick(void)
{
  static const uint64_t edge[] = {
    0, 1, 2, 127, 128, 255, 16383, 16384, 0x7fffffffu, 0x80000000u,
    0xffffffffu, 0x100000000ull, 0x7fffffffffffffffull,
    0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffffeull,
  };
  switch (rnd() % 4) {
  case 0: return edge[rnd() % (sizeof edge / sizeof edge[0])];
  case 1: return rnd() % 300;
  case 2: return (uint64_t)-(int64_t)(rnd() % 300);
  default: return rnd();
  }
}

static double
pick_double(void)
{
  static const double v[] = { 0.0, -0.0, 1.5, -2.25, 1e300, -1e-300 };
  switch (rnd() % 3) {
  case 0: return v[rnd() % 6];
  case 1: return NAN;
  default: {
    uint64_t bits = rnd();
    double d;
    memcpy(&d, &bits, 8);
    return d;
  }
  }
}

static void
random_all(FlatAll *m)
{
  flat_all_desc.message_init((ProtobufCMessage *)m);
  m->i32 = (int32_t)pick();
  m->s32 = (int32_t)pick();
  m->sf32 = (int32_t)pick();
  m->i64 = (int64_t)pick();
  m->s64 = (int64_t)pick();
  m->sf64 = (int64_t)pick();
  m->u32 = (uint32_t)pick();
  m->f32 = (uint32_t)pick();
  m->u64 = pick();
  m->f64 = pick();
  m->fl = (float)pick_double();
  m->db = pick_double();
  m->b = (protobuf_c_boolean)(rnd() % 4 == 0 ? 0 : rnd() % 3); /* 0, 1, 2 */
  m->en = (int)pick();
}

static void
random_opt(FlatOpt *m)
{
  flat_opt_desc.message_init((ProtobufCMessage *)m);
  m->has_a = rnd() & 1;
  m->a = (int32_t)pick();
  m->has_d = rnd() & 1;
  m->d = pick_double();
  m->has_b = rnd() & 1;
  m->b = rnd() % 2;
  m->has_z = rnd() & 1;
  m->z = (int64_t)pick();
}

/* Packs m both ways; asserts the same bytes.  Returns protobuf-c's
 * (malloc'd), *len its length. */
static uint8_t *
pack_both(const ProtobufCMessage *m, size_t *len)
{
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *want = malloc(n + 1), *got = malloc(n + 1);
  CU_ASSERT_FATAL(want != NULL && got != NULL);
  CU_ASSERT_EQUAL(protobuf_c_message_pack(m, want), n);
  CU_ASSERT_EQUAL(plumb__flat_size(m), n);
  CU_ASSERT_EQUAL(plumb__flat_pack(m, got), n);
  CU_ASSERT(memcmp(want, got, n) == 0);
  free(got);
  *len = n;
  return want;
}

/* Unpacks p[0..len) both ways.  Returns what flat said (1/0); when it
 * said 1, protobuf-c must have accepted the bytes, kept no unknown field
 * and set the same values. */
static int
unpack_both(const ProtobufCMessageDescriptor *d, const uint8_t *p,
            size_t len)
{
  ProtobufCMessage *want = protobuf_c_message_unpack(d, NULL, len, p);
  void *got = malloc(d->sizeof_message);
  CU_ASSERT_FATAL(got != NULL);
  d->message_init(got);
  int r = plumb__flat_unpack(d, p, len, got);
  if (r) {
    CU_ASSERT_PTR_NOT_NULL(want);
    if (want != NULL) {
      CU_ASSERT_EQUAL(want->n_unknown_fields, 0);
      CU_ASSERT(flat_msgs_equal(d, want, got));
    }
  }
  if (want != NULL)
    protobuf_c_message_free_unpacked(want, NULL);
  free(got);
  return r;
}

static void
test_flat_is(void)
{
  CU_ASSERT(plumb__flat_is(&flat_all_desc));
  CU_ASSERT(plumb__flat_is(&flat_opt_desc));
  CU_ASSERT(!plumb__flat_is(&not_flat_desc));
  NotFlat nf;
  not_flat_desc.message_init((ProtobufCMessage *)&nf);
  CU_ASSERT_EQUAL(plumb__flat_size(&nf.base), SIZE_MAX);
  /* a message with unknown fields goes to protobuf-c, which packs them */
  FlatAll m;
  ProtobufCMessageUnknownField u = { 5000, PROTOBUF_C_WIRE_TYPE_VARINT, 1,
                                     (uint8_t *)"\x01" };
  flat_all_desc.message_init((ProtobufCMessage *)&m);
  m.base.n_unknown_fields = 1;
  m.base.unknown_fields = &u;
  CU_ASSERT_EQUAL(plumb__flat_size(&m.base), SIZE_MAX);
}

static void
test_pack(void)
{
  FlatAll m;
  FlatOpt o;
  size_t len;

  flat_all_desc.message_init((ProtobufCMessage *)&m); /* all zero: nothing on the wire */
  free(pack_both(&m.base, &len));
  CU_ASSERT_EQUAL(len, 0);
  m.fl = -0.0f; /* compares equal to 0: not sent, as protobuf-c */
  m.db = -0.0;
  free(pack_both(&m.base, &len));
  CU_ASSERT_EQUAL(len, 0);
  m.i32 = -1; /* a negative int32: 10-byte varint */
  free(pack_both(&m.base, &len));
  CU_ASSERT_EQUAL(len, 11);
  for (int i = 0; i < 3000; i++) {
    random_all(&m);
    free(pack_both(&m.base, &len));
    random_opt(&o);
    free(pack_both(&o.base, &len));
  }
}

static void
test_unpack_own_bytes(void)
{
  FlatAll m;
  FlatOpt o;
  size_t len;
  for (int i = 0; i < 3000; i++) {
    random_all(&m);
    uint8_t *p = pack_both(&m.base, &len);
    CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, p, len), 1);
    free(p);
    random_opt(&o);
    p = pack_both(&o.base, &len);
    CU_ASSERT_EQUAL(unpack_both(&flat_opt_desc, p, len), 1);
    free(p);
  }
}

static void
test_unpack_shapes(void)
{
  /* accepted, with protobuf-c's values: */
  static const uint8_t twice[] = { 0x08, 0x05, 0x08, 0x07 }; /* last wins */
  static const uint8_t longer[] = { 0x08, 0x85, 0x80, 0x80, 0x00 };
  static const uint8_t long_tag[] = { 0x88, 0x00, 0x05 };
  static const uint8_t low32[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0x7f };
  static const uint8_t neg10[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0x01 };
  static const uint8_t bool2[] = { 0xa0, 0x06, 0x80, 0x01 }; /* b = 128 */
  static const uint8_t out_of_order[] = { 0xc0, 0x3e, 0x03, 0x08, 0x01 };
  static const uint8_t fixed[] = { 0x1d, 1, 2, 3, 4, 0xa5, 0x01, 0, 0, 0xc0,
                                   0x7f };
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, twice, sizeof twice), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, longer, sizeof longer), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, long_tag, sizeof long_tag), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, low32, sizeof low32), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, neg10, sizeof neg10), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, bool2, sizeof bool2), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, out_of_order,
                              sizeof out_of_order), 1);
  CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, fixed, sizeof fixed), 1);
  /* declined, left to the general path: */
  static const uint8_t unknown[] = { 0x08, 0x01, 0xf8, 0x01, 0x01 };
  static const uint8_t wrong_wire[] = { 0x0d, 1, 2, 3, 4 };
  static const uint8_t truncated[] = { 0x1d, 1, 2 };
  static const uint8_t cut_varint[] = { 0x08, 0x80 };
  static const uint8_t eleven[] = { 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x00 };
  static const uint8_t tenth_big[] = { 0xa0, 0x06, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x80, 0x80, 0x02 };
  static const uint8_t field0[] = { 0x00, 0x01 };
  static const uint8_t group[] = { 0x0b, 0x0c };
  static const uint8_t tag6[] = { 0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01 };
  const struct { const uint8_t *p; size_t n; } no[] = {
    { unknown, sizeof unknown }, { wrong_wire, sizeof wrong_wire },
    { truncated, sizeof truncated }, { cut_varint, sizeof cut_varint },
    { eleven, sizeof eleven }, { tenth_big, sizeof tenth_big },
    { field0, sizeof field0 }, { group, sizeof group },
    { tag6, sizeof tag6 },
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    CU_ASSERT_EQUAL(unpack_both(&flat_all_desc, no[i].p, no[i].n), 0);
  /* an OPTIONAL field read sets its has_ flag */
  static const uint8_t opt_z[] = { 0x20, 0x03 }; /* z = zigzag 3 = -2 */
  FlatOpt o;
  flat_opt_desc.message_init((ProtobufCMessage *)&o);
  CU_ASSERT_EQUAL(plumb__flat_unpack(&flat_opt_desc, opt_z, 2, &o.base), 1);
  CU_ASSERT(o.has_z && o.z == -2 && !o.has_a && !o.has_d && !o.has_b);
}

/* Random mutations of valid bodies: whenever flat accepts, protobuf-c
 * agrees (unpack_both asserts it); count both outcomes. */
static void
test_unpack_mutations(void)
{
  FlatAll m;
  uint8_t buf[256];
  size_t len;
  int yes = 0, no = 0;
  for (int i = 0; i < 20000; i++) {
    random_all(&m);
    uint8_t *p = pack_both(&m.base, &len);
    memcpy(buf, p, len);
    free(p);
    unsigned k = 1 + (unsigned)(rnd() % 4);
    for (unsigned j = 0; j < k && len > 0; j++) {
      switch (rnd() % 3) {
      case 0: buf[rnd() % len] = (uint8_t)rnd(); break;
      case 1: len = (size_t)(rnd() % (len + 1)); break;
      default:
        if (len < sizeof buf)
          buf[len++] = (uint8_t)rnd();
      }
    }
    if (unpack_both(&flat_all_desc, buf, len))
      yes++;
    else
      no++;
  }
  CU_ASSERT(yes > 1000);
  CU_ASSERT(no > 1000);
}

static void
test_decode_path(void)
{
  plumb__decode_limits lim = { 0, PLUMB__DEFAULT_DECODE_BUDGET };
  plumb__decode_pool pool = { 0, 0 };
  plumb_arena *a = plumb_arena_new();
  ProtobufCMessage *out;
  size_t taken, len;
  char why[PLUMB__DECODE_WHY_MAX];
  FlatAll m;

  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  random_all(&m);
  m.b = m.b != 0; /* as it comes back */
  uint8_t *p = pack_both(&m.base, &len);
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool, &flat_all_desc, a, p, len,
                                     len + 32, &out, &taken, why,
                                     sizeof why), PLUMB_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  CU_ASSERT(flat_msgs_equal(&flat_all_desc, out, &m));
  CU_ASSERT_EQUAL(taken, (sizeof(FlatAll) + 15) & ~(size_t)15);
  CU_ASSERT_EQUAL(atomic_load(&pool.in_use), taken);
  plumb__decode_release(&pool, taken);
  free(p);
  /* an unknown field: the general path keeps it, as before */
  static const uint8_t unknown[] = { 0x08, 0x01, 0xf8, 0x01, 0x09 };
  plumb_arena_reset(a);
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool, &flat_all_desc, a, unknown,
                                     sizeof unknown, 64, &out, &taken, why,
                                     sizeof why), PLUMB_OK);
  CU_ASSERT(out != NULL && out->n_unknown_fields == 1 &&
            ((FlatAll *)out)->i32 == 1);
  plumb__decode_release(&pool, taken);
  /* a bad body: refused by the scan, with its message */
  static const uint8_t wrong[] = { 0x0d, 1, 2, 3, 4 };
  plumb_arena_reset(a);
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &pool, &flat_all_desc, a, wrong,
                                     sizeof wrong, 64, &out, &taken, why,
                                     sizeof why), PLUMB_EBADBODY);
  CU_ASSERT(strstr(why, "field 'i32'") != NULL);
  CU_ASSERT(strstr(why, "wrong wire type") != NULL);
  /* a pool smaller than the struct: refused, nothing taken */
  plumb__decode_pool tiny = { 0, 8 };
  plumb_arena_reset(a);
  CU_ASSERT_EQUAL(plumb__decode_body(&lim, &tiny, &flat_all_desc, a,
                                     (const uint8_t *)"", 0, 16, &out,
                                     &taken, why, sizeof why), PLUMB_ETOOBIG);
  CU_ASSERT_EQUAL(atomic_load(&tiny.in_use), 0);
  CU_ASSERT_EQUAL(atomic_load(&pool.in_use), 0);
  plumb_arena_free(a);
}

static const ptest_case cases[] = {
  { "which messages are flat", test_flat_is },
  { "pack: the bytes protobuf-c packs", test_pack },
  { "unpack: protobuf-c's bytes, protobuf-c's values", test_unpack_own_bytes },
  { "unpack: odd encodings taken, the rest declined", test_unpack_shapes },
  { "unpack: random mutations agree with protobuf-c",
    test_unpack_mutations },
  { "decode path: flat, unknown fields, bad bodies, pool", test_decode_path },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "flat", cases, NULL, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
