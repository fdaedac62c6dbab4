/* cmd_call.c - `plumb call`: one operation called with its arguments given
 * as JSON, the reply printed as JSON.  With --idl FILE the operation's
 * messages are built from the IDL (plumbc's front end and model, dyn.c)
 * and mapped to and from JSON by jmap.c; without it the IDL text comes
 * from the server's introspection object (introspect_cli.c). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dyn.h"
#include "front.h"
#include "idlsrc.h"
#include "introspect_cli.h"
#include "jmap.h"

#define MAX_JSON (16u << 20)

/* Reads all of stdin (at most MAX_JSON bytes). */
static char *
read_stdin(void)
{
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    if (len + 1 == cap) {
      if (cap >= MAX_JSON) {
        free(buf);
        return NULL;
      }
      char *nb = realloc(buf, cap * 2);
      if (nb == NULL)
        break;
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - 1 - len, stdin);
    len += n;
    if (n == 0) {
      buf[len] = '\0';
      return buf;
    }
  }
  free(buf);
  return NULL;
}

static void
print_json(cli *g, json_object *o)
{
  puts(json_object_to_json_string_ext(
      o, (g->json ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY) |
             JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int
call_run(cli *g, int argc, char **argv)
{
  idl_src src;
  const char *pos[4] = { NULL };
  int n = 0, st = CLI_FAIL;

  if (idlsrc_args(&src, argc, argv) != 0)
    return CLI_USAGE;
  for (int i = 1; i < argc; i++) {
    if (argv[i] == NULL)
      continue; /* taken by idlsrc_args */
    if (n < 4)
      pos[n++] = argv[i];
    else
      return cli_error(CLI_USAGE, "call: unexpected '%s'", argv[i]);
  }
  if (n < 3)
    return cli_error(CLI_USAGE, "call: expected ENDPOINT OBJECT OPERATION "
                     "[JSON | -]");
  const gop *op;
  if (src.idl == NULL) { /* ask the server */
    if ((st = cli_introspect_load(g, &src, pos[0], pos[1], NULL)) != CLI_OK)
      goto out;
  } else if (idlsrc_load(&src) != 0) {
    goto out_usage;
  }
  if ((op = idlsrc_find_op(&src, pos[2])) == NULL)
    goto out_usage;
  jm_set_types(src.tree->root);
  const plumb_interface *iface = dyn_interface(op);
  dyn_msg *rq = dyn_of_request(op), *rp = op->oneway ? NULL
                                                      : dyn_of_reply(op);
  if (iface == NULL || rq == NULL) {
    st = cli_error(CLI_USAGE, "call: cannot map %s to messages", pos[2]);
    goto out;
  }
  /* the arguments */
  char *text = NULL;
  if (pos[3] != NULL && strcmp(pos[3], "-") == 0) {
    if ((text = read_stdin()) == NULL) {
      st = cli_error(CLI_USAGE, "call: cannot read JSON from stdin (at most "
                     "%u bytes)", MAX_JSON);
      goto out;
    }
  }
  enum json_tokener_error jerr;
  json_object *args = json_tokener_parse_verbose(
      text ? text : pos[3] ? pos[3] : "{}", &jerr);
  free(text);
  if (args == NULL) {
    st = cli_error(CLI_USAGE, "call: arguments are not JSON: %s",
                   json_tokener_error_desc(jerr));
    goto out;
  }
  /* only in and inout parameters may be given */
  json_object_object_foreach(args, key, val) {
    (void)val;
    for (size_t i = 0; i < op->np; i++)
      if (strcmp(op->p[i].pname, key) == 0 && op->p[i].dir == IDL_OUT) {
        st = cli_error(CLI_USAGE, "call: '%s' is an out parameter of %s; "
                       "give only in and inout ones", key, op->name);
        json_object_put(args);
        goto out;
      }
  }
  plumb_arena *a = plumb_arena_new();
  ProtobufCMessage *req = NULL, *rep = NULL;
  char err[600];
  if (jm_from_json(rq, args, &req, a, err, sizeof err) != 0) {
    json_object_put(args);
    plumb_arena_free(a);
    st = cli_error(CLI_USAGE, "call %s: %s", op->name, err);
    goto out;
  }
  json_object_put(args);
  plumb_client *c;
  if ((st = cli_open(g, &c, pos[0], pos[1])) != CLI_OK) {
    plumb_arena_free(a);
    goto out;
  }
  int rc = plumb_invoke(c, iface, 0, req, &rep, a);
  if (rc == PLUMB_OK) {
    json_object *o = rp ? jm_to_json(rp, rep) : json_object_new_object();
    print_json(g, o);
    json_object_put(o);
    st = CLI_OK;
  } else if (rc == PLUMB_EEXCEPTION) {
    const char *tid = NULL;
    void *ex = plumb_arena_exception(a, &tid);
    json_object *o = json_object_new_object(), *v = NULL;
    for (size_t i = 0; i < op->node->nraises; i++)
      if (tid && strcmp(repo_id(op->node->raises[i]), tid) == 0)
        v = jm_to_json(dyn_of_decl(op->node->raises[i]), ex);
    json_object_object_add(o, "exception",
                           json_object_new_string(tid ? tid : ""));
    json_object_object_add(o, "value", v ? v : json_object_new_object());
    print_json(g, o);
    json_object_put(o);
    st = CLI_EXCEPTION;
  } else {
    plumb_sysexc se;
    if (plumb_client_system_exception(c, &se) && g->json) {
      /* {"system_exception": NAME, "type_id", "minor", "completed",
       * "status", "message"} on stdout, exit status 1 */
      json_object *o = json_object_new_object();
      json_object_object_add(o, "system_exception",
                             json_object_new_string(plumb_sysexc_name(
                                 se.code)));
      json_object_object_add(o, "type_id",
                             json_object_new_string(se.type_id));
      json_object_object_add(o, "minor", json_object_new_int64(se.minor));
      json_object_object_add(o, "completed", json_object_new_string(
                                 plumb_completion_name(se.completed)));
      json_object_object_add(o, "status", json_object_new_string(
                                 plumb_status_name(rc)));
      json_object_object_add(o, "message",
                             json_object_new_string(se.message));
      print_json(g, o);
      json_object_put(o);
      st = CLI_FAIL;
    } else if (se.code != PLUMB_SYS_NONE) {
      st = cli_error(CLI_FAIL, "call %s: %s (%s; system exception %s, "
                     "minor %u, completed %s)", op->name,
                     plumb_client_last_error(c), plumb_status_name(rc),
                     plumb_sysexc_name(se.code), (unsigned)se.minor,
                     plumb_completion_name(se.completed));
    } else {
      st = cli_error(CLI_FAIL, "call %s: %s (%s)", op->name,
                     plumb_client_last_error(c), plumb_status_name(rc));
    }
  }
  plumb_client_close(c);
  plumb_arena_free(a);
  goto out;
out_usage:
  st = CLI_USAGE;
out:
  idlsrc_free(&src);
  return st;
}

const cli_cmd cli_cmd_call = {
  "call", call_run,
  "call [--idl FILE [-I DIR]...] ENDPOINT OBJECT OPERATION [JSON | -]",
  "Calls OPERATION on OBJECT (\"\" = the server's default object) with\n"
  "its in and inout parameters given as a JSON object by name (\"-\": read\n"
  "it from stdin; absent: {}), and prints the reply as JSON: \"_ret\" for\n"
  "the return value, then the out and inout parameters.  OPERATION is\n"
  "op, Interface.op or Module::Interface::op; attributes are _get_name and\n"
  "_set_name.  A user exception prints {\"exception\": TYPE_ID, \"value\":\n"
  "{...}} and exits with 3; a system exception is named with its minor\n"
  "code and completion (--json: {\"system_exception\", \"type_id\",\n"
  "\"minor\", \"completed\", \"status\", \"message\"}), exit status 1.\n"
  "The JSON mapping (64-bit integers as\n"
  "strings, bytes as base64, enums by name, unions as {\"_d\", member},\n"
  "any as {\"@type\": \"type.plumb/IDL:...\", \"value\": JSON or base64})\n"
  "is in docs/IDL-MAPPING.md.  The interface comes from the server's\n"
  "introspection, or from --idl FILE (plumbc's include path: -I, then\n"
  "plumb's own IDL directory), which works with introspection off.\n",
};
