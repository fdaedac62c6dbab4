/* shell.h - running a command line from a test with its output captured
 * in a file, and looking for text in that output (the tests of the plumb
 * tools and services, which drive real programs). */
#ifndef PTEST_SHELL_H
#define PTEST_SHELL_H

#include <stddef.h>

/* Runs the command line made from fmt through sh, bounded by timeout(1)
 * at 20 s, its stdout and stderr to the file `out`.  Returns its exit
 * status, or -1 if it did not exit. */
int ptest_sh(const char *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reads (the first n - 1 bytes of) file path into buf, NUL-terminated
 * ("" if it cannot be read).  Returns the length read. */
size_t ptest_slurp(const char *path, char *buf, size_t n);

/* 1 if file `out` contains needle; if not, prints (the start of) what it
 * holds, so the test log shows what came instead, and returns 0. */
int ptest_out_has(const char *out, const char *needle);

#endif
