/* srvproc.h - a test's own server process on a private unix socket: start
 * it, wait (bounded) until its endpoint accepts clients, stop it and check
 * that it removed its socket file.  For the suites that share one server
 * across their tests (suite init / cleanup). */
#ifndef PTEST_SRVPROC_H
#define PTEST_SRVPROC_H

#include <sys/types.h>

typedef struct ptest_srvproc {
  char path[108]; /* the socket file: /tmp/plumb-<tag>-<pid>.sock */
  char ep[128];   /* "unix:<path>" */
  pid_t pid;      /* -1 when not running */
} ptest_srvproc;

/* Names p's socket after tag and this process (no server yet). */
void ptest_srvproc_name(ptest_srvproc *p, const char *tag);

/* Starts argv[0] with argv (stderr to log_path unless NULL) and waits up
 * to timeout_ms until endpoint `ep` accepts a client (plumb_client_open).
 * Returns the pid, or -1 (the child killed) if it exited or never
 * answered. */
pid_t ptest_start_server(char *const argv[], const char *ep,
                         const char *log_path, int timeout_ms);

/* SIGTERM, wait (10 s at most).  0 if it stopped cleanly and its socket
 * file is gone (removed here if not), 1 otherwise. */
int ptest_srvproc_stop(ptest_srvproc *p);

#endif
