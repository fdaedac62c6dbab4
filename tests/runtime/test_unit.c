/* test_unit.c - unit tests of the runtime core in one process: the frame
 * codec (every malformed case), stream framing over a socketpair (partial
 * frames, PLUMB_NOWAIT, limits, end of stream), the arena, status strings,
 * endpoint parsing and unix socket-file handling. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena_internal.h"
#include "common.h"
#include "frame.h"
#include "plumb/plumb.h"
#include "ptest.h"
#include "rxpool.h"
#include "stream.h"
#include "transport.h"
#ifdef PLUMB_TEST_CALC
#include "calculator.h"
#endif

static void stream_pair(uint32_t max);
static void stream_unpair(void);
static int sp[2];
static plumb__stream rx_st, tx_st;

/* ---- frame codec ---------------------------------------------------- */

static size_t
make_frame(uint8_t *out, uint8_t kind, const char *text, const uint8_t *body,
           uint32_t body_len)
{
  plumb__frame f = { .kind = kind, .flags = 0, .call_id = 0x01020304u,
                     .iface = 0xa1b2c3d4u, .op = 5, .status = -12,
                     .text_len = (uint16_t)strlen(text),
                     .body_len = body_len };
  plumb__frame_encode(out, &f);
  memcpy(out + PLUMB__FRAME_HDR, text, f.text_len);
  if (body_len)
    memcpy(out + PLUMB__FRAME_HDR + f.text_len, body, body_len);
  return PLUMB__FRAME_HDR + f.text_len + body_len;
}

static void
test_frame_roundtrip(void)
{
  uint8_t buf[128];
  plumb__frame f;
  const char *why;
  size_t n = make_frame(buf, PLUMB__FRAME_ERROR, "calc",
                        (const uint8_t *)"\x08\x2a", 2);

  CU_ASSERT_EQUAL(n, 38);
  /* Byte layout as documented in docs/PROTOCOL.md. */
  CU_ASSERT(memcmp(buf, "PLMB", 4) == 0);
  CU_ASSERT_EQUAL(buf[4], 1);
  CU_ASSERT_EQUAL(buf[5], PLUMB__FRAME_ERROR);
  CU_ASSERT(buf[8] == 4 && buf[9] == 3 && buf[10] == 2 && buf[11] == 1);
  CU_ASSERT(buf[12] == 0xd4 && buf[15] == 0xa1);
  CU_ASSERT(buf[20] == 0xf4 && buf[23] == 0xff); /* -12 */
  CU_ASSERT(buf[24] == 4 && buf[25] == 0);
  CU_ASSERT(buf[28] == 2 && buf[29] == 0);
  CU_ASSERT_EQUAL(plumb__frame_decode(buf, n, 1024, &f, &why), PLUMB_OK);
  CU_ASSERT_EQUAL(f.kind, PLUMB__FRAME_ERROR);
  CU_ASSERT_EQUAL(f.call_id, 0x01020304u);
  CU_ASSERT_EQUAL(f.iface, 0xa1b2c3d4u);
  CU_ASSERT_EQUAL(f.op, 5);
  CU_ASSERT_EQUAL(f.status, -12);
  CU_ASSERT(f.text_len == 4 && memcmp(f.text, "calc", 4) == 0);
  CU_ASSERT(f.body_len == 2 && f.body[1] == 0x2a);
  /* Empty text and body. */
  n = make_frame(buf, PLUMB__FRAME_REPLY, "", NULL, 0);
  CU_ASSERT_EQUAL(n, PLUMB__FRAME_HDR);
  CU_ASSERT_EQUAL(plumb__frame_decode(buf, n, 1024, &f, NULL), PLUMB_OK);
}

/* The worked example of docs/PROTOCOL.md section 3, byte for byte. */
static void
test_frame_doc_example(void)
{
  static const uint8_t doc[] = {
    0x28, 0x00, 0x00, 0x00, 0x50, 0x4c, 0x4d, 0x42, 0x01, 0x01, 0x00, 0x00,
    0x07, 0x00, 0x00, 0x00, 0xbb, 0x2a, 0xe3, 0x2b, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
    0x63, 0x61, 0x6c, 0x63, 0x08, 0x02, 0x10, 0x03,
  };
  uint8_t hdr[PLUMB__FRAME_HDR];
  plumb__frame f = { .kind = PLUMB__FRAME_REQUEST, .call_id = 7,
                     .iface = 0x2be32abbu, .op = 0, .text_len = 4,
                     .body_len = 4 };
  plumb_buf out = { 0 };

  plumb__frame_encode(hdr, &f);
  stream_pair(0);
  struct iovec iov[3] = { { hdr, sizeof(hdr) }, { (void *)"calc", 4 },
                          { (void *)"\x08\x02\x10\x03", 4 } };
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, iov, 3, PLUMB_FOREVER), PLUMB_OK);
  uint8_t wire[64];
  CU_ASSERT_EQUAL(read(sp[0], wire, sizeof(wire)), (ssize_t)sizeof(doc));
  CU_ASSERT(memcmp(wire, doc, sizeof(doc)) == 0);
  plumb__buf_free(&out);
  stream_unpair();
}

