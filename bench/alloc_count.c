/* alloc_count.c - a malloc counter for the bench binaries.
 *
 * Defines malloc, calloc, realloc and free in the executable itself: the
 * dynamic linker then binds every caller in the process to them (libplumb,
 * libprotobuf-c and libc included - glibc supports replacing malloc this
 * way), and they forward to glibc's own allocator (__libc_malloc & co.), so
 * the heap is unchanged.  Each allocation bumps a relaxed atomic counter:
 * bench_allocs() read before and after N calls gives allocations per call.
 * No LD_PRELOAD and no --wrap (which would miss calls made inside shared
 * libraries).
 */
#include <stdatomic.h>
#include <stddef.h>

#include "alloc_count.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

static _Atomic unsigned long long n_allocs, n_frees;

void *
malloc(size_t size)
{
  atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
  return __libc_malloc(size);
}

void *
calloc(size_t n, size_t size)
{
  atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
  return __libc_calloc(n, size);
}

void *
realloc(void *p, size_t size)
{
  atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
  return __libc_realloc(p, size);
}

void
free(void *p)
{
  if (p != NULL)
    atomic_fetch_add_explicit(&n_frees, 1, memory_order_relaxed);
  __libc_free(p);
}

unsigned long long
bench_allocs(void)
{
  return atomic_load_explicit(&n_allocs, memory_order_relaxed);
}

unsigned long long
bench_frees(void)
{
  return atomic_load_explicit(&n_frees, memory_order_relaxed);
}
