/* shm_ring.h - the building blocks of the shm transport: the layout of a
 * per-client channel segment, single-producer/single-consumer byte rings with
 * C11 atomics, futex wake-ups on shared words and the adaptive spinner.
 *
 * Nothing here knows about listeners, sockets or frames; shm.c builds the
 * transport from these pieces.  Every index read from shared memory is
 * treated as untrusted: the ring functions report a corrupt ring instead of
 * trusting it.
 */
#ifndef PLUMB_SHM_RING_H
#define PLUMB_SHM_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transport.h"

#define PLUMB_SHM_MAGIC 0x706c6d73u   /* "plms": channel header */
#define PLUMB_SHM_VERSION 2u
#define PLUMB_SHM_HDR_SIZE 4096u      /* header page before the ring data */
#define PLUMB_SHM_RING_DEFAULT (256u * 1024u)
#define PLUMB_SHM_RING_MIN 4096u
#define PLUMB_SHM_RING_MAX (256u * 1024u * 1024u)

/* One ring's shared control words.  Positions are byte counts modulo 2^32
 * (the ring size is a power of two <= 2^28, so differences stay exact).
 * The producer owns `tail`, the consumer owns `head`; each sets its
 * `*_waiting` flag before sleeping on the other's word, so the other side
 * issues FUTEX_WAKE only when someone may be asleep. */
typedef struct plumb__shm_ring_ctl {
  _Alignas(64) _Atomic uint32_t tail; /* written by the producer */
  _Atomic uint32_t cons_waiting;      /* consumer sleeps on tail */
  _Atomic int64_t tail_wake_ns;       /* when the producer woke it */
  _Alignas(64) _Atomic uint32_t head; /* written by the consumer */
  _Atomic uint32_t prod_waiting;      /* producer sleeps on head */
  _Atomic int64_t head_wake_ns;       /* when the consumer woke it */
} plumb__shm_ring_ctl;

/* The header page of a channel segment (server = side 0, client = side 1).
 * The request ring's data follows at PLUMB_SHM_HDR_SIZE, the reply ring's
 * at PLUMB_SHM_HDR_SIZE + ring_size.  Words one side writes on every call
 * live on that side's own cache line (`side[]`), so the other side's
 * reads of the rarely written first line (closed, sizes) never miss. */
typedef struct plumb__shm_side {
  _Alignas(64) _Atomic int32_t cpu; /* CPU this side last ran on */
  _Atomic uint32_t crowd; /* server: clients active now (spin heuristic) */
} plumb__shm_side;

typedef struct plumb__shm_chan {
  uint32_t magic;
  uint32_t version;
  uint32_t ring_size;
  uint32_t hdr_size;
  _Atomic uint32_t closed[2]; /* set by a side's shutdown() */
  plumb__shm_side side[2];
  plumb__shm_ring_ctl req;    /* client -> server */
  plumb__shm_ring_ctl rep;    /* server -> client */
} plumb__shm_chan;

/* A process-private view of one ring.  `pos` is this side's own position
 * (tail for a producer, head for a consumer), never re-read from shm. */
typedef struct plumb__shm_ring {
  plumb__shm_ring_ctl *ctl;
  uint8_t *data;
  uint32_t size; /* power of two */
  uint32_t pos;
  int bell; /* producer: socket to ring when the consumer armed its bell */
  uint32_t peer; /* producer: the head it last read (validated) */
  uint32_t pub;  /* consumer: the head it last published */
  uint32_t seen; /* consumer: the tail it last read (validated) */
} plumb__shm_ring;

/* Values of a ring's cons_waiting / prod_waiting flag. */
#define PLUMB_SHM_WAIT_FUTEX 1u /* sleeping in FUTEX_WAIT on the word */
#define PLUMB_SHM_WAIT_BELL 2u  /* in the core's epoll: ring `bell` once */

/* Bytes the consumer may read now (*avail); PLUMB_EPROTO if the peer's
 * tail is impossible.  *tail_seen receives the tail value observed.  The
 * tail last read is kept: while bytes it announced remain, the shared word
 * is not read at all (a burst of frames costs one cache-line transfer, not
 * one each), so *avail may be less than the truth, never more; *avail == 0
 * means it was read afresh. */
int plumb__shm_ring_readable(plumb__shm_ring *r, uint32_t *avail,
                             uint32_t *tail_seen);
/* Bytes the producer may write now (*space); PLUMB_EPROTO if the peer's
 * head is impossible.  *head_seen receives the head value observed.  The
 * head last read is kept: while it leaves room for `need` bytes the shared
 * word is not read at all (no cache-line transfer per frame), so *space
 * may be less than the truth, never more; *space < need means it was
 * read afresh. */
int plumb__shm_ring_writable(plumb__shm_ring *r, uint32_t need,
                             uint32_t *space, uint32_t *head_seen);
/* Copy n bytes out of / into the ring at pos and advance pos (no publish).
 * The caller has checked n against readable/writable.  Inline: a frame
 * header is a constant 8 bytes, copied as one word. */
static inline void
plumb__shm_ring_read(plumb__shm_ring *r, void *dst, size_t n)
{
  uint32_t off = r->pos & (r->size - 1);
  size_t first = r->size - off;

  if (first >= n) {
    memcpy(dst, r->data + off, n);
  } else {
    memcpy(dst, r->data + off, first);
    memcpy((uint8_t *)dst + first, r->data, n - first);
  }
  r->pos += (uint32_t)n;
}

