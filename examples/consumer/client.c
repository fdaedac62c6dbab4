/* client.c - the downstream example's client.  Usage: hello-client ENDPOINT
 * NAME; prints the greeting, exits 0 on success, 3 if NAME was rude. */
#include <stdio.h>

#include <plumb/plumb.h>

#include "hello.h"

int
main(int argc, char **argv)
{
  plumb_client *c;
  plumb_arena *a = plumb_arena_new();
  char *greeting = NULL;
  int rc;

  if (argc < 3 || a == NULL)
    return 2;
  rc = plumb_client_open_service(&c, "hello", argv[1], "hello");
  if (rc == PLUMB_OK) {
    rc = hello_Greeter_greet(c, argv[2], &greeting, a);
    plumb_client_close(c);
  }
  if (rc == PLUMB_OK)
    printf("%s\n", greeting);
  else if (rc == PLUMB_EEXCEPTION)
    printf("raised %s\n", ((hello_Rude *)plumb_arena_exception(a, NULL))->word);
  else if (rc == PLUMB_ENOTRANSPORT || rc == PLUMB_EADDR) {
    char why[256];
    plumb_endpoint_check(argv[1], why, sizeof why);
    fprintf(stderr, "hello-client: %s\n", why);
  } else
    fprintf(stderr, "hello-client: %s\n", plumb_strerror(rc));
  plumb_arena_free(a);
  return rc == PLUMB_OK ? 0 : rc == PLUMB_EEXCEPTION ? 3 : 1;
}
