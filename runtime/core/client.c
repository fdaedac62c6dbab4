/* client.c - the client side: opening and closing a handle, the
 * synchronous plumb_invoke(), sending requests, and decoding answers.
 *
 * One connection per client handle, shared by every thread that calls
 * through it (client_conn.c reads the replies leader/follower style and
 * re-dials a broken connection; client_pending.c holds the asynchronous
 * calls).  Sends are serialised by a mutex (one writev per frame).  Every
 * request with a deadline carries the caller's remaining time on the wire
 * (PROTOCOL.md 2.7).
 *
 * Per-thread state (scratch arena for arena == NULL, send and receive
 * buffers) is reused from call to call, so a steady loop of calls with
 * fixed-size arguments does not touch malloc after the first one.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena_internal.h"
#include "bigbytes.h"
#include "client_int.h"
#include "decode.h"
#include "frame.h"
#include "lasterr.h"
#include "log.h"
#include "name_endpoint.h"
#include "open_opts.h"
#include "plumb/config.h"
#include "plumb/generated.h"
#include "sysexc.h"
#include "transport.h"

/* Per-thread buffers larger than this are released after the call (4 MiB:
 * a steady stream of 1 MiB calls reuses its pages instead of faulting). */
#define CLIENT_BUF_KEEP (4u << 20)

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
/* initial-exec: one load instead of a __tls_get_addr() call on every call
 * (three per call); 8 bytes of static TLS, which glibc keeps room for even
 * when libplumb is dlopen()ed. */
static __thread client_tls *tls_cur __attribute__((tls_model("initial-exec")));

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

/* Records a last-error message; caller holds c->mu. */
void
plumb__client_set_error(plumb_client *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->last_error, sizeof(c->last_error), fmt, ap);
  va_end(ap);
}

plumb_buf *
plumb__client_rxbuf(void)
{
  client_tls *t = tls_get();
  return t ? &t->rx : NULL;
}

void
plumb__client_buf_trim(plumb_buf *b)
{
  if (b->cap > CLIENT_BUF_KEEP)
    plumb__buf_free(b);
}

plumb_arena *
plumb__client_scratch(void)
{
  client_tls *t = tls_get();
  if (t == NULL)
    return NULL;
  if (t->scratch == NULL && (t->scratch = plumb_arena_new()) == NULL)
    return NULL;
  plumb_arena_reset(t->scratch);
  return t->scratch;
}

int64_t
plumb__client_take_deadline(plumb_client *c, int64_t *now)
{
  client_tls *t = tls_get();
  int64_t ms = c->timeout_ms;
  if (t != NULL && t->next_c == c) {
    t->next_c = NULL;
    ms = t->next_ms;
  }
  if (ms < 0) {
    *now = 0;
    return PLUMB_FOREVER;
  }
  *now = plumb__now_ns();
  return *now + ms * 1000000;
}

/* Sends one frame without ever blocking the answers: while the transport
 * has no room, reads the answers that are there (if no one else is
 * reading) and waits a little for room.  A caller keeping many calls in
 * flight, or several threads all sending (the one holding send_mu would
 * block the rest), would otherwise wait for room the server makes only
 * once we read what it answered (mq and sysvmq queues are ten messages
 * deep).
 * *whole: 1 if the frame failed before any of it was taken (the
 * connection is still usable).  Holds send_mu. */
static int
send_reading(plumb_client *c, client_conn *cc, const struct iovec *iov,
             int niov, int64_t deadline, int *whole)
{
  int tail = 0, st, nap_us = 50;

  *whole = 1;
  st = c->tr->try_send(cc->tc, iov, niov);
  for (;;) {
    if (st == PLUMB_OK) {
      *whole = 0;
      tail = 1;
      st = c->tr->flush(cc->tc);
      if (st == PLUMB_OK)
        return PLUMB_OK;
    }
    if (st != PLUMB_EAGAIN)
      return st;
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
    pthread_mutex_lock(&c->mu);
    plumb__client_read_ready(c);
    pthread_mutex_unlock(&c->mu);
    int fd;
    uint32_t ev;
    if (c->tr->write_wait(cc->tc, &fd, &ev) == PLUMB_OK) {
      struct pollfd pf = { fd, (short)ev, 0 };
      (void)poll(&pf, 1, 1);
    } else {
      usleep((useconds_t)nap_us);
      if (nap_us < 1000)
        nap_us *= 2;
    }
    st = tail ? c->tr->flush(cc->tc) : c->tr->try_send(cc->tc, iov, niov);
  }
}

