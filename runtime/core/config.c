/* config.c - resolves a service's endpoint and options from the program,
 * the environment and an INI file (parsed by libinih), in the order stated
 * in plumb/config.h.  Every bad value is reported with the file, line, key
 * and what is allowed; nothing here opens a connection. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "plumb/config.h"
#include "plumb/objref.h"
#include "access.h"
#include "decode.h"
#include "lasterr.h"
#include "log.h"
#include "introspect.h"
#include "open_opts.h"
#include "srv_calls.h"
#include "transport.h"

#define CONFIG_MAX_TIMEOUT_MS 86400000LL /* one day */
#define CONFIG_MIN_FRAME 1024u
#define CONFIG_MAX_FRAME (1024u * 1024u * 1024u)

/* One parsed key of the sections that matter: [defaults] and [service]. */
typedef struct cfg_key {
  const char *name;
  char value[512];
  int line;
  int set;
} cfg_key;

enum { K_ENDPOINT, K_TIMEOUT, K_MAX_FRAME, K_MODE, K_GROUP, K_RING, K_MSGSIZE,
       K_SPIN, K_ALLOW, K_ALLOW_UIDS, K_ALLOW_GIDS, K_MAX_DEPTH,
       K_DECODE_BUDGET, K_MAX_DECODE_MEM, K_CONN_QBYTES, K_CONN_QFRAMES,
       K_SERVER_QBYTES, K_SEND_TIMEOUT, K_FRAME_TIMEOUT, K_INTROSPECTION,
       K_CONN_MAX_CALLS, K_MAX_RX_MEM, K_MAX_ITERATORS, K_ITERATOR_IDLE,
       K_COUNT };

static const char *const key_names[K_COUNT] = {
  "endpoint", "timeout_ms", "max_frame", "mode", "group", "shm_ring_size",
  "mq_msgsize", "spin_us", "allow", "allow_uids", "allow_gids", "max_depth",
  "decode_budget", "max_decode_memory", "conn_queue_bytes",
  "conn_queue_frames", "server_queue_bytes", "send_timeout_ms",
  "frame_timeout_ms", "introspection", "conn_max_calls", "max_rx_memory",
  "max_iterators", "iterator_idle_s", /* plumb-naming's, docs/TOOLS.md */
};

typedef struct cfg_parse {
  const char *service;
  const char *file;
  FILE *fp;
  int line;           /* line the reader returned last */
  cfg_key svc[K_COUNT], dfl[K_COUNT];
  char *err;
  size_t errlen;
  int failed;
} cfg_parse;

static void
cfg_error(cfg_parse *p, const char *fmt, ...)
{
  va_list ap;
  if (p->failed)
    return; /* keep the first error */
  p->failed = 1;
  if (p->err && p->errlen) {
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
  }
}

/* fgets-style reader for ini_parse_stream that counts lines. */
static char *
cfg_reader(char *str, int num, void *stream)
{
  cfg_parse *p = stream;
  char *r = fgets(str, num, p->fp);
  if (r != NULL && strchr(r, '\n') != NULL)
    p->line++;
  else if (r != NULL && feof(p->fp))
    p->line++; /* last line without a newline */
  return r;
}

static int
cfg_handler(void *user, const char *section, const char *name,
            const char *value)
{
  cfg_parse *p = user;
  cfg_key *keys;

  if (strcmp(section, "defaults") == 0)
    keys = p->dfl;
  else if (strcmp(section, p->service) == 0)
    keys = p->svc;
  else if (section[0] == '\0') {
    cfg_error(p, "%s:%d: key '%s' outside any section: put it under "
              "[defaults] or [<service>]", p->file, p->line, name);
    return 0;
  } else
    keys = NULL; /* another service's section: checked when it is used */
  for (int k = 0; k < K_COUNT; k++) {
    if (strcmp(name, key_names[k]) != 0)
      continue;
    if (keys != NULL) {
      snprintf(keys[k].value, sizeof keys[k].value, "%s", value);
      keys[k].line = p->line;
      keys[k].set = 1;
    }
    return 1;
  }
  char allowed[512];
  size_t o = 0;
  allowed[0] = '\0';
  for (int k = 0; k < K_COUNT && o < sizeof allowed; k++)
    o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s",
                          k ? ", " : "", key_names[k]);
  cfg_error(p, "%s:%d: [%s] unknown key '%s' (allowed: %s)", p->file, p->line,
            section, name, allowed);
  return 0;
}

