/* objref.c - object references as values: nil, the host / IPC namespace
 * identity a reference carries, and the `plumbref:` string form with its
 * bounded parser (docs/RUNTIME.md, "Objects and references";
 * docs/IDL-MAPPING.md, "Object references").
 *
 *   plumbref:OBJECT?type=TYPE_ID&host=HOST&ep=ENDPOINT&ep=ENDPOINT...
 *
 * Every part is percent-encoded (what is not A-Z a-z 0-9 - . _ ~ : / @ ,
 * [ ] becomes %XX); "plumbref:" alone is the nil reference.  Keys may come
 * in any order; an unknown key, a repeated type or host, a bad escape or
 * an empty endpoint is an error naming itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>

#include "open_opts.h"
#include "plumb/objref.h"

#define REF_PREFIX "plumbref:"
#define REF_MAX_LEN 65536u  /* longest string form parsed */
#define REF_MAX_EPS 64u     /* endpoints a reference may list */

int
plumb_objref_is_nil(const plumb_objref *r)
{
  return r == NULL || (r->n_endpoints == 0 &&
                       (r->endpoint == NULL || r->endpoint[0] == '\0'));
}

/* ---- host identity ---------------------------------------------------- */

static char host_id[128];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static unsigned long
ns_inode(const char *which)
{
  char p[64];
  struct stat st;
  snprintf(p, sizeof p, "/proc/self/ns/%s", which);
  return stat(p, &st) == 0 ? (unsigned long)st.st_ino : 0ul;
}

/* The boot id (same kernel, same boot) and the inodes of the IPC, network
 * and mount namespaces: local mechanisms reach the same server only when
 * all four agree (shm and mq live in the IPC and mount namespaces, abstract
 * unix names in the network one, socket and FIFO paths in the mount one). */
static void
host_make(void)
{
  char boot[64] = "";
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f != NULL) {
    if (fgets(boot, sizeof boot, f) == NULL)
      boot[0] = '\0';
    fclose(f);
  }
  size_t j = 0;
  for (size_t i = 0; boot[i] != '\0' && j < 32; i++)
    if ((boot[i] >= '0' && boot[i] <= '9') ||
        (boot[i] >= 'a' && boot[i] <= 'f'))
      boot[j++] = boot[i];
  boot[j] = '\0';
  snprintf(host_id, sizeof host_id, "%s-%lx-%lx-%lx", j ? boot : "noboot",
           ns_inode("ipc"), ns_inode("net"), ns_inode("mnt"));
}

const char *
plumb_host_identity(void)
{
  pthread_once(&host_once, host_make);
  return host_id;
}

/* ---- format ------------------------------------------------------------ */

static int
ref_plain(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || strchr("-._~:/@,[]", c) != NULL;
}

static size_t
ref_enc_len(const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    n += ref_plain((unsigned char)*s) ? 1 : 3;
  return n;
}

static char *
ref_enc(char *o, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (ref_plain(c)) {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  return o;
}

int
plumb_objref_format(const plumb_objref *r, char **out, plumb_arena *arena)
{
  if (out == NULL || arena == NULL)
    return PLUMB_EINVAL;
  *out = NULL;
  if (plumb_objref_is_nil(r)) {
    *out = plumb_arena_strdup(arena, REF_PREFIX);
    return *out ? PLUMB_OK : PLUMB_ENOMEM;
  }
  const char *obj = r->object ? r->object : "";
  const char *type = r->type_id ? r->type_id : "";
  const char *host = r->host ? r->host : "";
  size_t n = sizeof REF_PREFIX + ref_enc_len(obj);
  n += 6 + ref_enc_len(type) + 6 + ref_enc_len(host);
  size_t neps = r->n_endpoints;
  if (neps == 0)
    n += 4 + ref_enc_len(r->endpoint);
  for (size_t i = 0; i < neps; i++)
    n += 4 + ref_enc_len(r->endpoints[i] ? r->endpoints[i] : "");
  char *buf = plumb_arena_alloc(arena, n + 1), *o = buf;
  if (buf == NULL)
    return PLUMB_ENOMEM;
  memcpy(o, REF_PREFIX, sizeof REF_PREFIX - 1);
  o = ref_enc(o + sizeof REF_PREFIX - 1, obj);
  *o++ = '?';
  memcpy(o, "type=", 5);
  o = ref_enc(o + 5, type);
  if (host[0] != '\0') {
    memcpy(o, "&host=", 6);
    o = ref_enc(o + 6, host);
  }
  if (neps == 0) {
    memcpy(o, "&ep=", 4);
    o = ref_enc(o + 4, r->endpoint);
  }
  for (size_t i = 0; i < neps; i++) {
    memcpy(o, "&ep=", 4);
    o = ref_enc(o + 4, r->endpoints[i] ? r->endpoints[i] : "");
  }
  *o = '\0';
  *out = buf;
  return PLUMB_OK;
}

/* ---- parse ------------------------------------------------------------- */

static int
hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) into arena; NULL with *why on a bad escape or a NUL. */
static char *
ref_dec(const char *s, size_t n, plumb_arena *arena, const char **why)
{
  char *o = plumb_arena_alloc(arena, n + 1), *p = o;
  if (o == NULL) {
    *why = "out of memory";
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      int h, l;
      if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 ||
          (l = hexval(s[i + 2])) < 0) {
        *why = "'%' not followed by two hex digits";
        return NULL;
      }
      if (h == 0 && l == 0) {
        *why = "%00 (NUL) in a reference";
        return NULL;
      }
      *p++ = (char)(h << 4 | l);
      i += 2;
    } else if ((unsigned char)s[i] < 0x20 || s[i] == ' ') {
      *why = "a space or control character (encode it as %XX)";
      return NULL;
    } else {
      *p++ = s[i];
    }
  }
  *p = '\0';
  return o;
}