int
plumb__client_send(plumb_client *c, client_conn *cc, plumb__frame *f,
                   int with_object, const void *body, size_t body_len,
                   int64_t deadline, int reading)
{
  struct iovec b = { (void *)body, body_len };
  return plumb__client_sendv(c, cc, f, with_object, &b, 1, deadline, 0,
                             reading);
}

int
plumb__client_sendv(plumb_client *c, client_conn *cc, plumb__frame *f,
                    int with_object, const struct iovec *body, int nbody,
                    int64_t deadline, int64_t now, int reading)
{
  uint8_t hdr[PLUMB__FRAME_HDR];
  size_t body_len = 0;
  int st;

  if (nbody < 0 || nbody > PLUMB__BIG_IOV)
    return PLUMB_EINVAL;
  for (int i = 0; i < nbody; i++)
    body_len += body[i].iov_len;

  if (deadline != PLUMB_FOREVER) {
    int64_t left = (deadline - (now ? now : plumb__now_ns())) / 1000;
    if (left < 0)
      left = 0;
    if (left <= PLUMB__FRAME_DEADLINE_MAX_US) {
      f->flags |= PLUMB__FRAME_F_DEADLINE;
      f->status = (int32_t)left;
    }
  }
  f->text_len = with_object ? c->object_len : 0;
  f->body_len = (uint32_t)body_len;
  plumb__frame_encode(hdr, f);
  struct iovec iov[2 + PLUMB__BIG_IOV] = {
    { hdr, sizeof(hdr) },
    { c->object, f->text_len },
  };
  memcpy(iov + 2, body, (size_t)nbody * sizeof *body);
  if (plumb__log_enabled(PLUMB__LOG_TRACE))
    plumb__log(PLUMB__LOG_TRACE, "client: send kind=%u id=%u iface=%08x "
               "op=%u flags=%x deadline_us=%d object='%.*s' body=%u",
               f->kind, f->call_id, f->iface, f->op, f->flags,
               (int)f->status, (int)f->text_len, c->object, f->body_len);
  int whole = 0; /* reading send: nothing of the frame was taken */
  pthread_mutex_lock(&c->send_mu);
  if (reading)
    st = send_reading(c, cc, iov, 2 + nbody, deadline, &whole);
  else
    st = c->tr->send(cc->tc, iov, 2 + nbody, deadline);
  pthread_mutex_unlock(&c->send_mu);
  if (st == PLUMB_ETIMEDOUT && whole) {
    pthread_mutex_lock(&c->mu);
    plumb__client_set_error(c, "no room to send before the deadline");
    pthread_mutex_unlock(&c->mu);
  } else if (st != PLUMB_OK) {
    pthread_mutex_lock(&c->mu);
    /* a send that timed out may have left half a frame behind */
    if (st == PLUMB_ETIMEDOUT || st == PLUMB_ECLOSED || st == PLUMB_ESYS)
      plumb__conn_break(c, cc, st == PLUMB_ETIMEDOUT ? PLUMB_ECLOSED : st,
                        plumb_strerror(st));
    pthread_mutex_unlock(&c->mu);
  }
  return st;
}

