/* pp_expr.c - evaluation of #if / #elif expressions for pp.c.
 *
 * C's integer constant expressions, in long long with wrap-around (no
 * undefined behaviour on hostile input): ?:, ||, &&, |, ^, &, == !=,
 * < > <= >=, << >>, + -, * / %, unary ! ~ - +, parentheses, decimal /
 * octal / hex literals with u/l suffixes, character literals 'a' and '\n',
 * defined(X) and defined X, __LINE__.  An identifier that is not a macro is 0; a
 * macro is its value read as an integer (macros are not expanded further).
 * || && ?: short-circuit: division by zero is an error only where it is
 * evaluated.  Nesting of ( ! ~ - + and ?: is bounded by
 * PS_MAX_PP_EXPR_DEPTH before it can exhaust the stack.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "front_int.h"

typedef struct ppx {
  pstate *ps;
  const char *p;
  const char *bad;  /* first problem (static text), NULL if none */
  bool deep;        /* more than PS_MAX_PP_EXPR_DEPTH levels */
  int depth;        /* current nesting of ( unary ?: */
  int skip;         /* > 0: inside a branch that is not evaluated */
  int line;         /* of the directive, for __LINE__ */
} ppx;

static void
ppx_ws(ppx *x)
{
  while (*x->p == ' ' || *x->p == '\t' || *x->p == '\r')
    x->p++;
}

static void
ppx_fail(ppx *x, const char *why)
{
  if (x->bad == NULL)
    x->bad = why;
}

static long long ppx_cond(ppx *x);

/* Enters one level of nesting; false when too deep (then gives up). */
static bool
ppx_enter(ppx *x)
{
  if (x->depth >= PS_MAX_PP_EXPR_DEPTH) {
    x->deep = true;
    ppx_fail(x, "too deep");
    x->p += strlen(x->p);
    return false;
  }
  x->depth++;
  return true;
}

static long long
ppx_char(ppx *x)
{
  long long v;
  x->p++; /* ' */
  if (*x->p == '\\') {
    static const char esc[] = "n\nt\tr\rv\vb\bf\fa\a\\\\''\"\"0"; /* 0: NUL */
    const char *e = x->p[1] != '\0' ? strchr(esc, x->p[1]) : NULL;
    if (e == NULL || (e - esc) % 2 != 0) {
      ppx_fail(x, "bad");
      return 0;
    }
    v = (unsigned char)e[1];
    x->p += 2;
  } else if (*x->p != '\0' && *x->p != '\'') {
    v = (unsigned char)*x->p++;
  } else {
    ppx_fail(x, "bad");
    return 0;
  }
  if (*x->p != '\'')
    ppx_fail(x, "bad");
  else
    x->p++;
  return v;
}

static long long
ppx_name(ppx *x)
{
  const char *s = x->p;
  size_t n;
  pmacro *m;
  while (isalnum((unsigned char)*x->p) || *x->p == '_')
    x->p++;
  n = (size_t)(x->p - s);
  if (n == 7 && memcmp(s, "defined", 7) == 0) {
    bool paren;
    ppx_ws(x);
    paren = *x->p == '(';
    if (paren)
      x->p++;
    ppx_ws(x);
    s = x->p;
    while (isalnum((unsigned char)*x->p) || *x->p == '_')
      x->p++;
    n = (size_t)(x->p - s);
    if (n == 0)
      ppx_fail(x, "bad");
    ppx_ws(x);
    if (paren) {
      if (*x->p == ')')
        x->p++;
      else
        ppx_fail(x, "bad");
    }
    return pp_find_macro(x->ps, s, n) != NULL;
  }
  if (n == 8 && memcmp(s, "__LINE__", 8) == 0)
    return x->line;
  m = pp_find_macro(x->ps, s, n);
  return m != NULL && m->value != NULL ? strtoll(m->value, NULL, 0) : 0;
}

static long long
ppx_unary(ppx *x)
{
  long long v;
  char op;
  ppx_ws(x);
  op = *x->p;
  if (op == '!' || op == '~' || op == '-' || op == '+' || op == '(') {
    if (!ppx_enter(x))
      return 0;
    x->p++;
    if (op == '(') {
      v = ppx_cond(x);
      ppx_ws(x);
      if (*x->p == ')')
        x->p++;
      else
        ppx_fail(x, "bad");
    } else {
      v = ppx_unary(x);
      v = op == '!'   ? !v
          : op == '~' ? (long long)~(unsigned long long)v
          : op == '-' ? (long long)(0ull - (unsigned long long)v)
                      : v;
    }
    x->depth--;
    return v;
  }
  if (isdigit((unsigned char)op)) {
    char *end;
    v = (long long)strtoull(x->p, &end, 0);
    x->p = end;
    while (*x->p == 'u' || *x->p == 'U' || *x->p == 'l' || *x->p == 'L')
      x->p++;
    if (isalnum((unsigned char)*x->p) || *x->p == '_' || *x->p == '.')
      ppx_fail(x, "bad");
    return v;
  }
  if (op == '\'')
    return ppx_char(x);
  if (isalpha((unsigned char)op) || op == '_')
    return ppx_name(x);
  ppx_fail(x, "bad");
  return 0;
}

