/* log.h - minimal internal logging to stderr, gated by the environment
 * variable PLUMB_LOG=off|error|warn|info|debug|trace (default: warn, i.e.
 * errors and warnings).  A later issue may route it elsewhere. */
#ifndef PLUMB_LOG_H
#define PLUMB_LOG_H

enum {
  PLUMB__LOG_ERROR = 1,
  PLUMB__LOG_WARN = 2,
  PLUMB__LOG_INFO = 3,
  PLUMB__LOG_DEBUG = 4,
  PLUMB__LOG_TRACE = 5
};

/* 1 if messages of this level are printed. */
int plumb__log_enabled(int level);
void plumb__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
