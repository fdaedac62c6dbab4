/* test_config.c - configuration: the endpoint resolution order, every kind
 * of bad value with its exact message, and the calculator example's
 * unchanged binaries moved between transports by plumb.conf or one
 * environment variable alone. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "proc.h"
#include "ptest.h"

static char dir[64];  /* private working directory of the run */
static char conf[128]; /* $dir/plumb.conf */

static void
write_conf(const char *text)
{
  FILE *f = fopen(conf, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

static void
clear_env(void)
{
  unsetenv("PLUMB_CONFIG");
  unsetenv("PLUMB_ENDPOINT");
  unsetenv("PLUMB_CALC_ENDPOINT");
  unsetenv("PLUMB_MY_SVC_2_ENDPOINT");
  unsetenv("XDG_RUNTIME_DIR");
  unlink(conf);
}

static int
suite_init(void)
{
  snprintf(dir, sizeof dir, "/tmp/plumb-config-XXXXXX");
  if (mkdtemp(dir) == NULL || chdir(dir) != 0)
    return -1;
  snprintf(conf, sizeof conf, "%s/plumb.conf", dir);
  return 0;
}

static int
suite_cleanup(void)
{
  clear_env();
  if (chdir("/") != 0)
    return -1;
  return rmdir(dir);
}

static int
resolve(const char *service, const char *explicit_ep, plumb_config *c,
        char *err, size_t n)
{
  return plumb_config_resolve(service, explicit_ep, c, err, n);
}

/* ---- resolution order --------------------------------------------------- */

static void
test_order(void)
{
  plumb_config c;
  char err[512];

  clear_env();
  /* 4: built-in default */
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "unix:/tmp/plumb-calc.sock");
  CU_ASSERT_EQUAL(c.endpoint_source, PLUMB_SRC_DEFAULT);
  CU_ASSERT_EQUAL(c.timeout_ms, 5000);
  CU_ASSERT_EQUAL(c.mode, 0600);
  setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "unix:/run/user/4242/plumb-calc.sock");

  /* 3: ./plumb.conf, [defaults] then [service] */
  write_conf("[defaults]\nendpoint = tcp://127.0.0.1:7001\ntimeout_ms = 900\n"
             "[other]\nendpoint = tcp://127.0.0.1:7002\n");
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "tcp://127.0.0.1:7001");
  CU_ASSERT_EQUAL(c.endpoint_source, PLUMB_SRC_FILE);
  CU_ASSERT_EQUAL(c.timeout_ms, 900);
  CU_ASSERT_STRING_EQUAL(c.file, "plumb.conf");
  write_conf("[defaults]\nendpoint = tcp://127.0.0.1:7001\ntimeout_ms = 900\n"
             "[calc]\nendpoint = unix:/tmp/from-file.sock\n"
             "max_frame = 2M\nmode = 0660\nshm_ring_size = 64K\n"
             "mq_msgsize = 4096\nspin_us = 15\ngroup = 0\n"
             "max_depth = 100\ndecode_budget = 8\nmax_decode_memory = 64M\n"
             "conn_queue_bytes = 3M\nconn_queue_frames = 77\n"
             "server_queue_bytes = 1G\nsend_timeout_ms = 1234\n"
             "frame_timeout_ms = 5678\nmax_rx_memory = 48M\n");
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "unix:/tmp/from-file.sock");
  CU_ASSERT_EQUAL(c.timeout_ms, 900); /* inherited from [defaults] */
  CU_ASSERT_EQUAL(c.max_frame, 2u * 1024 * 1024);
  CU_ASSERT_EQUAL(c.mode, 0660);
  CU_ASSERT_EQUAL(c.shm_ring_size, 65536u);
  CU_ASSERT_EQUAL(c.mq_msgsize, 4096u);
  CU_ASSERT_EQUAL(c.spin_us, 15);
  CU_ASSERT_EQUAL(c.group, 0);
  CU_ASSERT_EQUAL(c.max_depth, 100u);
  CU_ASSERT_EQUAL(c.decode_budget, 8u);
  CU_ASSERT_EQUAL(c.max_decode_memory, (size_t)64 << 20);
  CU_ASSERT_EQUAL(c.conn_queue_bytes, (size_t)3 << 20);
  CU_ASSERT_EQUAL(c.conn_queue_frames, 77u);
  CU_ASSERT_EQUAL(c.server_queue_bytes, (uint64_t)1 << 30);
  CU_ASSERT_EQUAL(c.send_timeout_ms, 1234);
  CU_ASSERT_EQUAL(c.frame_timeout_ms, 5678);
  CU_ASSERT_EQUAL(c.max_rx_memory, (size_t)48 << 20);

  /* $PLUMB_CONFIG beats ./plumb.conf */
  char other[160];
  snprintf(other, sizeof other, "%s/other.conf", dir);
  FILE *f = fopen(other, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("[calc]\nendpoint = tcp://[::1]:7003\n", f);
  fclose(f);
  setenv("PLUMB_CONFIG", other, 1);
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "tcp://[::1]:7003");
  unsetenv("PLUMB_CONFIG");
  unlink(other);

  /* 2: environment beats the file; the service variable beats the global */
  setenv("PLUMB_ENDPOINT", "tcp://127.0.0.1:7004", 1);
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "tcp://127.0.0.1:7004");
  CU_ASSERT_EQUAL(c.endpoint_source, PLUMB_SRC_ENV);
  CU_ASSERT_EQUAL(c.timeout_ms, 900); /* other keys still from the file */
  setenv("PLUMB_CALC_ENDPOINT", "unix:/tmp/from-env.sock", 1);
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "unix:/tmp/from-env.sock");

  /* 1: explicit beats everything */
  CU_ASSERT_EQUAL(resolve("calc", "unix:/tmp/explicit.sock", &c, err,
                          sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "unix:/tmp/explicit.sock");
  CU_ASSERT_EQUAL(c.endpoint_source, PLUMB_SRC_EXPLICIT);

  /* service names with other characters map to '_' in variable names */
  setenv("PLUMB_MY_SVC_2_ENDPOINT", "tcp://127.0.0.1:7005", 1);
  CU_ASSERT_EQUAL(resolve("my-svc.2", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(c.endpoint, "tcp://127.0.0.1:7005");
  clear_env();
}

/* ---- bad values: exact messages ------------------------------------------ */

typedef struct bad_case {
  const char *text;
  int status;
  const char *message;
} bad_case;

static const bad_case bad_cases[] = {
  { "[calc]\ntimeout_ms = abc\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] timeout_ms = 'abc': expected milliseconds from 1 to "
    "86400000, or -1 for none" },
  { "[defaults]\ntimeout_ms = 0\n", PLUMB_ECONFIG,
    "plumb.conf:2: [defaults] timeout_ms = '0': expected milliseconds from 1 "
    "to 86400000, or -1 for none" },
  { "[calc]\n\nmax_frame = 12Q\n", PLUMB_ECONFIG,
    "plumb.conf:3: [calc] max_frame = '12Q': expected a size from 1K to 1G "
    "(suffixes K, M, G)" },
  { "[calc]\nmax_frame = 2G\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] max_frame = '2G': expected a size from 1K to 1G "
    "(suffixes K, M, G)" },
  { "[calc]\nmode = 644\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] mode = '644': expected octal permission bits such "
    "as 0600 or 0660 (owner read+write required)" },
  { "[calc]\nmode = 0400\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] mode = '0400': expected octal permission bits such "
    "as 0600 or 0660 (owner read+write required)" },
  { "[calc]\ngroup = no-such-group-plumb\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] group = 'no-such-group-plumb': expected an existing "
    "group name or numeric gid" },
  { "[calc]\nshm_ring_size = 5000\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] shm_ring_size = '5000': expected a power of two "
    "from 4K to 256M" },
  { "[calc]\nmq_msgsize = 10\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] mq_msgsize = '10': expected a message size from "
    "128 to 16M bytes (the system limit is /proc/sys/fs/mqueue/msgsize_max)" },
  { "[calc]\nspin_us = -3\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] spin_us = '-3': expected microseconds from 0 to "
    "100000" },
  { "[calc]\ncolour = blue\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] unknown key 'colour' (allowed: endpoint, "
    "timeout_ms, max_frame, mode, group, shm_ring_size, mq_msgsize, "
    "spin_us, allow, allow_uids, allow_gids, max_depth, decode_budget, "
    "max_decode_memory, conn_queue_bytes, conn_queue_frames, "
    "server_queue_bytes, send_timeout_ms, frame_timeout_ms, "
    "introspection, conn_max_calls, max_rx_memory, max_iterators, "
    "iterator_idle_s)" },
  { "[calc]\nmax_iterators = 0\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] max_iterators = '0': expected binding "
    "iterators from 1 to 65536" },
  { "[calc]\nallow = everyone\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] allow = 'everyone': expected 'any' or 'owner' "
    "(list others in allow_uids / allow_gids)" },
  { "[calc]\nallow_uids = 0, no-such-user-plumb\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] allow_uids = '0, no-such-user-plumb': no user "
    "named 'no-such-user-plumb' (expected user names or numeric uids)" },
  { "[calc]\nallow_gids = no-such-group-plumb\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] allow_gids = 'no-such-group-plumb': no group "
    "named 'no-such-group-plumb' (expected group names or numeric gids)" },
  { "[calc]\nmax_depth = 0\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] max_depth = '0': expected nested messages from 1 "
    "to 1000" },
  { "[calc]\ndecode_budget = 2000\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] decode_budget = '2000': expected a multiple of the "
    "frame length from 1 to 1024" },
  { "[calc]\nmax_decode_memory = 100K\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] max_decode_memory = '100K': expected a size of at "
    "least 1M (suffixes K, M, G)" },
  { "[calc]\nconn_queue_bytes = 1K\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] conn_queue_bytes = '1K': expected a size of at "
    "least 64K (suffixes K, M, G)" },
  { "[calc]\nconn_queue_frames = 0\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] conn_queue_frames = '0': expected a number of "
    "frames from 1 to 1000000" },
  { "[defaults]\nserver_queue_bytes = lots\n", PLUMB_ECONFIG,
    "plumb.conf:2: [defaults] server_queue_bytes = 'lots': expected a size "
    "of at least 1M (suffixes K, M, G)" },
  { "[calc]\nsend_timeout_ms = -1\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] send_timeout_ms = '-1': expected milliseconds "
    "from 1 to 86400000" },
  { "[calc]\nframe_timeout_ms = 99999999999\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] frame_timeout_ms = '99999999999': expected "
    "milliseconds from 1 to 86400000" },
  { "[calc]\nmax_rx_memory = 512K\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] max_rx_memory = '512K': expected a size of at "
    "least 1M (suffixes K, M, G)" },
  { "endpoint = unix:/tmp/x\n", PLUMB_ECONFIG,
    "plumb.conf:1: key 'endpoint' outside any section: put it under "
    "[defaults] or [<service>]" },
  { "[calc]\nthis line is wrong\n", PLUMB_ECONFIG,
    "plumb.conf:2: syntax error: expected [section] or key = value" },
  { "[calc]\nendpoint = carrier-pigeon:/coop\n", PLUMB_ENOTRANSPORT,
    "plumb.conf:2: [calc] endpoint = 'carrier-pigeon:/coop': unknown "
    "transport" },
  { "[calc]\nendpoint = /tmp/no-scheme\n", PLUMB_ECONFIG,
    "plumb.conf:2: [calc] endpoint = '/tmp/no-scheme': expected "
    "scheme:address, e.g. unix:/tmp/x.sock" },
  { NULL, 0, NULL },
};

static void
test_bad_values(void)
{
  plumb_config c;
  char err[512];

  clear_env();
  for (const bad_case *b = bad_cases; b->text; b++) {
    write_conf(b->text);
    int rc = resolve("calc", NULL, &c, err, sizeof err);
    CU_ASSERT_EQUAL(rc, b->status);
    CU_ASSERT_STRING_EQUAL(err, b->message);
    if (rc != b->status || strcmp(err, b->message) != 0)
      printf("\n    case %s\n    got %d '%s'\n", b->text, rc, err);
  }
  /* a bad value in another service's section does not concern calc, but an
   * unknown key does anywhere */
  write_conf("[other]\ntimeout_ms = 25\n[calc]\ntimeout_ms = 30\n");
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_OK);
  CU_ASSERT_EQUAL(c.timeout_ms, 30);
  clear_env();

  /* PLUMB_CONFIG naming a missing file */
  setenv("PLUMB_CONFIG", "/nonexistent/plumb.conf", 1);
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err), PLUMB_ECONFIG);
  CU_ASSERT_STRING_EQUAL(err, "/nonexistent/plumb.conf: cannot read the "
                              "config file named by PLUMB_CONFIG: No such "
                              "file or directory");
  unsetenv("PLUMB_CONFIG");

  /* an unknown scheme in the environment names the built-in transports */
  setenv("PLUMB_CALC_ENDPOINT", "smoke:/signals", 1);
  CU_ASSERT_EQUAL(resolve("calc", NULL, &c, err, sizeof err),
                  PLUMB_ENOTRANSPORT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "environment PLUMB_CALC_ENDPOINT: "
                                     "transport 'smoke' is not built into "
                                     "this libplumb (available: unix, tcp"));
  CU_ASSERT_EQUAL(resolve("calc", "nocolon", &c, err, sizeof err), PLUMB_EADDR);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "endpoint: endpoint 'nocolon' has no "
                                     "transport: expected scheme:address"));
  clear_env();
  CU_ASSERT_EQUAL(resolve("", NULL, &c, err, sizeof err), PLUMB_EINVAL);
}

