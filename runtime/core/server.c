/* server.c - the server side: objects, endpoints, the serving loop and
 * request dispatch (plumb_server_*, plumb_call_*).
 *
 * Model (see docs/RUNTIME.md): one epoll set holds every listener and
 * connection with EPOLLONESHOT, plus a level-triggered stop eventfd.  N
 * identical worker threads (the thread in plumb_server_run is one of them)
 * each wait on it for one event at a time.  The worker that gets a listener
 * accepts every pending client; the worker that gets a connection receives
 * every frame it has (until PLUMB_EAGAIN), serves each one in turn - unpack,
 * run the handler, pack and send the answer - and re-arms it.  So a request
 * costs one wake-up, different connections are served in parallel, and the
 * calls of one connection are served one at a time in order.
 *
 * A connection whose peer sends something that is not a frame (bad magic,
 * truncated, over the limit, wrong kind) is logged and dropped; other
 * clients are not affected.  Requests that are frames but cannot be served
 * (unknown object or operation, bad body, other version) get an error
 * answer and the connection stays.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "access.h"
#include "backoff.h"
#include "call.h"
#include "decode.h"
#include "frame.h"
#include "log.h"
#include "open_opts.h"
#include "plumb/config.h"
#include "plumb/generated.h"
#include "transport.h"
#include "txq.h"

/* Flow control defaults (docs/RUNTIME.md, "Server I/O"; plumb_server_opts).
 * A transport without try_send (not yet non-blocking) falls back to a
 * blocking send bounded by SRV_SEND_FALLBACK_MS. */
#define SRV_SEND_TIMEOUT_MS 10000
#define SRV_FRAME_TIMEOUT_MS 30000
#define SRV_SEND_FALLBACK_MS 1000
#define SRV_CONN_QUEUE_FRAMES 4096u
#define SRV_SERVER_QUEUE_BYTES ((size_t)512 << 20)
/* Retry interval for transports without a writable fd (ms, doubling). */
#define SRV_RETRY_MIN_MS 1
#define SRV_RETRY_MAX_MS 64
/* Connections the timer hands to its worker per tick. */
#define SRV_TIMER_BATCH 64
/* Worker buffers larger than this are released after use (per worker). */
#define SRV_BUF_KEEP (4u << 20)

enum { SRV_LISTENER = 1, SRV_CONN = 2, SRV_STOP = 3, SRV_CONN_W = 4,
       SRV_TIMER = 5 };
/* srv_conn.state: who may touch it (see srv_conn_take). */
enum { SRV_PARKED = 0, SRV_OWNED = 1, SRV_DEAD = 2 };

typedef struct srv_object {
  char *name;
  size_t name_len;
  const plumb_interface *iface;
  const void *impl;
  void *ctx;
} srv_object;

typedef struct srv_listener {
  int kind; /* SRV_LISTENER; first, for epoll data */
  struct srv_listener *next;
  const plumb_transport *tr;
  plumb_listener *l;
  char *endpoint;
  pthread_mutex_t mu; /* held while accepting (see srv_conn.mu) */
  plumb__access access; /* who may connect (access.h) */
  plumb__ratelog refused; /* warnings about refused peers */
  plumb__backoff bo;      /* after failed accepts (backoff.h) */
} srv_listener;

typedef struct srv_conn {
  int kind; /* SRV_CONN */
  struct srv_conn *prev, *next;
  const plumb_transport *tr;
  plumb_conn *conn;
  plumb_peer peer;
  int fd;
  /* Held by the worker serving the connection.  EPOLLONESHOT already makes
   * that worker the only one; the (uncontended) lock states the hand-off
   * between workers in C11 terms, which the kernel's epoll does not. */
  pthread_mutex_t mu;
  /* Flow control (srv_serve_conn).  A connection is PARKED in epoll or
   * OWNED by the one worker that took it with a compare-and-swap: an
   * event and the timer may both reach for it, only one wins.  Dropped
   * connections go back to the server's pool, never to free(), so a stale
   * epoll event still points at a srv_conn (and loses the swap). */
  _Atomic int state;
  int wkind;              /* SRV_CONN_W: epoll data of a separate write fd */
  struct plumb_server *srv;
  plumb__txq txq;         /* replies the peer has not taken yet */
  int tail;               /* the transport keeps part of a frame unsent */
  int wfd;                /* write_wait()'s fd when it is not fd, or -1 */
  int wfd_added;          /* wfd is in the epoll set */
  int64_t blocked_since;  /* first reply that had to wait; 0 = none */
  int64_t retry_ms;       /* write_wait()==ENOTSUP: current retry interval */
  int64_t partial_since;  /* a frame began arriving; 0 = none */
  _Atomic int64_t next_check; /* the timer's next look at it; 0 = none */
} srv_conn;

struct plumb_server {
  uint32_t max_frame;
  unsigned mode;
  unsigned workers;
  plumb__access access; /* from the opts (access.set = 0: none given) */
  srv_object *objs;
  size_t n_objs, cap_objs;
  srv_listener *listeners;
  pthread_mutex_t mu; /* guards conns and listeners */
  srv_conn *conns;
  int epfd;
  int stop_kind; /* SRV_STOP; its address is the stop fd's epoll data */
  int stopfd;
  atomic_int stopping;
  plumb__decode_limits dec_limits; /* request bodies (decode.h) */
  plumb__decode_pool dec_pool;     /* max_decode_memory */
  /* flow control (plumb_server_opts, docs/RUNTIME.md) */
  size_t conn_queue_bytes;
  unsigned conn_queue_frames;
  size_t server_queue_bytes;
  int64_t send_timeout_ms, frame_timeout_ms;
  atomic_size_t queued; /* bytes in every connection's txq */
  srv_conn *pool;       /* dropped connections, for reuse */
  int timer_kind;       /* SRV_TIMER; its address is the timerfd's data */
  int timerfd;
  pthread_mutex_t timer_mu;
  int64_t timer_at;     /* when timerfd fires next; 0 = disarmed */
};