static int
ref_fail(char *why, size_t why_len, const char *fmt, const char *a,
         size_t alen)
{
  if (why != NULL && why_len > 0) {
    char part[80];
    size_t k = alen < sizeof part - 1 ? alen : sizeof part - 1;
    k = a ? strnlen(a, k) : 0; /* a may end before alen */
    if (k)
      memcpy(part, a, k);
    part[k] = '\0';
    snprintf(why, why_len, fmt, part);
  }
  return PLUMB_EADDR;
}

int
plumb_objref_parse(const char *s, plumb_objref *r, plumb_arena *arena,
                   char *why, size_t why_len)
{
  static const plumb_objref nil = PLUMB_OBJREF_INIT;
  const char *w = NULL;

  if (r == NULL || arena == NULL)
    return PLUMB_EINVAL;
  *r = nil;
  if (s == NULL)
    return ref_fail(why, why_len, "no reference%s", "", 0);
  size_t len = strnlen(s, REF_MAX_LEN + 1);
  if (len > REF_MAX_LEN)
    return ref_fail(why, why_len, "reference longer than 65536 bytes%s",
                    "", 0);
  if (strncmp(s, REF_PREFIX, sizeof REF_PREFIX - 1) != 0)
    return ref_fail(why, why_len, "'%s...': a reference begins with "
                    "'plumbref:'", s, 16);
  const char *p = s + sizeof REF_PREFIX - 1, *end = s + len;
  if (p == end)
    return PLUMB_OK; /* nil */
  const char *q = memchr(p, '?', (size_t)(end - p));
  const char *oe = q ? q : end;
  char *obj = ref_dec(p, (size_t)(oe - p), arena, &w);
  if (obj == NULL)
    return ref_fail(why, why_len, "object name: %s", w, strlen(w));
  char **eps = plumb_arena_alloc(arena, REF_MAX_EPS * sizeof(char *));
  if (eps == NULL)
    return PLUMB_ENOMEM;
  size_t neps = 0;
  char *type = NULL, *host = NULL;
  for (p = q ? q + 1 : end; p < end;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    if (eq == NULL)
      return ref_fail(why, why_len, "'%s': not key=value", p,
                      (size_t)(pe - p));
    size_t kl = (size_t)(eq - p);
    char *v = ref_dec(eq + 1, (size_t)(pe - eq - 1), arena, &w);
    if (v == NULL)
      return ref_fail(why, why_len, "value: %s", w, strlen(w));
    if (kl == 4 && memcmp(p, "type", 4) == 0) {
      if (type != NULL)
        return ref_fail(why, why_len, "'type' given twice%s", "", 0);
      type = v;
    } else if (kl == 4 && memcmp(p, "host", 4) == 0) {
      if (host != NULL)
        return ref_fail(why, why_len, "'host' given twice%s", "", 0);
      host = v;
    } else if (kl == 2 && memcmp(p, "ep", 2) == 0) {
      if (v[0] == '\0')
        return ref_fail(why, why_len, "empty endpoint%s", "", 0);
      if (neps == REF_MAX_EPS)
        return ref_fail(why, why_len, "more than 64 endpoints%s", "", 0);
      eps[neps++] = v;
    } else {
      return ref_fail(why, why_len, "unknown key '%s' (allowed: type, "
                      "host, ep)", p, kl);
    }
    p = amp ? amp + 1 : end;
  }
  if (neps == 0)
    return ref_fail(why, why_len, "no endpoint (ep=...) in a reference "
                    "that is not nil%s", "", 0);
  r->object = obj;
  r->type_id = type ? type : (char *)"";
  r->host = host ? host : (char *)"";
  r->endpoints = eps;
  r->n_endpoints = neps;
  r->endpoint = eps[0];
  return PLUMB_OK;
}

int
plumb__objref_check(const char *s, char *err, size_t errlen)
{
  char why[200];
  plumb_objref r;
  plumb_arena *a = plumb_arena_new();
  if (a == NULL)
    return PLUMB_ENOMEM;
  int st = plumb_objref_parse(s, &r, a, why, sizeof why);
  if (st == PLUMB_OK && plumb_objref_is_nil(&r)) {
    snprintf(why, sizeof why, "the nil reference");
    st = PLUMB_EADDR;
  }
  plumb_arena_free(a);
  if (st != PLUMB_OK && err != NULL && errlen > 0)
    snprintf(err, errlen, "reference '%.60s%s': %s", s,
             strlen(s) > 60 ? "..." : "", why);
  return st;
}
