/* shm_ring.c - SPSC byte rings in shared memory, futexes on shared words and
 * the adaptive spinner of the shm transport (see shm_ring.h).
 *
 * Memory ordering: data is copied, then the position is stored (release
 * semantics, in fact seq_cst); the other side loads the position (acquire)
 * before touching the data.  Wake-ups use the Dekker pattern: the sleeper
 * stores its waiting flag and re-reads the word, the publisher stores the
 * word and reads the flag, both seq_cst, so at least one sees the other and
 * no wake-up is lost.  A futex syscall is made only when the flag is set.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm_ring.h"

#if defined(__x86_64__) || defined(__i386__)
#define shm_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define shm_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define shm_cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

int
plumb__shm_ring_readable(plumb__shm_ring *r, uint32_t *avail,
                         uint32_t *tail_seen)
{
  uint32_t tail, n = r->seen - r->pos;

  if (n != 0 && n <= r->size) { /* announced before, not yet read */
    *tail_seen = r->seen;
    *avail = n;
    return PLUMB_OK;
  }
  tail = atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
  n = tail - r->pos;
  *tail_seen = tail;
  if (n > r->size) {
    *avail = 0;
    return PLUMB_EPROTO;
  }
  r->seen = tail;
  *avail = n;
  return PLUMB_OK;
}

int
plumb__shm_ring_writable(plumb__shm_ring *r, uint32_t need, uint32_t *space,
                         uint32_t *head_seen)
{
  uint32_t head, used = r->pos - r->peer;

  if (used <= r->size && r->size - used >= need) {
    *head_seen = r->peer;
    *space = r->size - used;
    return PLUMB_OK;
  }
  head = atomic_load_explicit(&r->ctl->head, memory_order_acquire);
  used = r->pos - head;
  *head_seen = head;
  if (used > r->size) {
    *space = 0;
    return PLUMB_EPROTO;
  }
  r->peer = head;
  *space = r->size - used;
  return PLUMB_OK;
}

void
plumb__shm_ring_publish_head(plumb__shm_ring *r)
{
  r->pub = r->pos;
  atomic_store_explicit(&r->ctl->head, r->pos, memory_order_seq_cst);
  if (atomic_load_explicit(&r->ctl->prod_waiting, memory_order_seq_cst)) {
    atomic_store_explicit(&r->ctl->head_wake_ns, plumb__now_ns(),
                          memory_order_relaxed);
    plumb__futex_wake(&r->ctl->head, 1);
  }
}

void
plumb__shm_ring_release(plumb__shm_ring *r, int lazy)
{
  if (r->pos == r->pub)
    return;
  if (lazy && r->pos - r->pub < r->size / 16 &&
      atomic_load_explicit(&r->ctl->prod_waiting, memory_order_relaxed) == 0)
    return;
  plumb__shm_ring_publish_head(r);
}

