/* server.c - the downstream example's server: greets politely, refuses
 * rude names with hello::Rude.  Usage: hello-server ENDPOINT */
#include <stdio.h>
#include <string.h>

#include <plumb/plumb.h>

#include "hello.h"

static unsigned greeted;

static int
greet(void *ctx, plumb_call *call, const char *name, char **ret)
{
  (void)ctx;
  if (strcmp(name, "rude") == 0) {
    hello_Rude ex = hello_Rude_INIT;
    ex.word = (char *)name;
    return plumb_call_raise(call, &hello_Rude_type, &ex);
  }
  size_t n = strlen(name) + sizeof "hello, ";
  if ((*ret = plumb_call_alloc(call, n)) == NULL)
    return PLUMB_ENOMEM;
  snprintf(*ret, n, "hello, %s", name);
  greeted++;
  return PLUMB_OK;
}

static int
get_greeted(void *ctx, plumb_call *call, uint32_t *ret)
{
  (void)ctx;
  (void)call;
  *ret = greeted;
  return PLUMB_OK;
}

static const hello_Greeter_ops ops = { .greet = greet,
                                       ._get_greeted = get_greeted };

int
main(int argc, char **argv)
{
  plumb_server *s;
  int rc = plumb_server_new(&s, NULL);
  if (rc == PLUMB_OK)
    rc = plumb_server_add_object(s, "hello", &hello_Greeter_interface, &ops,
                                 NULL);
  if (rc == PLUMB_OK)
    rc = plumb_server_listen_service(s, "hello", argc > 1 ? argv[1] : NULL);
  if (rc == PLUMB_OK)
    rc = plumb_server_run(s, 1);
  if (rc != PLUMB_OK)
    fprintf(stderr, "hello-server: %s\n", plumb_strerror(rc));
  plumb_server_free(s);
  return rc == PLUMB_OK ? 0 : 1;
}
