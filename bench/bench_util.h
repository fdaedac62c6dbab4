/* bench_util.h - small helpers shared by the plumb bench programs: clock,
 * CPU pinning, percentiles and resident-set figures from /proc. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in ns. */
int64_t bench_now_ns(void);
/* Pins the calling thread (and threads it creates later) to cpu; cpu < 0
 * does nothing.  Returns 0 or -1. */
int bench_pin(int cpu);
/* Pins to the CPU named by environment variable `var` if it is set. */
void bench_pin_env(const char *var);
/* Sorts v[0..n) in place. */
void bench_sort_i64(int64_t *v, size_t n);
/* A field ("VmRSS", "VmHWM") of /proc/PID/status in KiB (pid 0 = self);
 * -1 if unreadable. */
long bench_status_kb(pid_t pid, const char *field);

/* CPU time (user + system, every thread) of process pid from
 * /proc/PID/stat in µs (clock-tick resolution); pid 0 = self, from
 * getrusage (µs resolution).  -1 if unreadable. */
int64_t bench_cpu_us(pid_t pid);
/* Minor page faults of process pid so far (0 = self); -1 if unreadable. */
long long bench_minflt(pid_t pid);

#endif
