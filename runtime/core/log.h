/* log.h - internal logging, gated by the environment variable
 * PLUMB_LOG=off|error|warn|info|debug|trace (off when unset) or by
 * plumb_log_set_level(); lines go to stderr or the program's handler
 * (plumb/log.h).  plumb__log_enabled() is inline: the per-call paths ask
 * it for TRACE on every frame. */
#ifndef PLUMB_LOG_H
#define PLUMB_LOG_H

enum {
  PLUMB__LOG_ERROR = 1,
  PLUMB__LOG_WARN = 2,
  PLUMB__LOG_INFO = 3,
  PLUMB__LOG_DEBUG = 4,
  PLUMB__LOG_TRACE = 5
};

#include <stdatomic.h>

extern atomic_int plumb__log_level; /* -1 until first read (log.c) */
int plumb__log_enabled_slow(int level);

/* 1 if messages of this level are printed. */
static inline int
plumb__log_enabled(int level)
{
  int l = atomic_load_explicit(&plumb__log_level, memory_order_relaxed);
  return l >= 0 ? level <= l : plumb__log_enabled_slow(level);
}
void plumb__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