int
plumb__client_start(plumb_client *c, const plumb_operation *o,
                    const ProtobufCMessage *req, plumb_pending **pp,
                    int64_t deadline, int64_t now, int hold)
{
  client_tls *t = tls_get();
  plumb_pending *p = *pp;
  client_conn *cc;
  plumb__frame f;
  size_t size;
  int oneway = (o->flags & PLUMB_OP_ONEWAY) != 0;
  int st;

  if (t == NULL)
    return PLUMB_ENOMEM;
  /* Big bytes fields are sent from the caller's memory (bigbytes.h). */
  plumb__scatter sc;
  size = PLUMB__FRAME_HDR + c->object_len;
  st = size > c->max_frame ? PLUMB_ETOOBIG
       : plumb__scatter_pack(req, &t->tx, c->max_frame - size, &sc);
  if (st != PLUMB_OK)
    return st;

  pthread_mutex_lock(&c->mu);
  if (p == NULL && (p = *pp = plumb__pending_take(c)) == NULL) {
    pthread_mutex_unlock(&c->mu);
    return PLUMB_ENOMEM;
  }
  if (!oneway && c->n_pending >= c->max_pending) {
    plumb__client_set_error(c, "%s: %u calls outstanding on the handle "
                            "(max_pending)", o->name, c->n_pending);
    pthread_mutex_unlock(&c->mu);
    return PLUMB_EBUSY;
  }
  client_conn *had = c->cur;
  if ((st = plumb__conn_get(c, deadline, &cc)) != PLUMB_OK) {
    if (st == PLUMB_ETIMEDOUT)
      plumb__client_set_error(c, "%s: no connection before the deadline",
                              o->name);
    pthread_mutex_unlock(&c->mu);
    return st;
  }
  /* The remaining time is counted from the deadline's own clock read
   * unless a (re)dial came in between: that may have taken a while. */
  if (cc != had)
    now = 0;
  c->users++;
  p->c = c;
  p->op = o;
  p->id = c->next_id++;
  if (c->next_id == 0)
    c->next_id = 1;
  p->gen = cc->gen;
  p->deadline = deadline;
  p->status = PLUMB_OK;
  p->state = PEND_INFLIGHT;
  if (!oneway) {
    plumb__pend_insert(c, p);
    if (p->async) {
      p->lprev = NULL;
      p->lnext = c->inflight;
      if (c->inflight != NULL)
        c->inflight->lprev = p;
      c->inflight = p;
      plumb__client_arm_timer(c, deadline);
    }
  }
  pthread_mutex_unlock(&c->mu);

  memset(&f, 0, sizeof(f));
  f.kind = oneway ? PLUMB__FRAME_ONEWAY : PLUMB__FRAME_REQUEST;
  f.iface = o->decl_iface;
  f.op = o->decl_index;
  f.call_id = p->id;
  /* Sync calls too: a thread blocked in a plain send while it holds
   * send_mu would keep every other caller from sending, and if all of
   * them wait there nobody reads the answers that make room. */
  struct iovec body[PLUMB__BIG_IOV];
  int nbody = plumb__scatter_iov(&sc, t->tx.data, body);
  st = plumb__client_sendv(c, cc, &f, 1, body, nbody, deadline, now, 1);
  if (t->tx.cap > CLIENT_BUF_KEEP)
    plumb__buf_free(&t->tx);

  pthread_mutex_lock(&c->mu);
  if (st != PLUMB_OK) {
    if (st == PLUMB_ECLOSED && c->last_status != PLUMB_OK && c->cur == NULL)
      st = c->last_status;
    if (p->state == PEND_INFLIGHT)
      plumb__pend_complete(c, p, st); /* off the table and lists */
    p->state = PEND_IDLE;
  } else if (oneway) {
    p->state = PEND_DONE;
  }
  plumb__conn_put(c, cc);
  if (hold && st == PLUMB_OK && !oneway)
    return st; /* the caller waits next: mu held, still a user */
  if (--c->users == 0)
    plumb__client_wake(c);
  pthread_mutex_unlock(&c->mu);
  return st;
}

/* ---- public API ---------------------------------------------------- */

int
plumb_client_open(plumb_client **out, const char *endpoint, const char *object,
                  const plumb_client_opts *opts)
{
  plumb_tran_opts to = { 0 };
  to.mode = 0600;
  plumb__err_begin(); /* plumb_last_error() (lasterr.h) */
  return plumb__err_end(plumb__client_open_opts(out, endpoint, object, opts,
                                                &to), endpoint);
}

