/* test_idl4.c - plumbc's IDL4 / CORBA 3 mappings exercised on idl4.idl:
 * struct inheritance, map (as protobuf map entries), bitmask, bitset
 * (pack/unpack), fixed and long double (text), valuetypes (null and
 * chained values, boxed values), @autoid(HASH) and sequential @id
 * numbering; through protobuf_c pack/unpack and, when $PROTOC and
 * $PROTO_DIR are set, real protoc (including a hand-written .proto that
 * declares the maps as `map<K, V>`, which must read the same bytes).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plumb/idl_types.h>
#include <plumb/status.h>

#include "idl4.h"
#include "ptest.h"

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
  uint8_t *buf;
  *len = protobuf_c_message_get_packed_size(m);
  buf = malloc(*len ? *len : 1);
  CU_ASSERT_FATAL(buf != NULL);
  CU_ASSERT_EQUAL_FATAL(protobuf_c_message_pack(m, buf), *len);
  return buf;
}

/* Fills r (and the storage it points to) with known values. */
typedef struct rec_store {
  x4_Rec_readings_Entry re[2], *rep[2];
  x4_Rec_labels_Entry le[1], *lep[1];
  char price[16], precise[PLUMB_LDOUBLE_TEXT_MAX];
} rec_store;

static void
fill_rec(x4_Rec *r, rec_store *s)
{
  x4_Hdr h;
  x4_Rec_init(r);
  r->id = 42;
  r->name = "rec";
  x4_Rec_readings_Entry_init(&s->re[0]);
  s->re[0].key = "a";
  s->re[0].value = 1.5;
  x4_Rec_readings_Entry_init(&s->re[1]);
  s->re[1].key = "b";
  s->re[1].value = -2.25;
  s->rep[0] = &s->re[0];
  s->rep[1] = &s->re[1];
  r->n_readings = 2;
  r->readings = s->rep;
  x4_Rec_labels_Entry_init(&s->le[0]);
  s->le[0].key = 7;
  s->le[0].value = "seven";
  s->lep[0] = &s->le[0];
  r->n_labels = 1;
  r->labels = s->lep;
  r->perm = x4_Perm_READ | x4_Perm_ADMIN;
  memset(&h, 0, sizeof h);
  h.version = 9;
  h.packed = 1;
  h.delta = -5;
  h.offset = UINT64_C(0xabcdef1234);
  r->hdr = x4_Hdr_pack(&h);
  snprintf(s->price, sizeof s->price, "1234567.89");
  r->price = s->price;
  CU_ASSERT_EQUAL(plumb_ldouble_to_text(1.0L / 3.0L, s->precise,
                                        sizeof s->precise), PLUMB_OK);
  r->precise = s->precise;
}

static void
test_inherit_map_bits(void)
{
  x4_Rec r, *u;
  rec_store s;
  x4_Hdr h;
  size_t len;
  uint8_t *buf;
  long double ld;

  fill_rec(&r, &s);
  CU_ASSERT_EQUAL(x4_Rec_validate(&r), 0);
  buf = pack(&r.base, &len);
  u = (x4_Rec *)protobuf_c_message_unpack(&x4_Rec__descriptor, NULL, len,
                                          buf);
  CU_ASSERT_PTR_NOT_NULL_FATAL(u);
  CU_ASSERT_EQUAL(u->id, 42);                 /* base state first */
  CU_ASSERT_STRING_EQUAL(u->name, "rec");
  CU_ASSERT_EQUAL_FATAL(u->n_readings, 2);
  CU_ASSERT_STRING_EQUAL(u->readings[1]->key, "b");
  CU_ASSERT_EQUAL(u->readings[1]->value, -2.25);
  CU_ASSERT_EQUAL_FATAL(u->n_labels, 1);
  CU_ASSERT_EQUAL(u->labels[0]->key, 7);
  CU_ASSERT_STRING_EQUAL(u->labels[0]->value, "seven");
  CU_ASSERT_EQUAL(u->perm, (1u << 0) | (1u << 12));
  x4_Hdr_unpack(&h, u->hdr);
  CU_ASSERT_EQUAL(h.version, 9);
  CU_ASSERT_EQUAL(h.packed, 1);
  CU_ASSERT_EQUAL(h.delta, -5);
  CU_ASSERT_EQUAL(h.offset, UINT64_C(0xabcdef1234));
  /* layout: version bits 0-3, packed bit 4, 3 bits padding, delta 8-13 */
  CU_ASSERT_EQUAL(u->hdr & 0x1f, 9u | 0x10u);
  CU_ASSERT_EQUAL((u->hdr >> 8) & 0x3f, (uint64_t)(64 - 5));
  CU_ASSERT_STRING_EQUAL(u->price, "1234567.89");
  CU_ASSERT_EQUAL(plumb_fixed_check(u->price, 9, 2), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_ldouble_from_text(u->precise, &ld), PLUMB_OK);
  CU_ASSERT_TRUE(ld == 1.0L / 3.0L);         /* lossless */
  protobuf_c_message_free_unpacked(&u->base, NULL);
  free(buf);

  /* bounds: the map's bound (4) is the sequence bound */
  {
    x4_Rec_labels_Entry *many[5];
    for (int i = 0; i < 5; i++)
      many[i] = &s.le[0];
    r.n_labels = 5;
    r.labels = many;
    CU_ASSERT_NOT_EQUAL(x4_Rec_validate(&r), 0);
  }
}

