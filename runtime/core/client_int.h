/* client_int.h - the client handle's internals, shared by client.c (open,
 * close, synchronous calls, answer decoding), client_conn.c (the
 * connection: dialling, reconnection, the reply reader, waiting) and
 * client_pending.c (asynchronous calls: the pending pool, the completion
 * fd, dispatch, cancel).  Core-internal.
 *
 * Locking: c->mu guards everything in plumb_client below it and every
 * plumb_pending's state; c->send_mu serialises sends (one frame at a time
 * per connection).  Never take mu while holding send_mu... except through
 * the order send_mu -> (nothing): send_mu is only held around tr->send.
 */
#ifndef PLUMB_CLIENT_INT_H
#define PLUMB_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "plumb/async.h"
#include "plumb/generated.h"
#include "bigbytes.h"
#include "frame.h"
#include "transport.h"

/* Reconnection backoff after a failed re-dial: 10 ms doubling to 1 s. */
#define PLUMB__RECONNECT_MIN_MS 10
#define PLUMB__RECONNECT_MAX_MS 1000
/* Buckets of the call-id table (a power of two). */
#define PLUMB__CLIENT_BUCKETS 1024u
/* A connection idle this long is checked before a call is sent on it. */
#define PLUMB__IDLE_CHECK_NS (100 * 1000000LL)
/* Whether a synchronous call whose deadline passed sends a CANCEL frame.
 * Servers before the call-model server half drop a connection that sends
 * one, so this stays 0 until that half is on main (then flip it to 1);
 * plumb__client_set_cancel_on_timeout() sets it per handle for tests. */
#define PLUMB__CANCEL_ON_TIMEOUT_DEFAULT 0

/* One dialled connection.  refs: 1 while it is the client's current
 * connection, plus one per thread inside send() or recv() on it; closed
 * when the count drops to 0. */
typedef struct client_conn {
  plumb_conn *tc;
  int refs;
  int broken;
  int fd_added; /* its fd (below) is in c->epfd */
  int fd;
  uint32_t gen;
} client_conn;

enum { PEND_IDLE, PEND_INFLIGHT, PEND_DONE };

struct plumb_pending {
  plumb_client *c;
  plumb_pending *hnext;   /* call-id bucket chain (in flight) */
  plumb_pending *lnext;   /* inflight list / free pool */
  plumb_pending *lprev;
  plumb_pending *dnext;   /* callback queue */
  const plumb_operation *op;
  uint32_t id;
  uint32_t gen;           /* connection it was sent on */
  int state;
  int status;             /* when done: PLUMB_OK = an answer in buf */
  int async;              /* 1: from the pool (else a sync caller's stack) */
  int queued;             /* on the callback queue */
  int cb_ran;             /* its callback was run */
  int intable;            /* in the call-id table */
  plumb_pending *anext;   /* every async pending of the client */
  int64_t deadline;
  plumb_pending_cb cb;
  void *user;
  plumb_buf buf;          /* the answer frame, swapped in by the reader */
};

struct plumb_client {
  const plumb_transport *tr;
  char *endpoint;
  const char *rest;       /* into endpoint: after the scheme */
  plumb_tran_opts topts;
  char *object;
  uint16_t object_len;
  uint32_t max_frame;
  uint32_t max_pending;
  int no_reconnect;
  int cancel_on_timeout;
  _Atomic int64_t timeout_ms;

  pthread_mutex_t send_mu;
  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cv;  /* reader role freed, a call completed, users left */
  int cv_waiters;     /* threads in plumb__client_cv_wait: no broadcast
                       * while there are none (most calls) */
  client_conn *cur;   /* NULL: no connection (broken, or re-dial failed) */
  uint32_t gen;       /* generation of the last connection */
  int closing;
  int dialing;
  int last_status;    /* why cur is NULL */
  int64_t backoff_ms;
  int64_t next_dial_ns;
  int reader_active;
  int users;          /* threads inside a call on this handle */
  uint32_t next_id;
  uint32_t n_pending; /* calls in the id table */
  uint32_t begins;    /* plumb_invoke_begin calls (client_pending.c) */
  plumb_pending *buckets[PLUMB__CLIENT_BUCKETS];
  plumb_pending *inflight;  /* async calls in flight (deadline scan) */
  plumb_pending *pool;      /* free async pendings */
  plumb_pending *cbq_head, *cbq_tail;
  int n_async;              /* async pendings not freed by the user */
  plumb_buf rx;       /* the reader's receive buffer */
  /* completion fd (lazy): epoll set of efd, the connection fd, tfd */
  int epfd, efd, tfd;
  int efd_signalled;
  int in_dispatch;    /* a dispatch is reading: no need to signal */
  plumb_pending *reading_for; /* the call the active reader waits for */
  int64_t timer_at;   /* earliest async deadline, 0 = none */
  int64_t tfd_at;     /* what tfd is armed for, 0 = not */
  int64_t last_rx_ns; /* last frame received (idle check) */
  plumb_pending *all; /* every async pending (freed at close) */
  char last_error[256];
};

