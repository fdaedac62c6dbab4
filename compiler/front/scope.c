/* scope.c - the symbol table and OMG IDL name lookup.
 *
 * Every declaration is entered under its full scoped name ("::m::I::op");
 * reopened modules therefore share one set of names for free.  Keys are
 * folded to lower case so that names differing only in case collide, as
 * IDL requires; the exact spelling is compared afterwards.  Lookup of a
 * relative name tries the current scope, the scopes inherited by an
 * interface, then each enclosing scope outwards.  Because the checker
 * enters declarations in source order, a name is only visible after its
 * declaration (declare before use).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front_int.h"

typedef struct sym {
  const char *key; /* NULL = free slot; key and exact live in st->strs */
  const char *exact;
  uint64_t hash;
  idl_node *node;
} sym;

/* The tables' strings, packed in chunks freed together: a table holds one
 * entry per declaration (gen_big_idl.py 20000: a quarter of a million), and
 * a malloc'd pair of strings per entry was a tenth of plumbc's run. */
typedef struct str_chunk {
  struct str_chunk *next;
  size_t used, size;
  char data[];
} str_chunk;

struct symtab {
  sym *v;
  size_t cap, n;
  bool fold;
  unsigned walk; /* lookups through bases, for fnode.walk */
  str_chunk *strs;
};

enum { STR_CHUNK = 64 * 1024, KEY_STACK = 256 };

static const char *
str_keep(symtab *st, const char *s, size_t len)
{
  str_chunk *c = st->strs;
  if (c == NULL || c->size - c->used < len + 1) {
    size_t size = len + 1 > STR_CHUNK ? len + 1 : STR_CHUNK;
    c = xmalloc(sizeof *c + size);
    c->used = 0;
    c->size = size;
    c->next = st->strs;
    st->strs = c;
  }
  char *r = memcpy(c->data + c->used, s, len);
  r[len] = '\0';
  c->used += len + 1;
  return r;
}

symtab *
symtab_new_fold(bool fold)
{
  symtab *st = xcalloc(1, sizeof *st);
  st->cap = 64; /* doubles as it fills; most tables are small */
  st->v = xcalloc(st->cap, sizeof *st->v);
  st->fold = fold;
  return st;
}

symtab *
symtab_new(void)
{
  return symtab_new_fold(true);
}

void
symtab_free(symtab *st)
{
  if (st == NULL)
    return;
  for (str_chunk *c = st->strs, *next; c != NULL; c = next) {
    next = c->next;
    free(c);
  }
  free(st->v);
  free(st);
}

/* The lookup key of s (folded to lower case if st folds), in buf when it
 * fits (KEY_STACK) or else malloc'd (*heap set, for the caller to free);
 * *hash its FNV-1a hash and *len its length. */
static const char *
sym_key(const symtab *st, const char *s, char *buf, char **heap,
        uint64_t *hash, size_t *len)
{
  size_t n = strlen(s);
  char *k = n < KEY_STACK ? buf : (*heap = xmalloc(n + 1));
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    char c = st->fold ? (char)tolower((unsigned char)s[i]) : s[i];
    k[i] = c;
    h ^= (unsigned char)c;
    h *= 1099511628211ull;
  }
  k[n] = '\0';
  *hash = h;
  *len = n;
  return k;
}

static sym *
sym_slot(const symtab *st, const char *key, uint64_t hash)
{
  size_t i = (size_t)(hash & (st->cap - 1));
  for (;;) {
    sym *s = &st->v[i];
    if (s->key == NULL || (s->hash == hash && strcmp(s->key, key) == 0))
      return s;
    i = (i + 1) & (st->cap - 1);
  }
}

static void
symtab_grow(symtab *st)
{
  sym *old = st->v;
  size_t oldcap = st->cap;
  st->cap *= 2;
  st->v = xcalloc(st->cap, sizeof *st->v);
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].key != NULL)
      *sym_slot(st, old[i].key, old[i].hash) = old[i];
  free(old);
}

idl_node *
symtab_insert(symtab *st, const char *sname, idl_node *n)
{
  char buf[KEY_STACK], *heap = NULL;
  uint64_t hash;
  size_t len;
  const char *key = sym_key(st, sname, buf, &heap, &hash, &len);
  sym *s = sym_slot(st, key, hash);
  if (s->key != NULL) {
    free(heap);
    return s->node;
  }
  s->key = str_keep(st, key, len);
  s->exact = strcmp(key, sname) == 0 ? s->key : str_keep(st, sname, len);
  s->hash = hash;
  s->node = n;
  free(heap);
  if (++st->n * 2 > st->cap)
    symtab_grow(st);
  return NULL;
}