static void
test_frame_malformed(void)
{
  uint8_t buf[128], bad[128];
  plumb__frame f;
  const char *why = NULL;
  size_t n = make_frame(buf, PLUMB__FRAME_REQUEST, "obj",
                        (const uint8_t *)"abc", 3);

  /* Every truncation is refused. */
  for (size_t k = 0; k < n; k++)
    CU_ASSERT_EQUAL(plumb__frame_decode(buf, k, 1024, &f, &why),
                    PLUMB_EPROTO);
  /* Trailing garbage. */
  memcpy(bad, buf, n);
  bad[n] = 0;
  CU_ASSERT_EQUAL(plumb__frame_decode(bad, n + 1, 1024, &f, &why),
                  PLUMB_EPROTO);
  /* Bad magic, each byte. */
  for (int i = 0; i < 4; i++) {
    memcpy(bad, buf, n);
    bad[i] ^= 0x20;
    CU_ASSERT_EQUAL(plumb__frame_decode(bad, n, 1024, &f, &why),
                    PLUMB_EPROTO);
    CU_ASSERT_STRING_EQUAL(why, "bad magic");
  }
  /* Other version: reported as such, with the call id readable. */
  memcpy(bad, buf, n);
  bad[4] = 2;
  CU_ASSERT_EQUAL(plumb__frame_decode(bad, n, 1024, &f, &why),
                  PLUMB_EVERSION);
  CU_ASSERT_EQUAL(f.call_id, 0x01020304u);
  /* Unknown kinds. */
  int kinds[] = { 0, 8, 255 };
  for (int i = 0; i < 3; i++) {
    memcpy(bad, buf, n);
    bad[5] = (uint8_t)kinds[i];
    CU_ASSERT_EQUAL(plumb__frame_decode(bad, n, 1024, &f, &why),
                    PLUMB_EPROTO);
  }
  /* Reserved bytes. */
  memcpy(bad, buf, n);
  bad[26] = 1;
  CU_ASSERT_EQUAL(plumb__frame_decode(bad, n, 1024, &f, &why), PLUMB_EPROTO);
  /* Text / body lengths that disagree with the frame length. */
  memcpy(bad, buf, n);
  bad[24] = 4;
  CU_ASSERT_EQUAL(plumb__frame_decode(bad, n, 1024, &f, &why), PLUMB_EPROTO);
  memcpy(bad, buf, n);
  bad[31] = 0x80; /* body length ~2 GiB */
  CU_ASSERT_EQUAL(plumb__frame_decode(bad, n, 1024, &f, &why), PLUMB_EPROTO);
  /* Over the limit. */
  CU_ASSERT_EQUAL(plumb__frame_decode(buf, n, (uint32_t)n - 1, &f, &why),
                  PLUMB_ETOOBIG);
  /* Random garbage never decodes and never crashes. */
  srand(7);
  for (int i = 0; i < 2000; i++) {
    size_t len = (size_t)(rand() % (int)sizeof(bad));
    for (size_t k = 0; k < len; k++)
      bad[k] = (uint8_t)rand();
    CU_ASSERT_NOT_EQUAL(plumb__frame_decode(bad, len, 1024, &f, &why),
                        PLUMB_OK);
  }
}

/* ---- stream framing --------------------------------------------------- */

static void
stream_pair(uint32_t max)
{
  CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
  fcntl(sp[0], F_SETFL, O_NONBLOCK);
  fcntl(sp[1], F_SETFL, O_NONBLOCK);
  plumb__stream_init(&rx_st, sp[0], sp[0], max);
  plumb__stream_init(&tx_st, sp[1], sp[1], max);
}

static void
stream_unpair(void)
{
  plumb__stream_free(&rx_st);
  plumb__stream_free(&tx_st);
  close(sp[0]);
  if (sp[1] >= 0)
    close(sp[1]);
}

