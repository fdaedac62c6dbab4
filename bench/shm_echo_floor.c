/* shm_echo_floor.c - the floor of any in-place payload echo over shared
 * memory (issue 17's shm loan target): what a perfect loan API could reach,
 * with no RPC layer, no ring and no header at all.
 *
 * Two processes share one anonymous mapping holding a request area and a
 * reply area of SIZE bytes each and two sequence words.  Per round trip the
 * client writes SIZE bytes of payload into the request area (one memcpy from
 * its own buffer: a loan's caller filling its reservation), bumps the
 * request word; the server, spinning on it, copies the request area into the
 * reply area (a handler answering from a borrowed view into a reservation:
 * the one copy an echo cannot avoid, since the two directions are different
 * memory) and bumps the reply word; the client, spinning, reads the reply in
 * place (it sums one byte per cache line, so every line crosses back).  MB/s
 * count request + reply bytes, as bench/echo_ab.sh does.  The same run also
 * times one memcpy of SIZE in the client's process (bench/memcpy_bw's
 * figure): the ratio is the best an shm echo can do against it here.
 *
 *   shm_echo_floor [-s SIZE] [-n COUNT] [-t SEC] [-c same|cross]
 *
 * Bounded by COUNT round trips and SEC seconds; the server stops when the
 * client says so or when its parent is gone (a spin bounded by the same
 * time).  Both spin (sched_yield when on one CPU).
 */
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"

typedef struct shared {
  _Alignas(64) atomic_uint_fast64_t req;
  _Alignas(64) atomic_uint_fast64_t rep;
  _Alignas(64) unsigned char data[];
} shared;

/* Spins until *w == want; 0, or -1 after `limit_ns`. */
static int
wait_for(atomic_uint_fast64_t *w, uint64_t want, int yield, int64_t limit_ns)
{
  int64_t end = bench_now_ns() + limit_ns;
  for (unsigned i = 0;; i++) {
    if (atomic_load_explicit(w, memory_order_acquire) == want)
      return 0;
    if (yield)
      sched_yield();
    if ((i & 1023) == 1023 && bench_now_ns() > end)
      return -1;
  }
}

int
main(int argc, char **argv)
{
  size_t size = 1 << 20;
  long n = 2000;
  double sec = 0.4;
  int same = 0, o;
  while ((o = getopt(argc, argv, "s:n:t:c:")) != -1) {
    switch (o) {
    case 's': size = strtoul(optarg, NULL, 0); break;
    case 'n': n = strtol(optarg, NULL, 0); break;
    case 't': sec = strtod(optarg, NULL); break;
    case 'c': same = strcmp(optarg, "same") == 0; break;
    default:
      fprintf(stderr, "usage: %s [-s SIZE] [-n COUNT] [-t SEC] "
                      "[-c same|cross]\n", argv[0]);
      return 2;
    }
  }
  if (n < 1 || n > 1000000 || size < 64 || size > (64u << 20) || sec <= 0 ||
      sec > 60)
    return 2;
  size = (size + 63) & ~(size_t)63;
  shared *sh = mmap(NULL, sizeof(shared) + 2 * size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED)
    return 1;
  unsigned char *req = sh->data, *rep = sh->data + size;
  int64_t limit = (int64_t)((sec + 5) * 1e9);
  pid_t kid = fork();
  if (kid < 0)
    return 1;
  if (kid == 0) { /* the server */
    bench_pin(same ? 0 : 1);
    for (uint64_t k = 1;; k++) {
      if (wait_for(&sh->req, k, same, limit) != 0 || getppid() == 1)
        _exit(1);
      if (sh->data[0] == 0xff && sh->data[1] == 0xff) /* stop */
        _exit(0);
      memcpy(rep, req, size);
      atomic_store_explicit(&sh->rep, k, memory_order_release);
    }
  }
  bench_pin(0);
  unsigned char *mine = malloc(size), *other = malloc(size);
  int64_t *t = malloc(sizeof *t * (size_t)n);
  if (mine == NULL || other == NULL || t == NULL)
    return 1;
  memset(mine, 7, size);
  memset(other, 3, size);
  unsigned sum = 0;
  long done = 0;
  int64_t end = bench_now_ns() + (int64_t)(sec * 1e9);
  for (uint64_t k = 1; done < n && bench_now_ns() < end; k++) {
    int64_t t0 = bench_now_ns();
    memcpy(req, mine, size);
    atomic_store_explicit(&sh->req, k, memory_order_release);
    if (wait_for(&sh->rep, k, same, limit) != 0)
      return 1;
    for (size_t i = 0; i < size; i += 64)
      sum += rep[i];
    if (k > 10) /* warm-up */
      t[done++] = bench_now_ns() - t0;
  }
  /* stop the server */
  req[0] = req[1] = 0xff;
  atomic_fetch_add_explicit(&sh->req, 1, memory_order_release);
  waitpid(kid, NULL, 0);
  bench_sort_i64(t, (size_t)done);
  double med = done ? t[done / 2] / 1e3 : 0;
  double p99 = done ? t[done * 99 / 100] / 1e3 : 0;
  /* one memcpy of SIZE in this process, cache-warm (memcpy_bw's way) */
  long reps = size >= (8u << 20) ? 1 : (long)((8u << 20) / size);
  int64_t *m = malloc(sizeof *m * 101);
  if (m == NULL)
    return 1;
  for (int i = 0; i < 10; i++)
    memcpy(other, mine, size);
  for (int s = 0; s < 101; s++) {
    int64_t t0 = bench_now_ns();
    for (long r = 0; r < reps; r++) {
      memcpy(r & 1 ? mine : other, r & 1 ? other : mine, size);
      __asm__ volatile("" ::: "memory");
    }
    m[s] = (bench_now_ns() - t0) / reps;
  }
  bench_sort_i64(m, 101);
  double echo_mbps = med > 0 ? 2.0 * (double)size / med : 0;
  double cp_mbps = (double)size / (m[50] / 1e3);
  printf("shm-echo-floor size=%zu placement=%s n=%ld median_us=%.2f "
         "p99_us=%.2f MBps=%.1f memcpy_MBps=%.1f ratio=%.3f check=%u\n",
         size, same ? "same" : "cross", done, med, p99, echo_mbps, cp_mbps,
         echo_mbps / cp_mbps, (sum + mine[size / 2] + other[size / 3]) & 1);
  free(mine);
  free(other);
  free(t);
  free(m);
  munmap(sh, sizeof(shared) + 2 * size);
  return 0;
}