int
plumb__client_open_opts(plumb_client **out, const char *endpoint,
                        const char *object, const plumb_client_opts *opts,
                        const plumb_tran_opts *topts)
{
  plumb_client *c;
  const char *rest;
  pthread_condattr_t ca;
  plumb_conn *tc = NULL;
  int st;

  if (out == NULL)
    return PLUMB_EINVAL;
  *out = NULL;
  if (endpoint == NULL)
    return PLUMB_EINVAL;
  if (strncmp(endpoint, "name:", 5) == 0) /* naming: name_endpoint.c */
    return plumb__name_open(out, endpoint, object, opts, topts);
  if (strncmp(endpoint, "plumbref:", 9) == 0) /* client_ref.c */
    return plumb__client_open_refstr(out, endpoint, object, opts);
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
  c->epfd = c->efd = c->tfd = -1;
  c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 5000;
  c->max_frame = opts && opts->max_frame ? opts->max_frame
                                         : PLUMB_DEFAULT_MAX_FRAME;
  c->max_pending = opts && opts->max_pending ? opts->max_pending
                                             : PLUMB_DEFAULT_MAX_PENDING;
  c->no_reconnect = opts ? opts->no_reconnect != 0 : 0;
  c->cancel_on_timeout = PLUMB__CANCEL_ON_TIMEOUT_DEFAULT;
  c->object_len = (uint16_t)strlen(object);
  c->topts = *topts;
  c->topts.access = NULL;
  c->topts.max_frame = c->max_frame;
  if (c->topts.mode == 0)
    c->topts.mode = 0600;
  if ((c->object = strdup(object)) == NULL ||
      (c->endpoint = strdup(endpoint)) == NULL) {
    st = PLUMB_ENOMEM;
    goto free_c;
  }
  c->rest = c->endpoint + (rest - endpoint);
  st = tr->dial(c->rest, &c->topts, plumb__deadline_ms(c->timeout_ms), &tc);
  if (st != PLUMB_OK) {
    plumb__log(PLUMB__LOG_DEBUG, "client: dial %s: %s", endpoint,
               plumb_strerror(st));
    goto free_c;
  }
  if ((st = plumb__conn_install(c, tc)) != PLUMB_OK) {
    tr->close(tc);
    goto free_c;
  }
  pthread_mutex_init(&c->send_mu, NULL);
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);
  c->next_id = 1;
  c->last_status = PLUMB_ECLOSED;
  snprintf(c->last_error, sizeof(c->last_error), "no error");
  *out = c;
  return PLUMB_OK;

free_c:
  free(c->endpoint);
  free(c->object);
  free(c);
  return st;
}

void
plumb_client_close(plumb_client *c)
{
  if (c == NULL)
    return;
  pthread_mutex_lock(&c->mu);
  c->closing = 1;
  if (c->cur != NULL) {
    client_conn *cc = c->cur;
    cc->refs++;
    plumb__conn_break(c, cc, PLUMB_ECLOSED, "client closed");
    plumb__conn_put(c, cc);
  }
  while (c->users > 0 || c->dialing)
    plumb__client_cv_wait(c);
  pthread_mutex_unlock(&c->mu);
  plumb__pending_pool_free(c);
  if (c->epfd >= 0)
    close(c->epfd);
  if (c->efd >= 0)
    close(c->efd);
  if (c->tfd >= 0)
    close(c->tfd);
  plumb__buf_free(&c->rx);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->send_mu);
  free(c->endpoint);
  free(c->object);
  free(c);
}

