/* test_world.c - the C plumbc generated for tests/compiler/idl/world and
 * all.idl, compiled with -std=c11 -pedantic -Werror into this program
 * (tests/compiler/meson.build): the build is the first check.  Then the
 * descriptors and tables are inspected: repository ids honour #pragma
 * prefix/ID/version, typeid and typeprefix; struct inheritance puts the
 * base's fields first; maps are entry messages; local interfaces have no
 * table; all.idl has at least 1,000 lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "CosNotifyLike.h"
#include "Pose.h"
#include "TaoLiterals.h"
#include "ValueTypes.h"
#include "XTypes.h"
#include "all.h"
#include "ptest.h"

static void
test_repository_ids(void)
{
  /* #pragma prefix "omg.org" */
  CU_ASSERT_STRING_EQUAL(CosNotifyLike_QoSAdmin_interface.type_id,
                         "IDL:omg.org/CosNotifyLike/QoSAdmin:1.0");
  /* #pragma version ProxyConsumer 1.1 */
  CU_ASSERT_STRING_EQUAL(CosNotifyLike_ProxyConsumer_interface.type_id,
                         "IDL:omg.org/CosNotifyLike/ProxyConsumer:1.1");
  /* #pragma ID */
  CU_ASSERT_STRING_EQUAL(CosNotifyLike_ConsumerAdmin_interface.type_id,
                         "IDL:omg.org/CosNotifyChannelAdmin/ConsumerAdmin:1.0");
  /* typeprefix overrides the file's #pragma prefix inside its module */
  CU_ASSERT_STRING_EQUAL(Legacy_Stamp_type.type_id,
                         "IDL:example.org/Legacy/Stamp:1.0");
  /* typeid */
  CU_ASSERT_STRING_EQUAL(Legacy_Clock_interface.type_id, "LOCAL:clock");
  CU_ASSERT_STRING_EQUAL(CosNotifyLike_Property_type.type_id,
                         "IDL:omg.org/CosNotifyLike/Property:1.0");
  /* no prefix: the plain form */
  CU_ASSERT_STRING_EQUAL(XTypes_Base_type.type_id, "IDL:XTypes/Base:1.0");
  CU_ASSERT_STRING_EQUAL(pkg_msg_Pose_type.type_id, "IDL:pkg/msg/Pose:1.0");
  /* all.idl: typeprefix, typeid, #pragma ID and version per module */
  CU_ASSERT_STRING_EQUAL(m3_Service3_interface.type_id,
                         "IDL:all/Service3:2.0");
  CU_ASSERT_STRING_EQUAL(m3_Rec3_type.type_id, "IDL:all/Rec3:3.0");
  CU_ASSERT_STRING_EQUAL(m3_Base3_type.type_id,
                         "IDL:all3.example.org/m3/Base3:1.4");
}

static void
test_inheritance_and_maps(void)
{
  const ProtobufCMessageDescriptor *d = &XTypes_Derived__descriptor;
  const ProtobufCFieldDescriptor *f;
  CU_ASSERT_STRING_EQUAL(d->fields[0].name, "id"); /* from Base */
  CU_ASSERT_EQUAL(d->fields[0].id, 1);
  f = protobuf_c_message_descriptor_get_field_by_name(d, "readings");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(f->label, PROTOBUF_C_LABEL_REPEATED);
  CU_ASSERT_PTR_EQUAL(f->descriptor, &XTypes_Derived_readings_Entry__descriptor);
  CU_ASSERT_EQUAL(XTypes_Derived_readings_Entry__descriptor.n_fields, 2);
  CU_ASSERT_EQUAL(XTypes_Derived_readings_Entry__descriptor.fields[0].id, 1);
  CU_ASSERT_EQUAL(XTypes_Derived_readings_Entry__descriptor.fields[1].id, 2);
  /* @id(20) map: the sequential numbering continues after it */
  f = protobuf_c_message_descriptor_get_field_by_name(&m1_Rec1__descriptor,
                                                      "trees");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(f->id, 21);
}

