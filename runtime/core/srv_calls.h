/* srv_calls.h - the calls a server has in flight (internal; docs/RUNTIME.md,
 * "The call model").
 *
 * A request read from a connection becomes a srv_call (pooled: its own
 * arena, receive and send buffers), joins its connection's live list and
 * wait list, and moves to the server's run queue once the ordering rule
 * lets it start; any worker runs it (srv_dispatch.c) and answers under the
 * connection's lock.  srv_calls.c owns the lists, the pool, the run queue,
 * cancellation and the connection's lifetime while calls are alive.
 *
 * Locks: a connection's lists live under its srv_conn.mu; the run queue
 * and the pool under srv_calls.mu, always taken after (never while
 * waiting for) a connection's.
 */
#ifndef PLUMB_SRV_CALLS_H
#define PLUMB_SRV_CALLS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bigbytes.h"
#include "call.h"
#include "frame.h"
#include "transport.h"

#define SRV_CONN_MAX_CALLS 16u /* plumb_server_opts.conn_max_calls */
#define SRV_CALL_POOL_MAX 256u /* idle srv_calls kept for reuse */
#define SRV_SERIAL_LOCKS 8u    /* PLUMB_OBJECT_SERIALIZE lock stripes */
#define SRV_CALLS_BATCH 64     /* queued calls a worker runs per wake-up */

struct srv_conn;
struct srv_worker;
struct plumb_server;

enum {
  SRV_CALL_WAITING = 1, /* in its connection's wait list */
  SRV_CALL_READY        /* started: queued, running or deferred */
};
/* srv_call.dstate: who finishes a deferred call (call_defer.c).  The
 * handler's worker and the completing thread race; a swap decides. */
enum {
  SRV_DEFER_NONE = 0, /* not deferred, or the handler still runs */
  SRV_DEFER_HELD,     /* the handler returned: the completer finishes */
  SRV_DEFER_DONE,     /* completed before the handler returned: its
                         worker finishes (or, from HELD: the completer
                         answers) */
  SRV_DEFER_ENDED     /* from HELD: the server stopped and answered it
                         (plumb__srv_defer_stop); the completer releases */
};

typedef struct srv_call {
  struct srv_call *next;         /* wait list, run queue or pool */
  struct srv_call *lprev, *lnext; /* the connection's live list */
  struct srv_conn *sc;
  int state;             /* SRV_CALL_*, under sc->mu */
  _Atomic int dstate;    /* SRV_DEFER_* */
  int oneway;
  _Atomic int cancelled; /* CANCEL frame, or the connection went away */
  int64_t deadline;      /* CLOCK_MONOTONIC ns; 0 = none */
  int64_t arrived;       /* when it was read */
  int fresh;             /* kept by its reader to run next (srv_calls.c):
                            `arrived` is still "now" when it starts */
  plumb__frame f;        /* points into rx */
  plumb_buf rx;          /* the request (swapped with the reader's) */
  plumb_buf tx;          /* the packed reply */
  plumb_arena *arena;    /* decoded request, reply, handler's memory */
  size_t taken;          /* decode pool bytes to give back */
  struct srv_object *obj; /* counted while the call lives (srv_objects.c) */
  const plumb_operation *op;
  ProtobufCMessage *rep;
  struct plumb_call call;
  /* the answer, prepared outside the lock (plumb__srv_call_prepare) */
  int ans_kind;          /* PLUMB__FRAME_REPLY/EXCEPTION/SYSEXC; 0 = none */
  int32_t ans_status;
  int ans_code;          /* SYSEXC: plumb_sys_code, minor, completion */
  uint32_t ans_minor;
  int ans_completed;
  const char *ans_text;
  size_t ans_text_len;
  const uint8_t *ans_body;
  size_t ans_body_len;
  plumb__scatter ans_sc;  /* a reply's big fields, by reference (n = 0:
                             none; then ans_body is the whole body) */
  char ans_msg[256];     /* an error's text */
} srv_call;

/* A connection's calls (in srv_conn, under its mu). */
typedef struct srv_conn_calls {
  srv_call *wait_head, *wait_tail; /* not started yet, in arrival order */
  srv_call *live;   /* every call not yet released */
  unsigned n;       /* calls in live */
  int oneway_busy;  /* a oneway is ready or running: later calls wait */
  int throttled;    /* reading paused at conn_max_calls */
  int closed;       /* dropped: answer nothing; the last call frees it */
  int dropping;     /* plumb__srv_conn_drop still works on it: nobody
                       frees it until plumb__srv_calls_closed says so */
} srv_conn_calls;

/* The server's (in plumb_server). */
typedef struct srv_calls {
  pthread_mutex_t mu;
  srv_call *head, *tail; /* ready to run, oldest first */
  int efd;               /* EFD_SEMAPHORE: one count per ready call */
  int kind;              /* SRV_CALLS: the efd's epoll data */
  srv_call *pool;
  unsigned pooled;
  unsigned conn_max;     /* conn_max_calls */
  atomic_uint live;      /* calls not released, every connection */
  /* Workers running calls: at most workers - 1 with 3 or more workers,
   * so one is always free to read and CANCELs are acted on while handlers
   * hold every other worker.  A worker that finds no slot leaves the efd
   * disarmed (efd_held); the next one to leave a slot re-arms it. */
  atomic_uint busy;
  atomic_int efd_held;
  pthread_mutex_t serial[SRV_SERIAL_LOCKS];
} srv_calls;