void
plumb__shm_ring_publish_tail(plumb__shm_ring *r)
{
  uint32_t w;

  atomic_store_explicit(&r->ctl->tail, r->pos, memory_order_seq_cst);
  w = atomic_load_explicit(&r->ctl->cons_waiting, memory_order_seq_cst);
  if (w == PLUMB_SHM_WAIT_FUTEX) {
    atomic_store_explicit(&r->ctl->tail_wake_ns, plumb__now_ns(),
                          memory_order_relaxed);
    plumb__futex_wake(&r->ctl->tail, 1);
  } else if (w == PLUMB_SHM_WAIT_BELL && r->bell >= 0 &&
             atomic_exchange(&r->ctl->cons_waiting, 0) ==
                 PLUMB_SHM_WAIT_BELL) {
    (void)send(r->bell, "b", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

/* Futexes.  FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout,
 * which is exactly plumb's deadline.  No FUTEX_PRIVATE_FLAG: the words live
 * in memory shared between processes. */

int
plumb__futex_wait(_Atomic uint32_t *w, uint32_t expect, int64_t deadline)
{
  struct timespec ts, *tp = NULL;

  if (deadline != PLUMB_FOREVER) {
    if (deadline < 0)
      deadline = 0;
    ts.tv_sec = (time_t)(deadline / 1000000000);
    ts.tv_nsec = (long)(deadline % 1000000000);
    tp = &ts;
  }
  if (syscall(SYS_futex, (void *)w, FUTEX_WAIT_BITSET, expect, tp, NULL,
              FUTEX_BITSET_MATCH_ANY) == 0)
    return PLUMB_OK;
  switch (errno) {
  case EAGAIN:
  case EINTR:
    return PLUMB_OK;
  case ETIMEDOUT:
    return PLUMB_ETIMEDOUT;
  default:
    return PLUMB_ESYS;
  }
}

void
plumb__futex_wake(_Atomic uint32_t *w, int n)
{
  (void)syscall(SYS_futex, (void *)w, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* The spinner.
 *
 * A wait passes its budget in one of two ways before it sleeps: busy
 * (load, pause) when the peer runs on another CPU and spinners do not
 * outnumber the CPUs, or yielding (sched_yield, then look) when the peer
 * last ran on our CPU, or on a machine with one CPU.  A busy spin there
 * would only burn the time slice the peer needs; a futex sleep costs a
 * FUTEX_WAKE on the peer's side and a wake-up.  Yielding hands the CPU
 * straight to the runnable peer, which answers without any wake-up, so a
 * same-CPU round trip is two sched_yield calls and two context switches. */

#define SPIN_NONE 0
#define SPIN_BUSY 1
#define SPIN_YIELD 2

/* A yield that takes longer than this ran some third task: others compete
 * for this CPU, each yield would give them a whole slice (milliseconds),
 * so the next waits sleep on the futex instead (a woken sleeper is run
 * soon; a yielder goes last).  One slow yield costs what a thousand fast
 * ones save, so the penalty is long: SPIN_YIELD_PEN_MIN waits at first,
 * doubling with each slow yield up to SPIN_YIELD_PEN_MAX, halved (not
 * below the minimum) when the first yield after a penalty is fast. */
#define SPIN_YIELD_SLOW_NS 50000
#define SPIN_YIELD_PEN_MIN 256u
#define SPIN_YIELD_PEN_MAX 65536u

void
plumb__shm_spin_init(plumb__shm_spin *sp, int64_t max_us, const char *env,
                     _Atomic int32_t *my_cpu, const _Atomic int32_t *peer_cpu)
{
  if (env != NULL) {
    const char *e = getenv(env);
    if (e != NULL && *e != '\0') {
      char *end;
      long v = strtol(e, &end, 10);
      if (*end == '\0' && v >= 0 && v <= 100000)
        max_us = v;
    }
  }
  memset(sp, 0, sizeof(*sp));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  sp->ncpu = n < 1 ? 1 : n > INT32_MAX ? INT32_MAX : (int32_t)n;
  sp->max_ns = max_us * 1000;
  sp->budget_ns = sp->max_ns;
  sp->my_cpu = my_cpu;
  sp->peer_cpu = peer_cpu;
}

/* Decides after a wait how long the next one should spin. */
static void
spin_adapt(plumb__shm_spin *sp, int64_t waited, int won)
{
  if (sp->max_ns == 0)
    return;
  if (won) {
    /* Spinning paid: keep room for twice this wait. */
    int64_t want = 2 * waited;
    if (want > sp->budget_ns)
      sp->budget_ns = want < sp->max_ns ? want : sp->max_ns;
  } else if (waited < sp->max_ns) {
    /* A slightly longer spin would have caught it. */
    int64_t want = waited + waited / 2;
    if (want < 2 * sp->budget_ns)
      want = 2 * sp->budget_ns;
    sp->budget_ns = want < sp->max_ns ? want : sp->max_ns;
  } else {
    /* Long waits (idle peer): spinning does not pay, back off. */
    sp->budget_ns /= 2;
    if (sp->budget_ns < 500)
      sp->budget_ns = 0;
  }
}

/* SPIN_YIELD, unless a recent slow yield says to sleep (SPIN_NONE). */
static int
spin_yield_ok(plumb__shm_spin *sp)
{
  if (sp->yield_skip == 0)
    return SPIN_YIELD;
  sp->yield_skip--;
  return SPIN_NONE;
}

/* How this wait may pass its budget (SPIN_*): not at all when *crowd says
 * the peer has at least as many other calls in progress as there are CPUs
 * (spinners would outnumber them); yielding when the peer last ran on our
 * CPU or there is only one CPU (a busy spin would steal the time slice the
 * peer needs; yielding hands it over) - unless a recent yield was slow;
 * busy otherwise. */
static int
spin_mode(plumb__shm_spin *sp)
{
  if (sp->max_ns == 0)
    return SPIN_NONE;
  if (sp->crowd != NULL &&
      (int64_t)atomic_load_explicit(sp->crowd, memory_order_relaxed) >=
          sp->ncpu)
    return SPIN_NONE;
  if (sp->ncpu <= 1)
    return spin_yield_ok(sp);
  if (sp->my_cpu != NULL && sp->peer_cpu != NULL) {
    int cpu = sched_getcpu();
    plumb__shm_note_cpu(sp->my_cpu, cpu);
    if (cpu >= 0 &&
        atomic_load_explicit(sp->peer_cpu, memory_order_relaxed) == cpu)
      return spin_yield_ok(sp);
  }
  return SPIN_BUSY;
}

/* Spins (mode SPIN_BUSY or SPIN_YIELD) until *word != seen (1), budget ns
 * after t0 or the deadline (0; *timed_out set for the deadline). */
static int
spin_run(plumb__shm_spin *sp, int mode, _Atomic uint32_t *word,
         uint32_t seen, int64_t t0, int64_t budget, int64_t deadline,
         int *timed_out)
{
  int64_t now = t0;

  *timed_out = 0;
  for (;;) {
    int64_t before = now;
    if (mode == SPIN_YIELD) {
      int got;
      if (atomic_load_explicit(word, memory_order_acquire) != seen)
        return 1;
      sched_yield();
      got = atomic_load_explicit(word, memory_order_acquire) != seen;
      now = plumb__now_ns();
      if (now - before > SPIN_YIELD_SLOW_NS) {
        sp->yields_slow++;
        if (sp->yield_pen < SPIN_YIELD_PEN_MIN)
          sp->yield_pen = SPIN_YIELD_PEN_MIN;
        sp->yield_skip = sp->yield_pen;
        if (sp->yield_pen < SPIN_YIELD_PEN_MAX)
          sp->yield_pen *= 2;
        sp->yield_probe = 1;
        return got;
      }
      if (sp->yield_probe) {
        /* The first yield after a penalty was fast: shorten the next. */
        sp->yield_probe = 0;
        sp->yield_pen /= 2;
      }
      if (got)
        return 1;
    } else {
      for (int i = 0; i < 32; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != seen)
          return 1;
        shm_cpu_relax();
      }
      now = plumb__now_ns();
    }
    if (now - t0 >= budget)
      return 0;
    if (deadline != PLUMB_FOREVER && now >= deadline) {
      *timed_out = 1;
      return 0;
    }
  }
}

int
plumb__shm_poll(plumb__shm_spin *sp, _Atomic uint32_t *word, uint32_t seen)
{
  int64_t budget, t0;
  int mode, to;

  if (sp->max_ns == 0)
    return 0;
  budget = sp->budget_ns;
  if (budget == 0) {
    /* Spinning stopped paying: try again now and then. */
    if ((++sp->probe & 63) != 0)
      return 0;
    budget = sp->max_ns / 4;
  }
  if ((mode = spin_mode(sp)) == SPIN_NONE)
    return 0;
  t0 = plumb__now_ns();
  if (spin_run(sp, mode, word, seen, t0, budget, PLUMB_FOREVER, &to)) {
    int64_t want = 2 * (plumb__now_ns() - t0);
    sp->spins_won++;
    if (want < budget)
      want = budget;
    sp->budget_ns = want < sp->max_ns ? want : sp->max_ns;
    return 1;
  }
  sp->spins_lost++;
  sp->budget_ns = budget / 2 < 500 ? 0 : budget / 2;
  return 0;
}

int
plumb__shm_wait(plumb__shm_spin *sp, _Atomic uint32_t *word, uint32_t seen,
                _Atomic uint32_t *waiting, const _Atomic int64_t *wake_ns,
                int64_t deadline, int64_t slice_ns, plumb__shm_dead_fn dead,
                void *arg)
{
  int64_t t0 = plumb__now_ns(), now = t0;
  int rc = PLUMB_OK, to;
  int mode = sp->budget_ns > 0 ? spin_mode(sp) : SPIN_NONE;

  if (mode != SPIN_NONE) {
    if (spin_run(sp, mode, word, seen, t0, sp->budget_ns, deadline,
                 &to)) {
      sp->spins_won++;
      spin_adapt(sp, plumb__now_ns() - t0, 1);
      return PLUMB_OK;
    }
    if (to)
      return PLUMB_ETIMEDOUT;
    sp->spins_lost++;
  }

  for (;;) {
    int64_t until;

    if ((rc = dead(arg, 0)) != PLUMB_OK)
      break;
    atomic_store_explicit(waiting, PLUMB_SHM_WAIT_FUTEX,
                          memory_order_seq_cst);
    if (atomic_load_explicit(word, memory_order_seq_cst) != seen)
      break;
    now = plumb__now_ns();
    if (deadline != PLUMB_FOREVER && now >= deadline) {
      rc = PLUMB_ETIMEDOUT;
      break;
    }
    until = deadline;
    if (slice_ns != PLUMB_FOREVER &&
        (deadline == PLUMB_FOREVER || deadline - now > slice_ns))
      until = now + slice_ns;
    sp->sleeps++;
    rc = plumb__futex_wait(word, seen, until);
    if (atomic_load_explicit(word, memory_order_acquire) != seen) {
      rc = PLUMB_OK;
      break;
    }
    if (rc == PLUMB_ESYS)
      break;
    if (rc == PLUMB_ETIMEDOUT) {
      if ((rc = dead(arg, 1)) != PLUMB_OK)
        break;
    }
  }
  atomic_store_explicit(waiting, 0, memory_order_relaxed);
  if (rc == PLUMB_OK) {
    int64_t waited = plumb__now_ns() - t0;
    /* The peer's stamp says when the event really came (untrusted: it
     * only steers the spin budget, within [0, waited]). */
    if (wake_ns != NULL) {
      int64_t w = atomic_load_explicit(wake_ns, memory_order_relaxed) - t0;
      if (w >= 0 && w < waited)
        waited = w;
    }
    spin_adapt(sp, waited, 0);
  }
  return rc;
}
