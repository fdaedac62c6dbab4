/* cmd_naming.c - `plumb names|resolve|bind|unbind`: the naming service
 * through the CosNaming stubs plumbc generates from idl/CosNaming.idl.
 * `names` walks BindingIterators to the end and destroys them. */
#include <stdlib.h>
#include <string.h>

#include "CosNaming.h"
#include "cli.h"

/* Maps a failed naming call onto an exit status with a clear message. */
static int
naming_failed(plumb_client *c, plumb_arena *a, int rc, const char *what,
              const char *name)
{
  const char *tid = NULL;
  if (rc == PLUMB_EEXCEPTION && plumb_arena_exception(a, &tid) && tid) {
    if (strstr(tid, "/NotFound:"))
      return cli_error(CLI_EXCEPTION, "%s %s: not bound (%s)", what, name,
                       tid);
    if (strstr(tid, "/AlreadyBound:"))
      return cli_error(CLI_EXCEPTION, "%s %s: already bound (use "
                       "--rebind to replace it)", what, name);
    if (strstr(tid, "/InvalidName:"))
      return cli_error(CLI_USAGE, "%s: '%s' is not a valid name", what,
                       name);
    if (strstr(tid, "/NotEmpty:"))
      return cli_error(CLI_EXCEPTION, "%s %s: context not empty", what,
                       name);
    return cli_error(CLI_EXCEPTION, "%s %s: %s", what, name, tid);
  }
  return cli_error(CLI_FAIL, "%s %s: %s (%s)", what, name,
                   plumb_client_last_error(c), plumb_status_name(rc));
}

/* Parses a stringified name with the service's own to_name. */
static int
to_name(plumb_client *c, plumb_arena *a, const char *s, CosNaming_Name *n)
{
  int rc = CosNaming_NamingContextExt_to_name(c, s, n, a);
  return rc == PLUMB_OK ? CLI_OK : naming_failed(c, a, rc, "name", s);
}

static void
print_binding(cli *g, const CosNaming_Binding *b, int *first)
{
  const CosNaming_NameComponent *nc =
      b->binding_name._length ? b->binding_name._buffer[0] : NULL;
  const char *id = nc ? nc->id : "", *kind = nc ? nc->kind : "";
  int ctx = b->binding_type == CosNaming_BindingType_ncontext;
  if (g->json) {
    printf("%s{\"id\":", *first ? "" : ",");
    cli_json_str(stdout, id);
    printf(",\"kind\":");
    cli_json_str(stdout, kind);
    printf(",\"type\":\"%s\"}", ctx ? "ncontext" : "nobject");
  } else {
    printf("%s%s%s%s\n", id, kind[0] ? "." : "", kind, ctx ? "/" : "");
  }
  *first = 0;
}

static int
names_run(cli *g, int argc, char **argv)
{
  uint32_t batch = 100;
  const char *path = NULL;
  plumb_client *c = NULL, *it = NULL;
  int rc, first = 1, st = CLI_OK;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
      batch = (uint32_t)strtoul(argv[++i], NULL, 10);
      if (batch == 0)
        return cli_error(CLI_USAGE, "names: --batch must be at least 1");
    } else if (path == NULL && argv[i][0] != '-') {
      path = argv[i];
    } else {
      return cli_error(CLI_USAGE, "names: unexpected '%s'", argv[i]);
    }
  }
  if ((rc = cli_open_naming(g, &c, path)) != CLI_OK)
    return rc;
  plumb_arena *a = plumb_arena_new();
  CosNaming_BindingList bl = { 0, NULL };
  plumb_objref bi = PLUMB_OBJREF_INIT;
  rc = CosNaming_NamingContext_list(c, batch, &bl, &bi, a);
  if (rc != PLUMB_OK) {
    st = naming_failed(c, a, rc, "names", path ? path : "/");
    goto out;
  }
  if (g->json)
    printf("[");
  for (size_t i = 0; i < bl._length; i++)
    print_binding(g, bl._buffer[i], &first);
  if (bi.endpoint[0] != '\0') { /* more behind an iterator */
    if ((st = cli_open(g, &it, bi.endpoint, bi.object)) != CLI_OK)
      goto out;
    for (unsigned rounds = 0; rounds < 1000000; rounds++) {
      bool more = false;
      CosNaming_BindingList nl = { 0, NULL };
      plumb_arena_reset(a);
      rc = CosNaming_BindingIterator_next_n(it, batch, &nl, &more, a);
      if (rc != PLUMB_OK) {
        st = naming_failed(it, a, rc, "names: iterator", bi.object);
        break;
      }
      if (!more)
        break;
      for (size_t i = 0; i < nl._length; i++)
        print_binding(g, nl._buffer[i], &first);
    }
    CosNaming_BindingIterator_destroy(it, a);
  }
  if (g->json)
    printf("]\n");
out:
  plumb_client_close(it);
  plumb_client_close(c);
  plumb_arena_free(a);
  return st;
}

