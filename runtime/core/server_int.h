/* server_int.h - the server's internal types and the functions its files
 * share (internal; not installed).
 *
 * The server is split by concern (docs/RUNTIME.md, "Server I/O"):
 *   server.c       lifecycle: new, listen, run (the worker loop), stop, free
 *   srv_objects.c  the object table
 *   srv_sysexc.c   answering with a system exception
 *   builtin_ops.c  _is_a, _interface, _non_existent
 *   srv_conn.c     connections: accept, admit, serve, drop
 *   srv_flow.c     flow control: the timer, slow readers, partial frames
 *   srv_reply.c    sending answers without blocking
 *   srv_dispatch.c one request: find object and operation, decode, run, answer
 *   srv_calls.c    calls in flight: pool, ordering, run queue, cancel
 *   srv_watchdog.c calls run inline past their 2 ms: the reader taken over
 *   srv_serial.c   PLUMB_OBJECT_SERIALIZE objects
 *   call.c         what handlers see (plumb_call_*); call_defer.c deferred
 */
#ifndef PLUMB_SERVER_INT_H
#define PLUMB_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "backoff.h"
#include "decode.h"
#include "frame.h"
#include "plumb/server.h"
#include "plumb/generated.h"
#include "srv_calls.h"
#include "rxpool.h"
#include "transport.h"
#include "txq.h"

/* Flow control defaults (docs/RUNTIME.md, "Server I/O"; plumb_server_opts).
 * A transport without try_send (not yet non-blocking) falls back to a
 * blocking send bounded by SRV_SEND_FALLBACK_MS. */
#define SRV_SEND_TIMEOUT_MS 10000
#define SRV_FRAME_TIMEOUT_MS 30000
#define SRV_MAX_RX_MEMORY ((size_t)256 << 20) /* max_rx_memory */
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
       SRV_TIMER = 5, SRV_CALLS = 6, SRV_WATCHDOG = 7 };
/* srv_conn.state: who may touch it (see srv_conn_take).  SRV_INLINE + w
 * (worker w's id): owned by worker w, which is running one of its calls
 * itself before it reads on (srv_conn.c); the timer takes it over once
 * sc->next_check (SRV_INLINE_NS after the call started) is due
 * (srv_watchdog.c). */
enum { SRV_PARKED = 0, SRV_OWNED = 1, SRV_DEAD = 2, SRV_INLINE = 3 };
/* A call a worker runs inline holds its connection's reader this long at
 * most: then the timer reads on (cancel frames, parallel calls). */
#define SRV_INLINE_NS 2000000

/* One object (srv_objects.c).  Counted: the table holds one reference
 * while the object is in it, each call in progress one more. */
typedef struct srv_object {
  struct srv_object *hnext; /* hash chain */
  char *name;
  size_t name_len;
  uint32_t hash;
  const plumb_interface *iface;
  const void *impl;
  void *ctx;
  void (*destroy)(void *ctx);
  atomic_uint refs;
  int anon; /* named by the server (a capability): never listed */
  unsigned flags; /* PLUMB_OBJECT_* */
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
  /* Did the last read right after a call find the next request (a peer on
   * our CPU often has sent it by then)?  Else, on rx_level transports, the
   * reader skips that read, trying it again every 16th call. */
  unsigned rx_after_miss, rx_after_n;
  /* Edge-triggered (the transport has rx_state; srv_conn.c): conn_fd is
   * registered EPOLLIN | EPOLLET while edge_armed, so parking costs no
   * epoll_ctl.  An event that finds sc owned sets dirty (server.c), and
   * the owner looks at dirty after it parks: no wake-up is lost. */
  int edge;
  int edge_armed;         /* the registration is EPOLLIN | EPOLLET now */
  _Atomic int dirty;      /* an event arrived since the owner last read */
  /* An event said the peer hung up (EPOLLRDHUP / EPOLLHUP / EPOLLERR): a
   * short read no longer means drained - its end of file may have come
   * in the same edge as the last bytes - so the owner reads on until the
   * read fails or finds the end. */
  _Atomic int hup;
  /* Corked (transport.h cork(), srv_conn.c): the owner serves frames it
   * read in one go, and their replies leave together once it uncorks. */
  int corked;
  int64_t inline_ns;      /* how long the last call run inline took */
  int64_t blocked_since;  /* first reply that had to wait; 0 = none */
  int64_t retry_ms;       /* write_wait()==ENOTSUP: current retry interval */
  int64_t partial_since;  /* a frame began arriving; 0 = none */
  _Atomic int64_t next_check; /* the timer's next look at it; 0 = none */
  srv_conn_calls calls;   /* its calls in flight (srv_calls.h), under mu */
} srv_conn;

