/* tmpdir.h - a test's private scratch directory under /tmp, named after
 * the test and its pid, and its removal with everything in it. */
#ifndef PTEST_TMPDIR_H
#define PTEST_TMPDIR_H

#include <stddef.h>

/* Makes /tmp/plumb-<tag>-<pid> (mode 0700; an existing one is kept) and
 * writes its name to dir.  0, or -1 if it cannot be made. */
int ptest_tmpdir(char *dir, size_t n, const char *tag);

/* Removes dir and all it holds (rm -rf).  0, or -1 on failure. */
int ptest_rmtree(const char *dir);

#endif
