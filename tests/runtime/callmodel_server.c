/* callmodel_server.c - the server process test_callmodel.c starts: serves
 * test::Echo as "calc" (the default object) and, with
 * PLUMB_OBJECT_SERIALIZE, as "serial", on the endpoint given, with 8
 * workers and conn_max_calls 16, until SIGTERM.  Its handlers count what
 * the tests check from outside:
 *   add, div, count       as test_server.c; count returns the last note
 *   nap(ms, b)            sleeps ms (wall time) in 2 ms steps, stops early
 *                         if the call is cancelled (cancel_seen), returns
 *                         b; tracks how many naps of an object run at once
 *                         (max_conc).  ms < 0: a rendezvous - waits until
 *                         -ms naps of the object have run at once
 *                         (max_conc, 5 s at most), returns b if they did,
 *                         else -1 (tests assert on the event, not on time)
 *   note(a, b) oneway     a must be the previous note + 1 (else
 *                         order_err); sleeps b microseconds
 *   echo(s)               commands: "stats", "reset", "deadline" (the
 *                         remaining ms), "defer:MS" (answered MS later from
 *                         another thread), "defer-now" (completed from
 *                         another thread before the handler returns),
 *                         "defer-wait" (waits up to 3 s for a cancel, then
 *                         completes), "defer-hold" (completed from another
 *                         thread once "release" is called, 5 s at most), "allocs" (malloc calls so far in
 *                         this process: bench/alloc_count.c), "chain"
 *                         (calls echo "deadline" on this same server
 *                         through a client of its own, passing on what is
 *                         left of its deadline: A -> B -> C, with B = C)
 * Every handler but "stats"/"reset" counts itself in `started`. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CM_ALLOC_COUNT
#include "alloc_count.h"
#else
static unsigned long long
bench_allocs(void)
{
  return 0; /* not counted under the sanitizers: "allocs" answers 0 */
}
#endif
#include "serve.h"
#include "testif.h"

typedef struct obj_stats {
  atomic_int conc, max_conc;
} obj_stats;

static obj_stats calc_stats, serial_stats;
static atomic_int started, cancel_seen, order_err, def_sent, def_dropped,
    def_cancel_seen, hold_gen;
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *self_ep; /* our endpoint, for "chain" */
static int note_seq;

static void
sleep_us(long us)
{
  struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
  nanosleep(&ts, NULL);
}

static int
srv_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  (void)call;
  atomic_fetch_add(&started, 1);
  *ret = a + b;
  return PLUMB_OK;
}

static int
srv_div(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  atomic_fetch_add(&started, 1);
  if (b == 0) {
    test_DivByZero e;
    test_div_by_zero_descriptor.message_init((ProtobufCMessage *)&e);
    e.msg = (char *)"division by zero";
    e.num = a;
    return plumb_call_raise(call, &test_DivByZero_type, &e);
  }
  *ret = a / b;
  return PLUMB_OK;
}

static int
srv_note(void *ctx, plumb_call *call, int32_t a, int32_t b)
{
  (void)ctx;
  (void)call;
  atomic_fetch_add(&started, 1);
  pthread_mutex_lock(&note_mu);
  if (a != note_seq + 1)
    atomic_fetch_add(&order_err, 1);
  note_seq = a;
  pthread_mutex_unlock(&note_mu);
  if (b > 0)
    sleep_us(b);
  return PLUMB_OK;
}

static int
srv_count(void *ctx, plumb_call *call, int32_t *ret)
{
  (void)ctx;
  (void)call;
  atomic_fetch_add(&started, 1);
  pthread_mutex_lock(&note_mu);
  *ret = note_seq;
  pthread_mutex_unlock(&note_mu);
  return PLUMB_OK;
}