void
symtab_replace(symtab *st, const char *sname, idl_node *n)
{
  char buf[KEY_STACK], *heap = NULL;
  uint64_t hash;
  size_t len;
  const char *key = sym_key(st, sname, buf, &heap, &hash, &len);
  sym *s = sym_slot(st, key, hash);
  if (s->key != NULL)
    s->node = n;
  free(heap);
}

idl_node *
symtab_get(symtab *st, const char *sname, bool *case_differs)
{
  char buf[KEY_STACK], *heap = NULL;
  uint64_t hash;
  size_t len;
  const char *key = sym_key(st, sname, buf, &heap, &hash, &len);
  sym *s = sym_slot(st, key, hash);
  free(heap);
  if (s->key == NULL)
    return NULL;
  if (case_differs != NULL)
    *case_differs = strcmp(s->exact, sname) != 0;
  return s->node;
}

const char *
scope_name_of(const idl_node *n)
{
  if (n == NULL || n->kind == IDL_ROOT || FNODE(n)->sname == NULL)
    return "";
  return FNODE(n)->sname;
}

/* Entities a name inside a scope can denote.  Members, parameters and
 * union cases are entered only to catch duplicates. */
static bool
visible(const idl_node *n)
{
  return n->kind != IDL_MEMBER && n->kind != IDL_PARAM &&
         n->kind != IDL_CASE;
}

/* Looks `id` up directly inside `scope` and, for interfaces, in the
 * scopes it inherits from, each base interface once per lookup (st->walk
 * marks them; a lattice of bases is not walked once per path).  depth
 * bounds the inheritance walk (check.c bounds chains anyway). */
static idl_node *
lookup_in(symtab *st, const idl_node *scope, const char *id,
          idl_node **case_hit, int depth)
{
  const char *prefix = scope_name_of(scope);
  size_t pl = strlen(prefix), il = strlen(id);
  char stack[KEY_STACK];
  char *key = pl + il + 3 <= sizeof stack ? stack : xmalloc(pl + il + 3);
  bool differs = false;
  idl_node *n;

  if (depth == 0)
    st->walk++;
  memcpy(key, prefix, pl);
  memcpy(key + pl, "::", 2);
  memcpy(key + pl + 2, id, il + 1);
  n = symtab_get(st, key, &differs);
  if (key != stack)
    free(key);
  if (n != NULL && differs) {
    if (*case_hit == NULL)
      *case_hit = n;
    n = NULL;
  }
  if (n != NULL && visible(n))
    return n;
  if (scope != NULL && scope->kind == IDL_INTERFACE &&
      depth <= PS_MAX_INHERIT_DEPTH) {
    for (size_t i = 0; i < scope->nbases; i++) {
      fnode *b = FNODE(scope->bases[i]);
      if (b->lookup_walk == st->walk)
        continue;
      b->lookup_walk = st->walk;
      n = lookup_in(st, scope->bases[i], id, case_hit, depth + 1);
      if (n != NULL)
        return n;
    }
  }
  return NULL;
}

/* Splits "a::b::c" (leading "::" removed by the caller) into components;
 * returns the number; comps point into buf. */
static size_t
split_name(char *buf, char **comps, size_t max)
{
  size_t n = 0;
  char *p = buf;
  while (n < max) {
    char *sep = strstr(p, "::");
    comps[n++] = p;
    if (sep == NULL)
      break;
    *sep = '\0';
    p = sep + 2;
  }
  return n;
}

static bool
is_scope(const idl_node *n)
{
  switch (n->kind) {
  case IDL_ROOT:
  case IDL_MODULE:
  case IDL_INTERFACE:
  case IDL_STRUCT:
  case IDL_UNION:
  case IDL_EXCEPTION:
    return true;
  default:
    return false;
  }
}

idl_node *
scope_lookup(symtab *st, const idl_node *scope, const char *name,
             idl_node **case_hit)
{
  enum { MAX_COMPS = 64 };
  char *comps[MAX_COMPS];
  bool absolute = strncmp(name, "::", 2) == 0;
  char *buf = xstrdup(absolute ? name + 2 : name);
  size_t nc = split_name(buf, comps, MAX_COMPS);
  idl_node *n = NULL;

  *case_hit = NULL;
  if (absolute) {
    n = lookup_in(st, NULL, comps[0], case_hit, 0);
  } else {
    for (const idl_node *s = scope; s != NULL; s = s->parent) {
      if (!is_scope(s))
        continue;
      n = lookup_in(st, s->kind == IDL_ROOT ? NULL : s, comps[0], case_hit,
                    0);
      if (n != NULL)
        break;
    }
  }
  for (size_t i = 1; i < nc && n != NULL; i++) {
    if (n->kind == IDL_FORWARD && n->definition != NULL)
      n = n->definition;
    if (!is_scope(n)) {
      n = NULL;
      break;
    }
    n = lookup_in(st, n, comps[i], case_hit, 0);
  }
  free(buf);
  return n;
}
