/* plumb/plumb.h - umbrella header: include this to use libplumb. */
#ifndef PLUMB_PLUMB_H
#define PLUMB_PLUMB_H
#include "plumb/export.h"
#include "plumb/status.h"
#include "plumb/arena.h"
#include "plumb/client.h"
#include "plumb/async.h"
#include "plumb/server.h"
#include "plumb/call.h"
#include "plumb/sysexc.h"
#include "plumb/objref.h"
#include "plumb/generated.h"
#include "plumb/config.h"
#include "plumb/log.h"
#include "plumb/naming.h"
#include "plumb/error.h"
#define PLUMB_VERSION "0.1.0"
#endif
