/* const_eval.c - typed, range-checked evaluation of IDL constant
 * expressions (const values, bounds, array dimensions, case labels, @id).
 *
 * Integer expressions are computed in 128-bit arithmetic; every
 * intermediate must fit in int64 or uint64 and the result must fit the
 * target type.  `~` complements within the target type's width.  Floating
 * expressions are computed in double.  Operands must match the target's
 * category: no integer/float mixing in an integer constant, no arithmetic
 * on booleans, characters, strings or enumerators.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "front_int.h"

__extension__ typedef unsigned __int128 uxint;

typedef enum cvkind {
  CV_INT, CV_FLOAT, CV_BOOL, CV_CHAR, CV_STRING, CV_ENUM, CV_FIXED
} cvkind;

typedef struct cval {
  cvkind k;
  xint i;
  double f;
  bool b;
  uint32_t c;
  bool wide;
  const char *s;
  idl_node *e;
  char fx[72]; /* FIXED: sign + up to 62 digits and a point */
} cval;

/* What the expression is evaluated for. */
typedef struct target {
  idl_tkind kind;       /* after typedefs; IDL_T_NAMED for an enum */
  const idl_node *enm;  /* IDL_ENUM for enum targets */
  const char *name;     /* as the user wrote it, for messages */
  xint min, max;        /* integers */
  unsigned width;       /* integers: bits */
  bool is_signed;
  uint64_t bound;       /* strings; fixed: digits (0 = any, up to 31) */
  unsigned scale;       /* fixed */
} target;

static const xint INT64_LO = -((xint)1 << 63);
static const xint UINT64_HI = ((xint)1 << 64) - 1;