static inline void
plumb__shm_ring_write(plumb__shm_ring *r, const void *src, size_t n)
{
  uint32_t off = r->pos & (r->size - 1);
  size_t first = r->size - off;

  if (first >= n) {
    memcpy(r->data + off, src, n);
  } else {
    memcpy(r->data + off, src, first);
    memcpy(r->data, (const uint8_t *)src + first, n - first);
  }
  r->pos += (uint32_t)n;
}
/* Make pos visible to the peer and wake it if it sleeps: FUTEX_WAKE for a
 * futex sleeper, one doorbell message on `bell` for an armed consumer (the
 * flag is cleared by the producer, so one message per arming). */
void plumb__shm_ring_publish_head(plumb__shm_ring *r);
/* Consumer: publishes the head if it moved, unless `lazy` and it moved by
 * less than 1/16 of the ring and the producer does not wait for room: then
 * the store (a cache-line transfer) is left for a moment off the critical
 * path - the caller's next wait, or its next send.  Every path that stops
 * reading must call it with lazy = 0. */
void plumb__shm_ring_release(plumb__shm_ring *r, int lazy);
void plumb__shm_ring_publish_tail(plumb__shm_ring *r);

/* Publishes the CPU we run on in *w (the peer's spin heuristic), writing
 * the shared line only when it changed. */
static inline void
plumb__shm_note_cpu(_Atomic int32_t *w, int cpu)
{
  if (atomic_load_explicit(w, memory_order_relaxed) != cpu)
    atomic_store_explicit(w, cpu, memory_order_relaxed);
}

/* Futexes on shared (non-private) words.  wait: sleeps while *w == expect,
 * until the absolute CLOCK_MONOTONIC deadline (PLUMB_FOREVER: none).
 * Returns PLUMB_OK (woken, value changed, or interrupted), PLUMB_ETIMEDOUT
 * or PLUMB_ESYS. */
int plumb__futex_wait(_Atomic uint32_t *w, uint32_t expect, int64_t deadline);
void plumb__futex_wake(_Atomic uint32_t *w, int n);

/* Adaptive spin-then-sleep.  budget_ns is how long the next wait spins
 * before sleeping; it grows when a spin (or a slightly longer one) would
 * have caught the event and shrinks when waits are long.  The budget is
 * spent busy (pause) when the peer last ran on another CPU, yielding
 * (sched_yield between looks) when it last ran on ours or there is one CPU
 * (a busy spin would steal the time slice the peer needs; yielding hands
 * it over) unless a recent yield turned out slow (others compete for the
 * CPU: a woken sleeper runs sooner than a yielder), and not at all when
 * max_ns is 0 or *crowd (set by the caller after init) says the peer
 * serves at least as many other calls as there are CPUs. */
typedef struct plumb__shm_spin {
  int64_t budget_ns;
  int64_t max_ns;
  _Atomic int32_t *my_cpu;         /* where we publish our CPU, or NULL */
  const _Atomic int32_t *peer_cpu; /* where the peer publishes its CPU */
  const _Atomic uint32_t *crowd;   /* peer's calls in progress, or NULL */
  int32_t ncpu;                    /* CPUs online */
  uint64_t spins_won, spins_lost, sleeps;
  uint32_t probe;
  uint32_t yield_skip; /* waits left that sleep instead of yielding */
  uint32_t yield_pen;  /* the next skip after a slow yield (doubles) */
  int yield_probe;     /* the next yield is the first after a penalty */
  uint64_t yields_slow;
} plumb__shm_spin;

/* Initialises a spinner spinning at most max_us microseconds, or what
 * environment variable env (if not NULL) says. */
void plumb__shm_spin_init(plumb__shm_spin *sp, int64_t max_us,
                          const char *env, _Atomic int32_t *my_cpu,
                          const _Atomic int32_t *peer_cpu);

/* Spin only (no sleep): 1 if *word != seen within the adaptive budget.  A
 * budget that decayed to 0 is probed again every 64 calls. */
int plumb__shm_poll(plumb__shm_spin *sp, _Atomic uint32_t *word,
                    uint32_t seen);

/* Asked while waiting: non-zero (a status) ends the wait.  `deep` is set
 * after a sleep slice expired: the callback may then make system calls
 * (e.g. poll the side channel for a dead peer). */
typedef int (*plumb__shm_dead_fn)(void *arg, int deep);

/* Waits until *word != seen.  Spins per `sp`, then sets *waiting and sleeps
 * on the futex in slices of slice_ns (PLUMB_FOREVER: one unbounded sleep),
 * calling dead() before every sleep and deep after every expired slice.
 * wake_ns (may be NULL) is where the waker stamps the time of its
 * FUTEX_WAKE: after a sleep, the spin budget adapts to when the event
 * happened, not to when the scheduler got round to running us.
 * Returns PLUMB_OK, PLUMB_ETIMEDOUT, PLUMB_ESYS or dead()'s status. */
int plumb__shm_wait(plumb__shm_spin *sp, _Atomic uint32_t *word,
                    uint32_t seen, _Atomic uint32_t *waiting,
                    const _Atomic int64_t *wake_ns, int64_t deadline,
                    int64_t slice_ns, plumb__shm_dead_fn dead, void *arg);

/* For tests only: the channel header of a shm connection and its size, and
 * its private view of the ring it produces into (to play a hostile peer). */
plumb__shm_chan *plumb__shm_test_channel(plumb_conn *c, size_t *len);
plumb__shm_ring *plumb__shm_test_tx_ring(plumb_conn *c);
/* For tests only: the spinner of a connection's blocking recv(). */
const plumb__shm_spin *plumb__shm_test_rx_spin(plumb_conn *c);

#endif