const char *
plumb_client_endpoint(const plumb_client *c)
{
  return c ? c->endpoint : "";
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

void
plumb__client_set_cancel_on_timeout(plumb_client *c, int on)
{
  pthread_mutex_lock(&c->mu);
  c->cancel_on_timeout = on != 0;
  pthread_mutex_unlock(&c->mu);
}

/* Turns the answer frame in buf into the call's outcome. */
int
plumb__client_decode(plumb_client *c, const plumb_operation *o,
                     plumb_buf *buf, ProtobufCMessage **rep,
                     plumb_arena *arena)
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

  plumb__sysexc_client_clear(c); /* this thread's outcome is this one */
  st = plumb__frame_decode(buf->data, buf->len, c->max_frame, &f, &why);
  if (st != PLUMB_OK) {
    pthread_mutex_lock(&c->mu);
    plumb__client_set_error(c, "bad answer frame: %s", why);
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
    /* Big bytes fields point into buf, which the arena then keeps
     * (bigbytes.h; buf gets back the one it kept from before). */
    unsigned borrowed;
    st = plumb__decode_body_borrow(&lim, NULL, o->reply, arena, f.body,
                                   f.body_len, buf->len, &m, &taken,
                                   &borrowed, whyd, sizeof whyd);
    if (st == PLUMB_OK && borrowed) {
      uint8_t *had = buf->data;
      plumb__arena_adopt(arena, &buf->data, &buf->cap);
      buf->len = 0;
      if (buf->data == had) {
        st = PLUMB_ENOMEM;
        snprintf(whyd, sizeof whyd, "out of memory keeping the frame");
      }
    }
    if (st != PLUMB_OK) {
      pthread_mutex_lock(&c->mu);
      plumb__client_set_error(c, "%s: reply: %s", o->name, whyd);
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
                              f.body_len, buf->len, &m, &taken, whyd,
                              sizeof whyd);
      if (st != PLUMB_OK) {
        pthread_mutex_lock(&c->mu);
        plumb__client_set_error(c, "%s: exception %s: %s", o->name,
                                ti->type_id, whyd);
        pthread_mutex_unlock(&c->mu);
        return st;
      }
      plumb__arena_set_exception(arena, ti->type_id, m);
      return PLUMB_EEXCEPTION;
    }
    pthread_mutex_lock(&c->mu);
    plumb__client_set_error(c, "%s raised undeclared exception %.*s",
                            o->name, (int)f.text_len, f.text);
    pthread_mutex_unlock(&c->mu);
    return PLUMB_ESERVER;
  case PLUMB__FRAME_ERROR:
    st = f.status;
    if (st >= 0 || strcmp(plumb_status_name(st), "UNKNOWN") == 0)
      st = PLUMB_ESERVER;
    pthread_mutex_lock(&c->mu);
    plumb__client_set_error(c, "%s: server: %.*s", o->name, (int)f.text_len,
                            f.text);
    pthread_mutex_unlock(&c->mu);
    return st;
  case PLUMB__FRAME_SYSEXC: { /* sysexc.c: decode and record */
    plumb_sysexc se;
    st = plumb__sysexc_decode(&f, &se, &why);
    pthread_mutex_lock(&c->mu);
    if (st != PLUMB_OK)
      plumb__client_set_error(c, "%s: %s", o->name, why);
    else
      plumb__client_set_error(c, "%s: server: %s (%s, minor %u, "
                              "completed %s)", o->name, se.message,
                              plumb_sysexc_name(se.code), (unsigned)se.minor,
                              plumb_completion_name(se.completed));
    pthread_mutex_unlock(&c->mu);
    if (st != PLUMB_OK)
      return st;
    plumb__sysexc_client_set(c, &se);
    return se.status;
  }
  default:
    pthread_mutex_lock(&c->mu);
    plumb__client_set_error(c, "unexpected frame kind %u from server",
                            f.kind);
    pthread_mutex_unlock(&c->mu);
    return PLUMB_EPROTO;
  }
}

int
plumb_invoke(plumb_client *c, const plumb_interface *iface, uint32_t op,
             const ProtobufCMessage *req, ProtobufCMessage **rep,
             plumb_arena *arena)
{
  plumb_pending call, *callp = &call;
  client_tls *t;
  int st, timed_out = 0;

  if (rep)
    *rep = NULL;
  if (c == NULL || iface == NULL || op >= iface->n_ops)
    return PLUMB_EINVAL;
  plumb__sysexc_client_clear(c);
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
  int64_t now, deadline = plumb__client_take_deadline(c, &now);

  /* The call lives on this stack; the reader swaps the answer into its
   * buffer (the thread's receive buffer, so nothing is allocated). */
  memset(&call, 0, sizeof(call));
  call.buf = t->rx;
  t->rx = (plumb_buf){ NULL, 0, 0 };
  st = plumb__client_start(c, o, req, &callp, deadline, now, 1);
  if (st == PLUMB_OK && !oneway) {
    /* client_start kept c->mu and our place in c->users: no lock round
     * between the send and the wait */
    plumb__client_wait(c, &call, deadline);
    if (call.state != PEND_DONE) {
      plumb__pend_complete(c, &call, PLUMB_ETIMEDOUT);
      timed_out = c->cancel_on_timeout;
    }
    st = call.status;
    if (st == PLUMB_ETIMEDOUT)
      plumb__client_set_error(c, "%s: no answer before the deadline",
                              o->name);
    if (--c->users == 0)
      plumb__client_wake(c);
    pthread_mutex_unlock(&c->mu);
    if (timed_out)
      plumb__client_send_cancel(c, call.id, o);
  }

  if (st == PLUMB_OK && !oneway)
    st = plumb__client_decode(c, o, &call.buf, rep, arena);
  t->rx = call.buf;
  /* Do not keep a huge frame's buffers around for the thread's lifetime. */
  if (t->rx.cap > CLIENT_BUF_KEEP)
    plumb__buf_free(&t->rx);
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
