/* ptest.h - the tiny table-driven layer every CUnit suite uses.
 * A test program declares its suites as arrays and calls ptest_run(), which
 * registers them, runs CUnit's basic runner (its summary goes to stdout, so it
 * is visible in the meson log) and returns 0 only if every test passed. */
#ifndef PTEST_H
#define PTEST_H

#include <CUnit/CUnit.h>

typedef struct ptest_case {
  const char *name;
  void (*fn)(void);
} ptest_case;

typedef struct ptest_suite {
  const char *name;
  const ptest_case *cases; /* terminated by { NULL, NULL } */
  int (*init)(void);       /* may be NULL */
  int (*cleanup)(void);    /* may be NULL */
} ptest_suite;

/* Runs suites (terminated by { NULL, ... }); returns the process exit code.
 * If argv[1] names a suite, only that suite runs. */
int ptest_run(const ptest_suite *suites, int argc, char **argv);

#endif