static int
srv_nap(void *ctx, plumb_call *call, int32_t ms, int32_t b, int32_t *ret)
{
  obj_stats *os = ctx;
  atomic_fetch_add(&started, 1);
  int now = atomic_fetch_add(&os->conc, 1) + 1;
  int max = atomic_load(&os->max_conc);
  while (now > max && !atomic_compare_exchange_weak(&os->max_conc, &max, now))
    ;
  if (ms < 0) { /* rendezvous: -ms naps of this object at once */
    int reached = 0;
    for (int i = 0; i < 2500 && !reached; i++) {
      if (plumb_call_cancelled(call)) {
        atomic_fetch_add(&cancel_seen, 1);
        break;
      }
      reached = atomic_load(&os->max_conc) >= -ms;
      if (!reached)
        sleep_us(2000);
    }
    atomic_fetch_sub(&os->conc, 1);
    *ret = reached ? b : -1;
    return PLUMB_OK;
  }
  /* ms of wall time, not ms/2 sleeps: on a busy machine each 2 ms sleep
   * overruns, and the parallel cases measure the calls, not the steps */
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    if (plumb_call_cancelled(call)) {
      atomic_fetch_add(&cancel_seen, 1);
      break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long left = (long long)ms * 1000 -
                     ((t.tv_sec - t0.tv_sec) * 1000000LL +
                      (t.tv_nsec - t0.tv_nsec) / 1000);
    if (left <= 0)
      break;
    sleep_us(left < 2000 ? (long)left : 2000);
  }
  atomic_fetch_sub(&os->conc, 1);
  *ret = b;
  return PLUMB_OK;
}

/* ---- deferred replies ----------------------------------------------- */

typedef struct defer_job {
  plumb_deferred *d;
  int ms;   /* defer:MS */
  int wait; /* defer-wait */
  int hold; /* defer-hold: hold_gen when taken, +1 */
} defer_job;

static void
defer_finish(plumb_deferred *d)
{
  test_EchoRep *r = (test_EchoRep *)plumb_deferred_reply(d);
  r->ret = plumb_call_strdup(plumb_deferred_call(d), "deferred");
  int st = plumb_deferred_complete(d, PLUMB_OK, NULL);
  atomic_fetch_add(st == PLUMB_OK ? &def_sent : &def_dropped, 1);
}

static void *
defer_main(void *arg)
{
  defer_job *j = arg;
  if (j->wait) {
    for (int i = 0; i < 1500 && !plumb_deferred_cancelled(j->d); i++)
      sleep_us(2000);
    if (plumb_deferred_cancelled(j->d))
      atomic_fetch_add(&def_cancel_seen, 1);
  } else if (j->hold) {
    for (int i = 0; i < 2500 && atomic_load(&hold_gen) == j->hold - 1; i++)
      sleep_us(2000);
  } else {
    sleep_us((long)j->ms * 1000);
  }
  defer_finish(j->d);
  free(j);
  return NULL;
}

static int
srv_defer(plumb_call *call, int ms, int wait, int now, int hold)
{
  plumb_deferred *d = plumb_call_defer(call);
  if (d == NULL)
    return PLUMB_ESERVER;
  if (plumb_call_defer(call) != NULL) /* only once */
    return PLUMB_ESERVER;
  defer_job *j = calloc(1, sizeof(*j));
  pthread_t t;
  if (j == NULL)
    return PLUMB_ENOMEM; /* (a leak of d: never happens in the tests) */
  j->d = d;
  j->ms = ms;
  j->wait = wait;
  j->hold = hold ? atomic_load(&hold_gen) + 1 : 0;
  if (pthread_create(&t, NULL, defer_main, j) != 0)
    return PLUMB_ESYS;
  if (now) /* completed before this handler returns */
    pthread_join(t, NULL);
  else
    pthread_detach(t);
  return PLUMB_DEFERRED;
}

/* B in A -> B -> C: C's answer to "deadline", as "passed=P seen=S" (P: the
 * timeout B set, S: what C read). */