/* "PLUMB_" + upper-cased service + suffix. */
static void
env_name(char *buf, size_t n, const char *service, const char *suffix)
{
  size_t o = (size_t)snprintf(buf, n, "PLUMB_");
  for (const char *s = service; *s && o + 1 < n; s++)
    buf[o++] = isalnum((unsigned char)*s) ? (char)toupper((unsigned char)*s)
                                          : '_';
  buf[o] = '\0';
  snprintf(buf + o, n - o, "%s", suffix);
}

/* Parses an unsigned size with optional K/M/G suffix (binary). */
static int
parse_size(const char *v, uint64_t *out)
{
  char *end;
  errno = 0;
  if (!isdigit((unsigned char)v[0]))
    return -1;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno)
    return -1;
  uint64_t mul = 1;
  if (*end == 'K' || *end == 'k')
    mul = 1024, end++;
  else if (*end == 'M' || *end == 'm')
    mul = 1024 * 1024, end++;
  else if (*end == 'G' || *end == 'g')
    mul = 1024ull * 1024 * 1024, end++;
  if (*end != '\0' || x > UINT64_MAX / mul)
    return -1;
  *out = x * mul;
  return 0;
}

static int
parse_int(const char *v, int64_t *out)
{
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end != '\0')
    return -1;
  *out = x;
  return 0;
}

/* The effective key: [service] first, then [defaults]. */
static const cfg_key *
cfg_pick(const cfg_parse *p, int k)
{
  if (p->svc[k].set)
    return &p->svc[k];
  if (p->dfl[k].set)
    return &p->dfl[k];
  return NULL;
}

/* Reports a bad value of key k (from [service] or [defaults]). */
static void
cfg_bad(cfg_parse *p, const cfg_key *k, const char *allowed)
{
  int in_svc = k >= p->svc && k < p->svc + K_COUNT;
  cfg_error(p, "%s:%d: [%s] %s = '%s': %s", p->file, k->line,
            in_svc ? p->service : "defaults", k->name, k->value, allowed);
}

#define BAD(key, allowed) cfg_bad(p, (key), (allowed))

