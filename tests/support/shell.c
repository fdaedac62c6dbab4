/* shell.c - command lines with captured output for tests (shell.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "proc.h"
#include "shell.h"

int
ptest_sh(const char *out, const char *fmt, ...)
{
  char cmd[4096], line[4400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  snprintf(line, sizeof line, "timeout 20 %s >%s 2>&1", cmd, out);
  int st = system(line);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

size_t
ptest_slurp(const char *path, char *buf, size_t n)
{
  FILE *f = fopen(path, "r");
  size_t len = f && n > 0 ? fread(buf, 1, n - 1, f) : 0;
  if (n > 0)
    buf[len] = '\0';
  if (f)
    fclose(f);
  return len;
}

int
ptest_out_has(const char *out, const char *needle)
{
  int r = ptest_file_contains(out, needle);
  if (!r) {
    char buf[2048];
    ptest_slurp(out, buf, sizeof buf);
    printf("\n    expected '%s' in: %s", needle, buf);
  }
  return r;
}
