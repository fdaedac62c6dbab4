/* ast.h - the plumbc syntax tree: what the front end hands the back ends.
 *
 * The front end (lexer.l, parser.y, scope.c, check.c, const_eval.c) builds
 * and checks this tree; back ends (compiler/back/) only read it.  Every
 * declaration is an idl_node with a common header (kind, location, name,
 * parent, siblings, children, annotations); kind-specific data sits in the
 * same struct, used as documented per field.  Types are idl_type values.
 * After a successful parse+check every IDL_T_NAMED type has `ref` resolved,
 * every const has its evaluated value, every enumerator its ordinal, every
 * union case its evaluated labels, and every member/case its field number.
 */
#ifndef PLUMBC_AST_H
#define PLUMBC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct idl_loc {
  const char *file; /* interned; lives as long as the tree */
  int line;         /* 1-based */
  int col;          /* 1-based, in bytes */
} idl_loc;

typedef enum idl_kind {
  IDL_ROOT,       /* the global scope; children = top-level definitions */
  IDL_MODULE,     /* children = definitions (a reopened module is one more node) */
  IDL_INTERFACE,  /* children = types, consts, exceptions, ops, attributes */
  IDL_FORWARD,    /* forward declaration of an interface (ref -> definition) */
  IDL_STRUCT,     /* children = IDL_MEMBER */
  IDL_UNION,      /* type = discriminator; children = IDL_CASE */
  IDL_ENUM,       /* children = IDL_ENUMERATOR */
  IDL_ENUMERATOR, /* value.u = ordinal */
  IDL_TYPEDEF,    /* type (+ dims): one node per declarator */
  IDL_CONST,      /* type, value */
  IDL_EXCEPTION,  /* children = IDL_MEMBER */
  IDL_OPERATION,  /* type = return type (IDL_T_VOID for void); children = IDL_PARAM */
  IDL_ATTRIBUTE,  /* type; flags & IDL_F_READONLY; one node per declarator */
  IDL_PARAM,      /* type, dir */
  IDL_MEMBER,     /* type (+ dims); one node per declarator */
  IDL_CASE,       /* a union branch: type (+ dims), name, labels */
  IDL_FORWARD_TYPE, /* `struct X;` / `union X;` / `valuetype X;`
                       (definition -> the STRUCT/UNION once seen); back
                       ends emit nothing for it: every use is resolved to
                       the definition */
  IDL_BITMASK,    /* bit_bound; children = IDL_ENUMERATOR (value.u = bit
                     position, from @position or the previous + 1) */
  IDL_BITSET,     /* bit_bound = total bits (<= 64); children = IDL_MEMBER
                     with bit_width (a nameless field pads: name "") */
  IDL_NATIVE,     /* `native N;`: an opaque local type (void *) */
  IDL_REPOID,     /* `typeid N "id";`, `typeprefix N "p";` (flags
                     IDL_F_PREFIX), `#pragma ID N "id"`, `#pragma version
                     N x.y` (IDL_F_VERSION): name = N as written, value.s;
                     applied by check to repo_id */
} idl_kind;

