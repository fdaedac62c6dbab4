/* builtin_ops.h - the operations every object answers: _is_a, _interface,
 * _non_existent (internal; builtin_ops.c, docs/PROTOCOL.md 2.8).
 */
#ifndef PLUMB_BUILTIN_OPS_H
#define PLUMB_BUILTIN_OPS_H

#include <stdint.h>

#include "plumb/generated.h"

/* The reserved interface id: plumb_type_hash("IDL:omg.org/CORBA/Object:1.0").
 * Its operations 0, 1, 2 are _is_a, _interface, _non_existent. */
#define PLUMB__OBJECT_IFACE_ID 0x39a9689eu
enum { PLUMB__OP_IS_A = 0, PLUMB__OP_INTERFACE = 1,
       PLUMB__OP_NON_EXISTENT = 2 };
#define PLUMB__OBJECT_TYPE_ID "IDL:omg.org/CORBA/Object:1.0"

/* The interface table of the built-in operations (client and server). */
extern const plumb_interface plumb__object_interface;

/* Operation index of the reserved interface, or NULL (server side). */
const plumb_operation *plumb__builtin_op(uint32_t index);

/* 1 if iface (or one of its bases, within a bound) is type_id. */
int plumb__iface_is_a(const plumb_interface *iface, const char *type_id);

#endif
