/* naming.h - plumb-naming's shared state: the store, the context and
 * iterator objects (naming_ops.c serves them, naming_main.c sets them up). */
#ifndef PLUMB_NAMING_SERVICE_H
#define PLUMB_NAMING_SERVICE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <plumb/plumb.h>

#include "CosNaming.h"
#include "naming_db.h"

#define NAMING_ROOT_OBJECT "NameService"
#define NAMING_MAX_COMPONENTS 64   /* longest name accepted */
#define NAMING_MAX_ITERATORS 256  /* BindingIterators alive at once */
#define NAMING_ITER_IDLE_S 60      /* an unused iterator is destroyed */

typedef struct naming naming;

/* One context object: the root (id NDB_ROOT) or "ctx.<id>". */
typedef struct naming_ctx {
  naming *n;
  int64_t id;
} naming_ctx;

/* One BindingIterator: an anonymous object (its random id is the
 * capability) holding the bindings that did not fit in list()'s answer.
 * Live ones are on naming's list, least recently used first; at most
 * max_iters of them.  Freed by the server's destroy callback once removed
 * and its last call returned. */
typedef struct naming_iter {
  naming *n;
  struct naming_iter *prev, *next;
  int live;                      /* on the list and served */
  long owner;                    /* peer pid, -1 without credentials */
  char id[PLUMB_OBJECT_ID_MAX];
  ndb_binding *b;
  size_t count, pos;
  int64_t used_ms;               /* CLOCK_MONOTONIC */
} naming_iter;

struct naming {
  ndb *db;
  plumb_server *server;     /* to add context objects at run time */
  const char *ref_endpoint; /* endpoint put in the references we make */
  pthread_mutex_t iter_lock; /* the list and every iterator's fields */
  naming_iter *oldest, *newest;
  unsigned n_iters, max_iters, idle_s;
  unsigned long long iters_made, iters_evicted; /* for the log */
};

extern const CosNaming_NamingContextExt_ops naming_context_ops;
extern const CosNaming_BindingIterator_ops naming_iterator_ops;

/* Serves context id as object "ctx.<id>" (at any time); PLUMB_OK or a
 * status (PLUMB_EBUSY: already served). */
int naming_serve_context(naming *n, int64_t id);

/* Destroys every live iterator (before the server is freed). */
void naming_iters_free(naming *n);

#endif
