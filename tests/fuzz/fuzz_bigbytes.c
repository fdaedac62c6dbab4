/* fuzz_bigbytes.c - libFuzzer harness: the by-reference paths of large
 * bytes fields (runtime/core/bigbytes.c), built here with a 4-byte
 * threshold (PLUMB__BIG_MIN, see meson.build) so small inputs reach them.
 *
 * Input: byte 0 picks one message of fuzz_body_msgs[] (as fuzz_body.c);
 * the rest is the body.  It is decoded twice through decode.c - copying
 * (plumb__decode_body) and borrowing (plumb__decode_body_borrow) - and
 * both must agree: the same status, and messages that pack to the same
 * bytes.  The borrowed message is then packed by scatter; the gathered
 * wire must unpack to a message that packs to those bytes again.  The body
 * must be unchanged and every borrowed field must lie inside it.  Any
 * mismatch aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena_internal.h"
#include "bigbytes.h"
#include "decode.h"

extern const plumb_msg_check *const fuzz_body_msgs[];
extern const unsigned fuzz_body_n_msgs;

#define BIG_MAX_INPUT (64 * 1024)

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(n ? n : 1);
  if (buf == NULL)
    abort();
  if (protobuf_c_message_pack(m, buf) != n)
    abort();
  *len = n;
  return buf;
}

/* Every top-level bytes field of m that lies in body[0..len) must lie
 * wholly inside it. */
static void
check_inside(const ProtobufCMessage *m, const uint8_t *body, size_t len)
{
  const ProtobufCMessageDescriptor *d = m->descriptor;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *fd = &d->fields[i];
    if (fd->type != PROTOBUF_C_TYPE_BYTES ||
        fd->label == PROTOBUF_C_LABEL_REPEATED)
      continue;
    const ProtobufCBinaryData *b =
        (const void *)((const uint8_t *)m + fd->offset);
    uintptr_t s = (uintptr_t)b->data, lo = (uintptr_t)body;
    if (b->len == 0 || s < lo || s >= lo + len)
      continue;
    if (b->len > len || s + b->len > lo + len) {
      fprintf(stderr, "fuzz_bigbytes: field %s outside the body\n",
              fd->name);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const plumb__decode_limits lim = { .max_depth = 0, .budget = 0 };
  char why[PLUMB__DECODE_WHY_MAX];
  ProtobufCMessage *m1, *m2, *m3;
  size_t taken, len, l1, l2, l3;
  unsigned borrowed;

  if (size < 1 || size > BIG_MAX_INPUT || fuzz_body_n_msgs == 0)
    return 0;
  const ProtobufCMessageDescriptor *d =
      fuzz_body_msgs[data[0] % fuzz_body_n_msgs]->descriptor;
  len = size - 1;
  uint8_t *body = malloc(len ? len : 1);
  if (body == NULL)
    abort();
  memcpy(body, data + 1, len);
  plumb_arena *a1 = plumb_arena_new(), *a2 = plumb_arena_new();
  plumb_arena *a3 = plumb_arena_new();
  if (a1 == NULL || a2 == NULL || a3 == NULL)
    abort();
  int s1 = plumb__decode_body(&lim, NULL, d, a1, body, len, len, &m1,
                              &taken, why, sizeof why);
  int s2 = plumb__decode_body_borrow(&lim, NULL, d, a2, body, len, len, &m2,
                                     &taken, &borrowed, why, sizeof why);
  if ((s1 == PLUMB_OK) != (s2 == PLUMB_OK)) {
    fprintf(stderr, "fuzz_bigbytes: %s: copy %d, borrow %d\n", d->name, s1,
            s2);
    abort();
  }
  if (getenv("FUZZ_BIG_TRACE") != NULL && borrowed)
    fprintf(stderr, "fuzz_bigbytes: %s: %u borrowed\n", d->name, borrowed);
  if (memcmp(body, data + 1, len) != 0)
    abort(); /* the borrow must not write to the frame */
  if (s1 == PLUMB_OK) {
    uint8_t *p1 = pack(m1, &l1), *p2 = pack(m2, &l2);
    if (l1 != l2 || memcmp(p1, p2, l1) != 0) {
      fprintf(stderr, "fuzz_bigbytes: %s: borrowed message differs\n",
              d->name);
      abort();
    }
    check_inside(m2, body, len);
    plumb_buf head = { 0 };
    plumb__scatter sc;
    if (plumb__scatter_pack(m2, &head, SIZE_MAX, &sc) != PLUMB_OK ||
        sc.len != l1)
      abort();
    struct iovec iov[PLUMB__BIG_IOV];
    int n = plumb__scatter_iov(&sc, head.data, iov);
    uint8_t *w = malloc(sc.len ? sc.len : 1);
    size_t off = 0;
    if (w == NULL)
      abort();
    for (int i = 0; i < n; i++) {
      memcpy(w + off, iov[i].iov_base, iov[i].iov_len);
      off += iov[i].iov_len;
    }
    m3 = protobuf_c_message_unpack(d, plumb_arena_allocator(a3), off, w);
    if (m3 == NULL) {
      fprintf(stderr, "fuzz_bigbytes: %s: scattered wire does not unpack\n",
              d->name);
      abort();
    }
    uint8_t *p3 = pack(m3, &l3);
    if (l3 != l1 || memcmp(p3, p1, l1) != 0) {
      fprintf(stderr, "fuzz_bigbytes: %s: scattered wire differs\n",
              d->name);
      abort();
    }
    free(p1);
    free(p2);
    free(p3);
    free(w);
    plumb__buf_free(&head);
  }
  plumb_arena_free(a1);
  plumb_arena_free(a2);
  plumb_arena_free(a3);
  free(body);
  return 0;
}