/* Per-worker reusable state. */
typedef struct srv_worker {
  plumb_server *s;
  pthread_t tid;
  plumb_arena *arena;
  plumb_buf rx;
  plumb_buf tx;
} srv_worker;

/* ---- objects and endpoints ------------------------------------------- */

/* The flow-control knobs of o, zero meaning the documented default. */
static void
srv_flow_defaults(plumb_server *s, const plumb_server_opts *o)
{
  s->conn_queue_bytes = o && o->conn_queue_bytes
                            ? o->conn_queue_bytes
                            : (size_t)s->max_frame + ((size_t)1 << 20);
  s->conn_queue_frames = o && o->conn_queue_frames ? o->conn_queue_frames
                                                    : SRV_CONN_QUEUE_FRAMES;
  s->server_queue_bytes = o && o->server_queue_bytes
                              ? (size_t)o->server_queue_bytes
                              : SRV_SERVER_QUEUE_BYTES;
  s->send_timeout_ms = o && o->send_timeout_ms > 0 ? o->send_timeout_ms
                                                   : SRV_SEND_TIMEOUT_MS;
  s->frame_timeout_ms = o && o->frame_timeout_ms > 0 ? o->frame_timeout_ms
                                                     : SRV_FRAME_TIMEOUT_MS;
}

int
plumb_server_new(plumb_server **out, const plumb_server_opts *o)
{
  plumb_server *s;
  struct epoll_event ev;

  if (out == NULL)
    return PLUMB_EINVAL;
  *out = NULL;
  if ((s = calloc(1, sizeof(*s))) == NULL)
    return PLUMB_ENOMEM;
  s->max_frame = o && o->max_frame ? o->max_frame : PLUMB_DEFAULT_MAX_FRAME;
  s->mode = o && o->mode ? o->mode : 0600;
  s->workers = o ? o->workers : 0;
  if (s->workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    s->workers = n < 2 ? 2 : n > 64 ? 64 : (unsigned)n;
  }
  if (o && (o->allow_any || o->allow_uids || o->allow_gids)) {
    char why[200];
    if (plumb__access_parse(&s->access, o->allow_any ? "any" : NULL,
                            o->allow_uids, o->allow_gids, why,
                            sizeof why) != PLUMB_OK) {
      plumb__log(PLUMB__LOG_ERROR, "server options: %s", why);
      free(s);
      return PLUMB_EINVAL;
    }
  }
  plumb__server_set_decode(s, o ? o->max_depth : 0, o ? o->decode_budget : 0,
                           o ? o->max_decode_memory : 0);
  s->stop_kind = SRV_STOP;
  s->timer_kind = SRV_TIMER;
  s->timerfd = -1;
  srv_flow_defaults(s, o);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->timer_mu, NULL);
  if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
    goto fail;
  if ((s->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
    goto close_ep;
  ev.events = EPOLLIN; /* level-triggered: wakes every worker */
  ev.data.ptr = &s->stop_kind;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->stopfd, &ev) != 0)
    goto close_stop;
  if ((s->timerfd = timerfd_create(CLOCK_MONOTONIC,
                                   TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
    goto close_stop;
  ev.events = EPOLLIN | EPOLLONESHOT; /* one worker runs a tick */
  ev.data.ptr = &s->timer_kind;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &ev) != 0)
    goto close_timer;
  *out = s;
  return PLUMB_OK;

close_timer:
  close(s->timerfd);
close_stop:
  close(s->stopfd);
close_ep:
  close(s->epfd);
fail:
  pthread_mutex_destroy(&s->timer_mu);
  pthread_mutex_destroy(&s->mu);
  free(s);
  return PLUMB_ESYS;
}

int
plumb_server_add_object(plumb_server *s, const char *name,
                        const plumb_interface *iface, const void *impl,
                        void *ctx)
{
  if (s == NULL || name == NULL || iface == NULL)
    return PLUMB_EINVAL;
  if (iface->abi != PLUMB_GENERATED_ABI) {
    plumb__log(PLUMB__LOG_ERROR, "object '%s': interface %s built for "
               "generated ABI %u, libplumb has %u", name, iface->type_id,
               iface->abi, PLUMB_GENERATED_ABI);
    return PLUMB_EVERSION;
  }
  if (strlen(name) > PLUMB__FRAME_TEXT_MAX)
    return PLUMB_EINVAL;
  for (size_t i = 0; i < s->n_objs; i++)
    if (strcmp(s->objs[i].name, name) == 0)
      return PLUMB_EBUSY;
  if (s->n_objs == s->cap_objs) {
    size_t cap = s->cap_objs ? s->cap_objs * 2 : 4;
    srv_object *n = realloc(s->objs, cap * sizeof(*n));
    if (n == NULL)
      return PLUMB_ENOMEM;
    s->objs = n;
    s->cap_objs = cap;
  }
  srv_object *ob = &s->objs[s->n_objs];
  if ((ob->name = strdup(name)) == NULL)
    return PLUMB_ENOMEM;
  ob->name_len = strlen(name);
  ob->iface = iface;
  ob->impl = impl;
  ob->ctx = ctx;
  s->n_objs++;
  return PLUMB_OK;
}

