/* ptest.c - registers ptest suites with CUnit and runs the basic runner. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "ptest.h"

int
ptest_run(const ptest_suite *suites, int argc, char **argv)
{
  const char *only = argc > 1 ? argv[1] : NULL;
  unsigned failed;

  if (CU_initialize_registry() != CUE_SUCCESS) {
    fprintf(stderr, "ptest: %s\n", CU_get_error_msg());
    return 2;
  }
  for (const ptest_suite *s = suites; s->name != NULL; s++) {
    if (only && strcmp(only, s->name) != 0)
      continue;
    CU_pSuite cs = CU_add_suite(s->name, s->init, s->cleanup);
    if (cs == NULL)
      goto fail;
    for (const ptest_case *c = s->cases; c->name != NULL; c++)
      if (CU_add_test(cs, c->name, c->fn) == NULL)
        goto fail;
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
  if (CU_get_number_of_tests_run() == 0) {
    fprintf(stderr, "ptest: no test ran\n");
    failed = 1;
  }
  CU_cleanup_registry();
  return failed == 0 ? 0 : 1;
fail:
  fprintf(stderr, "ptest: %s\n", CU_get_error_msg());
  CU_cleanup_registry();
  return 2;
}
