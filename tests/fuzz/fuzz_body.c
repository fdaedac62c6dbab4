/* fuzz_body.c - libFuzzer harness: request and reply bodies through
 * protobuf-c unpack and plumbc's generated validators.
 *
 * Input: byte 0 picks one message of fuzz_body_msgs[] (every operation's
 * request and reply of the example and test IDLs, listed by body_list.py);
 * the rest is the body.  It is unpacked with protobuf-c into a budgeted
 * allocator (like the server's per-request arena), validated with the
 * message's check table (plumb_validate: bounds, UTF-8, union branches,
 * depth); a valid message is packed, unpacked again and must validate again
 * and pack to the same bytes.  Any mismatch aborts.
 *
 * Nesting: protobuf-c's unpack recurses once per message level and has no
 * limit of its own (the runtime's decode pre-scan adds one before unpack);
 * here the input length is capped (BODY_MAX_INPUT) so that at two bytes per level
 * the recursion stays far inside the stack.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plumb/generated.h>

extern const plumb_msg_check *const fuzz_body_msgs[];
extern const unsigned fuzz_body_n_msgs;

#define BODY_MAX_INPUT (64 * 1024)
#define BUDGET_FACTOR 16
#define BUDGET_FIXED (256 * 1024)

typedef struct budget {
  ProtobufCAllocator al;
  size_t used, limit;
} budget;

typedef union bhdr {
  size_t size;
  max_align_t align;
} bhdr;

static void *
b_alloc(void *data, size_t size)
{
  budget *b = data;
  bhdr *h;
  if (size > b->limit - b->used)
    return NULL; /* over budget: unpack fails cleanly */
  if ((h = malloc(sizeof *h + size)) == NULL)
    return NULL;
  h->size = size;
  b->used += size;
  return h + 1;
}

static void
b_free(void *data, void *p)
{
  budget *b = data;
  bhdr *h;
  if (p == NULL)
    return;
  h = (bhdr *)p - 1;
  b->used -= h->size;
  free(h);
}

static void
budget_init(budget *b, size_t len)
{
  b->al.alloc = b_alloc;
  b->al.free = b_free;
  b->al.allocator_data = b;
  b->used = 0;
  b->limit = BUDGET_FACTOR * len + BUDGET_FIXED;
}

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(n ? n : 1);
  if (buf == NULL)
    abort();
  if (protobuf_c_message_pack(m, buf) != n) {
    fprintf(stderr, "fuzz_body: pack size mismatch\n");
    abort();
  }
  *len = n;
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const plumb_msg_check *chk;
  const ProtobufCMessageDescriptor *d;
  ProtobufCMessage *m, *m2;
  budget b, b2;
  char why[256];
  uint8_t *p1, *p2;
  size_t l1, l2;

  if (size < 1 || size > BODY_MAX_INPUT || fuzz_body_n_msgs == 0)
    return 0;
  chk = fuzz_body_msgs[data[0] % fuzz_body_n_msgs];
  d = chk->descriptor;
  budget_init(&b, size);
  m = protobuf_c_message_unpack(d, &b.al, size - 1, data + 1);
  if (m == NULL) {
    if (b.used != 0)
      abort(); /* a failed unpack must release what it took */
    return 0;
  }
  if (plumb_validate(chk, m, 0, why, sizeof why) != PLUMB_OK) {
    if (strncmp(why, "field '", 7) != 0 && strncmp(why, "a ", 2) != 0) {
      fprintf(stderr, "fuzz_body: failure without a field: %s\n", why);
      abort();
    }
    protobuf_c_message_free_unpacked(m, &b.al);
    return 0;
  }
  /* valid: the round trip must give an equal, valid message */
  p1 = pack(m, &l1);
  budget_init(&b2, l1 + 1);
  m2 = protobuf_c_message_unpack(d, &b2.al, l1, p1);
  if (m2 == NULL) {
    fprintf(stderr, "fuzz_body: %s: repacked bytes do not unpack\n", d->name);
    abort();
  }
  if (plumb_validate(chk, m2, 0, why, sizeof why) != PLUMB_OK) {
    fprintf(stderr, "fuzz_body: %s: round trip invalid: %s\n", d->name, why);
    abort();
  }
  p2 = pack(m2, &l2);
  if (l1 != l2 || memcmp(p1, p2, l1) != 0) {
    fprintf(stderr, "fuzz_body: %s: round trip differs (%zu vs %zu bytes)\n",
            d->name, l1, l2);
    abort();
  }
  free(p1);
  free(p2);
  protobuf_c_message_free_unpacked(m2, &b2.al);
  protobuf_c_message_free_unpacked(m, &b.al);
  if (b.used != 0 || b2.used != 0)
    abort();
  return 0;
}