void
plumb__server_set_decode(plumb_server *s, unsigned max_depth,
                         unsigned budget, size_t max_memory)
{
  if (max_depth != 0)
    s->dec_limits.max_depth =
        max_depth > PLUMB__DECODE_DEPTH_MAX ? PLUMB__DECODE_DEPTH_MAX
                                            : max_depth;
  else if (s->dec_limits.max_depth == 0)
    s->dec_limits.max_depth = PLUMB_DEFAULT_MAX_DEPTH;
  if (budget != 0)
    s->dec_limits.budget = budget;
  else if (s->dec_limits.budget == 0)
    s->dec_limits.budget = PLUMB__DEFAULT_DECODE_BUDGET;
  if (max_memory != 0)
    s->dec_pool.max = max_memory;
  else if (s->dec_pool.max == 0)
    s->dec_pool.max = PLUMB__DEFAULT_MAX_DECODE_MEMORY;
}

/* Adds item (listener or connection) to the epoll set, one-shot. */
static int
srv_arm(plumb_server *s, int fd, void *item, int op)
{
  struct epoll_event ev;
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = item;
  return epoll_ctl(s->epfd, op, fd, &ev) == 0 ? PLUMB_OK : PLUMB_ESYS;
}

/* Hands connection sc back to epoll for reading: from now on any worker
 * may take it (srv_conn.state). */
static int
srv_conn_arm(plumb_server *s, int fd, srv_conn *sc, int op)
{
  atomic_store(&sc->state, SRV_PARKED);
  return srv_arm(s, fd, sc, op);
}

int
plumb_server_listen(plumb_server *s, const char *endpoint)
{
  plumb_tran_opts to = { 0 };
  if (s == NULL)
    return PLUMB_EINVAL;
  to.max_frame = s->max_frame;
  to.mode = s->mode;
  return plumb__server_listen_opts(s, endpoint, &to);
}

int
plumb__server_listen_opts(plumb_server *s, const char *endpoint,
                          const plumb_tran_opts *topts)
{
  const plumb_transport *tr;
  const char *rest;
  plumb_tran_opts to = *topts;
  srv_listener *sl;
  int st;

  if (s == NULL || endpoint == NULL)
    return PLUMB_EINVAL;
  if ((tr = plumb__transport_find(endpoint, &rest)) == NULL) {
    char why[320];
    st = plumb_endpoint_check(endpoint, why, sizeof(why));
    plumb__log(PLUMB__LOG_ERROR, "listen: %s", why);
    return st;
  }
  if ((sl = calloc(1, sizeof(*sl))) == NULL)
    return PLUMB_ENOMEM;
  sl->kind = SRV_LISTENER;
  pthread_mutex_init(&sl->mu, NULL);
  sl->tr = tr;
  /* Who may connect: the listener's own policy, else the server's, else
   * what the mode of its objects says. */
  if (to.access != NULL && to.access->set)
    sl->access = *to.access;
  else if (s->access.set)
    sl->access = s->access;
  else
    plumb__access_from_mode(&sl->access, to.mode, to.has_group, to.group);
  to.access = &sl->access;
  if (plumb__backoff_init(&sl->bo) != PLUMB_OK) {
    st = PLUMB_ESYS;
    goto free_sl;
  }
  if ((sl->endpoint = strdup(endpoint)) == NULL) {
    st = PLUMB_ENOMEM;
    goto free_sl;
  }
  if ((st = tr->listen(rest, &to, &sl->l)) != PLUMB_OK) {
    plumb__log(PLUMB__LOG_ERROR, "listen on %s: %s", endpoint,
               plumb_strerror(st));
    goto free_sl;
  }
  if ((st = srv_arm(s, tr->listener_fd(sl->l), sl, EPOLL_CTL_ADD)) !=
      PLUMB_OK)
    goto close_l;
  /* The back-off timer: watched (one-shot) but silent until set. */
  if ((st = srv_arm(s, sl->bo.tfd, sl, EPOLL_CTL_ADD)) != PLUMB_OK) {
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, tr->listener_fd(sl->l), NULL);
    goto close_l;
  }
  pthread_mutex_lock(&s->mu);
  sl->next = s->listeners;
  s->listeners = sl;
  pthread_mutex_unlock(&s->mu);
  plumb__log(PLUMB__LOG_INFO, "listening on %s", endpoint);
  return PLUMB_OK;

close_l:
  tr->listener_close(sl->l);
free_sl:
  plumb__backoff_fini(&sl->bo);
  pthread_mutex_destroy(&sl->mu);
  free(sl->endpoint);
  free(sl);
  return st;
}

/* ---- connections --------------------------------------------------- */

/* The queue limits of sc's server. */
static plumb__txq_limits
srv_limits(const srv_conn *sc)
{
  plumb_server *s = sc->srv;
  return (plumb__txq_limits){ s->conn_queue_bytes, s->conn_queue_frames,
                              s->server_queue_bytes, &s->queued };
}

