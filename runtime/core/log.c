/* log.c - plumb__log: one line per message to stderr, "plumb[pid] level: ...",
 * with the threshold read once from PLUMB_LOG. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_level = PLUMB__LOG_WARN;

static void
log_init(void)
{
  static const char *const names[] = { "off", "error", "warn", "info",
                                       "debug", "trace" };
  const char *e = getenv("PLUMB_LOG");

  if (e == NULL)
    return;
  for (int i = 0; i < 6; i++)
    if (strcmp(e, names[i]) == 0)
      log_level = i;
}

int
plumb__log_enabled(int level)
{
  pthread_once(&log_once, log_init);
  return level <= log_level;
}

void
plumb__log(int level, const char *fmt, ...)
{
  static const char *const tags[] = { "", "error", "warn", "info", "debug",
                                      "trace" };
  char line[512];
  va_list ap;
  int n;

  if (!plumb__log_enabled(level))
    return;
  n = snprintf(line, sizeof(line), "plumb[%d] %s: ", (int)getpid(),
               tags[level < 1 ? 1 : level > 5 ? 5 : level]);
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
  va_end(ap);
  strcat(line, "\n");
  fputs(line, stderr);
}