typedef enum idl_tkind {
  IDL_T_VOID,
  IDL_T_BOOLEAN,
  IDL_T_CHAR,
  IDL_T_WCHAR,
  IDL_T_OCTET,
  IDL_T_INT8,
  IDL_T_UINT8,
  IDL_T_SHORT,  /* int16 too */
  IDL_T_USHORT, /* uint16 */
  IDL_T_LONG,   /* int32 */
  IDL_T_ULONG,  /* uint32 */
  IDL_T_LLONG,  /* int64 */
  IDL_T_ULLONG, /* uint64 */
  IDL_T_FLOAT,
  IDL_T_DOUBLE,
  IDL_T_STRING,   /* bound: 0 = unbounded */
  IDL_T_WSTRING,  /* mapped to UTF-8 like string */
  IDL_T_SEQUENCE, /* elem, bound */
  IDL_T_ANY,
  IDL_T_OBJECT,   /* the keyword `Object` */
  IDL_T_NAMED,    /* a scoped name: ref -> STRUCT, UNION, ENUM, TYPEDEF,
                     INTERFACE or FORWARD (an object reference), BITMASK,
                     BITSET, NATIVE (never FORWARD_TYPE: check resolves
                     forward structs/unions to their definition) */
  IDL_T_LDOUBLE,  /* long double */
  IDL_T_FIXED,    /* fixed<digits, scale>: bound = digits, scale */
  IDL_T_MAP,      /* map<key, elem[, bound]>; check turns every map into
                     a SEQUENCE of a synthesized entry STRUCT (key = 1,
                     value = 2), so back ends never see this kind */
  IDL_T_VALUEBASE, /* ValueBase: any value (mapped like any) */
} idl_tkind;

typedef struct idl_node idl_node;

typedef struct idl_type {
  idl_tkind kind;
  idl_loc loc;
  uint64_t bound;        /* STRING, WSTRING, SEQUENCE, MAP; FIXED digits */
  unsigned scale;        /* FIXED */
  struct idl_type *elem; /* SEQUENCE, MAP (the value type) */
  struct idl_type *key;  /* MAP */
  char *name;            /* NAMED: as written, e.g. "::calc::Point" */
  idl_node *ref;         /* NAMED: resolved declaration */
} idl_type;

typedef enum idl_vkind {
  IDL_V_NONE,
  IDL_V_INT,    /* i (signed integers, and unsigned ones that fit) */
  IDL_V_UINT,   /* u */
  IDL_V_FLOAT,  /* f */
  IDL_V_BOOL,   /* b */
  IDL_V_CHAR,   /* u (code point) */
  IDL_V_STRING, /* s */
  IDL_V_ENUM,   /* e = the IDL_ENUMERATOR, u = its ordinal */
  IDL_V_FIXED,  /* s = normalised decimal text, e.g. "-3.14" */
} idl_vkind;

typedef struct idl_value {
  idl_vkind kind;
  int64_t i;
  uint64_t u;
  double f;
  bool b;
  char *s;
  idl_node *e;
} idl_value;

typedef struct idl_annotation {
  char *name; /* "key", "optional", "id", ... */
  idl_value value; /* IDL_V_NONE if no argument */
  idl_loc loc;
  struct idl_annotation *next;
} idl_annotation;

enum idl_flags {
  IDL_F_READONLY = 1u << 0,  /* attribute */
  IDL_F_ONEWAY = 1u << 1,    /* operation */
  IDL_F_KEY = 1u << 2,       /* @key member */
  IDL_F_OPTIONAL = 1u << 3,  /* @optional member */
  IDL_F_DEFAULT = 1u << 4,   /* union case has `default:` */
  IDL_F_INCLUDED = 1u << 5,  /* declared in an #included file, not the main one */
  IDL_F_PREFIX = 1u << 6,    /* REPOID: typeprefix (else typeid) */
  IDL_F_PRIVATE = 1u << 7,   /* valuetype state member declared private */
  IDL_F_FACTORY = 1u << 8,   /* valuetype factory (an OPERATION) */
  IDL_F_INHERITED = 1u << 9, /* MEMBER copied from a base struct/value */
  IDL_F_MAP_ENTRY = 1u << 10, /* STRUCT synthesized for a map<K,V> */
  IDL_F_VERSION = 1u << 11,  /* REPOID: #pragma version (value.s = "x.y") */
};

/* STRUCT: what kind of value type it is (0 = a plain struct). */
enum idl_value_kind {
  IDL_VK_NONE,
  IDL_VK_CONCRETE, /* valuetype V [: B] { state; ops; factories } */
  IDL_VK_ABSTRACT, /* abstract valuetype: no state */
  IDL_VK_BOXED,    /* valuetype V T;  -> one member `value` (field 1) */
  IDL_VK_EVENT,    /* eventtype (a valuetype) */
};