static void
test_types_in_c(void)
{
  XTypes_Header h;
  XTypes_Permissions p = XTypes_Permissions_READ | XTypes_Permissions_ADMIN;
  TaoLiterals_Keywords k;
  TaoLiterals_Container_Item item;
  TaoLiterals_Container_Kind kind = TaoLiterals_Container_Kind_LARGE;
  memset(&h, 0, sizeof h);
  h.version = 15;
  h.delta = -1;
  CU_ASSERT_EQUAL(sizeof p, 1); /* bit_bound 8 */
  CU_ASSERT_EQUAL(p, 0x81);
  XTypes_Header_unpack(&h, XTypes_Header_pack(&h));
  CU_ASSERT_EQUAL(h.version, 15);
  CU_ASSERT_EQUAL(h.delta, -1);
  /* C keywords and reserved names as member names are escaped */
  TaoLiterals_Keywords_init(&k);
  k._register = 1;
  k._auto = 2.0;
  k._bool = 1;
  CU_ASSERT_EQUAL(k._register + (int)k._auto + k._bool, 4);
  /* types nested in structs are emitted */
  TaoLiterals_Container_Item_init(&item);
  CU_ASSERT_EQUAL(item.id, 0);
  CU_ASSERT_EQUAL(kind, 1);
  /* literals */
  CU_ASSERT_EQUAL(TaoLiterals_MinLong, INT32_MIN);
  CU_ASSERT_EQUAL(TaoLiterals_MinLongLong, INT64_MIN);
  CU_ASSERT_EQUAL(TaoLiterals_AllOnes, UINT32_MAX);
  CU_ASSERT_EQUAL(TaoLiterals_NotMinusOne, 0);
  CU_ASSERT_EQUAL(TaoLiterals_NegNeg, 5);
  CU_ASSERT_EQUAL(TaoLiterals_Octal, 'A');
  CU_ASSERT_EQUAL(TaoLiterals_WideU, 0xe9);
  CU_ASSERT_STRING_EQUAL(TaoLiterals_Escapes, "tab\there\nquote\"back\\AB");
  CU_ASSERT_STRING_EQUAL(TaoLiterals_Wide, "wide \xc3\xa9t\xc3\xa9");
  CU_ASSERT_STRING_EQUAL(TaoLiterals_Money, "123.45");
  CU_ASSERT_STRING_EQUAL(TaoLiterals_NegMoney, "-0.5");
  CU_ASSERT_TRUE(TaoLiterals_LongD == 3.25L);
}

static void
move_by(ValueTypes_Point *self, double dx, double dy)
{
  self->x += dx;
  self->y += dy;
}

static int
origin(ValueTypes_Point *self)
{
  ValueTypes_Point_init(self);
  return 0;
}

static void
test_values_and_local(void)
{
  ValueTypes_Point_ops ops = {move_by};
  ValueTypes_Point_factory fac = {NULL, origin};
  ValueTypes_Point pt;
  ValueTypes_Point3D p;
  ValueTypes_Holder h;
  ValueTypes_Point3D_init(&p);
  p.x = 1; /* the base's state comes first */
  p.z = 3;
  CU_ASSERT_STRING_EQUAL(ValueTypes_Point3D__descriptor.fields[0].name, "x");
  ValueTypes_Holder_init(&h);
  CU_ASSERT_PTR_NULL(h.p); /* values are nullable */
  CU_ASSERT_PTR_NULL(h.label);
  CU_ASSERT_EQUAL(ValueTypes_StringValue__descriptor.n_fields, 1);
  CU_ASSERT_EQUAL(p.x + p.z, 4);
  /* operations and factories: local function tables */
  CU_ASSERT_EQUAL(fac.origin(&pt), 0);
  ops.move_by(&pt, 1.5, -2);
  CU_ASSERT_EQUAL(pt.x, 1.5);
  CU_ASSERT_EQUAL(pt.y, -2);
}

static void
test_all_idl_size(void)
{
  const char *path = getenv("PLUMB_ALL_IDL");
  FILE *f;
  int c, lines = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL(path);
  f = fopen(path, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  while ((c = fgetc(f)) != EOF)
    lines += c == '\n';
  fclose(f);
  CU_ASSERT_TRUE(lines >= 1000);
}

static const ptest_case cases[] = {
  { "repository ids (#pragma prefix/ID/version, typeid, typeprefix)",
    test_repository_ids },
  { "struct inheritance and maps in the descriptors",
    test_inheritance_and_maps },
  { "bitmask, bitset, escaped names, nested types, literals",
    test_types_in_c },
  { "valuetypes", test_values_and_local },
  { "all.idl has >= 1,000 lines", test_all_idl_size },
  { NULL, NULL },
};

int
main(int argc, char **argv)
{
  static const ptest_suite all[] = {
    { "world", cases, NULL, NULL },
    { NULL, NULL, NULL, NULL },
  };
  return ptest_run(all, argc, argv);
}
