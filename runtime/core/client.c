/* client.c - the client side: plumb_client_* and plumb_invoke().
 *
 * One connection per client handle, shared by every thread that calls
 * through it.  Sends are serialised by a mutex (one writev per frame).
 * Replies are read leader/follower style: the first waiting caller becomes
 * the reader and receives frames, handing each reply to the caller whose
 * call id it carries (by swapping receive buffers, no copy) until its own
 * arrives; then another waiting caller takes over.  A lone caller therefore
 * reads its own reply with no thread hand-off.  A reply whose caller gave up
 * (deadline) is dropped.  A broken connection fails every waiting call at
 * once.  Nothing here reconnects: open a new client.
 *
 * Per-thread state (scratch arena for arena == NULL, send and receive
 * buffers) is reused from call to call, so a steady loop of calls with
 * fixed-size arguments does not touch malloc after the first one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena_internal.h"
#include "decode.h"
#include "frame.h"
#include "log.h"
#include "name_endpoint.h"
#include "open_opts.h"
#include "plumb/config.h"
#include "plumb/generated.h"
#include "transport.h"

/* Per-thread buffers larger than this are released after the call (4 MiB:
 * a steady stream of 1 MiB calls reuses its pages instead of faulting). */
#define CLIENT_BUF_KEEP (4u << 20)

typedef struct client_call {
  struct client_call *next;
  uint32_t id;
  int done;
  int status;    /* set when done without a frame (error) */
  plumb_buf buf; /* the answer frame, swapped in by the reader */
} client_call;

struct plumb_client {
  const plumb_transport *tr;
  plumb_conn *conn;
  char *object;
  uint16_t object_len;
  uint32_t max_frame;
  _Atomic int64_t timeout_ms;

  pthread_mutex_t send_mu;
  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cv;  /* reader role freed, a call completed, users left */
  int reader_active;
  int broken; /* connection unusable: status in broken_status */
  int broken_status;
  int users; /* threads inside plumb_invoke */
  uint32_t next_id;
  client_call *pending;
  plumb_buf rx; /* the reader's receive buffer */
  char last_error[256];
};

/* ---- per-thread state ------------------------------------------------ */

typedef struct client_tls {
  plumb_client *next_c; /* plumb_client_next_timeout: for this client... */
  int64_t next_ms;      /* ...the next call's timeout */
  plumb_arena *scratch;
  plumb_buf tx;
  plumb_buf rx;
} client_tls;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static __thread client_tls *tls_cur;

static void
tls_destroy(void *p)
{
  client_tls *t = p;
  if (t == NULL)
    return;
  plumb_arena_free(t->scratch);
  plumb__buf_free(&t->tx);
  plumb__buf_free(&t->rx);
  free(t);
}

static void
tls_make_key(void)
{
  (void)pthread_key_create(&tls_key, tls_destroy);
}

static client_tls *
tls_get(void)
{
  if (tls_cur != NULL)
    return tls_cur;
  pthread_once(&tls_once, tls_make_key);
  client_tls *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  if (pthread_setspecific(tls_key, t) != 0) {
    free(t);
    return NULL;
  }
  tls_cur = t;
  return t;
}

/* The main thread never runs key destructors: free its state at exit so
 * leak checkers stay quiet. */
__attribute__((destructor)) static void
tls_fini(void)
{
  if (tls_cur != NULL) {
    (void)pthread_setspecific(tls_key, NULL);
    tls_destroy(tls_cur);
    tls_cur = NULL;
  }
}

/* ---- helpers ------------------------------------------------------- */

