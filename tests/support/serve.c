/* serve.c - ptest_serve(): a test server's listen / run / free (serve.h). */
#include <stdio.h>

#include "serve.h"

int
ptest_serve(plumb_server *s, char *const *eps, int n)
{
  int st, code = 0;

  for (int i = 0; i < n; i++)
    if ((st = plumb_server_listen(s, eps[i])) != PLUMB_OK) {
      fprintf(stderr, "%s\n", plumb_last_error());
      code = st == PLUMB_EBUSY ? 3 : 1;
      goto out;
    }
  if (plumb_server_run(s, 1) != PLUMB_OK)
    code = 1;
out:
  plumb_server_free(s);
  return code;
}
