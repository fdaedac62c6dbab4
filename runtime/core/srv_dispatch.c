/* srv_dispatch.c - serving one request frame: check it, find the object
 * and the operation, decode the body within its limits (decode.h), run the
 * handler through its generated thunk and answer.
 */
#include <string.h>

#include "call.h"
#include "log.h"
#include "server_int.h"

/* The operation and the ops struct its thunk gets (inherited operations
 * live in the bases' tables; iface_find.c walks them). */
static const plumb_operation *
srv_find_op(const plumb_interface *iface, uint32_t decl_iface, uint32_t index,
            const void **impl)
{
  return plumb_interface_find_op(iface, decl_iface, index, impl);
}

static int srv_serve_call(srv_worker *w, srv_conn *sc,
                          const plumb__frame *fp, const srv_object *obj,
                          const plumb_operation *op, const void *impl,
                          ProtobufCMessage *req);

/* Serves one frame.  Returns PLUMB_OK to keep the connection, or an error
 * status to drop it (already logged). */
int
plumb__srv_serve_frame(srv_worker *w, srv_conn *sc)
{
  plumb_server *s = w->s;
  plumb__frame f;
  const char *why;
  int st;

  st = plumb__frame_decode(w->rx.data, w->rx.len, s->max_frame, &f, &why);
  if (st == PLUMB_EVERSION && (f.kind == PLUMB__FRAME_REQUEST ||
                               f.kind == PLUMB__FRAME_ONEWAY)) {
    f.kind = PLUMB__FRAME_REQUEST; /* answer even a oneway: it is useless */
    st = plumb__srv_send_error(
        sc, &f, PLUMB_EVERSION,
        "protocol version %u not supported (server speaks %u)", f.version,
        PLUMB__FRAME_VERSION);
    return st == PLUMB_OK ? PLUMB_OK : st;
  }
  if (st != PLUMB_OK) {
    plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d): %s",
               (int)sc->peer.pid, why);
    return st;
  }
  if (plumb__log_enabled(PLUMB__LOG_TRACE))
    plumb__log(PLUMB__LOG_TRACE, "server: recv kind=%u id=%u iface=%08x "
               "op=%u object='%.*s' body=%u", f.kind, f.call_id, f.iface, f.op,
               (int)f.text_len, f.text, f.body_len);
  if (f.kind != PLUMB__FRAME_REQUEST && f.kind != PLUMB__FRAME_ONEWAY) {
    plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d): frame kind %u "
               "is not a request", (int)sc->peer.pid, f.kind);
    return PLUMB_EPROTO;
  }
  const srv_object *obj = plumb__srv_find_object(s, f.text, f.text_len);
  if (obj == NULL)
    return plumb__srv_send_error(sc, &f, PLUMB_ENOOBJECT, "no object '%.*s'",
                                 (int)f.text_len, f.text);
  const void *impl = obj->impl;
  const plumb_operation *op = srv_find_op(obj->iface, f.iface, f.op, &impl);
  if (op == NULL || op->thunk == NULL || op->request == NULL)
    return plumb__srv_send_error(sc, &f, PLUMB_ENOOP,
                                 "object '%s' (%s) has no operation %08x:%u",
                                 obj->name, obj->iface->type_id, f.iface,
                                 f.op);

  plumb_arena_reset(w->arena);
  char whyd[PLUMB__DECODE_WHY_MAX];
  size_t taken;
  ProtobufCMessage *req;
  st = plumb__decode_body(&s->dec_limits, &s->dec_pool, op->request,
                          w->arena, f.body, f.body_len, w->rx.len, &req,
                          &taken, whyd, sizeof whyd);
  if (st != PLUMB_OK)
    return plumb__srv_send_error(sc, &f, st, "%s: %s", op->name, whyd);
  st = srv_serve_call(w, sc, &f, obj, op, impl, req);
  plumb__decode_release(&s->dec_pool, taken);
  return st;
}

/* Runs the handler of op on the decoded request req and answers it. */
static int
srv_serve_call(srv_worker *w, srv_conn *sc, const plumb__frame *fp,
               const srv_object *obj, const plumb_operation *op,
               const void *impl, ProtobufCMessage *req)
{
  plumb_server *s = w->s;
  plumb__frame f = *fp;
  int st;
  ProtobufCMessage *rep = NULL;
  if (op->reply != NULL) {
    if ((rep = plumb_arena_alloc(w->arena, op->reply->sizeof_message)) ==
        NULL)
      return plumb__srv_send_error(sc, &f, PLUMB_ESERVER, "out of memory");
    op->reply->message_init(rep);
  }

  struct plumb_call call = { .server = s, .obj = obj, .conn = sc,
                             .arena = w->arena,
                             .max_depth = s->dec_limits.max_depth };
  st = op->thunk(impl, obj->ctx, &call, req, rep);
  if (f.kind == PLUMB__FRAME_ONEWAY) {
    if (st != PLUMB_OK)
      plumb__log(PLUMB__LOG_INFO, "oneway %s failed: %s", op->name,
                 plumb_strerror(st));
    return PLUMB_OK;
  }
  if (st == PLUMB_OK) {
    size_t n = rep ? protobuf_c_message_get_packed_size(rep) : 0;
    if (n + PLUMB__FRAME_HDR > s->max_frame)
      return plumb__srv_send_error(
          sc, &f, PLUMB_ETOOBIG,
          "%s: reply of %zu bytes over the frame limit", op->name, n);
    if (plumb__buf_reserve(&w->tx, n ? n : 1) != PLUMB_OK)
      return plumb__srv_send_error(sc, &f, PLUMB_ESERVER, "out of memory");
    w->tx.len = rep ? protobuf_c_message_pack(rep, w->tx.data) : 0;
    return plumb__srv_send(sc, &f, PLUMB__FRAME_REPLY, 0, NULL, 0, w->tx.data,
                           w->tx.len);
  }
  if (st == PLUMB_EEXCEPTION && call.exc_type != NULL) {
    const char *tid = call.exc_type->type_id;
    return plumb__srv_send(sc, &f, PLUMB__FRAME_EXCEPTION, 0, tid, strlen(tid),
                           call.exc_body, call.exc_len);
  }
  if (call.fail_status != 0 && call.fail_status == st)
    return plumb__srv_send_error(sc, &f, plumb__call_status_for_peer(st),
                                 "%s: %s", op->name, call.fail_msg);
  /* e.g. ENOOP: the object leaves this operation unimplemented (NULL
   * handler); see call_status.c for what a peer may get. */
  return plumb__srv_send_error(sc, &f, plumb__call_status_for_peer(st),
                               "%s failed: %s (%s)", op->name,
                               plumb_strerror(st), plumb_status_name(st));
}
