/* naming_db.c - plumb-naming's bindings, kept in SQLite.
 *
 * Schema (version 1, PRAGMA user_version):
 *   contexts(id INTEGER PRIMARY KEY)             -- 1 is the root
 *   bindings(ctx, id, kind, type, endpoint, object, type_id, child,
 *            PRIMARY KEY (ctx, id, kind))
 * Journal mode WAL with synchronous=FULL: a write that returned is on disk,
 * and a process killed at any point leaves either the old or the new state
 * (every change is one transaction).  One connection, serialised by a mutex
 * (the server's workers call in concurrently).  The file is created 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "naming_db.h"

struct ndb {
  sqlite3 *db;
  pthread_mutex_t lock;
  char err[256];
};

static const char *const schema =
  "CREATE TABLE IF NOT EXISTS contexts (id INTEGER PRIMARY KEY);"
  "INSERT OR IGNORE INTO contexts (id) VALUES (1);"
  "CREATE TABLE IF NOT EXISTS bindings ("
  "  ctx INTEGER NOT NULL REFERENCES contexts (id),"
  "  id TEXT NOT NULL, kind TEXT NOT NULL,"
  "  type INTEGER NOT NULL CHECK (type IN (0, 1)),"
  "  endpoint TEXT NOT NULL, object TEXT NOT NULL, type_id TEXT NOT NULL,"
  "  child INTEGER,"
  "  PRIMARY KEY (ctx, id, kind));"
  "PRAGMA user_version = 1;";

static int
fail(ndb *db, const char *what)
{
  snprintf(db->err, sizeof db->err, "%s: %s", what, sqlite3_errmsg(db->db));
  return NDB_ERROR;
}

const char *
ndb_errmsg(ndb *db)
{
  return db->err;
}

ndb *
ndb_open(const char *path, char *err, size_t errlen)
{
  ndb *db = calloc(1, sizeof *db);
  char *msg = NULL;

  if (db == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&db->lock, NULL);
  if (path != NULL) {
    /* create it 0600 ourselves: SQLite would use the umask */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
      goto bad;
    }
    close(fd);
  }
  if (sqlite3_open_v2(path ? path : ":memory:", &db->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "%s: %s", path ? path : ":memory:",
             db->db ? sqlite3_errmsg(db->db) : "cannot open");
    goto bad;
  }
  sqlite3_busy_timeout(db->db, 5000);
  if (sqlite3_exec(db->db, path ? "PRAGMA journal_mode=WAL;"
                                  "PRAGMA synchronous=FULL;"
                                  "PRAGMA foreign_keys=ON;"
                                : "PRAGMA foreign_keys=ON;",
                   NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(db->db, "BEGIN IMMEDIATE;", NULL, NULL, &msg) != SQLITE_OK
      || sqlite3_exec(db->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
      sqlite3_exec(db->db, "COMMIT;", NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "%s: %s", path ? path : ":memory:",
             msg ? msg : "schema");
    sqlite3_free(msg);
    goto bad;
  }
  if (path != NULL) {
    /* the WAL and shm files SQLite made follow the umask: tighten them */
    char side[4096];
    snprintf(side, sizeof side, "%s-wal", path);
    chmod(side, 0600);
    snprintf(side, sizeof side, "%s-shm", path);
    chmod(side, 0600);
  }
  return db;
bad:
  if (db->db)
    sqlite3_close(db->db);
  pthread_mutex_destroy(&db->lock);
  free(db);
  return NULL;
}

void
ndb_close(ndb *db)
{
  if (db == NULL)
    return;
  sqlite3_close(db->db);
  pthread_mutex_destroy(&db->lock);
  free(db);
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  return strdup(t ? (const char *)t : "");
}

void
ndb_binding_clear(ndb_binding *b)
{
  free(b->id);
  free(b->kind);
  free(b->endpoint);
  free(b->object);
  free(b->type_id);
  memset(b, 0, sizeof *b);
}

void
ndb_bindings_free(ndb_binding *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    ndb_binding_clear(&b[i]);
  free(b);
}

static int
row_binding(sqlite3_stmt *st, ndb_binding *b)
{
  b->id = col_dup(st, 0);
  b->kind = col_dup(st, 1);
  b->type = sqlite3_column_int(st, 2);
  b->endpoint = col_dup(st, 3);
  b->object = col_dup(st, 4);
  b->type_id = col_dup(st, 5);
  b->child = sqlite3_column_int64(st, 6);
  if (!b->id || !b->kind || !b->endpoint || !b->object || !b->type_id) {
    ndb_binding_clear(b);
    return NDB_ERROR;
  }
  return NDB_OK;
}

#define COLS "id, kind, type, endpoint, object, type_id, child"

int
ndb_get(ndb *db, int64_t ctx, const char *id, const char *kind,
        ndb_binding *b)
{
  sqlite3_stmt *st = NULL;
  int rc;

  memset(b, 0, sizeof *b);
  pthread_mutex_lock(&db->lock);
  if (sqlite3_prepare_v2(db->db, "SELECT " COLS " FROM bindings WHERE "
                         "ctx = ? AND id = ? AND kind = ?", -1, &st,
                         NULL) != SQLITE_OK) {
    rc = fail(db, "get");
    goto out;
  }
  sqlite3_bind_int64(st, 1, ctx);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    rc = row_binding(st, b);
  else if (rc == SQLITE_DONE)
    rc = NDB_NOTFOUND;
  else
    rc = fail(db, "get");
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&db->lock);
  return rc;
}

