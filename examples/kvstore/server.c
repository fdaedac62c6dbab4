/* server.c - the key-value store service (kv::Store): strings, a union
 * value, sequences of structs, an exception on a missing key, attributes and
 * a oneway log operation.  Entries live in a small mutex-protected table.
 *
 *   kv-server ENDPOINT...        (or $PLUMB_ENDPOINT) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plumb/plumb.h>

#include "kvstore.h"

typedef struct kv_item {
  struct kv_item *next;
  char *key;
  kv_Kind kind;
  char *text;         /* K_TEXT */
  int64_t number;     /* K_NUMBER */
  uint8_t *blob;      /* K_BLOB */
  size_t blob_len;
  uint32_t version;
} kv_item;

typedef struct kv_store {
  pthread_mutex_t lock;
  kv_item *items;
  uint32_t count;
  char *name;
  unsigned logged; /* oneway log messages received */
} kv_store;

static kv_item *
store_find(kv_store *s, const char *key)
{
  for (kv_item *it = s->items; it != NULL; it = it->next)
    if (strcmp(it->key, key) == 0)
      return it;
  return NULL;
}

static void
item_clear_value(kv_item *it)
{
  free(it->text);
  free(it->blob);
  it->text = NULL;
  it->blob = NULL;
  it->blob_len = 0;
}

/* Copies an IDL union value into the item; PLUMB_EINVAL if unset. */
static int
item_set_value(kv_item *it, const kv_Value *v)
{
  item_clear_value(it);
  it->kind = v->_d;
  switch (v->_case) {
  case kv_Value_case_text:
    it->text = strdup(v->text ? v->text : "");
    return it->text ? PLUMB_OK : PLUMB_ENOMEM;
  case kv_Value_case_number:
    it->number = v->number;
    return PLUMB_OK;
  case kv_Value_case_blob:
    it->blob_len = v->blob.len;
    it->blob = malloc(v->blob.len ? v->blob.len : 1);
    if (it->blob == NULL)
      return PLUMB_ENOMEM;
    if (v->blob.len)
      memcpy(it->blob, v->blob.data, v->blob.len);
    return PLUMB_OK;
  default:
    return PLUMB_EINVAL;
  }
}

/* Fills an out union from an item; memory from the call's arena. */
static int
item_get_value(plumb_call *call, const kv_item *it, kv_Value *out)
{
  out->_d = it->kind;
  switch (it->kind) {
  case kv_Kind_K_TEXT:
    out->_case = kv_Value_case_text;
    out->text = plumb_call_strdup(call, it->text);
    return out->text ? PLUMB_OK : PLUMB_ENOMEM;
  case kv_Kind_K_NUMBER:
    out->_case = kv_Value_case_number;
    out->number = it->number;
    return PLUMB_OK;
  default:
    out->_case = kv_Value_case_blob;
    out->blob.len = it->blob_len;
    out->blob.data = plumb_call_alloc(call, it->blob_len ? it->blob_len : 1);
    if (out->blob.data == NULL)
      return PLUMB_ENOMEM;
    if (it->blob_len)
      memcpy(out->blob.data, it->blob, it->blob_len);
    return PLUMB_OK;
  }
}

static int
store_put_locked(kv_store *s, const char *key, const kv_Value *v,
                 uint32_t *version)
{
  kv_item *it = store_find(s, key);
  if (it == NULL) {
    it = calloc(1, sizeof *it);
    if (it == NULL || (it->key = strdup(key)) == NULL) {
      free(it);
      return PLUMB_ENOMEM;
    }
    it->next = s->items;
    s->items = it;
    s->count++;
  }
  int rc = item_set_value(it, v);
  if (rc == PLUMB_OK)
    *version = ++it->version;
  return rc;
}