/* A zeroed connection owned by the caller, from the pool if it can. */
static srv_conn *
srv_conn_alloc(plumb_server *s)
{
  pthread_mutex_lock(&s->mu);
  srv_conn *sc = s->pool;
  if (sc != NULL)
    s->pool = sc->next;
  pthread_mutex_unlock(&s->mu);
  if (sc == NULL && (sc = malloc(sizeof(*sc))) == NULL)
    return NULL;
  memset(sc, 0, sizeof(*sc));
  atomic_init(&sc->state, SRV_OWNED);
  sc->kind = SRV_CONN;
  sc->wkind = SRV_CONN_W;
  sc->srv = s;
  sc->wfd = -1;
  return sc;
}

static void
srv_conn_drop(plumb_server *s, srv_conn *sc)
{
  (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, sc->fd, NULL);
  if (sc->wfd_added)
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, sc->wfd, NULL);
  plumb__txq_limits lim = srv_limits(sc);
  plumb__txq_clear(&sc->txq, &lim);
  pthread_mutex_lock(&s->mu);
  if (sc->prev)
    sc->prev->next = sc->next;
  else
    s->conns = sc->next;
  if (sc->next)
    sc->next->prev = sc->prev;
  pthread_mutex_unlock(&s->mu);
  sc->tr->close(sc->conn);
  pthread_mutex_destroy(&sc->mu);
  atomic_store(&sc->next_check, 0);
  atomic_store(&sc->state, SRV_DEAD);
  pthread_mutex_lock(&s->mu);
  sc->prev = NULL;
  sc->next = s->pool;
  s->pool = sc;
  /* An fd is free: a listener backing off after EMFILE retries now. */
  for (srv_listener *sl = s->listeners; sl != NULL; sl = sl->next)
    plumb__backoff_nudge(&sl->bo);
  pthread_mutex_unlock(&s->mu);
}

/* Accepts every pending client of sl (at most 64 per wake-up), admits or
 * refuses each one (access.h), then re-arms the listener - or, after a
 * failure such as EMFILE, leaves it disarmed and arms its back-off timer
 * (backoff.h), so a server at its fd limit never spins. */
static void
srv_accept_all(plumb_server *s, srv_listener *sl)
{
  int failed = 0;

  pthread_mutex_lock(&sl->mu);
  plumb__backoff_clear(&sl->bo);
  for (int i = 0; i < 64; i++) {
    plumb_conn *conn;
    int e;
    errno = 0;
    int st = sl->tr->accept(sl->l, &conn);
    if (st == PLUMB_EAGAIN)
      break;
    if (st != PLUMB_OK) {
      e = errno;
      char what[300], why[160];
      snprintf(what, sizeof what, "accept on %s", sl->endpoint);
      snprintf(why, sizeof why, "%s", e ? strerror(e) : plumb_strerror(st));
      failed = plumb__backoff_fail(&sl->bo, what, why, i > 0) == PLUMB_OK;
      break;
    }
    srv_conn *sc = srv_conn_alloc(s);
    if (sc == NULL) {
      sl->tr->close(conn);
      char what[300];
      snprintf(what, sizeof what, "accept on %s", sl->endpoint);
      failed = plumb__backoff_fail(&sl->bo, what, "out of memory", i > 0) ==
               PLUMB_OK;
      break;
    }
    sc->kind = SRV_CONN;
    sc->tr = sl->tr;
    sc->conn = conn;
    sc->fd = sl->tr->conn_fd(conn);
    if (sl->tr->peer == NULL || sl->tr->peer(conn, &sc->peer) != PLUMB_OK)
      memset(&sc->peer, 0, sizeof(sc->peer));
    if (!plumb__access_admit(&sl->access, &sc->peer, sc->fd)) {
      /* Closed at once: the peer never reaches a handler. */
      plumb__access_log_refused(&sl->refused, sl->endpoint, &sc->peer,
                                sc->fd);
      sl->tr->close(conn);
      free(sc);
      continue;
    }
    pthread_mutex_init(&sc->mu, NULL);
    pthread_mutex_lock(&sc->mu); /* published to the next worker on unlock */
    pthread_mutex_lock(&s->mu);
    sc->next = s->conns;
    if (s->conns)
      s->conns->prev = sc;
    s->conns = sc;
    pthread_mutex_unlock(&s->mu);
    if (plumb__log_enabled(PLUMB__LOG_DEBUG)) {
      char who[80];
      plumb__access_describe(&sc->peer, sc->fd, who, sizeof who);
      plumb__log(PLUMB__LOG_DEBUG, "accepted a client on %s (%s)",
                 sl->endpoint, who);
    }
    int fd = sc->fd;
    pthread_mutex_unlock(&sc->mu);
    /* Once armed, another worker may serve and even free sc: hands off. */
    if (srv_conn_arm(s, fd, sc, EPOLL_CTL_ADD) != PLUMB_OK) {
      plumb__log(PLUMB__LOG_WARN, "epoll: cannot watch a new connection");
      srv_conn_drop(s, sc);
    }
  }
  int fd = failed ? sl->bo.tfd : sl->tr->listener_fd(sl->l);
  pthread_mutex_unlock(&sl->mu);
  (void)srv_arm(s, fd, sl, EPOLL_CTL_MOD);
}

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
  plumb__txq_limits lim = srv_limits(sc);
  if ((st = plumb__txq_push(&sc->txq, iov, n, &lim)) != PLUMB_OK) {
    plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d): its replies are "
               "not read and its queue is full (%zu bytes, %u frames queued; "
               "limits conn_queue_bytes=%zu, conn_queue_frames=%u, "
               "server_queue_bytes=%zu)", (int)sc->peer.pid, sc->txq.bytes,
               sc->txq.frames, lim.conn_bytes, lim.conn_frames,
               lim.server_max);
    return PLUMB_EPROTO; /* logged: srv_serve_conn drops it quietly */
  }
  return PLUMB_OK;
}

