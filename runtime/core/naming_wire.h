/* naming_wire.h - the few CosNaming messages libplumb itself sends
 * (naming_wire.c), for plumb_naming_* and name: endpoints. */
#ifndef PLUMB__NAMING_WIRE_H
#define PLUMB__NAMING_WIRE_H

#include "plumb/generated.h"

/* CosNaming::NameComponent */
typedef struct plumb__nc {
  ProtobufCMessage base;
  char *id, *kind;
} plumb__nc;
/* NamingContext::rebind / unbind request (unbind leaves obj NULL) */
typedef struct plumb__nbind_req {
  ProtobufCMessage base;
  size_t n_n;
  plumb__nc **n;
  plumb_objref *obj;
} plumb__nbind_req;
/* NamingContextExt::resolve_str request and reply */
typedef struct plumb__nres_req {
  ProtobufCMessage base;
  char *sn;
} plumb__nres_req;
typedef struct plumb__nres_rep {
  ProtobufCMessage base;
  plumb_objref *_ret;
} plumb__nres_rep;

extern const ProtobufCMessageDescriptor plumb__nc_descriptor;
extern const ProtobufCMessageDescriptor plumb__nrebind_req_descriptor;
extern const ProtobufCMessageDescriptor plumb__nunbind_req_descriptor;
extern const ProtobufCMessageDescriptor plumb__nres_req_descriptor;

/* NamingContext (ops: 0 rebind, 1 unbind) and NamingContextExt (op 0
 * resolve_str), with the NamingContext exceptions (their bodies are not
 * read: only the type id matters here). */
extern const plumb_interface plumb__naming_ctx_iface;
extern const plumb_interface plumb__naming_ext_iface;
enum { PLUMB__NOP_REBIND, PLUMB__NOP_UNBIND };
enum { PLUMB__NOP_RESOLVE_STR };

#endif
