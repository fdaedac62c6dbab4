/* call_fail.c - plumb_call_fail(): a handler or generated thunk ends a call
 * with a specific status and a message naming what was wrong (for instance
 * "field 'entries[3].key': not valid UTF-8"), which the client receives as
 * that status with the message as its error text. */
#include <stdarg.h>
#include <stdio.h>

#include "call.h"

int
plumb_call_fail(plumb_call *call, int status, const char *fmt, ...)
{
  va_list ap;

  if (call == NULL)
    return status;
  call->fail_status = status;
  va_start(ap, fmt);
  vsnprintf(call->fail_msg, sizeof(call->fail_msg), fmt, ap);
  va_end(ap);
  return status;
}
