/* fuzz_flat.c - libFuzzer harness: the flat-message codec
 * (runtime/core/flat.c) against protobuf-c on arbitrary bytes.
 *
 * Input: byte 0 picks a flat message type - the hand-written FlatAll and
 * FlatOpt of tests/runtime/flat_msgs.c (every scalar type, OPTIONAL fields
 * with has_ flags) or one of the flat request/reply messages among the
 * 'body' harness's list (every operation of the example and test IDLs);
 * the rest is the body.  Both decoders read it:
 *  - when flat's unpack accepts, protobuf-c's must accept too, keep no
 *    unknown field and set the same values (has_ flags included);
 *  - an accepted message then packs to protobuf-c's bytes, at the size
 *    protobuf-c computes, and those bytes unpack flat to the same values.
 * flat may decline what protobuf-c takes (an unknown field: the general
 * path keeps it); it may never take what protobuf-c refuses, nor read
 * differently.  Any disagreement aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plumb/generated.h>

#include "flat.h"
#include "flat_msgs.h"

extern const plumb_msg_check *const fuzz_body_msgs[];
extern const unsigned fuzz_body_n_msgs;

#define FLAT_MAX_INPUT (16 * 1024)
#define FLAT_MAX_TYPES 512

static const ProtobufCMessageDescriptor *types[FLAT_MAX_TYPES];
static unsigned n_types;

static void
list_types(void)
{
  types[n_types++] = &flat_all_desc;
  types[n_types++] = &flat_opt_desc;
  for (unsigned i = 0; i < fuzz_body_n_msgs && n_types < FLAT_MAX_TYPES; i++)
    if (plumb__flat_is(fuzz_body_msgs[i]->descriptor))
      types[n_types++] = fuzz_body_msgs[i]->descriptor;
}

static ProtobufCMessage *
fresh(const ProtobufCMessageDescriptor *d)
{
  ProtobufCMessage *m = malloc(d->sizeof_message);
  if (m == NULL)
    abort();
  d->message_init(m);
  return m;
}

static void
fail(const ProtobufCMessageDescriptor *d, const char *what)
{
  fprintf(stderr, "fuzz_flat: %s: %s\n", d->name, what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const ProtobufCMessageDescriptor *d;
  ProtobufCMessage *got, *want, *again;
  uint8_t *want_bytes, *got_bytes;
  size_t n;

  if (n_types == 0)
    list_types();
  if (size < 1 || size > FLAT_MAX_INPUT)
    return 0;
  d = types[data[0] % n_types];
  if (!plumb__flat_is(d))
    fail(d, "listed as flat but plumb__flat_is says no");
  got = fresh(d);
  want = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
  if (!plumb__flat_unpack(d, data + 1, size - 1, got)) {
    if (want != NULL)
      protobuf_c_message_free_unpacked(want, NULL);
    free(got);
    return 0;
  }
  if (want == NULL)
    fail(d, "flat took a body protobuf-c refuses");
  if (want->n_unknown_fields != 0)
    fail(d, "flat took a body with an unknown field");
  if (!flat_msgs_equal(d, want, got))
    fail(d, "flat read other values than protobuf-c");

  /* pack: same size, same bytes; and those bytes read back the same */
  n = protobuf_c_message_get_packed_size(got);
  if (plumb__flat_size(got) != n)
    fail(d, "flat size differs from protobuf-c's");
  want_bytes = malloc(n + 1);
  got_bytes = malloc(n + 1);
  if (want_bytes == NULL || got_bytes == NULL)
    abort();
  if (protobuf_c_message_pack(got, want_bytes) != n ||
      plumb__flat_pack(got, got_bytes) != n)
    fail(d, "pack wrote another length than the size");
  if (memcmp(want_bytes, got_bytes, n) != 0)
    fail(d, "flat packed other bytes than protobuf-c");
  again = fresh(d);
  if (!plumb__flat_unpack(d, got_bytes, n, again))
    fail(d, "flat declined its own packed bytes");
  if (!flat_msgs_equal(d, got, again))
    fail(d, "round trip changed a value");

  free(again);
  free(got_bytes);
  free(want_bytes);
  protobuf_c_message_free_unpacked(want, NULL);
  free(got);
  return 0;
}
