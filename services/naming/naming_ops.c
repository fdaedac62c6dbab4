/* naming_ops.c - the CosNaming::NamingContextExt and BindingIterator
 * handlers of plumb-naming: name resolution through the contexts kept in
 * the store (naming_db.c), the CosNaming exceptions, list() with its
 * iterators, and the stringified-name operations. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"
#include "naming_names.h"

typedef CosNaming_NameComponent ncomp;

/* ---- exceptions ---------------------------------------------------------- */

static int
raise_notfound(plumb_call *call, CosNaming_NamingContext_NotFoundReason why,
               ncomp *const *rest, size_t n)
{
  CosNaming_NamingContext_NotFound ex = CosNaming_NamingContext_NotFound_INIT;
  ex.why = why;
  ex.rest_of_name._length = n;
  ex.rest_of_name._buffer = (ncomp **)rest;
  return plumb_call_raise(call, &CosNaming_NamingContext_NotFound_type, &ex);
}

static int
raise_cannot(plumb_call *call, const ndb_binding *b, ncomp *const *rest,
             size_t n)
{
  CosNaming_NamingContext_CannotProceed ex =
      CosNaming_NamingContext_CannotProceed_INIT;
  plumb_objref ref = PLUMB_OBJREF_INIT;
  ref.endpoint = b->endpoint;
  ref.object = b->object;
  ref.type_id = b->type_id;
  ex.cxt = &ref;
  ex.rest_of_name._length = n;
  ex.rest_of_name._buffer = (ncomp **)rest;
  return plumb_call_raise(call, &CosNaming_NamingContext_CannotProceed_type,
                          &ex);
}

static int
raise_invalid(plumb_call *call)
{
  CosNaming_NamingContext_InvalidName ex =
      CosNaming_NamingContext_InvalidName_INIT;
  return plumb_call_raise(call, &CosNaming_NamingContext_InvalidName_type,
                          &ex);
}

static int
raise_bound(plumb_call *call)
{
  CosNaming_NamingContext_AlreadyBound ex =
      CosNaming_NamingContext_AlreadyBound_INIT;
  return plumb_call_raise(call, &CosNaming_NamingContext_AlreadyBound_type,
                          &ex);
}

static int
db_failed(plumb_call *call, naming *n)
{
  return plumb_call_fail(call, PLUMB_ESERVER, "naming database: %s",
                         ndb_errmsg(n->db));
}

/* ---- references ---------------------------------------------------------- */

static void
context_ref(plumb_call *call, naming *n, int64_t id, plumb_objref *out)
{
  char obj[32];
  if (id == NDB_ROOT)
    snprintf(obj, sizeof obj, "%s", NAMING_ROOT_OBJECT);
  else
    snprintf(obj, sizeof obj, "ctx.%" PRId64, id);
  out->endpoint = plumb_call_strdup(call, n->ref_endpoint);
  out->object = plumb_call_strdup(call, obj);
  out->type_id = (char *)CosNaming_NamingContextExt_interface.type_id;
}

/* The id of one of our own contexts that ref names, else 0. */
static int64_t
own_context(naming *n, const plumb_objref *ref)
{
  if (ref == NULL || strcmp(ref->endpoint, n->ref_endpoint) != 0)
    return 0;
  if (strcmp(ref->object, NAMING_ROOT_OBJECT) == 0)
    return NDB_ROOT;
  if (strncmp(ref->object, "ctx.", 4) != 0)
    return 0;
  char *end;
  long long id = strtoll(ref->object + 4, &end, 10);
  if (*end != '\0' || id <= NDB_ROOT ||
      ndb_context_exists(n->db, id) != NDB_OK)
    return 0;
  return id;
}

/* ---- resolution ---------------------------------------------------------- */

static int
name_valid(const CosNaming_Name *name)
{
  if (name->_length == 0 || name->_length > NAMING_MAX_COMPONENTS)
    return 0;
  for (size_t i = 0; i < name->_length; i++)
    if (name->_buffer[i] == NULL)
      return 0;
  return 1;
}