static void
client_set_error(plumb_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records a last-error message; caller holds c->mu. */
static void
client_set_error(plumb_client *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
  va_end(ap);
}

/* Marks the connection broken and fails every pending call; holds c->mu. */
static void
client_break(plumb_client *c, int status, const char *why)
{
  if (!c->broken) {
    c->broken = 1;
    c->broken_status = status;
    client_set_error(c, "connection lost: %s", why);
    c->tr->shutdown(c->conn);
  }
  for (client_call *k = c->pending; k != NULL; k = k->next)
    if (!k->done) {
      k->done = 1;
      k->status = status;
    }
  pthread_cond_broadcast(&c->cv);
}

static void
client_unlink(plumb_client *c, client_call *call)
{
  for (client_call **p = &c->pending; *p != NULL; p = &(*p)->next)
    if (*p == call) {
      *p = call->next;
      return;
    }
}

/* Hands the frame in c->rx to the pending call it answers; holds c->mu. */
static void
client_deliver(plumb_client *c)
{
  const uint8_t *p = c->rx.data;
  uint32_t id;

  if (c->rx.len < PLUMB__FRAME_HDR ||
      memcmp(p, PLUMB__FRAME_MAGIC, 4) != 0) {
    client_break(c, PLUMB_EPROTO, "malformed frame from server");
    return;
  }
  id = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
       (uint32_t)p[11] << 24;
  for (client_call *k = c->pending; k != NULL; k = k->next)
    if (k->id == id && !k->done) {
      plumb_buf tmp = k->buf;
      k->buf = c->rx;
      c->rx = tmp;
      c->rx.len = 0;
      k->done = 1;
      k->status = PLUMB_OK;
      return;
    }
  plumb__log(PLUMB__LOG_DEBUG, "client: dropping answer to call %u "
             "(caller gone)", id);
}

static void
client_timespec(int64_t deadline, struct timespec *ts)
{
  ts->tv_sec = (time_t)(deadline / 1000000000);
  ts->tv_nsec = (long)(deadline % 1000000000);
}

/* Waits (as reader or follower) until call is done; holds c->mu. */
static void
client_wait(plumb_client *c, client_call *call, int64_t deadline)
{
  while (!call->done) {
    if (!c->reader_active) {
      c->reader_active = 1;
      pthread_mutex_unlock(&c->mu);
      int st = c->tr->recv(c->conn, &c->rx, deadline);
      pthread_mutex_lock(&c->mu);
      c->reader_active = 0;
      if (st == PLUMB_OK)
        client_deliver(c);
      else if (st == PLUMB_EAGAIN) {
        /* Only a deadline in the past can give this: a timeout. */
        if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline &&
            !call->done) {
          call->done = 1;
          call->status = PLUMB_ETIMEDOUT;
        }
      } else if (st == PLUMB_ETIMEDOUT) {
        if (!call->done) {
          call->done = 1;
          call->status = PLUMB_ETIMEDOUT;
        }
      } else if (!c->broken)
        client_break(c, st == PLUMB_ETOOBIG || st == PLUMB_EPROTO ? st
                        : st == PLUMB_ESYS ? PLUMB_ESYS : PLUMB_ECLOSED,
                     plumb_strerror(st));
      pthread_cond_broadcast(&c->cv);
      continue;
    }
    if (deadline == PLUMB_FOREVER) {
      pthread_cond_wait(&c->cv, &c->mu);
    } else {
      struct timespec ts;
      client_timespec(deadline, &ts);
      if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT &&
          !call->done) {
        call->done = 1;
        call->status = PLUMB_ETIMEDOUT;
      }
    }
  }
}

/* ---- public API ---------------------------------------------------- */

int
plumb_client_open(plumb_client **out, const char *endpoint, const char *object,
                  const plumb_client_opts *opts)
{
  plumb_tran_opts to = { 0 };
  to.mode = 0600;
  return plumb__client_open_opts(out, endpoint, object, opts, &to);
}

int
plumb__client_open_opts(plumb_client **out, const char *endpoint,
                        const char *object, const plumb_client_opts *opts,
                        const plumb_tran_opts *topts)
{
  plumb_client *c;
  const char *rest;
  pthread_condattr_t ca;
  plumb_tran_opts to = *topts;
  int st;

  if (out == NULL)
    return PLUMB_EINVAL;
  *out = NULL;
  if (endpoint == NULL)
    return PLUMB_EINVAL;
  if (strncmp(endpoint, "name:", 5) == 0) /* naming: name_endpoint.c */
    return plumb__name_open(out, endpoint, object, opts, topts);
  if (object == NULL)
    object = "";
  if (strlen(object) > PLUMB__FRAME_TEXT_MAX)
    return PLUMB_EINVAL;
  const plumb_transport *tr = plumb__transport_find(endpoint, &rest);
  if (tr == NULL) {
    char why[320];
    st = plumb_endpoint_check(endpoint, why, sizeof(why));
    plumb__log(PLUMB__LOG_WARN, "client: %s", why);
    return st;
  }
  if ((c = calloc(1, sizeof(*c))) == NULL)
    return PLUMB_ENOMEM;
  c->tr = tr;
  c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 5000;
  c->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  c->object_len = (uint16_t)strlen(object);
  if ((c->object = strdup(object)) == NULL) {
    st = PLUMB_ENOMEM;
    goto free_c;
  }
  to.max_frame = c->max_frame;
  if (to.mode == 0)
    to.mode = 0600;
  st = tr->dial(rest, &to, plumb__deadline_ms(c->timeout_ms), &c->conn);
  if (st != PLUMB_OK) {
    plumb__log(PLUMB__LOG_DEBUG, "client: dial %s: %s", endpoint,
               plumb_strerror(st));
    goto free_obj;
  }
  pthread_mutex_init(&c->send_mu, NULL);
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  c->next_id = 1;
  snprintf(c->last_error, sizeof(c->last_error), "no error");
  *out = c;
  return PLUMB_OK;

free_obj:
  free(c->object);
free_c:
  free(c);
  return st;
}

