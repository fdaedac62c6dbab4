/* naming_db.h - plumb-naming's bindings store (SQLite), see naming_db.c. */
#ifndef PLUMB_NAMING_DB_H
#define PLUMB_NAMING_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct ndb ndb;

enum { NDB_OBJECT = 0, NDB_CONTEXT = 1 };
enum { NDB_ROOT = 1 }; /* id of the root context */

/* One binding of a context. */
typedef struct ndb_binding {
  char *id, *kind;
  int type;        /* NDB_OBJECT / NDB_CONTEXT */
  char *endpoint, *object, *type_id; /* the bound reference */
  int64_t child;   /* NDB_CONTEXT held by this server: its id; else 0 */
} ndb_binding;

/* Statuses of the store (the server maps them onto CosNaming exceptions). */
enum {
  NDB_OK = 0,
  NDB_NOTFOUND = 1,  /* no such binding / context */
  NDB_EXISTS = 2,    /* AlreadyBound */
  NDB_NOTEMPTY = 3,  /* destroy of a context with bindings */
  NDB_ERROR = -1     /* SQLite failed: ndb_errmsg */
};

/* Opens (creating, mode 0600) the database at path, or an in-memory one if
 * path is NULL.  NULL on failure with the reason in err. */
ndb *ndb_open(const char *path, char *err, size_t errlen);
void ndb_close(ndb *db);
const char *ndb_errmsg(ndb *db);

/* Looks up (ctx, id, kind) into *b (strings malloc'd: ndb_binding_clear). */
int ndb_get(ndb *db, int64_t ctx, const char *id, const char *kind,
            ndb_binding *b);
/* Binds b in ctx; replace = rebind.  A rebind may not change an object
 * binding into a context binding or back (NDB_EXISTS). */
int ndb_put(ndb *db, int64_t ctx, const ndb_binding *b, int replace);
int ndb_del(ndb *db, int64_t ctx, const char *id, const char *kind);
/* A new empty context; *id receives its id.  If b is not NULL the context
 * is bound as b in ctx, in the same transaction: b->child is set to the
 * new id and the bound object name is "ctx.<id>" (b->object is ignored). */
int ndb_new_context(ndb *db, int64_t ctx, ndb_binding *b, int64_t *id);
int ndb_context_exists(ndb *db, int64_t id);
/* Destroys an empty context (never the root). */
int ndb_destroy_context(ndb *db, int64_t id);
/* All bindings of ctx, ordered by id then kind, in a malloc'd array. */
int ndb_list(ndb *db, int64_t ctx, ndb_binding **out, size_t *n);
/* Ids of every context but the root, malloc'd. */
int ndb_contexts(ndb *db, int64_t **out, size_t *n);
void ndb_binding_clear(ndb_binding *b);
void ndb_bindings_free(ndb_binding *b, size_t n);

#endif