static int
srv_chain(plumb_call *call, char **ret)
{
  plumb_client *c;
  plumb_client_opts o = { .timeout_ms = 60000 }; /* longer than A's */
  char *seen = NULL, buf[96];
  int32_t pid;
  int st;
  if ((st = plumb_client_open(&c, self_ep, NULL, &o)) != PLUMB_OK)
    return st;
  int64_t passed = plumb_call_pass_deadline(call, c);
  st = test_Echo_echo(c, "deadline", &seen, &pid, plumb_call_arena(call));
  if (st == PLUMB_OK) {
    snprintf(buf, sizeof buf, "passed=%lld seen=%s", (long long)passed,
             seen ? seen : "?");
    *ret = plumb_call_strdup(call, buf);
  }
  plumb_client_close(c);
  return st;
}

static int
srv_echo(void *ctx, plumb_call *call, const char *s, char **ret)
{
  char buf[256];
  (void)ctx;
  if (strcmp(s, "stats") == 0) {
    snprintf(buf, sizeof buf, "started=%d cancel_seen=%d order_err=%d "
             "max_conc=%d serial_max_conc=%d def_sent=%d def_dropped=%d "
             "def_cancel_seen=%d", atomic_load(&started),
             atomic_load(&cancel_seen), atomic_load(&order_err),
             atomic_load(&calc_stats.max_conc),
             atomic_load(&serial_stats.max_conc), atomic_load(&def_sent),
             atomic_load(&def_dropped), atomic_load(&def_cancel_seen));
  } else if (strcmp(s, "allocs") == 0) {
    snprintf(buf, sizeof buf, "%llu", bench_allocs());
  } else if (strcmp(s, "reset") == 0) {
    atomic_store(&started, 0);
    atomic_store(&cancel_seen, 0);
    atomic_store(&order_err, 0);
    atomic_store(&calc_stats.max_conc, 0);
    atomic_store(&serial_stats.max_conc, 0);
    atomic_store(&def_sent, 0);
    atomic_store(&def_dropped, 0);
    atomic_store(&def_cancel_seen, 0);
    pthread_mutex_lock(&note_mu);
    note_seq = 0;
    pthread_mutex_unlock(&note_mu);
    snprintf(buf, sizeof buf, "ok");
  } else {
    atomic_fetch_add(&started, 1);
    if (strcmp(s, "deadline") == 0)
      snprintf(buf, sizeof buf, "%lld",
               (long long)plumb_call_remaining_ms(call));
    else if (strncmp(s, "defer:", 6) == 0)
      return srv_defer(call, atoi(s + 6), 0, 0, 0);
    else if (strcmp(s, "defer-now") == 0)
      return srv_defer(call, 0, 0, 1, 0);
    else if (strcmp(s, "defer-wait") == 0)
      return srv_defer(call, 0, 1, 0, 0);
    else if (strcmp(s, "defer-hold") == 0)
      return srv_defer(call, 0, 0, 0, 1);
    else if (strcmp(s, "release") == 0) {
      atomic_fetch_add(&hold_gen, 1); /* the held calls complete */
      snprintf(buf, sizeof buf, "released");
    }
    else if (strcmp(s, "chain") == 0)
      return srv_chain(call, ret);
    else
      snprintf(buf, sizeof buf, "%s", s);
  }
  *ret = plumb_call_strdup(call, buf);
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

static const test_Echo_ops impl = { srv_add, srv_div, srv_echo, srv_note,
                                    srv_count, srv_nap, NULL };

int
main(int argc, char **argv)
{
  plumb_server *s;
  plumb_server_opts o = { .workers = 8, .conn_max_calls = 16 };
  int code = 0;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 1;
  }
  if (plumb_server_new(&s, &o) != PLUMB_OK)
    return 1;
  if (plumb_server_add_object(s, "calc", &test_Echo_interface, &impl,
                              &calc_stats) != PLUMB_OK ||
      plumb_server_add_object(s, "serial", &test_Echo_interface, &impl,
                              &serial_stats) != PLUMB_OK ||
      plumb_server_object_flags(s, "serial", PLUMB_OBJECT_SERIALIZE) !=
          PLUMB_OK) {
    code = 1;
    goto out;
  }
  self_ep = argv[1];
  return ptest_serve(s, argv + 1, argc - 1);
out:
  plumb_server_free(s);
  return code;
}
