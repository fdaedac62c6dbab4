/* lasterr.h - the calling thread's last error (plumb/error.h), kept by the
 * public entry points that can fail for a reason worth a sentence
 * (core-internal).  See lasterr.c. */
#ifndef PLUMB_LASTERR_H
#define PLUMB_LASTERR_H

#include <stddef.h>

/* Starts a public call: clears the message and any transport detail. */
void plumb__err_begin(void);
/* Sets the message (first one wins until the next begin). */
void plumb__err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends a public call with status st: on success clears the message; on
 * failure, if nothing set it yet, makes it "<what>: <detail>" where detail
 * is what a transport said (plumb__addr_why) or plumb_strerror(st).
 * Returns st. */
int plumb__err_end(int st, const char *what);

#endif
