/* naming_main.c - plumb-naming: the command line, the database path, the
 * objects served (root context, existing contexts, iterators) and the
 * server's life.
 *
 *   plumb-naming [--db PATH | --memory] [--ref-endpoint EP]
 *                [--max-iterators N] [--iterator-idle S] [ENDPOINT...]
 *
 * Without ENDPOINT it listens where plumb.conf / PLUMB_NAMING_ENDPOINT say
 * for service "naming" (plumb_server_listen_service).  docs/TOOLS.md and
 * plumb-naming(8) describe it for users. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <plumb/config.h>

#include "naming.h"

static void
usage(FILE *f)
{
  fprintf(f,
    "usage: plumb-naming [--db PATH | --memory] [--ref-endpoint EP]\n"
    "                    [--max-iterators N] [--iterator-idle S] "
    "[ENDPOINT...]\n"
    "\n"
    "Serves CosNaming::NamingContextExt (object \"" NAMING_ROOT_OBJECT "\")"
    " on every ENDPOINT,\n"
    "or on the endpoint of service \"naming\" in plumb.conf /\n"
    "PLUMB_NAMING_ENDPOINT.  Bindings persist in an SQLite database.\n"
    "\n"
    "  --db PATH          database file (default $PLUMB_NAMING_DB, else\n"
    "                     $STATE_DIRECTORY/naming.db, else\n"
    "                     $XDG_STATE_HOME/plumb/naming.db, else\n"
    "                     ~/.local/state/plumb/naming.db); created 0600\n"
    "  --memory           keep bindings in memory only (lost at exit)\n"
    "  --ref-endpoint EP  endpoint written into the references of contexts\n"
    "                     and iterators (default: the first ENDPOINT)\n"
    "  --max-iterators N  BindingIterators alive at once; at the limit the\n"
    "                     least recently used is destroyed (default: key\n"
    "                     max_iterators of [naming] in plumb.conf, else 256)\n"
    "  --iterator-idle S  an iterator unused for S seconds is destroyed\n"
    "                     (default: key iterator_idle_s, else 60)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 on an error,\n"
    "2 on bad usage.\n");
}

/* mkdir -p with mode 0700 for the parents of path; 0 or -1 (errno). */
static int
make_parents(char *path)
{
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    int rc = mkdir(path, 0700);
    *p = '/';
    if (rc != 0 && errno != EEXIST)
      return -1;
  }
  return 0;
}

/* The default database path (malloc'd), see usage(). */
static char *
default_db(void)
{
  const char *e;
  char *p = NULL;
  if ((e = getenv("PLUMB_NAMING_DB")) != NULL && *e)
    return strdup(e);
  if ((e = getenv("STATE_DIRECTORY")) != NULL && *e) {
    /* systemd: StateDirectory= may list several, ':'-separated */
    size_t n = strcspn(e, ":");
    if (asprintf(&p, "%.*s/naming.db", (int)n, e) < 0)
      return NULL;
  } else if ((e = getenv("XDG_STATE_HOME")) != NULL && *e) {
    if (asprintf(&p, "%s/plumb/naming.db", e) < 0)
      return NULL;
  } else {
    e = getenv("HOME");
    if (asprintf(&p, "%s/.local/state/plumb/naming.db",
                 e && *e ? e : ".") < 0)
      return NULL;
  }
  return p;
}

