/* raw_shm_tput.c - the throughput floor under the shm transport with many
 * clients (issue 17: "null calls/s with 4 and 16 client processes >= the
 * 1-client figure"): N client processes each make one call at a time to a
 * single server process over shared memory - a sequence word per direction
 * per client, no rings, framing or RPC layer - and the server is the ideal
 * one poller: it never sleeps, it spins over every client's request word
 * and answers at once (FUTEX_WAKE only for a client asleep).  Unpinned, as
 * `bench-client tput` runs.
 *
 *   raw_shm_tput [-p PROCS] [-m futex|spin|yield] [-t SECONDS] [-S SPIN_US]
 *
 * A client waits for its reply by: futex - FUTEX_WAIT at once; spin -
 * spinning up to SPIN_US (20) microseconds, then FUTEX_WAIT; yield - the
 * same budget in sched_yield() between looks, then FUTEX_WAIT.  Prints
 * `raw-shm-tput procs= mode= calls= secs= calls_per_s=`.  Bounded by
 * SECONDS (the server stops at SECONDS + 2 whatever the clients do).
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

#define MAXP 64

typedef struct slot {
  _Alignas(64) _Atomic uint32_t req;
  _Alignas(64) _Atomic uint32_t rep;
  _Atomic uint32_t waiting; /* the client is (about to be) in FUTEX_WAIT */
  _Atomic uint64_t calls;
} slot;

typedef struct shared {
  _Atomic uint32_t go, stop;
  slot s[MAXP];
} shared;

static void
fwait(_Atomic uint32_t *w, uint32_t val)
{
  syscall(SYS_futex, w, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void
fwake(_Atomic uint32_t *w)
{
  syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void
client(shared *sh, slot *sl, int mode, int64_t spin_ns, int64_t end)
{
  uint32_t k = 0;
  uint64_t n = 0;
  while (!atomic_load(&sh->go))
    sched_yield();
  while ((n & 63) || bench_now_ns() < end) {
    atomic_store_explicit(&sl->req, ++k, memory_order_release);
    if (mode != 0) { /* spin or yield first */
      int64_t until = bench_now_ns() + spin_ns;
      for (unsigned i = 0;
           atomic_load_explicit(&sl->rep, memory_order_acquire) != k; i++) {
        if (mode == 2)
          sched_yield();
        if ((i & 63) == 63 && bench_now_ns() > until)
          break;
      }
    }
    while (atomic_load_explicit(&sl->rep, memory_order_acquire) != k) {
      atomic_store(&sl->waiting, 1);
      if (atomic_load(&sl->rep) != k)
        fwait(&sl->rep, k - 1);
      atomic_store(&sl->waiting, 0);
    }
    n++;
  }
  atomic_store(&sl->calls, n);
}

int
main(int argc, char **argv)
{
  int procs = 1, mode = 1, opt;
  double secs = 1, spin_us = 20;
  while ((opt = getopt(argc, argv, "p:m:t:S:")) != -1) {
    switch (opt) {
    case 'p': procs = atoi(optarg); break;
    case 'm':
      mode = strcmp(optarg, "futex") == 0 ? 0
             : strcmp(optarg, "spin") == 0 ? 1
             : strcmp(optarg, "yield") == 0 ? 2 : -1;
      break;
    case 't': secs = atof(optarg); break;
    case 'S': spin_us = atof(optarg); break;
    default: return 2;
    }
  }
  if (procs < 1 || procs > MAXP || mode < 0 || secs <= 0 || secs > 60 ||
      spin_us < 0 || spin_us > 1e6) {
    fprintf(stderr, "usage: %s [-p 1..%d] [-m futex|spin|yield] "
                    "[-t SECONDS] [-S SPIN_US]\n", argv[0], MAXP);
    return 2;
  }
  shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED)
    return 1;
  memset(sh, 0, sizeof *sh);
  pid_t kids[MAXP + 1];
  int64_t t0 = bench_now_ns() + 200000000LL; /* after the forks */
  int64_t end = t0 + (int64_t)(secs * 1e9);
  /* the server: one poller over every slot, never sleeping */
  if ((kids[procs] = fork()) == 0) {
    uint32_t seen[MAXP] = { 0 };
    int64_t hard = end + 2000000000LL;
    for (unsigned i = 0; !atomic_load(&sh->stop); i++) {
      for (int p = 0; p < procs; p++) {
        slot *sl = &sh->s[p];
        uint32_t r = atomic_load_explicit(&sl->req, memory_order_acquire);
        if (r != seen[p]) {
          seen[p] = r;
          atomic_store(&sl->rep, r); /* seq_cst: against waiting */
          if (atomic_load(&sl->waiting))
            fwake(&sl->rep);
        }
      }
      if ((i & 1023) == 1023 && bench_now_ns() > hard)
        break;
    }
    _exit(0);
  }
  for (int p = 0; p < procs; p++)
    if ((kids[p] = fork()) == 0) {
      client(sh, &sh->s[p], mode, (int64_t)(spin_us * 1000), end);
      _exit(0);
    }
  while (bench_now_ns() < t0)
    usleep(1000);
  int64_t start = bench_now_ns();
  atomic_store(&sh->go, 1);
  for (int p = 0; p < procs; p++)
    waitpid(kids[p], NULL, 0);
  int64_t dt = bench_now_ns() - start;
  atomic_store(&sh->stop, 1);
  waitpid(kids[procs], NULL, 0);
  uint64_t calls = 0;
  for (int p = 0; p < procs; p++)
    calls += atomic_load(&sh->s[p].calls);
  static const char *const names[] = { "futex", "spin", "yield" };
  printf("raw-shm-tput procs=%d mode=%s calls=%llu secs=%.3f "
         "calls_per_s=%.0f\n", procs, names[mode], (unsigned long long)calls,
         dt / 1e9, calls / (dt / 1e9));
  munmap(sh, sizeof *sh);
  return 0;
}
