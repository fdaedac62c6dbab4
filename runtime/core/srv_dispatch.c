/* srv_dispatch.c - serving one request frame: check it, find the object
 * and the operation, decode the body within its limits (decode.h), run the
 * handler through its generated thunk and answer.  Objects are counted
 * while a call runs on them (srv_objects.c); the reserved interface goes
 * to builtin_ops.c; failures are answered as system exceptions
 * (srv_sysexc.c, docs/PROTOCOL.md 2.3).
 */
#include <string.h>

#include "builtin_ops.h"
#include "call.h"
#include "log.h"
#include "server_int.h"
#include "sysexc.h"

/* The operation and the ops struct its thunk gets (inherited operations
 * live in the bases' tables; iface_find.c walks them). */
static const plumb_operation *
srv_find_op(const plumb_interface *iface, uint32_t decl_iface, uint32_t index,
            const void **impl)
{
  return plumb_interface_find_op(iface, decl_iface, index, impl);
}

static int srv_serve_object(srv_worker *w, srv_conn *sc,
                            const plumb__frame *fp, srv_object *obj);
static int srv_answer_failure(srv_conn *sc, const plumb__frame *f,
                              const plumb_operation *op,
                              const plumb_call *call, int st);
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
  srv_object *obj = plumb__srv_object_get(s, f.text, f.text_len);
  if (obj == NULL) {
    /* _non_existent is answered, not refused: "yes, it is gone". */
    if (f.iface == PLUMB__OBJECT_IFACE_ID && f.op == PLUMB__OP_NON_EXISTENT)
      return plumb__srv_send(sc, &f, PLUMB__FRAME_REPLY, 0, NULL, 0,
                             (const uint8_t *)"\x08\x01", 2);
    if (f.text_len == 0)
      return plumb__srv_send_sysexc(sc, &f, PLUMB_SYS_OBJECT_NOT_EXIST,
                                    PLUMB_MINOR_NO_DEFAULT,
                                    PLUMB_COMPLETED_NO, PLUMB_ENOOBJECT,
                                    "no default object");
    return plumb__srv_send_sysexc(sc, &f, PLUMB_SYS_OBJECT_NOT_EXIST,
                                  PLUMB_MINOR_NO_OBJECT, PLUMB_COMPLETED_NO,
                                  PLUMB_ENOOBJECT, "no object '%.*s'",
                                  (int)f.text_len, f.text);
  }
  st = srv_serve_object(w, sc, &f, obj);
  plumb__srv_object_put(obj);
  return st;
}

