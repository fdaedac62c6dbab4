/* raw_shm_futex.c - the floor under the shm transport: a two-process
 * ping-pong over shared memory (16-byte request, 8-byte reply) woken with
 * futexes on shared words, with no rings, framing or RPC layer.
 *
 *   raw_shm_futex [-m futex|spin|yield|all] [-c same|cross|all] [-n COUNT]
 *                 [-t SECONDS] [-S SPIN_US]
 *
 * futex: every wait sleeps in FUTEX_WAIT at once (a waiting flag spares the
 * FUTEX_WAKE when the peer is not asleep).  spin: spin up to SPIN_US (20)
 * microseconds, then sleep.  yield: the same budget spent in sched_yield()
 * between looks (what the shm transport does when both sides share a CPU:
 * the peer runs at once, with no FUTEX_WAKE and no wake-up), then sleep.
 * Placements pin client and server on different
 * CPUs (cross) or on the same CPU (same) with sched_setaffinity.  Each run is
 * bounded by COUNT round trips and SECONDS.  Prints one line per run:
 * median and p99 round trip in microseconds, in raw_pingpong's format.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The shared page: one sequence word per direction, each with a flag the
 * sleeper raises before FUTEX_WAIT. */
typedef struct pp_shared {
  _Alignas(64) _Atomic uint32_t req_seq;
  _Atomic uint32_t req_waiting;
  _Atomic uint32_t stop;
  char req[16];
  _Alignas(64) _Atomic uint32_t rep_seq;
  _Atomic uint32_t rep_waiting;
  char rep[8];
} pp_shared;

static int64_t
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
pp_futex_wait(_Atomic uint32_t *w, uint32_t v)
{
  struct timespec ts = { 0, 100 * 1000000 }; /* never hang forever */
  syscall(SYS_futex, (void *)w, FUTEX_WAIT, v, &ts, NULL, 0);
}

static void
pp_futex_wake(_Atomic uint32_t *w)
{
  syscall(SYS_futex, (void *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static inline void
pp_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Publishes seq on w and wakes the peer if it may sleep. */
static void
pp_post(_Atomic uint32_t *w, _Atomic uint32_t *waiting, uint32_t seq)
{
  atomic_store(w, seq);
  if (atomic_load(waiting))
    pp_futex_wake(w);
}

/* Waits until *w == seq (spinning - or yielding - up to spin_ns first); 0,
 * or -1 on stop. */
static int
pp_wait(_Atomic uint32_t *w, _Atomic uint32_t *waiting, uint32_t seq,
        int64_t spin_ns, int yield, _Atomic uint32_t *stop)
{
  if (spin_ns > 0) {
    int64_t t0 = now_ns();
    for (;;) {
      for (int i = 0; i < (yield ? 1 : 32); i++) {
        if (atomic_load_explicit(w, memory_order_acquire) == seq)
          return 0;
        if (yield)
          sched_yield();
        else
          pp_relax();
      }
      if (now_ns() - t0 > spin_ns)
        break;
    }
  }
  for (;;) {
    uint32_t v;
    atomic_store(waiting, 1);
    v = atomic_load(w);
    if (v == seq)
      break;
    if (atomic_load(stop)) {
      atomic_store(waiting, 0);
      return -1;
    }
    pp_futex_wait(w, v);
  }
  atomic_store(waiting, 0);
  return 0;
}

static void
pin(int cpu)
{
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    perror("sched_setaffinity");
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int
run(int spin, int same, long count, double seconds, int64_t spin_ns)
{
  static const char *const names[] = { "futex", "spin", "yield" };
  pp_shared *sh = mmap(NULL, sizeof(pp_shared), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int64_t *lat = malloc(sizeof(int64_t) * (size_t)count);
  int64_t s_ns = spin ? spin_ns : 0;
  long done = 0, warm = count / 10 < 1000 ? count / 10 : 1000;
  int64_t t_end;
  pid_t pid;

  if (sh == MAP_FAILED || lat == NULL) {
    perror("setup");
    return 1;
  }
  memset(sh, 0, sizeof(*sh));
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    pin(same ? 0 : 1);
    for (uint32_t seq = 1;; seq++) {
      if (pp_wait(&sh->req_seq, &sh->req_waiting, seq, s_ns, spin == 2,
                  &sh->stop))
        _exit(0);
      memcpy(sh->rep, sh->req, sizeof(sh->rep));
      pp_post(&sh->rep_seq, &sh->rep_waiting, seq);
    }
  }
  pin(0);
  t_end = now_ns() + (int64_t)(seconds * 1e9);
  for (long i = 0; i < warm + count; i++) {
    uint32_t seq = (uint32_t)i + 1;
    int64_t a = now_ns(), b;
    memset(sh->req, (int)seq, sizeof(sh->req));
    pp_post(&sh->req_seq, &sh->req_waiting, seq);
    pp_wait(&sh->rep_seq, &sh->rep_waiting, seq, s_ns, spin == 2,
            &sh->stop);
    b = now_ns();
    if (i >= warm)
      lat[done++] = b - a;
    if (b > t_end)
      break;
  }
  atomic_store(&sh->stop, 1);
  pp_futex_wake(&sh->req_seq);
  waitpid(pid, NULL, 0);
  munmap(sh, sizeof(*sh));
  if (done == 0) {
    free(lat);
    fprintf(stderr, "no samples\n");
    return 1;
  }
  qsort(lat, (size_t)done, sizeof lat[0], cmp_i64);
  printf("shm-%s size=16 reply=8 placement=%s n=%ld median_us=%.2f "
         "p99_us=%.2f\n",
         names[spin], same ? "same" : "cross", done,
         lat[done / 2] / 1e3, lat[(done * 99) / 100] / 1e3);
  fflush(stdout);
  free(lat);
  return 0;
}

int
main(int argc, char **argv)
{
  long count = 20000;
  double seconds = 3;
  int64_t spin_ns = 20000;
  int modes = 7, places = 3, opt, rc = 0;

  while ((opt = getopt(argc, argv, "m:c:n:t:S:")) != -1) {
    switch (opt) {
    case 'm':
      modes = strcmp(optarg, "futex") == 0 ? 1
              : strcmp(optarg, "spin") == 0 ? 2
              : strcmp(optarg, "yield") == 0 ? 4
                                            : 7;
      break;
    case 'c':
      places = strcmp(optarg, "cross") == 0 ? 1
               : strcmp(optarg, "same") == 0 ? 2
                                             : 3;
      break;
    case 'n': count = atol(optarg); break;
    case 't': seconds = atof(optarg); break;
    case 'S': spin_ns = atol(optarg) * 1000; break;
    default:
      fprintf(stderr, "usage: %s [-m futex|spin|yield|all] "
                      "[-c same|cross|all] "
                      "[-n COUNT] [-t SEC] [-S SPIN_US]\n", argv[0]);
      return 2;
    }
  }
  if (count < 1)
    return 2;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    places &= 2; /* only one CPU: "cross" is impossible */
  for (int m = 0; m < 3; m++)
    for (int p = 0; p < 2; p++)
      if ((modes & (1 << m)) && (places & (1 << p)))
        rc |= run(m, p, count, seconds, spin_ns);
  return rc;
}
