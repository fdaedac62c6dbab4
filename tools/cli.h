/* cli.h - what the `plumb` command's subcommands share (cli.c): global
 * options, exit statuses, output helpers, opening endpoints. */
#ifndef PLUMB_CLI_H
#define PLUMB_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <plumb/plumb.h>

/* Exit statuses (documented in plumb(1) and docs/TOOLS.md). */
enum {
  CLI_OK = 0,        /* success */
  CLI_FAIL = 1,      /* could not reach the server, or the call failed */
  CLI_USAGE = 2,     /* bad command line or arguments */
  CLI_EXCEPTION = 3, /* the operation raised a user exception; name not
                        found */
  CLI_NOINFO = 4     /* the server does not answer introspection */
};

typedef struct cli {
  int64_t timeout_ms; /* --timeout, -1 = configured */
  int json;           /* --json */
  const char *prog;
} cli;

typedef int (*cli_cmd_fn)(cli *g, int argc, char **argv);

typedef struct cli_cmd {
  const char *name;
  cli_cmd_fn run;
  const char *usage; /* "names [PATH]" */
  const char *help;  /* paragraph for --help */
} cli_cmd;

extern const cli_cmd cli_cmd_names, cli_cmd_resolve, cli_cmd_bind,
    cli_cmd_unbind, cli_cmd_ping, cli_cmd_call, cli_cmd_describe,
    cli_cmd_list;

/* Prints "plumb: " + message to stderr; returns status. */
int cli_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 1 if argv has -h/--help before "--". */
int cli_wants_help(int argc, char **argv);
void cli_print_help(const cli_cmd *c, FILE *f);
/* Opens ENDPOINT (a transport endpoint, name:NAME or a plumb.conf service
 * name) on object (NULL = default).  Reports errors itself. */
int cli_open(cli *g, plumb_client **c, const char *endpoint,
             const char *object);
/* Opens the naming service's context named by path (NULL/"" = root). */
int cli_open_naming(cli *g, plumb_client **c, const char *path);
/* Prints s as a JSON string literal (json-c escaping). */
void cli_json_str(FILE *f, const char *s);

#endif