/* Serves request f on obj (counted by the caller). */
static int
srv_serve_object(srv_worker *w, srv_conn *sc, const plumb__frame *fp,
                 srv_object *obj)
{
  plumb_server *s = w->s;
  plumb__frame f = *fp;
  int st;
  const void *impl = obj->impl;
  const plumb_operation *op =
      f.iface == PLUMB__OBJECT_IFACE_ID
          ? plumb__builtin_op(f.op)
          : srv_find_op(obj->iface, f.iface, f.op, &impl);
  if (op == NULL || op->request == NULL)
    return plumb__srv_send_sysexc(sc, &f, PLUMB_SYS_BAD_OPERATION,
                                  PLUMB_MINOR_NO_OP, PLUMB_COMPLETED_NO,
                                  PLUMB_ENOOP,
                                  "object '%s' (%s) has no operation "
                                  "%08x:%u", obj->name, obj->iface->type_id,
                                  f.iface, f.op);
  if (op->thunk == NULL)
    return plumb__srv_send_sysexc(sc, &f, PLUMB_SYS_NO_IMPLEMENT,
                                  PLUMB_MINOR_NULL_HANDLER,
                                  PLUMB_COMPLETED_NO, PLUMB_ENOOP,
                                  "object '%s' (%s): %s is not implemented",
                                  obj->name, obj->iface->type_id, op->name);

  plumb_arena_reset(w->arena);
  char whyd[PLUMB__DECODE_WHY_MAX];
  size_t taken;
  ProtobufCMessage *req;
  st = plumb__decode_body(&s->dec_limits, &s->dec_pool, op->request,
                          w->arena, f.body, f.body_len, w->rx.len, &req,
                          &taken, whyd, sizeof whyd);
  if (st != PLUMB_OK) {
    int code = st == PLUMB_EBADBODY ? PLUMB_SYS_MARSHAL
               : st == PLUMB_ETOOBIG ? PLUMB_SYS_IMP_LIMIT
               : st == PLUMB_EBUSY ? PLUMB_SYS_NO_RESOURCES
                                   : PLUMB_SYS_NO_MEMORY;
    uint32_t minor = code == PLUMB_SYS_MARSHAL ? PLUMB_MINOR_BAD_WIRE
                     : code == PLUMB_SYS_IMP_LIMIT ? PLUMB_MINOR_REQ_BUDGET
                     : code == PLUMB_SYS_NO_RESOURCES
                         ? PLUMB_MINOR_DECODE_POOL
                         : PLUMB_MINOR_OUT_OF_MEMORY;
    return plumb__srv_send_sysexc(sc, &f, code, minor, PLUMB_COMPLETED_NO,
                                  st, "%s: %s", op->name, whyd);
  }
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
      return plumb__srv_send_sysexc(sc, &f, PLUMB_SYS_NO_MEMORY,
                                    PLUMB_MINOR_OUT_OF_MEMORY,
                                    PLUMB_COMPLETED_NO, PLUMB_ESERVER,
                                    "%s: out of memory", op->name);
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
      return plumb__srv_send_sysexc(
          sc, &f, PLUMB_SYS_IMP_LIMIT, PLUMB_MINOR_REPLY_SIZE,
          PLUMB_COMPLETED_YES, PLUMB_ETOOBIG,
          "%s: reply of %zu bytes over the frame limit", op->name, n);
    if (plumb__buf_reserve(&w->tx, n ? n : 1) != PLUMB_OK)
      return plumb__srv_send_sysexc(sc, &f, PLUMB_SYS_NO_MEMORY,
                                    PLUMB_MINOR_OUT_OF_MEMORY,
                                    PLUMB_COMPLETED_YES, PLUMB_ESERVER,
                                    "%s: out of memory for the reply",
                                    op->name);
    w->tx.len = rep ? protobuf_c_message_pack(rep, w->tx.data) : 0;
    return plumb__srv_send(sc, &f, PLUMB__FRAME_REPLY, 0, NULL, 0, w->tx.data,
                           w->tx.len);
  }
  if (st == PLUMB_EEXCEPTION && call.exc_type != NULL) {
    const char *tid = call.exc_type->type_id;
    return plumb__srv_send(sc, &f, PLUMB__FRAME_EXCEPTION, 0, tid, strlen(tid),
                           call.exc_body, call.exc_len);
  }
  return srv_answer_failure(sc, &f, op, &call, st);
}

/* Answers a call whose handler (or thunk) failed with st: a system
 * exception it raised, or the one its status stands for (PROTOCOL.md 2.3).
 * The handler ran, so what it did is unknown: completion MAYBE, unless it
 * said otherwise or the thunk refused the request before calling it. */
static int
srv_answer_failure(srv_conn *sc, const plumb__frame *f,
                   const plumb_operation *op, const plumb_call *call, int st)
{
  if (st == PLUMB_ESYSTEM && call->sys_code != 0)
    return plumb__srv_send_sysexc(
        sc, f, call->sys_code, call->sys_minor,
        call->sys_completed ? call->sys_completed - 1 : PLUMB_COMPLETED_NO,
        PLUMB_ESYSTEM, "%s: %s", op->name, call->fail_msg);
  int peer = st == PLUMB_ESYSTEM ? PLUMB_ESERVER
                                 : plumb__call_status_for_peer(st);
  int code = plumb__sysexc_for_status(peer == PLUMB_ESERVER ? 0 : st);
  int done = call->sys_completed ? call->sys_completed - 1
                                 : PLUMB_COMPLETED_MAYBE;
  if (call->fail_status != 0 && call->fail_status == st) {
    /* plumb_call_fail: e.g. the thunk's validation of the request (the
     * handler never ran) - BAD_PARAM, completion NO. */
    if (st == PLUMB_EBADBODY && !call->sys_completed)
      done = PLUMB_COMPLETED_NO;
    return plumb__srv_send_sysexc(sc, f, code, PLUMB_MINOR_HANDLER, done,
                                  peer, "%s: %s", op->name, call->fail_msg);
  }
  if (st == PLUMB_ENOOP) /* the thunk found a NULL handler */
    return plumb__srv_send_sysexc(sc, f, PLUMB_SYS_NO_IMPLEMENT,
                                  PLUMB_MINOR_NULL_HANDLER,
                                  PLUMB_COMPLETED_NO, PLUMB_ENOOP,
                                  "%s is not implemented", op->name);
  return plumb__srv_send_sysexc(sc, f, code, PLUMB_MINOR_HANDLER, done, peer,
                                "%s failed: %s (%s)", op->name,
                                plumb_strerror(st), plumb_status_name(st));
}