static int
serve_objects(plumb_server *s, naming *n, naming_ctx **ctxs, size_t *nctx)
{
  int64_t *ids;
  size_t cnt;
  int rc;

  if (ndb_contexts(n->db, &ids, &cnt) != NDB_OK) {
    fprintf(stderr, "plumb-naming: %s\n", ndb_errmsg(n->db));
    return -1;
  }
  *ctxs = calloc(1, sizeof **ctxs); /* the root; the others: ops.c */
  if (*ctxs == NULL) {
    free(ids);
    return -1;
  }
  *nctx = 1;
  (*ctxs)[0].n = n;
  (*ctxs)[0].id = NDB_ROOT;
  rc = CosNaming_NamingContextExt__serve(s, NAMING_ROOT_OBJECT,
                                         &naming_context_ops, &(*ctxs)[0]);
  n->server = s;
  for (size_t i = 0; rc == PLUMB_OK && i < cnt; i++)
    rc = naming_serve_context(n, ids[i]);
  free(ids);
  if (rc != PLUMB_OK)
    fprintf(stderr, "plumb-naming: cannot serve objects: %s\n",
            plumb_strerror(rc));
  return rc == PLUMB_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
  const char *db_path = NULL, *ref_ep = NULL;
  int memory = 0, first_ep = 0, rc = 1;
  unsigned max_iters = 0, idle_s = 0;
  naming n = { 0 };
  naming_ctx *ctxs = NULL;
  size_t nctx = 0;
  plumb_server *s = NULL;
  char *dflt = NULL, err[512];
  plumb_config cfg;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      printf("plumb-naming %s\n", PLUMB_NAMING_VERSION);
      return 0;
    } else if (strcmp(a, "--memory") == 0) {
      memory = 1;
    } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
      db_path = argv[++i];
    } else if (strcmp(a, "--ref-endpoint") == 0 && i + 1 < argc) {
      ref_ep = argv[++i];
    } else if ((strcmp(a, "--max-iterators") == 0 ||
                strcmp(a, "--iterator-idle") == 0) && i + 1 < argc) {
      char *end;
      int max = a[2] == 'm';
      long v = strtol(argv[++i], &end, 10);
      if (*argv[i] == '\0' || *end != '\0' || v < 1 ||
          v > (max ? 65536 : 86400)) {
        fprintf(stderr, "plumb-naming: %s: expected %s, not '%s'\n", a,
                max ? "1 to 65536 iterators" : "1 to 86400 seconds",
                argv[i]);
        return 2;
      }
      *(max ? &max_iters : &idle_s) = (unsigned)v;
    } else if (a[0] == '-' && a[1] == '-') {
      fprintf(stderr, "plumb-naming: unknown option or missing value: "
              "'%s'\n", a);
      usage(stderr);
      return 2;
    } else {
      first_ep = i;
      break;
    }
  }
  if (memory && db_path != NULL) {
    fprintf(stderr, "plumb-naming: --db and --memory exclude each other\n");
    return 2;
  }
  if (!memory && db_path == NULL) {
    if ((dflt = default_db()) == NULL || make_parents(dflt) != 0) {
      fprintf(stderr, "plumb-naming: cannot make the database directory "
              "for %s: %s\n", dflt ? dflt : "?", strerror(errno));
      goto out;
    }
    db_path = dflt;
  }
  if ((n.db = ndb_open(memory ? NULL : db_path, err, sizeof err)) == NULL) {
    fprintf(stderr, "plumb-naming: database %s\n", err);
    goto out;
  }
  pthread_mutex_init(&n.iter_lock, NULL);
  /* plumb.conf [naming] (also with endpoints given: its other keys) */
  if (plumb_config_resolve("naming", first_ep ? argv[first_ep] : NULL, &cfg,
                           err, sizeof err) != PLUMB_OK) {
    fprintf(stderr, "plumb-naming: %s\n", err);
    goto out;
  }
  n.max_iters = max_iters ? max_iters
                : cfg.max_iterators ? cfg.max_iterators
                                    : NAMING_MAX_ITERATORS;
  n.idle_s = idle_s ? idle_s
             : cfg.iterator_idle_s ? cfg.iterator_idle_s : NAMING_ITER_IDLE_S;
  n.ref_endpoint = ref_ep ? ref_ep
                          : first_ep ? argv[first_ep] : cfg.endpoint;
  if ((rc = plumb_server_new(&s, NULL)) != PLUMB_OK) {
    fprintf(stderr, "plumb-naming: %s\n", plumb_strerror(rc));
    rc = 1;
    goto out;
  }
  rc = 1;
  if (serve_objects(s, &n, &ctxs, &nctx) != 0)
    goto out;
  if (first_ep == 0) {
    int st = plumb_server_listen_service(s, "naming", NULL);
    if (st != PLUMB_OK) {
      fprintf(stderr, "plumb-naming: cannot listen on %s: %s\n",
              cfg.endpoint, plumb_strerror(st));
      goto out;
    }
  }
  for (int i = first_ep; first_ep && i < argc; i++) {
    int st = plumb_server_listen(s, argv[i]);
    if (st != PLUMB_OK) {
      fprintf(stderr, "plumb-naming: cannot listen on %s: %s\n", argv[i],
              plumb_strerror(st));
      goto out;
    }
  }
  fprintf(stderr, "plumb-naming: serving %s on %s (%s; at most %u "
          "binding iterators, idle ones destroyed after %u s)\n",
          NAMING_ROOT_OBJECT, n.ref_endpoint,
          memory ? "in memory" : db_path, n.max_iters, n.idle_s);
  rc = plumb_server_run(s, 1) == PLUMB_OK ? 0 : 1;
out:
  if (n.db != NULL && n.server != NULL)
    naming_iters_free(&n); /* before the server frees what they point to */
  plumb_server_free(s);
  if (n.db != NULL) {
    ndb_close(n.db);
    pthread_mutex_destroy(&n.iter_lock);
  }
  free(ctxs);
  free(dflt);
  return rc;
}