/* client.c */
void plumb__client_set_error(plumb_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Decodes the answer frame in p->buf into *rep / the arena's exception. */
int plumb__client_decode(plumb_client *c, const plumb_operation *o,
                         plumb_buf *buf, ProtobufCMessage **rep,
                         plumb_arena *arena);
/* The thread's deadline for its next call through c (consumes a
 * plumb_client_next_timeout); *now = the clock it was computed from (0
 * with no deadline), which client_start hands on to sendv. */
int64_t plumb__client_take_deadline(plumb_client *c, int64_t *now);
/* Sends one frame (header for f, the object name if with_object, body) on
 * cc, with the DEADLINE flag when deadline is not FOREVER; breaks cc if the
 * send failed for good.  reading: read answers while waiting for room
 * (async callers).  Holds nothing. */
int plumb__client_send(plumb_client *c, client_conn *cc, plumb__frame *f,
                       int with_object, const void *body, size_t body_len,
                       int64_t deadline, int reading);
/* The same with the body in pieces, body[0..nbody) (at most
 * PLUMB__BIG_IOV: a scatter's, bigbytes.h).  now: the clock the remaining
 * time in the header is counted from, 0 = read it here. */
int plumb__client_sendv(plumb_client *c, client_conn *cc, plumb__frame *f,
                        int with_object, const struct iovec *body, int nbody,
                        int64_t deadline, int64_t now, int reading);
/* Prepares and sends the request for o on *pp (p->id etc. filled in, p
 * in the id table unless oneway).  *pp == NULL (async): a pending is
 * taken from the pool in the same critical section and left in *pp, also
 * when the call then fails (the caller frees it).  Holds nothing, except
 * with `hold` when a two-way call was sent (PLUMB_OK): then it returns
 * with c->mu held and the caller still counted in c->users, ready for
 * plumb__client_wait (the sync path: one lock round per call less). */
int plumb__client_start(plumb_client *c, const plumb_operation *o,
                        const ProtobufCMessage *req, plumb_pending **pp,
                        int64_t deadline, int64_t now, int hold);
/* The calling thread's scratch arena (reset), or NULL. */
plumb_arena *plumb__client_scratch(void);
/* The calling thread's receive buffer (sync calls lend it to the reader;
 * _finish decodes an async answer in it), or NULL. */
plumb_buf *plumb__client_rxbuf(void);
/* Releases an over-large thread buffer after a call. */
void plumb__client_buf_trim(plumb_buf *b);

/* client_conn.c (all with c->mu held unless said otherwise) */
/* Makes tc the current connection. */
int plumb__conn_install(plumb_client *c, plumb_conn *tc);
/* Takes a ref on a usable connection, re-dialling if needed (may drop and
 * retake mu while dialling). */
int plumb__conn_get(plumb_client *c, int64_t deadline, client_conn **out);
void plumb__conn_put(plumb_client *c, client_conn *cc);
/* Marks cc broken and fails every call sent on it with status. */
void plumb__conn_break(plumb_client *c, client_conn *cc, int status,
                       const char *why);
/* Reads answers until p is done or deadline (leader/follower).  With
 * deadline PLUMB_NOWAIT: reads what is there, never blocks. */
void plumb__client_wait(plumb_client *c, plumb_pending *p, int64_t deadline);
/* Reads the answers already there if no one else is reading. */
void plumb__client_read_ready(plumb_client *c);
/* c->cv, always under c->mu: waits are counted so that a wake-up with
 * nobody waiting (four per call otherwise) costs nothing. */
static inline void
plumb__client_cv_wait(plumb_client *c)
{
  c->cv_waiters++;
  pthread_cond_wait(&c->cv, &c->mu);
  c->cv_waiters--;
}

static inline int
plumb__client_cv_timedwait(plumb_client *c, const struct timespec *ts)
{
  c->cv_waiters++;
  int rc = pthread_cond_timedwait(&c->cv, &c->mu, ts);
  c->cv_waiters--;
  return rc;
}

static inline void
plumb__client_wake(plumb_client *c)
{
  if (c->cv_waiters != 0)
    pthread_cond_broadcast(&c->cv);
}

/* Call-id table. */
void plumb__pend_insert(plumb_client *c, plumb_pending *p);
void plumb__pend_remove(plumb_client *c, plumb_pending *p);
/* Marks p done with status (an answer already in p->buf for PLUMB_OK),
 * waking whoever waits for it. */
void plumb__pend_complete(plumb_client *c, plumb_pending *p, int status);
/* Sends a CANCEL for p (id, op); does not wait for room.  Holds nothing. */
void plumb__client_send_cancel(plumb_client *c, uint32_t id,
                               const plumb_operation *op);
/* The completion fd's parts (lazy). */
int plumb__client_fd_setup(plumb_client *c);
void plumb__client_fd_conn(plumb_client *c, client_conn *cc, int add);
void plumb__client_signal(plumb_client *c);
void plumb__client_arm_timer(plumb_client *c, int64_t deadline);

/* client_pending.c */
void plumb__pending_pool_free(plumb_client *c);
/* A pending from the pool (or new) for plumb_invoke_begin, after reading
 * the answers already there now and then; holds mu.  NULL: no memory. */
plumb_pending *plumb__pending_take(plumb_client *c);
/* Completes async calls whose deadline passed; holds mu.  Up to max of
 * them are returned in ids/ops for CANCEL frames (sent by the caller
 * after unlocking). */
int plumb__pending_expire(plumb_client *c, int64_t now, uint32_t *ids,
                          const plumb_operation **ops, int max);

/* For tests: whether a timed-out sync call sends CANCEL on this handle. */
void plumb__client_set_cancel_on_timeout(plumb_client *c, int on);

#endif
