/* test_sysexc.c - system exceptions end to end (a real objsrv_server over
 * unix): every code raised by a handler with its minor code and completion
 * status, the ones the runtime raises for its own failures (unknown object,
 * unknown operation, NULL handler, undecodable body, handler statuses), and
 * the kind 7 codec and names as units. */
#include <stdlib.h>
#include <string.h>

#include "objsrv_util.h"
#include "ptest.h"
#include "sysexc.h"

static char g_ep[128];
static char g_path[108];
static pid_t g_srv = -1;

static int
suite_init(void)
{
  snprintf(g_path, sizeof g_path, "/tmp/plumb-sysx-%d.sock", (int)getpid());
  snprintf(g_ep, sizeof g_ep, "unix:%s", g_path);
  const char *eps[] = { g_ep };
  g_srv = objsrv_spawn(eps, 1);
  return g_srv > 0 ? 0 : 1;
}

static int
suite_cleanup(void)
{
  int code = objsrv_stop(g_srv);
  if (access(g_path, F_OK) == 0) {
    unlink(g_path);
    return 1;
  }
  return code == 0 ? 0 : 1;
}

static plumb_client *
open_obj(const char *name)
{
  plumb_client *c = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, g_ep, name, NULL), PLUMB_OK);
  return c;
}

static void
test_raised_by_handler(void)
{
  plumb_client *c = open_obj("calc");
  plumb_arena *a = plumb_arena_new();
  for (int code = 1; code <= PLUMB_SYS_MAX; code++)
    for (int done = 0; done <= 2; done++) {
      char cmd[64];
      int st;
      snprintf(cmd, sizeof cmd, "sys:%d:%d:%d", code, 70000 + code, done);
      plumb_arena_reset(a);
      CU_ASSERT_PTR_NULL(objsrv_cmd(c, cmd, a, &st));
      CU_ASSERT_EQUAL(st, PLUMB_ESYSTEM);
      plumb_sysexc se;
      CU_ASSERT_EQUAL_FATAL(plumb_client_system_exception(c, &se), 1);
      CU_ASSERT_EQUAL(se.code, code);
      CU_ASSERT_EQUAL(se.minor, (uint32_t)(70000 + code));
      CU_ASSERT_EQUAL(se.completed, done);
      CU_ASSERT_EQUAL(se.status, PLUMB_ESYSTEM);
      char want[80];
      snprintf(want, sizeof want, "IDL:omg.org/CORBA/%s:1.0",
               plumb_sysexc_name(code));
      CU_ASSERT_STRING_EQUAL(se.type_id, want);
      snprintf(want, sizeof want, "echo: raised %s", plumb_sysexc_name(code));
      CU_ASSERT_STRING_EQUAL(se.message, want);
      CU_ASSERT_PTR_NOT_NULL(strstr(plumb_client_last_error(c), want));
    }
  /* A successful call clears it. */
  int32_t r;
  CU_ASSERT_EQUAL(test_Echo_add(c, 1, 2, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_client_system_exception(c, NULL), 0);
  plumb_arena_free(a);
  plumb_client_close(c);
}

static void
expect(plumb_client *c, int st, int want_st, int code, uint32_t minor,
       int done, const char *msg_part)
{
  plumb_sysexc se;
  CU_ASSERT_EQUAL(st, want_st);
  CU_ASSERT_EQUAL_FATAL(plumb_client_system_exception(c, &se), 1);
  CU_ASSERT_EQUAL(se.code, code);
  CU_ASSERT_EQUAL(se.minor, minor);
  CU_ASSERT_EQUAL(se.completed, done);
  CU_ASSERT_EQUAL(se.status, want_st);
  if (strstr(se.message, msg_part) == NULL)
    fprintf(stderr, "message '%s' lacks the expected part\n", se.message);
  CU_ASSERT_PTR_NOT_NULL(strstr(se.message, msg_part));
}

static void
test_raised_by_runtime(void)
{
  int32_t r;
  plumb_client *c = open_obj("no-such");
  expect(c, test_Echo_add(c, 1, 2, &r), PLUMB_ENOOBJECT,
         PLUMB_SYS_OBJECT_NOT_EXIST, PLUMB_MINOR_NO_OBJECT,
         PLUMB_COMPLETED_NO, "no object 'no-such'");
  plumb_client_close(c);

  c = open_obj("calc"); /* an Echo: Derived's mul is not there */
  expect(c, test_Derived_mul(c, 2, 3, &r), PLUMB_ENOOP,
         PLUMB_SYS_BAD_OPERATION, PLUMB_MINOR_NO_OP, PLUMB_COMPLETED_NO,
         "has no operation");
  /* div and note are NULL in this server's table */
  expect(c, test_Echo_div(c, 4, 2, &r, NULL), PLUMB_ENOOP,
         PLUMB_SYS_NO_IMPLEMENT, PLUMB_MINOR_NULL_HANDLER, PLUMB_COMPLETED_NO,
         "div is not implemented");
  /* a body that is not add's request: a string where ints are */
  test_Str bad;
  test_str_descriptor.message_init((ProtobufCMessage *)&bad);
  bad.s = (char *)"not a pair";
  ProtobufCMessage *rep;
  expect(c, plumb_invoke(c, &test_Echo_interface, TEST_ADD, &bad.base, &rep,
                         NULL),
         PLUMB_EBADBODY, PLUMB_SYS_MARSHAL, PLUMB_MINOR_BAD_WIRE,
         PLUMB_COMPLETED_NO, "add: ");
  /* handler statuses, each the exception it stands for */
  static const struct {
    int st, peer, code;
  } hs[] = {
    { PLUMB_EINVAL, PLUMB_EINVAL, PLUMB_SYS_BAD_PARAM },
    { PLUMB_ENOMEM, PLUMB_ENOMEM, PLUMB_SYS_NO_MEMORY },
    { PLUMB_ETIMEDOUT, PLUMB_ETIMEDOUT, PLUMB_SYS_TIMEOUT },
    { PLUMB_ETOOBIG, PLUMB_ETOOBIG, PLUMB_SYS_IMP_LIMIT },
    { PLUMB_ENOOBJECT, PLUMB_ENOOBJECT, PLUMB_SYS_OBJECT_NOT_EXIST },
    { PLUMB_EBUSY, PLUMB_EBUSY, PLUMB_SYS_TRANSIENT },
    { PLUMB_ENOTSUP, PLUMB_ENOTSUP, PLUMB_SYS_NO_IMPLEMENT },
    { PLUMB_EPERM, PLUMB_EPERM, PLUMB_SYS_NO_PERMISSION },
    { PLUMB_ECLOSED, PLUMB_ESERVER, PLUMB_SYS_UNKNOWN },
    { PLUMB_ESYS, PLUMB_ESERVER, PLUMB_SYS_UNKNOWN },
  };
  plumb_arena *a = plumb_arena_new();
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    char cmd[32];
    int st;
    snprintf(cmd, sizeof cmd, "st:%d", -hs[i].st);
    CU_ASSERT_PTR_NULL(objsrv_cmd(c, cmd, a, &st));
    expect(c, st, hs[i].peer, hs[i].code, PLUMB_MINOR_HANDLER,
           PLUMB_COMPLETED_MAYBE, plumb_status_name(hs[i].st));
  }
  plumb_arena_free(a);
  plumb_client_close(c);
}

