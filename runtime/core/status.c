/* status.c - plumb_strerror / plumb_status_name, expanded from PLUMB_STATUS_MAP. */
#include "plumb/status.h"

const char *
plumb_strerror(int status)
{
  switch (status) {
#define PLUMB__STATUS_MSG(name, val, msg)                                      \
  case (val):                                                                  \
    return msg;
    PLUMB_STATUS_MAP(PLUMB__STATUS_MSG)
#undef PLUMB__STATUS_MSG
  default:
    return "unknown plumb status";
  }
}

const char *
plumb_status_name(int status)
{
  switch (status) {
#define PLUMB__STATUS_NAME(name, val, msg)                                     \
  case (val):                                                                  \
    return #name;
    PLUMB_STATUS_MAP(PLUMB__STATUS_NAME)
#undef PLUMB__STATUS_NAME
  default:
    return "UNKNOWN";
  }
}
