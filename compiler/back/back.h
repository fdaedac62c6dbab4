/* back.h - shared model of plumbc's back ends (C and .proto generators).
 *
 * The back ends read the checked idl_tree (compiler/front/ast.h) through the
 * small model below: every field of every message is reduced to a "shape"
 * (base type + repetition), every operation and attribute accessor to a
 * gop, and names are derived in one place (C names, proto names, repository
 * ids).  Strings made here live in a pool freed by back_pool_free().  Nothing
 * here writes files except the gout helpers.
 */
#ifndef PLUMBC_BACK_H
#define PLUMBC_BACK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ast.h"
#include "gfmt.h"

#ifndef PLUMBC_VERSION
#define PLUMBC_VERSION "0.1.0"
#endif

typedef struct gen_options {
  const char *outdir; /* "." by default */
  const char *base;   /* output base name, e.g. "calc" */
  const char *idl;    /* the IDL file name as shown in banners */
  bool proto;         /* also write BASE.proto */
} gen_options;

/* Entry points; return 0 or the number of errors (reported on stderr). */
int gen_c(const idl_tree *t, const gen_options *o);
/* What gen_c writes: BASE + each suffix, NULL-terminated. */
extern const char *const gen_c_suffixes[];
int gen_proto(const idl_tree *t, const gen_options *o);
/* gen_meta.c: writes iface's IDL text table into t; returns its C name. */
struct gout;
const char *gen_meta_iface(struct gout *t, const idl_node *iface);
/* plumbc --impl: BASE-impl.c, never over an existing file (gen_impl.c). */
int gen_impl(const idl_tree *t, const gen_options *o);

/* ---- string pool ------------------------------------------------------- */
char *gstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *galloc(size_t size); /* zeroed, pooled */
void back_pool_free(void);
/* Scratch scopes: between gpool_scratch_begin() and gpool_scratch_end()
 * (they nest) gstr/galloc draw from a scratch pool that _end frees, so
 * what one interface or type needs is not kept for the whole run
 * (gen_big_idl.py 20000: 115 MB of strings otherwise).  What must outlive
 * the scope - cname()'s names, gshare keys and names - is allocated from
 * the main pool whatever the scope (gpersist). */
void gpool_scratch_begin(void);
void gpool_scratch_end(void);
const char *gpersist(const char *s); /* s, copied to the main pool */
/* A node's slot in an open-addressing table of cap (a power of two)
 * entries: model.c's names, idl_print.c's sets. */
size_t node_hash(const idl_node *n, size_t cap);

