/* arena_internal.h - core-only arena operations. */
#ifndef PLUMB_ARENA_INTERNAL_H
#define PLUMB_ARENA_INTERNAL_H
#include "plumb/arena.h"
/* Records the exception a call raised (value allocated in a). */
void plumb__arena_set_exception(plumb_arena *a, const char *type_id,
                                void *value);
#endif
