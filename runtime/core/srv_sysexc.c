/* srv_sysexc.c - answering a request with a system exception (a kind 7
 * frame: docs/PROTOCOL.md 2.7); the body is sysexc.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "server_int.h"
#include "sysexc.h"

int
plumb__srv_send_sysexc(srv_conn *sc, const plumb__frame *req, int code,
                       uint32_t minor, int completed, int status,
                       const char *fmt, ...)
{
  char msg[PLUMB_SYSEXC_MSG_MAX];
  uint8_t body[PLUMB__SYSEXC_BODY_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  plumb__log(PLUMB__LOG_INFO, "call %u: %s (%s, minor %u, completed %s)",
             req->call_id, msg, plumb_sysexc_name(code), (unsigned)minor,
             plumb_completion_name(completed));
  if (req->kind == PLUMB__FRAME_ONEWAY)
    return PLUMB_OK;
  size_t n = plumb__sysexc_encode(code, minor, completed, body);
  return plumb__srv_send(sc, req, PLUMB__FRAME_SYSEXC, status, msg,
                         strlen(msg), body, n);
}
