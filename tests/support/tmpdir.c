/* tmpdir.c - private scratch directories for tests (tmpdir.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpdir.h"

int
ptest_tmpdir(char *dir, size_t n, const char *tag)
{
  int k = snprintf(dir, n, "/tmp/plumb-%s-%d", tag, (int)getpid());
  if (k < 0 || (size_t)k >= n)
    return -1;
  return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int
ptest_rmtree(const char *dir)
{
  char cmd[512];
  if (dir == NULL || strncmp(dir, "/tmp/plumb-", 11) != 0 ||
      strchr(dir, '\'') != NULL)
    return -1; /* only what ptest_tmpdir made */
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}
