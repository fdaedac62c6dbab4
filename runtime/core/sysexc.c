/* sysexc.c - system exceptions: names and codes, the kind 7 body
 * (plumb.SystemException) and its bounded decoder, plumb_call_raise_system,
 * and the per-thread record behind plumb_client_system_exception
 * (docs/RUNTIME.md, "System exceptions"; docs/PROTOCOL.md 2.7).
 * Sending one from the server is srv_sysexc.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "pbwire.h"
#include "sysexc.h"

#define SYS_REPO_PREFIX "IDL:omg.org/CORBA/"
#define SYS_REPO_SUFFIX ":1.0"

const char *
plumb_sysexc_name(int code)
{
  switch (code) {
#define SYS_NAME(name, val, st)                                                \
  case (val):                                                                  \
    return #name;
    PLUMB_SYSEXC_MAP(SYS_NAME)
#undef SYS_NAME
  default:
    return "UNKNOWN";
  }
}

/* The status a runtime failure of this code returns by default. */
static int
sys_default_status(int code)
{
  switch (code) {
#define SYS_ST(name, val, st)                                                  \
  case (val):                                                                  \
    return st;
    PLUMB_SYSEXC_MAP(SYS_ST)
#undef SYS_ST
  default:
    return PLUMB_ESERVER;
  }
}

int
plumb_sysexc_code(const char *name)
{
  size_t n;
  if (name == NULL)
    return PLUMB_SYS_NONE;
  n = strlen(name);
  if (strncmp(name, SYS_REPO_PREFIX, sizeof SYS_REPO_PREFIX - 1) == 0) {
    size_t p = sizeof SYS_REPO_PREFIX - 1, s = sizeof SYS_REPO_SUFFIX - 1;
    if (n < p + s || strcmp(name + n - s, SYS_REPO_SUFFIX) != 0)
      return PLUMB_SYS_NONE;
    name += p;
    n -= p + s;
  }
  for (int c = 1; c <= PLUMB_SYS_MAX; c++) {
    const char *nm = plumb_sysexc_name(c);
    if (strlen(nm) == n && memcmp(nm, name, n) == 0)
      return c;
  }
  return PLUMB_SYS_NONE;
}

const char *
plumb_completion_name(int completed)
{
  switch (completed) {
  case PLUMB_COMPLETED_YES:
    return "yes";
  case PLUMB_COMPLETED_NO:
    return "no";
  case PLUMB_COMPLETED_MAYBE:
    return "maybe";
  default:
    return "invalid";
  }
}

int
plumb__sysexc_for_status(int st)
{
  switch (st) {
  case PLUMB_EINVAL:
  case PLUMB_EBADBODY:
  case PLUMB_EINTERFACE:
    return PLUMB_SYS_BAD_PARAM;
  case PLUMB_ENOMEM:
    return PLUMB_SYS_NO_MEMORY;
  case PLUMB_ETIMEDOUT:
    return PLUMB_SYS_TIMEOUT;
  case PLUMB_ETOOBIG:
    return PLUMB_SYS_IMP_LIMIT;
  case PLUMB_ENOOBJECT:
    return PLUMB_SYS_OBJECT_NOT_EXIST;
  case PLUMB_ENOOP:
  case PLUMB_ENOTSUP:
    return PLUMB_SYS_NO_IMPLEMENT;
  case PLUMB_EBUSY:
  case PLUMB_EAGAIN:
  case PLUMB_ESTOPPED:
    return PLUMB_SYS_TRANSIENT;
  case PLUMB_EPERM:
    return PLUMB_SYS_NO_PERMISSION;
  default:
    return PLUMB_SYS_UNKNOWN;
  }
}

/* ---- wire form ------------------------------------------------------- */

size_t
plumb__sysexc_encode(int code, uint32_t minor, int completed,
                     uint8_t buf[PLUMB__SYSEXC_BODY_MAX])
{
  char id[64];
  size_t n = 0;
  int k = snprintf(id, sizeof id, SYS_REPO_PREFIX "%s" SYS_REPO_SUFFIX,
                   plumb_sysexc_name(code));
  size_t idlen = k > 0 && (size_t)k < sizeof id ? (size_t)k : 0;
  buf[n++] = 0x0a; /* field 1, length-delimited */
  n += plumb__pb_put_varint(buf + n, idlen);
  memcpy(buf + n, id, idlen);
  n += idlen;
  if (minor != 0) {
    buf[n++] = 0x10; /* field 2, varint */
    n += plumb__pb_put_varint(buf + n, minor);
  }
  if (completed != 0) {
    buf[n++] = 0x18; /* field 3, varint */
    n += plumb__pb_put_varint(buf + n, (uint32_t)completed);
  }
  return n;
}

/* Reads a varint of at most 10 bytes from p[*i..n). */
static int
get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
  const uint8_t *q = p + *i;
  if (plumb__pb_get_varint64(&q, p + n, v) == 0)
    return -1;
  *i = (size_t)(q - p);
  return 0;
}

