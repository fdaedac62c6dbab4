/* model.c - the back ends' view of the tree: names, shapes, operations and
 * messages (see back.h), plus the string pool and the output helpers shared
 * by gen_c.c and gen_proto.c.  It decides nothing about layout of generated
 * files; it only answers "what is this called" and "what does this carry".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <inttypes.h>

#include "back.h"
#include "diag.h"
#include "gfmt.h"

/* ---- pool -----------------------------------------------------------------
 * A bump allocator over 1 MiB chunks: the back ends make millions of small
 * strings (20,000 IDL lines: several million) and free them all at once, so
 * one header per chunk instead of one malloc per string (measured on
 * gen_big_idl.py 20000: the per-string calloc/free was a third of the
 * run). */

/* gstr's and gout_printf's formatting buffer, reused by every call. */
static gfmt_buf fmtbuf;
static gfmt_buf keybuf; /* msg_key's */

typedef union pool_chunk {
  struct {
    union pool_chunk *next;
    size_t size; /* usable bytes after the header */
  } h;
  max_align_t align; /* keeps what follows aligned for any type */
} pool_chunk;
#define POOL_CHUNK ((size_t)1 << 20)
/* the current pool (main or scratch); the other one is saved in `other` */
static pool_chunk *pool_head;
static char *pool_cur, *pool_end;
typedef struct pool_state {
  pool_chunk *head;
  char *cur, *end;
} pool_state;
static pool_state other; /* the main pool while in a scratch scope */
static int scratch_depth;
/* the scratch pool's first chunk, kept (zeroed again) between scopes:
 * thousands of scopes must not each calloc - and so clear - a chunk */
static pool_chunk *scratch_keep;

static void
pool_oom(void)
{
  fprintf(stderr, "plumbc: out of memory\n");
  exit(1);
}

/* Makes room for at least size bytes at pool_cur. */
static void
pool_grow(size_t size)
{
  size_t want = size > POOL_CHUNK / 4 ? size : POOL_CHUNK;
  pool_chunk *c = calloc(1, sizeof(pool_chunk) + want);
  if (c == NULL)
    pool_oom();
  c->h.next = pool_head;
  c->h.size = want;
  pool_head = c;
  pool_cur = (char *)(c + 1);
  pool_end = pool_cur + want;
}

void *
galloc(size_t size)
{
  const size_t al = _Alignof(max_align_t);
  void *p;
  size = (size + al - 1) & ~(al - 1);
  if (size == 0)
    size = al;
  /* strings (pool_str, gstr) leave pool_cur anywhere: align it first */
  uintptr_t mis = (uintptr_t)pool_cur & (al - 1);
  if (mis != 0)
    pool_cur = pool_end - pool_cur > (ptrdiff_t)(al - mis)
                   ? pool_cur + (al - mis) : pool_end;
  if ((size_t)(pool_end - pool_cur) < size)
    pool_grow(size);
  p = pool_cur;
  pool_cur += size; /* chunks come zeroed from calloc and are never reused */
  return p;
}

static void names_reset(void);

static void
chunks_free(pool_chunk *c)
{
  while (c != NULL) {
    pool_chunk *n = c->h.next;
    free(c);
    c = n;
  }
}

/* Swaps the current pool with the saved one. */
static void
pool_swap(void)
{
  pool_state s = { pool_head, pool_cur, pool_end };
  pool_head = other.head;
  pool_cur = other.cur;
  pool_end = other.end;
  other = s;
}

void
gpool_scratch_begin(void)
{
  if (scratch_depth++ != 0)
    return;
  pool_swap(); /* other = main; current = an empty scratch pool */
  if (scratch_keep != NULL) {
    scratch_keep->h.next = NULL;
    pool_head = scratch_keep;
    pool_cur = (char *)(scratch_keep + 1);
    pool_end = pool_cur + scratch_keep->h.size;
  }
}

void
gpool_scratch_end(void)
{
  if (scratch_depth == 0 || --scratch_depth != 0)
    return;
  /* free every chunk but the first; clear what was used of that one */
  pool_chunk *first = pool_head;
  while (first != NULL && first->h.next != NULL) {
    pool_chunk *n = first->h.next;
    free(first);
    first = n;
  }
  if (first != NULL) {
    char *start = (char *)(first + 1);
    size_t used = first == pool_head ? (size_t)(pool_cur - start)
                                     : first->h.size;
    memset(start, 0, used);
  }
  scratch_keep = first;
  pool_head = NULL;
  pool_cur = pool_end = NULL;
  pool_swap();
  other.head = NULL;
  other.cur = other.end = NULL;
}

/* Runs with the main pool current (a no-op outside scratch scopes). */
#define IN_MAIN_POOL(stmt)                                                   \
  do {                                                                       \
    if (scratch_depth != 0)                                                  \
      pool_swap();                                                           \
    stmt;                                                                    \
    if (scratch_depth != 0)                                                  \
      pool_swap();                                                           \
  } while (0)

const char *
gpersist(const char *s)
{
  const char *r;
  IN_MAIN_POOL(r = gstr("%s", s));
  return r;
}

void
back_pool_free(void)
{
  if (scratch_depth != 0) { /* an error path left a scope open */
    scratch_keep = NULL; /* it is in the list freed here */
    chunks_free(pool_head);
    pool_swap();
    other.head = NULL;
    other.cur = other.end = NULL;
    scratch_depth = 0;
  }
  free(scratch_keep);
  scratch_keep = NULL;
  gfmt_free(&fmtbuf);
  gfmt_free(&keybuf);
  chunks_free(pool_head);
  pool_head = NULL;
  pool_cur = pool_end = NULL;
  names_reset();
}