typedef enum idl_dir { IDL_IN, IDL_OUT, IDL_INOUT } idl_dir;

struct idl_node {
  idl_kind kind;
  idl_loc loc;
  char *name;             /* identifier; NULL for ROOT */
  idl_node *parent;       /* enclosing scope (NULL for ROOT) */
  idl_node *next;         /* next sibling, in declaration order */
  idl_node *children;     /* first child */
  idl_node *last_child;
  idl_annotation *annotations;
  unsigned flags;         /* enum idl_flags */
  const char *doc;        /* the documentation comment directly above the
                             declaration (doc.c), markers stripped, lines
                             joined by '\n'; NULL if none.  Owned by the
                             tree. */

  idl_type *type;         /* see idl_kind for who uses it */
  uint64_t *dims;         /* array dimensions (MEMBER, TYPEDEF, CASE) */
  size_t ndims;
  idl_dir dir;            /* PARAM */
  idl_value value;        /* CONST value; ENUMERATOR ordinal (value.u,
                             kind IDL_V_ENUM, value.e = the enumerator).
                             Integer values: kind IDL_V_INT for signed
                             target types, IDL_V_UINT for unsigned ones;
                             both i and u hold the value (cast). */
  uint32_t field_id;      /* MEMBER / CASE: protobuf field number (>= 1).
                             Rule: @id(n) if given; otherwise the 1-based
                             position among the struct's/exception's
                             members in declaration order (nested type
                             declarations do not count).  For a union the
                             discriminator is field 1 and the cases are
                             numbered from 2 in declaration order (case k
                             -> k + 1), again unless @id(n) is given.
                             Duplicates, ids > 2^29-1 and the reserved
                             19000..19999 are errors. */

  idl_value *labels;      /* CASE: evaluated case labels */
  size_t nlabels;

  idl_node **raises;      /* OPERATION: resolved EXCEPTION nodes */
  size_t nraises;
  idl_node **bases;       /* INTERFACE: resolved direct base interfaces */
  size_t nbases;
  idl_node *definition;   /* FORWARD: the full INTERFACE, once seen;
                             FORWARD_TYPE: the STRUCT/UNION */
  bool is_local, is_abstract; /* INTERFACE (abstract: also valuetypes) */
  const char *repo_id;    /* every named declaration: its repository id
                             ("IDL:omg.org/CosNaming/Name:1.0"), honouring
                             #pragma prefix/ID/version, typeid and
                             typeprefix; set by check */
  idl_node *base;         /* STRUCT: base struct / value (its members are
                             copied first, flagged IDL_F_INHERITED) */
  unsigned bit_bound;     /* BITMASK, BITSET */
  unsigned bit_width;     /* BITSET member */
  int value_kind;         /* STRUCT: enum idl_value_kind */
  bool is_custom, is_truncatable; /* valuetypes (accepted; see mapping) */
  idl_node **getraises, **setraises; /* ATTRIBUTE: resolved exceptions */
  size_t ngetraises, nsetraises;
};

typedef struct idl_tree {
  idl_node *root;          /* IDL_ROOT */
  const char *main_file;   /* path given on the command line */
  const char **includes;   /* files #included directly by the main file,
                              as written (e.g. "base.idl") */
  size_t nincludes;
  void *priv;              /* front end's own (string pool, files) */
} idl_tree;

/* Full scoped name "::a::b::c" of a declaration (static buffer-free:
 * returns a malloc'd string the caller frees).  Enumerators belong to the
 * enum's enclosing scope (OMG rule): "::m::RED", not "::m::Color::RED". */
char *idl_scoped_name(const idl_node *n);
/* Follows typedefs (not arrays) to the underlying type. */
const idl_type *idl_resolve_typedefs(const idl_type *t);

#endif