/* Walks all but the last component of name from context *ctx; on success
 * *ctx is the context holding the last component.  Otherwise the call's
 * exception is raised and its status returned. */
static int
walk(plumb_call *call, naming *n, const CosNaming_Name *name, int64_t *ctx)
{
  if (!name_valid(name))
    return raise_invalid(call);
  for (size_t i = 0; i + 1 < name->_length; i++) {
    ndb_binding b;
    const ncomp *c = name->_buffer[i];
    int rc = ndb_get(n->db, *ctx, c->id, c->kind, &b);
    if (rc == NDB_NOTFOUND)
      return raise_notfound(call,
                            CosNaming_NamingContext_NotFoundReason_missing_node,
                            name->_buffer + i, name->_length - i);
    if (rc != NDB_OK)
      return db_failed(call, n);
    if (b.type != NDB_CONTEXT) {
      ndb_binding_clear(&b);
      return raise_notfound(call,
                            CosNaming_NamingContext_NotFoundReason_not_context,
                            name->_buffer + i, name->_length - i);
    }
    if (b.child == 0 || ndb_context_exists(n->db, b.child) != NDB_OK) {
      /* a context of another server: the client continues there */
      rc = raise_cannot(call, &b, name->_buffer + i + 1,
                        name->_length - i - 1);
      ndb_binding_clear(&b);
      return rc;
    }
    *ctx = b.child;
    ndb_binding_clear(&b);
  }
  return PLUMB_OK;
}

static const ncomp *
last(const CosNaming_Name *name)
{
  return name->_buffer[name->_length - 1];
}

static int
do_bind(plumb_call *call, naming_ctx *cx, const CosNaming_Name *name,
        const plumb_objref *ref, int type, int replace)
{
  int64_t ctx = cx->id;
  int rc = walk(call, cx->n, name, &ctx);
  if (rc != PLUMB_OK)
    return rc;
  if (ref == NULL)
    return plumb_call_fail(call, PLUMB_EINVAL, "bind: no reference given");
  ndb_binding b = { 0 };
  b.id = last(name)->id;
  b.kind = last(name)->kind;
  b.type = type;
  b.endpoint = ref->endpoint;
  b.object = ref->object;
  b.type_id = ref->type_id;
  b.child = type == NDB_CONTEXT ? own_context(cx->n, ref) : 0;
  rc = ndb_put(cx->n->db, ctx, &b, replace);
  if (rc == NDB_EXISTS && !replace)
    return raise_bound(call);
  if (rc == NDB_EXISTS) /* rebind across types */
    return raise_notfound(call, type == NDB_CONTEXT
                              ? CosNaming_NamingContext_NotFoundReason_not_context
                              : CosNaming_NamingContext_NotFoundReason_not_object,
                          name->_buffer + name->_length - 1, 1);
  if (rc == NDB_NOTFOUND)
    return raise_notfound(call,
                          CosNaming_NamingContext_NotFoundReason_missing_node,
                          name->_buffer, name->_length);
  return rc == NDB_OK ? PLUMB_OK : db_failed(call, cx->n);
}

static int
nc_bind(void *ctx, plumb_call *call, const CosNaming_Name *n,
        const plumb_objref *obj)
{
  return do_bind(call, ctx, n, obj, NDB_OBJECT, 0);
}

static int
nc_rebind(void *ctx, plumb_call *call, const CosNaming_Name *n,
          const plumb_objref *obj)
{
  return do_bind(call, ctx, n, obj, NDB_OBJECT, 1);
}

static int
nc_bind_context(void *ctx, plumb_call *call, const CosNaming_Name *n,
                const plumb_objref *nc)
{
  return do_bind(call, ctx, n, nc, NDB_CONTEXT, 0);
}

static int
nc_rebind_context(void *ctx, plumb_call *call, const CosNaming_Name *n,
                  const plumb_objref *nc)
{
  return do_bind(call, ctx, n, nc, NDB_CONTEXT, 1);
}

