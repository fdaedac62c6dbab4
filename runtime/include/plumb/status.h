/* plumb/status.h - the one list of plumb status codes.
 *
 * Every public function that can fail returns a plumb_status: 0 (PLUMB_OK) on
 * success, a negative PLUMB_E* code otherwise.  The list below is the single
 * source: the enum, plumb_strerror() and plumb_status_name() are all expanded
 * from PLUMB_STATUS_MAP, and a test checks every code has its text.
 */
#ifndef PLUMB_STATUS_H
#define PLUMB_STATUS_H

#include "plumb/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, message) */
#define PLUMB_STATUS_MAP(XX)                                                   \
  XX(OK, 0, "success")                                                         \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(ESYS, -3, "operating system error (see errno)")                           \
  XX(ETIMEDOUT, -4, "deadline expired")                                        \
  XX(ECLOSED, -5, "connection closed by peer")                                 \
  XX(ECONNREFUSED, -6, "no server at endpoint")                                \
  XX(EPROTO, -7, "protocol error: malformed frame")                            \
  XX(ETOOBIG, -8, "frame exceeds the maximum size")                            \
  XX(EVERSION, -9, "protocol version mismatch")                                \
  XX(ENOOBJECT, -10, "no such object on the server")                           \
  XX(ENOOP, -11, "no such operation on the object's interface")               \
  XX(EBADBODY, -12, "message body could not be decoded")                       \
  XX(EEXCEPTION, -13, "the operation raised a user exception")                 \
  XX(ESERVER, -14, "the server failed to execute the call")                    \
  XX(ENOTRANSPORT, -15, "transport not built into this libplumb")              \
  XX(EADDR, -16, "malformed endpoint address")                                 \
  XX(EAGAIN, -17, "operation would block")                                     \
  XX(EBUSY, -18, "resource busy or address in use")                            \
  XX(ENOTSUP, -19, "operation not supported by this transport")               \
  XX(ESTOPPED, -20, "server is stopping")                                      \
  XX(EPERM, -21, "permission denied")                                          \
  XX(ECONFIG, -22, "invalid configuration")                                    \
  XX(EINTERFACE, -23, "object does not implement the requested interface") \
  XX(ECANCELLED, -24, "the call was cancelled by the caller")               \
  XX(ESYSTEM, -25, "the server raised a system exception")

typedef enum plumb_status {
#define PLUMB__STATUS_ENUM(name, val, msg) PLUMB_##name = (val),
  PLUMB_STATUS_MAP(PLUMB__STATUS_ENUM)
#undef PLUMB__STATUS_ENUM
} plumb_status;

/* A human-readable message for a status ("deadline expired"); never NULL. */
PLUMB_API const char *plumb_strerror(int status);

/* The code's name without prefix ("ETIMEDOUT"); "UNKNOWN" for other values. */
PLUMB_API const char *plumb_status_name(int status);

#ifdef __cplusplus
}
#endif
#endif