/* Strings need no alignment: packed after each other in the chunk. */
static char *
pool_str(size_t len)
{
  char *s;
  if ((size_t)(pool_end - pool_cur) < len + 1)
    pool_grow(len + 1);
  s = pool_cur;
  pool_cur += len + 1;
  return s;
}

char *
gstr(const char *fmt, ...)
{
  va_list ap;
  fmtbuf.len = 0;
  va_start(ap, fmt);
  long n = gfmt_vappend(&fmtbuf, fmt, ap);
  va_end(ap);
  if (n < 0)
    pool_oom();
  char *s = pool_str((size_t)n);
  memcpy(s, fmtbuf.p, (size_t)n + 1);
  return s;
}

/* ---- diagnostics and output ------------------------------------------------ */

int back_errors;

void
back_error(const idl_loc *loc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt); /* same format (and caret line) as the front end */
  diag_vreport(DIAG_ERROR, loc, fmt, ap);
  va_end(ap);
  back_errors++;
}

int
gout_open(gout *o, const gen_options *opt, const char *suffix)
{
  o->path = gstr("%s/%s%s", opt->outdir, opt->base, suffix);
  o->err = 0;
  o->mem = false;
  memset(&o->buf, 0, sizeof o->buf); /* a closed gout has none */
  o->f = fopen(o->path, "w");
  if (o->f == NULL) {
    fprintf(stderr, "plumbc: cannot write %s: %s\n", o->path, strerror(errno));
    back_errors++;
    return -1;
  }
  return 0;
}

/* Whole files are megabytes: text is formatted straight into o->buf and
 * written a quarter of a megabyte at a time (one copy, not stdio's two). */
enum { GOUT_BLOCK = 1 << 18 };

static void
gout_flush(gout *o)
{
  if (o->buf.len != 0 && o->err == 0 &&
      fwrite(o->buf.p, 1, o->buf.len, o->f) != o->buf.len)
    o->err = errno ? errno : EIO;
  o->buf.len = 0;
}