static int
do_resolve(plumb_call *call, naming_ctx *cx, const CosNaming_Name *name,
           plumb_objref *ret)
{
  int64_t ctx = cx->id;
  int rc = walk(call, cx->n, name, &ctx);
  if (rc != PLUMB_OK)
    return rc;
  ndb_binding b;
  rc = ndb_get(cx->n->db, ctx, last(name)->id, last(name)->kind, &b);
  if (rc == NDB_NOTFOUND)
    return raise_notfound(call,
                          CosNaming_NamingContext_NotFoundReason_missing_node,
                          name->_buffer + name->_length - 1, 1);
  if (rc != NDB_OK)
    return db_failed(call, cx->n);
  ret->endpoint = plumb_call_strdup(call, b.endpoint);
  ret->object = plumb_call_strdup(call, b.object);
  ret->type_id = plumb_call_strdup(call, b.type_id);
  ndb_binding_clear(&b);
  return ret->endpoint && ret->object && ret->type_id ? PLUMB_OK
                                                      : PLUMB_ENOMEM;
}

static int
nc_resolve(void *ctx, plumb_call *call, const CosNaming_Name *n,
           plumb_objref *ret)
{
  return do_resolve(call, ctx, n, ret);
}

static int
nc_unbind(void *ctx, plumb_call *call, const CosNaming_Name *name)
{
  naming_ctx *cx = ctx;
  int64_t c = cx->id;
  int rc = walk(call, cx->n, name, &c);
  if (rc != PLUMB_OK)
    return rc;
  rc = ndb_del(cx->n->db, c, last(name)->id, last(name)->kind);
  if (rc == NDB_NOTFOUND)
    return raise_notfound(call,
                          CosNaming_NamingContext_NotFoundReason_missing_node,
                          name->_buffer + name->_length - 1, 1);
  return rc == NDB_OK ? PLUMB_OK : db_failed(call, cx->n);
}

int
naming_serve_context(naming *n, int64_t id)
{
  char name[48];
  naming_ctx *cx = malloc(sizeof *cx);
  if (cx == NULL)
    return PLUMB_ENOMEM;
  cx->n = n;
  cx->id = id;
  snprintf(name, sizeof name, "ctx.%" PRId64, id);
  plumb_object_opts o = { name, free };
  int rc = plumb_server_add_object_opts(n->server,
                                        &CosNaming_NamingContextExt_interface,
                                        &naming_context_ops, cx, &o, NULL);
  if (rc != PLUMB_OK)
    free(cx);
  return rc;
}

static int
nc_new_context(void *ctx, plumb_call *call, plumb_objref *ret)
{
  naming_ctx *cx = ctx;
  int64_t id;
  if (ndb_new_context(cx->n->db, 0, NULL, &id) != NDB_OK)
    return db_failed(call, cx->n);
  int rc = naming_serve_context(cx->n, id);
  if (rc != PLUMB_OK)
    return plumb_call_fail(call, rc, "new context %" PRId64 ": cannot "
                           "serve its object: %s", id, plumb_strerror(rc));
  context_ref(call, cx->n, id, ret);
  return PLUMB_OK;
}

static int
nc_bind_new_context(void *ctx, plumb_call *call, const CosNaming_Name *name,
                    plumb_objref *ret)
{
  naming_ctx *cx = ctx;
  int64_t c = cx->id, id;
  int rc = walk(call, cx->n, name, &c);
  if (rc != PLUMB_OK)
    return rc;
  ndb_binding b = { 0 };
  plumb_objref ref = PLUMB_OBJREF_INIT;
  context_ref(call, cx->n, 0, &ref); /* endpoint and type id only */
  b.id = last(name)->id;
  b.kind = last(name)->kind;
  b.type = NDB_CONTEXT;
  b.endpoint = ref.endpoint;
  b.type_id = ref.type_id;
  rc = ndb_new_context(cx->n->db, c, &b, &id);
  if (rc == NDB_EXISTS)
    return raise_bound(call);
  if (rc == NDB_NOTFOUND)
    return raise_notfound(call,
                          CosNaming_NamingContext_NotFoundReason_missing_node,
                          name->_buffer, name->_length);
  if (rc != NDB_OK)
    return db_failed(call, cx->n);
  if ((rc = naming_serve_context(cx->n, id)) != PLUMB_OK)
    return plumb_call_fail(call, rc, "context %" PRId64 ": cannot serve "
                           "its object: %s", id, plumb_strerror(rc));
  context_ref(call, cx->n, id, ret);
  return PLUMB_OK;
}

