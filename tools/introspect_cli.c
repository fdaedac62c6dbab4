/* introspect_cli.c - the CLI side of introspection: the object
 * "_plumb.introspect" of a server (runtime/core/introspect.c) through the
 * stubs plumbc generates from idl/plumb/introspect.idl: `plumb list`,
 * and the IDL text `describe` and `call` use when no --idl is given. */
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "introspect_cli.h"

#define INTROSPECT_OBJECT "_plumb.introspect"

/* The exit status for a failed introspection call, reported. */
static int
failed(plumb_client *c, int rc, const char *ep, const char *what)
{
  if (rc == PLUMB_ENOOBJECT)
    return cli_error(CLI_NOINFO, "%s: the server does not answer "
                     "introspection (switched off, or an older plumb); "
                     "give the IDL with --idl FILE", ep);
  return cli_error(CLI_FAIL, "%s: %s: %s (%s)", ep, what,
                   plumb_client_last_error(c), plumb_status_name(rc));
}

int
cli_introspect_load(cli *g, idl_src *s, const char *endpoint,
                    const char *object, const char *type_id)
{
  plumb_client *c;
  int rc, st;
  if ((st = cli_open(g, &c, endpoint, INTROSPECT_OBJECT)) != CLI_OK)
    return st;
  plumb_arena *a = plumb_arena_new();
  if (type_id == NULL) {
    plumb_introspect_ObjectList ol = { 0, NULL };
    rc = plumb_introspect_Introspector_list_objects(c, &ol, a);
    if (rc != PLUMB_OK) {
      st = failed(c, rc, endpoint, "list_objects");
      goto out;
    }
    for (size_t i = 0; i < ol._length && type_id == NULL; i++)
      if (object == NULL || object[0] == '\0' ||
          strcmp(ol._buffer[i]->name, object) == 0)
        type_id = ol._buffer[i]->type_id;
    if (type_id == NULL && object != NULL && object[0] != '\0') {
      /* not listed: an anonymous object (a reference's id, never listed)
       * tells its own type by the built-in _interface */
      plumb_client *oc;
      char *tid = NULL;
      if (cli_open(g, &oc, endpoint, object) == CLI_OK) {
        if (plumb_client_interface(oc, &tid, a) == PLUMB_OK && tid[0])
          type_id = tid;
        plumb_client_close(oc);
      }
    }
    if (type_id == NULL) {
      st = cli_error(CLI_USAGE, "%s: no object '%s' (see `plumb list %s`)",
                     endpoint, object ? object : "", endpoint);
      goto out;
    }
  }
  plumb_introspect_InterfaceDesc d = plumb_introspect_InterfaceDesc_INIT;
  rc = plumb_introspect_Introspector_describe(c, type_id, &d, a);
  if (rc == PLUMB_EEXCEPTION) {
    st = cli_error(CLI_USAGE, "%s: the server serves no interface %s",
                   endpoint, type_id);
    goto out;
  }
  if (rc != PLUMB_OK) {
    st = failed(c, rc, endpoint, "describe");
    goto out;
  }
  if (d.idl[0] == '\0') {
    st = cli_error(CLI_NOINFO, "%s: %s was built without IDL metadata "
                   "(an older plumbc); give the IDL with --idl FILE",
                   endpoint, type_id);
    goto out;
  }
  s->iface = strdup(d.name);
  st = idlsrc_load_text(s, endpoint, d.idl) == 0 ? CLI_OK : CLI_FAIL;
out:
  plumb_arena_free(a);
  plumb_client_close(c);
  return st;
}

static int
list_run(cli *g, int argc, char **argv)
{
  plumb_client *c;
  int rc, st;
  if (argc != 2)
    return cli_error(CLI_USAGE, "list: expected ENDPOINT");
  if ((st = cli_open(g, &c, argv[1], INTROSPECT_OBJECT)) != CLI_OK)
    return st;
  plumb_arena *a = plumb_arena_new();
  plumb_introspect_ObjectList ol = { 0, NULL };
  plumb_introspect_ServerInfo si = plumb_introspect_ServerInfo_INIT;
  rc = plumb_introspect_Introspector_list_objects(c, &ol, a);
  if (rc == PLUMB_OK)
    rc = plumb_introspect_Introspector_info(c, &si, a);
  if (rc != PLUMB_OK) {
    st = failed(c, rc, argv[1], "list_objects");
  } else if (g->json) {
    printf("{\"server\":{\"version\":");
    cli_json_str(stdout, si.version);
    printf(",\"uptime_ms\":\"%llu\",\"calls_served\":\"%llu\",\"health\":",
           (unsigned long long)si.uptime_ms,
           (unsigned long long)si.calls_served);
    cli_json_str(stdout, si.health);
    printf(",\"endpoints\":[");
    for (size_t i = 0; i < si.n_endpoints; i++) {
      printf("%s", i ? "," : "");
      cli_json_str(stdout, si.endpoints[i]);
    }
    printf("]},\"objects\":[");
    for (size_t i = 0; i < ol._length; i++) {
      printf("%s{\"name\":", i ? "," : "");
      cli_json_str(stdout, ol._buffer[i]->name);
      printf(",\"type_id\":");
      cli_json_str(stdout, ol._buffer[i]->type_id);
      printf("}");
    }
    printf("]}\n");
  } else {
    for (size_t i = 0; i < ol._length; i++)
      printf("%s %s\n", ol._buffer[i]->name, ol._buffer[i]->type_id);
    printf("# plumb %s, up %llu ms, %s, %u objects, %llu calls served\n",
           si.version, (unsigned long long)si.uptime_ms, si.health,
           si.objects, (unsigned long long)si.calls_served);
  }
  plumb_arena_free(a);
  plumb_client_close(c);
  return st;
}

const cli_cmd cli_cmd_list = {
  "list", list_run, "list ENDPOINT",
  "Lists the objects of a server with their interfaces' type ids (one\n"
  "per line: OBJECT TYPE_ID), then a line with its version, uptime and\n"
  "health, asking its introspection object \"_plumb.introspect\".  Exit\n"
  "status 4 if the server does not answer introspection.\n",
};