static int
srv_send(srv_conn *sc, const plumb__frame *req, int kind, int32_t status,
         const char *text, size_t text_len, const uint8_t *body,
         size_t body_len)
{
  uint8_t hdr[PLUMB__FRAME_HDR];
  plumb__frame f;

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
  struct iovec iov[3] = {
    { hdr, sizeof(hdr) },
    { (void *)text, f.text_len },
    { (void *)body, body_len },
  };
  return srv_send_iov(sc, iov, 3);
}

static int
srv_send_error(srv_conn *sc, const plumb__frame *req, int status,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Answers req with an ERROR frame (never for oneway requests). */
static int
srv_send_error(srv_conn *sc, const plumb__frame *req, int status,
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
  return srv_send(sc, req, PLUMB__FRAME_ERROR, status, msg, strlen(msg), NULL,
                  0);
}

static const srv_object *
srv_find_object(plumb_server *s, const char *name, size_t len)
{
  if (len == 0)
    return s->n_objs ? &s->objs[0] : NULL;
  for (size_t i = 0; i < s->n_objs; i++)
    if (s->objs[i].name_len == len && memcmp(s->objs[i].name, name, len) == 0)
      return &s->objs[i];
  return NULL;
}

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
static int
srv_serve_frame(srv_worker *w, srv_conn *sc)
{
  plumb_server *s = w->s;
  plumb__frame f;
  const char *why;
  int st;

  st = plumb__frame_decode(w->rx.data, w->rx.len, s->max_frame, &f, &why);
  if (st == PLUMB_EVERSION && (f.kind == PLUMB__FRAME_REQUEST ||
                               f.kind == PLUMB__FRAME_ONEWAY)) {
    f.kind = PLUMB__FRAME_REQUEST; /* answer even a oneway: it is useless */
    st = srv_send_error(sc, &f, PLUMB_EVERSION,
                        "protocol version %u not supported (server speaks %u)",
                        f.version, PLUMB__FRAME_VERSION);
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
  const srv_object *obj = srv_find_object(s, f.text, f.text_len);
  if (obj == NULL)
    return srv_send_error(sc, &f, PLUMB_ENOOBJECT, "no object '%.*s'",
                          (int)f.text_len, f.text);
  const void *impl = obj->impl;
  const plumb_operation *op = srv_find_op(obj->iface, f.iface, f.op, &impl);
  if (op == NULL || op->thunk == NULL || op->request == NULL)
    return srv_send_error(sc, &f, PLUMB_ENOOP,
                          "object '%s' (%s) has no operation %08x:%u",
                          obj->name, obj->iface->type_id, f.iface, f.op);

  plumb_arena_reset(w->arena);
  char whyd[PLUMB__DECODE_WHY_MAX];
  size_t taken;
  ProtobufCMessage *req;
  st = plumb__decode_body(&s->dec_limits, &s->dec_pool, op->request,
                          w->arena, f.body, f.body_len, w->rx.len, &req,
                          &taken, whyd, sizeof whyd);
  if (st != PLUMB_OK)
    return srv_send_error(sc, &f, st, "%s: %s", op->name, whyd);
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
      return srv_send_error(sc, &f, PLUMB_ESERVER, "out of memory");
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
      return srv_send_error(sc, &f, PLUMB_ETOOBIG,
                            "%s: reply of %zu bytes over the frame limit",
                            op->name, n);
    if (plumb__buf_reserve(&w->tx, n ? n : 1) != PLUMB_OK)
      return srv_send_error(sc, &f, PLUMB_ESERVER, "out of memory");
    w->tx.len = rep ? protobuf_c_message_pack(rep, w->tx.data) : 0;
    return srv_send(sc, &f, PLUMB__FRAME_REPLY, 0, NULL, 0, w->tx.data,
                    w->tx.len);
  }
  if (st == PLUMB_EEXCEPTION && call.exc_type != NULL) {
    const char *tid = call.exc_type->type_id;
    return srv_send(sc, &f, PLUMB__FRAME_EXCEPTION, 0, tid, strlen(tid),
                    call.exc_body, call.exc_len);
  }
  if (call.fail_status != 0 && call.fail_status == st)
    return srv_send_error(sc, &f, plumb__call_status_for_peer(st), "%s: %s",
                          op->name, call.fail_msg);
  /* e.g. ENOOP: the object leaves this operation unimplemented (NULL
   * handler); see call_status.c for what a peer may get. */
  return srv_send_error(sc, &f, plumb__call_status_for_peer(st),
                        "%s failed: %s (%s)", op->name, plumb_strerror(st),
                        plumb_status_name(st));
}

/* ---- flow control: the timer ------------------------------------- */

/* Makes the server's timer fire by `at` (CLOCK_MONOTONIC ns) at the latest. */
static void
srv_timer_want(plumb_server *s, int64_t at)
{
  pthread_mutex_lock(&s->timer_mu);
  if (s->timer_at == 0 || at < s->timer_at) {
    struct itimerspec its = { { 0, 0 }, { at / 1000000000, at % 1000000000 } };
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
      its.it_value.tv_nsec = 1; /* 0 would disarm */
    if (timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
      s->timer_at = at;
  }
  pthread_mutex_unlock(&s->timer_mu);
}

/* Asks the timer to hand sc to a worker at `at` (set before parking). */
static void
srv_conn_check_at(srv_conn *sc, int64_t at)
{
  atomic_store(&sc->next_check, at);
  srv_timer_want(sc->srv, at);
}

static void srv_serve_conn(srv_worker *w, srv_conn *sc);

/* One tick: takes the parked connections whose check is due (a swap, like
 * an epoll event would) and serves them, re-arming the timer for the rest. */
static void
srv_timer_tick(srv_worker *w)
{
  plumb_server *s = w->s;
  srv_conn *due[SRV_TIMER_BATCH];
  int n = 0;
  int64_t next = 0, now;
  uint64_t ticks;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT,
                            .data.ptr = &s->timer_kind };

  (void)!read(s->timerfd, &ticks, sizeof(ticks));
  pthread_mutex_lock(&s->timer_mu);
  s->timer_at = 0;
  pthread_mutex_unlock(&s->timer_mu);
  now = plumb__now_ns();
  pthread_mutex_lock(&s->mu);
  for (srv_conn *sc = s->conns; sc != NULL; sc = sc->next) {
    int64_t at = atomic_load(&sc->next_check);
    int parked = SRV_PARKED;
    if (at == 0)
      continue;
    if (at > now || n == SRV_TIMER_BATCH) {
      next = next == 0 || at < next ? at : next;
      continue;
    }
    if (atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
      due[n++] = sc;
    else /* being served: look again soon in case it parks on this */
      next = next == 0 || now + 1000000 < next ? now + 1000000 : next;
  }
  pthread_mutex_unlock(&s->mu);
  if (next != 0)
    srv_timer_want(s, next < now ? now : next);
  (void)epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->timerfd, &ev);
  for (int i = 0; i < n; i++)
    srv_serve_conn(w, due[i]);
}

/* ---- flow control: waiting for a slow peer ------------------------- */

/* sc's replies wait in its queue: watch it for writability only (its
 * requests are not read meanwhile), or retry on the timer; drop it once
 * the queue has waited send_timeout_ms.  Called with sc->mu held; returns
 * PLUMB_OK (sc handed back to epoll/the timer: hands off) or an error
 * (drop it). */
static int
srv_park_write(plumb_server *s, srv_conn *sc, int64_t now)
{
  int64_t limit = sc->blocked_since + s->send_timeout_ms * 1000000;
  struct epoll_event ev;
  uint32_t events;
  int fd, st;

  if (now >= limit) {
    plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d, uid %d): it has "
               "not read its replies for %lld ms (send_timeout_ms; %u frames,"
               " %zu bytes queued)", (int)sc->peer.pid, (int)sc->peer.uid,
               (long long)s->send_timeout_ms, sc->txq.frames, sc->txq.bytes);
    return PLUMB_ETIMEDOUT;
  }
  plumb__log(PLUMB__LOG_DEBUG, "client (pid %d): %u replies wait, watching "
             "for writability", (int)sc->peer.pid, sc->txq.frames);
  st = sc->tr->write_wait(sc->conn, &fd, &events);
  if (st == PLUMB_ENOTSUP) {
    sc->retry_ms = sc->retry_ms < SRV_RETRY_MIN_MS ? SRV_RETRY_MIN_MS
                   : sc->retry_ms * 2 > SRV_RETRY_MAX_MS ? SRV_RETRY_MAX_MS
                                                         : sc->retry_ms * 2;
    int64_t at = now + sc->retry_ms * 1000000;
    pthread_mutex_unlock(&sc->mu);
    atomic_store(&sc->state, SRV_PARKED);
    srv_conn_check_at(sc, at < limit ? at : limit);
    return PLUMB_OK;
  }
  if (st != PLUMB_OK)
    return st;
  ev.events = events | EPOLLONESHOT;
  int op = EPOLL_CTL_MOD;
  if (fd == sc->fd) {
    ev.data.ptr = sc;
  } else {
    ev.data.ptr = &sc->wkind;
    if (!sc->wfd_added)
      op = EPOLL_CTL_ADD;
    sc->wfd = fd;
    sc->wfd_added = 1;
  }
  pthread_mutex_unlock(&sc->mu);
  atomic_store(&sc->next_check, limit); /* before it can be taken again */
  atomic_store(&sc->state, SRV_PARKED);
  srv_timer_want(s, limit);
  if (epoll_ctl(s->epfd, op, fd, &ev) != 0) {
    int parked = SRV_PARKED;
    if (atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED)) {
      pthread_mutex_lock(&sc->mu);
      plumb__log(PLUMB__LOG_WARN, "epoll: cannot watch client (pid %d) "
                 "for writing", (int)sc->peer.pid);
      return PLUMB_ESYS;
    }
  }
  return PLUMB_OK;
}