static int
nc_destroy(void *ctx, plumb_call *call)
{
  naming_ctx *cx = ctx;
  if (cx->id == NDB_ROOT)
    return plumb_call_fail(call, PLUMB_EPERM, "the root naming context "
                           "cannot be destroyed");
  int64_t id = cx->id;
  naming *n = cx->n;
  int rc = ndb_destroy_context(n->db, id);
  if (rc == NDB_OK) { /* its object goes (cx is freed after this call) */
    char name[48];
    snprintf(name, sizeof name, "ctx.%" PRId64, id);
    plumb_server_remove_object(n->server, name);
    return PLUMB_OK;
  }
  if (rc == NDB_NOTEMPTY) {
    CosNaming_NamingContext_NotEmpty ex =
        CosNaming_NamingContext_NotEmpty_INIT;
    return plumb_call_raise(call, &CosNaming_NamingContext_NotEmpty_type,
                            &ex);
  }
  return db_failed(call, n);
}

/* ---- list and iterators --------------------------------------------------- */

static int
fill_binding(plumb_call *call, const ndb_binding *b, CosNaming_Binding **out)
{
  CosNaming_Binding *cb = plumb_call_alloc(call, sizeof *cb);
  ncomp *c = plumb_call_alloc(call, sizeof *c);
  ncomp **v = plumb_call_alloc(call, sizeof *v);
  if (cb == NULL || c == NULL || v == NULL)
    return PLUMB_ENOMEM;
  CosNaming_Binding_init(cb);
  CosNaming_NameComponent_init(c);
  c->id = plumb_call_strdup(call, b->id);
  c->kind = plumb_call_strdup(call, b->kind);
  if (c->id == NULL || c->kind == NULL)
    return PLUMB_ENOMEM;
  v[0] = c;
  cb->binding_name._length = 1;
  cb->binding_name._buffer = v;
  cb->binding_type = b->type == NDB_CONTEXT ? CosNaming_BindingType_ncontext
                                             : CosNaming_BindingType_nobject;
  *out = cb;
  return PLUMB_OK;
}

static int
fill_list(plumb_call *call, const ndb_binding *b, size_t n,
          CosNaming_BindingList *bl)
{
  bl->_length = 0;
  bl->_buffer = plumb_call_alloc(call, (n ? n : 1) * sizeof *bl->_buffer);
  if (bl->_buffer == NULL)
    return PLUMB_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int rc = fill_binding(call, &b[i], &bl->_buffer[i]);
    if (rc != PLUMB_OK)
      return rc;
    bl->_length++;
  }
  return PLUMB_OK;
}

static int64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server's destroy callback: the object is gone and its last call
 * returned. */
static void
iter_free(void *ctx)
{
  naming_iter *it = ctx;
  ndb_bindings_free(it->b, it->count);
  free(it);
}

/* Takes it off the list, frees its bindings and removes its object (its
 * memory goes in iter_free).  Locked by the caller; the server takes its
 * own object lock inside, never ours, and iter_free takes none. */
static void
iter_kill(naming_iter *it)
{
  naming *n = it->n;
  if (!it->live)
    return;
  it->live = 0;
  if (it->prev)
    it->prev->next = it->next;
  else
    n->oldest = it->next;
  if (it->next)
    it->next->prev = it->prev;
  else
    n->newest = it->prev;
  it->prev = it->next = NULL;
  n->n_iters--;
  ndb_bindings_free(it->b, it->count);
  it->b = NULL;
  it->count = it->pos = 0;
  plumb_server_remove_object(n->server, it->id);
}

