/* proc.c - bounded spawning and stopping of test server processes. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

long long
ptest_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t
ptest_spawn(char *const argv[], const char *log_path)
{
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  if (log_path != NULL) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
  }
  execv(argv[0], argv);
  _exit(127);
}

static int
proc_status(int ws)
{
  if (WIFEXITED(ws))
    return WEXITSTATUS(ws);
  if (WIFSIGNALED(ws))
    return 128 + WTERMSIG(ws);
  return -1;
}

int
ptest_stop(pid_t pid, int sig, int timeout_ms)
{
  int ws;
  long long end = ptest_now_ms() + timeout_ms;

  if (pid <= 0)
    return -1;
  if (sig > 0)
    kill(pid, sig);
  while (ptest_now_ms() < end) {
    pid_t r = waitpid(pid, &ws, WNOHANG);
    if (r == pid)
      return proc_status(ws);
    if (r < 0)
      return -1;
    usleep(5000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &ws, 0);
  return -1;
}

int
ptest_exited(pid_t pid)
{
  int ws;
  return waitpid(pid, &ws, WNOHANG) == pid;
}

int
ptest_file_contains(const char *path, const char *needle)
{
  FILE *f = fopen(path, "r");
  static char buf[1 << 20];
  size_t n;

  if (f == NULL)
    return 0;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return strstr(buf, needle) != NULL;
}

int
ptest_free_port(int family, int salt)
{
  for (int i = 0; i < 200; i++) {
    int port = 20000 + (int)(((unsigned)getpid() * 37u + (unsigned)salt * 101u +
                              (unsigned)i * 7u) % 12000u);
    int fd = socket(family, SOCK_STREAM, 0), one = 1, ok;
    if (fd < 0)
      return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) {
      struct sockaddr_in6 a = { .sin6_family = AF_INET6,
                                .sin6_port = htons((uint16_t)port),
                                .sin6_addr = IN6ADDR_LOOPBACK_INIT };
      ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    } else {
      struct sockaddr_in a = { .sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port) };
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    }
    close(fd);
    if (ok)
      return port;
  }
  return -1;
}
