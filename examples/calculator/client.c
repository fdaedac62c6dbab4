/* client.c - calls the calculator service like local functions.
 *
 *   calc-client [ENDPOINT [A B]]
 *
 * Without ENDPOINT (or with "-") the endpoint configured for service "calc"
 * is used (see plumb/config.h).  Prints one line per call and exits non-zero
 * if any result is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plumb/plumb.h>

#include "calculator.h"

int
main(int argc, char **argv)
{
  const char *ep = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
  int32_t a = argc > 3 ? atoi(argv[2]) : 2, b = argc > 3 ? atoi(argv[3]) : 3;
  plumb_client *c;
  plumb_arena *arena;
  int32_t sum = 0, diff = 0, calls = 0;
  double q = 0;
  int rc, bad = 0;

  if ((rc = plumb_client_open_service(&c, "calc", ep, "calc")) != PLUMB_OK) {
    fprintf(stderr, "calc-client: cannot reach %s: %s\n",
            ep ? ep : "service calc", plumb_strerror(rc));
    return 1;
  }
  arena = plumb_arena_new();

  rc = calc_Calculator_add(c, a, b, &sum, NULL);
  printf("add(%d, %d) = %d  [%s]\n", a, b, sum, plumb_strerror(rc));
  bad |= rc != PLUMB_OK || sum != a + b;

  rc = calc_Calculator_sub(c, a, b, &diff, NULL);
  printf("sub(%d, %d) = %d  [%s]\n", a, b, diff, plumb_strerror(rc));
  bad |= rc != PLUMB_OK || diff != a - b;

  rc = calc_Calculator_div(c, 1.0, 0.0, &q, arena);
  if (rc == PLUMB_EEXCEPTION) {
    const char *id;
    calc_DivByZero *ex = plumb_arena_exception(arena, &id);
    printf("div(1, 0) raised %s: %s\n", id, ex ? ex->reason : "?");
    bad |= ex == NULL || strcmp(id, calc_DivByZero_type.type_id) != 0;
  } else {
    printf("div(1, 0) did not raise  [%s]\n", plumb_strerror(rc));
    bad = 1;
  }

  rc = calc_Calculator__get_calls(c, &calls, NULL);
  printf("calls = %d  [%s]\n", calls, plumb_strerror(rc));
  bad |= rc != PLUMB_OK || calls < 3;

  plumb_arena_free(arena);
  plumb_client_close(c);
  return bad ? 1 : 0;
}