/* The codec on its own: round trip, and hostile bodies refused. */
static void
test_codec(void)
{
  uint8_t body[PLUMB__SYSEXC_BODY_MAX];
  for (int code = 1; code <= PLUMB_SYS_MAX; code++) {
    size_t n = plumb__sysexc_encode(code, 0xfffffffeu, PLUMB_COMPLETED_MAYBE,
                                    body);
    CU_ASSERT(n <= sizeof body);
    plumb__frame f = { .kind = PLUMB__FRAME_SYSEXC, .status = PLUMB_ESYSTEM,
                       .text = "m", .text_len = 1, .body = body,
                       .body_len = (uint32_t)n };
    plumb_sysexc se;
    const char *why = NULL;
    CU_ASSERT_EQUAL(plumb__sysexc_decode(&f, &se, &why), PLUMB_OK);
    CU_ASSERT_EQUAL(se.code, code);
    CU_ASSERT_EQUAL(se.minor, 0xfffffffeu);
    CU_ASSERT_EQUAL(se.completed, PLUMB_COMPLETED_MAYBE);
    CU_ASSERT_EQUAL(se.status, PLUMB_ESYSTEM);
    CU_ASSERT_STRING_EQUAL(se.message, "m");
    CU_ASSERT_EQUAL(plumb_sysexc_code(plumb_sysexc_name(code)), code);
  }
  static const struct {
    const char *b;
    size_t n;
    const char *why;
  } bad[] = {
    { "", 0, "system exception: no type_id" },
    { "\x0a\x05" "abc", 5, "system exception: length past the end of the body" },
    { "\x0a\x01" "a\x18\x03", 5,
      "system exception: completion status not yes/no/maybe" },
    { "\x0a\x01" "a\x10\x80\x80\x80\x80\x10", 9,
      "system exception: minor code over 32 bits" },
    { "\x0a\x01" "a\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 13,
      "system exception: bad varint" },
    { "\x0b", 1, "system exception: unsupported wire type" },
    { "\x08\x01", 2, "system exception: type_id is not a string" },
    { "\x0a\x02" "a\x00", 4, "system exception: NUL in type_id" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    plumb__frame f = { .kind = PLUMB__FRAME_SYSEXC,
                       .body = (const uint8_t *)bad[i].b,
                       .body_len = (uint32_t)bad[i].n };
    plumb_sysexc se;
    const char *why = "";
    CU_ASSERT_EQUAL(plumb__sysexc_decode(&f, &se, &why), PLUMB_EPROTO);
    CU_ASSERT_STRING_EQUAL(why, bad[i].why);
  }
  /* An exception another ORB names: UNKNOWN, its status from the code. */
  plumb__frame f = { .kind = PLUMB__FRAME_SYSEXC, .status = 0,
                     .body = (const uint8_t *)"\x0a\x03" "FOO", .body_len = 5 };
  plumb_sysexc se;
  const char *why;
  CU_ASSERT_EQUAL(plumb__sysexc_decode(&f, &se, &why), PLUMB_OK);
  CU_ASSERT_EQUAL(se.code, PLUMB_SYS_UNKNOWN);
  CU_ASSERT_EQUAL(se.status, PLUMB_ESERVER);
  CU_ASSERT_EQUAL(plumb_sysexc_code("IDL:omg.org/CORBA/TRANSIENT:1.0"),
                  PLUMB_SYS_TRANSIENT);
  CU_ASSERT_EQUAL(plumb_sysexc_code("IDL:omg.org/CORBA/TRANSIENT"),
                  PLUMB_SYS_NONE);
  CU_ASSERT_STRING_EQUAL(plumb_status_name(PLUMB_ESYSTEM), "ESYSTEM");
}

static const ptest_case codec_cases[] = {
  { "kind 7 codec", test_codec },
  { NULL, NULL },
};
static const ptest_case cases[] = {
  { "every code raised by a handler", test_raised_by_handler },
  { "raised by the runtime", test_raised_by_runtime },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "codec", codec_cases, NULL, NULL },
  { "sysexc", cases, suite_init, suite_cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
