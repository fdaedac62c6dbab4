/* front_int.h - internals shared by the front end's own files (lexer,
 * parser, preprocessor, scopes, checks).  Nothing here is for back ends.
 *
 * The front end allocates every idl_node as an fnode, every idl_type as an
 * ftype and every idl_annotation as an fanno: the public struct comes first,
 * followed by what only the front end needs (unevaluated expressions, names
 * as written, the scoped name).  FNODE()/FTYPE() get back to them.
 */
#ifndef PLUMBC_FRONT_INT_H
#define PLUMBC_FRONT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "front.h"

/* Wide enough for every IDL integer intermediate (-2^64 .. 2^64). */
__extension__ typedef __int128 xint;

/* --- constant expressions, as parsed ----------------------------------- */

typedef enum xkind {
  X_INT,    /* u */
  X_FLOAT,  /* f */
  X_CHAR,   /* u = code point; wide */
  X_STRING, /* s; wide */
  X_FIXED,  /* s = digits as written, without the d/D suffix */
  X_BOOL,   /* b */
  X_NAME,   /* s = scoped name as written */
  X_UNARY,  /* op in "-+~", a */
  X_BINARY, /* op: one of | ^ & + - * / % or 'L' (<<), 'R' (>>); a, bx */
} xkind;

typedef struct expr {
  xkind k;
  idl_loc loc;
  int op;
  uint64_t u;
  double f;
  bool b;
  bool wide;
  char *s;
  struct expr *a, *bx;
  int depth; /* operators on the longest path below (bounded in parser.y) */
} expr;

expr *expr_new(xkind k, idl_loc loc);
expr *expr_clone(const expr *x);
void expr_free(expr *x);

/* --- front-end views of the public tree --------------------------------- */

typedef struct fnode {
  idl_node n;
  char *sname;       /* "::a::b", set when declared (check) */
  expr *value_x;     /* CONST: the expression */
  expr **dim_x;      /* MEMBER / TYPEDEF / CASE: dimensions as written */
  size_t ndim_x;
  expr **label_x;    /* CASE: labels as written (default is a flag) */
  size_t nlabel_x;
  idl_type **names;  /* INTERFACE: bases, OPERATION: raises (NAMED types) */
  size_t nnames;
  idl_loc kw_loc;    /* INTERFACE: location of `local` / `abstract` */
  bool declared;     /* entered into the symbol table */
  bool bad;          /* CONST: evaluation failed (no cascades) */
  bool done;         /* CONST: value is known */
  int inherit_depth; /* INTERFACE: longest base chain (check.c, bounded) */
  unsigned walk;     /* INTERFACE: last inheritance walk that saw it */
  unsigned lookup_walk; /* INTERFACE: the same for scope.c lookups */
  idl_node *fwd_next;   /* FORWARD: older forward of the same name */
  int typedef_depth;    /* TYPEDEF: typedefs to go through (bounded) */
  idl_type **gnames, **snames; /* ATTRIBUTE: getraises / setraises */
  size_t ngnames, nsnames;
  char *prefix;         /* #pragma prefix in force where it was parsed */
  int fwd_kind;         /* FORWARD_TYPE: IDL_STRUCT or IDL_UNION */
  bool abstract_value;  /* STRUCT parsed from `abstract valuetype` */
  expr *bits_x;         /* BITSET field: its width as written */
  bool auto_type;       /* BITSET field without a destination type */
  char *rid;            /* typeid / #pragma ID: explicit repository id */
  char *rversion;       /* #pragma version: "x.y" */
  char *rprefix;        /* typeprefix of this scope */
} fnode;

typedef struct ftype {
  idl_type t;
  expr *bound_x; /* STRING / WSTRING / SEQUENCE / MAP bound as written */
  expr *scale_x; /* FIXED: digits in bound_x, scale here */
  bool bad;      /* unsupported type, already reported */
  int depth;     /* SEQUENCE: nesting of sequence<> (bounded in parser.y) */
} ftype;

typedef struct fanno {
  idl_annotation a;
  expr *x; /* first positional argument, if any */
  idl_annotation *tail; /* parser: in the first of a list, its last */
  unsigned count;       /* parser: in the first, the list's length */
} fanno;

#define FNODE(n) ((fnode *)(n))
#define FTYPE(t) ((ftype *)(t))
#define FANNO(a) ((fanno *)(a))

/* --- parser helper lists ------------------------------------------------- */

typedef struct nlist {
  idl_node *first, *last;
} nlist;

typedef struct decl {
  char *name;
  idl_loc loc;
  expr **dims;
  size_t ndims;
  struct decl *next;
  struct decl *last; /* in the first of a list: its last (O(1) append) */
} decl;

