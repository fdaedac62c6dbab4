/* diag.h - diagnostics of the plumbc front end.
 *
 * Every message is "file:line:col: error|warning|note: message", followed by
 * the offending source line (at most 160 columns of it, around the column)
 * and a caret under the column, written to stderr.
 * A sink can be installed instead (diag_set_sink) so tests collect the
 * diagnostics as structured records.  The module keeps global state (error
 * counts, the installed sink, the registered source texts): it is meant for
 * one single-threaded compiler process, not for concurrent parses.
 */
#ifndef PLUMBC_DIAG_H
#define PLUMBC_DIAG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ast.h"

typedef enum diag_severity {
  DIAG_NOTE,
  DIAG_WARNING,
  DIAG_ERROR,
} diag_severity;

/* One diagnostic as handed to a sink.  The strings are only valid during the
 * call; copy what you keep.  file is NULL and line/col 0 when the
 * diagnostic has no location (e.g. "cannot open file"). */
typedef struct diag_record {
  const char *file;
  int line;
  int col;
  diag_severity severity;
  const char *message;
} diag_record;

typedef void (*diag_sink_fn)(const diag_record *rec, void *ctx);

/* Installs a sink receiving every diagnostic instead of stderr; NULL
 * restores the default (stderr with source line and caret). */
void diag_set_sink(diag_sink_fn fn, void *ctx);

/* Where the default (sink-less) output goes; NULL restores stderr.  The
 * fuzzer measures diagnostic volume through it. */
void diag_set_output(FILE *f);

/* Reports a diagnostic at `loc` (may be NULL). */
void diag_report(diag_severity sev, const idl_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_vreport(diag_severity sev, const idl_loc *loc, const char *fmt,
                  va_list ap) __attribute__((format(printf, 3, 0)));
#define diag_error(loc, ...) diag_report(DIAG_ERROR, (loc), __VA_ARGS__)
#define diag_warning(loc, ...) diag_report(DIAG_WARNING, (loc), __VA_ARGS__)
#define diag_note(loc, ...) diag_report(DIAG_NOTE, (loc), __VA_ARGS__)

/* Starts the volume budget of one compilation (front.c calls it): after
 * max_errors errors (0 = 50) one "too many errors, stopping" error is
 * reported, later diagnostics are dropped and diag_stopped() turns true;
 * warnings (50) and notes (100) have budgets of their own. */
void diag_limits(unsigned max_errors);
bool diag_stopped(void);

/* Number of errors / warnings reported since the process started. */
unsigned diag_error_count(void);
unsigned diag_warning_count(void);

/* Source texts used to print the offending line.  `file` is compared by
 * pointer with idl_loc.file (the front end interns file names); `text` must
 * stay valid until diag_unregister_source.  Unregistered files simply print
 * no source line. */
void diag_register_source(const char *file, const char *text, size_t len);
void diag_unregister_source(const char *file);

#endif
