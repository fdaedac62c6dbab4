/* plumb/arena.h - the per-call arena that owns every out value of a call.
 *
 * Ownership rule (see docs/IDL-MAPPING.md): everything a call hands back by
 * pointer - strings, sequences, structs with such members, a raised user
 * exception - is allocated in the plumb_arena passed to the stub.  Nothing is
 * freed one by one; plumb_arena_reset() or plumb_arena_free() releases it all.
 * An arena is not thread-safe: use one per thread (or per call).
 */
#ifndef PLUMB_ARENA_H
#define PLUMB_ARENA_H

#include <stddef.h>
#include "plumb/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct plumb_arena plumb_arena;

/* A new, empty arena; NULL on out of memory. */
PLUMB_API plumb_arena *plumb_arena_new(void);
/* Releases everything allocated from the arena and the arena itself. */
PLUMB_API void plumb_arena_free(plumb_arena *a);
/* Releases everything allocated from the arena; the arena stays usable and
 * keeps its largest block (up to 8 MiB), so a steady loop of calls does not
 * touch malloc. */
PLUMB_API void plumb_arena_reset(plumb_arena *a);
/* size bytes aligned for any type; NULL on out of memory. */
PLUMB_API void *plumb_arena_alloc(plumb_arena *a, size_t size);
/* A copy of s in the arena. */
PLUMB_API char *plumb_arena_strdup(plumb_arena *a, const char *s);

/* The user exception a failed call raised (status PLUMB_EEXCEPTION), or NULL.
 * *type_id, if non-NULL, receives its repository id ("IDL:calc/DivByZero:1.0").
 * The value has the exception's generated C type, e.g. calc_DivByZero. */
PLUMB_API void *plumb_arena_exception(const plumb_arena *a, const char **type_id);

#ifdef __cplusplus
}
#endif
#endif