/* Applies the file's values (after parsing) to cfg; 0 or -1 on a bad one. */
static int
cfg_apply(cfg_parse *p, plumb_config *cfg)
{
  const cfg_key *k;
  uint64_t u;
  int64_t i;

  if ((k = cfg_pick(p, K_TIMEOUT)) != NULL) {
    if (parse_int(k->value, &i) < 0 || i < -1 || i > CONFIG_MAX_TIMEOUT_MS ||
        i == 0)
      BAD(k, "expected milliseconds from 1 to 86400000, or -1 for none");
    else
      cfg->timeout_ms = i;
  }
  if ((k = cfg_pick(p, K_MAX_FRAME)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < CONFIG_MIN_FRAME ||
        u > CONFIG_MAX_FRAME)
      BAD(k, "expected a size from 1K to 1G (suffixes K, M, G)");
    else
      cfg->max_frame = (uint32_t)u;
  }
  if ((k = cfg_pick(p, K_MODE)) != NULL) {
    char *end;
    unsigned long m = strtoul(k->value, &end, 8);
    if (k->value[0] != '0' || *end != '\0' || m > 0777 || (m & 0600) != 0600)
      BAD(k, "expected octal permission bits such as 0600 or 0660 "
             "(owner read+write required)");
    else
      cfg->mode = (unsigned)m;
  }
  if ((k = cfg_pick(p, K_GROUP)) != NULL) {
    struct group *g = getgrnam(k->value);
    if (g == NULL && parse_int(k->value, &i) == 0 && i >= 0)
      cfg->group = (gid_t)i;
    else if (g == NULL)
      BAD(k, "expected an existing group name or numeric gid");
    else
      cfg->group = g->gr_gid;
  }
  if ((k = cfg_pick(p, K_RING)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < 4096 || u > (256u << 20) ||
        (u & (u - 1)) != 0)
      BAD(k, "expected a power of two from 4K to 256M");
    else
      cfg->shm_ring_size = (uint32_t)u;
  }
  if ((k = cfg_pick(p, K_MSGSIZE)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < 128 || u > (16u << 20))
      BAD(k, "expected a message size from 128 to 16M bytes "
             "(the system limit is /proc/sys/fs/mqueue/msgsize_max)");
    else
      cfg->mq_msgsize = (uint32_t)u;
  }
  if ((k = cfg_pick(p, K_INTROSPECTION)) != NULL) { /* introspect.c */
    if (strcmp(k->value, "on") == 0 || strcmp(k->value, "yes") == 0)
      cfg->introspection_off = 0;
    else if (strcmp(k->value, "off") == 0 || strcmp(k->value, "no") == 0)
      cfg->introspection_off = 1;
    else
      BAD(k, "expected on or off");
  }
  if ((k = cfg_pick(p, K_SPIN)) != NULL) {
    if (parse_int(k->value, &i) < 0 || i < 0 || i > 100000)
      BAD(k, "expected microseconds from 0 to 100000");
    else
      cfg->spin_us = (int32_t)i;
  }
  for (int a = K_ALLOW; a <= K_ALLOW_GIDS; a++) {
    plumb__access acc;
    char why[200];
    char *dst = a == K_ALLOW ? cfg->allow
                : a == K_ALLOW_UIDS ? cfg->allow_uids : cfg->allow_gids;
    size_t dlen = a == K_ALLOW ? sizeof cfg->allow
                  : a == K_ALLOW_UIDS ? sizeof cfg->allow_uids
                                      : sizeof cfg->allow_gids;
    if ((k = cfg_pick(p, a)) == NULL)
      continue;
    if (plumb__access_parse(&acc, a == K_ALLOW ? k->value : NULL,
                            a == K_ALLOW_UIDS ? k->value : NULL,
                            a == K_ALLOW_GIDS ? k->value : NULL, why,
                            sizeof why) != PLUMB_OK)
      BAD(k, why);
    else if (strlen(k->value) >= dlen)
      BAD(k, "list too long (at most 255 characters)");
    else
      memcpy(dst, k->value, strlen(k->value) + 1);
  }
  if ((k = cfg_pick(p, K_MAX_DEPTH)) != NULL) {
    if (parse_int(k->value, &i) < 0 || i < 1 || i > PLUMB__DECODE_DEPTH_MAX)
      BAD(k, "expected nested messages from 1 to 1000");
    else
      cfg->max_depth = (unsigned)i;
  }
  if ((k = cfg_pick(p, K_DECODE_BUDGET)) != NULL) {
    if (parse_int(k->value, &i) < 0 || i < 1 || i > 1024)
      BAD(k, "expected a multiple of the frame length from 1 to 1024");
    else
      cfg->decode_budget = (unsigned)i;
  }
  if ((k = cfg_pick(p, K_MAX_DECODE_MEM)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < (1u << 20) ||
        u > (uint64_t)SIZE_MAX / 2)
      BAD(k, "expected a size of at least 1M (suffixes K, M, G)");
    else
      cfg->max_decode_memory = (size_t)u;
  }
  if ((k = cfg_pick(p, K_CONN_MAX_CALLS)) != NULL) {
    if (parse_int(k->value, &i) < 0 || i < 1 || i > 65536)
      BAD(k, "expected calls in flight per connection from 1 to 65536");
    else
      cfg->conn_max_calls = (unsigned)i;
  }
  if ((k = cfg_pick(p, K_MAX_RX_MEM)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < (1u << 20) ||
        u > (uint64_t)SIZE_MAX / 2)
      BAD(k, "expected a size of at least 1M (suffixes K, M, G)");
    else
      cfg->max_rx_memory = (size_t)u;
  }
  if ((k = cfg_pick(p, K_MAX_ITERATORS)) != NULL) { /* plumb-naming */
    if (parse_int(k->value, &i) < 0 || i < 1 || i > 65536)
      BAD(k, "expected binding iterators from 1 to 65536");
    else
      cfg->max_iterators = (unsigned)i;
  }
  if ((k = cfg_pick(p, K_ITERATOR_IDLE)) != NULL) { /* plumb-naming */
    if (parse_int(k->value, &i) < 0 || i < 1 || i > 86400)
      BAD(k, "expected seconds from 1 to 86400");
    else
      cfg->iterator_idle_s = (unsigned)i;
  }
  if ((k = cfg_pick(p, K_CONN_QBYTES)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < (64u << 10) ||
        u > (uint64_t)SIZE_MAX / 2)
      BAD(k, "expected a size of at least 64K (suffixes K, M, G)");
    else
      cfg->conn_queue_bytes = (size_t)u;
  }
  if ((k = cfg_pick(p, K_CONN_QFRAMES)) != NULL) {
    if (parse_int(k->value, &i) < 0 || i < 1 || i > 1000000)
      BAD(k, "expected a number of frames from 1 to 1000000");
    else
      cfg->conn_queue_frames = (unsigned)i;
  }
  if ((k = cfg_pick(p, K_SERVER_QBYTES)) != NULL) {
    if (parse_size(k->value, &u) < 0 || u < (1u << 20) ||
        u > (uint64_t)SIZE_MAX / 2)
      BAD(k, "expected a size of at least 1M (suffixes K, M, G)");
    else
      cfg->server_queue_bytes = u;
  }
  for (int t = K_SEND_TIMEOUT; t <= K_FRAME_TIMEOUT; t++) {
    if ((k = cfg_pick(p, t)) == NULL)
      continue;
    if (parse_int(k->value, &i) < 0 || i < 1 || i > CONFIG_MAX_TIMEOUT_MS)
      BAD(k, "expected milliseconds from 1 to 86400000");
    else if (t == K_SEND_TIMEOUT)
      cfg->send_timeout_ms = (int)i;
    else
      cfg->frame_timeout_ms = (int)i;
  }
  if ((k = cfg_pick(p, K_ENDPOINT)) != NULL &&
      cfg->endpoint_source == PLUMB_SRC_DEFAULT) {
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", k->value);
    cfg->endpoint_source = PLUMB_SRC_FILE;
    if (strlen(k->value) >= sizeof cfg->endpoint)
      BAD(k, "endpoint longer than 511 bytes");
    else if (strncmp(cfg->endpoint, "plumbref:", 9) != 0 && /* objref.c */
             strncmp(cfg->endpoint, "name:", 5) != 0 && /* name_endpoint.c */
             plumb__transport_find(cfg->endpoint, NULL) == NULL)
      BAD(k, strchr(k->value, ':') == NULL
                 ? "expected scheme:address, e.g. unix:/tmp/x.sock"
                 : "unknown transport");
  }
  return p->failed ? -1 : 0;
}

