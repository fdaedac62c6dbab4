/* sysexc.h - the wire form of system exceptions (kind 7 frames,
 * docs/PROTOCOL.md 2.7) and the client's record of the last one
 * (internal; sysexc.c).
 */
#ifndef PLUMB_SYSEXC_INT_H
#define PLUMB_SYSEXC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "plumb/sysexc.h"

/* Largest body plumb__sysexc_encode writes. */
#define PLUMB__SYSEXC_BODY_MAX 96

/* Writes the body of a kind 7 frame (plumb.SystemException: type_id = 1,
 * minor = 2, completed = 3) into buf; returns its length. */
size_t plumb__sysexc_encode(int code, uint32_t minor, int completed,
                            uint8_t buf[PLUMB__SYSEXC_BODY_MAX]);
/* Reads kind 7 frame f (status, text and body) into *info.  PLUMB_OK, or
 * PLUMB_EPROTO with *why naming what is malformed; nothing is trusted. */
int plumb__sysexc_decode(const plumb__frame *f, plumb_sysexc *info,
                         const char **why);
/* The system exception status st of a runtime failure maps to, with the
 * completion and minor code to report (st as a handler returned it). */
int plumb__sysexc_for_status(int st);

/* Client side: the calling thread's last call through c ended with *info
 * (set) or not (clear). */
void plumb__sysexc_client_set(const void *c, const plumb_sysexc *info);
void plumb__sysexc_client_clear(const void *c);

#endif
