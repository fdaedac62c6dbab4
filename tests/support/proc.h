/* proc.h - starting and stopping real server processes from tests.
 * Every wait is bounded: a test never hangs on a child. */
#ifndef PTEST_PROC_H
#define PTEST_PROC_H

#include <sys/types.h>

/* fork+exec argv[0] with argv; stderr (and stdout) go to log_path if not
 * NULL.  Returns the pid, or -1. */
pid_t ptest_spawn(char *const argv[], const char *log_path);
/* Sends sig (if > 0) and waits at most timeout_ms for the child to exit,
 * then SIGKILLs it.  Returns its exit status (0..255), 128+signal if killed
 * by a signal, or -1 if it had to be SIGKILLed after the timeout. */
int ptest_stop(pid_t pid, int sig, int timeout_ms);
/* 1 if the child has exited (reaping it), 0 if it still runs. */
int ptest_exited(pid_t pid);
/* Milliseconds of CLOCK_MONOTONIC. */
long long ptest_now_ms(void);
/* 1 if file `path` contains `needle` (read at most 1 MiB). */
int ptest_file_contains(const char *path, const char *needle);

/* A loopback TCP port (below the ephemeral range) that can be bound right
 * now, for AF_INET or AF_INET6; `salt` spreads the servers of one test
 * process apart.  Returns -1 if none of the candidates is free. */
int ptest_free_port(int family, int salt);

#endif