/* ---- the same binaries moved by configuration alone ---------------------- */

static const char *
endpoint_for(const char *t, char *buf, size_t n)
{
  int pid = (int)getpid();
  if (strcmp(t, "unix") == 0)
    snprintf(buf, n, "unix:/tmp/plumb-cfgtest-%d.sock", pid);
  else if (strcmp(t, "tcp") == 0)
    snprintf(buf, n, "tcp://127.0.0.1:%d", ptest_free_port(AF_INET, 9));
  else if (strcmp(t, "fifo") == 0)
    snprintf(buf, n, "fifo:/tmp/plumb-cfgtest-%d", pid);
  else if (strcmp(t, "sysvmq") == 0)
    snprintf(buf, n, "sysvmq:/tmp/plumb-cfgtest-%d.key", pid);
  else if (strcmp(t, "mq") == 0 || strcmp(t, "shm") == 0)
    snprintf(buf, n, "%s:/plumb-cfgtest-%d", t, pid);
  else
    return NULL; /* pipe: the client spawns its server; see conformance */
  return buf;
}

static int
run_pair(void)
{
  char *sargv[] = { (char *)CALC_SERVER, NULL };
  char *cargv[] = { (char *)CALC_CLIENT, NULL };
  pid_t s = ptest_spawn(sargv, "/dev/null");
  int rc = -1;
  long long end = ptest_now_ms() + 5000;
  while (ptest_now_ms() < end) {
    pid_t c = ptest_spawn(cargv, "/dev/null");
    rc = ptest_stop(c, 0, 10000);
    if (rc == 0)
      break;
    usleep(50000);
  }
  if (ptest_stop(s, SIGTERM, 5000) != 0)
    rc = -2;
  return rc;
}

