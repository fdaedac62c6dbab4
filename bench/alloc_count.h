/* alloc_count.h - allocation counters of alloc_count.c (malloc, calloc and
 * realloc calls, and frees of non-NULL pointers, since the process began). */
#ifndef BENCH_ALLOC_COUNT_H
#define BENCH_ALLOC_COUNT_H

unsigned long long bench_allocs(void);
unsigned long long bench_frees(void);

#endif
