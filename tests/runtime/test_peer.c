/* test_peer.c - what a server learns about its client (plumb_call_peer)
 * and how its log names one, end to end against a real objsrv_server:
 * over tcp (127.0.0.1 and, where the host has it, ::1) the peer's address
 * and port - checked to be this process's own socket - and no credentials;
 * over unix the pid and uid and no address.  The server's log lines say
 * "client 127.0.0.1:PORT (pid -)" / "client (pid P, uid U)". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "objsrv_util.h"
#include "ptest.h"

static char g_tcp4[64], g_tcp6[64], g_log[128];
static ptest_srvproc g_srv; /* with a unix socket, and tcp */

static int
suite_init(void)
{
  const char *eps[3];
  int n = 0;
  int p4 = ptest_free_port(AF_INET, 31), p6 = ptest_free_port(AF_INET6, 37);

  ptest_srvproc_name(&g_srv, "peer");
  snprintf(g_log, sizeof g_log, "/tmp/plumb-peer-%d.log", (int)getpid());
  if (p4 < 0)
    return 1;
  snprintf(g_tcp4, sizeof g_tcp4, "tcp://127.0.0.1:%d", p4);
  eps[n++] = g_tcp4;
  eps[n++] = g_srv.ep;
  if (p6 >= 0) {
    snprintf(g_tcp6, sizeof g_tcp6, "tcp://[::1]:%d", p6);
    eps[n++] = g_tcp6;
  }
  setenv("PLUMB_LOG", "debug", 1);
  g_srv.pid = objsrv_spawn_log(eps, n, g_log);
  unsetenv("PLUMB_LOG");
  return g_srv.pid > 0 ? 0 : 1;
}

static int
suite_cleanup(void)
{
  unlink(g_log);
  return ptest_srvproc_stop(&g_srv);
}

/* 1 if one of this process's sockets is bound to local port `port` of
 * family fam. */
static int
own_port(int fam, unsigned port)
{
  for (int fd = 0; fd < 1024; fd++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        ss.ss_family != fam)
      continue;
    unsigned p = fam == AF_INET
                     ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    if (p == port)
      return 1;
  }
  return 0;
}

/* Waits (at most 5 s) for the server's log to contain needle. */
static int
log_has(const char *needle)
{
  for (long long end = ptest_now_ms() + 5000; ptest_now_ms() < end;) {
    if (ptest_file_contains(g_log, needle))
      return 1;
    usleep(10000);
  }
  printf("\n    server log lacks '%s'", needle);
  return 0;
}

/* The peer as the server saw it over ep: "addr=A creds=C pid=P uid=U". */
static void
ask_peer(const char *ep, char *out, size_t n)
{
  plumb_client *c = NULL;
  plumb_arena *a = plumb_arena_new();
  int st;
  out[0] = '\0';
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ep, NULL, NULL), PLUMB_OK);
  char *r = objsrv_cmd(c, "peer", a, &st);
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  if (r != NULL)
    snprintf(out, n, "%s", r);
  /* the port is still ours while c is open */
  const char *addr = strstr(out, "addr=");
  const char *colon = addr ? strchr(addr, ' ') : NULL;
  while (colon && colon > addr && colon[-1] != ':')
    colon--;
  if (addr && addr[5] != ' ' && colon) {
    unsigned port = (unsigned)strtoul(colon, NULL, 10);
    CU_ASSERT(port > 0 && port < 65536);
    CU_ASSERT(own_port(addr[5] == '[' ? AF_INET6 : AF_INET, port));
  }
  plumb_client_close(c);
  plumb_arena_free(a);
}

static void
check_tcp(const char *ep, const char *host)
{
  char got[160], want[160], line[200];
  unsigned port = 0;

  ask_peer(ep, got, sizeof got);
  snprintf(want, sizeof want, "addr=%s:", host);
  CU_ASSERT_EQUAL(strncmp(got, want, strlen(want)), 0);
  if (strncmp(got, want, strlen(want)) != 0)
    printf("\n    %s: got '%s'", ep, got);
  port = (unsigned)strtoul(got + strlen(want), NULL, 10);
  CU_ASSERT_PTR_NOT_NULL(strstr(got, " creds=0 pid=0 uid=0"));
  /* the log names the client by address and port, never "pid 0" */
  snprintf(line, sizeof line, "accepted a client on %s (%s:%u)", ep, host,
           port);
  CU_ASSERT(log_has(line));
  snprintf(line, sizeof line, "client %s:%u (pid -) left", host, port);
  CU_ASSERT(log_has(line));
}

static void
test_tcp4(void)
{
  check_tcp(g_tcp4, "127.0.0.1");
}

static void
test_tcp6(void)
{
  if (g_tcp6[0] == '\0') {
    printf("\n    ::1 is not available on this host: IPv6 peer NOT tested");
    return;
  }
  check_tcp(g_tcp6, "[::1]");
}

static void
test_unix(void)
{
  char got[160], want[160], line[120];
  ask_peer(g_srv.ep, got, sizeof got);
  snprintf(want, sizeof want, "addr= creds=1 pid=%d uid=%u", (int)getpid(),
           (unsigned)geteuid());
  CU_ASSERT_STRING_EQUAL(got, want);
  snprintf(line, sizeof line, "client (pid %d, uid %u) left", (int)getpid(),
           (unsigned)geteuid());
  CU_ASSERT(log_has(line));
  CU_ASSERT_FALSE(ptest_file_contains(g_log, "pid 0"));
}

static const ptest_case cases[] = {
  { "tcp 127.0.0.1: address and port", test_tcp4 },
  { "tcp ::1: address and port", test_tcp6 },
  { "unix: pid and uid", test_unix },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "peer", cases, suite_init, suite_cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
