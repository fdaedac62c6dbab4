/* peer_util.h - what every peer RPC benchmark (ONC RPC, gRPC, ZeroMQ,
 * D-Bus) shares: the command line, the endpoint syntax, the timed add() loop
 * and the server's ready/stop protocol, so that the peers are measured
 * exactly as bench-client measures plumb (bench/bench_client.c, `lat`).
 *
 *   peer-X server unix:/PATH | tcp:PORT
 *   peer-X client unix:/PATH | tcp:PORT [-n COUNT] [-t SEC] [-c CPU] [-P PID]
 *
 * server: pinned to $BENCH_SERVER_CPU if set (before any thread is made, so
 *         a library's threads inherit it); prints "PEER: serving (pid N)" on
 *         stderr once it accepts calls; stops on SIGTERM/SIGINT and removes
 *         its socket file.  tcp always binds 127.0.0.1.
 * client: pinned to CPU (before it connects), warm-up (at most 1000 calls or
 *         a fifth of SEC), then up to COUNT add(i, 7) calls within SEC, each
 *         timed and checked; prints one line
 *           peer name=X mech=unix|tcp op=add n=.. median_us=.. p99_us=..
 *             calls_per_s=.. client_cpu_us=.. server_cpu_us=..
 *         (CPU time per call, user + system, of this process and of PID).
 */
#ifndef PEER_UTIL_H
#define PEER_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct peer_opts {
  const char *role;     /* "server" or "client" */
  int tcp;              /* 1: tcp:PORT, 0: unix:/PATH */
  const char *path;     /* unix socket path */
  int port;             /* tcp port on 127.0.0.1 */
  long count;
  double secs;
  int cpu;
  pid_t server;
} peer_opts;

/* Parses argv (see above) into o and pins the process: the server to
 * $BENCH_SERVER_CPU, the client to -c.  0, or -1 after printing usage. */
int peer_parse(int argc, char **argv, const char *name, peer_opts *o);

/* One add(a, b); 0 with *r set, or -1 after printing why. */
typedef int (*peer_add_fn)(void *ctx, int32_t a, int32_t b, int32_t *r);

/* The timed loop above over fn; prints the result line.  0 or 1. */
int peer_measure(const char *name, const peer_opts *o, peer_add_fn fn,
                 void *ctx);

/* Server side: SIGTERM/SIGINT set the flag peer_stopping() returns and
 * (unix) unlink o->path; installed without SA_RESTART so a blocking
 * receive returns EINTR. */
void peer_server_signals(const peer_opts *o);
int peer_stopping(void);
/* Prints the ready line the driver waits for. */
void peer_server_ready(const char *name);

/* Connects a stream socket to o's endpoint (TCP_NODELAY on tcp), retrying
 * for at most 5 s while the server starts; the fd or -1. */
int peer_connect(const peer_opts *o);
/* A listening socket bound to o's endpoint (unix: an existing file at the
 * path is an error); the fd or -1. */
int peer_listen(const peer_opts *o);

#ifdef __cplusplus
}
#endif

#endif