static void
test_stream_basic(void)
{
  plumb_buf out = { 0 };
  struct iovec iov[3] = { { (void *)"ab", 2 }, { (void *)"", 0 },
                          { (void *)"cde", 3 } };

  stream_pair(0);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, iov, 3, PLUMB_FOREVER), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, iov, 1, PLUMB_FOREVER), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, iov, 0, PLUMB_FOREVER), PLUMB_OK);
  /* Three frames queued: the first recv reads them all at once. */
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(1000)),
                  PLUMB_OK);
  CU_ASSERT(out.len == 5 && memcmp(out.data, "abcde", 5) == 0);
  CU_ASSERT(plumb__stream_buffered(&rx_st));
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT), PLUMB_OK);
  CU_ASSERT(out.len == 2 && memcmp(out.data, "ab", 2) == 0);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT), PLUMB_OK);
  CU_ASSERT_EQUAL(out.len, 0);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  /* Deadline with nothing coming. */
  int64_t t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(50)),
                  PLUMB_ETIMEDOUT);
  CU_ASSERT(plumb__now_ns() - t0 >= 45000000);
  plumb__buf_free(&out);
  stream_unpair();
}

static void
test_stream_partial(void)
{
  plumb_buf out = { 0 };
  uint8_t wire[4 + 300];
  uint32_t n = 300;

  stream_pair(0);
  wire[0] = (uint8_t)n;
  wire[1] = (uint8_t)(n >> 8);
  wire[2] = wire[3] = 0;
  for (uint32_t i = 0; i < n; i++)
    wire[4 + i] = (uint8_t)i;
  /* Byte by byte: PLUMB_NOWAIT says EAGAIN until the last byte. */
  for (size_t i = 0; i < sizeof(wire); i++) {
    CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                    PLUMB_EAGAIN);
    CU_ASSERT_EQUAL(write(sp[1], wire + i, 1), 1);
  }
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT), PLUMB_OK);
  CU_ASSERT(out.len == n && memcmp(out.data, wire + 4, n) == 0);
  /* End of stream in the middle of a frame. */
  CU_ASSERT_EQUAL(write(sp[1], wire, 10), 10);
  close(sp[1]);
  sp[1] = -1;
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(1000)),
                  PLUMB_ECLOSED);
  plumb__buf_free(&out);
  stream_unpair();
}

static void
test_stream_limits(void)
{
  plumb_buf out = { 0 };
  uint8_t big[200] = { 0 };
  struct iovec iov = { big, sizeof(big) };

  stream_pair(100);
  /* Sending over the limit sends nothing. */
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, &iov, 1, PLUMB_FOREVER),
                  PLUMB_ETOOBIG);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  /* A length prefix over the limit fails before any allocation. */
  uint8_t pre[4] = { 0xff, 0xff, 0xff, 0x7f };
  CU_ASSERT_EQUAL(write(sp[1], pre, 4), 4);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(1000)),
                  PLUMB_ETOOBIG);
  CU_ASSERT_PTR_NULL(out.data);
  /* Too many iovecs. */
  struct iovec many[PLUMB__STREAM_MAX_IOV + 1];
  for (int i = 0; i <= PLUMB__STREAM_MAX_IOV; i++)
    many[i] = (struct iovec){ big, 1 };
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, many, PLUMB__STREAM_MAX_IOV + 1,
                                     PLUMB_FOREVER), PLUMB_EINVAL);
  stream_unpair();
  /* A closed peer gives ECLOSED on send, never SIGPIPE. */
  stream_pair(0);
  close(sp[0]);
  sp[0] = dup(sp[1]); /* keep stream_unpair's close valid */
  close(sp[1]);
  sp[1] = -1;
  int p[2];
  CU_ASSERT_EQUAL_FATAL(pipe2(p, O_NONBLOCK), 0);
  close(p[0]);
  plumb__stream pst;
  plumb__stream_init(&pst, p[1], p[1], 0);
  CU_ASSERT_EQUAL(plumb__stream_send(&pst, &iov, 1, PLUMB_FOREVER),
                  PLUMB_ECLOSED);
  close(p[1]);
  plumb__stream_free(&pst);
  stream_unpair();
}