/* Reads the config file, if any, into p.  0 ok / no file, -1 error. */
static int
cfg_read_file(cfg_parse *p, plumb_config *cfg)
{
  const char *env = getenv("PLUMB_CONFIG");
  const char *path = NULL;

  if (env != NULL && env[0] != '\0') {
    path = env;
    if (access(path, R_OK) != 0) {
      cfg_error(p, "%s: cannot read the config file named by PLUMB_CONFIG: "
                "%s", path, strerror(errno));
      return -1;
    }
  } else if (access("plumb.conf", R_OK) == 0) {
    path = "plumb.conf";
  } else if (access("/etc/plumb/plumb.conf", R_OK) == 0) {
    path = "/etc/plumb/plumb.conf";
  }
  if (path == NULL)
    return 0;
  snprintf(cfg->file, sizeof cfg->file, "%s", path);
  p->file = cfg->file;
  if ((p->fp = fopen(path, "r")) == NULL) {
    cfg_error(p, "%s: %s", path, strerror(errno));
    return -1;
  }
  int r = ini_parse_stream(cfg_reader, p, cfg_handler, p);
  fclose(p->fp);
  p->fp = NULL;
  if (r > 0 && !p->failed)
    cfg_error(p, "%s:%d: syntax error: expected [section] or key = value",
              path, r);
  return p->failed ? -1 : 0;
}