/* Moves it to the newest end (it was just used); locked by the caller. */
static void
iter_touch(naming_iter *it)
{
  naming *n = it->n;
  it->used_ms = now_ms();
  if (n->newest == it)
    return;
  if (it->prev)
    it->prev->next = it->next;
  else
    n->oldest = it->next;
  it->next->prev = it->prev;
  it->prev = n->newest;
  it->next = NULL;
  n->newest->next = it;
  n->newest = it;
}

void
naming_iters_free(naming *n)
{
  pthread_mutex_lock(&n->iter_lock);
  while (n->oldest != NULL)
    iter_kill(n->oldest);
  pthread_mutex_unlock(&n->iter_lock);
}

/* The iterator to destroy when the pool is full and `owner` asks for one
 * more: the least recently used of the peer holding the most (counting
 * the one asked for; on a tie the peer whose LRU is older), so that a
 * client that never destroys its iterators, or makes them in a loop,
 * loses its own and not the others'.  Peers are told apart by pid (peers
 * without credentials, e.g. over tcp, count as one); the first 64 distinct
 * peers are counted, which bounds the scan to 64 x max_iters steps. */
static naming_iter *
iter_victim(naming *n, long owner)
{
  struct { long pid; unsigned cnt; naming_iter *lru; } h[64];
  unsigned k = 0, best = 0, best_cnt = 0;
  for (naming_iter *it = n->oldest; it; it = it->next) {
    unsigned j = 0;
    while (j < k && h[j].pid != it->owner)
      j++;
    if (j == k && k < 64) {
      h[k].pid = it->owner;
      h[k].cnt = 0;
      h[k++].lru = it;
    }
    if (j < k)
      h[j].cnt++;
  }
  for (unsigned j = 0; j < k; j++) {
    unsigned c = h[j].cnt + (h[j].pid == owner);
    if (c > best_cnt) {
      best_cnt = c;
      best = j;
    }
  }
  return k ? h[best].lru : n->oldest;
}

/* Makes room for one more iterator of owner: destroys the idle ones, then
 * victims while the pool is full.  Locked by the caller. */
static void
iter_make_room(naming *n, long owner)
{
  int64_t now = now_ms(), idle = (int64_t)n->idle_s * 1000;
  while (n->oldest != NULL && now - n->oldest->used_ms > idle)
    iter_kill(n->oldest);
  while (n->oldest != NULL && n->n_iters >= n->max_iters) {
    naming_iter *v = iter_victim(n, owner);
    n->iters_evicted++;
    if (n->iters_evicted == 1 || n->iters_evicted % 1000 == 0)
      fprintf(stderr, "plumb-naming: %u binding iterators alive "
              "(max_iterators): destroying the least recently used of the "
              "peer holding most (%llu so far); clients should call "
              "destroy\n", n->max_iters, n->iters_evicted);
    iter_kill(v);
  }
}