int
plumb__sysexc_decode(const plumb__frame *f, plumb_sysexc *info,
                     const char **why)
{
  const uint8_t *p = f->body;
  size_t n = f->body_len, i = 0;
  int have_id = 0;

  memset(info, 0, sizeof(*info));
  info->code = PLUMB_SYS_UNKNOWN;
  info->completed = PLUMB_COMPLETED_YES; /* 0, omitted on the wire */
  while (i < n) {
    uint64_t tag, v;
    if (get_varint(p, n, &i, &tag) != 0 || tag >> 3 == 0 ||
        tag >> 3 > 536870911u) {
      *why = "system exception: bad field tag";
      return PLUMB_EPROTO;
    }
    unsigned field = (unsigned)(tag >> 3), wt = (unsigned)(tag & 7);
    switch (wt) {
    case 0:
      if (get_varint(p, n, &i, &v) != 0) {
        *why = "system exception: bad varint";
        return PLUMB_EPROTO;
      }
      if (field == 2) {
        if (v > UINT32_MAX) {
          *why = "system exception: minor code over 32 bits";
          return PLUMB_EPROTO;
        }
        info->minor = (uint32_t)v;
      } else if (field == 3) {
        if (v > PLUMB_COMPLETED_MAYBE) {
          *why = "system exception: completion status not yes/no/maybe";
          return PLUMB_EPROTO;
        }
        info->completed = (int)v;
      } else if (field == 1) {
        *why = "system exception: type_id is not a string";
        return PLUMB_EPROTO;
      }
      break;
    case 2:
      if (get_varint(p, n, &i, &v) != 0 || v > n - i) {
        *why = "system exception: length past the end of the body";
        return PLUMB_EPROTO;
      }
      if (field == 1) {
        if (v >= sizeof info->type_id) {
          *why = "system exception: type_id longer than 63 bytes";
          return PLUMB_EPROTO;
        }
        memcpy(info->type_id, p + i, (size_t)v);
        info->type_id[v] = '\0';
        if (strlen(info->type_id) != v) {
          *why = "system exception: NUL in type_id";
          return PLUMB_EPROTO;
        }
        have_id = 1;
      } else if (field == 2 || field == 3) {
        *why = "system exception: minor/completed is not a varint";
        return PLUMB_EPROTO;
      }
      i += (size_t)v;
      break;
    case 1:
    case 5:
      if (field <= 3 || (wt == 1 ? 8u : 4u) > n - i) {
        *why = "system exception: bad fixed-size field";
        return PLUMB_EPROTO;
      }
      i += wt == 1 ? 8 : 4;
      break;
    default:
      *why = "system exception: unsupported wire type";
      return PLUMB_EPROTO;
    }
  }
  if (!have_id) {
    *why = "system exception: no type_id";
    return PLUMB_EPROTO;
  }
  int code = plumb_sysexc_code(info->type_id);
  info->code = code != PLUMB_SYS_NONE ? code : PLUMB_SYS_UNKNOWN;
  /* The status the client returns: the server's, if it is one we know;
   * else what the code stands for. */
  int st = f->status;
  if (st >= 0 || strcmp(plumb_status_name(st), "UNKNOWN") == 0)
    st = sys_default_status(info->code);
  info->status = st;
  size_t tl = f->text_len < sizeof info->message - 1
                  ? f->text_len : sizeof info->message - 1;
  if (tl != 0) /* f->text may be NULL when there is none */
    memcpy(info->message, f->text, tl);
  info->message[tl] = '\0';
  return PLUMB_OK;
}

/* ---- client side: the last system exception per thread --------------- */

/* initial-exec: checked on every synchronous call (see client.c tls_cur) */
static __thread const void *last_c __attribute__((tls_model("initial-exec")));
static __thread plumb_sysexc last_info;

void
plumb__sysexc_client_set(const void *c, const plumb_sysexc *info)
{
  last_c = c;
  last_info = *info;
}

void
plumb__sysexc_client_clear(const void *c)
{
  if (last_c == c)
    last_c = NULL;
}

int
plumb_client_system_exception(const struct plumb_client *c,
                              plumb_sysexc *info)
{
  if (c != NULL && last_c == (const void *)c) {
    if (info != NULL)
      *info = last_info;
    return 1;
  }
  if (info != NULL) {
    memset(info, 0, sizeof(*info));
    info->code = PLUMB_SYS_NONE;
  }
  return 0;
}

/* ---- server side: handlers raise --------------------------------------- */

int
plumb_call_raise_system(struct plumb_call *call, int code, uint32_t minor,
                        const char *fmt, ...)
{
  va_list ap;
  if (call == NULL)
    return PLUMB_ESYSTEM;
  if (code < 1 || code > PLUMB_SYS_MAX)
    code = PLUMB_SYS_UNKNOWN;
  call->sys_code = code;
  call->sys_minor = minor;
  call->fail_status = PLUMB_ESYSTEM;
  va_start(ap, fmt);
  vsnprintf(call->fail_msg, sizeof(call->fail_msg), fmt, ap);
  va_end(ap);
  return PLUMB_ESYSTEM;
}

void
plumb_call_set_completion(struct plumb_call *call, int completed)
{
  if (call != NULL && completed >= PLUMB_COMPLETED_YES &&
      completed <= PLUMB_COMPLETED_MAYBE)
    call->sys_completed = completed + 1; /* 0 = not set */
}
