/* testif.h - a hand-written "generated-style" interface for the runtime
 * tests: protobuf-c descriptors, plumb_interface tables and thunks written
 * the way plumbc emits them, so the core can be tested without the compiler.
 *
 * interface test::Echo {
 *   long add(in long a, in long b);                     // 0
 *   long div(in long a, in long b) raises (DivByZero);  // 1
 *   string echo(in string s);   // reply also carries the caller's pid/uid
 *   oneway void note(in long a, in long b);             // 3: counter += a
 *   long count();                                       // 4
 *   long nap(in long a, in long b);  // 5: sleeps a ms, returns b
 * };
 * interface test::Derived : test::Echo { long mul(in long a, in long b); };
 */
#ifndef TESTIF_H
#define TESTIF_H

#include <plumb/plumb.h>

typedef struct {
  ProtobufCMessage base;
  int32_t a, b;
} test_Pair;
typedef struct {
  ProtobufCMessage base;
  int32_t ret;
} test_Int;
typedef struct {
  ProtobufCMessage base;
  char *s;
} test_Str;
typedef struct {
  ProtobufCMessage base;
  char *ret;
  int32_t pid;
  int32_t has_creds;
} test_EchoRep;
typedef struct {
  ProtobufCMessage base;
  char *msg;
  int32_t num;
} test_DivByZero;
typedef struct {
  ProtobufCMessage base;
} test_Empty;

extern const ProtobufCMessageDescriptor test_pair_descriptor;
extern const ProtobufCMessageDescriptor test_int_descriptor;
extern const ProtobufCMessageDescriptor test_str_descriptor;
extern const ProtobufCMessageDescriptor test_echo_rep_descriptor;
extern const ProtobufCMessageDescriptor test_div_by_zero_descriptor;
extern const ProtobufCMessageDescriptor test_empty_descriptor;
extern const plumb_type_info test_DivByZero_type;

#define TEST_ECHO_ID 0x1e5c0001u
#define TEST_DERIVED_ID 0x1e5c0002u
enum { TEST_ADD, TEST_DIV, TEST_ECHO, TEST_NOTE, TEST_COUNT, TEST_NAP,
       TEST_MUL /* Derived only: op 0 of its own table */ };

typedef struct test_Echo_ops {
  int (*add)(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret);
  int (*div)(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret);
  int (*echo)(void *ctx, plumb_call *call, const char *s, char **ret);
  int (*note)(void *ctx, plumb_call *call, int32_t a, int32_t b);
  int (*count)(void *ctx, plumb_call *call, int32_t *ret);
  int (*nap)(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret);
  int (*mul)(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret);
} test_Echo_ops;

extern const plumb_interface test_Echo_interface;
extern const plumb_interface test_Derived_interface;

/* Client stubs. */
int test_Echo_add(plumb_client *c, int32_t a, int32_t b, int32_t *ret);
int test_Echo_div(plumb_client *c, int32_t a, int32_t b, int32_t *ret,
                  plumb_arena *arena);
int test_Echo_echo(plumb_client *c, const char *s, char **ret, int32_t *pid,
                   plumb_arena *arena);
int test_Echo_note(plumb_client *c, int32_t a, int32_t b);
int test_Echo_count(plumb_client *c, int32_t *ret);
int test_Echo_nap(plumb_client *c, int32_t ms, int32_t b, int32_t *ret);
int test_Derived_mul(plumb_client *c, int32_t a, int32_t b, int32_t *ret);
/* Calls op index `op` of iface with a Pair request and an Int reply. */
int test_call_pair(plumb_client *c, const plumb_interface *iface, uint32_t op,
                   int32_t a, int32_t b, int32_t *ret);

#endif
