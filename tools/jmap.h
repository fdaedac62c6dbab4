/* jmap.h - IDL values <-> JSON for `plumb call` (jmap.c), following
 * protobuf's canonical JSON mapping where it applies; the mapping is
 * documented in docs/IDL-MAPPING.md, section "JSON mapping". */
#ifndef PLUMB_JMAP_H
#define PLUMB_JMAP_H

#include <json-c/json.h>

#include "dyn.h"

/* The IDL (its root) whose structs, unions and exceptions an any may be
 * given and printed as JSON; NULL: none (base64 only). */
void jm_set_types(const idl_node *root);
/* Fills a new message of type t (in arena) from JSON object o; fields
 * absent from o keep their zero value.  0, or -1 with the offending field
 * path and reason in err. */
int jm_from_json(const dyn_msg *t, json_object *o, ProtobufCMessage **out,
                 plumb_arena *a, char *err, size_t errlen);
/* The JSON object of message m of type t (caller puts it). */
json_object *jm_to_json(const dyn_msg *t, const ProtobufCMessage *m);

#endif
