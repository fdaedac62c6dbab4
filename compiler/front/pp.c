/* pp.c - plumbc's built-in preprocessor (no system cpp is run).
 *
 * Handles, line by line as the scanner meets them:
 *   #include "file" / <file>   quoted form: including file's directory first,
 *                              then the -I directories; angle form: -I only
 *   #define NAME [value], #undef NAME
 *   #ifdef / #ifndef / #if / #elif / #else / #endif (#if expressions:
 *       pp_expr.c)
 *   #pragma once; other #pragmas (ignored with a note), #error, #warning,
 *   #line N (renumbers the following lines; a file name is ignored)
 * Re-entry and total work (docs/IDL-MAPPING.md): a file wrapped in a
 * classic include guard (detected here) or marked #pragma once is skipped
 * when included again; re-entering a file still being read is an error;
 * the text scanned across all #includes is bounded (pp_charge), and so is
 * conditional nesting.  #if expressions are evaluated in pp_expr.c.
 * Deliberate limits: macros are never expanded in IDL text (they exist for
 * include guards and conditionals), no function-like macros, no
 * line continuations in directives.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "front_int.h"

/* --- files ----------------------------------------------------------------- */

static pfile *
pp_new_file(pstate *ps, const char *name, char *text, size_t len)
{
  pfile *f = xcalloc(1, sizeof *f);
  f->name = xstrdup(name);
  f->text = text;
  f->len = len;
  f->next = ps->files;
  ps->files = f;
  diag_register_source(f->name, f->text, f->len);
  return f;
}

static pfile *
pp_new_copy(pstate *ps, const char *name, const char *text, size_t len)
{
  char *copy = xmalloc(len + 1);
  memcpy(copy, text, len);
  copy[len] = '\0';
  return pp_new_file(ps, name, copy, len);
}

pfile *
pp_add_text(pstate *ps, const char *name, const char *text)
{
  return pp_new_copy(ps, name, text, strlen(text));
}

/* The limit on text scanned, as configured. */
size_t
pp_max_bytes(const pstate *ps)
{
  return ps->max_bytes ? ps->max_bytes : PS_MAX_INPUT_BYTES;
}

/* Reads `path`; NULL if it cannot be opened (errno set).  A file read
 * before (same name, or same device and inode) is shared.  With in-memory
 * files (idl_parse_memory) only those are looked at.  A file larger than
 * the input limit is not read: its first max+1 bytes are, and the caller's
 * pp_charge() then reports the limit. */
pfile *
pp_read_file(pstate *ps, const char *path, const idl_loc *where)
{
  FILE *fp;
  struct stat st;
  char *buf = NULL;
  size_t len = 0, cap = 0, n, max = pp_max_bytes(ps) + 1;
  pfile *f;

  for (f = ps->files; f != NULL; f = f->next)
    if (strcmp(f->name, path) == 0)
      return f;
  if (ps->memfiles != NULL) {
    for (size_t i = 0; i < ps->nmemfiles; i++)
      if (ps->memfiles[i].name != NULL &&
          strcmp(ps->memfiles[i].name, path) == 0)
        return pp_new_copy(ps, path, ps->memfiles[i].text,
                           ps->memfiles[i].len);
    errno = ENOENT;
    return NULL;
  }
  fp = fopen(path, "rb");
  if (fp == NULL)
    return NULL;
  if (fstat(fileno(fp), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      fclose(fp);
      errno = EISDIR;
      return NULL;
    }
    for (f = ps->files; f != NULL; f = f->next)
      if (f->has_id && f->dev == (unsigned long long)st.st_dev &&
          f->ino == (unsigned long long)st.st_ino) {
        fclose(fp);
        return f;
      }
  }
  do {
    if (cap - len < 65536) {
      cap = cap ? cap * 2 : 65536 * 2;
      buf = xrealloc(buf, cap + 1);
    }
    n = fread(buf + len, 1, (cap - len < max - len ? cap - len : max - len),
              fp);
    len += n;
  } while (n > 0 && len < max);
  if (ferror(fp)) {
    diag_error(where, "cannot read '%s': %s", path, strerror(errno));
    fclose(fp);
    free(buf);
    errno = EIO;
    return NULL;
  }
  fclose(fp);
  if (buf == NULL)
    buf = xmalloc(1);
  buf[len] = '\0';
  f = pp_new_file(ps, path, buf, len);
  f->has_id = true;
  f->dev = (unsigned long long)st.st_dev;
  f->ino = (unsigned long long)st.st_ino;
  return f;
}

