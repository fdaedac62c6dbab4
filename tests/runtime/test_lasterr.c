/* test_lasterr.c - plumb_last_error() for every transport's malformed or
 * unusable endpoints (docs/TRANSPORTS.md, "Endpoint grammar and its
 * errors"): each case asserts the exact message, for clients
 * (plumb_client_open) and servers (plumb_server_listen).  Paths live in a
 * private temporary directory holding a plain file and a directory to trip
 * over; nothing is left behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plumb/plumb.h"
#include "ptest.h"

static char g_dir[64]; /* /tmp/plumb-le-XXXXXX */

typedef struct le_case {
  const char *ep;  /* "%D" is replaced by g_dir */
  int st;          /* the status */
  const char *msg; /* the whole message, "%D" likewise */
} le_case;

static void
subst(char *out, size_t cap, const char *fmt)
{
  size_t n = 0;
  for (const char *p = fmt; *p != '\0' && n + 1 < cap; p++) {
    if (p[0] == '%' && p[1] == 'D') {
      n += (size_t)snprintf(out + n, cap - n, "%s", g_dir);
      p++;
    } else {
      out[n++] = *p;
    }
  }
  out[n < cap ? n : cap - 1] = '\0';
}

static int
suite_init(void)
{
  char p[128];
  snprintf(g_dir, sizeof g_dir, "/tmp/plumb-le-XXXXXX");
  if (mkdtemp(g_dir) == NULL)
    return 1;
  snprintf(p, sizeof p, "%s/file", g_dir);
  FILE *f = fopen(p, "w");
  if (f == NULL)
    return 1;
  fclose(f);
  snprintf(p, sizeof p, "%s/dir", g_dir);
  plumb_log_set_level(PLUMB_LOG_OFF);
  return mkdir(p, 0700) == 0 ? 0 : 1;
}

static int
suite_cleanup(void)
{
  char p[128];
  int bad = 0;
  snprintf(p, sizeof p, "%s/file", g_dir);
  bad |= unlink(p) != 0;
  snprintf(p, sizeof p, "%s/dir", g_dir);
  bad |= rmdir(p) != 0;
  bad |= rmdir(g_dir) != 0; /* fails if a test left anything */
  return bad;
}

static void
check(const char *what, const char *ep, int st, int want_st,
      const char *want_fmt)
{
  char want[512];
  subst(want, sizeof want, want_fmt);
  const char *got = plumb_last_error();
  if (st != want_st || strcmp(got, want) != 0)
    printf("\n    %s %s: got %s '%s'\n      want %s '%s'", what, ep,
           plumb_status_name(st), got, plumb_status_name(want_st), want);
  CU_ASSERT_EQUAL(st, want_st);
  CU_ASSERT_STRING_EQUAL(got, want);
}

static void
run_clients(const le_case *cs, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char ep[256];
    plumb_client *c = NULL;
    plumb_client_opts o = { .timeout_ms = 500, .no_reconnect = 1 };
    subst(ep, sizeof ep, cs[i].ep);
    int st = plumb_client_open(&c, ep, NULL, &o);
    check("client", ep, st, cs[i].st, cs[i].msg);
    if (st == PLUMB_OK)
      plumb_client_close(c);
  }
}

static void
run_servers(const le_case *cs, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char ep[256];
    plumb_server *s = NULL;
    subst(ep, sizeof ep, cs[i].ep);
    CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, NULL), PLUMB_OK);
    int st = plumb_server_listen(s, ep);
    check("server", ep, st, cs[i].st, cs[i].msg);
    plumb_server_free(s);
  }
}

#define RUN(f, t) f(t, sizeof(t) / sizeof(t[0]))