static void
test_stream_wake(void)
{
  plumb_buf out = { 0 };
  int ev[2];

  stream_pair(0);
  CU_ASSERT_EQUAL_FATAL(pipe2(ev, O_NONBLOCK), 0);
  plumb__stream_set_wake(&rx_st, ev[0]);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(20)),
                  PLUMB_ETIMEDOUT);
  CU_ASSERT_EQUAL(write(ev[1], "x", 1), 1);
  int64_t t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_FOREVER),
                  PLUMB_ECLOSED);
  CU_ASSERT(plumb__now_ns() - t0 < 1000000000);
  close(ev[0]);
  close(ev[1]);
  stream_unpair();
}

/* A blocking socket read side: recv() bounded by SO_RCVTIMEO. */
static void
test_stream_blocking_socket(void)
{
  plumb_buf out = { 0 };
  struct iovec iov = { (void *)"hello", 5 };

  stream_pair(0);
  fcntl(sp[0], F_SETFL, 0); /* blocking */
  plumb__stream_free(&rx_st);
  plumb__stream_init(&rx_st, sp[0], sp[0], 0);
  CU_ASSERT(rx_st.rblock);
  /* PLUMB_NOWAIT never blocks. */
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  /* A deadline shorter than a slice, and one spanning several slices. */
  int64_t t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(30)),
                  PLUMB_ETIMEDOUT);
  int64_t dt = plumb__now_ns() - t0;
  CU_ASSERT(dt >= 29000000 && dt < 500000000);
  t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(250)),
                  PLUMB_ETIMEDOUT);
  dt = plumb__now_ns() - t0;
  CU_ASSERT(dt >= 249000000 && dt < 900000000);
  /* Frames, whole and byte by byte. */
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, &iov, 1, PLUMB_FOREVER),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_FOREVER), PLUMB_OK);
  CU_ASSERT(out.len == 5 && memcmp(out.data, "hello", 5) == 0);
  uint8_t wire[9] = { 5, 0, 0, 0, 'w', 'o', 'r', 'l', 'd' };
  for (size_t i = 0; i < sizeof(wire); i++) {
    CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                    PLUMB_EAGAIN);
    CU_ASSERT_EQUAL(write(sp[1], wire + i, 1), 1);
  }
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(1000)),
                  PLUMB_OK);
  CU_ASSERT(out.len == 5 && memcmp(out.data, "world", 5) == 0);
  /* shutdown() from another thread ends a blocked recv. */
  pid_t kid = fork();
  if (kid == 0) {
    usleep(50000);
    shutdown(sp[0], SHUT_RDWR);
    _exit(0);
  }
  t0 = plumb__now_ns();
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_FOREVER),
                  PLUMB_ECLOSED);
  CU_ASSERT(plumb__now_ns() - t0 < 2000000000);
  waitpid(kid, NULL, 0);
  plumb__buf_free(&out);
  stream_unpair();
}

static void
test_stream_large(void)
{
  /* A 4 MiB frame with a reader that is not reading yet: the sender must
   * finish it by polling; recv assembles it from many reads. */
  size_t n = 4u << 20;
  uint8_t *big = malloc(n);
  plumb_buf out = { 0 };
  for (size_t i = 0; i < n; i++)
    big[i] = (uint8_t)(i * 7);
  stream_pair(0);
  pid_t kid = fork();
  if (kid == 0) {
    struct iovec iov = { big, n };
    _exit(plumb__stream_send(&tx_st, &iov, 1, plumb__deadline_ms(5000)) ==
                  PLUMB_OK
              ? 0
              : 1);
  }
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(5000)),
                  PLUMB_OK);
  CU_ASSERT(out.len == n && memcmp(out.data, big, n) == 0);
  int ws;
  waitpid(kid, &ws, 0);
  CU_ASSERT(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  free(big);
  plumb__buf_free(&out);
  stream_unpair();
}

/* Sends one frame of n bytes of pattern seed on tx_st. */
static void
send_pattern(size_t n, unsigned seed)
{
  uint8_t *p = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 13 + seed);
  struct iovec iov = { p, n };
  CU_ASSERT_EQUAL(plumb__stream_send(&tx_st, &iov, 1, plumb__deadline_ms(5000)),
                  PLUMB_OK);
  free(p);
}

