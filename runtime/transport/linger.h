/* linger.h - the queue transports' server-side linger (mq, sysvmq).
 *
 * After a call's reply, the worker that served a connection may wait a
 * little on that connection itself - a receive bounded in time - instead of
 * handing it back to epoll: a client making one call after another then
 * finds the worker already waiting in the kernel, and the server makes the
 * raw mechanism's system calls (send + receive) instead of send + receive +
 * epoll_ctl + epoll_wait, with no epoll wake-up in between.  Bounded three
 * ways: in time (PLUMB__LINGER_NS per wait), in workers (at most one CPU
 * fewer than there are, at least one, linger at once in a process, so the
 * others keep serving every other connection), and adaptively per
 * connection (a wait that times out makes the next ones rarer: 2, 4 ...
 * up to 256 calls without lingering; one that is answered resets that).
 * A lingering worker sleeps in the kernel: it costs a thread, not a CPU.
 */
#ifndef PLUMB_TRANSPORT_LINGER_H
#define PLUMB_TRANSPORT_LINGER_H

#include <stdint.h>

/* 2 ms: a shorter timeout is often the CPU's next timer event, and the
 * timer reprogramming it costs (a VM exit under a hypervisor) outweighs
 * the shorter hold - mq null call, 4 interleaved rounds, 200 us against
 * 2 ms: 23.0 / 21.6 us across CPUs, 16.2 / 15.0 us on one (raw 19.7,
 * 10.4), server CPU per call 15.4 / 11.8 us. */
#define PLUMB__LINGER_NS (2 * 1000000LL)

typedef struct plumb__linger {
  unsigned skip;  /* calls to go without lingering */
  unsigned miss;  /* waits in a row that timed out */
} plumb__linger;

/* How many workers of a process may wait on one client at once, lingering
 * here or busy polling a shm ring (shm_io.c, its own count): one CPU fewer
 * than there are, at least one. */
int plumb__waiters_max(void);
/* 1 if the caller may linger now (it then holds one of the process's
 * slots until plumb__linger_leave), 0 if not. */
int plumb__linger_enter(plumb__linger *l);
/* Gives the slot back; hit = the wait was answered in time. */
void plumb__linger_leave(plumb__linger *l, int hit);

#endif
