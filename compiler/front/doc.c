/* doc.c - documentation comments: the scanner hands over every slash-star-
 * star comment and every run of // lines (not one trailing code on its
 * line); the one pending when the next token arrives is tied to that
 * token's line if it ends on the line just above it (or on the same line).
 * After parsing, doc_attach() gives the first declaration whose name stands
 * on such a line its comment (idl_node.doc), with the comment markers and a
 * leading " * " stripped and blank first/last lines dropped.  A comment is
 * cut at PS_MAX_DOC_BYTES.  The texts belong to the tree (front.c frees
 * them with it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front_int.h"

static void
doc_drop(pstate *ps)
{
  free(ps->doc_text);
  ps->doc_text = NULL;
  ps->doc_len = 0;
}

static void
doc_append(pstate *ps, const char *s, size_t n)
{
  if (ps->doc_len >= PS_MAX_DOC_BYTES)
    return;
  if (n > PS_MAX_DOC_BYTES - ps->doc_len)
    n = PS_MAX_DOC_BYTES - ps->doc_len;
  ps->doc_text = xrealloc(ps->doc_text, ps->doc_len + n + 1);
  memcpy(ps->doc_text + ps->doc_len, s, n);
  ps->doc_len += n;
  ps->doc_text[ps->doc_len] = '\0';
}

void
doc_block_begin(pstate *ps)
{
  doc_drop(ps);
  ps->doc_reading = true;
  ps->doc_is_line = false;
  doc_append(ps, "", 0);
}

void
doc_block_text(pstate *ps, const char *s, size_t n)
{
  if (ps->doc_reading)
    doc_append(ps, s, n);
}

void
doc_block_end(pstate *ps, int line)
{
  if (!ps->doc_reading)
    return;
  ps->doc_reading = false;
  ps->doc_file = ps->cur->name;
  ps->doc_end = line;
}

void
doc_line(pstate *ps, const char *text, int line)
{
  const char *file = ps->cur->name;
  if (ps->tok_file == file && ps->tok_line == line) {
    /* trailing a declaration on its line: a remark, not a doc comment */
    return;
  }
  while (*text == '/')
    text++;
  if (*text == ' ')
    text++;
  if (ps->doc_text != NULL && ps->doc_is_line && ps->doc_file == file &&
      ps->doc_end == line - 1) {
    doc_append(ps, "\n", 1);
  } else {
    doc_drop(ps);
    ps->doc_is_line = true;
    ps->doc_file = file;
    doc_append(ps, "", 0);
  }
  doc_append(ps, text, strlen(text));
  ps->doc_end = line;
}

/* Block comment text -> lines without the " * " margin, trimmed. */
static char *
doc_clean(const char *raw, bool is_line)
{
  size_t n = strlen(raw), o = 0;
  char *out = xmalloc(n + 1);
  const char *p = raw;
  while (*p != '\0') {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    const char *q = p, *end = p + len;
    if (!is_line) {
      while (q < end && (*q == ' ' || *q == '\t'))
        q++;
      if (q < end && *q == '*' && !(q + 1 < end && q[1] == '/')) {
        q++;
        if (q < end && *q == ' ')
          q++;
      } else if (p != raw) {
        q = p; /* no margin: keep the indentation as written */
      }
    }
    while (end > q && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
      end--;
    for (; q < end; q++) /* control characters print as '?' */
      out[o++] = ((unsigned char)*q < 0x20 && *q != '\t') ? '?' : *q;
    out[o++] = '\n';
    p = eol ? eol + 1 : p + len;
  }
  /* drop blank lines at both ends */
  while (o > 0 && out[o - 1] == '\n')
    o--;
  out[o] = '\0';
  {
    size_t skip = 0;
    while (out[skip] == '\n')
      skip++;
    memmove(out, out + skip, o - skip + 1);
  }
  if (out[0] == '\0') {
    free(out);
    return NULL;
  }
  return out;
}

void
doc_token(pstate *ps, const char *file, int line)
{
  if (ps->doc_text != NULL && !ps->doc_reading) {
    if (ps->doc_file == file && ps->doc_end >= line - 1 &&
        ps->doc_end <= line) {
      char *t = doc_clean(ps->doc_text, ps->doc_is_line);
      if (t != NULL) {
        if (ps->ndocs == ps->capdocs) {
          ps->capdocs = ps->capdocs ? 2 * ps->capdocs : 16;
          ps->docs = xrealloc(ps->docs, ps->capdocs * sizeof *ps->docs);
        }
        ps->docs[ps->ndocs].file = file;
        ps->docs[ps->ndocs].line = line;
        ps->docs[ps->ndocs].text = t;
        ps->docs[ps->ndocs].used = false;
        ps->ndocs++;
      }
    }
    doc_drop(ps);
  }
  ps->tok_file = file;
  ps->tok_line = line;
}

static int
doc_cmp(const void *a, const void *b)
{
  const pdoc *x = a, *y = b;
  uintptr_t fx = (uintptr_t)x->file, fy = (uintptr_t)y->file;
  if (fx != fy)
    return fx < fy ? -1 : 1;
  return (x->line > y->line) - (x->line < y->line);
}

static pdoc *
doc_find(const pstate *ps, const idl_loc *loc)
{
  pdoc key;
  key.file = loc->file;
  key.line = loc->line;
  return bsearch(&key, ps->docs, ps->ndocs, sizeof *ps->docs, doc_cmp);
}

static void
doc_walk(const pstate *ps, idl_node *n, unsigned depth)
{
  for (idl_node *c = n->children; c != NULL; c = c->next) {
    pdoc *d;
    switch (c->kind) {
    case IDL_MODULE: case IDL_INTERFACE: case IDL_STRUCT: case IDL_UNION:
    case IDL_EXCEPTION: case IDL_ENUM: case IDL_ENUMERATOR: case IDL_TYPEDEF:
    case IDL_CONST: case IDL_OPERATION: case IDL_ATTRIBUTE: case IDL_MEMBER:
    case IDL_CASE:
      /* the first declaration on the line takes it (RED, not GREEN, in
       * "RED, GREEN") */
      if ((d = doc_find(ps, &c->loc)) != NULL && !d->used) {
        c->doc = d->text;
        d->used = true;
      }
      break;
    default:
      break;
    }
    if (c->children != NULL && depth < 1000)
      doc_walk(ps, c, depth + 1);
  }
}

void
doc_attach(pstate *ps, idl_node *root)
{
  doc_drop(ps);
  if (ps->ndocs == 0 || root == NULL)
    return;
  qsort(ps->docs, ps->ndocs, sizeof *ps->docs, doc_cmp);
  /* keep one comment per line (the first: duplicates share a line only
   * when a file is scanned twice, and then the texts match) */
  doc_walk(ps, root, 0);
}

void
doc_free_all(pdoc *docs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(docs[i].text);
  free(docs);
}
