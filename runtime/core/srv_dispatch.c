/* srv_dispatch.c - serving requests: the frame a connection's reader got
 * (check it, hand a request to srv_calls.c, apply a CANCEL), and running a
 * call on a worker (its deadline, find object and operation, decode the
 * body within its limits (decode.h), run the handler through its generated
 * thunk) and answering it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "log.h"
#include "plumb/call.h"
#include "server_int.h"

/* Serves one frame the reader (holding sc->mu) got into w->rx.  Returns
 * PLUMB_OK to keep the connection, or an error status to drop it (already
 * logged). */
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
    plumb__log(PLUMB__LOG_TRACE, "server: recv kind=%u id=%u flags=%x "
               "iface=%08x op=%u object='%.*s' body=%u", f.kind, f.call_id,
               f.flags, f.iface, f.op, (int)f.text_len, f.text, f.body_len);
  if (f.kind == PLUMB__FRAME_CANCEL) {
    plumb__srv_calls_cancel(sc, f.call_id);
    return PLUMB_OK;
  }
  if (f.kind != PLUMB__FRAME_REQUEST && f.kind != PLUMB__FRAME_ONEWAY) {
    plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d): frame kind %u "
               "is not a request", (int)sc->peer.pid, f.kind);
    return PLUMB_EPROTO;
  }
  return plumb__srv_calls_admit(w, sc, &f);
}

/* ---- answers ---------------------------------------------------------- */

