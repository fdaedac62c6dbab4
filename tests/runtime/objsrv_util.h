/* objsrv_util.h - starting and stopping objsrv_server (OBJSRV_SERVER_PATH)
 * for the object-model tests; every wait is bounded. */
#ifndef OBJSRV_UTIL_H
#define OBJSRV_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "testif.h"

#ifndef OBJSRV_SERVER_PATH
#error OBJSRV_SERVER_PATH must name the objsrv_server binary
#endif

/* Starts the server on eps[0..n) (its stderr to log_path unless NULL) and
 * waits until eps[0] answers; -1 if it did not come up within 20 s. */
static inline pid_t
objsrv_spawn_log(const char *const *eps, int n, const char *log_path)
{
  char *argv[12] = { (char *)OBJSRV_SERVER_PATH };
  for (int i = 0; i < n && i < 10; i++)
    argv[i + 1] = (char *)eps[i];
  argv[n + 1] = NULL;
  pid_t pid = ptest_spawn(argv, log_path);
  if (pid < 0)
    return -1;
  for (long long end = ptest_now_ms() + 20000; ptest_now_ms() < end;) {
    if (ptest_exited(pid))
      return -1;
    plumb_client *c;
    plumb_client_opts o = { .timeout_ms = 200 };
    if (plumb_client_open(&c, eps[0], NULL, &o) == PLUMB_OK) {
      int32_t r = 0;
      int st = test_Echo_add(c, 1, 1, &r);
      plumb_client_close(c);
      if (st == PLUMB_OK)
        return pid;
    }
    struct timespec ts = { 0, 10000000 };
    nanosleep(&ts, NULL);
  }
  ptest_stop(pid, SIGKILL, 2000);
  return -1;
}

static inline pid_t
objsrv_spawn(const char *const *eps, int n)
{
  return objsrv_spawn_log(eps, n, NULL);
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