/* ---- output ------------------------------------------------------------- */
typedef struct gout {
  FILE *f;
  char *path;
  int err;
  bool mem;     /* gout_open_mem: kept in buf, never written by itself */
  gfmt_buf buf; /* formatted text not yet written: written in large blocks */
} gout;
int gout_open(gout *o, const gen_options *opt, const char *suffix);
/* A section held in memory until gout_append() writes it into a file. */
void gout_open_mem(gout *o);
void gout_append(gout *o, gout *mem); /* mem's text to o; mem freed */
void gout_printf(gout *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int gout_close(gout *o); /* 0 or -1 (error reported) */
void back_error(const idl_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern int back_errors;

/* ---- shapes ------------------------------------------------------------- */
typedef enum gbase {
  B_BOOL, B_CHAR, B_WCHAR, B_OCTET, B_INT8, B_UINT8, B_SHORT, B_USHORT,
  B_LONG, B_ULONG, B_LLONG, B_ULLONG, B_FLOAT, B_DOUBLE,
  B_STRING, B_WSTRING, B_BYTES, B_MSG, B_ENUM, B_ANY, B_OBJREF,
  B_WRAP /* element that is itself a sequence/array: a one-field message */
} gbase;

enum { REP_NONE, REP_SEQ, REP_ARRAY };

typedef struct gmsg gmsg_fwd;

typedef struct gshape {
  gbase base;
  const idl_node *decl; /* MSG: STRUCT/UNION/EXCEPTION; ENUM: ENUM;
                           OBJREF: INTERFACE or NULL (Object) */
  uint64_t bound;       /* STRING/WSTRING/BYTES bound, 0 = none */
  int rep;              /* REP_* */
  uint64_t count;       /* REP_ARRAY: number of elements (row-major) */
  uint64_t seq_bound;   /* REP_SEQ: bound, 0 = none */
  /* B_WRAP: the wrapper message (C name, proto package, proto local name),
   * its element type, and whether the declaration being shaped owns it
   * (emits it) or a typedef elsewhere does. */
  const char *wrap, *wrap_pkg, *wrap_plocal;
  const idl_type *elem_type;
  bool wrap_owned;
  idl_loc loc;
} gshape;

/* Who names wrapper messages of anonymous nested sequences: C name and
 * proto package / local name prefixes of the member, parameter or typedef
 * being shaped (NULL: nesting is an error). */
typedef struct gowner {
  const char *c, *pkg, *plocal;
} gowner;

/* Resolves type (+ declarator dims) to a shape; 0 or -1 (error reported). */
int shape_of(const idl_type *t, const uint64_t *dims, size_t ndims,
             const idl_loc *loc, gshape *out);
int shape_of_owned(const idl_type *t, const uint64_t *dims, size_t ndims,
                   const idl_loc *loc, const gowner *owner, gshape *out);
/* The one-field message (field `v` = 1) behind a B_WRAP shape. */
int msg_of_wrap(const gshape *s, gmsg_fwd *m);
/* Calls fn, innermost first, for every wrapper message s owns. */
void for_owned_wraps(const gshape *s, void (*fn)(const gmsg_fwd *m));
bool base_is_scalar(gbase b);  /* numbers, bool, chars, enums */
bool shape_has_ptr(const gshape *s); /* holds pointers (needs an arena) */
const char *base_field_ctype(const gshape *s); /* element type in a message */
const char *base_api_ctype(const gshape *s);   /* natural scalar C type */
const char *base_pbtype(gbase b);      /* PROTOBUF_C_TYPE_... suffix */
const char *base_proto_type(const gshape *s); /* .proto type name */

/* ---- names -------------------------------------------------------------- */
const char *cname(const idl_node *n);     /* calc_Calculator_add */
const char *cident(const char *name);     /* escapes C keywords */
const char *ckeyword(const char *name);   /* only keywords, not _names */
const char *repo_id(const idl_node *n);   /* IDL:calc/Point:1.0 */
uint32_t fnv1a(const char *s);
const char *proto_package(const idl_node *n); /* "calc", "a.b" or "" */
const char *proto_local(const idl_node *n);   /* name within the package */
const char *proto_full(const idl_node *n);    /* "calc.Point" */
const char *proto_enumerator(const idl_node *e); /* "RED" */
void proto_set_tree(const idl_tree *t);
const char *g_scoped(const idl_node *n);     /* "calc::Point" */
const char *g_type_text(const idl_type *t);  /* "sequence<long, 4>" */

/* ---- messages ----------------------------------------------------------- */
typedef struct gfield {
  const char *name;   /* C member name (escaped) */
  const char *pname;  /* proto field name */
  uint32_t id;
  gshape sh;
  bool optional;      /* LABEL_OPTIONAL (+ has_ for scalars) */
  bool oneof;         /* union branch inside the oneof */
  const idl_node *src; /* MEMBER / CASE / PARAM, NULL for _ret/_d/value */
} gfield;

typedef struct gmsg {
  const char *cname;  /* C type name */
  const char *pshort; /* proto short name */
  const char *pfull;  /* proto full name */
  const char *pkg;    /* proto package */
  const idl_node *node; /* STRUCT/UNION/EXCEPTION, or the op's node */
  gfield *f;
  size_t nf;
  bool is_union;
} gmsg;

typedef struct gparam {
  const char *name; /* C name (escaped) */
  const char *pname;
  idl_dir dir;
  const idl_type *type;
  gshape sh;
  const char *api; /* API type for repeated/bytes shapes: typedef name */
} gparam;

enum { GOP_OP, GOP_GET, GOP_SET };

typedef struct gop {
  const idl_node *node;  /* OPERATION or ATTRIBUTE */
  const idl_node *iface; /* declaring interface */
  const char *name;      /* "add", "_get_x", "_set_x" */
  int kind;
  unsigned decl_index;
  bool oneway;
  bool has_ret;
  gparam ret;            /* valid if has_ret (name "_ret") */
  gparam *p;
  size_t np;
  const char *req, *rep; /* C names of the request / reply messages */
} gop;

/* C API of an operation's parameters (gen_c.c), shared with gen_impl.c:
 * the C type of p in stub/handler prototypes, and ", T a, T *b, R *_ret"
 * (every parameter, then the result, each after ", "). */
const char *c_param_ctype(const gparam *p);
const char *c_param_list(const gop *op);

/* Own operations of an interface, in declaration order. */
gop *iface_own_ops(const idl_node *iface, size_t *n);
const idl_node *iface_of(const idl_node *n); /* follows FORWARD */

int msg_of_decl(const idl_node *n, gmsg *m);       /* struct/union/exc */
int msg_of_request(const gop *op, gmsg *m);
int msg_of_reply(const gop *op, gmsg *m);

/* Operations with identical signatures share their request (reply)
 * message: msg_key() is a message's content (field names, numbers, shapes,
 * labels) as a string, and a gshare maps such keys to the first message's
 * name.  gshare_find_or_add returns the name stored under key, or stores
 * name there and returns NULL.  Pool memory; reset by zeroing. */
const char *msg_key(const gmsg *m);
typedef struct gshare {
  size_t cap, n;
  const char **keys, **names;
} gshare;
const char *gshare_find_or_add(gshare *s, const char *key, const char *name);

bool node_main(const idl_node *n); /* declared in the main file */

/* gen_types_ext.c: bitmask, bitset and native types in BASE.h */
void gen_ext_bitmask(gout *h, const idl_node *n);
void gen_ext_bitset(gout *h, const idl_node *n);
void gen_ext_native(gout *h, const idl_node *n);
void gen_ext_value_ops(gout *h, const idl_node *n); /* valuetype tables */
void gen_ext_local_ops(gout *h, const idl_node *n); /* local interfaces */
const char *file_base(const char *path); /* "dir/x.idl" -> "x" */
const char *c_string_lit(const char *s);  /* "..." with escapes */
/* true if includes[i] repeats an earlier entry (same base name). */
bool include_seen(const idl_tree *t, size_t i);

#endif