static int
is_pattern(const plumb_buf *b, size_t n, unsigned seed)
{
  if (b->len != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (b->data[i] != (uint8_t)(i * 13 + seed))
      return 0;
  return 1;
}

static void
test_stream_big_shapes(void)
{
  /* After a large frame the next read puts the prefix aside (stream.c,
   * stream_read_split): every shape that read can meet. */
  size_t big = 200 * 1024;
  int sz = 4 << 20;
  plumb_buf out = { 0 };
  int64_t dl = plumb__deadline_ms(5000);
  stream_pair(0);
  (void)setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  send_pattern(big, 1); /* the first: body mode from its first read */
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 1));
  send_pattern(big, 2); /* arrives whole: swapped out */
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 2));
  send_pattern(10, 3); /* small: put back in front */
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, 10, 3));
  send_pattern(big, 4);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 4));
  send_pattern(big, 5); /* two frames in one read: both, in order */
  send_pattern(5, 6);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 5));
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, 5, 6));
  send_pattern(big, 7);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 7));
  /* half a prefix, then the rest */
  uint8_t pfx[4] = { (uint8_t)big, (uint8_t)(big >> 8), (uint8_t)(big >> 16),
                     0 };
  uint8_t *body = malloc(big);
  for (size_t i = 0; i < big; i++)
    body[i] = (uint8_t)(i * 13 + 8);
  CU_ASSERT_EQUAL(write(sp[1], pfx, 2), 2);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  CU_ASSERT_EQUAL(write(sp[1], pfx + 2, 2), 2);
  CU_ASSERT_EQUAL(write(sp[1], body, big), (ssize_t)big);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 8));
  /* a prefix over max_frame after a big frame is still refused */
  stream_unpair();
  stream_pair(256 * 1024);
  (void)setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  send_pattern(big, 9);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_OK);
  CU_ASSERT(is_pattern(&out, big, 9));
  uint8_t over[4] = { 0, 0, 0x10, 0 }; /* 1 MiB */
  CU_ASSERT_EQUAL(write(sp[1], over, 4), 4);
  CU_ASSERT_EQUAL(write(sp[1], body, 100), 100);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, dl), PLUMB_ETOOBIG);
  free(body);
  plumb__buf_free(&out);
  stream_unpair();
}

/* ---- arena and status ------------------------------------------------ */

static void
test_arena(void)
{
  plumb_arena *a = plumb_arena_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  for (int round = 0; round < 3; round++) {
    for (int i = 1; i < 200; i++) {
      uint8_t *p = plumb_arena_alloc(a, (size_t)i * 13);
      CU_ASSERT_PTR_NOT_NULL(p);
      CU_ASSERT_EQUAL((uintptr_t)p % _Alignof(max_align_t), 0);
      memset(p, 0xab, (size_t)i * 13);
    }
    char *s = plumb_arena_strdup(a, "hello");
    CU_ASSERT_STRING_EQUAL(s, "hello");
    plumb__arena_set_exception(a, "IDL:x/E:1.0", s);
    const char *tid;
    CU_ASSERT_PTR_EQUAL(plumb_arena_exception(a, &tid), s);
    CU_ASSERT_STRING_EQUAL(tid, "IDL:x/E:1.0");
    plumb_arena_reset(a);
    CU_ASSERT_PTR_NULL(plumb_arena_exception(a, &tid));
  }
  ProtobufCAllocator *al = plumb_arena_allocator(a);
  void *p = al->alloc(al->allocator_data, 10);
  CU_ASSERT_PTR_NOT_NULL(p);
  al->free(al->allocator_data, p);
  CU_ASSERT_PTR_NULL(plumb_arena_alloc(a, SIZE_MAX));
  plumb_arena_free(a);
  plumb_arena_free(NULL);
}