int
plumb_endpoint_check(const char *endpoint, char *err, size_t errlen)
{
  const char *colon = endpoint ? strchr(endpoint, ':') : NULL;

  char mine[400];
  int st;

  if (err == NULL || errlen == 0)
    err = mine, errlen = sizeof mine;
  err[0] = '\0';
  plumb__err_begin();
  if (endpoint != NULL && strncmp(endpoint, "plumbref:", 9) == 0) {
    st = plumb__objref_check(endpoint, err, errlen); /* objref.c */
  } else if (colon == NULL || colon == endpoint) {
    snprintf(err, errlen, "endpoint '%s' has no transport: expected "
             "scheme:address, e.g. unix:/tmp/x.sock (available: %s)",
             endpoint ? endpoint : "", plumb__transport_names());
    st = PLUMB_EADDR;
  } else if (strncmp(endpoint, "name:", 5) == 0) { /* name_endpoint.c */
    if (endpoint[5] == '\0')
      snprintf(err, errlen, "endpoint 'name:' names nothing: expected "
               "name:PATH, e.g. name:apps/calc");
    st = endpoint[5] ? PLUMB_OK : PLUMB_EADDR;
  } else if (plumb__transport_find(endpoint, NULL) == NULL) {
    snprintf(err, errlen, "transport '%.*s' is not built into this libplumb "
             "(available: %s)", (int)(colon - endpoint), endpoint,
             plumb__transport_names());
    st = PLUMB_ENOTRANSPORT;
  } else {
    st = PLUMB_OK;
  }
  if (st != PLUMB_OK && err[0] != '\0')
    plumb__err_set("%s", err);
  return plumb__err_end(st, endpoint);
}

static int config_resolve(const char *service, const char *endpoint,
                          plumb_config *cfg, char *err, size_t errlen);

int
plumb_config_resolve(const char *service, const char *endpoint,
                     plumb_config *cfg, char *err, size_t errlen)
{

  char mine[768];
  if (err == NULL || errlen == 0)
    err = mine, errlen = sizeof mine;
  err[0] = '\0';
  plumb__err_begin();
  int rc = config_resolve(service, endpoint, cfg, err, errlen);
  if (rc != PLUMB_OK && err[0] != '\0')
    plumb__err_set("%s", err);
  return plumb__err_end(rc, service ? service : "(null)");
}

static int
config_resolve(const char *service, const char *endpoint, plumb_config *cfg,
               char *err, size_t errlen)
{
  cfg_parse p;
  char name[160];
  const char *v;

  if (service == NULL || cfg == NULL || service[0] == '\0' ||
      strlen(service) > 64) {
    if (err && errlen)
      snprintf(err, errlen, "service name must be 1 to 64 characters");
    return PLUMB_EINVAL;
  }
  memset(cfg, 0, sizeof *cfg);
  cfg->timeout_ms = 5000;
  cfg->max_frame = PLUMB_DEFAULT_MAX_FRAME;
  cfg->mode = 0600;
  cfg->group = (gid_t)-1;
  cfg->spin_us = -1;
  cfg->endpoint_source = PLUMB_SRC_DEFAULT;

  /* 1 and 2: explicit, then environment. */
  env_name(name, sizeof name, service, "_ENDPOINT");
  if (endpoint != NULL && endpoint[0] != '\0') {
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", endpoint);
    cfg->endpoint_source = PLUMB_SRC_EXPLICIT;
  } else if ((v = getenv(name)) != NULL && v[0] != '\0') {
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", v);
    cfg->endpoint_source = PLUMB_SRC_ENV;
  } else if ((v = getenv("PLUMB_ENDPOINT")) != NULL && v[0] != '\0' &&
             strcmp(service, "naming") != 0) { /* the program's, not naming's */
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", v);
    cfg->endpoint_source = PLUMB_SRC_ENV;
    snprintf(name, sizeof name, "PLUMB_ENDPOINT");
  }

  /* 3: the file (its endpoint only counts if nothing above was set). */
  memset(&p, 0, sizeof p);
  p.service = service;
  p.err = err;
  p.errlen = errlen;
  for (int k = 0; k < K_COUNT; k++)
    p.svc[k].name = p.dfl[k].name = key_names[k];
  if (cfg_read_file(&p, cfg) < 0 || cfg_apply(&p, cfg) < 0)
    return strstr(err ? err : "", "unknown transport") ? PLUMB_ENOTRANSPORT
                                                       : PLUMB_ECONFIG;

  /* 4: the built-in default. */
  if (cfg->endpoint_source == PLUMB_SRC_DEFAULT) {
    const char *dir = getenv("XDG_RUNTIME_DIR");
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "unix:%s/plumb-%s.sock",
             dir && dir[0] == '/' ? dir : "/tmp", service);
  }
  char why[400];
  int rc = plumb_endpoint_check(cfg->endpoint, why, sizeof why);
  if (rc != PLUMB_OK) {
    if (err && errlen)
      snprintf(err, errlen, "%s%s: %s",
               cfg->endpoint_source == PLUMB_SRC_ENV ? "environment " : "",
               cfg->endpoint_source == PLUMB_SRC_ENV ? name : "endpoint",
               why);
    return rc;
  }
  return PLUMB_OK;
}

