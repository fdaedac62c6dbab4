/* frame.c - encodes and checks the fixed frame header (see frame.h and
 * docs/PROTOCOL.md).  All integers are little-endian on the wire. */
#include <string.h>

#include "frame.h"
#include "plumb/status.h"

static void
frame_put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void
frame_put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint16_t
frame_get16(const uint8_t *p)
{
  return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
frame_get32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

void
plumb__frame_encode(uint8_t hdr[PLUMB__FRAME_HDR], const plumb__frame *f)
{
  memcpy(hdr, PLUMB__FRAME_MAGIC, 4);
  hdr[4] = PLUMB__FRAME_VERSION;
  hdr[5] = f->kind;
  frame_put16(hdr + 6, f->flags);
  frame_put32(hdr + 8, f->call_id);
  frame_put32(hdr + 12, f->iface);
  frame_put32(hdr + 16, f->op);
  frame_put32(hdr + 20, (uint32_t)f->status);
  frame_put16(hdr + 24, f->text_len);
  frame_put16(hdr + 26, 0);
  frame_put32(hdr + 28, f->body_len);
}

int
plumb__frame_decode(const uint8_t *p, size_t len, uint32_t max_frame,
                    plumb__frame *f, const char **why)
{
  const char *dummy;

  if (why == NULL)
    why = &dummy;
  memset(f, 0, sizeof(*f));
  if (len > max_frame) {
    *why = "frame over the size limit";
    return PLUMB_ETOOBIG;
  }
  if (len < PLUMB__FRAME_HDR) {
    *why = "truncated header";
    return PLUMB_EPROTO;
  }
  if (memcmp(p, PLUMB__FRAME_MAGIC, 4) != 0) {
    *why = "bad magic";
    return PLUMB_EPROTO;
  }
  f->version = p[4];
  f->kind = p[5];
  f->flags = frame_get16(p + 6);
  f->call_id = frame_get32(p + 8);
  f->iface = frame_get32(p + 12);
  f->op = frame_get32(p + 16);
  f->status = (int32_t)frame_get32(p + 20);
  f->text_len = frame_get16(p + 24);
  f->body_len = frame_get32(p + 28);
  if (f->version != PLUMB__FRAME_VERSION) {
    *why = "unsupported protocol version";
    return PLUMB_EVERSION;
  }
  if (f->kind < PLUMB__FRAME_REQUEST || f->kind > PLUMB__FRAME_KIND_MAX) {
    *why = "unknown frame kind";
    return PLUMB_EPROTO;
  }
  if (frame_get16(p + 26) != 0) {
    *why = "reserved header bytes not zero";
    return PLUMB_EPROTO;
  }
  if ((size_t)PLUMB__FRAME_HDR + f->text_len + f->body_len != len) {
    *why = "header lengths disagree with the frame length";
    return PLUMB_EPROTO;
  }
  f->text = (const char *)p + PLUMB__FRAME_HDR;
  f->body = p + PLUMB__FRAME_HDR + f->text_len;
  *why = "ok";
  return PLUMB_OK;
}
