/* test_refs.c - object references: the string form and nil as units, then
 * against a real objsrv_server listening on unix + tcp port 0 + shm:
 * plumb_server_ref carries every endpoint with real addresses; a client on
 * the same host picks shm, falls back when shm is gone, takes tcp for a
 * reference from another host; type checks with _is_a (a wrong reference
 * fails at open with PLUMB_EINTERFACE); `plumbref:` strings accepted by
 * plumb_client_open. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "objsrv_util.h"
#include "ptest.h"

static char g_unix[128], g_shm[128];
static char g_path[108];
static pid_t g_srv = -1;

/* ---- units ------------------------------------------------------------ */

static void
test_nil(void)
{
  plumb_objref nil = PLUMB_OBJREF_NIL;
  plumb_arena *a = plumb_arena_new();
  char *s = NULL;
  CU_ASSERT(plumb_objref_is_nil(&nil));
  CU_ASSERT(plumb_objref_is_nil(NULL));
  CU_ASSERT_EQUAL(plumb_objref_format(&nil, &s, a), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(s, "plumbref:");
  plumb_objref r;
  CU_ASSERT_EQUAL(plumb_objref_parse("plumbref:", &r, a, NULL, 0), PLUMB_OK);
  CU_ASSERT(plumb_objref_is_nil(&r));
  plumb_client *c = (plumb_client *)1;
  CU_ASSERT_EQUAL(plumb_client_open_ref(&c, &nil, NULL, NULL), PLUMB_EINVAL);
  CU_ASSERT_PTR_NULL(c);
  plumb_arena_free(a);
}

static void
test_string_round_trip(void)
{
  plumb_arena *a = plumb_arena_new();
  char *eps[] = { (char *)"shm:/x?ring=65536&spin=0", (char *)"unix:@abs name",
                  (char *)"tcp://[::1]:4000" };
  plumb_objref r = PLUMB_OBJREF_INIT, back;
  r.object = (char *)"ctx/1?&=%";
  r.type_id = (char *)"IDL:CosNaming/NamingContext:1.0";
  r.host = (char *)"abc-1-2-3";
  r.endpoints = eps;
  r.n_endpoints = 3;
  r.endpoint = eps[0];
  char *s = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_objref_format(&r, &s, a), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(s, "plumbref:ctx/1%3F%26%3D%25"
                            "?type=IDL:CosNaming/NamingContext:1.0"
                            "&host=abc-1-2-3&ep=shm:/x%3Fring%3D65536%26spin"
                            "%3D0&ep=unix:@abs%20name&ep=tcp://[::1]:4000");
  char why[200] = "";
  CU_ASSERT_EQUAL_FATAL(plumb_objref_parse(s, &back, a, why, sizeof why),
                        PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(back.object, r.object);
  CU_ASSERT_STRING_EQUAL(back.type_id, r.type_id);
  CU_ASSERT_STRING_EQUAL(back.host, r.host);
  CU_ASSERT_EQUAL_FATAL(back.n_endpoints, 3);
  for (int i = 0; i < 3; i++)
    CU_ASSERT_STRING_EQUAL(back.endpoints[i], eps[i]);
  CU_ASSERT_STRING_EQUAL(back.endpoint, eps[0]);
  /* keys in any order, no host */
  CU_ASSERT_EQUAL(plumb_objref_parse("plumbref:o?ep=unix:/a&type=T", &back,
                                     a, why, sizeof why), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(back.host, "");
  CU_ASSERT_STRING_EQUAL(back.type_id, "T");
  plumb_arena_free(a);
}

static void
test_parse_errors(void)
{
  static const struct {
    const char *in, *why;
  } bad[] = {
    { "corbaloc::x", "'corbaloc::x...': a reference begins with 'plumbref:'" },
    { "plumbref:o", "no endpoint (ep=...) in a reference that is not nil" },
    { "plumbref:o?type=T", "no endpoint (ep=...) in a reference that is not "
                           "nil" },
    { "plumbref:o?ep=", "empty endpoint" },
    { "plumbref:o?ep=unix:/a&port=3", "unknown key 'port' (allowed: type, "
                                      "host, ep)" },
    { "plumbref:o?ep", "'ep': not key=value" },
    { "plumbref:o?ep=unix:/a%2", "value: '%' not followed by two hex "
                                 "digits" },
    { "plumbref:o%zz?ep=unix:/a", "object name: '%' not followed by two hex "
                                  "digits" },
    { "plumbref:o?ep=unix:/a%00", "value: %00 (NUL) in a reference" },
    { "plumbref:o?ep=unix:/a b", "value: a space or control character "
                                 "(encode it as %XX)" },
    { "plumbref:o?type=A&type=B&ep=unix:/a", "'type' given twice" },
    { "plumbref:o?host=A&host=B&ep=unix:/a", "'host' given twice" },
  };
  plumb_arena *a = plumb_arena_new();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    plumb_objref r;
    char why[200] = "";
    CU_ASSERT_EQUAL(plumb_objref_parse(bad[i].in, &r, a, why, sizeof why),
                    PLUMB_EADDR);
    if (strcmp(why, bad[i].why) != 0)
      fprintf(stderr, "%s: got '%s'\n", bad[i].in, why);
    CU_ASSERT_STRING_EQUAL(why, bad[i].why);
  }
  /* 65 endpoints */
  char big[4096] = "plumbref:o?";
  for (int i = 0; i < 65; i++)
    strcat(big, "ep=unix:/a&");
  big[strlen(big) - 1] = '\0';
  plumb_objref r;
  char why[200] = "";
  CU_ASSERT_EQUAL(plumb_objref_parse(big, &r, a, why, sizeof why),
                  PLUMB_EADDR);
  CU_ASSERT_STRING_EQUAL(why, "more than 64 endpoints");
  plumb_arena_free(a);
}

/* ---- against a server ----------------------------------------------- */

static int
suite_init(void)
{
  snprintf(g_path, sizeof g_path, "/tmp/plumb-refs-%d.sock", (int)getpid());
  snprintf(g_unix, sizeof g_unix, "unix:%s", g_path);
  snprintf(g_shm, sizeof g_shm, "shm:/plumb-refs-%d", (int)getpid());
  const char *eps[] = { g_unix, "tcp://127.0.0.1:0", g_shm };
  g_srv = objsrv_spawn(eps, 3);
  return g_srv > 0 ? 0 : 1;
}

static int
suite_cleanup(void)
{
  int code = objsrv_stop(g_srv);
  char shm[128];
  snprintf(shm, sizeof shm, "/dev/shm/plumb-plumb-refs-%d", (int)getpid());
  if (access(g_path, F_OK) == 0) {
    unlink(g_path);
    return 1;
  }
  return code == 0 ? 0 : 1;
}

/* The server's reference of name, parsed into arena. */
static int
server_ref(const char *name, plumb_objref *r, plumb_arena *a)
{
  plumb_client *c = NULL;
  int st;
  char cmd[64];
  if (plumb_client_open(&c, g_unix, "calc", NULL) != PLUMB_OK)
    return -1;
  snprintf(cmd, sizeof cmd, "ref:%s", name);
  char *s = objsrv_cmd(c, cmd, a, &st);
  plumb_client_close(c);
  if (s == NULL)
    return st;
  char why[200];
  st = plumb_objref_parse(s, r, a, why, sizeof why);
  if (st != PLUMB_OK)
    fprintf(stderr, "server's ref '%s': %s\n", s, why);
  return st;
}

static void
test_server_ref(void)
{
  plumb_arena *a = plumb_arena_new();
  plumb_objref r;
  CU_ASSERT_EQUAL_FATAL(server_ref("derived", &r, a), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(r.object, "derived");
  CU_ASSERT_STRING_EQUAL(r.type_id, "IDL:test/Derived:1.0");
  CU_ASSERT_STRING_EQUAL(r.host, plumb_host_identity());
  CU_ASSERT_EQUAL_FATAL(r.n_endpoints, 3);
  CU_ASSERT_STRING_EQUAL(r.endpoints[0], g_unix);
  CU_ASSERT_STRING_EQUAL(r.endpoints[2], g_shm);
  /* port 0 resolved */
  CU_ASSERT(strncmp(r.endpoints[1], "tcp://127.0.0.1:", 16) == 0);
  CU_ASSERT(atoi(r.endpoints[1] + 16) > 0);
  /* the default object by its real name */
  CU_ASSERT_EQUAL_FATAL(server_ref("", &r, a), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(r.object, "calc");
  CU_ASSERT_EQUAL(server_ref("no-such", &r, a), PLUMB_ENOOBJECT);
  plumb_arena_free(a);
}

/* Opens r for iface and returns the endpoint chosen ("" on failure). */
static const char *
open_via(const plumb_objref *r, const plumb_interface *iface, int *st,
         plumb_arena *a)
{
  plumb_client *c = NULL;
  plumb_client_opts o = { .timeout_ms = 2000 };
  *st = plumb_client_open_ref(&c, r, iface, &o);
  if (*st != PLUMB_OK)
    return "";
  int32_t v = 0;
  if (test_Echo_add(c, 20, 22, &v) != PLUMB_OK || v != 42)
    *st = -999;
  const char *ep = plumb_arena_strdup(a, plumb_client_endpoint(c));
  plumb_client_close(c);
  return ep;
}

static void
test_open_ref(void)
{
  plumb_arena *a = plumb_arena_new();
  plumb_objref r;
  int st;
  CU_ASSERT_EQUAL_FATAL(server_ref("derived", &r, a), PLUMB_OK);
  /* same host: shm first */
  CU_ASSERT_STRING_EQUAL(open_via(&r, &test_Derived_interface, &st, a),
                         g_shm);
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  /* a base type is fine */
  CU_ASSERT_STRING_EQUAL(open_via(&r, &test_Echo_interface, &st, a), g_shm);
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  /* shm gone: falls back to unix */
  char gone[128];
  snprintf(gone, sizeof gone, "shm:/plumb-refs-gone-%d", (int)getpid());
  char *eps[3] = { r.endpoints[0], r.endpoints[1], gone };
  plumb_objref r2 = r;
  r2.endpoints = eps;
  CU_ASSERT_STRING_EQUAL(open_via(&r2, &test_Derived_interface, &st, a),
                         g_unix);
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  /* unix gone too: tcp */
  char ugone[128];
  snprintf(ugone, sizeof ugone, "unix:/tmp/plumb-refs-gone-%d.sock",
           (int)getpid());
  eps[0] = ugone;
  CU_ASSERT_STRING_EQUAL(open_via(&r2, &test_Derived_interface, &st, a),
                         r.endpoints[1]);
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  /* from another host: only tcp, local names are somebody else's */
  plumb_objref r3 = r;
  r3.host = (char *)"another-host-0-0-0";
  CU_ASSERT_STRING_EQUAL(open_via(&r3, &test_Derived_interface, &st, a),
                         r.endpoints[1]);
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  char *only_local[2] = { r.endpoints[0], r.endpoints[2] };
  r3.endpoints = only_local;
  r3.n_endpoints = 2;
  open_via(&r3, &test_Derived_interface, &st, a);
  CU_ASSERT_EQUAL(st, PLUMB_ECONNREFUSED);
  plumb_arena_free(a);
}

static void
test_wrong_type(void)
{
  plumb_arena *a = plumb_arena_new();
  plumb_objref r;
  int st;
  CU_ASSERT_EQUAL_FATAL(server_ref("calc", &r, a), PLUMB_OK);
  plumb_client *c = (plumb_client *)1;
  CU_ASSERT_EQUAL(plumb_client_open_ref(&c, &r, &test_Derived_interface,
                                        NULL), PLUMB_EINTERFACE);
  CU_ASSERT_PTR_NULL(c);
  /* even when the reference lies about the type: the object is asked */
  r.type_id = (char *)"IDL:test/Derived:1.0";
  CU_ASSERT_EQUAL(plumb_client_open_ref(&c, &r, &test_Derived_interface,
                                        NULL), PLUMB_EINTERFACE);
  /* an object that is gone */
  r.object = (char *)"no-such";
  open_via(&r, &test_Echo_interface, &st, a);
  CU_ASSERT_EQUAL(st, PLUMB_ENOOBJECT);
  plumb_arena_free(a);
}

static void
test_refstr_open(void)
{
  plumb_arena *a = plumb_arena_new();
  plumb_objref r;
  CU_ASSERT_EQUAL_FATAL(server_ref("derived", &r, a), PLUMB_OK);
  char *s = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_objref_format(&r, &s, a), PLUMB_OK);
  plumb_client *c = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, s, NULL, NULL), PLUMB_OK);
  int32_t v = 0;
  CU_ASSERT_EQUAL(test_Derived_mul(c, 6, 7, &v), PLUMB_OK);
  CU_ASSERT_EQUAL(v, 42);
  CU_ASSERT_STRING_EQUAL(plumb_client_endpoint(c), g_shm);
  plumb_client_close(c);
  /* the object argument overrides the reference's */
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, s, "calc", NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(test_Derived_mul(c, 6, 7, &v), PLUMB_ENOOP);
  plumb_client_close(c);
  CU_ASSERT_EQUAL(plumb_client_open(&c, "plumbref:x?ep=", NULL, NULL),
                  PLUMB_EADDR);
  /* in plumb.conf: endpoint = plumbref:... (libinih reads lines of at
   * most 199 bytes: a short reference) */
  char conf[128];
  snprintf(conf, sizeof conf, "/tmp/plumb-refs-%d.conf", (int)getpid());
  FILE *f = fopen(conf, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fprintf(f, "[refsvc]\nendpoint = plumbref:derived?type=IDL:test/Derived:"
          "1.0&ep=%s\n[badref]\nendpoint = plumbref:x\n", g_unix);
  fclose(f);
  setenv("PLUMB_CONFIG", conf, 1);
  CU_ASSERT_EQUAL(plumb_client_open_service(&c, "refsvc", NULL, NULL), PLUMB_OK);
  if (c != NULL) {
    CU_ASSERT_EQUAL(test_Derived_mul(c, 2, 5, &v), PLUMB_OK);
    CU_ASSERT_EQUAL(v, 10);
    plumb_client_close(c);
  }
  plumb_config cfg;
  char err[400] = "";
  CU_ASSERT_EQUAL(plumb_config_resolve("badref", NULL, &cfg, err, sizeof err),
                  PLUMB_EADDR);
  CU_ASSERT_STRING_EQUAL(err, "endpoint: reference 'plumbref:x': no "
                              "endpoint (ep=...) in a reference that is not "
                              "nil");
  unsetenv("PLUMB_CONFIG");
  unlink(conf);
  plumb_arena_free(a);
}

/* ---- from another network namespace ------------------------------------
 * Root only (ip netns + a veth pair; skipped visibly otherwise): a server
 * on unix + tcp on the veth's address (a link-local /30 in 169.254/16
 * picked from the test's pid, so concurrent runs - a normal and an ASan
 * build, a chroot sharing the host's network - never share it; the pair
 * exists only between the two namespaces this test makes) + shm; a
 * client process in the other namespace opens its reference and must take
 * tcp (the local names there would be another server's). */

static char g_self[4096];

static int __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
  char cmd[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* test_refs --open-ref REF: opens REF as a test::Derived, prints the
 * endpoint chosen; exit 0 if a call through it worked. */
static int
open_ref_main(const char *s)
{
  plumb_arena *a = plumb_arena_new();
  plumb_objref r;
  char why[200];
  if (plumb_objref_parse(s, &r, a, why, sizeof why) != PLUMB_OK) {
    fprintf(stderr, "--open-ref: %s\n", why);
    return 2;
  }
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = 3000 };
  int st = plumb_client_open_ref(&c, &r, &test_Derived_interface, &o);
  if (st != PLUMB_OK) {
    printf("open: %s\n", plumb_status_name(st));
    return 1;
  }
  int32_t v = 0;
  st = test_Derived_mul(c, 6, 7, &v);
  printf("%s\n", plumb_client_endpoint(c));
  plumb_client_close(c);
  plumb_arena_free(a);
  return st == PLUMB_OK && v == 42 ? 0 : 1;
}

static void
test_other_netns(void)
{
  if (getuid() != 0 || sh("ip -V >/dev/null 2>&1") != 0) {
    fprintf(stderr, "\n  SKIPPED: another network namespace needs root and "
            "ip(8) (iproute2)\n");
    CU_PASS("skipped: not root or no ip");
    return;
  }
  char ns[32], va[24], vb[24], pidbuf[8];
  snprintf(pidbuf, sizeof pidbuf, "%d", (int)getpid() % 100000);
  snprintf(ns, sizeof ns, "plumbref%s", pidbuf);
  snprintf(va, sizeof va, "prf%sa", pidbuf);
  snprintf(vb, sizeof vb, "prf%sb", pidbuf);
  /* 169.254.1.0 .. 169.254.254.255 (RFC 3927), 16256 /30s */
  unsigned blk = (unsigned)getpid() % 16256u;
  char ha[20], hb[20], tcp[40];
  snprintf(ha, sizeof ha, "169.254.%u.%u", 1 + blk / 64, (blk % 64) * 4 + 1);
  snprintf(hb, sizeof hb, "169.254.%u.%u", 1 + blk / 64, (blk % 64) * 4 + 2);
  snprintf(tcp, sizeof tcp, "tcp://%s:", ha);
  int ok = sh("ip netns add %s", ns) == 0 &&
           sh("ip link add %s type veth peer name %s", va, vb) == 0 &&
           sh("ip link set %s netns %s", vb, ns) == 0 &&
           sh("ip addr add %s/30 dev %s", ha, va) == 0 &&
           sh("ip link set %s up", va) == 0 &&
           sh("ip -n %s addr add %s/30 dev %s", ns, hb, vb) == 0 &&
           sh("ip -n %s link set %s up", ns, vb) == 0 &&
           sh("ip -n %s link set lo up", ns) == 0;
  if (!ok) {
    fprintf(stderr, "\n  SKIPPED: could not make a network namespace with "
            "a veth pair here\n");
    sh("ip netns del %s 2>/dev/null", ns);
    sh("ip link del %s 2>/dev/null", va);
    CU_PASS("skipped: no netns");
    return;
  }
  char un[128], shm[128], path[108];
  snprintf(path, sizeof path, "/tmp/plumb-refs-ns-%d.sock", (int)getpid());
  snprintf(un, sizeof un, "unix:%s", path);
  snprintf(shm, sizeof shm, "shm:/plumb-refs-ns-%d", (int)getpid());
  char tcp0[48];
  snprintf(tcp0, sizeof tcp0, "%s0", tcp);
  const char *eps[] = { un, shm, tcp0 };
  pid_t srv = objsrv_spawn(eps, 3);
  CU_ASSERT(srv > 0);
  if (srv <= 0) { /* never leave the namespace behind */
    sh("ip netns del %s", ns);
    sh("ip link del %s 2>/dev/null", va);
    return;
  }
  plumb_arena *a = plumb_arena_new();
  plumb_client *c = NULL;
  int st;
  char *s = NULL;
  if (plumb_client_open(&c, un, "derived", NULL) == PLUMB_OK) {
    s = objsrv_cmd(c, "ref:derived", a, &st);
    plumb_client_close(c);
  }
  CU_ASSERT_PTR_NOT_NULL(s);
  if (s != NULL) {
    char cmd[8192], out[256] = "";
    snprintf(cmd, sizeof cmd, "timeout 20 ip netns exec %s '%s' --open-ref "
             "'%s'", ns, g_self, s);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL(p);
    if (p != NULL) {
      if (fgets(out, sizeof out, p) == NULL)
        out[0] = '\0';
      int rc = pclose(p);
      out[strcspn(out, "\n")] = '\0';
      CU_ASSERT_EQUAL(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
      CU_ASSERT(strncmp(out, tcp, strlen(tcp)) == 0);
      if (strncmp(out, tcp, strlen(tcp)) != 0)
        fprintf(stderr, "from the other namespace: '%s'\n", out);
    }
    /* and from here, the same reference takes shm */
    plumb_objref r;
    CU_ASSERT_EQUAL(plumb_objref_parse(s, &r, a, NULL, 0), PLUMB_OK);
    CU_ASSERT_STRING_EQUAL(open_via(&r, &test_Derived_interface, &st, a),
                           shm);
  }
  CU_ASSERT_EQUAL(objsrv_stop(srv), 0);
  plumb_arena_free(a);
  sh("ip netns del %s", ns);
  sh("ip link del %s 2>/dev/null", va);
}

static const ptest_case unit_cases[] = {
  { "nil", test_nil },
  { "string round trip", test_string_round_trip },
  { "parse errors", test_parse_errors },
  { NULL, NULL },
};
static const ptest_case srv_cases[] = {
  { "plumb_server_ref: every endpoint, real addresses", test_server_ref },
  { "open: shm, fall back, other host", test_open_ref },
  { "wrong type fails at open", test_wrong_type },
  { "plumbref: in plumb_client_open", test_refstr_open },
  { "from another network namespace: tcp", test_other_netns },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "refs-units", unit_cases, NULL, NULL },
  { "refs", srv_cases, suite_init, suite_cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "--open-ref") == 0)
    return open_ref_main(argv[2]);
  if (realpath("/proc/self/exe", g_self) == NULL)
    snprintf(g_self, sizeof g_self, "%s", argv[0]);
  return ptest_run(suites, argc, argv);
}