/* The transport options a resolved configuration asks for. */
static void
config_tran_opts(const plumb_config *cfg, plumb_tran_opts *to)
{
  memset(to, 0, sizeof(*to));
  to->max_frame = cfg->max_frame;
  to->mode = cfg->mode;
  to->has_group = cfg->group != (gid_t)-1;
  to->group = cfg->group;
  to->shm_ring_size = cfg->shm_ring_size;
  to->mq_msgsize = cfg->mq_msgsize;
  to->has_spin = cfg->spin_us >= 0;
  to->spin_us = cfg->spin_us >= 0 ? (uint32_t)cfg->spin_us : 0;
}

int
plumb_client_open_service(plumb_client **out, const char *service,
                          const char *endpoint, const char *object)
{
  plumb_config cfg;
  char err[768];
  int rc;

  if (out != NULL)
    *out = NULL;
  if ((rc = plumb_config_resolve(service, endpoint, &cfg, err, sizeof err)) !=
      PLUMB_OK) {
    plumb__log(PLUMB__LOG_ERROR, "%s", err);
    return rc; /* plumb_last_error() says why */
  }
  plumb_client_opts o = { .timeout_ms = cfg.timeout_ms,
                          .max_frame = cfg.max_frame };
  plumb_tran_opts to;
  config_tran_opts(&cfg, &to);
  plumb__err_begin();
  return plumb__err_end(
      plumb__client_open_opts(out, cfg.endpoint, object, &o, &to),
      cfg.endpoint);
}

int
plumb_server_listen_service(plumb_server *s, const char *service,
                            const char *endpoint)
{
  plumb_config cfg;
  char err[768];
  int rc;

  if ((rc = plumb_config_resolve(service, endpoint, &cfg, err, sizeof err)) !=
      PLUMB_OK) {
    plumb__log(PLUMB__LOG_ERROR, "%s", err);
    return rc; /* plumb_last_error() says why */
  }
  plumb__err_begin();
  plumb_tran_opts to;
  config_tran_opts(&cfg, &to);
  plumb__access acc; /* checked by plumb_config_resolve already */
  if (plumb__access_parse(&acc, cfg.allow, cfg.allow_uids, cfg.allow_gids,
                          err, sizeof err) != PLUMB_OK) {
    plumb__log(PLUMB__LOG_ERROR, "%s", err);
    plumb__err_set("%s", err);
    return plumb__err_end(PLUMB_ECONFIG, cfg.endpoint);
  }
  to.access = acc.set ? &acc : NULL;
  /* Decode and flow-control limits are the server's: set ones win, unset
   * ones stay. */
  if (s != NULL) {
    plumb__server_set_decode(s, cfg.max_depth, cfg.decode_budget,
                             cfg.max_decode_memory);
    plumb__server_set_flow(s, cfg.conn_queue_bytes, cfg.conn_queue_frames,
                           cfg.server_queue_bytes, cfg.send_timeout_ms,
                           cfg.frame_timeout_ms);
    if (cfg.introspection_off) /* off wins, see introspect.c */
      plumb__server_no_introspection(s);
    if (cfg.conn_max_calls != 0) /* the call model's */
      plumb__server_set_conn_max_calls(s, cfg.conn_max_calls);
    plumb__server_set_rx_memory(s, cfg.max_rx_memory);
  }
  return plumb__err_end(plumb__server_listen_opts(s, cfg.endpoint, &to),
                        cfg.endpoint);
}
