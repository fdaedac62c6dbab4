/* memcpy_bw.c - the floor for shm payload echoes (issue 17): MB/s of one
 * memcpy of SIZE bytes between two buffers, cache-warm, pinned to CPU if
 * given.  `memcpy_bw [-s SIZE] [-n COUNT] [-t SEC] [-c CPU]`; prints one
 * line: size=, n= (samples), median_us= (one memcpy), MBps= (SIZE /
 * median).
 * Bounded by COUNT and SEC.  bench/echo_ab.sh runs it as shm's "raw". */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
  size_t size = 1 << 20;
  long n = 2000, cpu = -1;
  double sec = 0.4;
  int o;
  while ((o = getopt(argc, argv, "s:n:t:c:")) != -1) {
    switch (o) {
    case 's': size = strtoul(optarg, NULL, 0); break;
    case 'n': n = strtol(optarg, NULL, 0); break;
    case 't': sec = strtod(optarg, NULL); break;
    case 'c': cpu = strtol(optarg, NULL, 0); break;
    default:
      fprintf(stderr, "usage: %s [-s SIZE] [-n COUNT] [-t SEC] [-c CPU]\n",
              argv[0]);
      return 2;
    }
  }
  if (n < 1 || n > 1000000 || size == 0 || size > (256u << 20))
    return 2;
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  unsigned char *a = malloc(size), *b = malloc(size);
  double *t = malloc(sizeof *t * (size_t)n);
  if (a == NULL || b == NULL || t == NULL)
    return 1;
  memset(a, 1, size);
  memset(b, 2, size);
  double end = now_us() + sec * 1e6;
  long i, done = 0;
  for (i = 0; i < 10; i++)
    memcpy(b, a, size); /* warm-up */
  /* Each sample times enough copies to move >= 8 MiB (one clock read per
   * sample: a read costs microseconds on some VMs). */
  long reps = size >= (8u << 20) ? 1 : (long)((8u << 20) / size);
  for (i = 0; i < n && now_us() < end; i++) {
    double t0 = now_us();
    for (long r = 0; r < reps; r++) {
      memcpy(r & 1 ? a : b, r & 1 ? b : a, size);
      __asm__ volatile("" ::: "memory"); /* keep every copy */
    }
    t[done++] = (now_us() - t0) / (double)reps;
  }
  qsort(t, (size_t)done, sizeof *t, cmp);
  double med = t[done / 2];
  printf("memcpy size=%zu n=%ld median_us=%.2f MBps=%.1f check=%u\n", size,
         done, med, size / med, a[size / 2] + b[size / 3]);
  free(a);
  free(b);
  free(t);
  return 0;
}