typedef struct xlist {
  expr **v;
  size_t n;
  bool has_default;
  idl_loc default_loc;
} xlist;

typedef struct tlist {
  idl_type **v;
  size_t n;
} tlist;

/* --- the parse state ------------------------------------------------------ */

typedef struct pfile {
  char *name; /* interned: idl_loc.file points here */
  char *text;
  size_t len;
  struct pfile *next;
  bool has_id;    /* read from disk: dev/ino identify it */
  unsigned long long dev, ino;
  bool guard_checked;
  char *guard;    /* macro of a classic include guard wrapping it all */
  bool once;      /* #pragma once seen */
  unsigned active; /* times it is on the include stack (0 or 1) */
} pfile;

typedef struct pcond {
  bool parent_active; /* were we active when the #if started */
  bool taking;        /* is the current branch active */
  bool taken;         /* has some branch been active */
  bool seen_else;
  idl_loc loc;
} pcond;

typedef struct pmacro {
  char *name;
  char *value;
  struct pmacro *next;
} pmacro;

typedef struct pincl {
  pfile *file;
  void *buf; /* YY_BUFFER_STATE of the includer */
  int line, col;
  size_t nconds; /* conditional depth when the file was entered */
  char *prefix;  /* the includer's #pragma prefix (restored at the end) */
} pincl;

#define PS_MAX_INCLUDE_DEPTH 64
/* Bounds on hostile input (docs/IDL-MAPPING.md, "plumbc's limits"). */
#define PS_MAX_INPUT_BYTES (16u << 20) /* text scanned, all #includes */
#define PS_MAX_COND_DEPTH 256          /* nested #if/#ifdef/#ifndef */
#define PS_MAX_PP_EXPR_DEPTH 256       /* ( and ! in one #if expression */
#define PS_MAX_NESTING 256             /* nested { } and ( ) in IDL text */
#define PS_MAX_EXPR_DEPTH 256          /* operators in a constant expression */
#define PS_MAX_TYPE_DEPTH 64           /* sequence<sequence<...>> */
#define PS_MAX_INHERIT_DEPTH 256       /* interface inheritance chain */
#define PS_MAX_ANNOTATIONS 64          /* annotations on one declaration */
#define PS_MAX_USER_ANNOS 256          /* @annotation declarations remembered */
#define PS_MAX_TYPEDEF_CHAIN 1000      /* = idl_resolve_typedefs' bound */

/* A documentation comment tied to the line of the first token after it. */
typedef struct pdoc {
  const char *file; /* interned */
  int line;
  char *text;
  bool used; /* taken by a declaration */
} pdoc;

#define PS_MAX_DOC_BYTES 8192 /* one documentation comment (cut there) */

typedef struct pstate {
  const idl_options *opts;
  const idl_memfile *memfiles; /* idl_parse_memory: the only files */
  size_t nmemfiles;
  size_t max_bytes, total_bytes; /* text scanned across every #include */
  bool fatal;                    /* a limit was hit: stop scanning */
  int brace_depth, paren_depth;
  idl_tree *tree;
  pfile *files;          /* every file read; owned (moves to the tree) */
  const char *main_file; /* interned */
  void *scanner;

  /* current position of the scanner */
  pfile *cur;
  int line, col;
  pincl incl[PS_MAX_INCLUDE_DEPTH];
  int nincl;

  pcond *conds;
  size_t nconds, capconds;
  pmacro *macros;
  idl_loc comment_loc;

  char last_tok[96]; /* text of the last token, for syntax errors */
  int prev_tok;      /* the token before, for context keywords */
  char pending_brace; /* what the next '{' opens: 'M'odule, 'V'alue, 'O' */
  char brace_kind[PS_MAX_NESTING + 2]; /* per open brace depth */
  char *prefix;      /* #pragma prefix in force (NULL = none) */
  char *pragma_out;  /* #pragma ID / version for the scanner to hand on as
                        a T_PRAGMA token: "I" or "V", name, '\n', value */
  const char **includes;
  size_t nincludes, capincludes;
  unsigned syntax_errors;
  bool trunc_pending; /* parser: `truncatable` seen in a value header */
  char *user_annos[PS_MAX_USER_ANNOS]; /* names of @annotation declarations */
  size_t nuser_annos;

  /* documentation comments (doc.c): the one being read or waiting for
   * the next token, and those already tied to a token's line */
  const char *tok_file; /* file and line of the last token scanned */
  int tok_line;
  bool doc_reading;     /* inside a slash-star-star comment */
  bool doc_is_line;     /* pending: a run of // lines */
  char *doc_text;       /* pending text, NULL if none */
  size_t doc_len;
  const char *doc_file;
  int doc_end;          /* line the pending comment ends on */
  struct pdoc *docs;
  size_t ndocs, capdocs;

  /* plumbc -E (opts->echo): where the echoed text stands */
  const char *echo_file;
  int echo_line, echo_col;
} pstate;