static void
test_same_binaries(void)
{
  char ep[256], text[400];
  const char *all[] = { "unix", "tcp", "fifo", "mq", "sysvmq", "shm", NULL };
  int moved = 0;

  clear_env();
  for (int i = 0; all[i]; i++) {
    plumb_config c;
    if (endpoint_for(all[i], ep, sizeof ep) == NULL ||
        plumb_config_resolve("calc", ep, &c, NULL, 0) != PLUMB_OK)
      continue; /* not built into this libplumb */
    /* by plumb.conf alone */
    snprintf(text, sizeof text, "[calc]\nendpoint = %s\n", ep);
    write_conf(text);
    int rc = run_pair();
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
      printf("\n    %s via plumb.conf: %d", all[i], rc);
    unlink(conf);
    /* by one environment variable alone */
    setenv("PLUMB_CALC_ENDPOINT", ep, 1);
    rc = run_pair();
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
      printf("\n    %s via PLUMB_CALC_ENDPOINT: %d", all[i], rc);
    unsetenv("PLUMB_CALC_ENDPOINT");
    moved++;
  }
  CU_ASSERT(moved >= 2);
}

/* ---- server knobs applied by plumb_server_listen_service ---------------- */

static void *
flow_run(void *arg)
{
  plumb_server_run(arg, 0);
  return NULL;
}

