/* call_status.c - which status a client gets when a handler or generated
 * thunk fails a call (docs/PROTOCOL.md, "Error statuses").
 *
 * A status that says something true about the call itself travels as is;
 * one that would describe the client's own connection or setup (ECLOSED,
 * EPROTO, ECONNREFUSED, ESYS...) would mislead it, and becomes ESERVER
 * (the message still names the original). */
#include "call.h"

int
plumb__call_status_for_peer(int st)
{
  switch (st) {
  case PLUMB_EINVAL:     /* the handler refused an argument */
  case PLUMB_ENOMEM:     /* the server ran out of memory for this call */
  case PLUMB_ETIMEDOUT:  /* the handler's own deadline expired */
  case PLUMB_ETOOBIG:    /* the reply or an argument is too large */
  case PLUMB_ENOOBJECT:  /* the handler knows no such object */
  case PLUMB_ENOOP:      /* the operation is not implemented */
  case PLUMB_EBADBODY:   /* validation: an argument breaks the IDL */
  case PLUMB_EBUSY:      /* retryable: a resource is busy */
  case PLUMB_EAGAIN:     /* retryable */
  case PLUMB_ENOTSUP:    /* the handler does not support this request */
  case PLUMB_ESTOPPED:   /* the server is stopping */
  case PLUMB_EPERM:      /* the caller may not do this */
  case PLUMB_EINTERFACE: /* object does not implement the interface */
    return st;
  default:
    return PLUMB_ESERVER;
  }
}
