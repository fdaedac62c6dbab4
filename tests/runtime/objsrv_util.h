/* objsrv_util.h - starting and stopping objsrv_server (OBJSRV_SERVER_PATH)
 * for the object-model tests, and talking to it; every wait is bounded.
 * What is not about objsrv lives in tests/support (proc.h, srvproc.h). */
#ifndef OBJSRV_UTIL_H
#define OBJSRV_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "proc.h"
#include "srvproc.h"
#include "testif.h"

#ifndef OBJSRV_SERVER_PATH
#error OBJSRV_SERVER_PATH must name the objsrv_server binary
#endif

/* Starts the server on eps[0..n) (its stderr to log_path unless NULL) and
 * waits until it serves: eps[0] accepts a client and answers a call (so
 * it runs, after listening on all of them).  -1 if it did not come up
 * within 20 s. */
static inline pid_t
objsrv_spawn_log(const char *const *eps, int n, const char *log_path)
{
  char *argv[12] = { (char *)OBJSRV_SERVER_PATH };
  for (int i = 0; i < n && i < 10; i++)
    argv[i + 1] = (char *)eps[i];
  argv[n + 1] = NULL;
  pid_t pid = ptest_start_server(argv, eps[0], log_path, 20000);
  plumb_client *c;
  int32_t r = 0;
  int st = PLUMB_ECONNREFUSED;

  if (pid < 0)
    return -1;
  if (plumb_client_open(&c, eps[0], NULL, NULL) == PLUMB_OK) {
    st = test_Echo_add(c, 1, 1, &r);
    plumb_client_close(c);
  }
  if (st == PLUMB_OK && r == 2)
    return pid;
  ptest_stop(pid, SIGKILL, 2000);
  return -1;
}

static inline pid_t
objsrv_spawn(const char *const *eps, int n)
{
  return objsrv_spawn_log(eps, n, NULL);
}

/* The fixture of the suites that share one server on a private unix
 * socket, /tmp/plumb-<tag>-<pid>.sock: 0 if it serves, 1 if not.  Stop it
 * with ptest_srvproc_stop (0 = clean stop and socket removed). */
static inline int
objsrv_start_unix(ptest_srvproc *p, const char *tag)
{
  ptest_srvproc_name(p, tag);
  const char *eps[] = { p->ep };
  p->pid = objsrv_spawn(eps, 1);
  return p->pid > 0 ? 0 : 1;
}

/* A client of object `name` on ep (a fatal test failure if it fails). */
static inline plumb_client *
objsrv_open(const char *ep, const char *name)
{
  plumb_client *c = NULL;
  CU_ASSERT_EQUAL_FATAL(plumb_client_open(&c, ep, name, NULL), PLUMB_OK);
  return c;
}

/* Defines the fixture of a suite that shares one objsrv_server on a
 * private unix socket named after tag: g_obj (its endpoint g_obj.ep),
 * suite_init, suite_cleanup, and open_obj(name) for a client of object
 * `name` on it. */
#define OBJSRV_UNIX_FIXTURE(tag)                                               \
  static ptest_srvproc g_obj;                                                  \
  static int suite_init(void) { return objsrv_start_unix(&g_obj, tag); }      \
  static int suite_cleanup(void) { return ptest_srvproc_stop(&g_obj); }       \
  static plumb_client *open_obj(const char *name)                              \
  {                                                                            \
    return objsrv_open(g_obj.ep, name);                                        \
  }

/* SIGTERM and wait; the exit status (0 = clean stop). */
static inline int
objsrv_stop(pid_t pid)
{
  return pid > 0 ? ptest_stop(pid, SIGTERM, 10000) : -1;
}

/* echo(cmd) on c; its reply in arena (NULL on failure, status in *st). */
static inline char *
objsrv_cmd(plumb_client *c, const char *cmd, plumb_arena *a, int *st)
{
  char *ret = NULL;
  int32_t pid;
  *st = test_Echo_echo(c, cmd, &ret, &pid, a);
  return *st == PLUMB_OK ? ret : NULL;
}

#endif