static void
test_status(void)
{
#define CHECK_STATUS(name, val, msg)                                           \
  CU_ASSERT_STRING_EQUAL(plumb_strerror(val), msg);                           \
  CU_ASSERT_STRING_EQUAL(plumb_status_name(val), #name);                      \
  CU_ASSERT(strlen(msg) > 0);
  PLUMB_STATUS_MAP(CHECK_STATUS)
#undef CHECK_STATUS
  CU_ASSERT_STRING_EQUAL(plumb_status_name(-999), "UNKNOWN");
  CU_ASSERT_PTR_NOT_NULL(plumb_strerror(12345));
}

/* ---- endpoints ------------------------------------------------------ */

static void
test_endpoints(void)
{
  plumb_client *c = (plumb_client *)1;
  plumb_server *s;
  static const struct {
    const char *ep;
    int st;
  } bad[] = {
    { "noscheme", PLUMB_EADDR },
    { "bogus:x", PLUMB_ENOTRANSPORT },
    { "unix:", PLUMB_EADDR },
    { "unix:@", PLUMB_EADDR },
    { "unix:/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
      PLUMB_EADDR },
    { "tcp://", PLUMB_EADDR },
    { "tcp://127.0.0.1", PLUMB_EADDR },
    { "tcp://127.0.0.1:", PLUMB_EADDR },
    { "tcp://127.0.0.1:99999", PLUMB_EADDR },
    { "tcp://127.0.0.1:-1", PLUMB_EADDR },
    { "tcp://127.0.0.1:12x", PLUMB_EADDR },
    { "tcp://::1:9000", PLUMB_EADDR },
    { "tcp://[::1:9000", PLUMB_EADDR },
    { "tcp://[::1]9000", PLUMB_EADDR },
    { "tcp://:9000", PLUMB_EADDR },
    { "tcp://no.such.host.invalid:9000", PLUMB_EADDR },
  };

  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, NULL), PLUMB_OK);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int st = plumb_server_listen(s, bad[i].ep);
    if (st != bad[i].st)
      fprintf(stderr, "listen %s: %s\n", bad[i].ep, plumb_status_name(st));
    CU_ASSERT_EQUAL(st, bad[i].st);
    plumb_client_opts o = { .timeout_ms = 200 };
    st = plumb_client_open(&c, bad[i].ep, NULL, &o);
    if (st != bad[i].st)
      fprintf(stderr, "open %s: %s\n", bad[i].ep, plumb_status_name(st));
    CU_ASSERT_EQUAL(st, bad[i].st);
    CU_ASSERT_PTR_NULL(c);
  }
  CU_ASSERT_EQUAL(plumb_client_open(NULL, "unix:/x", NULL, NULL),
                  PLUMB_EINVAL);
  plumb_server_free(s);
}

static void
test_unix_files(void)
{
  char path[64], ep[80];
  plumb_server *s, *s2;
  struct stat sb;

  snprintf(path, sizeof(path), "/tmp/plumb-unit-%d.sock", (int)getpid());
  snprintf(ep, sizeof(ep), "unix:%s", path);
  /* A stale socket file (bound, never listening, its owner gone). */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  strcpy(sa.sun_path, path);
  CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  close(fd);
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_server_listen(s, ep), PLUMB_OK); /* reclaimed */
  CU_ASSERT_EQUAL(stat(path, &sb), 0);
  CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
  /* A live server's file is not taken over. */
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s2, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_server_listen(s2, ep), PLUMB_EBUSY);
  plumb_server_free(s2);
  CU_ASSERT_EQUAL(access(path, F_OK), 0);
  plumb_server_free(s);
  CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0); /* unlinked */
  /* Mode from the options. */
  plumb_server_opts o = { .workers = 1, .mode = 0660 };
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, &o), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_server_listen(s, ep), PLUMB_OK);
  CU_ASSERT_EQUAL(stat(path, &sb), 0);
  CU_ASSERT_EQUAL(sb.st_mode & 0777, 0660);
  /* Abstract names leave no file; the same name twice is busy. */
  char abs[80];
  snprintf(abs, sizeof(abs), "unix:@plumb-unit-%d", (int)getpid());
  CU_ASSERT_EQUAL(plumb_server_listen(s, abs), PLUMB_OK);
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s2, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_server_listen(s2, abs), PLUMB_EBUSY);
  plumb_server_free(s2);
  plumb_server_free(s);
  CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

static void
test_tcp_listen(void)
{
  plumb_server *s, *s2;
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s2, NULL), PLUMB_OK);
  /* Port 0: the kernel picks one. */
  CU_ASSERT_EQUAL(plumb_server_listen(s, "tcp://127.0.0.1:0"), PLUMB_OK);
  int port = 30000 + (int)(getpid() % 9000);
  char ep[64];
  for (int i = 0; i < 20; i++, port += 13) {
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
    if (plumb_server_listen(s, ep) == PLUMB_OK)
      break;
  }
  CU_ASSERT_EQUAL(plumb_server_listen(s2, ep), PLUMB_EBUSY);
  /* IPv6 loopback, when the box has it. */
  snprintf(ep, sizeof(ep), "tcp://[::1]:%d", port);
  int st = plumb_server_listen(s, ep);
  CU_ASSERT(st == PLUMB_OK || st == PLUMB_EADDR);
  plumb_server_free(s2);
  plumb_server_free(s);
}

/* docs/PROTOCOL.md section 3, computed the way the text says: FNV-1a-32
 * (offset basis 0x811c9dc5, prime 0x01000193) over the bytes of the
 * repository id, no terminating NUL; then the example's request bytes. */