static void
test_fifo(void)
{
  static const le_case cl[] = {
    { "fifo:", PLUMB_EADDR, "fifo:: missing path (expected fifo:/PATH)" },
    { "fifo:%D/dir/", PLUMB_EADDR, "fifo:%D/dir/: path ends with '/': a "
      "FIFO needs a file name" },
    { "fifo:%D/no/such/f", PLUMB_ECONNREFUSED, "fifo:%D/no/such/f: "
      "directory %D/no/such does not exist" },
    { "fifo:%D/file/f", PLUMB_EADDR, "fifo:%D/file/f: %D/file is not a "
      "directory" },
    { "fifo:%D/file", PLUMB_ECONNREFUSED, "fifo:%D/file: %D/file is not a "
      "FIFO: no fifo server there" },
    { "fifo:%D/dir", PLUMB_EADDR, "fifo:%D/dir: %D/dir is a directory" },
    { "fifo:%D/none", PLUMB_ECONNREFUSED, "fifo:%D/none: no server at "
      "endpoint" },
  };
  static const le_case sv[] = {
    { "fifo:", PLUMB_EADDR, "fifo:: missing path (expected fifo:/PATH)" },
    { "fifo:%D/no/such/f", PLUMB_ECONNREFUSED, "fifo:%D/no/such/f: "
      "directory %D/no/such does not exist" },
    { "fifo:%D/file/f", PLUMB_EADDR, "fifo:%D/file/f: %D/file is not a "
      "directory" },
    { "fifo:%D/file", PLUMB_EBUSY, "fifo:%D/file: %D/file exists and is "
      "not a FIFO (left as it is)" },
  };
  RUN(run_clients, cl);
  RUN(run_servers, sv);
}

static void
test_sysvmq(void)
{
  static const le_case cl[] = {
    { "sysvmq:", PLUMB_EADDR, "sysvmq:: missing path or key (expected "
      "sysvmq:/PATH or sysvmq:key=N)" },
    { "sysvmq:key=abc", PLUMB_EADDR, "sysvmq:key=abc: key 'abc' is not a "
      "number (decimal, 0x hex or 0 octal)" },
    { "sysvmq:key=-1", PLUMB_EADDR, "sysvmq:key=-1: key '-1' is not a "
      "number (decimal, 0x hex or 0 octal)" },
    { "sysvmq:key=", PLUMB_EADDR, "sysvmq:key=: key '' is not a number "
      "(decimal, 0x hex or 0 octal)" },
    { "sysvmq:key=0", PLUMB_EADDR, "sysvmq:key=0: key 0 is IPC_PRIVATE, "
      "not a key clients can find" },
    { "sysvmq:key=0x1ffffffff", PLUMB_EADDR, "sysvmq:key=0x1ffffffff: key "
      "0x1ffffffff out of range (1 to 0xffffffff)" },
    { "sysvmq:%D/dir/", PLUMB_EADDR, "sysvmq:%D/dir/: path ends with '/': "
      "the key file needs a file name" },
    { "sysvmq:%D/no/such/k", PLUMB_ECONNREFUSED, "sysvmq:%D/no/such/k: "
      "directory %D/no/such does not exist" },
    { "sysvmq:%D/file/k", PLUMB_ECONNREFUSED, "sysvmq:%D/file/k: %D/file "
      "is not a directory" },
    { "sysvmq:%D/none", PLUMB_ECONNREFUSED, "sysvmq:%D/none: no server at "
      "endpoint" },
  };
  static const le_case sv[] = {
    { "sysvmq:key=0", PLUMB_EADDR, "sysvmq:key=0: key 0 is IPC_PRIVATE, "
      "not a key clients can find" },
    { "sysvmq:%D/no/such/k", PLUMB_EADDR, "sysvmq:%D/no/such/k: directory "
      "%D/no/such does not exist" },
    { "sysvmq:%D/file/k", PLUMB_EADDR, "sysvmq:%D/file/k: %D/file is not a "
      "directory" },
  };
  RUN(run_clients, cl);
  RUN(run_servers, sv);
}

