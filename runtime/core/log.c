/* log.c - plumb__log: one line per message, by default to stderr as
 * "plumb[pid] level: ...", with the threshold read once from PLUMB_LOG (off
 * when unset) unless the program set it; a program may install a handler
 * (plumb/log.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plumb/log.h"
#include "log.h"

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
/* The threshold; -1 until log_init ran (log.h's inline check reads it). */
atomic_int plumb__log_level = -1;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static plumb_log_fn log_fn;               /* guarded by log_mu */
static void *log_arg;

static void
log_init(void)
{
  static const char *const names[] = { "off", "error", "warn", "info",
                                       "debug", "trace" };
  const char *e = getenv("PLUMB_LOG");
  int level = PLUMB_LOG_OFF, unread = -1;

  for (int i = 0; e != NULL && i < 6; i++)
    if (strcmp(e, names[i]) == 0)
      level = i;
  /* plumb_log_set_level() may have stored the program's level already */
  atomic_compare_exchange_strong(&plumb__log_level, &unread, level);
}

int
plumb__log_enabled_slow(int level)
{
  pthread_once(&log_once, log_init);
  return level <= atomic_load(&plumb__log_level);
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
  pthread_mutex_lock(&log_mu);
  if (log_fn != NULL) {
    log_fn(log_arg, level, line + n);
  } else {
    strcat(line, "\n");
    fputs(line, stderr);
  }
  pthread_mutex_unlock(&log_mu);
}

void
plumb_log_set_level(int level)
{
  pthread_once(&log_once, log_init);
  atomic_store(&plumb__log_level, level < PLUMB_LOG_OFF     ? PLUMB_LOG_OFF
                                  : level > PLUMB_LOG_TRACE ? PLUMB_LOG_TRACE
                                                            : level);
}

void
plumb_log_set_handler(plumb_log_fn fn, void *arg)
{
  pthread_mutex_lock(&log_mu);
  log_fn = fn;
  log_arg = arg;
  pthread_mutex_unlock(&log_mu);
}