static int
nc_list(void *ctx, plumb_call *call, uint32_t how_many,
        CosNaming_BindingList *bl, plumb_objref *bi)
{
  naming_ctx *cx = ctx;
  naming *nm = cx->n;
  ndb_binding *b;
  size_t n;
  int rc;

  if (ndb_list(nm->db, cx->id, &b, &n) != NDB_OK)
    return db_failed(call, nm);
  size_t first = how_many < n ? how_many : n;
  rc = fill_list(call, b, first, bl);
  if (rc != PLUMB_OK || first == n) {
    ndb_bindings_free(b, n); /* everything fits: a nil iterator */
    return rc;
  }
  naming_iter *it = calloc(1, sizeof *it);
  if (it == NULL) {
    ndb_bindings_free(b, n);
    return plumb_call_fail(call, PLUMB_ENOMEM, "list: no memory for a "
                           "binding iterator");
  }
  it->n = nm;
  it->b = b;
  it->count = n;
  it->pos = first;
  const plumb_peer *peer = plumb_call_peer(call);
  it->owner = peer && peer->has_creds ? (long)peer->pid : -1;
  pthread_mutex_lock(&nm->iter_lock);
  iter_make_room(nm, it->owner);
  plumb_object_opts o = { NULL, iter_free }; /* anonymous */
  rc = plumb_server_add_object_opts(nm->server,
                                    &CosNaming_BindingIterator_interface,
                                    &naming_iterator_ops, it, &o, it->id);
  if (rc != PLUMB_OK) {
    pthread_mutex_unlock(&nm->iter_lock);
    iter_free(it);
    return plumb_call_fail(call, rc, "list: cannot serve a binding "
                           "iterator: %s", plumb_strerror(rc));
  }
  it->live = 1;
  it->used_ms = now_ms();
  it->prev = nm->newest;
  if (nm->newest)
    nm->newest->next = it;
  else
    nm->oldest = it;
  nm->newest = it;
  nm->n_iters++;
  nm->iters_made++;
  bi->endpoint = plumb_call_strdup(call, nm->ref_endpoint);
  bi->object = plumb_call_strdup(call, it->id);
  pthread_mutex_unlock(&nm->iter_lock);
  bi->type_id = (char *)CosNaming_BindingIterator_interface.type_id;
  return bi->endpoint && bi->object ? PLUMB_OK : PLUMB_ENOMEM;
}

static int
it_next(naming_iter *it, plumb_call *call, uint32_t how_many,
        CosNaming_BindingList *bl, bool *ret)
{
  int rc = PLUMB_OK;
  pthread_mutex_lock(&it->n->iter_lock);
  if (!it->live) { /* destroyed while this call was on its way */
    pthread_mutex_unlock(&it->n->iter_lock);
    return plumb_call_fail(call, PLUMB_ENOOBJECT, "the binding iterator "
                           "was destroyed or expired");
  }
  size_t left = it->count - it->pos;
  size_t k = how_many < left ? how_many : left;
  rc = fill_list(call, it->b + it->pos, k, bl);
  it->pos += k;
  iter_touch(it);
  *ret = k > 0;
  pthread_mutex_unlock(&it->n->iter_lock);
  return rc;
}

static int
bi_next_one(void *ctx, plumb_call *call, CosNaming_Binding *b, bool *ret)
{
  CosNaming_BindingList bl = { 0, NULL };
  int rc = it_next(ctx, call, 1, &bl, ret);
  if (rc == PLUMB_OK && *ret)
    *b = *bl._buffer[0];
  return rc;
}

static int
bi_next_n(void *ctx, plumb_call *call, uint32_t how_many,
          CosNaming_BindingList *bl, bool *ret)
{
  if (how_many == 0) /* the specification: BAD_PARAM */
    return plumb_call_fail(call, PLUMB_EINVAL, "next_n: how_many is 0");
  return it_next(ctx, call, how_many, bl, ret);
}

static int
bi_destroy(void *ctx, plumb_call *call)
{
  naming_iter *it = ctx;
  (void)call;
  pthread_mutex_lock(&it->n->iter_lock);
  iter_kill(it); /* freed when this call returns */
  pthread_mutex_unlock(&it->n->iter_lock);
  return PLUMB_OK;
}

/* ---- NamingContextExt ----------------------------------------------------- */

static int
ext_to_string(void *ctx, plumb_call *call, const CosNaming_Name *n,
              char **ret)
{
  (void)ctx;
  if (!name_valid(n))
    return raise_invalid(call);
  size_t cap = 1, len = 0;
  for (size_t i = 0; i < n->_length; i++)
    cap += 2 * (strlen(n->_buffer[i]->id) + strlen(n->_buffer[i]->kind)) + 2;
  char *s = plumb_call_alloc(call, cap);
  if (s == NULL)
    return PLUMB_ENOMEM;
  s[0] = '\0';
  for (size_t i = 0; i < n->_length; i++)
    if (plumb__nn_format_comp(s, cap, &len, n->_buffer[i]->id,
                       n->_buffer[i]->kind) != 0)
      return raise_invalid(call);
  *ret = s;
  return PLUMB_OK;
}

