/* diag.c - formats and routes front-end diagnostics (see diag.h).
 *
 * Default output: "file:line:col: severity: message", then the source line
 * and a caret line (tabs kept so the caret lines up).  With a sink
 * installed nothing is printed; the sink gets a structured record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

typedef struct diag_source {
  const char *file;
  const char *text;
  size_t len;
  struct diag_source *next;
} diag_source;

static diag_sink_fn diag_sink;
static void *diag_sink_ctx;
static unsigned diag_errors, diag_warnings;
static diag_source *diag_sources;

void
diag_set_sink(diag_sink_fn fn, void *ctx)
{
  diag_sink = fn;
  diag_sink_ctx = ctx;
}

unsigned
diag_error_count(void)
{
  return diag_errors;
}

unsigned
diag_warning_count(void)
{
  return diag_warnings;
}

void
diag_register_source(const char *file, const char *text, size_t len)
{
  diag_source *s = calloc(1, sizeof *s);
  if (s == NULL)
    return;
  s->file = file;
  s->text = text;
  s->len = len;
  s->next = diag_sources;
  diag_sources = s;
}

void
diag_unregister_source(const char *file)
{
  for (diag_source **p = &diag_sources; *p != NULL; p = &(*p)->next) {
    if ((*p)->file == file) {
      diag_source *s = *p;
      *p = s->next;
      free(s);
      return;
    }
  }
}

/* Prints line `line` of the registered text of `file` and a caret. */
static void
diag_print_source(const char *file, int line, int col)
{
  const diag_source *s;
  const char *p, *end, *eol;
  int n = 1;

  for (s = diag_sources; s != NULL; s = s->next)
    if (s->file == file)
      break;
  if (s == NULL || line < 1)
    return;
  p = s->text;
  end = s->text + s->len;
  while (n < line && p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
      return;
    p = nl + 1;
    n++;
  }
  if (n != line || p > end)
    return;
  eol = memchr(p, '\n', (size_t)(end - p));
  if (eol == NULL)
    eol = end;
  if (eol > p && eol[-1] == '\r')
    eol--;
  fprintf(stderr, "%.*s\n", (int)(eol - p), p);
  for (int i = 1; i < col && p + i - 1 < eol; i++)
    fputc(p[i - 1] == '\t' ? '\t' : ' ', stderr);
  fputs("^\n", stderr);
}

void
diag_vreport(diag_severity sev, const idl_loc *loc, const char *fmt,
             va_list ap)
{
  static const char *const names[] = {"note", "warning", "error"};
  char buf[1024];
  diag_record rec;

  vsnprintf(buf, sizeof buf, fmt, ap);
  if (sev == DIAG_ERROR)
    diag_errors++;
  else if (sev == DIAG_WARNING)
    diag_warnings++;
  rec.file = loc != NULL ? loc->file : NULL;
  rec.line = loc != NULL ? loc->line : 0;
  rec.col = loc != NULL ? loc->col : 0;
  rec.severity = sev;
  rec.message = buf;
  if (diag_sink != NULL) {
    diag_sink(&rec, diag_sink_ctx);
    return;
  }
  if (rec.file != NULL)
    fprintf(stderr, "%s:%d:%d: %s: %s\n", rec.file, rec.line, rec.col,
            names[sev], buf);
  else
    fprintf(stderr, "plumbc: %s: %s\n", names[sev], buf);
  if (rec.file != NULL)
    diag_print_source(rec.file, rec.line, rec.col);
}

void
diag_report(diag_severity sev, const idl_loc *loc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  diag_vreport(sev, loc, fmt, ap);
  va_end(ap);
}