/* mq and shm: one name rule, one set of words (ipcname.c). */
static void
test_mq_shm(void)
{
  static const le_case cl[] = {
    { "mq:name", PLUMB_EADDR, "mq:name: POSIX queue names start with '/' "
      "(expected mq:/NAME)" },
    { "shm:name", PLUMB_EADDR, "shm:name: POSIX shared memory names start "
      "with '/' (expected shm:/NAME)" },
    { "mq:", PLUMB_EADDR, "mq:: POSIX queue names start with '/' (expected "
      "mq:/NAME)" },
    { "shm:", PLUMB_EADDR, "shm:: POSIX shared memory names start with '/' "
      "(expected shm:/NAME)" },
    { "mq:/", PLUMB_EADDR, "mq:/: queue name must be 1 to 199 characters "
      "after the '/'" },
    { "shm:/", PLUMB_EADDR, "shm:/: shared memory name must be 1 to 64 "
      "characters after the '/'" },
    { "shm:/?ring=4096", PLUMB_EADDR, "shm:/?ring=4096: shared memory name "
      "must be 1 to 64 characters after the '/'" },
    { "mq:/.x", PLUMB_EADDR, "mq:/.x: queue name must not start with '.'" },
    { "shm:/.x", PLUMB_EADDR, "shm:/.x: shared memory name must not start "
      "with '.'" },
    { "mq:/a/b", PLUMB_EADDR, "mq:/a/b: character '/' not allowed in a "
      "queue name (letters, digits, '.', '_', '-')" },
    { "shm:/a/b", PLUMB_EADDR, "shm:/a/b: character '/' not allowed in a "
      "shared memory name (letters, digits, '.', '_', '-')" },
    { "mq:/plumb-le-none", PLUMB_ECONNREFUSED, "mq:/plumb-le-none: no "
      "server at endpoint" },
    { "shm:/plumb-le-none", PLUMB_ECONNREFUSED, "shm:/plumb-le-none: no "
      "server at endpoint" },
  };
  static const le_case sv[] = {
    { "mq:name", PLUMB_EADDR, "mq:name: POSIX queue names start with '/' "
      "(expected mq:/NAME)" },
    { "shm:name", PLUMB_EADDR, "shm:name: POSIX shared memory names start "
      "with '/' (expected shm:/NAME)" },
  };
  RUN(run_clients, cl);
  RUN(run_servers, sv);
}

static void
test_unix_pipe_tcp(void)
{
  static const le_case cl[] = {
    { "unix:@", PLUMB_EADDR, "unix:@: missing name after '@' "
      "(unix:@NAME)" },
    { "unix:%D/no/such/x.sock", PLUMB_ECONNREFUSED, "unix:%D/no/such/"
      "x.sock: directory %D/no/such does not exist" },
    { "unix:%D/file/x.sock", PLUMB_EADDR, "unix:%D/file/x.sock: %D/file is "
      "not a directory" },
    { "unix:%D/none.sock", PLUMB_ECONNREFUSED, "unix:%D/none.sock: no "
      "server at endpoint" },
    { "pipe:", PLUMB_EADDR, "pipe:: a pipe client spawns its server: "
      "expected pipe:exec=PROGRAM [ARG...]" },
    { "pipe:exec=", PLUMB_EADDR, "pipe:exec=: missing program (expected "
      "pipe:exec=PROGRAM [ARG...])" },
    { "pipe:exec=%D/none", PLUMB_ECONNREFUSED, "pipe:exec=%D/none: cannot "
      "run %D/none: No such file or directory" },
  };
  static const le_case sv[] = {
    { "pipe:exec=x", PLUMB_EADDR, "pipe:exec=x: a pipe server listens on "
      "pipe:, pipe:stdio or pipe:keep (pipe:exec=PROGRAM is the client's)" },
    { "tcp://192.0.2.1:9000", PLUMB_EADDR, "tcp://192.0.2.1:9000: the "
      "address is not one of this host's" },
  };
  RUN(run_clients, cl);
  RUN(run_servers, sv);
}

static const ptest_case cases[] = {
  { "fifo", test_fifo },
  { "sysvmq", test_sysvmq },
  { "mq and shm names", test_mq_shm },
  { "unix, pipe, tcp", test_unix_pipe_tcp },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "last error", cases, suite_init, suite_cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