static void
test_frame_doc_iface_id(void)
{
  const char *rid = "IDL:calc/Calculator:1.0";
  uint32_t h = 0x811c9dc5u;
  for (const char *p = rid; *p; p++)
    h = (h ^ (uint8_t)*p) * 0x01000193u;
  CU_ASSERT_EQUAL(h, 0x2be32abbu);
  CU_ASSERT_EQUAL(plumb_type_hash(rid), h);
#ifdef PLUMB_TEST_CALC
  CU_ASSERT_STRING_EQUAL(calc_Calculator_interface.type_id, rid);
  CU_ASSERT_EQUAL(calc_Calculator_interface.ops[0].decl_iface, h);
  CU_ASSERT_STRING_EQUAL(calc_Calculator_interface.ops[0].name, "add");
  CU_ASSERT_EQUAL(calc_Calculator_interface.ops[0].decl_index, 0);
#else
  printf("\n    plumbc not built: generated id not compared ");
#endif
}

/* ---- the receive budget (rxpool.h) ---------------------------------- */

static void
test_rxpool_charge(void)
{
  plumb__rx_pool pool = { .max = 1 << 20 };
  size_t a = 0, b = 0;

  /* Within the free allowance: nothing counted. */
  CU_ASSERT_EQUAL(plumb__rx_charge(&pool, &a, PLUMB__RX_FREE), PLUMB_OK);
  CU_ASSERT_EQUAL(a, 0);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  CU_ASSERT_EQUAL(plumb__rx_charge(&pool, &a, PLUMB__RX_FREE + 1000),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(a, 1000);
  CU_ASSERT_EQUAL(plumb__rx_charge(&pool, &b, PLUMB__RX_FREE + (1 << 20)),
                  PLUMB_EBUSY); /* 1000 + 1 MiB > 1 MiB */
  CU_ASSERT_EQUAL(b, 0);
  CU_ASSERT_EQUAL(plumb__rx_charge(&pool, &b,
                                   PLUMB__RX_FREE + (1 << 20) - 1000),
                  PLUMB_OK); /* exactly full */
  CU_ASSERT_EQUAL(atomic_load(&pool.used), (size_t)1 << 20);
  CU_ASSERT_EQUAL(plumb__rx_charge(&pool, &a, PLUMB__RX_FREE + 1001),
                  PLUMB_EBUSY);
  CU_ASSERT_EQUAL(plumb__rx_charge(&pool, &a, 10), PLUMB_OK); /* shrink */
  CU_ASSERT_EQUAL(a, 0);
  plumb__rx_release(&pool, &b);
  CU_ASSERT_EQUAL(b, 0);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  /* No pool: never fails, counts nothing. */
  CU_ASSERT_EQUAL(plumb__rx_charge(NULL, &a, (size_t)1 << 40), PLUMB_OK);
  CU_ASSERT_EQUAL(a, 0);
}

/* A stream charges its pool while it holds a partial frame beyond the
 * allowance, fails with PLUMB_EBUSY when the pool is full (before the
 * buffer grows) and gives everything back when the frame is handed over
 * or the stream freed. */
static void
test_rxpool_stream(void)
{
  plumb__rx_pool pool = { .max = 1 << 20 };
  plumb_buf out = { 0 };
  static uint8_t wire[4 + 512 * 1024];
  uint32_t n = 512 * 1024;

  stream_pair(4u << 20);
  plumb__stream_set_pool(&rx_st, &pool);
  wire[0] = (uint8_t)n;
  wire[1] = (uint8_t)(n >> 8);
  wire[2] = (uint8_t)(n >> 16);
  wire[3] = 0;
  /* A small frame never touches the pool. */
  uint8_t small[4 + 10] = { 10, 0, 0, 0 };
  CU_ASSERT_EQUAL(write(sp[1], small, sizeof small), (ssize_t)sizeof small);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(1000)),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  /* Half of a 512 KiB frame: charged, then released once it is whole. */
  CU_ASSERT_EQUAL(write(sp[1], wire, 1000), 1000);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  size_t charged = atomic_load(&pool.used);
  CU_ASSERT(charged >= n - PLUMB__RX_FREE && charged <= (size_t)1 << 20);
  struct pollfd pf = { sp[1], POLLOUT, 0 };
  size_t off = 1000;
  int st = PLUMB_EAGAIN;
  for (int i = 0; i < 10000 && st == PLUMB_EAGAIN; i++) {
    if (off < sizeof wire && poll(&pf, 1, 100) > 0) {
      ssize_t w = write(sp[1], wire + off, sizeof wire - off);
      off += w > 0 ? (size_t)w : 0;
    }
    st = plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT);
  }
  CU_ASSERT_EQUAL(st, PLUMB_OK);
  CU_ASSERT_EQUAL(out.len, n);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  /* Someone else holds most of the pool: the next big frame is refused. */
  atomic_store(&pool.used, (size_t)900 << 10);
  CU_ASSERT_EQUAL(write(sp[1], wire, 1000), 1000);
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, plumb__deadline_ms(1000)),
                  PLUMB_EBUSY);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), (size_t)900 << 10);
  atomic_store(&pool.used, 0);
  /* Freed mid-frame: the charge comes back. */
  CU_ASSERT_EQUAL(plumb__stream_recv(&rx_st, &out, PLUMB_NOWAIT),
                  PLUMB_EAGAIN);
  CU_ASSERT(atomic_load(&pool.used) > 0);
  stream_unpair();
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  plumb__buf_free(&out);
}