/* Parses sn into a Name in the call's arena; raises InvalidName. */
static int
parse_name(plumb_call *call, const char *sn, CosNaming_Name *out)
{
  plumb__nn_comp *c;
  size_t n;
  if (plumb__nn_parse(sn, NAMING_MAX_COMPONENTS, &c, &n) != 0)
    return raise_invalid(call);
  out->_length = 0;
  out->_buffer = plumb_call_alloc(call, n * sizeof *out->_buffer);
  int rc = out->_buffer ? PLUMB_OK : PLUMB_ENOMEM;
  for (size_t i = 0; rc == PLUMB_OK && i < n; i++) {
    ncomp *nc = plumb_call_alloc(call, sizeof *nc);
    if (nc == NULL) {
      rc = PLUMB_ENOMEM;
      break;
    }
    CosNaming_NameComponent_init(nc);
    nc->id = plumb_call_strdup(call, c[i].id);
    nc->kind = plumb_call_strdup(call, c[i].kind);
    if (nc->id == NULL || nc->kind == NULL)
      rc = PLUMB_ENOMEM;
    out->_buffer[out->_length++] = nc;
  }
  plumb__nn_free(c, n);
  return rc;
}

static int
ext_to_name(void *ctx, plumb_call *call, const char *sn, CosNaming_Name *ret)
{
  (void)ctx;
  return parse_name(call, sn, ret);
}

static int
ext_to_url(void *ctx, plumb_call *call, const char *addr, const char *sn,
           char **ret)
{
  static const char ok[] = ";/:?@&=+$,-_.!~*'()";
  (void)ctx;
  if (addr[0] == '\0') {
    CosNaming_NamingContextExt_InvalidAddress ex =
        CosNaming_NamingContextExt_InvalidAddress_INIT;
    return plumb_call_raise(call,
                            &CosNaming_NamingContextExt_InvalidAddress_type,
                            &ex);
  }
  CosNaming_Name probe;
  if (sn[0] != '\0') {
    int rc = parse_name(call, sn, &probe);
    if (rc != PLUMB_OK)
      return rc;
  }
  size_t cap = strlen("corbaname:") + strlen(addr) + 3 * strlen(sn) + 2;
  char *s = plumb_call_alloc(call, cap), *p;
  if (s == NULL)
    return PLUMB_ENOMEM;
  p = s + sprintf(s, "corbaname:%s", addr);
  if (sn[0] != '\0') {
    *p++ = '#';
    for (const unsigned char *q = (const unsigned char *)sn; *q; q++) {
      if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
          (*q >= '0' && *q <= '9') || strchr(ok, *q) != NULL)
        *p++ = (char)*q;
      else
        p += sprintf(p, "%%%02X", *q);
    }
  }
  *p = '\0';
  *ret = s;
  return PLUMB_OK;
}

static int
ext_resolve_str(void *ctx, plumb_call *call, const char *sn,
                plumb_objref *ret)
{
  CosNaming_Name name;
  int rc = parse_name(call, sn, &name);
  return rc == PLUMB_OK ? do_resolve(call, ctx, &name, ret) : rc;
}

const CosNaming_NamingContextExt_ops naming_context_ops = {
  .CosNaming_NamingContext = {
    .bind = nc_bind,
    .rebind = nc_rebind,
    .bind_context = nc_bind_context,
    .rebind_context = nc_rebind_context,
    .resolve = nc_resolve,
    .unbind = nc_unbind,
    .new_context = nc_new_context,
    .bind_new_context = nc_bind_new_context,
    .destroy = nc_destroy,
    .list = nc_list,
  },
  .to_string = ext_to_string,
  .to_name = ext_to_name,
  .to_url = ext_to_url,
  .resolve_str = ext_resolve_str,
};

const CosNaming_BindingIterator_ops naming_iterator_ops = {
  .next_one = bi_next_one,
  .next_n = bi_next_n,
  .destroy = bi_destroy,
};
