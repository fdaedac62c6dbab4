/* bench_util.c - clock, pinning, sorting and /proc status helpers for the
 * bench programs (see bench_util.h). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

int64_t
bench_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
bench_pin(int cpu)
{
  cpu_set_t set;
  if (cpu < 0)
    return 0;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set);
}

void
bench_pin_env(const char *var)
{
  const char *v = getenv(var);
  if (v != NULL && *v != '\0' && bench_pin(atoi(v)) != 0)
    perror("sched_setaffinity");
}

static int
cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void
bench_sort_i64(int64_t *v, size_t n)
{
  qsort(v, n, sizeof v[0], cmp_i64);
}

long
bench_status_kb(pid_t pid, const char *field)
{
  char path[64], line[256];
  size_t flen = strlen(field);
  long kb = -1;
  FILE *f;

  if (pid == 0)
    snprintf(path, sizeof path, "/proc/self/status");
  else
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if ((f = fopen(path, "r")) == NULL)
    return -1;
  for (int i = 0; i < 200 && fgets(line, sizeof line, f) != NULL; i++)
    if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
      kb = strtol(line + flen + 1, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

/* Fields 10 (minflt), 14 (utime) and 15 (stime) of /proc/PID/stat. */
static int
proc_stat(pid_t pid, unsigned long long *minflt, unsigned long long *ticks)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* After the command name "(...)" comes field 3, the state. */
  char *p = strrchr(buf, ')');
  unsigned long long mf = 0, ut = 0, st = 0;
  if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %*u "
                                 "%*u %llu %llu", &mf, &ut, &st) != 3)
    return -1;
  *minflt = mf;
  *ticks = ut + st;
  return 0;
}

int64_t
bench_cpu_us(pid_t pid)
{
  if (pid == 0) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
      return -1;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  }
  unsigned long long mf, ticks;
  if (proc_stat(pid, &mf, &ticks) != 0)
    return -1;
  return (int64_t)(ticks * 1000000ULL /
                   (unsigned long long)sysconf(_SC_CLK_TCK));
}

long long
bench_minflt(pid_t pid)
{
  if (pid == 0) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (long long)ru.ru_minflt : -1;
  }
  unsigned long long mf, ticks;
  return proc_stat(pid, &mf, &ticks) == 0 ? (long long)mf : -1;
}