static void
srv_call_error(srv_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepares an ERROR answer (logged; nothing is sent for a oneway). */
static void
srv_call_error(srv_call *c, int status, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(c->ans_msg, sizeof(c->ans_msg), fmt, ap);
  va_end(ap);
  plumb__log(PLUMB__LOG_INFO, "call %u: %s", c->f.call_id, c->ans_msg);
  c->ans_kind = c->oneway ? 0 : PLUMB__FRAME_ERROR;
  c->ans_status = status;
  c->ans_text = c->ans_msg;
  c->ans_text_len = strlen(c->ans_msg);
  c->ans_body = NULL;
  c->ans_body_len = 0;
}

void
plumb__srv_call_prepare(srv_call *c, int st, const ProtobufCMessage *rep)
{
  plumb_server *s = c->sc->srv;
  const char *name = c->op ? c->op->name : "call";
  struct plumb_call *call = &c->call;

  if (c->oneway) {
    if (st != PLUMB_OK)
      plumb__log(PLUMB__LOG_INFO, "oneway %s failed: %s", name,
                 plumb_strerror(st));
    c->ans_kind = 0;
    return;
  }
  if (st == PLUMB_OK) {
    size_t n = rep ? protobuf_c_message_get_packed_size(rep) : 0;
    if (n + PLUMB__FRAME_HDR > s->max_frame) {
      srv_call_error(c, PLUMB_ETOOBIG,
                     "%s: reply of %zu bytes over the frame limit", name, n);
      return;
    }
    if (plumb__buf_reserve(&c->tx, n ? n : 1) != PLUMB_OK) {
      srv_call_error(c, PLUMB_ESERVER, "%s: out of memory", name);
      return;
    }
    c->tx.len = rep ? protobuf_c_message_pack(rep, c->tx.data) : 0;
    c->ans_kind = PLUMB__FRAME_REPLY;
    c->ans_status = 0;
    c->ans_text = NULL;
    c->ans_text_len = 0;
    c->ans_body = c->tx.data;
    c->ans_body_len = c->tx.len;
    return;
  }
  if (st == PLUMB_EEXCEPTION && call->exc_type != NULL) {
    c->ans_kind = PLUMB__FRAME_EXCEPTION;
    c->ans_status = 0;
    c->ans_text = call->exc_type->type_id;
    c->ans_text_len = strlen(c->ans_text);
    c->ans_body = call->exc_body;
    c->ans_body_len = call->exc_len;
    return;
  }
  if (call->fail_status != 0 && call->fail_status == st) {
    srv_call_error(c, plumb__call_status_for_peer(st), "%s: %s", name,
                   call->fail_msg);
    return;
  }
  /* e.g. ENOOP: the object leaves this operation unimplemented (NULL
   * handler); see call_status.c for what a peer may get. */
  srv_call_error(c, plumb__call_status_for_peer(st), "%s failed: %s (%s)",
                 name, plumb_strerror(st), plumb_status_name(st));
}

int
plumb__srv_call_send(srv_call *c)
{
  if (c->ans_kind == 0)
    return PLUMB_OK; /* a oneway */
  if (!plumb__srv_call_lock_answer(c))
    return PLUMB_ECLOSED;
  int st = plumb__srv_send(c->sc, &c->f, c->ans_kind, c->ans_status,
                           c->ans_text, c->ans_text_len, c->ans_body,
                           c->ans_body_len);
  plumb__srv_call_unlock_answer(c, st);
  return st;
}

/* ---- running a call ------------------------------------------------- */

/* Sends c's prepared answer and releases it. */
static void
srv_call_finish(srv_worker *w, srv_call *c)
{
  (void)plumb__srv_call_send(c);
  plumb__srv_call_release(w, c);
}

void
plumb__srv_call_run(srv_worker *w, srv_call *c)
{
  srv_conn *sc = c->sc;
  plumb_server *s = sc->srv;
  const plumb__frame *f = &c->f;
  int64_t now = plumb__now_ns();
  int st;

  if (atomic_load(&c->cancelled)) { /* cancelled or dropped meanwhile */
    plumb__srv_call_release(w, c);
    return;
  }
  if (c->deadline != 0 && now >= c->deadline) {
    srv_call_error(c, PLUMB_ETIMEDOUT, "deadline expired before the call "
                   "started (it had %lld ms left when it arrived, %lld ms "
                   "ago)", (long long)(c->deadline - c->arrived) / 1000000,
                   (long long)(now - c->arrived) / 1000000);
    srv_call_finish(w, c);
    return;
  }
  const srv_object *obj = plumb__srv_find_object(s, f->text, f->text_len);
  if (obj == NULL) {
    srv_call_error(c, PLUMB_ENOOBJECT, "no object '%.*s'", (int)f->text_len,
                   f->text);
    srv_call_finish(w, c);
    return;
  }
  const void *impl = obj->impl;
  const plumb_operation *op =
      plumb_interface_find_op(obj->iface, f->iface, f->op, &impl);
  if (op == NULL || op->thunk == NULL || op->request == NULL) {
    srv_call_error(c, PLUMB_ENOOP, "object '%s' (%s) has no operation "
                   "%08x:%u", obj->name, obj->iface->type_id, f->iface, f->op);
    srv_call_finish(w, c);
    return;
  }
  c->op = op;
  char whyd[PLUMB__DECODE_WHY_MAX];
  ProtobufCMessage *req;
  st = plumb__decode_body(&s->dec_limits, &s->dec_pool, op->request,
                          c->arena, f->body, f->body_len, c->rx.len, &req,
                          &c->taken, whyd, sizeof whyd);
  if (st != PLUMB_OK) {
    srv_call_error(c, st, "%s: %s", op->name, whyd);
    srv_call_finish(w, c);
    return;
  }
  c->rep = NULL;
  if (op->reply != NULL) {
    if ((c->rep = plumb_arena_alloc(c->arena, op->reply->sizeof_message)) ==
        NULL) {
      srv_call_error(c, PLUMB_ESERVER, "%s: out of memory", op->name);
      srv_call_finish(w, c);
      return;
    }
    op->reply->message_init(c->rep);
  }

  c->call = (struct plumb_call){ .server = s, .obj = obj, .conn = sc,
                                 .arena = c->arena,
                                 .max_depth = s->dec_limits.max_depth,
                                 .sv = c };
  pthread_mutex_t *serial = (obj->flags & PLUMB_OBJECT_SERIALIZE)
                                ? plumb__srv_serial_lock(s, obj->name)
                                : NULL;
  if (serial != NULL)
    pthread_mutex_lock(serial);
  st = op->thunk(impl, obj->ctx, &c->call, req, c->rep);
  if (serial != NULL)
    pthread_mutex_unlock(serial);
  if (c->call.deferred) {
    if (st != PLUMB_DEFERRED)
      plumb__log(PLUMB__LOG_WARN, "%s: the handler deferred the call but "
                 "returned %s, not PLUMB_DEFERRED: waiting for its "
                 "completion", op->name, plumb_status_name(st));
    int none = SRV_DEFER_NONE;
    if (atomic_compare_exchange_strong(&c->dstate, &none, SRV_DEFER_HELD))
      return; /* the completer answers and releases it */
    srv_call_finish(w, c); /* completed already: prepared by the completer */
    return;
  }
  if (st == PLUMB_DEFERRED)
    st = plumb_call_fail(&c->call, PLUMB_ESERVER, "the handler returned "
                         "PLUMB_DEFERRED without plumb_call_defer()");
  if (atomic_load(&c->cancelled)) { /* never answered */
    plumb__srv_call_release(w, c);
    return;
  }
  plumb__srv_call_prepare(c, st, c->rep);
  srv_call_finish(w, c);
}