/* Counts f's text against the input limit before it is scanned (once per
 * #include).  false: limit reached (error reported, scanning stops). */
bool
pp_charge(pstate *ps, const pfile *f, const idl_loc *where)
{
  size_t max = pp_max_bytes(ps);
  if (f->len > max || ps->total_bytes > max - f->len) {
    if (where != NULL)
      diag_error(where,
                 "input limit reached: #include of '%s' would make more than "
                 "%zu bytes of IDL text to scan in total; stopping",
                 f->name, max);
    else
      diag_error(NULL, "'%s' is larger than the input limit of %zu bytes",
                 f->name, max);
    ps->fatal = true;
    return false;
  }
  ps->total_bytes += f->len;
  return true;
}

/* --- include guards ---------------------------------------------------------- */

/* The position after a comment starting at p; p if there is none there,
 * NULL if it is unterminated (then the file is not treated as guarded). */
static const char *
guard_comment(const char *p, const char *end)
{
  if (end - p >= 2 && p[0] == '/' && p[1] == '/') {
    while (p < end && *p != '\n')
      p++;
  } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
    const char *q = p + 2;
    while (end - q >= 2 && !(q[0] == '*' && q[1] == '/'))
      q++;
    return end - q < 2 ? NULL : q + 2;
  }
  return p;
}

/* Skips blanks, newlines and comments; returns the new position. */
static const char *
guard_skip(const char *p, const char *end)
{
  for (;;) {
    const char *q;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' ||
                       *p == '\f' || *p == '\v'))
      p++;
    q = guard_comment(p, end);
    if (q == NULL || q == p)
      return q;
    p = q;
  }
}

/* The directive name at p (just after '#'), into buf. */
static const char *
guard_word(const char *p, const char *end, char *buf, size_t size)
{
  size_t n = 0;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  while (p < end && (isalnum((unsigned char)*p) || *p == '_') && n + 1 < size)
    buf[n++] = *p++;
  buf[n] = '\0';
  return p;
}

/* Detects a classic include guard: the first thing in the file is
 * `#ifndef G` (or `#if !defined(G)` / `#if !defined G`) and its matching
 * #endif is the last thing, with no #else/#elif at its level.  Sets
 * f->guard to G; then the file may be skipped whenever G is defined,
 * exactly as scanning it would skip everything. */
