/* srv_reply.c - sending answers: reply, exception and error frames, never
 * blocking (what the peer does not take waits in its txq).  A reply's big
 * bytes fields go out from where the handler left them (bigbytes.h): the
 * body is a list of iovecs, copied only if it has to wait in the txq.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "log.h"
#include "server_int.h"

/* ---- answering ----------------------------------------------------- */

/* Sends one reply frame without ever blocking: straight out if the peer
 * takes it, else copied into the connection's queue (srv_serve_conn then
 * stops reading the peer and waits for it to become writable).  A frame
 * that does not fit the queue's limits drops the connection, never the
 * frame alone. */
static int
srv_send_iov(srv_conn *sc, const struct iovec *iov, int n)
{
  int st;

  if (sc->tr->try_send == NULL) /* not non-blocking yet: bounded wait */
    return sc->tr->send(sc->conn, iov, n,
                        plumb__deadline_ms(SRV_SEND_FALLBACK_MS));
  if (plumb__txq_empty(&sc->txq) && !sc->tail) {
    st = sc->tr->try_send(sc->conn, iov, n);
    if (st == PLUMB_OK) { /* taken; flush() says EAGAIN if a tail is kept */
      if ((st = sc->tr->flush(sc->conn)) == PLUMB_EAGAIN) {
        sc->tail = 1;
        sc->blocked_since = plumb__now_ns();
        return PLUMB_OK;
      }
      return st;
    }
    if (st != PLUMB_EAGAIN)
      return st;
    sc->blocked_since = plumb__now_ns();
  }
  plumb__txq_limits lim = plumb__srv_limits(sc);
  if ((st = plumb__txq_push(&sc->txq, iov, n, &lim)) != PLUMB_OK) {
    plumb__log(PLUMB__LOG_WARN, "dropping client %s: its replies are "
               "not read and its queue is full (%zu bytes, %u frames queued; "
               "limits conn_queue_bytes=%zu, conn_queue_frames=%u, "
               "server_queue_bytes=%zu)", PLUMB__PEER(&sc->peer), sc->txq.bytes,
               sc->txq.frames, lim.conn_bytes, lim.conn_frames,
               lim.server_max);
    return PLUMB_EPROTO; /* logged: srv_serve_conn drops it quietly */
  }
  return PLUMB_OK;
}

int
plumb__srv_sendv(srv_conn *sc, const plumb__frame *req, int kind,
                 int32_t status, const char *text, size_t text_len,
                 const struct iovec *body, int nbody)
{
  uint8_t hdr[PLUMB__FRAME_HDR];
  struct iovec iov[2 + PLUMB__BIG_IOV];
  plumb__frame f;
  size_t body_len = 0;

  if (nbody < 0 || nbody > PLUMB__BIG_IOV)
    return PLUMB_EINVAL;
  for (int i = 0; i < nbody; i++)
    body_len += body[i].iov_len;
  memset(&f, 0, sizeof(f));
  f.kind = (uint8_t)kind;
  f.call_id = req->call_id;
  f.iface = req->iface;
  f.op = req->op;
  f.status = status;
  f.text_len = (uint16_t)(text_len > PLUMB__FRAME_TEXT_MAX
                              ? PLUMB__FRAME_TEXT_MAX : text_len);
  f.body_len = (uint32_t)body_len;
  plumb__frame_encode(hdr, &f);
  if (plumb__log_enabled(PLUMB__LOG_TRACE))
    plumb__log(PLUMB__LOG_TRACE, "server: send kind=%u id=%u status=%d "
               "text=%u body=%u", f.kind, f.call_id, (int)f.status,
               f.text_len, f.body_len);
  iov[0] = (struct iovec){ hdr, sizeof(hdr) };
  iov[1] = (struct iovec){ (void *)text, f.text_len };
  memcpy(iov + 2, body, (size_t)nbody * sizeof *body);
  return srv_send_iov(sc, iov, 2 + nbody);
}

int
plumb__srv_send(srv_conn *sc, const plumb__frame *req, int kind,
                int32_t status, const char *text, size_t text_len,
                const uint8_t *body, size_t body_len)
{
  struct iovec b = { (void *)body, body_len };
  return plumb__srv_sendv(sc, req, kind, status, text, text_len, &b, 1);
}

/* Answers req with an ERROR frame (never for oneway requests). */
int
plumb__srv_send_error(srv_conn *sc, const plumb__frame *req, int status,
                      const char *fmt, ...)
{
  char msg[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  plumb__log(PLUMB__LOG_INFO, "call %u: %s", req->call_id, msg);
  if (req->kind == PLUMB__FRAME_ONEWAY)
    return PLUMB_OK;
  return plumb__srv_send(sc, req, PLUMB__FRAME_ERROR, status, msg, strlen(msg),
                         NULL, 0);
}
