/* flat.h - the short way through protobuf for flat messages: those whose
 * every field is one scalar (no string, bytes, message, repeated field or
 * oneof member).  Most request and reply wrappers of small operations are
 * flat - add(long, long) sends {a, b} and gets {_ret} - and for them
 * protobuf-c's general pack and unpack, plus the decode pre-scan, were
 * most of a null call's CPU on the fast transports (bench/results/
 * ANALYSIS.md).
 *
 * Both directions give exactly what protobuf-c gives: the packed bytes
 * are identical, and an unpack either sets every field as protobuf-c's
 * unpack would or declines (an unknown field, a wire type that is not the
 * field's, a malformed varint...), leaving the body to the general path,
 * which then refuses it or keeps it as before.  tests/runtime/test_flat.c
 * checks both against protobuf-c; tests/fuzz/fuzz_flat.c does so on
 * arbitrary bytes.
 */
#ifndef PLUMB_FLAT_H
#define PLUMB_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* 1 if every field of d is a single scalar: label NONE, or OPTIONAL with a
 * has_ flag; not in a oneof; not string, bytes or message. */
int plumb__flat_is(const ProtobufCMessageDescriptor *d);

/* m's packed size, as protobuf_c_message_get_packed_size() says, or
 * SIZE_MAX if m is not packed here (not flat, or it keeps unknown
 * fields): then use protobuf-c. */
size_t plumb__flat_size(const ProtobufCMessage *m);

/* Packs m (plumb__flat_size() did not say SIZE_MAX) into out, which holds
 * that many bytes; returns the bytes written, equal to that size. */
size_t plumb__flat_pack(const ProtobufCMessage *m, uint8_t *out);

/* Decodes p[0..len) into m, a message of flat type d already initialised
 * (d->message_init).  1: every field set as protobuf-c's unpack sets it;
 * 0: declined, m partly written - initialise it again or drop it and take
 * the general path. */
int plumb__flat_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                       size_t len, ProtobufCMessage *m);

#endif
