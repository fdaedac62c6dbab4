/* fuzz_objref.c - libFuzzer harness for the two object-model decoders a
 * peer or a user feeds: the `plumbref:` parser (plumb_objref_parse) and
 * the kind 7 system exception body (plumb__sysexc_decode).
 *
 * The first byte picks the decoder.  A reference that parses must format
 * back to a string that parses to the same parts (object, type, host,
 * endpoints); a system exception that decodes must have a known code,
 * completion 0..2 and NUL-terminated strings within their arrays. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plumb/objref.h"
#include "sysexc.h"

static void
fz_same(const plumb_objref *a, const plumb_objref *b)
{
  if (strcmp(a->object, b->object) != 0 || strcmp(a->type_id, b->type_id) ||
      strcmp(a->host, b->host) != 0 || a->n_endpoints != b->n_endpoints)
    abort();
  for (size_t i = 0; i < a->n_endpoints; i++)
    if (strcmp(a->endpoints[i], b->endpoints[i]) != 0)
      abort();
}

static void
fz_ref(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s == NULL)
    return;
  memcpy(s, data, size);
  s[size] = '\0';
  plumb_arena *a = plumb_arena_new();
  plumb_objref r, back;
  char why[200];
  if (a != NULL && plumb_objref_parse(s, &r, a, why, sizeof why) == PLUMB_OK &&
      !plumb_objref_is_nil(&r)) {
    char *out = NULL;
    if (plumb_objref_format(&r, &out, a) != PLUMB_OK ||
        plumb_objref_parse(out, &back, a, why, sizeof why) != PLUMB_OK)
      abort();
    fz_same(&r, &back);
  }
  plumb_arena_free(a);
  free(s);
}

static void
fz_sysexc(const uint8_t *data, size_t size)
{
  plumb__frame f;
  memset(&f, 0, sizeof f);
  f.kind = PLUMB__FRAME_SYSEXC;
  size_t tl = size > 0 ? data[0] : 0;
  if (size > 0) {
    data++;
    size--;
  }
  if (tl > size)
    tl = size;
  f.text = (const char *)data;
  f.text_len = (uint16_t)tl;
  f.body = data + tl;
  f.body_len = (uint32_t)(size - tl);
  f.status = size > 0 ? -(int32_t)(data[0] % 30) : 0;
  plumb_sysexc se;
  const char *why = NULL;
  int st = plumb__sysexc_decode(&f, &se, &why);
  if (st == PLUMB_OK) {
    if (se.code < 1 || se.code > PLUMB_SYS_MAX || se.completed < 0 ||
        se.completed > 2 || memchr(se.type_id, 0, sizeof se.type_id) == NULL ||
        memchr(se.message, 0, sizeof se.message) == NULL || se.status >= 0)
      abort();
  } else if (st != PLUMB_EPROTO || why == NULL) {
    abort();
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  if (data[0] & 1)
    fz_sysexc(data + 1, size - 1);
  else
    fz_ref(data + 1, size - 1);
  return 0;
}