/* plumb.conf's frame_timeout_ms reaches the server: a peer that sends half
 * a length prefix is dropped after 300 ms, not the default 30 s. */
static void
test_flow_applied(void)
{
  char text[400], path[100];
  plumb_server *s = NULL;
  pthread_t t;

  clear_env();
  snprintf(path, sizeof path, "%s/flow.sock", dir);
  snprintf(text, sizeof text, "[calc]\nendpoint = unix:%s\n"
           "frame_timeout_ms = 300\nsend_timeout_ms = 400\n"
           "conn_queue_frames = 10\n", path);
  write_conf(text);
  plumb_server_opts o = { .workers = 2 };
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, &o), PLUMB_OK);
  CU_ASSERT_EQUAL_FATAL(plumb_server_listen_service(s, "calc", NULL),
                        PLUMB_OK);
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, flow_run, s), 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CU_ASSERT(fd >= 0);
  CU_ASSERT_EQUAL(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  CU_ASSERT_EQUAL(send(fd, "\x20\x00", 2, MSG_NOSIGNAL), 2);
  long long t0 = ptest_now_ms(), end = t0 + 5000;
  int closed = 0;
  for (int i = 0; i < 1000 && !closed && ptest_now_ms() < end; i++) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 100) == 1) {
      char c;
      closed = recv(fd, &c, 1, 0) <= 0;
    }
  }
  long long took = ptest_now_ms() - t0;
  CU_ASSERT(closed);
  CU_ASSERT(took >= 250 && took < 5000);
  if (!closed || took < 250)
    printf("\n    half-frame peer: closed %d after %lld ms\n", closed, took);
  close(fd);
  plumb_server_stop(s);
  pthread_join(t, NULL);
  plumb_server_free(s);
  unlink(path);
  unlink(conf);
}

