/* naming_names.c - the CosNaming stringified name syntax (Naming Service
 * 1.3, section 2.4): parse "a/b.kind" into components and format them
 * back, with '\' escaping '/', '.' and '\'.  Pure string work: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "naming_names.h"

void
plumb__nn_free(plumb__nn_comp *c, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(c[i].id);
    free(c[i].kind);
  }
  free(c);
}

/* Unescapes s[0..len) into a new string. */
static char *
unescape(const char *s, size_t len)
{
  char *o = malloc(len + 1), *p = o;
  if (o == NULL)
    return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 1 < len)
      i++;
    *p++ = s[i];
  }
  *p = '\0';
  return o;
}

int
plumb__nn_parse(const char *sn, size_t max, plumb__nn_comp **out, size_t *n)
{
  size_t cnt = 0, len = strlen(sn);
  plumb__nn_comp *v;

  *out = NULL;
  *n = 0;
  if (len == 0)
    return -1;
  for (size_t i = 0; i < len; i++) { /* count components */
    if (sn[i] == '\\') {
      if (++i == len)
        return -1; /* trailing escape */
    } else if (sn[i] == '/') {
      cnt++;
    }
  }
  if (++cnt > max || (v = calloc(cnt, sizeof *v)) == NULL)
    return -1;
  size_t start = 0, k = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && sn[i] == '\\') {
      i++;
      continue;
    }
    if (i < len && sn[i] != '/')
      continue;
    /* component sn[start..i): split at the first unescaped '.' */
    size_t dot = i;
    for (size_t j = start; j < i; j++) {
      if (sn[j] == '\\') {
        j++;
      } else if (sn[j] == '.') {
        dot = j;
        break;
      }
    }
    if (i == start) { /* "a//b", "/a", "a/" */
      plumb__nn_free(v, cnt);
      return -1;
    }
    v[k].id = unescape(sn + start, dot - start);
    v[k].kind = dot < i ? unescape(sn + dot + 1, i - dot - 1)
                        : unescape("", 0);
    if (v[k].id == NULL || v[k].kind == NULL ||
        (v[k].id[0] == '\0' && v[k].kind[0] == '\0' && !(dot < i))) {
      plumb__nn_free(v, cnt);
      return -1;
    }
    k++;
    start = i + 1;
  }
  *out = v;
  *n = cnt;
  return 0;
}

static int
put_escaped(char *buf, size_t cap, size_t *len, const char *s)
{
  for (; *s; s++) {
    if ((*s == '/' || *s == '.' || *s == '\\')) {
      if (*len + 1 >= cap)
        return -1;
      buf[(*len)++] = '\\';
    }
    if (*len + 1 >= cap)
      return -1;
    buf[(*len)++] = *s;
  }
  buf[*len] = '\0';
  return 0;
}

int
plumb__nn_format_comp(char *buf, size_t cap, size_t *len, const char *id,
               const char *kind)
{
  if (*len > 0) {
    if (*len + 1 >= cap)
      return -1;
    buf[(*len)++] = '/';
    buf[*len] = '\0';
  }
  if (put_escaped(buf, cap, len, id) != 0)
    return -1;
  if (kind[0] != '\0' || id[0] == '\0') {
    if (*len + 1 >= cap)
      return -1;
    buf[(*len)++] = '.';
    buf[*len] = '\0';
    if (put_escaped(buf, cap, len, kind) != 0)
      return -1;
  }
  return 0;
}
