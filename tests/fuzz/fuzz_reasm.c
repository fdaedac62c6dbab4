/* fuzz_reasm.c - libFuzzer harness for the message queues' frame
 * reassembly (plumb__reasm_first/more/take, runtime/transport/common.c):
 * what mq and sysvmq rebuild from a peer's messages, with the slack their
 * in-place receive keeps past a frame's end and a receive budget.
 *
 * Input: byte 0 sets the slack (times 64) and byte 1 the budget (KiB, 0 =
 * none); then operations of 3 header bytes - kind (bit 0: 0 FIRST, 1
 * MORE; bits 1-7: how many data bytes follow, as far as the input goes)
 * and a 16-bit little-endian length (FIRST: the frame length it
 * announces) - each followed by its data bytes.  After each operation: a frame in progress
 * never holds more than it announced, its buffer has the slack past its
 * end, the budget is never over-spent, and a completed frame has exactly
 * the announced length.  Every loop is bounded by the input's length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "plumb/status.h"
#include "rxpool.h"

#define FZ_MAX_FRAME (64u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  plumb__rx_pool pool = { 0 };
  plumb__reasm r;
  plumb_buf out = { 0 };
  size_t i = 2;

  if (size < 2)
    return 0;
  memset(&r, 0, sizeof r);
  r.slack = (size_t)data[0] * 64;
  pool.max = (size_t)data[1] * 1024;
  r.pool = data[1] ? &pool : NULL;
  while (i + 3 <= size) {
    uint8_t kind = data[i];
    size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
    i += 3;
    size_t n = kind >> 1; /* data bytes of this message */
    if (n > size - i)
      n = size - i;
    const uint8_t *d = data + i;
    i += n;
    int rv = (kind & 1) ? plumb__reasm_more(&r, d, n)
                        : plumb__reasm_first(&r, len, FZ_MAX_FRAME, d, n);
    if (r.in_frame) {
      if (r.part.len > r.want)
        abort();
      if (r.part.cap < r.want + r.slack && r.want > 0)
        abort();
    }
    if (r.pool != NULL && pool.max > 0 &&
        atomic_load(&pool.used) > pool.max)
      abort();
    if (rv == 1) {
      size_t want = r.want;
      plumb__reasm_take(&r, &out);
      if (out.len != want)
        abort();
      if (r.charged != 0)
        abort();
    } else if (rv < 0 && rv != PLUMB_ETOOBIG && rv != PLUMB_EBUSY &&
               rv != PLUMB_EPROTO && rv != PLUMB_ENOMEM) {
      abort();
    } else if (rv == PLUMB_EPROTO) {
      /* a connection would be dropped here: start over */
      plumb__reasm_free(&r);
      r.slack = (size_t)data[0] * 64;
      r.pool = data[1] ? &pool : NULL;
    }
  }
  plumb__reasm_free(&r);
  plumb__buf_free(&out);
  if (r.pool != NULL && atomic_load(&pool.used) != 0)
    abort(); /* every charge given back */
  return 0;
}