/* doc.c: documentation comments */
void doc_block_begin(pstate *ps);
void doc_block_text(pstate *ps, const char *s, size_t n);
void doc_block_end(pstate *ps, int line);
void doc_line(pstate *ps, const char *text, int line);
void doc_token(pstate *ps, const char *file, int line);
void doc_attach(pstate *ps, idl_node *root);
void doc_free_all(pdoc *docs, size_t n);

/* ast.c */
idl_node *node_new(pstate *ps, idl_kind k, char *name, idl_loc loc);
void node_add_child(idl_node *parent, idl_node *child);
void node_add_children(idl_node *parent, idl_node *first);
void node_free(idl_node *n);
void node_list_free(idl_node *first);
idl_type *type_new(idl_tkind k, idl_loc loc);
idl_type *type_clone(const idl_type *t);
void type_free(idl_type *t);
void anno_free(idl_annotation *a);
idl_annotation *anno_clone(const idl_annotation *a);
void decl_free(decl *d);
void xlist_free(xlist *l);
void tlist_free(tlist *l);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
const char *idl_tkind_name(idl_tkind k);
const char *idl_kind_name(idl_kind k);

/* pp.c: preprocessor directives (called by the scanner) */
void pp_directive(pstate *ps, const char *text, idl_loc loc);
bool pp_active(const pstate *ps);
void pp_end_of_file(pstate *ps); /* unterminated conditionals of cur file */
pfile *pp_read_file(pstate *ps, const char *path, const idl_loc *where);
pfile *pp_add_text(pstate *ps, const char *name, const char *text);
pmacro *pp_find_macro(const pstate *ps, const char *name, size_t len);
void pp_predefine(pstate *ps); /* idl_options.macros (-D / -U) */
/* pp_expr.c: value of an #if / #elif expression (false + error if bad) */
bool pp_eval(pstate *ps, const char *p, idl_loc loc);
/* Counts f against the input limit; false = limit hit (reported, fatal). */
bool pp_charge(pstate *ps, const pfile *f, const idl_loc *where);
size_t pp_max_bytes(const pstate *ps);
void pp_free(pstate *ps);

/* lexer.l */
int lex_init(pstate *ps, pfile *main);
void lex_destroy(pstate *ps);
/* plumbc -E: scans to the end without parsing (tokens echoed). */
void lex_scan_all(pstate *ps);
void lex_push_file(pstate *ps, pfile *f);

/* parser.y */
int front_yyparse_run(pstate *ps);

/* scope.c */
typedef struct symtab symtab;
symtab *symtab_new(void); /* names fold case */
symtab *symtab_new_fold(bool fold_case);
void symtab_free(symtab *st);
/* Enters n under scoped name `sname`; returns the earlier declaration with
 * the same name ignoring case, or NULL (then n was entered). */
idl_node *symtab_insert(symtab *st, const char *sname, idl_node *n);
void symtab_replace(symtab *st, const char *sname, idl_node *n);
idl_node *symtab_get(symtab *st, const char *sname, bool *case_differs);
/* Resolves `name` (as written: "a::b", "::a::b") seen inside `scope`.
 * For type lookups members, params and cases are skipped.  On failure
 * returns NULL; *case_hit receives a declaration matching only ignoring
 * case, if any. */
idl_node *scope_lookup(symtab *st, const idl_node *scope, const char *name,
                       idl_node **case_hit);
const char *scope_name_of(const idl_node *n); /* sname or "" for root */

/* const_eval.c */
typedef struct check_ctx check_ctx;
/* Evaluates x for a value of type t (resolved through typedefs) inside
 * scope; fills *out.  Returns false (error reported) on failure. */
bool const_eval(check_ctx *cx, const expr *x, const idl_type *t,
                const idl_node *scope, idl_value *out);
/* Evaluates a positive integer (bounds, dimensions, @id); `what` names it
 * in the error ("array dimension"). */
bool const_eval_positive(check_ctx *cx, const expr *x, const idl_node *scope,
                         const char *what, uint64_t *out);
/* Lookup used by const_eval (check.c). */
idl_node *check_lookup(check_ctx *cx, const idl_node *scope,
                       const char *name, const idl_loc *loc,
                       const char *what);
void value_free(idl_value *v);
char *value_to_string(const idl_value *v);

/* check.c */
int check_tree(pstate *ps, idl_tree *t);

#endif
