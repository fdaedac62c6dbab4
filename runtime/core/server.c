/* server.c - the server's lifecycle: plumb_server_new, _listen, _run (the
 * worker loop), _stop, _free.
 *
 * Model (see docs/RUNTIME.md): one epoll set holds every listener and
 * connection with EPOLLONESHOT, plus a level-triggered stop eventfd and the
 * flow-control timerfd.  N identical worker threads (the thread in
 * plumb_server_run is one of them) each wait on it for one event at a time.
 * The worker that gets a listener accepts every pending client
 * (srv_conn.c); the worker that gets a connection receives every frame it
 * has, hands each request to srv_calls.c and re-arms it; it runs the first
 * call itself, any worker the others (the run queue's eventfd).  So a
 * request costs one wake-up, and the calls of one connection are served in
 * parallel up to conn_max_calls, under the ordering rule of srv_calls.c.
 *
 * A connection whose peer sends something that is not a frame (bad magic,
 * truncated, over the limit, wrong kind) is logged and dropped; other
 * clients are not affected.  Requests that are frames but cannot be served
 * (unknown object or operation, bad body, other version) get an error
 * answer and the connection stays.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lasterr.h"
#include "log.h"
#include "open_opts.h"
#include "plumb/config.h"
#include "server_int.h"

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
  plumb__server_set_rx_memory(s, o ? o->max_rx_memory : 0);
}

void
plumb__server_set_rx_memory(plumb_server *s, size_t max_rx_memory)
{
  /* Never below two whole frames: one peer's largest frame always fits. */
  size_t floor = 2 * (size_t)s->max_frame;
  if (max_rx_memory != 0)
    s->rx_pool.max = max_rx_memory;
  else if (s->rx_pool.max == 0)
    s->rx_pool.max = SRV_MAX_RX_MEMORY;
  if (s->rx_pool.max < floor)
    s->rx_pool.max = floor;
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
  plumb__srv_objects_init(s);
  s->max_frame = o && o->max_frame ? o->max_frame : PLUMB_DEFAULT_MAX_FRAME;
  s->mode = o && o->mode ? o->mode : 0600;
  s->workers = o ? o->workers : 0;
  s->no_introspection = o ? o->no_introspection : 0; /* introspect.c */
  clock_gettime(CLOCK_MONOTONIC, &s->started);
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
  s->wdfd = -1;
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
  if (plumb__srv_wd_init(s) != PLUMB_OK)
    goto close_timer;
  if (plumb__srv_calls_init(s, o ? o->conn_max_calls : 0) != PLUMB_OK)
    goto close_calls;
  *out = s;
  return PLUMB_OK;

close_calls:
  plumb__srv_calls_fini(s);
  plumb__srv_wd_fini(s);
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
int
plumb__srv_arm(plumb_server *s, int fd, void *item, int op)
{
  struct epoll_event ev;
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = item;
  return epoll_ctl(s->epfd, op, fd, &ev) == 0 ? PLUMB_OK : PLUMB_ESYS;
}

int
plumb_server_listen(plumb_server *s, const char *endpoint)
{
  plumb_tran_opts to = { 0 };
  plumb__err_begin(); /* plumb_last_error() (lasterr.h) */
  if (s == NULL)
    return plumb__err_end(PLUMB_EINVAL, "plumb_server_listen: no server");
  to.max_frame = s->max_frame;
  to.mode = s->mode;
  return plumb__err_end(plumb__server_listen_opts(s, endpoint, &to),
                        endpoint);
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

  if (s != NULL)
    to.rx_pool = &s->rx_pool; /* shared by every listener's connections */
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
  if ((st = plumb__srv_arm(s, tr->listener_fd(sl->l), sl, EPOLL_CTL_ADD)) !=
                           PLUMB_OK)
    goto close_l;
  /* The back-off timer: watched (one-shot) but silent until set. */
  if ((st = plumb__srv_arm(s, sl->bo.tfd, sl, EPOLL_CTL_ADD)) != PLUMB_OK) {
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
      plumb__srv_accept_all(s, ev.data.ptr);
    } else if (kind == SRV_TIMER) {
      plumb__srv_timer_tick(w);
    } else if (kind == SRV_WATCHDOG) {
      plumb__srv_wd_tick(w);
    } else if (kind == SRV_CALLS) {
      plumb__srv_calls_event(w);
    } else { /* a connection: the worker that wins the swap serves it */
      srv_conn *sc = kind == SRV_CONN
                         ? ev.data.ptr
                         : (srv_conn *)((char *)ev.data.ptr -
                                        offsetof(srv_conn, wkind));
      int parked = SRV_PARKED;
      if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        atomic_store(&sc->hup, 1); /* before dirty: the owner reads on */
      /* First: should sc be owned, its owner sees this at parking. */
      atomic_store(&sc->dirty, 1);
      if (atomic_compare_exchange_strong(&sc->state, &parked, SRV_OWNED))
        plumb__srv_serve_conn(w, sc);
    }
    plumb__srv_calls_run_mine(w); /* a call it read for itself */
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
    plumb__srv_conn_drop(s, s->conns);
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
    ws[i].id = (int)i;
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
  plumb__srv_defer_stop(s); /* deferred calls still held: TRANSIENT */
  srv_close_all(s);
  plumb__srv_calls_drain(s); /* calls queued but never run */
  { /* Re-arm for a later run (after new plumb_server_listen calls). */
    uint64_t v;
    ssize_t r = read(s->stopfd, &v, sizeof(v));
    (void)r;
    atomic_store(&s->stopping, 0);
  }
  plumb__log(PLUMB__LOG_INFO, "server stopped");
free_ws:
  for (unsigned i = 0; i < s->workers; i++) {
    plumb__srv_calls_worker_done(s, &ws[i]);
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
  /* Deferred calls still held point into s: await them (call_defer.c). */
  if (plumb__srv_defer_wait(s, PLUMB__DEFER_FREE_WAIT_MS) != 0)
    return;
  plumb__srv_objects_free(s);
  while (s->pool != NULL) {
    srv_conn *sc = s->pool;
    s->pool = sc->next;
    free(sc);
  }
  plumb__srv_calls_fini(s);
  plumb__srv_wd_fini(s);
  close(s->timerfd);
  pthread_mutex_destroy(&s->timer_mu);
  close(s->stopfd);
  close(s->epfd);
  pthread_mutex_destroy(&s->mu);
  free(s);
}
