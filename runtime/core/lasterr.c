/* lasterr.c - the calling thread's last error message (plumb/error.h):
 * cleared when a public call starts, set once when it fails, from the
 * call's own words or the detail a transport gave (plumb__addr_why). */
#include <stdarg.h>
#include <stdio.h>

#include "plumb/error.h"
#include "plumb/status.h"
#include "lasterr.h"
#include "transport.h"

static _Thread_local char err_msg[640];
static _Thread_local char err_detail[320];

const char *
plumb_last_error(void)
{
  return err_msg;
}

void
plumb__err_begin(void)
{
  err_msg[0] = '\0';
  err_detail[0] = '\0';
}

void
plumb__err_set(const char *fmt, ...)
{
  va_list ap;

  if (err_msg[0] != '\0')
    return;
  va_start(ap, fmt);
  vsnprintf(err_msg, sizeof err_msg, fmt, ap);
  va_end(ap);
}

void
plumb__addr_why(const char *fmt, ...)
{
  va_list ap;

  if (err_detail[0] != '\0')
    return; /* the first, most specific reason wins */
  va_start(ap, fmt);
  vsnprintf(err_detail, sizeof err_detail, fmt, ap);
  va_end(ap);
}

int
plumb__err_end(int st, const char *what)
{
  if (st == PLUMB_OK) {
    err_msg[0] = '\0';
  } else if (err_msg[0] == '\0') {
    plumb__err_set("%s: %s", what ? what : "(null)",
                   err_detail[0] ? err_detail : plumb_strerror(st));
  }
  err_detail[0] = '\0';
  return st;
}