struct plumb_server {
  uint32_t max_frame;
  unsigned mode;
  unsigned workers;
  plumb__access access; /* from the opts (access.set = 0: none given) */
  /* the object table (srv_objects.c) */
  pthread_rwlock_t obj_lock;
  srv_object **obj_tab;
  size_t obj_cap, n_objs;
  srv_object *default_obj; /* the first object added, until removed */
  int had_default;
  srv_listener *listeners;
  pthread_mutex_t mu; /* guards conns and listeners */
  srv_conn *conns;
  int epfd;
  int stop_kind; /* SRV_STOP; its address is the stop fd's epoll data */
  int stopfd;
  atomic_int stopping;
  plumb__decode_limits dec_limits; /* request bodies (decode.h) */
  plumb__decode_pool dec_pool;     /* max_decode_memory */
  plumb__rx_pool rx_pool;          /* max_rx_memory: partial frames */
  _Atomic int64_t rx_log_next;     /* "receive memory full": rate limit */
  atomic_uint rx_log_quiet;        /* drops not reported since */
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
  /* the watchdog of inline calls (srv_watchdog.c) */
  int wd_kind;          /* SRV_WATCHDOG; its address is wdfd's data */
  int wdfd;             /* periodic timerfd, edge-triggered; -1 = none */
  atomic_int wd_on;     /* wdfd is ticking */
  atomic_int wd_seen;   /* a call went inline since the last tick */
  int no_introspection;     /* introspect.c: _plumb.introspect off */
  struct timespec started;  /* CLOCK_MONOTONIC at plumb_server_new */
  atomic_uint_fast64_t calls_served; /* operations found and run */
  srv_calls calls;      /* calls in flight, run queue (srv_calls.h) */
};

/* Per-worker reusable state. */
typedef struct srv_worker {
  plumb_server *s;
  pthread_t tid;
  plumb_arena *arena;
  plumb_buf rx;
  plumb_buf tx;
  srv_call *mine; /* a ready call this worker runs next (srv_calls.c) */
  srv_call *spare; /* the call it released last, kept for its next one
                    * (srv_calls.c: no pool lock round per call) */
  int id;         /* index in the pool: its SRV_INLINE state */
} srv_worker;

/* The queue limits of sc's server. */
static inline plumb__txq_limits
plumb__srv_limits(const srv_conn *sc)
{
  plumb_server *s = sc->srv;
  return (plumb__txq_limits){ s->conn_queue_bytes, s->conn_queue_frames,
                              s->server_queue_bytes, &s->queued };
}

/* server.c */
int plumb__srv_arm(plumb_server *s, int fd, void *item, int op);

/* srv_objects.c: get() counts a reference (len 0 = the default object),
 * put() drops it; NULL if there is no such object. */
void plumb__srv_objects_init(plumb_server *s);
void plumb__srv_objects_free(plumb_server *s);
srv_object *plumb__srv_object_get(plumb_server *s, const char *name,
                                  size_t len);
void plumb__srv_object_put(srv_object *ob);

/* srv_sysexc.c: answers req with a system exception (kind 7). */
int plumb__srv_send_sysexc(srv_conn *sc, const plumb__frame *req, int code,
                           uint32_t minor, int completed, int status,
                           const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* srv_conn.c */
void plumb__srv_accept_all(plumb_server *s, srv_listener *sl);
void plumb__srv_serve_conn(srv_worker *w, srv_conn *sc);
void plumb__srv_conn_drop(plumb_server *s, srv_conn *sc);
/* The end of a drop once no call of sc is alive: back to the pool. */
void plumb__srv_conn_free(plumb_server *s, srv_conn *sc);

/* srv_flow.c */
void plumb__srv_timer_want(plumb_server *s, int64_t at);
void plumb__srv_timer_tick(srv_worker *w);
int plumb__srv_park_write(plumb_server *s, srv_conn *sc, int64_t now);
int plumb__srv_check_partial(plumb_server *s, srv_conn *sc);
/* Logs that sc is dropped because the receive budget (max_rx_memory) is
 * full: at most one line a second, with the count of those not reported. */
void plumb__srv_log_rx_full(plumb_server *s, const srv_conn *sc);

/* srv_watchdog.c */
int plumb__srv_wd_init(plumb_server *s);
void plumb__srv_wd_fini(plumb_server *s);
/* A call goes inline (after its SRV_INLINE state is stored). */
void plumb__srv_wd_start(plumb_server *s);
void plumb__srv_wd_tick(srv_worker *w);

/* srv_reply.c */
int plumb__srv_send(srv_conn *sc, const plumb__frame *req, int kind,
                    int32_t status, const char *text, size_t text_len,
                    const uint8_t *body, size_t body_len);
/* plumb__srv_send with the body in pieces: body[0..nbody), at most
 * PLUMB__BIG_IOV of them. */
int plumb__srv_sendv(srv_conn *sc, const plumb__frame *req, int kind,
                     int32_t status, const char *text, size_t text_len,
                     const struct iovec *body, int nbody);
int plumb__srv_send_error(srv_conn *sc, const plumb__frame *req, int status,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* srv_dispatch.c */
int plumb__srv_serve_frame(srv_worker *w, srv_conn *sc);

#endif