static int
kv_put(void *ctx, plumb_call *call, const char *key, const kv_Value *value,
       uint32_t *version)
{
  kv_store *s = ctx;
  (void)call;
  if (value == NULL)
    return PLUMB_EINVAL;
  pthread_mutex_lock(&s->lock);
  int rc = store_put_locked(s, key, value, version);
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int
kv_get(void *ctx, plumb_call *call, const char *key, kv_Value *ret)
{
  kv_store *s = ctx;
  int rc;
  pthread_mutex_lock(&s->lock);
  kv_item *it = store_find(s, key);
  rc = it ? item_get_value(call, it, ret) : PLUMB_EEXCEPTION;
  pthread_mutex_unlock(&s->lock);
  if (rc == PLUMB_EEXCEPTION) {
    kv_NotFound ex = kv_NotFound_INIT;
    ex.key = (char *)key;
    return plumb_call_raise(call, &kv_NotFound_type, &ex);
  }
  return rc;
}

static int
kv_remove(void *ctx, plumb_call *call, const char *key, bool *ret)
{
  kv_store *s = ctx;
  (void)call;
  *ret = false;
  pthread_mutex_lock(&s->lock);
  for (kv_item **pp = &s->items; *pp != NULL; pp = &(*pp)->next) {
    if (strcmp((*pp)->key, key) == 0) {
      kv_item *it = *pp;
      *pp = it->next;
      item_clear_value(it);
      free(it->key);
      free(it);
      s->count--;
      *ret = true;
      break;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return PLUMB_OK;
}

static int
kv_list(void *ctx, plumb_call *call, const char *prefix, kv_EntryList *ret)
{
  kv_store *s = ctx;
  size_t plen = strlen(prefix), n = 0;
  int rc = PLUMB_OK;

  pthread_mutex_lock(&s->lock);
  ret->_buffer = plumb_call_alloc(call, sizeof(kv_Entry *) * (s->count + 1));
  if (ret->_buffer == NULL)
    rc = PLUMB_ENOMEM;
  for (kv_item *it = s->items; rc == PLUMB_OK && it; it = it->next) {
    if (strncmp(it->key, prefix, plen) != 0)
      continue;
    kv_Entry *e = plumb_call_alloc(call, sizeof *e);
    kv_Value *v = plumb_call_alloc(call, sizeof *v);
    if (e == NULL || v == NULL) {
      rc = PLUMB_ENOMEM;
      break;
    }
    kv_Entry_init(e);
    kv_Value_init(v);
    e->key = plumb_call_strdup(call, it->key);
    e->value = v;
    e->version = it->version;
    rc = e->key ? item_get_value(call, it, v) : PLUMB_ENOMEM;
    ret->_buffer[n++] = e;
  }
  ret->_length = n;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int
kv_keys(void *ctx, plumb_call *call, kv_KeyList *ret)
{
  kv_store *s = ctx;
  size_t n = 0;
  int rc = PLUMB_OK;

  pthread_mutex_lock(&s->lock);
  ret->_buffer = plumb_call_alloc(call, sizeof(char *) * (s->count + 1));
  for (kv_item *it = s->items; ret->_buffer && it; it = it->next)
    if ((ret->_buffer[n++] = plumb_call_strdup(call, it->key)) == NULL)
      rc = PLUMB_ENOMEM;
  if (ret->_buffer == NULL)
    rc = PLUMB_ENOMEM;
  ret->_length = n;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

static int
kv_put_many(void *ctx, plumb_call *call, const kv_EntryList *entries,
            uint32_t *ret)
{
  kv_store *s = ctx;
  uint32_t version, stored = 0;
  int rc = PLUMB_OK;
  (void)call;

  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; rc == PLUMB_OK && i < entries->_length; i++) {
    const kv_Entry *e = entries->_buffer[i];
    if (e == NULL || e->value == NULL) {
      rc = PLUMB_EINVAL;
      break;
    }
    rc = store_put_locked(s, e->key, e->value, &version);
    stored += rc == PLUMB_OK;
  }
  pthread_mutex_unlock(&s->lock);
  *ret = stored;
  return rc;
}

static int
kv_log(void *ctx, plumb_call *call, const char *message)
{
  kv_store *s = ctx;
  (void)call;
  pthread_mutex_lock(&s->lock);
  s->logged++;
  pthread_mutex_unlock(&s->lock);
  fprintf(stderr, "kv-server: log: %s\n", message);
  return PLUMB_OK;
}

static int
kv_get_name(void *ctx, plumb_call *call, char **ret)
{
  kv_store *s = ctx;
  pthread_mutex_lock(&s->lock);
  *ret = plumb_call_strdup(call, s->name);
  pthread_mutex_unlock(&s->lock);
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

static int
kv_set_name(void *ctx, plumb_call *call, const char *value)
{
  kv_store *s = ctx;
  char *copy = strdup(value);
  (void)call;
  if (copy == NULL)
    return PLUMB_ENOMEM;
  pthread_mutex_lock(&s->lock);
  free(s->name);
  s->name = copy;
  pthread_mutex_unlock(&s->lock);
  return PLUMB_OK;
}

static int
kv_get_size(void *ctx, plumb_call *call, uint32_t *ret)
{
  kv_store *s = ctx;
  (void)call;
  pthread_mutex_lock(&s->lock);
  *ret = s->count;
  pthread_mutex_unlock(&s->lock);
  return PLUMB_OK;
}

static const kv_Store_ops kv_impl = {
  .put = kv_put,
  .get = kv_get,
  .remove = kv_remove,
  .list = kv_list,
  .keys = kv_keys,
  .put_many = kv_put_many,
  .log = kv_log,
  ._get_name = kv_get_name,
  ._set_name = kv_set_name,
  ._get_size = kv_get_size,
};

static void
store_free(kv_store *s)
{
  while (s->items) {
    kv_item *it = s->items;
    s->items = it->next;
    item_clear_value(it);
    free(it->key);
    free(it);
  }
  free(s->name);
  pthread_mutex_destroy(&s->lock);
}

int
main(int argc, char **argv)
{
  kv_store store = { .lock = PTHREAD_MUTEX_INITIALIZER };
  plumb_server *srv;
  const char *env = getenv("PLUMB_ENDPOINT");
  int rc;

  if (getenv("PLUMB_LOG") == NULL)
    plumb_log_set_level(PLUMB_LOG_WARN);
  store.name = strdup("kvstore");
  if (store.name == NULL || (rc = plumb_server_new(&srv, NULL)) != PLUMB_OK) {
    fprintf(stderr, "kv-server: out of memory\n");
    return 1;
  }
  rc = kv_Store__serve(srv, "kv", &kv_impl, &store);
  for (int i = 1; rc == PLUMB_OK && i < argc; i++)
    rc = plumb_server_listen(srv, argv[i]);
  if (rc == PLUMB_OK && argc < 2)
    rc = plumb_server_listen(srv, env ? env : "unix:/tmp/plumb-kv.sock");
  if (rc == PLUMB_OK)
    rc = plumb_server_run(srv, 1);
  if (rc != PLUMB_OK)
    fprintf(stderr, "kv-server: %s\n", plumb_strerror(rc));
  plumb_server_free(srv);
  store_free(&store);
  return rc == PLUMB_OK ? 0 : 1;
}