static int
exists_locked(ndb *db, int64_t ctx)
{
  sqlite3_stmt *st = NULL;
  int rc;
  if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM contexts WHERE id = ?", -1,
                         &st, NULL) != SQLITE_OK)
    return fail(db, "context");
  sqlite3_bind_int64(st, 1, ctx);
  rc = sqlite3_step(st);
  rc = rc == SQLITE_ROW ? NDB_OK : rc == SQLITE_DONE ? NDB_NOTFOUND
                                                      : fail(db, "context");
  sqlite3_finalize(st);
  return rc;
}

int
ndb_context_exists(ndb *db, int64_t id)
{
  pthread_mutex_lock(&db->lock);
  int rc = exists_locked(db, id);
  pthread_mutex_unlock(&db->lock);
  return rc;
}

/* Inserts or replaces b in ctx; the caller holds the lock and a
 * transaction. */
static int
put_locked(ndb *db, int64_t ctx, const ndb_binding *b, int replace)
{
  sqlite3_stmt *st = NULL;
  int rc;

  if ((rc = exists_locked(db, ctx)) != NDB_OK)
    return rc;
  if (replace) {
    /* rebind keeps the binding's type (CosNaming: NotFound not_object /
     * not_context otherwise) */
    if (sqlite3_prepare_v2(db->db, "SELECT type FROM bindings WHERE ctx = ?"
                           " AND id = ? AND kind = ?", -1, &st,
                           NULL) != SQLITE_OK)
      return fail(db, "rebind");
    sqlite3_bind_int64(st, 1, ctx);
    sqlite3_bind_text(st, 2, b->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, b->kind, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int old = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return fail(db, "rebind");
    if (old >= 0 && old != b->type)
      return NDB_EXISTS;
  }
  if (sqlite3_prepare_v2(db->db, replace
                         ? "INSERT OR REPLACE INTO bindings (ctx, " COLS
                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                         : "INSERT INTO bindings (ctx, " COLS
                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &st,
                         NULL) != SQLITE_OK)
    return fail(db, "bind");
  sqlite3_bind_int64(st, 1, ctx);
  sqlite3_bind_text(st, 2, b->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, b->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, b->type);
  sqlite3_bind_text(st, 5, b->endpoint, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, b->object, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, b->type_id, -1, SQLITE_STATIC);
  if (b->child)
    sqlite3_bind_int64(st, 8, b->child);
  else
    sqlite3_bind_null(st, 8);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_CONSTRAINT)
    return NDB_EXISTS;
  return rc == SQLITE_DONE ? NDB_OK : fail(db, "bind");
}

static int
begin(ndb *db)
{
  return sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
                 SQLITE_OK ? NDB_OK : fail(db, "begin");
}