static void
print_ref(cli *g, const char *name, const plumb_objref *r)
{
  if (g->json) {
    printf("{\"name\":");
    cli_json_str(stdout, name);
    printf(",\"endpoint\":");
    cli_json_str(stdout, r->endpoint);
    printf(",\"object\":");
    cli_json_str(stdout, r->object);
    printf(",\"type_id\":");
    cli_json_str(stdout, r->type_id);
    printf("}\n");
  } else {
    printf("%s %s %s\n", r->endpoint, r->object[0] ? r->object : "-",
           r->type_id[0] ? r->type_id : "-");
  }
}

static int
resolve_run(cli *g, int argc, char **argv)
{
  plumb_client *c;
  int rc;

  if (argc != 2)
    return cli_error(CLI_USAGE, "resolve: expected one NAME");
  if ((rc = cli_open_naming(g, &c, NULL)) != CLI_OK)
    return rc;
  plumb_arena *a = plumb_arena_new();
  plumb_objref r = PLUMB_OBJREF_INIT;
  rc = CosNaming_NamingContextExt_resolve_str(c, argv[1], &r, a);
  if (rc == PLUMB_OK) {
    print_ref(g, argv[1], &r);
    rc = CLI_OK;
  } else {
    rc = naming_failed(c, a, rc, "resolve", argv[1]);
  }
  plumb_client_close(c);
  plumb_arena_free(a);
  return rc;
}

static int
bind_run(cli *g, int argc, char **argv)
{
  int rebind = 0, context = 0, n = 0;
  const char *pos[4] = { NULL };
  plumb_client *c;
  int rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rebind") == 0)
      rebind = 1;
    else if (strcmp(argv[i], "--context") == 0 || strcmp(argv[i], "-c") == 0)
      context = 1;
    else if (n < 4)
      pos[n++] = argv[i];
    else
      return cli_error(CLI_USAGE, "bind: unexpected '%s'", argv[i]);
  }
  if (context ? n != 1 : (n < 2 || n > 4))
    return cli_error(CLI_USAGE, context
                     ? "bind --context: expected one NAME"
                     : "bind: expected NAME ENDPOINT [OBJECT [TYPE_ID]]");
  if ((rc = cli_open_naming(g, &c, NULL)) != CLI_OK)
    return rc;
  plumb_arena *a = plumb_arena_new();
  CosNaming_Name name;
  if ((rc = to_name(c, a, pos[0], &name)) != CLI_OK)
    goto out;
  if (context) {
    plumb_objref r = PLUMB_OBJREF_INIT;
    rc = CosNaming_NamingContext_bind_new_context(c, &name, &r, a);
    if (rc == PLUMB_OK && g->json)
      print_ref(g, pos[0], &r);
  } else {
    plumb_objref r = PLUMB_OBJREF_INIT;
    r.endpoint = (char *)pos[1];
    r.object = (char *)(pos[2] ? pos[2] : "");
    r.type_id = (char *)(pos[3] ? pos[3] : "");
    rc = rebind ? CosNaming_NamingContext_rebind(c, &name, &r, a)
                : CosNaming_NamingContext_bind(c, &name, &r, a);
  }
  rc = rc == PLUMB_OK ? CLI_OK : naming_failed(c, a, rc, "bind", pos[0]);
out:
  plumb_client_close(c);
  plumb_arena_free(a);
  return rc;
}

static int
unbind_run(cli *g, int argc, char **argv)
{
  plumb_client *c;
  int rc;

  if (argc != 2)
    return cli_error(CLI_USAGE, "unbind: expected one NAME");
  if ((rc = cli_open_naming(g, &c, NULL)) != CLI_OK)
    return rc;
  plumb_arena *a = plumb_arena_new();
  CosNaming_Name name;
  if ((rc = to_name(c, a, argv[1], &name)) == CLI_OK) {
    rc = CosNaming_NamingContext_unbind(c, &name, a);
    rc = rc == PLUMB_OK ? CLI_OK : naming_failed(c, a, rc, "unbind",
                                                 argv[1]);
  }
  plumb_client_close(c);
  plumb_arena_free(a);
  return rc;
}

const cli_cmd cli_cmd_names = {
  "names", names_run, "names [--batch N] [PATH]",
  "Lists the bindings of the naming context PATH (default: the root), one\n"
  "per line as id[.kind], contexts with a trailing '/'.  Bindings beyond\n"
  "the first N (default 100) are fetched through a BindingIterator, N at\n"
  "a time.  --json prints [{\"id\",\"kind\",\"type\"}].\n",
};
const cli_cmd cli_cmd_resolve = {
  "resolve", resolve_run, "resolve NAME",
  "Prints the reference NAME is bound to: ENDPOINT OBJECT TYPE_ID.\n"
  "Exit status 3 if NAME is not bound.\n",
};
const cli_cmd cli_cmd_bind = {
  "bind", bind_run,
  "bind [--rebind] NAME ENDPOINT [OBJECT [TYPE_ID]] | bind --context NAME",
  "Binds NAME to the reference (ENDPOINT, OBJECT, TYPE_ID); --rebind\n"
  "replaces an existing binding.  --context creates a new naming context\n"
  "bound as NAME.  The contexts on the way must exist.\n",
};
const cli_cmd cli_cmd_unbind = {
  "unbind", unbind_run, "unbind NAME",
  "Removes the binding of NAME.\n",
};
