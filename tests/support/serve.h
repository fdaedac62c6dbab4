/* serve.h - the main loop every test server process shares: listen on the
 * endpoints of its command line, serve until SIGTERM/SIGINT, free, and
 * say how it ended in the exit status the harnesses read. */
#ifndef PTEST_SERVE_H
#define PTEST_SERVE_H

#include <plumb/plumb.h>

/* Listens s on eps[0..n), runs it (handling signals) and frees it.
 * Returns the process exit status: 0 after a clean stop, 3 if an endpoint
 * is in use (the harness retries another port), 1 on any other error. */
int ptest_serve(plumb_server *s, char *const *eps, int n);

#endif
