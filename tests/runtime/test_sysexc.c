/* test_sysexc.c - system exceptions end to end (a real objsrv_server over
 * unix): every code raised by a handler with its minor code and completion
 * status, the ones the runtime raises for its own failures (unknown object,
 * unknown operation, NULL handler, undecodable body, handler statuses,
 * NO_RESOURCES when the decode memory is full), and the kind 7 codec and
 * names as units. (BAD_PARAM and INTERNAL from generated validation are
 * asserted by tests/roundtrip, "invalid requests and replies named".) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "objsrv_util.h"
#include "ptest.h"
#include "sysexc.h"

OBJSRV_UNIX_FIXTURE("sysx")

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
  /* a reply over the server's frame limit: the handler ran */
  {
    plumb_arena *b = plumb_arena_new();
    int st;
    CU_ASSERT_PTR_NULL(objsrv_cmd(c, "big:300000", b, &st));
    expect(c, st, PLUMB_ETOOBIG, PLUMB_SYS_IMP_LIMIT, PLUMB_MINOR_REPLY_SIZE,
           PLUMB_COMPLETED_YES, "over the frame limit");
    plumb_arena_free(b);
  }
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

/* ---- NO_RESOURCES: the server's decode memory is full now ------------
 * A second objsrv_server with max_decode_memory 300000: one call holds
 * 200 KB of it while it sleeps; another 200 KB request meanwhile is
 * refused before its handler runs, and succeeds once the first is done. */

#define RES_PAD 200000

static char g_res_ep[128];
static atomic_int g_res_done;

static char *
res_request(const char *head)
{
  size_t h = strlen(head);
  char *s = malloc(h + RES_PAD + 1);
  if (s == NULL)
    return NULL;
  memcpy(s, head, h);
  memset(s + h, 'p', RES_PAD);
  s[h + RES_PAD] = '\0';
  return s;
}

static void *
res_holder(void *arg)
{
  plumb_client *c = NULL;
  plumb_arena *a = plumb_arena_new();
  int st = -1;
  char *req = res_request("hold:1500:");
  (void)arg;
  if (req != NULL && plumb_client_open(&c, g_res_ep, NULL, NULL) == PLUMB_OK) {
    /* the other client's short calls may hold the memory just now */
    for (int i = 0; i < 50; i++) {
      plumb_arena_reset(a);
      if (objsrv_cmd(c, req, a, &st) != NULL || st != PLUMB_EBUSY)
        break;
      struct timespec ts = { 0, 20000000 };
      nanosleep(&ts, NULL);
    }
    plumb_client_close(c);
  }
  free(req);
  plumb_arena_free(a);
  atomic_store(&g_res_done, st == PLUMB_OK ? 1 : 2);
  return NULL;
}

static void
test_no_resources(void)
{
  char path[108];
  snprintf(path, sizeof path, "/tmp/plumb-sysx-r-%d.sock", (int)getpid());
  snprintf(g_res_ep, sizeof g_res_ep, "unix:%s", path);
  const char *eps[] = { g_res_ep };
  setenv("OBJSRV_MAX_DECODE_MEMORY", "300000", 1);
  pid_t srv = objsrv_spawn(eps, 1);
  unsetenv("OBJSRV_MAX_DECODE_MEMORY");
  CU_ASSERT_FATAL(srv > 0);

  plumb_client *c = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, g_res_ep, NULL, NULL),
                        PLUMB_OK);
  plumb_arena *a = plumb_arena_new();
  char *req = res_request("echo:");
  int st = PLUMB_OK, seen = 0;
  pthread_t t;
  atomic_store(&g_res_done, 0);
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, res_holder, NULL), 0);
  /* until the holder's call is in its handler: bounded by its 1.5 s */
  for (int i = 0; i < 300 && !seen && atomic_load(&g_res_done) == 0; i++) {
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, NULL);
    plumb_arena_reset(a);
    if (objsrv_cmd(c, req, a, &st) == NULL && st == PLUMB_EBUSY)
      seen = 1;
  }
  CU_ASSERT(seen);
  if (seen)
    expect(c, st, PLUMB_EBUSY, PLUMB_SYS_NO_RESOURCES,
           PLUMB_MINOR_DECODE_POOL, PLUMB_COMPLETED_NO,
           "of decode memory in use");
  pthread_join(t, NULL);
  CU_ASSERT_EQUAL(atomic_load(&g_res_done), 1);
  /* the memory came back: the same request passes now */
  plumb_arena_reset(a);
  CU_ASSERT_PTR_NOT_NULL(objsrv_cmd(c, req, a, &st));
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_client_system_exception(c, NULL), 0);
  free(req);
  plumb_arena_free(a);
  plumb_client_close(c);
  CU_ASSERT_EQUAL(objsrv_stop(srv), 0);
  CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
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