void
plumb_client_close(plumb_client *c)
{
  if (c == NULL)
    return;
  pthread_mutex_lock(&c->mu);
  client_break(c, PLUMB_ECLOSED, "client closed");
  while (c->users > 0)
    pthread_cond_wait(&c->cv, &c->mu);
  pthread_mutex_unlock(&c->mu);
  c->tr->close(c->conn);
  plumb__buf_free(&c->rx);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->send_mu);
  free(c->object);
  free(c);
}

void
plumb_client_set_timeout(plumb_client *c, int64_t timeout_ms)
{
  if (c != NULL)
    c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

void
plumb_client_next_timeout(plumb_client *c, int64_t timeout_ms)
{
  client_tls *t = tls_get();
  if (t != NULL && c != NULL) {
    t->next_c = c;
    t->next_ms = timeout_ms < 0 ? -1 : timeout_ms;
  }
}

const char *
plumb_client_last_error(plumb_client *c)
{
  return c ? c->last_error : "no client";
}

/* Turns the answer frame in call->buf into the call's outcome. */
static int
client_finish(plumb_client *c, const plumb_operation *o, client_call *call,
              ProtobufCMessage **rep, plumb_arena *arena)
{
  plumb__frame f;
  const char *why;
  /* Replies are bounded in depth like requests; their memory goes to the
   * caller's arena, which the caller sized by asking. */
  const plumb__decode_limits lim = { .max_depth = PLUMB_DEFAULT_MAX_DEPTH };
  char whyd[PLUMB__DECODE_WHY_MAX];
  ProtobufCMessage *m;
  size_t taken;
  int st;

  st = plumb__frame_decode(call->buf.data, call->buf.len, c->max_frame, &f,
                           &why);
  if (st != PLUMB_OK) {
    pthread_mutex_lock(&c->mu);
    client_set_error(c, "bad answer frame: %s", why);
    pthread_mutex_unlock(&c->mu);
    return st;
  }
  if (plumb__log_enabled(PLUMB__LOG_TRACE))
    plumb__log(PLUMB__LOG_TRACE, "client: recv kind=%u id=%u iface=%08x "
               "op=%u status=%d text=%u body=%u", f.kind, f.call_id, f.iface,
               f.op, (int)f.status, f.text_len, f.body_len);
  switch (f.kind) {
  case PLUMB__FRAME_REPLY: {
    if (o->reply == NULL)
      return PLUMB_OK;
    st = plumb__decode_body(&lim, NULL, o->reply, arena, f.body, f.body_len,
                            call->buf.len, &m, &taken, whyd, sizeof whyd);
    if (st != PLUMB_OK) {
      pthread_mutex_lock(&c->mu);
      client_set_error(c, "%s: reply: %s", o->name, whyd);
      pthread_mutex_unlock(&c->mu);
      return st;
    }
    if (rep)
      *rep = m;
    return PLUMB_OK;
  }
  case PLUMB__FRAME_EXCEPTION:
    for (size_t i = 0; i < o->n_raises; i++) {
      const plumb_type_info *ti = o->raises[i];
      if (strlen(ti->type_id) != f.text_len ||
          memcmp(ti->type_id, f.text, f.text_len) != 0)
        continue;
      st = plumb__decode_body(&lim, NULL, ti->descriptor, arena, f.body,
                              f.body_len, call->buf.len, &m, &taken, whyd,
                              sizeof whyd);
      if (st != PLUMB_OK) {
        pthread_mutex_lock(&c->mu);
        client_set_error(c, "%s: exception %s: %s", o->name, ti->type_id,
                         whyd);
        pthread_mutex_unlock(&c->mu);
        return st;
      }
      plumb__arena_set_exception(arena, ti->type_id, m);
      return PLUMB_EEXCEPTION;
    }
    pthread_mutex_lock(&c->mu);
    client_set_error(c, "%s raised undeclared exception %.*s", o->name,
                     (int)f.text_len, f.text);
    pthread_mutex_unlock(&c->mu);
    return PLUMB_ESERVER;
  case PLUMB__FRAME_ERROR:
    st = f.status;
    if (st >= 0 || strcmp(plumb_status_name(st), "UNKNOWN") == 0)
      st = PLUMB_ESERVER;
    pthread_mutex_lock(&c->mu);
    client_set_error(c, "%s: server: %.*s", o->name, (int)f.text_len, f.text);
    pthread_mutex_unlock(&c->mu);
    return st;
  default:
    pthread_mutex_lock(&c->mu);
    client_set_error(c, "unexpected frame kind %u from server", f.kind);
    pthread_mutex_unlock(&c->mu);
    return PLUMB_EPROTO;
  }
}

int
plumb_invoke(plumb_client *c, const plumb_interface *iface, uint32_t op,
             const ProtobufCMessage *req, ProtobufCMessage **rep,
             plumb_arena *arena)
{
  uint8_t hdr[PLUMB__FRAME_HDR];
  client_call call;
  plumb__frame f;
  client_tls *t;
  size_t size;
  int st;

  if (rep)
    *rep = NULL;
  if (c == NULL || iface == NULL || op >= iface->n_ops)
    return PLUMB_EINVAL;
  const plumb_operation *o = &iface->ops[op];
  int oneway = (o->flags & PLUMB_OP_ONEWAY) != 0;
  if ((t = tls_get()) == NULL)
    return PLUMB_ENOMEM;
  if (arena == NULL) {
    if (t->scratch == NULL && (t->scratch = plumb_arena_new()) == NULL)
      return PLUMB_ENOMEM;
    arena = t->scratch;
    plumb_arena_reset(arena);
  }
  int64_t deadline;
  if (t->next_c == c) {
    deadline = plumb__deadline_ms(t->next_ms);
    t->next_c = NULL;
  } else {
    deadline = plumb__deadline_ms(c->timeout_ms);
  }

  /* Body. */
  size = req ? protobuf_c_message_get_packed_size(req) : 0;
  if (size + PLUMB__FRAME_HDR + c->object_len > c->max_frame)
    return PLUMB_ETOOBIG;
  if (plumb__buf_reserve(&t->tx, size ? size : 1) != PLUMB_OK)
    return PLUMB_ENOMEM;
  t->tx.len = req ? protobuf_c_message_pack(req, t->tx.data) : 0;

  memset(&f, 0, sizeof(f));
  f.kind = oneway ? PLUMB__FRAME_ONEWAY : PLUMB__FRAME_REQUEST;
  f.iface = o->decl_iface;
  f.op = o->decl_index;
  f.text_len = c->object_len;
  f.body_len = (uint32_t)t->tx.len;

  memset(&call, 0, sizeof(call));
  call.buf = t->rx;
  t->rx = (plumb_buf){ NULL, 0, 0 };

  pthread_mutex_lock(&c->mu);
  if (c->broken) {
    st = c->broken_status;
    pthread_mutex_unlock(&c->mu);
    t->rx = call.buf;
    return st;
  }
  c->users++;
  f.call_id = call.id = c->next_id++;
  if (c->next_id == 0)
    c->next_id = 1;
  if (!oneway) {
    call.next = c->pending;
    c->pending = &call;
  }
  pthread_mutex_unlock(&c->mu);

  plumb__frame_encode(hdr, &f);
  struct iovec iov[3] = {
    { hdr, sizeof(hdr) },
    { c->object, c->object_len },
    { t->tx.data, t->tx.len },
  };
  if (plumb__log_enabled(PLUMB__LOG_TRACE))
    plumb__log(PLUMB__LOG_TRACE, "client: send %s id=%u iface=%08x op=%u "
               "object='%s' body=%u (%s)", oneway ? "oneway" : "request",
               f.call_id, f.iface, f.op, c->object, f.body_len, o->name);
  pthread_mutex_lock(&c->send_mu);
  st = c->tr->send(c->conn, iov, 3, deadline);
  pthread_mutex_unlock(&c->send_mu);

  pthread_mutex_lock(&c->mu);
  if (st != PLUMB_OK) {
    if (st == PLUMB_ETIMEDOUT || st == PLUMB_ECLOSED || st == PLUMB_ESYS)
      client_break(c, st == PLUMB_ETIMEDOUT ? PLUMB_ECLOSED : st,
                   plumb_strerror(st));
    if (st == PLUMB_ECLOSED && c->broken)
      st = c->broken_status;
  } else if (!oneway) {
    client_wait(c, &call, deadline);
    st = call.status;
  }
  if (!oneway)
    client_unlink(c, &call);
  if (st == PLUMB_ETIMEDOUT)
    client_set_error(c, "%s: no answer before the deadline", o->name);
  if (--c->users == 0)
    pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);

  if (st == PLUMB_OK && !oneway)
    st = client_finish(c, o, &call, rep, arena);
  t->rx = call.buf;
  /* Do not keep a huge frame's buffers around for the thread's lifetime. */
  if (t->rx.cap > CLIENT_BUF_KEEP)
    plumb__buf_free(&t->rx);
  if (t->tx.cap > CLIENT_BUF_KEEP)
    plumb__buf_free(&t->tx);
  return st;
}

/* Generated stubs: a reply that failed validation (plumb/generated.h). */
int
plumb_client_fail(plumb_client *c, int status, const char *fmt, ...)
{
  va_list ap;
  if (c == NULL)
    return status;
  pthread_mutex_lock(&c->mu);
  va_start(ap, fmt);
  vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
  va_end(ap);
  pthread_mutex_unlock(&c->mu);
  return status;
}
