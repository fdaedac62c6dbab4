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
#define NAMING_ITERATORS 64        /* BindingIterator objects */
#define NAMING_ITER_IDLE_S 60      /* an unused iterator is reclaimed */

typedef struct naming naming;

/* One context object: the root (id NDB_ROOT) or "ctx.<id>". */
typedef struct naming_ctx {
  naming *n;
  int64_t id;
} naming_ctx;

/* One BindingIterator object "iter.<slot>": the bindings that did not fit
 * in list()'s answer. */
typedef struct naming_iter {
  naming *n;
  unsigned slot;
  int busy;
  ndb_binding *b;
  size_t count, pos;
  time_t used;
} naming_iter;

struct naming {
  ndb *db;
  plumb_server *server;     /* to add context objects at run time */
  const char *ref_endpoint; /* endpoint put in the references we make */
  pthread_mutex_t iter_lock;
  naming_iter iters[NAMING_ITERATORS];
};

extern const CosNaming_NamingContextExt_ops naming_context_ops;
extern const CosNaming_BindingIterator_ops naming_iterator_ops;

/* Serves context id as object "ctx.<id>" (at any time); PLUMB_OK or a
 * status (PLUMB_EBUSY: already served). */
int naming_serve_context(naming *n, int64_t id);

/* Releases every iterator's bindings. */
void naming_iters_free(naming *n);

#endif
