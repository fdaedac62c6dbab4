/* common.c - pieces several transports share (see common.h): the peer
 * process's credentials, liveness and pidfd. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

int
plumb__peer_from_pid(pid_t pid, plumb_peer *out)
{
  char path[32];
  struct stat st;

  memset(out, 0, sizeof(*out));
  out->pid = pid;
  snprintf(path, sizeof(path), "/proc/%d", (int)pid);
  if (pid > 0 && stat(path, &st) == 0) {
    out->uid = st.st_uid;
    out->gid = st.st_gid;
    out->has_creds = 1;
  }
  return PLUMB_OK;
}

int
plumb__pid_alive(pid_t pid)
{
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int
plumb__pidfd_open(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}