/* ---- plumb_last_error ---------------------------------------------------- */

static void *
last_error_other(void *arg)
{
  (void)arg;
  return (void *)plumb_last_error(); /* this thread failed nothing */
}

/* Every failing entry point names the endpoint or file and what is wrong;
 * a success clears it; it is per thread. */
static void
test_last_error(void)
{
  static const struct {
    const char *ep, *msg;
  } client[] = {
    { "tcp://127.0.0.1", "tcp://127.0.0.1: missing port" },
    { "tcp://127.0.0.1:99999", "tcp://127.0.0.1:99999: port 99999 out of "
                               "range" },
    { "tcp://127.0.0.1:http", "tcp://127.0.0.1:http: port 'http' is not a "
                              "number" },
    { "tcp://:80", "tcp://:80: missing host" },
    { "tcp://::1:80", "tcp://::1:80: an IPv6 address goes in brackets: "
                      "tcp://[::1]:PORT" },
    { "mq:name", "mq:name: POSIX queue names start with '/'" },
    { "mq:/a b", "mq:/a b: character ' ' not allowed in a queue name "
                 "(letters, digits, '.', '_', '-')" },
    { "shm:/x?ring=1000", "shm:/x?ring=1000: ring=1000: expected a power of "
                          "two from 4096 to 268435456" },
    { "shm:/x?colour=1", "shm:/x?colour=1: unknown option 'colour' or value "
                         "out of range (ring=BYTES, spin=US, poll=US up to "
                         "100000)" },
    { "unix:", "unix:: missing path (expected unix:/PATH or unix:@NAME)" },
    { "warp:/drive", "transport 'warp' is not built into this libplumb "
                     "(available: " },
  };
  plumb_client *c = NULL;

  clear_env();
  plumb_log_set_level(PLUMB_LOG_OFF);
  for (size_t i = 0; i < sizeof client / sizeof client[0]; i++) {
    plumb_client_opts o = { .timeout_ms = 200 };
    int rc = plumb_client_open(&c, client[i].ep, NULL, &o);
    CU_ASSERT(rc != PLUMB_OK);
    const char *got = plumb_last_error();
    int ok = strncmp(got, client[i].msg, strlen(client[i].msg)) == 0;
    if (!ok)
      printf("\n    %s: got '%s'", client[i].ep, got);
    CU_ASSERT(ok);
    if (rc == PLUMB_OK)
      plumb_client_close(c);
  }
  /* a success clears it */
  CU_ASSERT_EQUAL(plumb_endpoint_check("unix:/tmp/x.sock", NULL, 0),
                  PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(plumb_last_error(), "");
  /* listeners: the endpoint and the reason */
  plumb_server *s = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, NULL), PLUMB_OK);
  CU_ASSERT(plumb_server_listen(s, "unix:/no/such/dir/x.sock") != PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(plumb_last_error(), "unix:/no/such/dir/x.sock: "
                         "directory /no/such/dir does not exist");
  CU_ASSERT(plumb_server_listen(s, "tcp://127.0.0.1") != PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(plumb_last_error(),
                         "tcp://127.0.0.1: missing port");
  /* config loading: file, line, section, key, what is allowed */
  write_conf("[naming]\nendpoint = unix:/tmp/n.sock\ntimeout = 5\n");
  plumb_config cfg;
  CU_ASSERT_EQUAL(plumb_config_resolve("naming", NULL, &cfg, NULL, 0),
                  PLUMB_ECONFIG);
  CU_ASSERT_EQUAL(strncmp(plumb_last_error(), "plumb.conf:3: [naming] "
                          "unknown key 'timeout' (allowed: endpoint, "
                          "timeout_ms, ", 61), 0);
  CU_ASSERT(plumb_server_listen_service(s, "naming", NULL) != PLUMB_OK);
  CU_ASSERT_EQUAL(strncmp(plumb_last_error(), "plumb.conf:3: [naming] "
                          "unknown key 'timeout'", 43), 0);
  unlink(conf);
  /* per thread */
  pthread_t t;
  void *other = NULL;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, last_error_other, NULL), 0);
  pthread_join(t, &other);
  CU_ASSERT_STRING_EQUAL((const char *)other, "");
  CU_ASSERT_NOT_EQUAL(plumb_last_error()[0], '\0'); /* ours is kept */
  plumb_server_free(s);
}

