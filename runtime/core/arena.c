/* arena.c - bump allocator that owns every out value of a call.
 *
 * Blocks are chained; allocation bumps a pointer in the current block and
 * falls back to a new block (at least twice the previous size, or the request
 * if larger).  reset() keeps the largest block (up to 8 MiB) so a steady
 * loop of calls does not touch malloc.  The arena also holds the user exception a call raised
 * (set by the core, read with plumb_arena_exception) and can act as a
 * ProtobufCAllocator, whose free() is a no-op.  The core can cap what a
 * decode allocates (plumb__arena_limit, see decode.c).  It can also hold
 * the frame buffers a reply's big bytes fields point into (bigbytes.h,
 * plumb__arena_adopt) until reset, keeping one for the next call.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/generated.h"
#include "arena_internal.h"

#define ARENA_FIRST_BLOCK 1024u
#define ARENA_KEEP_MAX (8u * 1024u * 1024u) /* kept across resets */
#define ARENA_ALIGN alignof(max_align_t)

typedef struct arena_block {
  struct arena_block *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  alignas(max_align_t) unsigned char mem[];
} arena_block;

/* A frame buffer the arena holds for what was borrowed from it
 * (plumb__arena_adopt); the first lives in the arena itself. */
typedef struct arena_frame {
  struct arena_frame *next;
  uint8_t *data;
  size_t cap;
} arena_frame;

struct plumb_arena {
  arena_block *head; /* current block; older ones follow via next */
  arena_frame frame;  /* adopted frame buffers (data NULL: none) */
  arena_frame spare;  /* one given back by reset, for the next adopt */
  ProtobufCAllocator pb;
  void *exc_value;
  const char *exc_type_id;
  size_t limit;   /* plumb__arena_limit: 0 = none */
  size_t counted; /* bytes allocated since the limit was set / reset */
  int over;       /* an allocation failed for the limit */
};

static void *
arena_pb_alloc(void *data, size_t size)
{
  return plumb_arena_alloc(data, size);
}

static void
arena_pb_free(void *data, void *ptr)
{
  (void)data;
  (void)ptr; /* released with the arena */
}

static arena_block *
arena_block_new(size_t size)
{
  arena_block *b = malloc(sizeof(*b) + size);
  if (b == NULL)
    return NULL;
  b->next = NULL;
  b->size = size;
  b->used = 0;
  return b;
}

plumb_arena *
plumb_arena_new(void)
{
  plumb_arena *a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NULL;
  a->pb.alloc = arena_pb_alloc;
  a->pb.free = arena_pb_free;
  a->pb.allocator_data = a;
  return a;
}

/* Reset: the adopted frames are released, the largest (up to
 * ARENA_KEEP_MAX) kept as the spare a next adopt hands back. */
static void
arena_frames_release(plumb_arena *a)
{
  for (arena_frame *f = &a->frame; f != NULL; f = f->next) {
    if (f->data == NULL)
      continue;
    if (f->cap <= ARENA_KEEP_MAX && f->cap > a->spare.cap) {
      free(a->spare.data);
      a->spare.data = f->data;
      a->spare.cap = f->cap;
    } else {
      free(f->data);
    }
  }
  a->frame = (arena_frame){ NULL, NULL, 0 }; /* nodes were in blocks */
}

void
plumb__arena_adopt(plumb_arena *a, uint8_t **data, size_t *cap)
{
  arena_frame *f = &a->frame;
  if (f->data != NULL) { /* a second frame before a reset: a node */
    f = plumb_arena_alloc(a, sizeof *f);
    if (f == NULL)
      return; /* caller copies instead: see arena_internal.h */
    f->next = a->frame.next;
    a->frame.next = f;
  }
  f->data = *data;
  f->cap = *cap;
  *data = a->spare.data;
  *cap = a->spare.cap;
  a->spare.data = NULL;
  a->spare.cap = 0;
}

void
plumb_arena_reset(plumb_arena *a)
{
  arena_block *b, *keep = NULL;

  if (a == NULL)
    return;
  arena_frames_release(a);
  /* Keep the largest block up to ARENA_KEEP_MAX, free the rest: a steady
   * loop of calls, small or large, then reuses one block without malloc
   * (and, for large replies, without fresh page faults). */
  for (b = a->head; b != NULL; b = b->next)
    if (b->size <= ARENA_KEEP_MAX && (keep == NULL || b->size > keep->size))
      keep = b;
  for (b = a->head; b != NULL;) {
    arena_block *next = b->next;
    if (b != keep)
      free(b);
    b = next;
  }
  if (keep != NULL) {
    keep->used = 0;
    keep->next = NULL;
  }
  a->head = keep;
  a->exc_value = NULL;
  a->exc_type_id = NULL;
  a->limit = a->counted = 0;
  a->over = 0;
}

void
plumb_arena_free(plumb_arena *a)
{
  if (a == NULL)
    return;
  arena_frames_release(a);
  free(a->spare.data);
  for (arena_block *b = a->head; b != NULL;) {
    arena_block *next = b->next;
    free(b);
    b = next;
  }
  free(a);
}

void *
plumb_arena_alloc(plumb_arena *a, size_t size)
{
  arena_block *b;
  size_t need;

  if (a == NULL)
    return NULL;
  if (size == 0)
    size = 1;
  if (size > SIZE_MAX / 2 - ARENA_ALIGN)
    return NULL;
  need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  if (a->limit != 0 && need > a->limit - a->counted) {
    a->over = 1;
    return NULL;
  }
  b = a->head;
  if (b == NULL || b->size - b->used < need) {
    size_t bs = b ? b->size * 2 : ARENA_FIRST_BLOCK;
    if (a->limit != 0 && bs > a->limit - a->counted)
      bs = a->limit - a->counted; /* no block beyond what the cap leaves */
    if (bs < need)
      bs = need;
    arena_block *nb = arena_block_new(bs);
    if (nb == NULL)
      return NULL;
    nb->next = b;
    a->head = b = nb;
  }
  void *p = b->mem + b->used;
  b->used += need;
  a->counted += need;
  return p;
}

char *
plumb_arena_strdup(plumb_arena *a, const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = plumb_arena_alloc(a, n);
  if (p != NULL)
    memcpy(p, s, n);
  return p;
}

void
plumb__arena_limit(plumb_arena *a, size_t max)
{
  if (a == NULL)
    return;
  a->limit = max;
  a->counted = 0;
  a->over = 0;
}

size_t
plumb__arena_counted(const plumb_arena *a)
{
  return a ? a->counted : 0;
}

int
plumb__arena_over(const plumb_arena *a)
{
  return a ? a->over : 0;
}

ProtobufCAllocator *
plumb_arena_allocator(plumb_arena *a)
{
  return a ? &a->pb : NULL;
}

void *
plumb_arena_exception(const plumb_arena *a, const char **type_id)
{
  if (type_id)
    *type_id = a ? a->exc_type_id : NULL;
  return a ? a->exc_value : NULL;
}

void
plumb__arena_set_exception(plumb_arena *a, const char *type_id, void *value)
{
  a->exc_type_id = type_id;
  a->exc_value = value;
}
