/* call_defer.c - deferred replies (docs/RUNTIME.md, "The call model"): a
 * handler takes its call with plumb_call_defer() and returns
 * PLUMB_DEFERRED; any thread completes it later with
 * plumb_deferred_complete() (or a generated _reply / _raise_X helper).
 *
 * The handler's worker and the completing thread may race (a completion
 * from another thread can come before the handler has even returned):
 * srv_call.dstate decides with one swap who sends the answer and releases
 * the call (srv_dispatch.c's side is in plumb__srv_call_run).
 *
 * Also what becomes of deferred calls still held when the server stops
 * (plumb__srv_defer_stop: answered TRANSIENT, flagged cancelled) and is
 * freed (plumb__srv_defer_wait: their completion is awaited).
 */
#include <stdatomic.h>
#include <time.h>

#include "call.h"
#include "log.h"
#include "plumb/call.h"
#include "plumb/sysexc.h"
#include "server_int.h"

plumb_deferred *
plumb_call_defer(plumb_call *call)
{
  if (call == NULL || call->sv == NULL || call->deferred || call->sv->oneway)
    return NULL;
  call->deferred = 1;
  return (plumb_deferred *)call->sv;
}

plumb_call *
plumb_deferred_call(plumb_deferred *d)
{
  return d != NULL ? &((srv_call *)d)->call : NULL;
}

ProtobufCMessage *
plumb_deferred_reply(plumb_deferred *d)
{
  return d != NULL ? ((srv_call *)d)->rep : NULL;
}

int
plumb_deferred_cancelled(const plumb_deferred *d)
{
  return d != NULL && atomic_load(&((const srv_call *)d)->cancelled);
}

int
plumb_deferred_complete(plumb_deferred *d, int status,
                        const ProtobufCMessage *reply)
{
  srv_call *c = (srv_call *)d;

  if (c == NULL)
    return PLUMB_EINVAL;
  if (status == PLUMB_DEFERRED)
    status = plumb_call_fail(&c->call, PLUMB_ESERVER, "completed with "
                             "PLUMB_DEFERRED");
  /* Packed now: reply may live on the completer's stack. */
  plumb__srv_call_prepare(c, status, reply != NULL ? reply : c->rep);
  int st = c->ans_kind == PLUMB__FRAME_SYSEXC && status == PLUMB_OK
               ? c->ans_status : PLUMB_OK; /* e.g. ETOOBIG */
  int none = SRV_DEFER_NONE;
  if (atomic_compare_exchange_strong(&c->dstate, &none, SRV_DEFER_DONE)) {
    /* The handler has not returned yet: its worker sends - nothing, if
     * the call is cancelled (a CANCEL, or the client went away), which
     * the completer is told as it would be below. */
    return atomic_load(&c->cancelled) && st == PLUMB_OK ? PLUMB_ECLOSED : st;
  }
  int held = SRV_DEFER_HELD;
  if (!atomic_compare_exchange_strong(&c->dstate, &held, SRV_DEFER_DONE)) {
    /* ENDED: the server stopped and answered it already. */
    plumb__srv_call_release(NULL, c);
    return PLUMB_ECLOSED;
  }
  int sent = plumb__srv_call_send(c);
  plumb__srv_call_release(NULL, c);
  return st != PLUMB_OK ? st : sent == PLUMB_OK ? PLUMB_OK : PLUMB_ECLOSED;
}

/* ---- when the server stops ------------------------------------------- */

void
plumb__srv_defer_stop(plumb_server *s)
{
  unsigned n = 0;

  /* The workers are gone: only completers (sc->mu, never s->mu) race. */
  pthread_mutex_lock(&s->mu);
  for (srv_conn *sc = s->conns; sc != NULL; sc = sc->next) {
    pthread_mutex_lock(&sc->mu);
    for (srv_call *c = sc->calls.live; c != NULL; c = c->lnext) {
      int held = SRV_DEFER_HELD;
      if (c->oneway || sc->calls.closed || atomic_load(&c->cancelled) ||
          !atomic_compare_exchange_strong(&c->dstate, &held,
                                          SRV_DEFER_ENDED))
        continue; /* not held, not wanted, or being completed now */
      atomic_store(&c->cancelled, 1); /* the holder is told */
      /* Best effort, as any answer: straight out or into the reply
       * queue, which the connection's close then discards. */
      (void)plumb__srv_send_sysexc(sc, &c->f, PLUMB_SYS_TRANSIENT, 0,
                                   PLUMB_COMPLETED_MAYBE, PLUMB_EAGAIN,
                                   "the server stopped before the deferred "
                                   "call was completed");
      n++;
    }
    pthread_mutex_unlock(&sc->mu);
  }
  pthread_mutex_unlock(&s->mu);
  if (n != 0)
    plumb__log(PLUMB__LOG_INFO, "server stopping: %u deferred calls not "
               "completed were answered TRANSIENT", n);
}

int
plumb__srv_defer_wait(plumb_server *s, int ms)
{
  unsigned live = atomic_load(&s->calls.live);
  if (live == 0)
    return 0;
  plumb__log(PLUMB__LOG_INFO, "server freed: waiting up to %d ms for %u "
             "deferred calls to be completed (they read as cancelled)", ms,
             live);
  int64_t end = plumb__now_ns() + (int64_t)ms * 1000000;
  struct timespec ts = { 0, 1000000 };
  while (atomic_load(&s->calls.live) != 0) {
    if (plumb__now_ns() >= end) {
      plumb__log(PLUMB__LOG_ERROR, "server freed with %u deferred calls "
                 "still held after %d ms: its memory stays allocated so "
                 "that their completion stays harmless",
                 atomic_load(&s->calls.live), ms);
      return -1;
    }
    nanosleep(&ts, NULL);
  }
  return 0;
}
