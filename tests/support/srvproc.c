/* srvproc.c - test server processes on private unix sockets (srvproc.h). */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "proc.h"
#include "srvproc.h"

void
ptest_srvproc_name(ptest_srvproc *p, const char *tag)
{
  snprintf(p->path, sizeof p->path, "/tmp/plumb-%s-%d.sock", tag,
           (int)getpid());
  snprintf(p->ep, sizeof p->ep, "unix:%s", p->path);
  p->pid = -1;
}

pid_t
ptest_start_server(char *const argv[], const char *ep, const char *log_path,
                   int timeout_ms)
{
  pid_t pid = ptest_spawn(argv, log_path);
  if (pid < 0)
    return -1;
  for (long long end = ptest_now_ms() + timeout_ms; ptest_now_ms() < end;) {
    if (ptest_exited(pid))
      return -1;
    plumb_client *c;
    plumb_client_opts o = { .timeout_ms = 200, .no_reconnect = 1 };
    if (plumb_client_open(&c, ep, NULL, &o) == PLUMB_OK) {
      plumb_client_close(c);
      return pid;
    }
    struct timespec ts = { 0, 10000000 };
    nanosleep(&ts, NULL);
  }
  ptest_stop(pid, SIGKILL, 2000);
  return -1;
}

int
ptest_srvproc_stop(ptest_srvproc *p)
{
  int code = p->pid > 0 ? ptest_stop(p->pid, SIGTERM, 10000) : -1;
  p->pid = -1;
  if (access(p->path, F_OK) == 0) {
    unlink(p->path);
    return 1;
  }
  return code == 0 ? 0 : 1;
}