/* A frame that began arriving must complete within frame_timeout_ms.
 * Returns PLUMB_OK or PLUMB_ETIMEDOUT (drop); may ask for the timer. */
static int
srv_check_partial(plumb_server *s, srv_conn *sc, int64_t now)
{
  if (sc->tr->rx_partial == NULL || sc->tr->rx_partial(sc->conn) == 0) {
    sc->partial_since = 0;
    return PLUMB_OK;
  }
  if (sc->partial_since == 0)
    sc->partial_since = now;
  int64_t limit = sc->partial_since + s->frame_timeout_ms * 1000000;
  if (now >= limit) {
    plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d, uid %d): a frame "
               "begun %lld ms ago is still incomplete (frame_timeout_ms)",
               (int)sc->peer.pid, (int)sc->peer.uid,
               (long long)s->frame_timeout_ms);
    return PLUMB_ETIMEDOUT;
  }
  atomic_store(&sc->next_check, limit);
  srv_timer_want(s, limit);
  return PLUMB_OK;
}

/* ---- serving a connection ------------------------------------------ */

/* Serves a connection its worker owns: first pushes out queued replies
 * (while any remain, the peer's requests are not read: backpressure on
 * it alone), then every frame it has, then re-arms it (or drops it). */
static void
srv_serve_conn(srv_worker *w, srv_conn *sc)
{
  plumb_server *s = w->s;
  int st;

  pthread_mutex_lock(&sc->mu);
  atomic_store(&sc->next_check, 0);
  if (!plumb__txq_empty(&sc->txq) || sc->tail) {
    plumb__txq_limits lim = srv_limits(sc);
    st = plumb__txq_flush(&sc->txq, sc->conn, &lim);
    if (st == PLUMB_EAGAIN)
      goto park_write;
    if (st != PLUMB_OK) {
      plumb__log(PLUMB__LOG_INFO, "dropping client (pid %d): %s",
                 (int)sc->peer.pid, plumb_strerror(st));
      goto drop;
    }
    sc->tail = 0;
    sc->blocked_since = 0;
    sc->retry_ms = 0;
  }
  for (;;) {
    st = sc->tr->recv(sc->conn, &w->rx, PLUMB_NOWAIT);
    if (st == PLUMB_EAGAIN)
      break;
    if (st != PLUMB_OK) {
      if (st == PLUMB_ECLOSED)
        plumb__log(PLUMB__LOG_DEBUG, "client (pid %d) left",
                   (int)sc->peer.pid);
      else
        plumb__log(PLUMB__LOG_WARN, "dropping client (pid %d): %s",
                   (int)sc->peer.pid, plumb_strerror(st));
      goto drop;
    }
    sc->partial_since = 0;
    if ((st = srv_serve_frame(w, sc)) != PLUMB_OK) {
      if (st != PLUMB_EPROTO && st != PLUMB_ETOOBIG && st != PLUMB_EVERSION)
        plumb__log(PLUMB__LOG_INFO, "dropping client (pid %d): %s",
                   (int)sc->peer.pid, plumb_strerror(st));
      goto drop;
    }
    if (!plumb__txq_empty(&sc->txq) || sc->tail)
      goto park_write; /* stop reading this peer until it reads */
  }
  if (srv_check_partial(s, sc, plumb__now_ns()) != PLUMB_OK)
    goto drop;
  /* Do not keep a huge frame's buffers around once it is served. */
  if (w->rx.cap > SRV_BUF_KEEP)
    plumb__buf_free(&w->rx);
  if (w->tx.cap > SRV_BUF_KEEP)
    plumb__buf_free(&w->tx);
  int fd = sc->fd;
  pthread_mutex_unlock(&sc->mu);
  /* Once re-armed another worker may take sc: hands off.  (ThreadSanitizer
   * cannot see that EPOLL_CTL_MOD orders this epoll_ctl before the next
   * worker's epoll_wait, and reports that pair as a race; it is not.) */
  if (srv_conn_arm(s, fd, sc, EPOLL_CTL_MOD) == PLUMB_OK)
    return;
  int parked = SRV_PARKED;
  if (!atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
    return; /* someone took it meanwhile: theirs now */
  pthread_mutex_lock(&sc->mu);
  goto drop;
park_write:
  if (srv_park_write(s, sc, plumb__now_ns()) == PLUMB_OK)
    return;
drop:
  pthread_mutex_unlock(&sc->mu);
  srv_conn_drop(s, sc);
}

/* ---- the loop ------------------------------------------------------ */

static void *
srv_worker_main(void *arg)
{
  srv_worker *w = arg;
  plumb_server *s = w->s;
  struct epoll_event ev;

  while (!atomic_load(&s->stopping)) {
    int n = epoll_wait(s->epfd, &ev, 1, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      plumb__log(PLUMB__LOG_ERROR, "epoll_wait: %s", strerror(errno));
      break;
    }
    if (n == 0)
      continue;
    int kind = *(int *)ev.data.ptr;
    if (kind == SRV_STOP)
      break;
    if (kind == SRV_LISTENER) {
      srv_accept_all(s, ev.data.ptr);
    } else if (kind == SRV_TIMER) {
      srv_timer_tick(w);
    } else { /* a connection: the worker that wins the swap serves it */
      srv_conn *sc = kind == SRV_CONN
                         ? ev.data.ptr
                         : (srv_conn *)((char *)ev.data.ptr -
                                        offsetof(srv_conn, wkind));
      int parked = SRV_PARKED;
      if (atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
        srv_serve_conn(w, sc);
    }
  }
  return NULL;
}

static plumb_server *volatile srv_signal_target;

static void
srv_on_signal(int sig)
{
  (void)sig;
  plumb_server *s = srv_signal_target;
  if (s != NULL)
    plumb_server_stop(s);
}

static void
srv_close_all(plumb_server *s)
{
  for (;;) {
    pthread_mutex_lock(&s->mu);
    srv_listener *sl = s->listeners;
    if (sl != NULL)
      s->listeners = sl->next;
    pthread_mutex_unlock(&s->mu);
    if (sl == NULL)
      break;
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, sl->tr->listener_fd(sl->l), NULL);
    (void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, sl->bo.tfd, NULL);
    plumb__backoff_fini(&sl->bo);
    sl->tr->listener_close(sl->l);
    pthread_mutex_destroy(&sl->mu);
    free(sl->endpoint);
    free(sl);
  }
  while (s->conns)
    srv_conn_drop(s, s->conns);
}

int
plumb_server_run(plumb_server *s, int handle_signals)
{
  struct sigaction sa, old_int, old_term;
  srv_worker *ws;
  unsigned started = 0;
  int st = PLUMB_OK;

  if (s == NULL)
    return PLUMB_EINVAL;
  if ((ws = calloc(s->workers, sizeof(*ws))) == NULL)
    return PLUMB_ENOMEM;
  for (unsigned i = 0; i < s->workers; i++) {
    ws[i].s = s;
    if ((ws[i].arena = plumb_arena_new()) == NULL) {
      st = PLUMB_ENOMEM;
      goto free_ws;
    }
  }
  if (handle_signals) {
    srv_signal_target = s;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = srv_on_signal;
    sa.sa_flags = SA_RESTART; /* spare the program's other threads EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    /* A server never wants SIGPIPE (writes report EPIPE); unless the
     * program installed its own handler, ignore it for good, which also
     * spares every pipe write the masking of SIGPIPE. */
    struct sigaction pa;
    if (sigaction(SIGPIPE, NULL, &pa) == 0 &&
        !(pa.sa_flags & SA_SIGINFO) &&
        (pa.sa_handler == SIG_DFL || pa.sa_handler == SIG_IGN)) {
      signal(SIGPIPE, SIG_IGN);
      plumb__set_sigpipe_ignored();
    }
  }
  for (started = 1; started < s->workers; started++)
    if (pthread_create(&ws[started].tid, NULL, srv_worker_main,
                       &ws[started]) != 0) {
      plumb__log(PLUMB__LOG_WARN, "only %u worker threads started", started);
      break;
    }
  plumb__log(PLUMB__LOG_INFO, "serving with %u worker threads", started);
  srv_worker_main(&ws[0]);
  atomic_store(&s->stopping, 1);
  plumb_server_stop(s); /* wakes the others if worker 0 failed */
  for (unsigned i = 1; i < started; i++)
    pthread_join(ws[i].tid, NULL);
  if (handle_signals) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    srv_signal_target = NULL;
  }
  srv_close_all(s);
  { /* Re-arm for a later run (after new plumb_server_listen calls). */
    uint64_t v;
    ssize_t r = read(s->stopfd, &v, sizeof(v));
    (void)r;
    atomic_store(&s->stopping, 0);
  }
  plumb__log(PLUMB__LOG_INFO, "server stopped");
free_ws:
  for (unsigned i = 0; i < s->workers; i++) {
    plumb_arena_free(ws[i].arena);
    plumb__buf_free(&ws[i].rx);
    plumb__buf_free(&ws[i].tx);
  }
  free(ws);
  return st;
}