/* Binary operators by precedence (higher binds tighter); 0 = none.  Sets
 * *len to the operator's length. */
static int
ppx_binop(const char *p, size_t *len)
{
  *len = 2;
  if (p[0] == '|' && p[1] == '|') return 1;
  if (p[0] == '&' && p[1] == '&') return 2;
  if ((p[0] == '=' || p[0] == '!') && p[1] == '=') return 6;
  if ((p[0] == '<' || p[0] == '>') && p[1] == '=') return 7;
  if ((p[0] == '<' && p[1] == '<') || (p[0] == '>' && p[1] == '>')) return 8;
  *len = 1;
  switch (p[0]) {
  case '|': return 3;
  case '^': return 4;
  case '&': return 5;
  case '<': case '>': return 7;
  case '+': case '-': return 9;
  case '*': case '/': case '%': return 10;
  default: return 0;
  }
}

static long long
ppx_apply(ppx *x, const char *op, size_t len, long long a, long long b)
{
  unsigned long long ua = (unsigned long long)a, ub = (unsigned long long)b;
  switch (op[0]) {
  case '|': return len == 2 ? (a || b) : (long long)(ua | ub);
  case '&': return len == 2 ? (a && b) : (long long)(ua & ub);
  case '^': return (long long)(ua ^ ub);
  case '=': return a == b;
  case '!': return a != b;
  case '+': return (long long)(ua + ub);
  case '-': return (long long)(ua - ub);
  case '*': return (long long)(ua * ub);
  case '<':
    if (len == 1) return a < b;
    if (op[1] == '=') return a <= b;
    return b < 0 || b > 63 ? 0 : (long long)(ua << b);
  case '>':
    if (len == 1) return a > b;
    if (op[1] == '=') return a >= b;
    return b < 0 || b > 63 ? (a < 0 ? -1 : 0) : a >> b;
  case '/':
  case '%':
    if (b == 0) {
      if (x->skip == 0)
        ppx_fail(x, "division by zero");
      return 0;
    }
    if (a == LLONG_MIN && b == -1)
      return op[0] == '/' ? LLONG_MIN : 0;
    return op[0] == '/' ? a / b : a % b;
  }
  return 0;
}

/* Operators of precedence >= min, left to right (the right operand of a
 * level-p operator is parsed at level p+1: at most 10 frames deep). */
static long long
ppx_binary(ppx *x, int min)
{
  long long v = ppx_unary(x);
  for (;;) {
    size_t len;
    int prec;
    const char *op;
    long long r;
    bool shortcut;
    ppx_ws(x);
    op = x->p;
    prec = ppx_binop(op, &len);
    if (prec == 0 || prec < min || x->bad != NULL)
      return v;
    x->p += len;
    /* || with a true left side, && with a false one: right not evaluated */
    shortcut = (prec == 1 && v) || (prec == 2 && !v);
    x->skip += shortcut;
    r = ppx_binary(x, prec + 1);
    x->skip -= shortcut;
    v = ppx_apply(x, op, len, v, r);
  }
}

static long long
ppx_cond(ppx *x)
{
  long long c = ppx_binary(x, 1), a, b;
  ppx_ws(x);
  if (*x->p != '?')
    return c;
  if (!ppx_enter(x))
    return 0;
  x->p++;
  x->skip += !c;
  a = ppx_cond(x);
  x->skip -= !c;
  ppx_ws(x);
  if (*x->p != ':') {
    ppx_fail(x, "bad");
    x->depth--;
    return 0;
  }
  x->p++;
  x->skip += !!c;
  b = ppx_cond(x);
  x->skip -= !!c;
  x->depth--;
  return c ? a : b;
}

bool
pp_eval(pstate *ps, const char *p, idl_loc loc)
{
  ppx x = {ps, p, NULL, false, 0, 0, loc.line};
  long long v = ppx_cond(&x);
  size_t n;
  while (*p == ' ' || *p == '\t')
    p++;
  n = strlen(p);
  while (n > 0 && isspace((unsigned char)p[n - 1]))
    n--;
  ppx_ws(&x);
  if (*x.p != '\0' && !(x.p[0] == '/' && (x.p[1] == '/' || x.p[1] == '*')))
    ppx_fail(&x, "bad");
  if (x.deep) {
    diag_error(&loc, "#if expression nested too deeply (more than %d levels "
                     "of '(' and '!')", PS_MAX_PP_EXPR_DEPTH);
    return false;
  }
  if (x.bad != NULL && strcmp(x.bad, "division by zero") == 0) {
    diag_error(&loc, "division by zero in #if expression");
    return false;
  }
  if (x.bad != NULL) {
    diag_error(&loc, "unsupported #if expression '%.*s%s'",
               (int)(n > 64 ? 64 : n), p, n > 64 ? "..." : "");
    return false;
  }
  return v != 0;
}
