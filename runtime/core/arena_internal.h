/* arena_internal.h - core-only arena operations. */
#ifndef PLUMB_ARENA_INTERNAL_H
#define PLUMB_ARENA_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "plumb/arena.h"
/* Records the exception a call raised (value allocated in a). */
void plumb__arena_set_exception(plumb_arena *a, const char *type_id,
                                void *value);
/* Caps the bytes allocated from a from now on at max (0: no cap, and the
 * count restarts); past it allocations fail and plumb__arena_over() says
 * so.  New blocks are never larger than what the cap leaves, so the memory
 * taken is at most the block kept by reset plus max.  reset() lifts it. */
void plumb__arena_limit(plumb_arena *a, size_t max);
/* Bytes allocated (rounded to the arena's alignment) since the last
 * plumb__arena_limit() or reset. */
size_t plumb__arena_counted(const plumb_arena *a);
/* 1 if an allocation failed because of the cap since it was set. */
int plumb__arena_over(const plumb_arena *a);
/* Hands the frame buffer *data (capacity *cap, malloc'd) to a, which frees
 * it at reset or free: what was decoded from it by reference lives as long
 * as the rest of a's contents.  *data and *cap get back the buffer an earlier
 * reset released (or NULL/0), so a steady loop of calls swaps two buffers
 * and allocates nothing.  If a second frame before a reset finds no memory
 * for its note, *data is left unchanged - the caller sees the same
 * pointer back and must not count on the adoption (check *data). */
void plumb__arena_adopt(plumb_arena *a, uint8_t **data, size_t *cap);
#endif
