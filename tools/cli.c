/* cli.c - the `plumb` command: global options, dispatch to subcommands,
 * and the helpers they share (opening endpoints and the naming service,
 * errors, JSON strings). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

static const cli_cmd *const cmds[] = {
  &cli_cmd_list, &cli_cmd_describe, &cli_cmd_call, &cli_cmd_ping,
  &cli_cmd_names, &cli_cmd_resolve, &cli_cmd_bind, &cli_cmd_unbind,
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

int
cli_error(int status, const char *fmt, ...)
{
  va_list ap;
  fputs("plumb: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return status;
}

int
cli_wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      return 0;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return 1;
  }
  return 0;
}

void
cli_print_help(const cli_cmd *c, FILE *f)
{
  fprintf(f, "usage: plumb [--timeout MS] [--json] %s\n\n%s", c->usage,
          c->help);
}

void
cli_json_str(FILE *f, const char *s)
{
  json_object *o = json_object_new_string(s ? s : "");
  fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE),
        f);
  json_object_put(o);
}

int
cli_open(cli *g, plumb_client **c, const char *endpoint, const char *object)
{
  int rc;
  if (strchr(endpoint, ':') == NULL) { /* a plumb.conf service name */
    rc = plumb_client_open_service(c, endpoint, NULL, object);
  } else {
    rc = plumb_client_open(c, endpoint, object, NULL);
  }
  if (rc != PLUMB_OK) {
    const char *why = plumb_strerror(rc);
    if (strncmp(endpoint, "name:", 5) == 0)
      why = "cannot resolve the name or open what it is bound to (see "
            "`plumb resolve`)";
    return cli_error(CLI_FAIL, "%s: %s (%s)", endpoint, why,
                     plumb_status_name(rc));
  }
  if (g->timeout_ms >= 0)
    plumb_client_set_timeout(*c, g->timeout_ms);
  return CLI_OK;
}

int
cli_open_naming(cli *g, plumb_client **c, const char *path)
{
  plumb_config cfg;
  char err[512];
  int rc;

  if (path != NULL && path[0] != '\0') {
    plumb_objref ref;
    plumb_arena *a = plumb_arena_new();
    if (a == NULL)
      return cli_error(CLI_FAIL, "out of memory");
    rc = plumb_naming_resolve(&ref, path, a, err, sizeof err);
    if (rc != PLUMB_OK) {
      plumb_arena_free(a);
      return cli_error(rc == PLUMB_EEXCEPTION ? CLI_EXCEPTION
                       : rc == PLUMB_EINVAL ? CLI_USAGE : CLI_FAIL, "%s",
                       err);
    }
    rc = cli_open(g, c, ref.endpoint, ref.object);
    plumb_arena_free(a);
    return rc;
  }
  rc = plumb_config_resolve("naming", NULL, &cfg, err, sizeof err);
  if (rc != PLUMB_OK)
    return cli_error(CLI_FAIL, "naming service: %s", err);
  return cli_open(g, c, cfg.endpoint, PLUMB_NAMING_ROOT);
}

static void
usage(FILE *f)
{
  fprintf(f, "usage: plumb [--timeout MS] [--json] [--naming ENDPOINT] "
             "COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < N_CMDS; i++)
    fprintf(f, "  %s\n", cmds[i]->usage);
  fprintf(f,
    "\nENDPOINT is a transport endpoint (unix:/run/x.sock, tcp://127.0.0.1:"
    "9000,\nshm:/x, ...), name:PATH (resolved through the naming service) "
    "or a\nservice name of plumb.conf.  `plumb COMMAND --help` describes "
    "one command.\n"
    "\n  --timeout MS       deadline of each call (default: configured, "
    "5000)\n"
    "  --json             machine-readable output\n"
    "  --naming ENDPOINT  the naming service (default: "
    "PLUMB_NAMING_ENDPOINT,\n"
    "                     plumb.conf [naming])\n"
    "\nexit status: 0 success, 1 failure (unreachable, call failed), 2 bad "
    "usage,\n3 user exception raised or name not bound, 4 no introspection"
    ".\n");
}

int
main(int argc, char **argv)
{
  cli g = { -1, 0, "plumb" };
  int i;

  for (i = 1; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--json") == 0) {
      g.json = 1;
    } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
      char *end;
      long long v = strtoll(argv[++i], &end, 10);
      if (*end != '\0' || v < -1 || v > 86400000)
        return cli_error(CLI_USAGE, "--timeout: '%s' is not a number of "
                         "milliseconds (-1 to 86400000)", argv[i]);
      g.timeout_ms = v;
    } else if (strcmp(a, "--naming") == 0 && i + 1 < argc) {
      setenv("PLUMB_NAMING_ENDPOINT", argv[++i], 1);
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return CLI_OK;
    } else if (strcmp(a, "--version") == 0) {
      printf("plumb %s\n", PLUMB_TOOLS_VERSION);
      return CLI_OK;
    } else {
      usage(stderr);
      return cli_error(CLI_USAGE, "unknown option '%s'", a);
    }
  }
  if (i == argc) {
    usage(stderr);
    return CLI_USAGE;
  }
  for (size_t k = 0; k < N_CMDS; k++) {
    if (strcmp(cmds[k]->name, argv[i]) != 0)
      continue;
    if (cli_wants_help(argc - i, argv + i)) {
      cli_print_help(cmds[k], stdout);
      return CLI_OK;
    }
    /* subcommand options may also follow the command */
    int sub_argc = argc - i;
    char **sub = argv + i;
    int w = 1;
    for (int r = 1; r < sub_argc; r++) {
      if (strcmp(sub[r], "--json") == 0) {
        g.json = 1;
      } else if (strcmp(sub[r], "--timeout") == 0 && r + 1 < sub_argc) {
        g.timeout_ms = strtoll(sub[++r], NULL, 10);
      } else {
        sub[w++] = sub[r];
      }
    }
    return cmds[k]->run(&g, w, sub);
  }
  usage(stderr);
  return cli_error(CLI_USAGE, "unknown command '%s'", argv[i]);
}
