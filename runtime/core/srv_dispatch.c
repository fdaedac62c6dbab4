/* srv_dispatch.c - serving requests: the frame a connection's reader got
 * (check it, hand a request to srv_calls.c, apply a CANCEL), and running a
 * call on a worker: its deadline, find the object (counted while the call
 * lives, srv_objects.c) and the operation (the reserved interface goes to
 * builtin_ops.c), decode the body within its limits (decode.h), run the
 * handler through its generated thunk, and answer - failures as system
 * exceptions (srv_sysexc.c, docs/PROTOCOL.md 2.3).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "builtin_ops.h"
#include "call.h"
#include "log.h"
#include "plumb/call.h"
#include "server_int.h"
#include "sysexc.h"

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
    plumb__log(PLUMB__LOG_WARN, "dropping client %s: %s",
               PLUMB__PEER(&sc->peer), why);
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
    plumb__log(PLUMB__LOG_WARN, "dropping client %s: frame kind %u "
               "is not a request", PLUMB__PEER(&sc->peer), f.kind);
    return PLUMB_EPROTO;
  }
  return plumb__srv_calls_admit(w, sc, &f);
}

/* ---- answers ---------------------------------------------------------- */

static void
srv_call_sysexc(srv_call *c, int code, uint32_t minor, int completed,
                int status, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Prepares a system exception answer (sent, and logged, by
 * plumb__srv_send_sysexc; never sent for a oneway). */
static void
srv_call_sysexc(srv_call *c, int code, uint32_t minor, int completed,
                int status, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(c->ans_msg, sizeof(c->ans_msg), fmt, ap);
  va_end(ap);
  c->ans_kind = PLUMB__FRAME_SYSEXC;
  c->ans_code = code;
  c->ans_minor = minor;
  c->ans_completed = completed;
  c->ans_status = status;
}

/* The system exception for a call whose handler (or thunk) failed with st:
 * one it raised, or the one its status stands for (PROTOCOL.md 2.3).  The
 * handler ran, so what it did is unknown: completion MAYBE, unless it said
 * otherwise or the thunk refused the request before calling it. */
static void
srv_call_failure(srv_call *c, const char *name, int st)
{
  const struct plumb_call *call = &c->call;

  if (st == PLUMB_ESYSTEM && call->sys_code != 0) {
    srv_call_sysexc(c, call->sys_code, call->sys_minor,
                    call->sys_completed ? call->sys_completed - 1
                                        : PLUMB_COMPLETED_NO,
                    PLUMB_ESYSTEM, "%s: %s", name, call->fail_msg);
    return;
  }
  int peer = st == PLUMB_ESYSTEM ? PLUMB_ESERVER
                                 : plumb__call_status_for_peer(st);
  int code = plumb__sysexc_for_status(peer == PLUMB_ESERVER ? 0 : st);
  int done = call->sys_completed ? call->sys_completed - 1
                                 : PLUMB_COMPLETED_MAYBE;
  if (call->fail_status != 0 && call->fail_status == st) {
    /* plumb_call_fail: e.g. the thunk's validation of the request (the
     * handler never ran) - BAD_PARAM, minor BAD_VALUE, completion NO - or
     * of the reply - INTERNAL, BAD_REPLY, YES (validate.c sets sys_*). */
    uint32_t minor = PLUMB_MINOR_HANDLER;
    if (call->sys_code != 0) {
      code = call->sys_code;
      minor = call->sys_minor;
    }
    if (st == PLUMB_EBADBODY && !call->sys_completed)
      done = PLUMB_COMPLETED_NO;
    srv_call_sysexc(c, code, minor, done, peer, "%s: %s", name,
                    call->fail_msg);
    return;
  }
  if (st == PLUMB_ENOOP) { /* the thunk found a NULL handler */
    srv_call_sysexc(c, PLUMB_SYS_NO_IMPLEMENT, PLUMB_MINOR_NULL_HANDLER,
                    PLUMB_COMPLETED_NO, PLUMB_ENOOP, "%s is not implemented",
                    name);
    return;
  }
  srv_call_sysexc(c, code, PLUMB_MINOR_HANDLER, done, peer,
                  "%s failed: %s (%s)", name, plumb_strerror(st),
                  plumb_status_name(st));
}

/* Prepares c's answer; by_ref: the reply's big fields by reference. */
static void
srv_call_prepare(srv_call *c, int st, const ProtobufCMessage *rep,
                 int by_ref)
{
  plumb_server *s = c->sc->srv;
  const char *name = c->op ? c->op->name : "call";
  struct plumb_call *call = &c->call;

  c->ans_sc.n = 0;
  if (c->oneway) {
    if (st != PLUMB_OK)
      plumb__log(PLUMB__LOG_INFO, "oneway %s failed: %s", name,
                 plumb_strerror(st));
    c->ans_kind = 0;
    return;
  }
  if (st == PLUMB_OK) {
    size_t max = s->max_frame > PLUMB__FRAME_HDR
                     ? s->max_frame - PLUMB__FRAME_HDR : 0;
    int pst;
    if (by_ref) {
      pst = plumb__scatter_pack(rep, &c->tx, max, &c->ans_sc);
    } else {
      size_t n = rep ? protobuf_c_message_get_packed_size(rep) : 0;
      c->ans_sc.len = n;
      pst = n > max ? PLUMB_ETOOBIG
            : plumb__buf_reserve(&c->tx, n ? n : 1) != PLUMB_OK
                ? PLUMB_ENOMEM : PLUMB_OK;
      if (pst == PLUMB_OK)
        c->tx.len = rep ? protobuf_c_message_pack(rep, c->tx.data) : 0;
    }
    if (pst == PLUMB_ETOOBIG) {
      c->ans_sc.n = 0;
      srv_call_sysexc(c, PLUMB_SYS_IMP_LIMIT, PLUMB_MINOR_REPLY_SIZE,
                      PLUMB_COMPLETED_YES, PLUMB_ETOOBIG,
                      "%s: reply of %zu bytes over the frame limit", name,
                      c->ans_sc.len);
      return;
    }
    if (pst != PLUMB_OK) {
      c->ans_sc.n = 0;
      srv_call_sysexc(c, PLUMB_SYS_NO_MEMORY, PLUMB_MINOR_OUT_OF_MEMORY,
                      PLUMB_COMPLETED_YES, PLUMB_ESERVER,
                      "%s: out of memory for the reply", name);
      return;
    }
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
  srv_call_failure(c, name, st);
}

void
plumb__srv_call_prepare(srv_call *c, int st, const ProtobufCMessage *rep)
{
  srv_call_prepare(c, st, rep, 0);
}

void
plumb__srv_call_prepare_ref(srv_call *c, int st, const ProtobufCMessage *rep)
{
  srv_call_prepare(c, st, rep, 1);
}

/* Sends c's prepared answer, sc->mu held; the send's status. */
static int
srv_call_send_locked(srv_call *c)
{
  int st;

  if (c->ans_kind == PLUMB__FRAME_SYSEXC)
    st = plumb__srv_send_sysexc(c->sc, &c->f, c->ans_code, c->ans_minor,
                                c->ans_completed, c->ans_status, "%s",
                                c->ans_msg);
  else if (c->ans_kind == PLUMB__FRAME_REPLY && c->ans_sc.n > 0) {
    struct iovec body[PLUMB__BIG_IOV];
    int n = plumb__scatter_iov(&c->ans_sc, c->ans_body, body);
    st = plumb__srv_sendv(c->sc, &c->f, c->ans_kind, c->ans_status,
                          c->ans_text, c->ans_text_len, body, n);
  } else
    st = plumb__srv_send(c->sc, &c->f, c->ans_kind, c->ans_status,
                         c->ans_text, c->ans_text_len, c->ans_body,
                         c->ans_body_len);
  return st;
}

int
plumb__srv_call_send(srv_call *c)
{
  if (c->ans_kind == 0)
    return PLUMB_OK; /* a oneway */
  if (!plumb__srv_call_lock_answer(c))
    return PLUMB_ECLOSED;
  int st = srv_call_send_locked(c);
  plumb__srv_call_unlock_answer(c, st);
  return st;
}

/* ---- running a call ------------------------------------------------- */

/* Sends c's prepared answer and releases it: one round of sc->mu for
 * both when there is an answer to send. */
static void
srv_call_finish(srv_worker *w, srv_call *c)
{
  if (c->ans_kind != 0 && plumb__srv_call_lock_answer(c)) {
    int st = srv_call_send_locked(c);
    plumb__srv_call_unlock_answer_release(w, c, st);
  } else {
    plumb__srv_call_release(w, c);
  }
}

/* The decode failure st as a system exception. */
static void
srv_call_decode_failed(srv_call *c, int st, const char *why)
{
  int code = st == PLUMB_EBADBODY ? PLUMB_SYS_MARSHAL
             : st == PLUMB_ETOOBIG ? PLUMB_SYS_IMP_LIMIT
             : st == PLUMB_EBUSY ? PLUMB_SYS_NO_RESOURCES
                                 : PLUMB_SYS_NO_MEMORY;
  uint32_t minor = code == PLUMB_SYS_MARSHAL ? PLUMB_MINOR_BAD_WIRE
                   : code == PLUMB_SYS_IMP_LIMIT ? PLUMB_MINOR_REQ_BUDGET
                   : code == PLUMB_SYS_NO_RESOURCES ? PLUMB_MINOR_DECODE_POOL
                                                    : PLUMB_MINOR_OUT_OF_MEMORY;
  srv_call_sysexc(c, code, minor, PLUMB_COMPLETED_NO, st, "%s: %s",
                  c->op->name, why);
}

/* Finds c's object (a counted reference, c->obj) and operation; answers
 * and returns NULL if there is none. */
static const plumb_operation *
srv_call_lookup(srv_call *c, const void **impl)
{
  plumb_server *s = c->sc->srv;
  const plumb__frame *f = &c->f;

  srv_object *obj = plumb__srv_object_get(s, f->text, f->text_len);
  if (obj == NULL) {
    /* _non_existent is answered, not refused: "yes, it is gone". */
    if (f->iface == PLUMB__OBJECT_IFACE_ID &&
        f->op == PLUMB__OP_NON_EXISTENT) {
      c->ans_kind = PLUMB__FRAME_REPLY;
      c->ans_status = 0;
      c->ans_text = NULL;
      c->ans_text_len = 0;
      c->ans_body = (const uint8_t *)"\x08\x01";
      c->ans_body_len = 2;
    } else if (f->text_len == 0) {
      srv_call_sysexc(c, PLUMB_SYS_OBJECT_NOT_EXIST, PLUMB_MINOR_NO_DEFAULT,
                      PLUMB_COMPLETED_NO, PLUMB_ENOOBJECT,
                      "no default object");
    } else {
      srv_call_sysexc(c, PLUMB_SYS_OBJECT_NOT_EXIST, PLUMB_MINOR_NO_OBJECT,
                      PLUMB_COMPLETED_NO, PLUMB_ENOOBJECT, "no object '%.*s'",
                      (int)f->text_len, f->text);
    }
    return NULL;
  }
  c->obj = obj;
  *impl = obj->impl;
  const plumb_operation *op =
      f->iface == PLUMB__OBJECT_IFACE_ID
          ? plumb__builtin_op(f->op)
          : plumb_interface_find_op(obj->iface, f->iface, f->op, impl);
  if (op == NULL || op->request == NULL) {
    srv_call_sysexc(c, PLUMB_SYS_BAD_OPERATION, PLUMB_MINOR_NO_OP,
                    PLUMB_COMPLETED_NO, PLUMB_ENOOP,
                    "object '%s' (%s) has no operation %08x:%u", obj->name,
                    obj->iface->type_id, f->iface, f->op);
    return NULL;
  }
  if (op->thunk == NULL && op->caller == NULL) {
    srv_call_sysexc(c, PLUMB_SYS_NO_IMPLEMENT, PLUMB_MINOR_NULL_HANDLER,
                    PLUMB_COMPLETED_NO, PLUMB_ENOOP,
                    "object '%s' (%s): %s is not implemented", obj->name,
                    obj->iface->type_id, op->name);
    return NULL;
  }
  return op;
}

void
plumb__srv_call_run(srv_worker *w, srv_call *c)
{
  srv_conn *sc = c->sc;
  plumb_server *s = sc->srv;
  const plumb__frame *f = &c->f;
  int64_t now = c->fresh ? c->arrived : plumb__now_ns();
  const void *impl = NULL;
  int st;

  c->fresh = 0;

  if (atomic_load(&c->cancelled)) { /* cancelled or dropped meanwhile */
    plumb__srv_call_release(w, c);
    return;
  }
  if (c->deadline != 0 && now >= c->deadline) {
    srv_call_sysexc(c, PLUMB_SYS_TIMEOUT, 0, PLUMB_COMPLETED_NO,
                    PLUMB_ETIMEDOUT, "deadline expired before the call "
                    "started (it had %lld ms left when it arrived, %lld ms "
                    "ago)", (long long)(c->deadline - c->arrived) / 1000000,
                    (long long)(now - c->arrived) / 1000000);
    srv_call_finish(w, c);
    return;
  }
  const plumb_operation *op = srv_call_lookup(c, &impl);
  if (op == NULL) {
    srv_call_finish(w, c);
    return;
  }
  c->op = op;
  atomic_fetch_add_explicit(&s->calls_served, 1, memory_order_relaxed);
  char whyd[PLUMB__DECODE_WHY_MAX];
  ProtobufCMessage *req;
  /* Big bytes fields point into c->rx, kept until the call is released
   * (bigbytes.h); the reply may send them back from there. */
  unsigned borrowed;
  st = plumb__decode_body_borrow(&s->dec_limits, &s->dec_pool, op->request,
                                 c->arena, f->body, f->body_len, c->rx.len,
                                 &req, &c->taken, &borrowed, whyd,
                                 sizeof whyd);
  if (st != PLUMB_OK) {
    srv_call_decode_failed(c, st, whyd);
    srv_call_finish(w, c);
    return;
  }
  c->rep = NULL;
  if (op->reply != NULL) {
    if ((c->rep = plumb_arena_alloc(c->arena, op->reply->sizeof_message)) ==
        NULL) {
      srv_call_sysexc(c, PLUMB_SYS_NO_MEMORY, PLUMB_MINOR_OUT_OF_MEMORY,
                      PLUMB_COMPLETED_NO, PLUMB_ESERVER, "%s: out of memory",
                      op->name);
      srv_call_finish(w, c);
      return;
    }
    op->reply->message_init(c->rep);
  }

  const srv_object *obj = c->obj;
  /* The rest of c->call is as srv_call_get() cleared it: nothing before
   * the handler writes there. */
  c->call.server = s;
  c->call.obj = obj;
  c->call.conn = sc;
  c->call.arena = c->arena;
  c->call.max_depth = s->dec_limits.max_depth;
  c->call.sv = c;
  pthread_mutex_t *serial = (obj->flags & PLUMB_OBJECT_SERIALIZE)
                                ? plumb__srv_serial_lock(s, obj->name)
                                : NULL;
  if (serial != NULL)
    pthread_mutex_lock(serial);
  st = plumb_operation_run(op, impl, obj->ctx, &c->call, req, c->rep);
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
  plumb__srv_call_prepare_ref(c, st, c->rep); /* sent just below */
  srv_call_finish(w, c);
}
