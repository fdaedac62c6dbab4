/* fuzz_frame.c - libFuzzer harness for the frame header decoder
 * (plumb__frame_decode) and the stream framing (plumb__stream_recv).
 *
 * The input is decoded as one frame with a small limit and with the
 * default one; a decoded frame must point inside the input.  Then the
 * input is written into a socketpair in pieces whose sizes come from the
 * input's own bytes, and the stream reader (non-blocking, max_frame 64 KiB)
 * takes frames out of it until it reports EAGAIN or an error; every frame
 * it returns must fit the limit, and the frame decoder runs on each.
 * Every loop is bounded by the input's length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "frame.h"
#include "plumb/status.h"
#include "stream.h"

#define FZ_MAX_FRAME (64u * 1024u)

static void
fz_check_frame(const uint8_t *p, size_t len, uint32_t max)
{
  plumb__frame f;
  const char *why = NULL;
  int st = plumb__frame_decode(p, len, max, &f, &why);
  if (why == NULL)
    abort();
  if (st == PLUMB_OK) {
    if ((const uint8_t *)f.text < p || f.body + f.body_len > p + len ||
        PLUMB__FRAME_HDR + (size_t)f.text_len + f.body_len != len)
      abort();
    /* Re-encoding the header gives the same bytes. */
    uint8_t hdr[PLUMB__FRAME_HDR];
    plumb__frame_encode(hdr, &f);
    if (memcmp(hdr, p, PLUMB__FRAME_HDR) != 0)
      abort();
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  int sv[2];
  fz_check_frame(data, size, FZ_MAX_FRAME);
  fz_check_frame(data, size, 16u << 20);

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                 sv) != 0)
    return 0;
  int bufsz = 1 << 20;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  plumb__stream s;
  plumb_buf out = { 0 };
  plumb__stream_init(&s, sv[1], sv[1], FZ_MAX_FRAME);
  size_t off = 0;
  unsigned seed = size ? data[0] : 0;
  int done = 0;
  for (size_t round = 0; round <= size && !done; round++) {
    /* Write the next piece (1..64 bytes, size chosen by the input). */
    if (off < size) {
      size_t piece = 1 + (seed = seed * 1103515245u + 12345u) % 64u;
      if (piece > size - off)
        piece = size - off;
      ssize_t w = write(sv[0], data + off, piece);
      if (w > 0)
        off += (size_t)w;
      if (off == size)
        shutdown(sv[0], SHUT_WR);
    }
    /* Take every whole frame out. */
    for (int k = 0; k < 64; k++) {
      int st = plumb__stream_recv(&s, &out, PLUMB_NOWAIT);
      if (st == PLUMB_EAGAIN)
        break;
      if (st != PLUMB_OK) {
        done = 1;
        break;
      }
      if (out.len > FZ_MAX_FRAME)
        abort();
      fz_check_frame(out.data, out.len, FZ_MAX_FRAME);
    }
  }
  plumb__buf_free(&out);
  plumb__stream_free(&s);
  close(sv[0]);
  close(sv[1]);
  return 0;
}
