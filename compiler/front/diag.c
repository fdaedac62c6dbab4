/* diag.c - formats and routes front-end diagnostics (see diag.h).
 *
 * Default output: "file:line:col: severity: message", then the source line
 * and a caret line (tabs kept so the caret lines up).  With a sink
 * installed nothing is printed; the sink gets a structured record.
 * Volume is bounded for hostile input: the echoed line is a window of at
 * most 160 columns, messages are cut at 400 bytes, control characters are
 * printed as '?', and after 50 errors one "too many errors, stopping" is
 * reported and the front end stops (diag_stopped); warnings and notes
 * have budgets of their own (50 and 100).
 */
#include <stdbool.h>
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

/* Volume limits (diag.h): a hostile file must not flood the terminal. */
#define DIAG_MAX_ERRORS 50    /* default; diag_limits() */
#define DIAG_MAX_WARNINGS 50
#define DIAG_MAX_NOTES 100
#define DIAG_MAX_ECHO 160     /* columns of source echoed */
#define DIAG_MAX_MESSAGE 400  /* bytes of message text */

static unsigned diag_max_errors = DIAG_MAX_ERRORS;
static unsigned diag_shown_errors, diag_shown_warnings, diag_shown_notes;
static bool diag_stop, diag_last_hidden;
static diag_sink_fn diag_sink;
static FILE *diag_stream; /* NULL = stderr */
static void *diag_sink_ctx;
static unsigned diag_errors, diag_warnings;
static diag_source *diag_sources;

void
diag_set_output(FILE *f)
{
  diag_stream = f;
}

static FILE *
diag_out(void)
{
  return diag_stream != NULL ? diag_stream : stderr;
}

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

/* Writes p[0..n) to the output with control characters (terminal escapes in
 * a hostile file) shown as '?'; tabs are kept so the caret lines up. */
static void
diag_put_clean(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', diag_out());
  }
}

/* Prints line `line` of the registered text of `file` and a caret: the
 * whole line if it is at most DIAG_MAX_ECHO columns, else a window of that
 * many columns around the caret, with "..." where it was cut. */
static void
diag_print_source(const char *file, int line, int col)
{
  const diag_source *s;
  const char *p, *end, *eol, *from, *to;
  int n = 1;
  size_t len, caret;

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
  len = (size_t)(eol - p);
  caret = col > 1 ? (size_t)col - 1 : 0; /* offset of the caret */
  if (caret > len)
    caret = len;
  from = p;
  to = eol;
  if (len > DIAG_MAX_ECHO) {
    size_t start = caret > DIAG_MAX_ECHO / 2 ? caret - DIAG_MAX_ECHO / 2 : 0;
    if (start + DIAG_MAX_ECHO > len)
      start = len - DIAG_MAX_ECHO;
    from = p + start;
    to = from + DIAG_MAX_ECHO;
  }
  if (from > p)
    fputs("...", diag_out());
  diag_put_clean(from, (size_t)(to - from));
  fputs(to < eol ? "...\n" : "\n", diag_out());
  if (from > p)
    fputs("   ", diag_out());
  for (const char *q = from; q < p + caret && q < to; q++)
    fputc(*q == '\t' ? '\t' : ' ', diag_out());
  fputs("^\n", diag_out());
}

void
diag_limits(unsigned max_errors)
{
  diag_max_errors = max_errors ? max_errors : DIAG_MAX_ERRORS;
  diag_shown_errors = diag_shown_warnings = diag_shown_notes = 0;
  diag_stop = diag_last_hidden = false;
}

bool
diag_stopped(void)
{
  return diag_stop;
}

/* Decides whether a diagnostic of `sev` is shown, counting it; emits the
 * one "too many" line when a budget runs out. */
static bool
diag_admit(diag_severity sev)
{
  if (diag_stop)
    return false;
  if (sev == DIAG_ERROR) {
    if (diag_shown_errors >= diag_max_errors) {
      diag_stop = true;
      return false;
    }
    diag_shown_errors++;
    return true;
  }
  if (diag_last_hidden && sev == DIAG_NOTE)
    return false; /* the note belongs to a hidden diagnostic */
  if (sev == DIAG_WARNING)
    return diag_shown_warnings++ < DIAG_MAX_WARNINGS;
  return diag_shown_notes++ < DIAG_MAX_NOTES;
}

static void
diag_emit(const diag_record *rec)
{
  static const char *const names[] = {"note", "warning", "error"};
  if (diag_sink != NULL) {
    diag_sink(rec, diag_sink_ctx);
    return;
  }
  if (rec->file != NULL)
    fprintf(diag_out(), "%s:%d:%d: %s: ", rec->file, rec->line, rec->col,
            names[rec->severity]);
  else
    fprintf(diag_out(), "plumbc: %s: ", names[rec->severity]);
  diag_put_clean(rec->message, strlen(rec->message));
  fputc('\n', diag_out());
  if (rec->file != NULL)
    diag_print_source(rec->file, rec->line, rec->col);
}

/* The one line that says the rest is not shown. */
static void
diag_emit_cutoff(diag_severity sev, const char *msg)
{
  diag_record rec = {NULL, 0, 0, sev, msg};
  diag_emit(&rec);
}

void
diag_vreport(diag_severity sev, const idl_loc *loc, const char *fmt,
             va_list ap)
{
  char buf[DIAG_MAX_MESSAGE + 4];
  diag_record rec;
  bool was_stopped = diag_stop;
  int n;

  if (sev == DIAG_ERROR)
    diag_errors++;
  else if (sev == DIAG_WARNING)
    diag_warnings++;
  if (!diag_admit(sev)) {
    diag_last_hidden = true;
    if (sev == DIAG_ERROR && !was_stopped)
      diag_emit_cutoff(DIAG_ERROR, "too many errors, stopping");
    else if (sev == DIAG_WARNING && diag_shown_warnings == DIAG_MAX_WARNINGS + 1)
      diag_emit_cutoff(DIAG_WARNING, "too many warnings, no more are shown");
    else if (sev == DIAG_NOTE && diag_shown_notes == DIAG_MAX_NOTES + 1)
      diag_emit_cutoff(DIAG_NOTE, "too many notes, no more are shown");
    return;
  }
  diag_last_hidden = false;
  n = vsnprintf(buf, DIAG_MAX_MESSAGE + 1, fmt, ap);
  if (n > DIAG_MAX_MESSAGE)
    memcpy(buf + DIAG_MAX_MESSAGE, "...", 4);
  rec.file = loc != NULL ? loc->file : NULL;
  rec.line = loc != NULL ? loc->line : 0;
  rec.col = loc != NULL ? loc->col : 0;
  rec.severity = sev;
  rec.message = buf;
  diag_emit(&rec);
}

void
diag_report(diag_severity sev, const idl_loc *loc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  diag_vreport(sev, loc, fmt, ap);
  va_end(ap);
}
