/* dyn.h - protobuf-c message types built at run time from plumbc's model
 * of an IDL file (dyn.c), so `plumb call --idl` can encode and decode any
 * operation's messages without generated code. */
#ifndef PLUMB_DYN_H
#define PLUMB_DYN_H

#include <protobuf-c/protobuf-c.h>
#include <plumb/plumb.h>

#include "back.h"

/* A message type: its descriptor (usable by protobuf-c and libplumb) and
 * the model it came from.  fields[i] of the descriptor is model field
 * order[i]; sub[i] is the element type of a message field (NULL for
 * scalars, objrefs and anys). */
typedef struct dyn_msg {
  ProtobufCMessageDescriptor d;
  ProtobufCFieldDescriptor *fields;
  gmsg m;
  size_t *order;
  struct dyn_msg **sub;
  size_t case_off; /* unions: offset of the oneof case (uint32) */
} dyn_msg;

/* The message type of a declaration (struct/union/exception), of an
 * operation's request or reply, or of a nested-sequence wrapper; cached,
 * alive until dyn_free().  NULL on an error (reported on stderr). */
dyn_msg *dyn_of_decl(const idl_node *n);
dyn_msg *dyn_of_request(const gop *op);
dyn_msg *dyn_of_reply(const gop *op);
void dyn_free(void);

/* A one-operation interface table for plumb_invoke: op of its declaring
 * interface, with its exceptions.  Lives until dyn_free(). */
const plumb_interface *dyn_interface(const gop *op);

/* A zeroed message of type t in arena (strings set to ""). */
ProtobufCMessage *dyn_new(const dyn_msg *t, plumb_arena *a);

#endif
