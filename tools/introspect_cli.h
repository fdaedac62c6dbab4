/* introspect_cli.h - asking a server's introspection object
 * (introspect_cli.c) for its objects and their IDL. */
#ifndef PLUMB_INTROSPECT_CLI_H
#define PLUMB_INTROSPECT_CLI_H

#include "cli.h"
#include "idlsrc.h"

/* Loads into s the IDL the server at endpoint serves for object (NULL or
 * "": its default object) or, if type_id is not NULL, for that type id;
 * s->iface is set to the interface's scoped name.  Returns CLI_OK or an
 * exit status after reporting (CLI_NOINFO if the server does not answer
 * introspection). */
int cli_introspect_load(cli *g, idl_src *s, const char *endpoint,
                        const char *object, const char *type_id);

#endif