static int
end(ndb *db, int rc)
{
  if (rc == NDB_OK) {
    if (sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
      return NDB_OK;
    rc = fail(db, "commit");
  }
  sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int
ndb_put(ndb *db, int64_t ctx, const ndb_binding *b, int replace)
{
  pthread_mutex_lock(&db->lock);
  int rc = begin(db);
  if (rc == NDB_OK)
    rc = end(db, put_locked(db, ctx, b, replace));
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int
ndb_del(ndb *db, int64_t ctx, const char *id, const char *kind)
{
  sqlite3_stmt *st = NULL;
  int rc;

  pthread_mutex_lock(&db->lock);
  if (sqlite3_prepare_v2(db->db, "DELETE FROM bindings WHERE ctx = ? AND "
                         "id = ? AND kind = ?", -1, &st, NULL) != SQLITE_OK) {
    rc = fail(db, "unbind");
    goto out;
  }
  sqlite3_bind_int64(st, 1, ctx);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_DONE)
    rc = sqlite3_changes(db->db) ? NDB_OK : NDB_NOTFOUND;
  else
    rc = fail(db, "unbind");
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int
ndb_new_context(ndb *db, int64_t ctx, ndb_binding *b, int64_t *id)
{
  pthread_mutex_lock(&db->lock);
  int rc = begin(db);
  if (rc != NDB_OK)
    goto out;
  if (sqlite3_exec(db->db, "INSERT INTO contexts DEFAULT VALUES", NULL, NULL,
                   NULL) != SQLITE_OK) {
    rc = end(db, fail(db, "new context"));
    goto out;
  }
  *id = sqlite3_last_insert_rowid(db->db);
  if (b != NULL) {
    char obj[32]; /* the context's object name, as naming_ops.c makes it */
    snprintf(obj, sizeof obj, "ctx.%lld", (long long)*id);
    b->child = *id;
    b->object = obj;
    rc = put_locked(db, ctx, b, 0);
    b->object = NULL;
  }
  rc = end(db, rc);
out:
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int
ndb_destroy_context(ndb *db, int64_t id)
{
  sqlite3_stmt *st = NULL;
  int rc;

  if (id == NDB_ROOT)
    return NDB_NOTEMPTY; /* the root is never destroyed */
  pthread_mutex_lock(&db->lock);
  if ((rc = begin(db)) != NDB_OK)
    goto out;
  if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM bindings WHERE "
                         "ctx = ?", -1, &st, NULL) != SQLITE_OK) {
    rc = end(db, fail(db, "destroy"));
    goto out;
  }
  sqlite3_bind_int64(st, 1, id);
  rc = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0
           ? NDB_OK : NDB_NOTEMPTY;
  sqlite3_finalize(st);
  if (rc == NDB_OK) {
    char sql[96];
    snprintf(sql, sizeof sql, "DELETE FROM contexts WHERE id = %lld",
             (long long)id);
    if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) != SQLITE_OK)
      rc = fail(db, "destroy");
  }
  rc = end(db, rc);
out:
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int
ndb_list(ndb *db, int64_t ctx, ndb_binding **out, size_t *n)
{
  sqlite3_stmt *st = NULL;
  ndb_binding *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;

  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&db->lock);
  if ((rc = exists_locked(db, ctx)) != NDB_OK)
    goto out;
  if (sqlite3_prepare_v2(db->db, "SELECT " COLS " FROM bindings WHERE "
                         "ctx = ? ORDER BY id, kind", -1, &st,
                         NULL) != SQLITE_OK) {
    rc = fail(db, "list");
    goto out;
  }
  sqlite3_bind_int64(st, 1, ctx);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      ndb_binding *nv = realloc(v, nc * sizeof *nv);
      if (nv == NULL)
        break;
      v = nv;
      cap = nc;
    }
    if (row_binding(st, &v[cnt]) != NDB_OK)
      break;
    cnt++;
  }
  if (rc != SQLITE_DONE) {
    ndb_bindings_free(v, cnt);
    rc = fail(db, "list");
    goto out;
  }
  *out = v;
  *n = cnt;
  rc = NDB_OK;
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int
ndb_contexts(ndb *db, int64_t **out, size_t *n)
{
  sqlite3_stmt *st = NULL;
  int64_t *v = NULL;
  size_t cnt = 0, cap = 0;
  int rc;

  *out = NULL;
  *n = 0;
  pthread_mutex_lock(&db->lock);
  if (sqlite3_prepare_v2(db->db, "SELECT id FROM contexts WHERE id <> 1 "
                         "ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
    rc = fail(db, "contexts");
    goto out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      size_t nc = cap ? cap * 2 : 16;
      int64_t *nv = realloc(v, nc * sizeof *nv);
      if (nv == NULL)
        break;
      v = nv;
      cap = nc;
    }
    v[cnt++] = sqlite3_column_int64(st, 0);
  }
  if (rc != SQLITE_DONE) {
    free(v);
    rc = fail(db, "contexts");
    goto out;
  }
  *out = v;
  *n = cnt;
  rc = NDB_OK;
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&db->lock);
  return rc;
}