/* server.c's hooks */
int plumb__srv_calls_init(struct plumb_server *s, unsigned conn_max);
void plumb__srv_calls_fini(struct plumb_server *s);
/* A worker took the efd event: runs one ready call (and re-arms the efd). */
void plumb__srv_calls_event(struct srv_worker *w);
/* Runs the call a worker kept for itself (see srv_call_start), if any. */
void plumb__srv_calls_run_mine(struct srv_worker *w);
/* After the workers stopped: releases every call still queued. */
void plumb__srv_calls_drain(struct plumb_server *s);
/* A worker's spare call back to the pool (after it stopped). */
void plumb__srv_calls_worker_done(struct plumb_server *s,
                                  struct srv_worker *w);

/* config.c: plumb.conf conn_max_calls (n > 0; before plumb_server_run). */
void plumb__server_set_conn_max_calls(struct plumb_server *s, unsigned n);

/* srv_conn.c's hooks (sc->mu held unless said otherwise) */
/* Non-zero when sc has more than conn_max_calls calls (the limit, plus the
 * request that went past it): stop reading it.  It is then marked
 * throttled, and the call that brings it back to the limit resumes it. */
int plumb__srv_calls_full(struct srv_conn *sc);
/* The connection is being dropped (sc->mu NOT held): cancels its calls.
 * Until plumb__srv_calls_closed, no call frees sc, even its last one (the
 * drop still uses sc and its transport connection). */
void plumb__srv_calls_close(struct plumb_server *s, struct srv_conn *sc);
/* The drop is done with sc: returns non-zero if calls are still alive -
 * the last one to be released then calls plumb__srv_conn_free - and zero
 * if the caller frees sc now. */
int plumb__srv_calls_closed(struct srv_conn *sc);

/* srv_dispatch.c's hooks */
/* A request or oneway frame f, just read into w->rx: takes the buffer and
 * queues the call.  PLUMB_OK, or PLUMB_ENOMEM (answered already). */
int plumb__srv_calls_admit(struct srv_worker *w, struct srv_conn *sc,
                           const plumb__frame *f);
/* A CANCEL frame for call_id. */
void plumb__srv_calls_cancel(struct srv_conn *sc, uint32_t call_id);
/* Takes sc->mu for an answer: returns 0 (lock not held) if the call is
 * cancelled or its connection closed - nothing is to be sent. */
int plumb__srv_call_lock_answer(srv_call *c);
/* Releases sc->mu after an answer sent with status st (an error breaks the
 * connection) and hands it to the timer if the answer had to be queued. */
void plumb__srv_call_unlock_answer(srv_call *c, int st);
/* The call is over (answered, dropped or completed): returns it to the
 * pool and lets the calls waiting behind it start. */
void plumb__srv_call_release(struct srv_worker *w, srv_call *c);
/* plumb__srv_call_unlock_answer and plumb__srv_call_release in one round
 * of sc->mu (held from plumb__srv_call_lock_answer). */
void plumb__srv_call_unlock_answer_release(struct srv_worker *w,
                                           srv_call *c, int st);
/* Runs a ready call (srv_dispatch.c). */
void plumb__srv_call_run(struct srv_worker *w, srv_call *c);
/* Prepares c's answer to outcome st of its handler (rep: the reply message
 * for PLUMB_OK), packing it in c->tx; no lock needed (srv_dispatch.c). */
void plumb__srv_call_prepare(srv_call *c, int st, const ProtobufCMessage *rep);
/* The same, but a reply's big bytes fields (bigbytes.h) stay where they
 * are until plumb__srv_call_send, which must follow before they change
 * (the worker that ran the handler, right after it returned). */
void plumb__srv_call_prepare_ref(srv_call *c, int st,
                                 const ProtobufCMessage *rep);
/* Sends the prepared answer: PLUMB_OK, PLUMB_ECLOSED if nobody is left
 * to answer, or the send error (the connection is then shut down). */
int plumb__srv_call_send(srv_call *c);

/* call_defer.c: the end of plumb_server_run (its workers joined, before
 * its connections close) answers the deferred calls still held with
 * TRANSIENT and flags them cancelled for their holders; plumb_server_free
 * then waits (up to PLUMB__DEFER_FREE_WAIT_MS) for them to be completed:
 * 0 when none is left, -1 if some still are (the server must then stay
 * allocated: their completion will touch it). */
#define PLUMB__DEFER_FREE_WAIT_MS 10000
void plumb__srv_defer_stop(struct plumb_server *s);
int plumb__srv_defer_wait(struct plumb_server *s, int ms);

/* srv_serial.c */
pthread_mutex_t *plumb__srv_serial_lock(struct plumb_server *s,
                                        const char *name);

#endif