/* Reassembly (mq, sysvmq) charges a multi-message frame from its first
 * message to its hand-over; a frame that does not fit is PLUMB_EBUSY and
 * its later messages are discarded. */
static void
test_rxpool_reasm(void)
{
  plumb__rx_pool pool = { .max = 1 << 20 };
  plumb__reasm r = { .pool = &pool };
  plumb_buf out = { 0 };
  static uint8_t data[8192];
  size_t want = 256 * 1024;

  CU_ASSERT_EQUAL(plumb__reasm_first(&r, 100, 1u << 20, data, 100), 1);
  plumb__reasm_take(&r, &out);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  CU_ASSERT_EQUAL(plumb__reasm_first(&r, want, 1u << 20, data, 4096), 0);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), want - PLUMB__RX_FREE);
  int st = 0;
  for (size_t got = 4096; got < want && st == 0; got += sizeof data)
    st = plumb__reasm_more(&r, data, want - got < sizeof data
                                         ? want - got : sizeof data);
  CU_ASSERT_EQUAL(st, 1);
  plumb__reasm_take(&r, &out);
  CU_ASSERT_EQUAL(out.len, want);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  /* Over the budget (others hold 900 KiB): refused, the rest skipped,
   * nothing charged. */
  atomic_store(&pool.used, (size_t)900 << 10);
  CU_ASSERT_EQUAL(plumb__reasm_first(&r, want, 1u << 20, data, 4096),
                  PLUMB_EBUSY);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), (size_t)900 << 10);
  atomic_store(&pool.used, 0);
  CU_ASSERT_EQUAL(plumb__reasm_more(&r, data, sizeof data), 0);
  /* Closed mid-frame: released. */
  r.skip = 0;
  CU_ASSERT_EQUAL(plumb__reasm_first(&r, want, 1u << 20, data, 4096), 0);
  CU_ASSERT(atomic_load(&pool.used) > 0);
  plumb__reasm_free(&r);
  CU_ASSERT_EQUAL(atomic_load(&pool.used), 0);
  plumb__buf_free(&out);
}

static const ptest_case frame_cases[] = {
  { "encode/decode round trip", test_frame_roundtrip },
  { "malformed frames", test_frame_malformed },
  { "PROTOCOL.md example", test_frame_doc_example },
  { "PROTOCOL.md interface id (FNV-1a-32)", test_frame_doc_iface_id },
  { NULL, NULL },
};
static const ptest_case stream_cases[] = {
  { "frames, batching, NOWAIT, deadline", test_stream_basic },
  { "partial frames, end of stream", test_stream_partial },
  { "limits and closed peers", test_stream_limits },
  { "wake fd ends a blocked wait", test_stream_wake },
  { "blocking socket read side", test_stream_blocking_socket },
  { "4 MiB frame", test_stream_large },
  { "large frames: prefix aside after a large one", test_stream_big_shapes },
  { NULL, NULL },
};
static const ptest_case core_cases[] = {
  { "arena", test_arena },
  { "status strings", test_status },
  { "endpoint errors", test_endpoints },
  { "unix socket files", test_unix_files },
  { "tcp listen", test_tcp_listen },
  { NULL, NULL },
};

static const ptest_case rxpool_cases[] = {
  { "charge and release", test_rxpool_charge },
  { "stream", test_rxpool_stream },
  { "reassembly", test_rxpool_reasm },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "frame", frame_cases, NULL, NULL },
  { "stream", stream_cases, NULL, NULL },
  { "core", core_cases, NULL, NULL },
  { "receive budget", rxpool_cases, NULL, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
