/* cmd_call.c - `plumb list|describe|call`.  Placeholder until the
 * dynamic-call and introspection parts land: each says what is missing. */
#include "cli.h"

static int
not_yet(cli *g, int argc, char **argv)
{
  (void)g;
  (void)argc;
  return cli_error(CLI_NOINFO, "%s: not available in this build: "
                   "introspection and dynamic calls are not implemented "
                   "yet (docs/TOOLS.md)", argv[0]);
}

const cli_cmd cli_cmd_list = {
  "list", not_yet, "list ENDPOINT",
  "Lists the objects of a server and their interfaces (introspection).\n",
};
const cli_cmd cli_cmd_describe = {
  "describe", not_yet, "describe [--idl FILE [-I DIR]] ENDPOINT [TYPE]",
  "Prints an interface back as IDL.\n",
};
const cli_cmd cli_cmd_call = {
  "call", not_yet,
  "call [--idl FILE [-I DIR]] ENDPOINT OBJECT OPERATION [JSON | -]",
  "Calls OPERATION with in/inout arguments given as a JSON object.\n",
};