/* ---- a hostile server ---------------------------------------------------
 * A raw unix-socket server process answering every request with a kind 7
 * frame from the table below: the client refuses the malformed ones with
 * PLUMB_EPROTO and a message naming the fault, keeps the connection, and
 * takes a foreign but well-formed one as UNKNOWN. */

static const struct {
  const char *body;
  size_t len;
  int32_t status;
  int want;
  const char *why;
} hostile[] = {
  { "\x0a\x05" "abc", 5, PLUMB_ESYSTEM, PLUMB_EPROTO,
    "length past the end of the body" },
  { "\x0a\x01" "a\x18\x07", 5, PLUMB_ESYSTEM, PLUMB_EPROTO,
    "completion status not yes/no/maybe" },
  { "\x10\x01", 2, PLUMB_ESYSTEM, PLUMB_EPROTO, "no type_id" },
  { "\x0a\x41" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    67, PLUMB_ESYSTEM, PLUMB_EPROTO, "type_id longer than 63 bytes" },
  { "\x0a\x03" "FOO", 5, 12345, PLUMB_ESERVER, "(UNKNOWN, minor 0" },
};
#define N_HOSTILE (sizeof hostile / sizeof hostile[0])

static int
read_full(int fd, uint8_t *p, size_t n)
{
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static void
hostile_serve(int lfd)
{
  alarm(20); /* never outlives a broken test */
  int fd = accept(lfd, NULL, NULL);
  for (size_t i = 0; fd >= 0 && i < N_HOSTILE; i++) {
    uint8_t pre[4], req[4096];
    if (read_full(fd, pre, 4) != 0)
      break;
    uint32_t n = pre[0] | pre[1] << 8 | pre[2] << 16 | (uint32_t)pre[3] << 24;
    if (n > sizeof req || n < PLUMB__FRAME_HDR || read_full(fd, req, n) != 0)
      break;
    plumb__frame rq;
    const char *why;
    if (plumb__frame_decode(req, n, sizeof req, &rq, &why) != PLUMB_OK)
      break;
    plumb__frame f = { .version = PLUMB__FRAME_VERSION,
                       .kind = PLUMB__FRAME_SYSEXC, .call_id = rq.call_id,
                       .iface = rq.iface, .op = rq.op,
                       .status = hostile[i].status, .text_len = 3,
                       .body_len = (uint32_t)hostile[i].len };
    uint8_t out[4 + PLUMB__FRAME_HDR + 3 + 128];
    uint32_t len = PLUMB__FRAME_HDR + 3 + (uint32_t)hostile[i].len;
    out[0] = (uint8_t)len;
    out[1] = (uint8_t)(len >> 8);
    out[2] = out[3] = 0;
    plumb__frame_encode(out + 4, &f);
    memcpy(out + 4 + PLUMB__FRAME_HDR, "bad", 3);
    memcpy(out + 4 + PLUMB__FRAME_HDR + 3, hostile[i].body, hostile[i].len);
    if (write(fd, out, 4 + len) != (ssize_t)(4 + len))
      break;
  }
  if (fd >= 0)
    close(fd);
  _exit(0);
}

static void
test_hostile_server(void)
{
  char path[108], ep[128];
  snprintf(path, sizeof path, "/tmp/plumb-sysx-h-%d.sock", (int)getpid());
  snprintf(ep, sizeof ep, "unix:%s", path);
  int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  unlink(path);
  CU_ASSERT_FATAL(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa,
                                   sizeof sa) == 0 && listen(lfd, 4) == 0);
  pid_t pid = fork();
  if (pid == 0)
    hostile_serve(lfd);
  close(lfd);
  plumb_client *c = NULL;
  plumb_client_opts o = { .timeout_ms = 5000, .no_reconnect = 1 };
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ep, "x", &o), PLUMB_OK);
  for (size_t i = 0; i < N_HOSTILE; i++) {
    int32_t r;
    int st = test_Echo_add(c, 1, 2, &r);
    CU_ASSERT_EQUAL(st, hostile[i].want);
    const char *le = plumb_client_last_error(c);
    if (strstr(le, hostile[i].why) == NULL)
      fprintf(stderr, "case %zu: last error '%s'\n", i, le);
    CU_ASSERT_PTR_NOT_NULL(strstr(le, hostile[i].why));
    CU_ASSERT_EQUAL(plumb_client_system_exception(c, NULL),
                    hostile[i].want != PLUMB_EPROTO);
  }
  plumb_client_close(c);
  CU_ASSERT_EQUAL(ptest_stop(pid, 0, 5000), 0);
  unlink(path);
}

static const ptest_case codec_cases[] = {
  { "kind 7 codec", test_codec },
  { "a hostile server's kind 7 frames", test_hostile_server },
  { NULL, NULL },
};
static const ptest_case cases[] = {
  { "every code raised by a handler", test_raised_by_handler },
  { "raised by the runtime", test_raised_by_runtime },
  { "NO_RESOURCES: decode memory full", test_no_resources },
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