/* ---- logging ------------------------------------------------------------ */

static int log_calls, log_last_level;
static char log_last[256];

static void
log_capture(void *arg, int level, const char *msg)
{
  (void)arg;
  log_calls++;
  log_last_level = level;
  snprintf(log_last, sizeof log_last, "%s", msg);
}

static void
test_log_handler(void)
{
  plumb_client *c = NULL;
  plumb_log_set_handler(log_capture, NULL);
  plumb_log_set_level(PLUMB_LOG_OFF);
  CU_ASSERT_EQUAL(plumb_client_open(&c, "warp:/drive", NULL, NULL),
                  PLUMB_ENOTRANSPORT);
  CU_ASSERT_EQUAL(log_calls, 0); /* off: nothing */
  plumb_log_set_level(PLUMB_LOG_WARN);
  CU_ASSERT_EQUAL(plumb_client_open(&c, "warp:/drive", NULL, NULL),
                  PLUMB_ENOTRANSPORT);
  CU_ASSERT_EQUAL(log_calls, 1);
  CU_ASSERT(log_last_level <= PLUMB_LOG_WARN);
  CU_ASSERT_PTR_NOT_NULL(strstr(log_last, "warp"));
  CU_ASSERT_PTR_NULL(c);
  plumb_log_set_handler(NULL, NULL);
  plumb_log_set_level(PLUMB_LOG_OFF);
}

static const ptest_case cases[] = {
  { "log_handler", test_log_handler },
  { "resolution_order", test_order },
  { "bad_values", test_bad_values },
  { "same_binaries_any_transport", test_same_binaries },
  { "flow_knobs_applied", test_flow_applied },
  { "last_error", test_last_error },
  { NULL, NULL },
};

int
main(int argc, char **argv)
{
  static const ptest_suite suites[] = {
    { "config", cases, suite_init, suite_cleanup },
    { NULL, NULL, NULL, NULL },
  };
  return ptest_run(suites, argc, argv);
}