void
gout_printf(gout *o, const char *fmt, ...)
{
  va_list ap;
  if (o->f == NULL && !o->mem)
    return;
  va_start(ap, fmt);
  long n = gfmt_vappend(&o->buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    o->err = ENOMEM;
  if (!o->mem && o->buf.len >= GOUT_BLOCK)
    gout_flush(o);
}

void
gout_open_mem(gout *o)
{
  memset(o, 0, sizeof *o);
  o->mem = true;
}

void
gout_append(gout *o, gout *mem)
{
  if (mem->err && o->err == 0)
    o->err = mem->err;
  if (o->f != NULL && mem->buf.len != 0) {
    gout_flush(o);
    if (o->err == 0 &&
        fwrite(mem->buf.p, 1, mem->buf.len, o->f) != mem->buf.len)
      o->err = errno ? errno : EIO;
  }
  gfmt_free(&mem->buf);
  mem->mem = false;
}

int
gout_close(gout *o)
{
  int rc = 0;
  if (o->f == NULL)
    return -1;
  gout_flush(o);
  gfmt_free(&o->buf);
  if (fclose(o->f) != 0 && o->err == 0)
    o->err = errno ? errno : EIO;
  o->f = NULL;
  if (o->err) {
    fprintf(stderr, "plumbc: error writing %s: %s\n", o->path,
            strerror(o->err));
    back_errors++;
    rc = -1;
  }
  return rc;
}

/* ---- names ----------------------------------------------------------------- */

static const char *const c_keywords[] = {
  "auto", "bool", "break", "case", "char", "const", "continue", "default",
  "do", "double", "else", "enum", "extern", "false", "float", "for", "goto",
  "if", "inline", "int", "long", "register", "restrict", "return", "short",
  "signed", "sizeof", "static", "struct", "switch", "true", "typedef",
  "union", "unsigned", "void", "volatile", "while", "errno", "assert",
  "NULL", "offsetof", "complex", "imaginary", "noreturn", "typeof",
  /* C++ keywords: the headers compile as C++ too */
  "alignas", "alignof", "and", "and_eq", "asm", "bitand", "bitor", "catch",
  "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "consteval",
  "constexpr", "constinit", "const_cast", "co_await", "co_return",
  "co_yield", "decltype", "delete", "dynamic_cast", "explicit", "export",
  "friend", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
  "nullptr", "operator", "or", "or_eq", "private", "protected", "public",
  "reinterpret_cast", "requires", "static_assert", "static_cast", "template",
  "this", "thread_local", "throw", "try", "typeid", "typename", "using",
  "virtual", "wchar_t", "xor", "xor_eq",
  "base", /* every message struct starts with ProtobufCMessage base */
  NULL
};

static bool is_c_keyword(const char *s);

const char *
cident(const char *name)
{
  if (is_c_keyword(name))
    return gstr("_%s", name);
  if (name[0] == '_') /* reserved by the mapping (_d, _ret, _case...) */
    return gstr("_%s", name);
  return name;
}

/* Only C keywords escaped ("_default"): op names in ops structs. */
const char *
ckeyword(const char *name)
{
  if (is_c_keyword(name))
    return gstr("_%s", name);
  return name;
}

static void
path_of(const idl_node *n, const idl_node **v, size_t *k)
{
  size_t m = 0;
  const idl_node *p;
  for (p = n; p != NULL && p->kind != IDL_ROOT; p = p->parent)
    m++;
  *k = m;
  for (p = n; p != NULL && p->kind != IDL_ROOT; p = p->parent)
    v[--m] = p;
}

#define MAX_DEPTH 64

static const char *
join_path(const idl_node *n, const char *sep, size_t skip)
{
  const idl_node *v[MAX_DEPTH];
  size_t k, len = 1;
  char *s;
  path_of(n, v, &k);
  for (size_t i = skip; i < k; i++)
    len += strlen(v[i]->name) + strlen(sep);
  {
    size_t seplen = strlen(sep), at = 0;
    s = pool_str(len - 1);
    for (size_t i = skip; i < k; i++) {
      size_t l = strlen(v[i]->name);
      if (i > skip) {
        memcpy(s + at, sep, seplen);
        at += seplen;
      }
      memcpy(s + at, v[i]->name, l);
      at += l;
    }
    s[at] = '\0';
  }
  return s;
}

/* Names asked for again and again (every reference to a type, every
 * operation of an interface) are computed once: node -> C name, in an
 * open-addressing table of the pool's lifetime. */
static struct name_slot {
  const idl_node *n;
  const char *s;
} *names;
static size_t names_cap, names_n;

static void
names_reset(void)
{
  free(names);
  names = NULL;
  names_cap = names_n = 0;
}

size_t
node_hash(const idl_node *n, size_t cap)
{
  uintptr_t h = (uintptr_t)n;
  h ^= h >> 17;
  h *= (uintptr_t)0x9e3779b97f4a7c15ull;
  return (size_t)(h >> 7) & (cap - 1);
}

static struct name_slot *
name_slot(const idl_node *n)
{
  size_t i;
  if (names_n * 2 >= names_cap) {
    size_t cap = names_cap ? names_cap * 2 : 4096;
    struct name_slot *v = calloc(cap, sizeof *v);
    if (v == NULL)
      pool_oom();
    for (size_t j = 0; j < names_cap; j++) {
      if (names[j].n == NULL)
        continue;
      i = node_hash(names[j].n, cap);
      while (v[i].n != NULL)
        i = (i + 1) & (cap - 1);
      v[i] = names[j];
    }
    free(names);
    names = v;
    names_cap = cap;
  }
  i = node_hash(n, names_cap);
  while (names[i].n != NULL && names[i].n != n)
    i = (i + 1) & (names_cap - 1);
  return &names[i];
}

static bool
is_c_keyword(const char *s)
{
  /* no keyword is longer than 16 or starts with anything but a letter */
  size_t len = strnlen(s, 17);
  if (len > 16 || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
    return false;
  for (size_t i = 0; c_keywords[i] != NULL; i++)
    if (c_keywords[i][0] == s[0] && strcmp(s, c_keywords[i]) == 0)
      return true;
  return false;
}

/* Flattened C name; a top-level IDL name that is a C keyword or reserved
 * name (`register`, `int`, `NULL`) gets a trailing underscore. */
const char *
cname(const idl_node *n)
{
  struct name_slot *sl = name_slot(n);
  const char *s;
  if (sl->n == n)
    return sl->s;
  IN_MAIN_POOL(s = join_path(n, "_", 0);
               if (is_c_keyword(s)) s = gstr("%s_", s));
  sl->n = n;
  sl->s = s;
  names_n++;
  return s;
}

/* The front end's id (honours #pragma prefix/ID/version, typeid,
 * typeprefix); the plain default for hand-built trees. */
const char *
repo_id(const idl_node *n)
{
  if (n->repo_id != NULL)
    return n->repo_id;
  return gstr("IDL:%s:1.0", join_path(n, "/", 0));
}

uint32_t
fnv1a(const char *s)
{
  uint32_t h = 2166136261u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

bool
node_main(const idl_node *n)
{
  return (n->flags & IDL_F_INCLUDED) == 0;
}

const char *
file_base(const char *path)
{
  const char *b = strrchr(path, '/');
  char *s;
  size_t len;
  b = b ? b + 1 : path;
  len = strlen(b);
  if (len > 4 && strcmp(b + len - 4, ".idl") == 0)
    len -= 4;
  s = galloc(len + 1);
  memcpy(s, b, len);
  return s;
}

const char *
c_string_lit(const char *s)
{
  size_t len = 3;
  char *r, *p;
  for (const char *q = s; *q; q++)
    len += 4;
  r = p = galloc(len);
  *p++ = '"';
  for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
    if (*q == '"' || *q == '\\') {
      *p++ = '\\';
      *p++ = (char)*q;
    } else if (*q < 0x20 || *q >= 0x7f) {
      sprintf(p, "\\%03o", *q);
      p += 4;
    } else {
      *p++ = (char)*q;
    }
  }
  *p++ = '"';
  return r;
}

/* ---- proto packages ---------------------------------------------------------
 * The package of a file is the longest chain of modules that encloses every
 * non-module declaration the file makes at module level ("calc", "a.b", or
 * "" when the file declares in several unrelated modules). */

static const idl_tree *proto_tree;
typedef struct pkg_cache {
  const char *file;
  size_t depth;  /* number of leading modules in the package */
  const idl_node *sample; /* a declaration giving the module names */
} pkg_cache;
static pkg_cache pkgs[64];
static size_t npkgs;

void
proto_set_tree(const idl_tree *t)
{
  proto_tree = t;
  npkgs = 0;
}

static size_t
module_depth(const idl_node *n)
{
  const idl_node *v[MAX_DEPTH];
  size_t k, d = 0;
  path_of(n, v, &k);
  while (d + 1 < k && v[d]->kind == IDL_MODULE)
    d++;
  return d;
}

static void
scan_pkg(const idl_node *scope, const char *file, pkg_cache *pc)
{
  for (const idl_node *c = scope->children; c != NULL; c = c->next) {
    if (c->kind == IDL_MODULE) {
      scan_pkg(c, file, pc);
      continue;
    }
    if (c->loc.file == NULL || strcmp(c->loc.file, file) != 0)
      continue;
    {
      const idl_node *a[MAX_DEPTH], *b[MAX_DEPTH];
      size_t ka, kb, d = module_depth(c), i = 0;
      if (pc->sample == NULL) {
        pc->sample = c;
        pc->depth = d;
        continue;
      }
      path_of(pc->sample, a, &ka);
      path_of(c, b, &kb);
      while (i < pc->depth && i < d && strcmp(a[i]->name, b[i]->name) == 0)
        i++;
      pc->depth = i;
    }
  }
}

static const pkg_cache *
pkg_for(const idl_node *n)
{
  const char *file = n->loc.file ? n->loc.file : "";
  for (size_t i = 0; i < npkgs; i++)
    if (strcmp(pkgs[i].file, file) == 0)
      return &pkgs[i];
  if (npkgs == sizeof pkgs / sizeof pkgs[0])
    npkgs = 0; /* absurd number of files: recompute */
  pkgs[npkgs].file = file;
  pkgs[npkgs].depth = 0;
  pkgs[npkgs].sample = NULL;
  if (proto_tree != NULL)
    scan_pkg(proto_tree->root, file, &pkgs[npkgs]);
  if (pkgs[npkgs].sample == NULL) {
    pkgs[npkgs].sample = n;
    pkgs[npkgs].depth = module_depth(n);
  }
  return &pkgs[npkgs++];
}

/* The top-level declaration (not a module) that encloses n. */
static const idl_node *
decl_anchor(const idl_node *n)
{
  while (n->parent != NULL && n->parent->kind != IDL_MODULE &&
         n->parent->kind != IDL_ROOT)
    n = n->parent;
  return n;
}

const char *
proto_package(const idl_node *n)
{
  const pkg_cache *pc = pkg_for(decl_anchor(n));
  const idl_node *v[MAX_DEPTH];
  size_t k, len = 1;
  char *s;
  path_of(pc->sample, v, &k);
  for (size_t i = 0; i < pc->depth; i++)
    len += strlen(v[i]->name) + 1;
  s = galloc(len);
  for (size_t i = 0; i < pc->depth; i++) {
    if (i)
      strcat(s, ".");
    strcat(s, v[i]->name);
  }
  return s;
}

const char *
proto_local(const idl_node *n)
{
  const pkg_cache *pc = pkg_for(decl_anchor(n));
  return join_path(n, "_", pc->depth);
}

/* Enumerators live in the scope enclosing their enum, in IDL as in proto3:
 * module-level enum Color { RED } gives RED, one inside interface I gives
 * I_RED. */
const char *
proto_enumerator(const idl_node *e)
{
  const idl_node *en = e->parent;
  const char *pl = proto_local(en);
  size_t k = strlen(pl) - strlen(en->name);
  return gstr("%.*s%s", (int)k, pl, e->name);
}

const char *
proto_full(const idl_node *n)
{
  const char *pkg = proto_package(n);
  return *pkg ? gstr("%s.%s", pkg, proto_local(n)) : proto_local(n);
}

/* ---- shapes ------------------------------------------------------------------ */

static uint64_t
dims_product(const uint64_t *dims, size_t n)
{
  uint64_t p = 1;
  for (size_t i = 0; i < n; i++)
    p *= dims[i];
  return p;
}

/* Is t (through typedefs without dims) sequence<octet>'s element octet? */
static bool
is_octet(const idl_type *t)
{
  while (t->kind == IDL_T_NAMED && t->ref != NULL &&
         t->ref->kind == IDL_TYPEDEF && t->ref->ndims == 0)
    t = t->ref->type;
  return t->kind == IDL_T_OCTET;
}

int
shape_of(const idl_type *t, const uint64_t *dims, size_t ndims,
         const idl_loc *loc, gshape *out)
{
  return shape_of_owned(t, dims, ndims, loc, NULL, out);
}

int
shape_of_owned(const idl_type *t, const uint64_t *dims, size_t ndims,
               const idl_loc *loc, const gowner *owner, gshape *out)
{
  const idl_node *last_td = NULL, *rep_td = NULL;
  const idl_type *elem_start = t;

  memset(out, 0, sizeof *out);
  if (loc != NULL)
    out->loc = *loc;
  out->rep = ndims ? REP_ARRAY : REP_NONE;
  out->count = dims_product(dims, ndims);
  for (;;) {
    if (t->kind == IDL_T_NAMED && t->ref != NULL &&
        t->ref->kind == IDL_TYPEDEF) {
      const idl_node *td = t->ref;
      if (td->ndims) {
        if (out->rep == REP_SEQ)
          goto nested;
        if (out->rep == REP_NONE)
          rep_td = td;
        out->count = (out->rep == REP_ARRAY ? out->count : 1) *
                     dims_product(td->dims, td->ndims);
        out->rep = REP_ARRAY;
        elem_start = td->type;
      } else if (out->rep == REP_NONE) {
        last_td = td;
      }
      t = td->type;
      continue;
    }
    if (t->kind == IDL_T_SEQUENCE) {
      if (is_octet(t->elem)) {
        out->base = B_BYTES;
        out->bound = t->bound;
        return 0;
      }
      if (out->rep != REP_NONE)
        goto nested;
      rep_td = last_td;
      out->rep = REP_SEQ;
      out->seq_bound = t->bound;
      t = t->elem;
      elem_start = t;
      continue;
    }
    break;
  }
  switch (t->kind) {
  case IDL_T_BOOLEAN: out->base = B_BOOL; break;
  case IDL_T_CHAR: out->base = B_CHAR; break;
  case IDL_T_WCHAR: out->base = B_WCHAR; break;
  case IDL_T_OCTET: out->base = B_OCTET; break;
  case IDL_T_INT8: out->base = B_INT8; break;
  case IDL_T_UINT8: out->base = B_UINT8; break;
  case IDL_T_SHORT: out->base = B_SHORT; break;
  case IDL_T_USHORT: out->base = B_USHORT; break;
  case IDL_T_LONG: out->base = B_LONG; break;
  case IDL_T_ULONG: out->base = B_ULONG; break;
  case IDL_T_LLONG: out->base = B_LLONG; break;
  case IDL_T_ULLONG: out->base = B_ULLONG; break;
  case IDL_T_FLOAT: out->base = B_FLOAT; break;
  case IDL_T_DOUBLE: out->base = B_DOUBLE; break;
  case IDL_T_STRING: out->base = B_STRING; out->bound = t->bound; break;
  case IDL_T_WSTRING: out->base = B_WSTRING; out->bound = t->bound; break;
  case IDL_T_ANY: out->base = B_ANY; break;
  case IDL_T_VALUEBASE: out->base = B_ANY; break;
  case IDL_T_OBJECT: out->base = B_OBJREF; break;
  case IDL_T_LDOUBLE: /* lossless text: "%La" hex float (IDL-MAPPING.md) */
    out->base = B_STRING;
    out->bound = 64;
    break;
  case IDL_T_FIXED: /* decimal text "-123.45": sign, digits, point */
    out->base = B_STRING;
    out->bound = t->bound ? t->bound + 3 : 34;
    break;
  case IDL_T_NAMED: {
    const idl_node *r = t->ref;
    if (r == NULL)
      goto bad;
    switch (r->kind) {
    case IDL_STRUCT: case IDL_UNION: case IDL_EXCEPTION:
      out->base = B_MSG; out->decl = r; break;
    case IDL_ENUM: out->base = B_ENUM; out->decl = r; break;
    case IDL_INTERFACE: case IDL_FORWARD:
      out->base = B_OBJREF; out->decl = iface_of(r); break;
    case IDL_BITMASK:
      out->base = r->bit_bound > 32 ? B_ULLONG : B_ULONG; break;
    case IDL_BITSET:
      out->base = B_ULLONG; break; /* packed: NAME_pack / NAME_unpack */
    case IDL_NATIVE:
      back_error(&out->loc, "native type '%s' cannot be marshalled; use it "
                 "only in local interfaces", r->name);
      return -1;
    default:
      goto bad;
    }
    break;
  }
  default:
    goto bad;
  }
  return 0;
nested:
  /* The element is itself repeated: carry each element in a one-field
   * message named after the typedef that declares the outer repetition,
   * or after the member/parameter being shaped. */
  out->base = B_WRAP;
  out->elem_type = elem_start;
  if (rep_td != NULL) {
    out->wrap = gstr("%s__item", cname(rep_td));
    out->wrap_pkg = proto_package(rep_td);
    out->wrap_plocal = gstr("%s_Item", proto_local(rep_td));
    out->wrap_owned = owner != NULL && owner->c != NULL &&
                      strcmp(owner->c, cname(rep_td)) == 0;
  } else if (owner != NULL) {
    out->wrap = gstr("%s__item", owner->c);
    out->wrap_pkg = owner->pkg;
    out->wrap_plocal = gstr("%s_Item", owner->plocal);
    out->wrap_owned = true;
  } else {
    back_error(loc, "sequences and arrays of sequences or arrays are not "
                    "supported here");
    return -1;
  }
  return 0;
bad:
  back_error(loc, "type cannot be mapped to C");
  return -1;
}

bool
base_is_scalar(gbase b)
{
  return b <= B_DOUBLE || b == B_ENUM;
}

bool
shape_has_ptr(const gshape *s)
{
  return s->rep != REP_NONE || !base_is_scalar(s->base);
}

const char *
base_field_ctype(const gshape *s)
{
  switch (s->base) {
  case B_BOOL: return "protobuf_c_boolean";
  case B_CHAR: case B_INT8: case B_SHORT: case B_LONG: return "int32_t";
  case B_WCHAR: case B_OCTET: case B_UINT8: case B_USHORT: case B_ULONG:
    return "uint32_t";
  case B_LLONG: return "int64_t";
  case B_ULLONG: return "uint64_t";
  case B_FLOAT: return "float";
  case B_DOUBLE: return "double";
  case B_STRING: case B_WSTRING: return "char *";
  case B_BYTES: return "ProtobufCBinaryData";
  case B_MSG: return gstr("%s *", cname(s->decl));
  case B_ENUM: return cname(s->decl);
  case B_ANY: return "plumb_any *";
  case B_OBJREF: return "plumb_objref *";
  case B_WRAP: return gstr("%s *", s->wrap);
  }
  return "void";
}

const char *
base_api_ctype(const gshape *s)
{
  switch (s->base) {
  case B_BOOL: return "bool";
  case B_CHAR: return "char";
  case B_WCHAR: return "uint32_t";
  case B_OCTET: case B_UINT8: return "uint8_t";
  case B_INT8: return "int8_t";
  case B_SHORT: return "int16_t";
  case B_USHORT: return "uint16_t";
  case B_LONG: return "int32_t";
  case B_ULONG: return "uint32_t";
  case B_LLONG: return "int64_t";
  case B_ULLONG: return "uint64_t";
  case B_FLOAT: return "float";
  case B_DOUBLE: return "double";
  case B_STRING: case B_WSTRING: return "char *";
  case B_BYTES: return "ProtobufCBinaryData";
  case B_MSG: return cname(s->decl);
  case B_ENUM: return cname(s->decl);
  case B_ANY: return "plumb_any";
  case B_OBJREF: return "plumb_objref";
  case B_WRAP: return s->wrap;
  }
  return "void";
}

const char *
base_pbtype(gbase b)
{
  switch (b) {
  case B_BOOL: return "BOOL";
  case B_CHAR: case B_INT8: case B_SHORT: case B_LONG: return "INT32";
  case B_WCHAR: case B_OCTET: case B_UINT8: case B_USHORT: case B_ULONG:
    return "UINT32";
  case B_LLONG: return "INT64";
  case B_ULLONG: return "UINT64";
  case B_FLOAT: return "FLOAT";
  case B_DOUBLE: return "DOUBLE";
  case B_STRING: case B_WSTRING: return "STRING";
  case B_BYTES: return "BYTES";
  case B_ENUM: return "ENUM";
  case B_MSG: case B_ANY: case B_OBJREF: case B_WRAP: return "MESSAGE";
  }
  return "INT32";
}

const char *
base_proto_type(const gshape *s)
{
  switch (s->base) {
  case B_MSG: case B_ENUM: return gstr(".%s", proto_full(s->decl));
  case B_ANY: return "google.protobuf.Any";
  case B_OBJREF: return "plumb.ObjRef";
  case B_WRAP:
    return *s->wrap_pkg ? gstr(".%s.%s", s->wrap_pkg, s->wrap_plocal)
                        : gstr(".%s", s->wrap_plocal);
  default: {
    /* Scalars: the .proto keyword is protobuf-c's type name in lower case
     * (INT32 -> int32, BYTES -> bytes), so the two mappings cannot drift. */
    const char *pb = base_pbtype(s->base);
    char *kw = gstr("%s", pb);
    for (char *c = kw; *c; c++)
      if (*c >= 'A' && *c <= 'Z')
        *c = (char)(*c - 'A' + 'a');
    return kw;
  }
  }
}

/* ---- interfaces and operations ------------------------------------------ */

const idl_node *
iface_of(const idl_node *n)
{
  if (n != NULL && n->kind == IDL_FORWARD)
    return n->definition;
  return n;
}

static int
param_init(gparam *p, const char *name, const char *pname, idl_dir dir,
           const idl_type *type, const idl_loc *loc, const char *anon,
           const idl_node *iface, const char *opname)
{
  gowner ow;
  p->name = name;
  p->pname = pname;
  p->dir = dir;
  p->type = type;
  ow.c = gstr("%s_%s_%s", cname(iface), opname, pname);
  ow.pkg = proto_package(iface);
  ow.plocal = gstr("%s_%s_%s", proto_local(iface), opname, pname);
  if (shape_of_owned(type, NULL, 0, loc, &ow, &p->sh) != 0)
    return -1;
  if (p->sh.rep != REP_NONE || p->sh.base == B_BYTES) {
    if (type->kind == IDL_T_NAMED && type->ref != NULL &&
        type->ref->kind == IDL_TYPEDEF)
      p->api = cname(type->ref);
    else
      p->api = anon;
  }
  return 0;
}

gop *
iface_own_ops(const idl_node *iface, size_t *n)
{
  size_t cnt = 0, i = 0;
  gop *ops;
  for (const idl_node *c = iface->children; c != NULL; c = c->next) {
    if (c->kind == IDL_OPERATION)
      cnt++;
    else if (c->kind == IDL_ATTRIBUTE)
      cnt += (c->flags & IDL_F_READONLY) ? 1 : 2;
  }
  ops = galloc(sizeof(gop) * (cnt ? cnt : 1));
  for (const idl_node *c = iface->children; c != NULL; c = c->next) {
    const char *icn = cname(iface);
    if (c->kind == IDL_OPERATION) {
      gop *o = &ops[i];
      size_t np = 0, k = 0;
      o->node = c;
      o->iface = iface;
      o->name = c->name;
      o->kind = GOP_OP;
      o->decl_index = (unsigned)i;
      o->oneway = (c->flags & IDL_F_ONEWAY) != 0;
      for (const idl_node *p = c->children; p != NULL; p = p->next)
        if (p->kind == IDL_PARAM)
          np++;
      o->p = galloc(sizeof(gparam) * (np ? np : 1));
      o->np = np;
      for (const idl_node *p = c->children; p != NULL; p = p->next)
        if (p->kind == IDL_PARAM)
          param_init(&o->p[k++], cident(p->name), p->name, p->dir, p->type,
                     &p->loc, gstr("%s_%s_%s_seq", icn, c->name, p->name),
                     iface, c->name);
      if (c->type != NULL && c->type->kind != IDL_T_VOID) {
        o->has_ret = true;
        param_init(&o->ret, "_ret", "_ret", IDL_OUT, c->type, &c->loc,
                   gstr("%s_%s_ret_seq", icn, c->name), iface, c->name);
      }
      i++;
    } else if (c->kind == IDL_ATTRIBUTE) {
      gop *o = &ops[i];
      o->node = c;
      o->iface = iface;
      o->name = gstr("_get_%s", c->name);
      o->kind = GOP_GET;
      o->decl_index = (unsigned)i;
      o->has_ret = true;
      o->p = NULL;
      o->np = 0;
      param_init(&o->ret, "_ret", "_ret", IDL_OUT, c->type, &c->loc,
                 gstr("%s_%s_seq", icn, c->name), iface, o->name);
      i++;
      if (!(c->flags & IDL_F_READONLY)) {
        o = &ops[i];
        o->node = c;
        o->iface = iface;
        o->name = gstr("_set_%s", c->name);
        o->kind = GOP_SET;
        o->decl_index = (unsigned)i;
        o->p = galloc(sizeof(gparam));
        o->np = 1;
        param_init(&o->p[0], "value", "value", IDL_IN, c->type, &c->loc,
                   gstr("%s_%s_seq", icn, c->name), iface, o->name);
        i++;
      }
    }
  }
  for (i = 0; i < cnt; i++) {
    ops[i].req = gstr("%s_%s__request", cname(iface), ops[i].name);
    ops[i].rep = gstr("%s_%s__reply", cname(iface), ops[i].name);
  }
  *n = cnt;
  return ops;
}

/* ---- messages ------------------------------------------------------------ */

/* protoc rejects two fields whose JSON names match ignoring case: that is,
 * names equal once underscores are dropped and letters lowered.  A
 * reserved field (_d, _ret) that would clash with a user field gets a
 * numbered proto name (_d_1, ...); its C name stays. */
static bool
json_clash(const char *a, const char *b)
{
  for (;;) {
    while (*a == '_')
      a++;
    while (*b == '_')
      b++;
    if (*a == '\0' || *b == '\0')
      return *a == *b;
    if ((*a | 0x20) != (*b | 0x20))
      return false;
    a++, b++;
  }
}

static void
dedupe_reserved(gmsg *m, size_t reserved)
{
  const char *base = m->f[reserved].pname;
  for (unsigned k = 1;; k++) {
    bool clash = false;
    for (size_t i = 0; i < m->nf; i++)
      if (i != reserved && json_clash(m->f[reserved].pname, m->f[i].pname))
        clash = true;
    if (!clash)
      return;
    m->f[reserved].pname = gstr("%s_%u", base, k);
  }
}

static void
msg_names(gmsg *m, const char *cn, const idl_node *anchor, const char *local)
{
  m->cname = cn;
  m->pkg = proto_package(anchor);
  m->pshort = local;
  m->pfull = *m->pkg ? gstr("%s.%s", m->pkg, local) : local;
}

int
msg_of_decl(const idl_node *n, gmsg *m)
{
  size_t cnt = 0, i = 0;
  int rc = 0;
  memset(m, 0, sizeof *m);
  msg_names(m, cname(n), n, proto_local(n));
  m->node = n;
  m->is_union = n->kind == IDL_UNION;
  for (const idl_node *c = n->children; c != NULL; c = c->next)
    cnt++;
  m->f = galloc(sizeof(gfield) * (cnt + 1));
  if (m->is_union) {
    gfield *f = &m->f[i++];
    f->name = "_d";
    f->pname = "_d";
    f->id = 1;
    rc |= shape_of(n->type, NULL, 0, &n->loc, &f->sh);
  }
  for (const idl_node *c = n->children; c != NULL; c = c->next) {
    gfield *f;
    if (c->kind != IDL_MEMBER && c->kind != IDL_CASE)
      continue;
    f = &m->f[i++];
    f->name = cident(c->name);
    f->pname = c->name;
    f->id = c->field_id;
    f->src = c;
    {
      gowner ow;
      ow.c = gstr("%s_%s", m->cname, c->name);
      ow.pkg = m->pkg;
      ow.plocal = gstr("%s_%s", m->pshort, c->name);
      rc |= shape_of_owned(c->type, c->dims, c->ndims, &c->loc, &ow, &f->sh);
    }
    if ((c->flags & IDL_F_OPTIONAL) && f->sh.rep == REP_NONE)
      f->optional = true;
    if (c->kind == IDL_CASE) {
      f->optional = false;
      f->oneof = f->sh.rep == REP_NONE;
    }
  }
  m->nf = i;
  if (m->is_union)
    dedupe_reserved(m, 0);
  /* n_x / has_x companions must not collide with another member */
  for (size_t a = 0; a < m->nf; a++) {
    const gfield *fa = &m->f[a];
    const char *comp = NULL;
    if (fa->sh.rep != REP_NONE)
      comp = gstr("n_%s", fa->name);
    else if (fa->optional && (base_is_scalar(fa->sh.base) || fa->sh.base == B_BYTES))
      comp = gstr("has_%s", fa->name);
    if (comp == NULL)
      continue;
    for (size_t b = 0; b < m->nf; b++)
      if (strcmp(m->f[b].name, comp) == 0) {
        back_error(m->f[b].src ? &m->f[b].src->loc : &n->loc,
                   "member '%s' collides with the C field '%s' generated for "
                   "'%s'; rename one of them", m->f[b].pname, comp, fa->pname);
        rc = -1;
      }
  }
  return rc ? -1 : 0;
}

int
msg_of_request(const gop *op, gmsg *m)
{
  uint32_t id = 1;
  memset(m, 0, sizeof *m);
  msg_names(m, op->req, op->iface,
            gstr("%s_%s_Request", proto_local(op->iface), op->name));
  m->node = op->node;
  m->f = galloc(sizeof(gfield) * (op->np + 1));
  for (size_t i = 0; i < op->np; i++) {
    gfield *f;
    if (op->p[i].dir == IDL_OUT)
      continue;
    f = &m->f[m->nf++];
    f->name = op->p[i].name;
    f->pname = op->p[i].pname;
    f->id = id++;
    f->sh = op->p[i].sh;
  }
  return 0;
}

int
msg_of_reply(const gop *op, gmsg *m)
{
  uint32_t id = 1;
  memset(m, 0, sizeof *m);
  msg_names(m, op->rep, op->iface,
            gstr("%s_%s_Reply", proto_local(op->iface), op->name));
  m->node = op->node;
  m->f = galloc(sizeof(gfield) * (op->np + 2));
  if (op->has_ret) {
    gfield *f = &m->f[m->nf++];
    f->name = "_ret";
    f->pname = "_ret";
    f->id = id++;
    f->sh = op->ret.sh;
  }
  for (size_t i = 0; i < op->np; i++) {
    gfield *f;
    if (op->p[i].dir == IDL_IN)
      continue;
    f = &m->f[m->nf++];
    f->name = op->p[i].name;
    f->pname = op->p[i].pname;
    f->id = id++;
    f->sh = op->p[i].sh;
  }
  if (op->has_ret)
    dedupe_reserved(m, 0);
  return 0;
}

bool
include_seen(const idl_tree *t, size_t i)
{
  for (size_t k = 0; k < i; k++)
    if (strcmp(file_base(t->includes[k]), file_base(t->includes[i])) == 0)
      return true;
  return false;
}

int
msg_of_wrap(const gshape *s, gmsg *m)
{
  gowner ow;
  memset(m, 0, sizeof *m);
  m->cname = s->wrap;
  m->pkg = s->wrap_pkg;
  m->pshort = s->wrap_plocal;
  m->pfull = *m->pkg ? gstr("%s.%s", m->pkg, m->pshort) : m->pshort;
  m->f = galloc(sizeof(gfield));
  m->nf = 1;
  m->f[0].name = "v";
  m->f[0].pname = "v";
  m->f[0].id = 1;
  ow.c = gstr("%s_v", s->wrap);
  ow.pkg = s->wrap_pkg;
  ow.plocal = gstr("%s_v", s->wrap_plocal);
  return shape_of_owned(s->elem_type, NULL, 0, &s->loc, &ow, &m->f[0].sh);
}

void
for_owned_wraps(const gshape *s, void (*fn)(const gmsg *m))
{
  gmsg m;
  if (s->base != B_WRAP || !s->wrap_owned)
    return;
  if (msg_of_wrap(s, &m) != 0)
    return;
  for_owned_wraps(&m.f[0].sh, fn);
  fn(&m);
}

/* ---- spelling IDL (diagnostics, comments) ---------------------------- */

const char *
g_scoped(const idl_node *n)
{
  char *s = idl_scoped_name(n);
  const char *r = gstr("%s", s ? (strncmp(s, "::", 2) == 0 ? s + 2 : s) : "?");
  free(s);
  return r;
}

const char *
g_type_text(const idl_type *t)
{
  static const char *const names[] = {
    [IDL_T_VOID] = "void", [IDL_T_BOOLEAN] = "boolean", [IDL_T_CHAR] = "char",
    [IDL_T_WCHAR] = "wchar", [IDL_T_OCTET] = "octet", [IDL_T_INT8] = "int8",
    [IDL_T_UINT8] = "uint8", [IDL_T_SHORT] = "short",
    [IDL_T_USHORT] = "unsigned short", [IDL_T_LONG] = "long",
    [IDL_T_ULONG] = "unsigned long", [IDL_T_LLONG] = "long long",
    [IDL_T_ULLONG] = "unsigned long long", [IDL_T_FLOAT] = "float",
    [IDL_T_DOUBLE] = "double", [IDL_T_ANY] = "any", [IDL_T_OBJECT] = "Object",
  };
  if (t == NULL)
    return "void";
  switch (t->kind) {
  case IDL_T_STRING: case IDL_T_WSTRING: {
    const char *w = t->kind == IDL_T_STRING ? "string" : "wstring";
    return t->bound ? gstr("%s<%" PRIu64 ">", w, t->bound) : w;
  }
  case IDL_T_SEQUENCE:
    return t->bound ? gstr("sequence<%s, %" PRIu64 ">", g_type_text(t->elem),
                           t->bound)
                    : gstr("sequence<%s>", g_type_text(t->elem));
  case IDL_T_NAMED:
    return t->ref ? g_scoped(t->ref) : (t->name ? t->name : "?");
  default:
    return (size_t)t->kind < sizeof names / sizeof names[0] &&
                   names[t->kind] != NULL
               ? names[t->kind]
               : "?";
  }
}

/* ---- sharing identical request/reply messages ---------------------------- */

/* Appends to b (gfmt_vappend's arguments); out of memory is fatal. */
static void
key_append(gfmt_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  long n = gfmt_vappend(b, fmt, ap);
  va_end(ap);
  if (n < 0)
    pool_oom();
}

const char *
msg_key(const gmsg *m)
{
  /* one buffer grown as fields are added (not a string per field) */
  gfmt_buf k = keybuf;
  k.len = 0;
  key_append(&k, "%c", m->is_union ? 'U' : 'M');
  for (size_t i = 0; i < m->nf; i++) {
    const gfield *f = &m->f[i];
    const gshape *h = &f->sh;
    key_append(&k,
               ";%s=%u:%d:%lx:%" PRIu64 ":%d:%" PRIu64 ":%" PRIu64 ":%s:%d%d",
               f->pname, f->id, (int)h->base,
               (unsigned long)(uintptr_t)h->decl, h->bound, h->rep, h->count,
               h->seq_bound, h->wrap ? h->wrap : "", f->optional, f->oneof);
  }
  keybuf = k; /* kept for the next key; freed with the pool */
  return memcpy(pool_str(k.len), k.p, k.len + 1);
}

const char *
gshare_find_or_add(gshare *s, const char *key, const char *name)
{
  size_t i;
  if (s->n * 2 >= s->cap) { /* grow: rehash into twice the slots */
    size_t cap = s->cap ? s->cap * 2 : 256;
    const char **keys, **names;
    IN_MAIN_POOL(keys = galloc(sizeof *keys * cap);
                 names = galloc(sizeof *names * cap));
    for (size_t j = 0; j < s->cap; j++) {
      if (s->keys[j] == NULL)
        continue;
      i = fnv1a(s->keys[j]) & (cap - 1);
      while (keys[i] != NULL)
        i = (i + 1) & (cap - 1);
      keys[i] = s->keys[j];
      names[i] = s->names[j];
    }
    s->keys = keys;
    s->names = names;
    s->cap = cap;
  }
  i = fnv1a(key) & (s->cap - 1);
  while (s->keys[i] != NULL) {
    if (strcmp(s->keys[i], key) == 0)
      return s->names[i];
    i = (i + 1) & (s->cap - 1);
  }
  s->keys[i] = gpersist(key); /* shares outlive scratch scopes */
  s->names[i] = gpersist(name);
  s->n++;
  return NULL;
}
