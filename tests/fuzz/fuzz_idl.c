/* fuzz_idl.c - libFuzzer harness of plumbc as a whole: preprocessor,
 * lexer, parser and checks (compiler/front) on IDL held in memory, then
 * both back ends (C and .proto) with their output counted, not written.
 *
 * Input: the main file "main.idl", optionally followed by more in-memory
 * files, each introduced by a line "//@file NAME" (at most 8 files; NAME
 * is what #include "NAME" or -I "inc" + NAME resolves to).  The file
 * system is never read: idl_parse_memory() resolves #include only among
 * these files.  Input limit 1 MiB of scanned text (include bombs stop).
 *
 * Findings besides crashes, leaks and sanitizer reports (abort()):
 *  - diagnostics longer than DIAG_BOUND bytes (one run, all severities);
 *  - generated code longer than OUT_PER_BYTE * input + OUT_BASE bytes
 *    (inherited operations share their base's code, so output is linear
 *    in the input).
 * The back ends open their files with fopen(); the harness is linked with
 * -Wl,--wrap=fopen,--wrap=fopen64 so that opens under the fake directory OUTDIR become
 * counting streams (fopencookie) that keep nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "back.h"
#include "diag.h"
#include "front.h"

#define OUTDIR "/plumb-fuzz-idl-out"
#define MAX_FILES 8
#define MAX_INPUT (1u << 20)
/* 50 errors + 50 warnings + 100 notes, each at most ~400 + 2 * 170 bytes
 * (message, echoed window, caret line) and a location prefix */
#define DIAG_BOUND (200u * 1024u)
#define OUT_PER_BYTE 4000u
#define OUT_BASE (1u << 20)

static size_t out_bytes, out_bound;

static ssize_t
count_write(void *cookie, const char *buf, size_t n)
{
  size_t *total = cookie;
  (void)buf;
  *total += n;
  if (total == &out_bytes && out_bytes > out_bound) {
    fprintf(stderr, "fuzz_idl: generated code exceeds %zu bytes\n",
            out_bound);
    abort();
  }
  if (total != &out_bytes && *total > DIAG_BOUND) {
    fprintf(stderr, "fuzz_idl: diagnostics exceed %u bytes\n", DIAG_BOUND);
    abort();
  }
  return (ssize_t)n;
}

static FILE *
counting_stream(size_t *total)
{
  cookie_io_functions_t io = {NULL, count_write, NULL, NULL};
  return fopencookie(total, "w", io);
}

/* _FILE_OFFSET_BITS=64 makes fopen() fopen64(): both are wrapped. */
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__real_fopen64(const char *path, const char *mode);
FILE *__wrap_fopen64(const char *path, const char *mode);

static bool
is_output(const char *path)
{
  return strncmp(path, OUTDIR "/", sizeof OUTDIR) == 0;
}

FILE *
__wrap_fopen(const char *path, const char *mode)
{
  return is_output(path) ? counting_stream(&out_bytes)
                         : __real_fopen(path, mode);
}

FILE *
__wrap_fopen64(const char *path, const char *mode)
{
  return is_output(path) ? counting_stream(&out_bytes)
                         : __real_fopen64(path, mode);
}

/* Splits data into in-memory files at "\n//@file NAME\n" lines. */
static size_t
split_files(const char *data, size_t size, idl_memfile *files,
            char names[][64])
{
  static const char marker[] = "\n//@file ";
  const size_t ml = sizeof marker - 1;
  size_t n = 0, start = 0;

  snprintf(names[0], 64, "main.idl");
  files[0].name = names[0];
  files[0].text = data;
  for (size_t i = 0; i + ml <= size && n + 1 < MAX_FILES; i++) {
    size_t nl, k;
    if (memcmp(data + i, marker, ml) != 0)
      continue;
    files[n].len = i + 1 - start;
    for (nl = i + ml; nl < size && data[nl] != '\n'; nl++)
      ;
    n++;
    k = nl - (i + ml) < 63 ? nl - (i + ml) : 63;
    memcpy(names[n], data + i + ml, k);
    names[n][k] = '\0';
    files[n].name = names[n];
    start = nl < size ? nl + 1 : size;
    files[n].text = data + start;
    i = nl;
  }
  files[n].len = size - start;
  return n + 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const dirs[] = {"inc"};
  static size_t diag_bytes;
  idl_options opts = {.include_dirs = dirs, .ninclude_dirs = 1};
  idl_memfile files[MAX_FILES];
  char names[MAX_FILES][64];
  size_t nfiles;
  idl_tree *t = NULL;
  FILE *diag;

  if (size > MAX_INPUT)
    return 0;
  nfiles = split_files((const char *)data, size, files, names);
  diag_bytes = 0;
  diag = counting_stream(&diag_bytes);
  if (diag == NULL)
    return 0;
  diag_set_output(diag);
  setvbuf(diag, NULL, _IONBF, 0);
  if (idl_parse_memory(files, nfiles, &opts, MAX_INPUT, &t) == 0 &&
      t != NULL) {
    gen_options go = {OUTDIR, "fz", "main.idl", true};
    out_bytes = 0;
    out_bound = (size_t)OUT_PER_BYTE * size + OUT_BASE;
    back_errors = 0;
    if (gen_c(t, &go) == 0)
      gen_proto(t, &go);
    back_pool_free();
  }
  idl_tree_free(t);
  diag_set_output(NULL);
  fclose(diag);
  return 0;
}