static void
test_text_helpers(void)
{
  long double v;
  char buf[PLUMB_LDOUBLE_TEXT_MAX];
  CU_ASSERT_EQUAL(plumb_fixed_check("-1234567.89", 9, 2), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_fixed_check("0.50", 9, 1), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_fixed_check("12345678.9", 9, 2), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_fixed_check("1.234", 9, 2), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_fixed_check("1e5", 9, 2), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_fixed_check("", 9, 2), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_fixed_check(".5", 9, 2), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_ldouble_from_text("", &v), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_ldouble_from_text("1.5x", &v), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_ldouble_from_text(NULL, &v), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_ldouble_to_text(-0.1L, buf, 4), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_ldouble_to_text(-0.1L, buf, sizeof buf), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_ldouble_from_text(buf, &v), PLUMB_OK);
  CU_ASSERT_TRUE(v == -0.1L);
}

static void
test_values(void)
{
  x4_Node n1, n2, *u1;
  x4_Label lab;
  x4_Holder h, *uh;
  size_t len;
  uint8_t *buf;

  x4_Node_init(&n1);
  x4_Node_init(&n2);
  n1.value = 1;
  n1.next = &n2;
  n2.value = 2;
  n2.next = NULL; /* a null value */
  buf = pack(&n1.base, &len);
  u1 = (x4_Node *)protobuf_c_message_unpack(&x4_Node__descriptor, NULL, len,
                                            buf);
  CU_ASSERT_PTR_NOT_NULL_FATAL(u1);
  CU_ASSERT_EQUAL(u1->value, 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(u1->next);
  CU_ASSERT_EQUAL(u1->next->value, 2);
  CU_ASSERT_PTR_NULL(u1->next->next);
  protobuf_c_message_free_unpacked(&u1->base, NULL);
  free(buf);

  x4_Label_init(&lab);
  lab.value = "boxed";
  x4_Holder_init(&h);
  h.list = NULL; /* null value */
  h.label = &lab;
  buf = pack(&h.base, &len);
  uh = (x4_Holder *)protobuf_c_message_unpack(&x4_Holder__descriptor, NULL,
                                              len, buf);
  CU_ASSERT_PTR_NOT_NULL_FATAL(uh);
  CU_ASSERT_PTR_NULL(uh->list);
  CU_ASSERT_PTR_NOT_NULL_FATAL(uh->label);
  CU_ASSERT_STRING_EQUAL(uh->label->value, "boxed");
  protobuf_c_message_free_unpacked(&uh->base, NULL);
  free(buf);
}

static void
test_field_numbers(void)
{
  const ProtobufCFieldDescriptor *f;
  f = protobuf_c_message_descriptor_get_field_by_name(&x4_Seq__descriptor,
                                                      "after");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(f->id, 8); /* @id(7) what; then 8 */
  /* @autoid(HASH): DDS-XTypes member ids, MD5("alpha") & 0x0fffffff */
  f = protobuf_c_message_descriptor_get_field_by_name(&x4_Hashed__descriptor,
                                                      "alpha");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(f->id, 0x0343172cu);
  /* inherited fields keep their numbers */
  f = protobuf_c_message_descriptor_get_field_by_name(&x4_Rec__descriptor,
                                                      "name");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(f->id, 2);
}

/* ---- protoc ------------------------------------------------------------------ */

static char *
run_protoc(const char *args, const void *in, size_t inlen, size_t *outlen)
{
  const char *protoc = getenv("PROTOC"), *dir = getenv("PROTO_DIR");
  char inpath[256], outpath[256], cmd[2048];
  FILE *f;
  char *buf;
  long n;

  snprintf(inpath, sizeof inpath, "/tmp/plumb-idl4-in-%d", (int)getpid());
  snprintf(outpath, sizeof outpath, "/tmp/plumb-idl4-out-%d", (int)getpid());
  f = fopen(inpath, "wb");
  if (f == NULL)
    return NULL;
  fwrite(in, 1, inlen, f);
  fclose(f);
  snprintf(cmd, sizeof cmd,
           "cd '%s' && '%s' -I. -I'%s' -I/usr/include %s < '%s' > '%s'", dir,
           protoc, getenv("PLUMB_IDL_DIR") ? getenv("PLUMB_IDL_DIR") : ".",
           args, inpath, outpath);
  if (system(cmd) != 0) {
    fprintf(stderr, "failed: %s\n", cmd);
    unlink(inpath);
    unlink(outpath);
    return NULL;
  }
  f = fopen(outpath, "rb");
  CU_ASSERT_FATAL(f != NULL);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = calloc(1, (size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n)
    n = 0;
  fclose(f);
  unlink(inpath);
  unlink(outpath);
  *outlen = (size_t)n;
  return buf;
}

/* A .proto a protobuf user would write for x4.Rec, with real map<>
 * fields: must read plumb's bytes unchanged. */
static const char map_proto[] =
    "syntax = \"proto3\";\n"
    "package x4m;\n"
    "message Rec {\n"
    "  int32 id = 1;\n  string name = 2;\n"
    "  map<string, double> readings = 3;\n"
    "  map<int32, string> labels = 4;\n"
    "  uint32 perm = 5;\n  uint64 hdr = 6;\n  string price = 7;\n"
    "  string precise = 8;\n"
    "}\n";

static void
test_protoc_decode(void)
{
  x4_Rec r;
  rec_store s;
  size_t len, outlen;
  uint8_t *buf;
  char *text, path[512];
  FILE *f;
  const char *dir = getenv("PROTO_DIR");

  fill_rec(&r, &s);
  buf = pack(&r.base, &len);
  text = run_protoc("--decode=x4.Rec idl4.proto", buf, len, &outlen);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "id: 42\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "readings {\n  key: \"a\"\n  value: 1.5\n}"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "labels {\n  key: 7\n  value: \"seven\"\n}"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "price: \"1234567.89\"\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "perm: 4097\n"));
  free(text);

  /* the same bytes through a schema with genuine protobuf maps */
  snprintf(path, sizeof path, "%s/x4m-%d.proto", dir, (int)getpid());
  f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(map_proto, f);
  fclose(f);
  {
    char args[600];
    snprintf(args, sizeof args, "--decode=x4m.Rec x4m-%d.proto", (int)getpid());
    text = run_protoc(args, buf, len, &outlen);
  }
  unlink(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "readings {\n  key: \"b\"\n  value: -2.25\n}"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "labels {\n  key: 7\n  value: \"seven\"\n}"));
  free(text);
  free(buf);
}

static void
test_protoc_encode(void)
{
  const char *in = "id: 5 name: \"p\" readings { key: \"z\" value: 0.5 } "
                   "labels { key: -3 value: \"neg\" } perm: 2 hdr: 1 "
                   "price: \"-0.25\" precise: \"0x1p-2\"";
  size_t outlen;
  char *bytes = run_protoc("--encode=x4.Rec idl4.proto", in, strlen(in),
                           &outlen);
  x4_Rec *u;
  long double ld;
  CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
  u = (x4_Rec *)protobuf_c_message_unpack(&x4_Rec__descriptor, NULL, outlen,
                                          (const uint8_t *)bytes);
  CU_ASSERT_PTR_NOT_NULL_FATAL(u);
  CU_ASSERT_EQUAL(u->id, 5);
  CU_ASSERT_EQUAL_FATAL(u->n_readings, 1);
  CU_ASSERT_STRING_EQUAL(u->readings[0]->key, "z");
  CU_ASSERT_EQUAL_FATAL(u->n_labels, 1);
  CU_ASSERT_EQUAL(u->labels[0]->key, -3);
  CU_ASSERT_EQUAL(u->perm, x4_Perm_WRITE);
  CU_ASSERT_EQUAL(plumb_ldouble_from_text(u->precise, &ld), PLUMB_OK);
  CU_ASSERT_TRUE(ld == 0.25L);
  CU_ASSERT_EQUAL(x4_Rec_validate(u), 0);
  protobuf_c_message_free_unpacked(&u->base, NULL);
  free(bytes);
}

static const ptest_case pack_cases[] = {
  { "inheritance, maps, bitmask, bitset, fixed, long double",
    test_inherit_map_bits },
  { "long double and fixed text helpers", test_text_helpers },
  { "valuetypes: chains, null and boxed values", test_values },
  { "field numbers: @id sequential, @autoid(HASH), inherited",
    test_field_numbers },
  { NULL, NULL },
};

static const ptest_case interop_cases[] = {
  { "plumb bytes decode with protoc (and genuine map<> fields)",
    test_protoc_decode },
  { "protoc bytes unpack with generated descriptors", test_protoc_encode },
  { NULL, NULL },
};

int
main(int argc, char **argv)
{
  static const ptest_suite all[] = {
    { "pack", pack_cases, NULL, NULL },
    { "interop", interop_cases, NULL, NULL },
    { NULL, NULL, NULL, NULL },
  };
  return ptest_run(all, argc, argv);
}