static void
pp_detect_guard(pfile *f)
{
  const char *p = f->text, *end = f->text + f->len;
  char word[32], name[256];
  int depth = 0;

  f->guard_checked = true;
  p = guard_skip(p, end);
  if (p == NULL || p == end || *p != '#')
    return;
  p = guard_word(p + 1, end, word, sizeof word);
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (strcmp(word, "if") == 0) {
    bool paren;
    if (p == end || *p != '!')
      return;
    p = guard_word(p + 1, end, word, sizeof word);
    if (strcmp(word, "defined") != 0)
      return;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    paren = p < end && *p == '(';
    p = guard_word(p + paren, end, name, sizeof name);
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    if (paren && (p == end || *p++ != ')'))
      return;
  } else if (strcmp(word, "ifndef") == 0) {
    p = guard_word(p, end, name, sizeof name);
  } else {
    return;
  }
  if (name[0] == '\0' || isdigit((unsigned char)name[0]))
    return;
  depth = 1;
  /* walk the rest line by line, outside comments and literals */
  while (p < end) {
    bool bol = false;
    /* to the end of the current line, minding comments and literals */
    while (p < end && !bol) {
      const char *q = guard_comment(p, end);
      if (q == NULL)
        return;
      if (q != p) {
        p = q;
      } else if (*p == '\n') {
        bol = true;
        p++;
      } else if (*p == '"' || *p == '\'') {
        char quote = *p++;
        while (p < end && *p != quote && *p != '\n')
          p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        if (p < end && *p == quote)
          p++;
      } else {
        p++;
      }
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
      p++;
    if (p == end || *p != '#')
      continue;
    p = guard_word(p + 1, end, word, sizeof word);
    if (strcmp(word, "if") == 0 || strcmp(word, "ifdef") == 0 ||
        strcmp(word, "ifndef") == 0) {
      depth++;
    } else if (depth == 1 &&
               (strcmp(word, "else") == 0 || strcmp(word, "elif") == 0)) {
      return;
    } else if (strcmp(word, "endif") == 0 && --depth == 0) {
      while (p < end && *p != '\n')
        p++;
      p = guard_skip(p, end);
      if (p == end)
        f->guard = xstrdup(name);
      return;
    }
  }
}

/* --- conditionals and macros ------------------------------------------------- */

bool
pp_active(const pstate *ps)
{
  return ps->nconds == 0 || ps->conds[ps->nconds - 1].taking;
}

pmacro *
pp_find_macro(const pstate *ps, const char *name, size_t len)
{
  for (pmacro *m = ps->macros; m != NULL; m = m->next)
    if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
      return m;
  return NULL;
}

static void
pp_push_cond(pstate *ps, bool value, idl_loc loc)
{
  pcond *c;
  bool parent = pp_active(ps);
  if (ps->nconds >= PS_MAX_COND_DEPTH) {
    diag_error(&loc, "conditional directives nested too deeply (more than %d "
                     "levels); stopping", PS_MAX_COND_DEPTH);
    ps->fatal = true;
    return;
  }
  if (ps->nconds == ps->capconds) {
    ps->capconds = ps->capconds ? 2 * ps->capconds : 16;
    ps->conds = xrealloc(ps->conds, ps->capconds * sizeof *ps->conds);
  }
  c = &ps->conds[ps->nconds++];
  c->parent_active = parent;
  c->taking = c->parent_active && value;
  c->taken = c->taking;
  c->seen_else = false;
  c->loc = loc;
}

/* Depth of conditionals that belong to files enclosing the current one. */
static size_t
pp_cond_base(const pstate *ps)
{
  return ps->nincl > 0 ? ps->incl[ps->nincl - 1].nconds : 0;
}

void
pp_end_of_file(pstate *ps)
{
  size_t base = pp_cond_base(ps);
  if (ps->fatal)
    return;
  while (ps->nconds > base) {
    ps->nconds--;
    diag_error(&ps->conds[ps->nconds].loc,
               "unterminated conditional directive");
  }
}

void
pp_free(pstate *ps)
{
  pmacro *m = ps->macros;
  while (m != NULL) {
    pmacro *next = m->next;
    free(m->name);
    free(m->value);
    free(m);
    m = next;
  }
  ps->macros = NULL;
  free(ps->prefix);
  ps->prefix = NULL;
  free(ps->pragma_out);
  ps->pragma_out = NULL;

  free(ps->conds);
  ps->conds = NULL;
  ps->nconds = ps->capconds = 0;
}

/* --- directives -------------------------------------------------------------------- */

static const char *
skip_ws(const char *p)
{
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v')
    p++;
  return p;
}

/* A "..." string at p (no escapes but \" and \\) -> malloc'd, *end past
 * it; NULL if p does not start one or it is unterminated. */
static char *
read_quoted(const char *p, const char **end)
{
  size_t n = 0;
  char *s;
  const char *q;
  if (*p != '"')
    return NULL;
  for (q = p + 1; *q != '"'; q++) {
    if (*q == '\0')
      return NULL;
    if (*q == '\\' && q[1] != '\0')
      q++;
    n++;
  }
  s = xmalloc(n + 1);
  n = 0;
  for (q = p + 1; *q != '"'; q++) {
    if (*q == '\\' && q[1] != '\0')
      q++;
    s[n++] = *q;
  }
  s[n] = '\0';
  *end = q + 1;
  return s;
}

static bool
only_comment_left(const char *p)
{
  p = skip_ws(p);
  return *p == '\0' || (p[0] == '/' && (p[1] == '/' || p[1] == '*'));
}

/* #pragma prefix "p": repository ids of what follows in this file start
 * with p/ (an empty string removes the prefix). */
static void
pp_pragma_prefix(pstate *ps, const char *p, idl_loc loc)
{
  const char *end;
  char *v = read_quoted(skip_ws(p), &end);
  if (v == NULL || !only_comment_left(end)) {
    diag_error(&loc, "#pragma prefix expects a string literal");
    free(v);
    return;
  }
  free(ps->prefix);
  ps->prefix = NULL;
  if (*v != '\0')
    ps->prefix = v;
  else
    free(v);
}

/* #pragma ID name "id" / #pragma version name major.minor: handed to the
 * parser as a T_PRAGMA token so that check resolves name in the scope the
 * pragma is written in. */
static void
pp_pragma_repoid(pstate *ps, const char *p, bool version, idl_loc loc)
{
  const char *q = skip_ws(p), *start = q, *end;
  char *v = NULL, *out;
  size_t nl;

  while (isalnum((unsigned char)*q) || *q == '_' || *q == ':')
    q++;
  nl = (size_t)(q - start);
  q = skip_ws(q);
  if (version) {
    const char *vs = q;
    while (isdigit((unsigned char)*q))
      q++;
    if (q > vs && *q == '.' && isdigit((unsigned char)q[1])) {
      q++;
      while (isdigit((unsigned char)*q))
        q++;
      v = xstrndup(vs, (size_t)(q - vs));
    }
    end = q;
  } else {
    v = read_quoted(q, &end);
  }
  if (nl == 0 || v == NULL || !only_comment_left(end)) {
    diag_error(&loc, version ? "#pragma version expects a name and "
                               "major.minor"
                             : "#pragma ID expects a name and a string "
                               "literal");
    free(v);
    return;
  }
  if (ps->pragma_out != NULL) { /* not taken: cannot happen line by line */
    free(ps->pragma_out);
    ps->pragma_out = NULL;
  }
  out = xmalloc(nl + strlen(v) + 3);
  out[0] = version ? 'V' : 'I';
  memcpy(out + 1, start, nl);
  out[nl + 1] = '\n';
  strcpy(out + nl + 2, v);
  ps->pragma_out = out;
  free(v);
}

/* Reads an identifier at p into buf; returns the position after it. */
static const char *
read_ident(const char *p, char *buf, size_t size)
{
  size_t n = 0;
  p = skip_ws(p);
  while ((isalnum((unsigned char)*p) || *p == '_') && n + 1 < size)
    buf[n++] = *p++;
  buf[n] = '\0';
  return p;
}

static char *
path_join(const char *dir, const char *name)
{
  size_t dl = strlen(dir), nl = strlen(name);
  char *s;
  if (dl == 0 || strcmp(dir, ".") == 0 || name[0] == '/')
    return xstrdup(name);
  s = xmalloc(dl + nl + 2);
  memcpy(s, dir, dl);
  s[dl] = '/';
  memcpy(s + dl + 1, name, nl + 1);
  return s;
}

static char *
dir_of(const char *file)
{
  const char *slash = strrchr(file, '/');
  char *d;
  if (slash == NULL)
    return xstrdup(".");
  if (slash == file)
    return xstrdup("/");
  d = xmalloc((size_t)(slash - file) + 1);
  memcpy(d, file, (size_t)(slash - file));
  d[slash - file] = '\0';
  return d;
}

/* Keeps `name` (taken) in the tree's list when the main file includes it
 * directly (the back ends turn these into #include lines). */
static void
pp_record_include(pstate *ps, char *name)
{
  if (ps->nincl != 0) {
    free(name);
    return;
  }
  if (ps->nincludes == ps->capincludes) {
    ps->capincludes = ps->capincludes ? 2 * ps->capincludes : 8;
    ps->includes =
        xrealloc(ps->includes, ps->capincludes * sizeof *ps->includes);
  }
  ps->includes[ps->nincludes++] = name;
}

static void
pp_include(pstate *ps, const char *p, idl_loc loc)
{
  char close;
  const char *end;
  char *name, *dir;
  pfile *f = NULL;

  p = skip_ws(p);
  if (*p == '"')
    close = '"';
  else if (*p == '<')
    close = '>';
  else {
    diag_error(&loc, "#include expects \"FILE\" or <FILE>");
    return;
  }
  end = strchr(p + 1, close);
  if (end == NULL || end == p + 1) {
    diag_error(&loc, "#include expects \"FILE\" or <FILE>");
    return;
  }
  name = xmalloc((size_t)(end - p));
  memcpy(name, p + 1, (size_t)(end - p - 1));
  name[end - p - 1] = '\0';

  if (ps->nincl >= PS_MAX_INCLUDE_DEPTH) {
    diag_error(&loc, "#include nested too deeply (more than %d levels)",
               PS_MAX_INCLUDE_DEPTH);
    free(name);
    return;
  }
  if (close == '"' || name[0] == '/') {
    char *path;
    dir = dir_of(ps->cur->name);
    path = path_join(dir, name);
    errno = 0;
    f = pp_read_file(ps, path, &loc);
    free(path);
    free(dir);
  }
  for (size_t i = 0; f == NULL && name[0] != '/' && ps->opts != NULL &&
                     i < ps->opts->ninclude_dirs;
       i++) {
    char *path = path_join(ps->opts->include_dirs[i], name);
    f = pp_read_file(ps, path, &loc);
    free(path);
  }
  if (f == NULL) {
    diag_error(&loc, "include file '%s' not found", name);
    free(name);
    return;
  }
  if (!f->guard_checked)
    pp_detect_guard(f);
  if ((f->guard != NULL &&
       pp_find_macro(ps, f->guard, strlen(f->guard)) != NULL) ||
      f->once) {
    /* guarded and already seen: scanning it would skip it all */
    pp_record_include(ps, name);
    return;
  }
  if (f->active > 0) {
    diag_error(&loc, "#include of '%s' re-enters a file that is still being "
                     "read (an include cycle without an include guard)",
               name);
    free(name);
    return;
  }
  if (!pp_charge(ps, f, &loc)) {
    free(name);
    return;
  }
  pp_record_include(ps, name);
  lex_push_file(ps, f);
}

static void
pp_define(pstate *ps, const char *p, idl_loc loc)
{
  char name[256];
  pmacro *m;
  const char *v;
  size_t n;

  p = read_ident(p, name, sizeof name);
  if (name[0] == '\0' || isdigit((unsigned char)name[0])) {
    diag_error(&loc, "#define expects a macro name");
    return;
  }
  if (*p == '(') {
    diag_error(&loc, "function-like macros are not supported");
    return;
  }
  v = skip_ws(p);
  n = strlen(v);
  while (n > 0 && isspace((unsigned char)v[n - 1]))
    n--;
  m = pp_find_macro(ps, name, strlen(name));
  if (m == NULL) {
    m = xcalloc(1, sizeof *m);
    m->name = xstrdup(name);
    m->next = ps->macros;
    ps->macros = m;
  }
  free(m->value);
  m->value = xmalloc(n + 1);
  memcpy(m->value, v, n);
  m->value[n] = '\0';
}

static void
pp_undef(pstate *ps, const char *p)
{
  char name[256];
  read_ident(p, name, sizeof name);
  for (pmacro **mp = &ps->macros; *mp != NULL; mp = &(*mp)->next) {
    if (strcmp((*mp)->name, name) == 0) {
      pmacro *m = *mp;
      *mp = m->next;
      free(m->name);
      free(m->value);
      free(m);
      return;
    }
  }
}

void
pp_directive(pstate *ps, const char *text, idl_loc loc)
{
  char dir[32];
  const char *p = read_ident(text, dir, sizeof dir);
  bool active = pp_active(ps);
  pcond *c = ps->nconds > pp_cond_base(ps) ? &ps->conds[ps->nconds - 1] : NULL;

  if (strcmp(dir, "ifdef") == 0 || strcmp(dir, "ifndef") == 0) {
    char name[256];
    bool def;
    read_ident(p, name, sizeof name);
    if (name[0] == '\0' && active)
      diag_error(&loc, "#%s expects a macro name", dir);
    def = pp_find_macro(ps, name, strlen(name)) != NULL;
    pp_push_cond(ps, dir[2] == 'd' ? def : !def, loc);
  } else if (strcmp(dir, "if") == 0) {
    pp_push_cond(ps, active ? pp_eval(ps, p, loc) : false, loc);
  } else if (strcmp(dir, "elif") == 0) {
    if (c == NULL || c->seen_else) {
      diag_error(&loc, c ? "#elif after #else" : "#elif without #if");
      return;
    }
    if (c->parent_active && !c->taken && pp_eval(ps, p, loc)) {
      c->taking = true;
      c->taken = true;
    } else {
      c->taking = false;
    }
  } else if (strcmp(dir, "else") == 0) {
    if (c == NULL || c->seen_else) {
      diag_error(&loc, c ? "#else after #else" : "#else without #if");
      return;
    }
    c->seen_else = true;
    c->taking = c->parent_active && !c->taken;
    c->taken = true;
  } else if (strcmp(dir, "endif") == 0) {
    if (c == NULL) {
      diag_error(&loc, "#endif without #if");
      return;
    }
    ps->nconds--;
  } else if (!active) {
    return; /* everything else is ignored in a skipped branch */
  } else if (strcmp(dir, "include") == 0) {
    pp_include(ps, p, loc);
  } else if (strcmp(dir, "define") == 0) {
    pp_define(ps, p, loc);
  } else if (strcmp(dir, "undef") == 0) {
    pp_undef(ps, p);
  } else if (strcmp(dir, "pragma") == 0) {
    char what[64];
    const char *rest = read_ident(p, what, sizeof what);
    rest = skip_ws(rest);
    if (strcmp(what, "once") == 0 &&
        (*rest == '\0' || (rest[0] == '/' && (rest[1] == '/' || rest[1] == '*'))))
      ps->cur->once = true;
    else if (strcmp(what, "prefix") == 0)
      pp_pragma_prefix(ps, rest, loc);
    else if (strcmp(what, "ID") == 0 || strcmp(what, "version") == 0)
      pp_pragma_repoid(ps, rest, what[0] == 'v', loc);
    else
      diag_note(&loc, "#pragma %s ignored", what);
  } else if (strcmp(dir, "error") == 0) {
    diag_error(&loc, "#error %s", skip_ws(p));
  } else if (strcmp(dir, "warning") == 0) {
    diag_warning(&loc, "#warning %s", skip_ws(p));
  } else if (strcmp(dir, "line") == 0) {
    /* #line N ["file"]: the next line is line N (a file name is accepted
     * and ignored: locations keep naming the file that is read) */
    char *end;
    long n;
    p = skip_ws(p);
    n = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : 0;
    if (n < 1 || n > 1000000000 ||
        (*(end = (char *)skip_ws(end)) != '\0' && *end != '"' && *end != '/'))
      diag_error(&loc, "#line expects a line number from 1 to 1000000000");
    else
      ps->line = (int)n - 1; /* the newline ending this line makes it n */
  } else if (dir[0] == '\0') {
    /* the null directive is accepted and ignored */
  } else {
    diag_error(&loc, "unknown preprocessor directive '#%s'", dir);
  }
}

/* The -D / -U macros of idl_options, before the main file. */
void
pp_predefine(pstate *ps)
{
  idl_loc loc = {"<command line>", 0, 0};
  for (size_t i = 0; ps->opts != NULL && i < ps->opts->nmacros; i++) {
    const char *m = ps->opts->macros[i], *eq;
    char *line;
    if (m[0] == '-') {
      pp_undef(ps, m + 1);
      continue;
    }
    eq = strchr(m, '=');
    line = xmalloc(strlen(m) + 3);
    if (eq == NULL) {
      sprintf(line, "%s 1", m);
    } else {
      memcpy(line, m, (size_t)(eq - m));
      line[eq - m] = ' ';
      strcpy(line + (eq - m) + 1, eq + 1);
    }
    pp_define(ps, line, loc);
    free(line);
  }
}
