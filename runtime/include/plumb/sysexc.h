/* plumb/sysexc.h - system exceptions: the runtime's own failures, in the
 * CORBA manner (docs/RUNTIME.md, "System exceptions"; wire form in
 * docs/PROTOCOL.md 2.7).
 *
 * A system exception has a code (PLUMB_SYS_*), a minor code (what exactly
 * went wrong, numbered per code), a completion status (did the operation
 * run?) and a message.  The server sends one for every call it could not
 * complete: an unknown object, a body it cannot decode, a handler that
 * failed or called plumb_call_raise_system().  The client returns a PLUMB_E*
 * status (the one the runtime always returned for that failure, or
 * PLUMB_ESYSTEM when a handler raised it) and keeps the details for
 * plumb_client_system_exception().
 */
#ifndef PLUMB_SYSEXC_H
#define PLUMB_SYSEXC_H

#include <stdint.h>
#include "plumb/export.h"
#include "plumb/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, status a runtime failure of this kind returns) */
#define PLUMB_SYSEXC_MAP(XX)                                                   \
  XX(UNKNOWN, 1, PLUMB_ESERVER)        /* the handler failed otherwise */      \
  XX(BAD_PARAM, 2, PLUMB_EBADBODY)     /* an argument breaks the IDL */        \
  XX(NO_MEMORY, 3, PLUMB_ENOMEM)       /* the server ran out of memory */      \
  XX(IMP_LIMIT, 4, PLUMB_ETOOBIG)      /* over a size limit */                 \
  XX(COMM_FAILURE, 5, PLUMB_ECLOSED)   /* the connection broke mid-call */     \
  XX(INV_OBJREF, 6, PLUMB_EINVAL)      /* a malformed object reference */      \
  XX(NO_PERMISSION, 7, PLUMB_EPERM)    /* the caller may not do this */        \
  XX(INTERNAL, 8, PLUMB_ESERVER)       /* the server's own bug */              \
  XX(MARSHAL, 9, PLUMB_EBADBODY)       /* a body is not valid protobuf */      \
  XX(NO_IMPLEMENT, 10, PLUMB_ENOOP)    /* the handler is not implemented */    \
  XX(BAD_OPERATION, 11, PLUMB_ENOOP)   /* no such operation on the object */   \
  XX(NO_RESOURCES, 12, PLUMB_EBUSY)    /* a server resource is exhausted */    \
  XX(TRANSIENT, 13, PLUMB_EAGAIN)      /* try again later */                   \
  XX(OBJECT_NOT_EXIST, 14, PLUMB_ENOOBJECT) /* no such object (any more) */    \
  XX(TIMEOUT, 15, PLUMB_ETIMEDOUT)     /* the call's deadline expired */       \
  XX(BAD_INV_ORDER, 16, PLUMB_ESTOPPED) /* called in the wrong state */

typedef enum plumb_sys_code {
  PLUMB_SYS_NONE = 0,
#define PLUMB__SYS_ENUM(name, val, st) PLUMB_SYS_##name = (val),
  PLUMB_SYSEXC_MAP(PLUMB__SYS_ENUM)
#undef PLUMB__SYS_ENUM
} plumb_sys_code;
#define PLUMB_SYS_MAX 16

/* Did the operation run?  (CORBA's CompletionStatus, same values.) */
typedef enum plumb_completion {
  PLUMB_COMPLETED_YES = 0,  /* it ran to the end; only the reply failed */
  PLUMB_COMPLETED_NO = 1,   /* it never started */
  PLUMB_COMPLETED_MAYBE = 2 /* it may have run, wholly or in part */
} plumb_completion;

#define PLUMB_SYSEXC_MSG_MAX 256

typedef struct plumb_sysexc {
  int code;          /* plumb_sys_code; PLUMB_SYS_NONE = none */
  uint32_t minor;    /* PLUMB_MINOR_* below, or the raiser's own */
  int completed;     /* plumb_completion */
  int status;        /* the PLUMB_E* status the call returned */
  char type_id[64];  /* "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0" */
  char message[PLUMB_SYSEXC_MSG_MAX];
} plumb_sysexc;

/* Minor codes the runtime uses (per code; a handler picks its own, which
 * should be >= PLUMB_MINOR_USER). */
enum {
  PLUMB_MINOR_NO_OBJECT = 1,      /* OBJECT_NOT_EXIST: no object of that
                                     name (never added, or removed: the
                                     server keeps no list of the dead) */
  PLUMB_MINOR_NO_DEFAULT = 2,     /* OBJECT_NOT_EXIST: no default object */
  PLUMB_MINOR_NO_OP = 1,          /* BAD_OPERATION: no such (iface, op) */
  PLUMB_MINOR_NULL_HANDLER = 1,   /* NO_IMPLEMENT: the ops member is NULL */
  PLUMB_MINOR_BAD_WIRE = 1,       /* MARSHAL: the request body */
  PLUMB_MINOR_BAD_VALUE = 1,      /* BAD_PARAM: a request value breaks
                                     the IDL (generated validation) */
  PLUMB_MINOR_REQ_BUDGET = 1,     /* IMP_LIMIT: request decode budget */
  PLUMB_MINOR_REPLY_SIZE = 2,     /* IMP_LIMIT: reply over max_frame */
  PLUMB_MINOR_DECODE_POOL = 1,    /* NO_RESOURCES: max_decode_memory */
  PLUMB_MINOR_BAD_REPLY = 1,      /* INTERNAL: the handler's reply breaks
                                     the IDL (generated validation) */
  PLUMB_MINOR_OUT_OF_MEMORY = 1,  /* NO_MEMORY */
  PLUMB_MINOR_HANDLER = 100,      /* any code: the handler's own status */
  PLUMB_MINOR_USER = 0x10000      /* first minor code for applications */
};

/* "OBJECT_NOT_EXIST"; "UNKNOWN" for an unknown code. */
PLUMB_API const char *plumb_sysexc_name(int code);
/* The code of a name or a CORBA repository id ("OBJECT_NOT_EXIST" or
 * "IDL:omg.org/CORBA/OBJECT_NOT_EXIST:1.0"); PLUMB_SYS_NONE if unknown. */
PLUMB_API int plumb_sysexc_code(const char *name);
/* "yes", "no", "maybe". */
PLUMB_API const char *plumb_completion_name(int completed);

struct plumb_client;
struct plumb_call;
/* The system exception that ended the calling thread's last call through c
 * if it ended with one: fills *info and returns 1; else 0 (info->code =
 * PLUMB_SYS_NONE). */
PLUMB_API int plumb_client_system_exception(const struct plumb_client *c,
                                            plumb_sysexc *info);

/* Handlers: ends the call with system exception `code` (completion
 * PLUMB_COMPLETED_NO unless plumb_call_set_completion() said otherwise) and
 * a message (printf format, at most 255 bytes).  Returns PLUMB_ESYSTEM,
 * which the handler returns; the client gets PLUMB_ESYSTEM. */
PLUMB_API int plumb_call_raise_system(struct plumb_call *call, int code,
                                      uint32_t minor, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Completion status of a system exception the handler raises next. */
PLUMB_API void plumb_call_set_completion(struct plumb_call *call,
                                         int completed);

#ifdef __cplusplus
}
#endif
#endif