static void
xint_str(xint v, char *buf, size_t size)
{
  char tmp[64];
  size_t n = 0;
  bool neg = v < 0;
  uxint u;
  u = neg ? (uxint)(-(v + 1)) + 1 : (uxint)v;
  do {
    tmp[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u != 0 && n < sizeof tmp);
  if (size == 0)
    return;
  {
    size_t k = 0;
    if (neg && k + 1 < size)
      buf[k++] = '-';
    while (n > 0 && k + 1 < size)
      buf[k++] = tmp[--n];
    buf[k] = '\0';
  }
}

static const char *
cv_what(const cval *v)
{
  switch (v->k) {
  case CV_INT: return "integer value";
  case CV_FLOAT: return "floating-point value";
  case CV_BOOL: return "boolean value";
  case CV_CHAR: return "character value";
  case CV_STRING: return "string value";
  case CV_ENUM: return "enumerator";
  case CV_FIXED: return "fixed-point value";
  }
  return "value";
}

static bool
set_target(const idl_type *t, target *tg)
{
  const idl_type *r = idl_resolve_typedefs(t);
  memset(tg, 0, sizeof *tg);
  if (r == NULL)
    return false;
  tg->name = t->kind == IDL_T_NAMED ? t->name : idl_tkind_name(t->kind);
  tg->kind = r->kind;
  switch (r->kind) {
#define INT_T(K, W, S)                                                   \
  case K:                                                                \
    tg->width = W;                                                       \
    tg->is_signed = S;                                                   \
    tg->min = S ? -((xint)1 << (W - 1)) : 0;                             \
    tg->max = S ? ((xint)1 << (W - 1)) - 1 : ((xint)1 << W) - 1;         \
    return true;
  INT_T(IDL_T_OCTET, 8, false)
  INT_T(IDL_T_INT8, 8, true)
  INT_T(IDL_T_UINT8, 8, false)
  INT_T(IDL_T_SHORT, 16, true)
  INT_T(IDL_T_USHORT, 16, false)
  INT_T(IDL_T_LONG, 32, true)
  INT_T(IDL_T_ULONG, 32, false)
  INT_T(IDL_T_LLONG, 64, true)
  INT_T(IDL_T_ULLONG, 64, false)
#undef INT_T
  case IDL_T_FIXED:
    tg->bound = r->bound;
    tg->scale = r->scale;
    return true;
  case IDL_T_FLOAT:
  case IDL_T_DOUBLE:
  case IDL_T_LDOUBLE:
  case IDL_T_BOOLEAN:
  case IDL_T_CHAR:
  case IDL_T_WCHAR:
    return true;
  case IDL_T_STRING:
  case IDL_T_WSTRING:
    tg->bound = r->bound;
    return true;
  case IDL_T_NAMED:
    if (r->ref != NULL && r->ref->kind == IDL_ENUM) {
      tg->enm = r->ref;
      return true;
    }
    return false;
  default:
    return false;
  }
}

static bool
is_int_target(const target *tg)
{
  return tg->width != 0;
}

static bool
is_float_target(const target *tg)
{
  return tg->kind == IDL_T_FLOAT || tg->kind == IDL_T_DOUBLE ||
         tg->kind == IDL_T_LDOUBLE;
}

static bool
fits64(xint v)
{
  return v >= INT64_LO && v <= UINT64_HI;
}

/* Converts a declared constant's value for use in an expression. */
static void
cval_from_value(const idl_value *v, cval *out)
{
  memset(out, 0, sizeof *out);
  switch (v->kind) {
  case IDL_V_INT: out->k = CV_INT; out->i = v->i; break;
  case IDL_V_UINT: out->k = CV_INT; out->i = v->u; break;
  case IDL_V_FLOAT: out->k = CV_FLOAT; out->f = v->f; break;
  case IDL_V_BOOL: out->k = CV_BOOL; out->b = v->b; break;
  case IDL_V_CHAR: out->k = CV_CHAR; out->c = (uint32_t)v->u; break;
  case IDL_V_STRING: out->k = CV_STRING; out->s = v->s; break;
  case IDL_V_ENUM: out->k = CV_ENUM; out->e = v->e; out->i = v->u; break;
  case IDL_V_FIXED:
    out->k = CV_FIXED;
    snprintf(out->fx, sizeof out->fx, "%s", v->s ? v->s : "0");
    break;
  case IDL_V_NONE: out->k = CV_INT; break;
  }
}

static const char *
op_name(int op)
{
  static char buf[2][3];
  static int which;
  if (op == 'L')
    return "<<";
  if (op == 'R')
    return ">>";
  which ^= 1;
  buf[which][0] = (char)op;
  buf[which][1] = '\0';
  return buf[which];
}

static bool eval(check_ctx *cx, const expr *x, const idl_node *scope,
                 const target *tg, cval *out, int depth);

static bool
eval_name(check_ctx *cx, const expr *x, const idl_node *scope, cval *out)
{
  idl_node *n = check_lookup(cx, scope, x->s, &x->loc, "constant");
  if (n == NULL)
    return false;
  if (n->kind == IDL_ENUMERATOR) {
    memset(out, 0, sizeof *out);
    out->k = CV_ENUM;
    out->e = n;
    out->i = n->value.u;
    return true;
  }
  if (n->kind != IDL_CONST) {
    diag_error(&x->loc, "'%s' is not a constant", x->s);
    return false;
  }
  if (FNODE(n)->bad)
    return false; /* already reported */
  if (!FNODE(n)->done) {
    diag_error(&x->loc, "constant '%s' is used before its value is known",
               x->s);
    return false;
  }
  cval_from_value(&n->value, out);
  return true;
}

static bool
eval_unary(check_ctx *cx, const expr *x, const idl_node *scope,
           const target *tg, cval *out, int depth)
{
  if (!eval(cx, x->a, scope, tg, out, depth + 1))
    return false;
  if (out->k == CV_FIXED && x->op != '~') {
    if (x->op == '-') {
      char tmp[sizeof out->fx];
      snprintf(tmp, sizeof tmp, "%s", out->fx);
      if (tmp[0] == '-')
        snprintf(out->fx, sizeof out->fx, "%s", tmp + 1);
      else
        snprintf(out->fx, sizeof out->fx, "-%.*s",
                 (int)sizeof out->fx - 2, tmp);
    }
    return true;
  }
  if (out->k == CV_FLOAT && x->op != '~') {
    if (x->op == '-')
      out->f = -out->f;
    return true;
  }
  if (out->k != CV_INT) {
    diag_error(&x->loc, "operator '%s' needs %s operands", op_name(x->op),
               x->op == '~' ? "integer" : "numeric");
    return false;
  }
  if (x->op == '-') {
    out->i = -out->i;
  } else if (x->op == '~') {
    if (is_int_target(tg) && !tg->is_signed)
      out->i = (((xint)1 << tg->width) - 1) - out->i;
    else
      out->i = -out->i - 1;
  }
  if (!fits64(out->i)) {
    diag_error(&x->loc, "integer overflow in constant expression");
    return false;
  }
  return true;
}

static bool
eval_binary(check_ctx *cx, const expr *x, const idl_node *scope,
            const target *tg, cval *out, int depth)
{
  cval a, b;
  bool intop = strchr("|^&%", x->op) != NULL || x->op == 'L' || x->op == 'R';

  if (!eval(cx, x->a, scope, tg, &a, depth + 1) ||
      !eval(cx, x->bx, scope, tg, &b, depth + 1))
    return false;
  memset(out, 0, sizeof *out);
  if ((a.k == CV_FLOAT || b.k == CV_FLOAT) && !intop &&
      (a.k == CV_FLOAT || a.k == CV_INT) && (b.k == CV_FLOAT || b.k == CV_INT)) {
    double fa = a.k == CV_FLOAT ? a.f : (double)a.i;
    double fb = b.k == CV_FLOAT ? b.f : (double)b.i;
    if (!is_float_target(tg)) {
      diag_error(&x->loc, "floating-point operand in an integer expression");
      return false;
    }
    out->k = CV_FLOAT;
    switch (x->op) {
    case '+': out->f = fa + fb; break;
    case '-': out->f = fa - fb; break;
    case '*': out->f = fa * fb; break;
    case '/':
      if (fb == 0.0) {
        diag_error(&x->loc, "division by zero in constant expression");
        return false;
      }
      out->f = fa / fb;
      break;
    }
    return true;
  }
  if (a.k != CV_INT || b.k != CV_INT) {
    diag_error(&x->loc, "operator '%s' needs %s operands", op_name(x->op),
               intop ? "integer" : "numeric");
    return false;
  }
  out->k = CV_INT;
  switch (x->op) {
  case '+': out->i = a.i + b.i; break;
  case '-': out->i = a.i - b.i; break;
  case '*':
    if (__builtin_mul_overflow(a.i, b.i, &out->i)) {
      diag_error(&x->loc, "integer overflow in constant expression");
      return false;
    }
    break;
  case '/':
  case '%':
    if (b.i == 0) {
      diag_error(&x->loc, "division by zero in constant expression");
      return false;
    }
    out->i = x->op == '/' ? a.i / b.i : a.i % b.i;
    break;
  case '|':
  case '^':
  case '&': {
    /* bitwise operators work on the 64-bit two's complement pattern */
    uint64_t ua = (uint64_t)a.i, ub = (uint64_t)b.i, r;
    r = x->op == '|' ? (ua | ub) : x->op == '^' ? (ua ^ ub) : (ua & ub);
    out->i = (a.i < 0 || b.i < 0) ? (xint)(int64_t)r : (xint)r;
    break;
  }
  case 'L':
  case 'R':
    if (b.i < 0 || b.i >= 64) {
      diag_error(&x->loc, "shift count out of range in constant expression");
      return false;
    }
    if (x->op == 'R')
      out->i = a.i >> (int)b.i;
    else if (__builtin_mul_overflow(a.i, (xint)1 << (int)b.i, &out->i)) {
      diag_error(&x->loc, "integer overflow in constant expression");
      return false;
    }
    break;
  }
  if (!fits64(out->i)) {
    diag_error(&x->loc, "integer overflow in constant expression");
    return false;
  }
  return true;
}

static bool
eval(check_ctx *cx, const expr *x, const idl_node *scope, const target *tg,
     cval *out, int depth)
{
  if (depth > PS_MAX_EXPR_DEPTH) { /* parser.y keeps trees below this */
    diag_error(&x->loc, "constant expression nested too deeply (more than "
                        "%d operators)", PS_MAX_EXPR_DEPTH);
    return false;
  }
  memset(out, 0, sizeof *out);
  switch (x->k) {
  case X_INT: out->k = CV_INT; out->i = x->u; return true;
  case X_FLOAT: out->k = CV_FLOAT; out->f = x->f; return true;
  case X_CHAR: out->k = CV_CHAR; out->c = (uint32_t)x->u; out->wide = x->wide; return true;
  case X_STRING: out->k = CV_STRING; out->s = x->s; out->wide = x->wide; return true;
  case X_BOOL: out->k = CV_BOOL; out->b = x->b; return true;
  case X_FIXED:
    out->k = CV_FIXED;
    if (strlen(x->s) > 62) {
      diag_error(&x->loc, "fixed-point literal has more than 62 digits");
      return false;
    }
    snprintf(out->fx, sizeof out->fx, "%s", x->s);
    return true;
  case X_NAME: return eval_name(cx, x, scope, out);
  case X_UNARY: return eval_unary(cx, x, scope, tg, out, depth);
  case X_BINARY: return eval_binary(cx, x, scope, tg, out, depth);
  }
  return false;
}

/* Normalises a fixed-point text ("-003.140") to "-3.14" in out and counts
 * its digits and fractional digits. */
static void
fixed_normalise(const char *in, char *out, size_t size, unsigned *digits,
                unsigned *scale)
{
  bool neg = in[0] == '-';
  const char *p = neg ? in + 1 : in, *dot = strchr(p, '.');
  size_t il = dot ? (size_t)(dot - p) : strlen(p), fl = dot ? strlen(dot + 1) : 0;
  const char *ip = p, *fp = dot ? dot + 1 : "";
  while (il > 1 && *ip == '0')
    ip++, il--;
  while (fl > 0 && fp[fl - 1] == '0')
    fl--;
  *scale = (unsigned)fl;
  *digits = (unsigned)((il == 1 && *ip == '0' ? 0 : il) + fl);
  if (il == 0)
    ip = "0", il = 1;
  snprintf(out, size, "%s%.*s%s%.*s", neg && *digits > 0 ? "-" : "", (int)il,
           ip, fl ? "." : "", (int)fl, fp);
}

/* Converts an evaluated value to the target type, with range checks. */
static bool
convert(const expr *x, const target *tg, const cval *v, idl_value *out)
{
  memset(out, 0, sizeof *out);
  if (is_int_target(tg)) {
    if (v->k != CV_INT)
      goto mismatch;
    if (v->i < tg->min || v->i > tg->max) {
      char buf[64];
      xint_str(v->i, buf, sizeof buf);
      diag_error(&x->loc, "value %s is out of range for type '%s'", buf,
                 tg->name);
      return false;
    }
    out->kind = tg->is_signed ? IDL_V_INT : IDL_V_UINT;
    out->i = (int64_t)v->i;
    out->u = (uint64_t)v->i;
    return true;
  }
  if (is_float_target(tg)) {
    if (v->k != CV_FLOAT && v->k != CV_INT)
      goto mismatch;
    out->kind = IDL_V_FLOAT;
    out->f = v->k == CV_FLOAT ? v->f : (double)v->i;
    if (tg->kind == IDL_T_FLOAT && (out->f > FLT_MAX || out->f < -FLT_MAX)) {
      diag_error(&x->loc, "value %g is out of range for type '%s'", out->f,
                 tg->name);
      return false;
    }
    return true;
  }
  switch (tg->kind) {
  case IDL_T_FIXED: {
    char txt[80], norm[80];
    unsigned digits, scale, maxd = tg->bound ? (unsigned)tg->bound : 31;
    if (v->k == CV_INT) {
      xint_str(v->i, txt, sizeof txt);
    } else if (v->k == CV_FIXED) {
      snprintf(txt, sizeof txt, "%s", v->fx);
    } else {
      goto mismatch;
    }
    fixed_normalise(txt, norm, sizeof norm, &digits, &scale);
    if (digits > maxd || (tg->bound != 0 && scale > tg->scale) ||
        (tg->bound != 0 && digits - scale > maxd - tg->scale)) {
      if (tg->bound != 0)
        diag_error(&x->loc, "fixed-point value %s does not fit in "
                            "fixed<%u,%u>", norm, maxd, tg->scale);
      else
        diag_error(&x->loc, "fixed-point value %s has more than 31 digits",
                   norm);
      return false;
    }
    out->kind = IDL_V_FIXED;
    out->s = xstrdup(norm);
    return true;
  }
  case IDL_T_BOOLEAN:
    if (v->k != CV_BOOL)
      goto mismatch;
    out->kind = IDL_V_BOOL;
    out->b = v->b;
    out->u = v->b;
    return true;
  case IDL_T_CHAR:
  case IDL_T_WCHAR:
    if (v->k != CV_CHAR)
      goto mismatch;
    if (tg->kind == IDL_T_CHAR && v->c > 0xff) {
      diag_error(&x->loc, "character value is out of range for type '%s'",
                 tg->name);
      return false;
    }
    out->kind = IDL_V_CHAR;
    out->u = v->c;
    out->i = v->c;
    return true;
  case IDL_T_STRING:
  case IDL_T_WSTRING:
    if (v->k != CV_STRING)
      goto mismatch;
    if (tg->bound != 0 && strlen(v->s) > tg->bound) {
      diag_error(&x->loc, "string of length %zu exceeds the bound %llu of '%s'",
                 strlen(v->s), (unsigned long long)tg->bound, tg->name);
      return false;
    }
    out->kind = IDL_V_STRING;
    out->s = xstrdup(v->s);
    return true;
  default:
    break;
  }
  if (tg->enm != NULL) {
    if (v->k != CV_ENUM)
      goto mismatch;
    if (v->e->parent != tg->enm) {
      diag_error(&x->loc, "enumerator '%s' is not valid for type '%s'",
                 v->e->name, tg->name);
      return false;
    }
    out->kind = IDL_V_ENUM;
    out->e = v->e;
    out->u = v->e->value.u;
    out->i = (int64_t)v->e->value.u;
    return true;
  }
mismatch:
  if (v->k == CV_ENUM)
    diag_error(&x->loc, "enumerator '%s' is not valid for type '%s'",
               v->e->name, tg->name);
  else
    diag_error(&x->loc, "%s is not valid for type '%s'", cv_what(v), tg->name);
  return false;
}

bool
const_eval(check_ctx *cx, const expr *x, const idl_type *t,
           const idl_node *scope, idl_value *out)
{
  target tg;
  cval v;
  memset(out, 0, sizeof *out);
  if (!set_target(t, &tg)) {
    diag_error(&t->loc, "invalid constant type '%s'",
               t->kind == IDL_T_NAMED ? t->name : idl_tkind_name(t->kind));
    return false;
  }
  if (!eval(cx, x, scope, &tg, &v, 0))
    return false;
  return convert(x, &tg, &v, out);
}

bool
const_eval_positive(check_ctx *cx, const expr *x, const idl_node *scope,
                    const char *what, uint64_t *out)
{
  idl_type t;
  idl_value v;
  memset(&t, 0, sizeof t);
  t.kind = IDL_T_ULLONG;
  t.loc = x->loc;
  *out = 0;
  if (!const_eval(cx, x, &t, scope, &v))
    return false;
  if (v.u == 0) {
    diag_error(&x->loc, "%s must be positive", what);
    return false;
  }
  *out = v.u;
  return true;
}

char *
value_to_string(const idl_value *v)
{
  char buf[128];
  switch (v->kind) {
  case IDL_V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v->i); break;
  case IDL_V_UINT: snprintf(buf, sizeof buf, "%llu", (unsigned long long)v->u); break;
  case IDL_V_FLOAT: snprintf(buf, sizeof buf, "%g", v->f); break;
  case IDL_V_BOOL: snprintf(buf, sizeof buf, "%s", v->b ? "TRUE" : "FALSE"); break;
  case IDL_V_CHAR:
    if (v->u >= 0x20 && v->u < 0x7f)
      snprintf(buf, sizeof buf, "'%c'", (char)v->u);
    else
      snprintf(buf, sizeof buf, "'\\x%llx'", (unsigned long long)v->u);
    break;
  case IDL_V_STRING: return xstrdup(v->s ? v->s : "");
  case IDL_V_FIXED: return xstrdup(v->s ? v->s : "0");
  case IDL_V_ENUM: snprintf(buf, sizeof buf, "%s", v->e ? v->e->name : "?"); break;
  default: snprintf(buf, sizeof buf, "?"); break;
  }
  return xstrdup(buf);
}