void
plumb_server_stop(plumb_server *s)
{
  uint64_t one = 1;

  if (s == NULL)
    return;
  atomic_store(&s->stopping, 1);
  ssize_t r = write(s->stopfd, &one, sizeof(one));
  (void)r;
}

void
plumb_server_free(plumb_server *s)
{
  if (s == NULL)
    return;
  srv_close_all(s);
  for (size_t i = 0; i < s->n_objs; i++)
    free(s->objs[i].name);
  free(s->objs);
  while (s->pool != NULL) {
    srv_conn *sc = s->pool;
    s->pool = sc->next;
    free(sc);
  }
  close(s->timerfd);
  pthread_mutex_destroy(&s->timer_mu);
  close(s->stopfd);
  close(s->epfd);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* ---- what handlers see ----------------------------------------------- */

const plumb_peer *
plumb_call_peer(const plumb_call *call)
{
  return &call->conn->peer;
}

const char *
plumb_call_object(const plumb_call *call)
{
  return call->obj->name;
}

void *
plumb_call_alloc(plumb_call *call, size_t size)
{
  return plumb_arena_alloc(call->arena, size);
}

char *
plumb_call_strdup(plumb_call *call, const char *s)
{
  return plumb_arena_strdup(call->arena, s ? s : "");
}

plumb_arena *
plumb_call_arena(plumb_call *call)
{
  return call->arena;
}

int
plumb_call_raise(plumb_call *call, const plumb_type_info *type,
                 const void *value)
{
  if (call == NULL || type == NULL || value == NULL)
    return PLUMB_EINVAL;
  const ProtobufCMessage *m = value;
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *p = plumb_arena_alloc(call->arena, n ? n : 1);
  if (p == NULL)
    return PLUMB_ENOMEM;
  call->exc_len = protobuf_c_message_pack(m, p);
  call->exc_body = p;
  call->exc_type = type;
  return PLUMB_EEXCEPTION;
}
