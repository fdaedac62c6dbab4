/* rxpool.h - the server-wide budget of receive memory (internal).
 *
 * A frame that is still arriving sits in a transport's receive or
 * reassembly buffer, up to max_frame bytes per connection.  The server
 * bounds the sum over all its connections (plumb_server_opts.max_rx_memory,
 * docs/RUNTIME.md "Server I/O"): it owns one plumb__rx_pool and passes it
 * to every listener (plumb_tran_opts.rx_pool), whose connections charge it
 * for what they hold beyond a free allowance of PLUMB__RX_FREE bytes each,
 * so that ordinary small calls never touch the shared counter.  A charge
 * that does not fit fails with PLUMB_EBUSY and the server drops that
 * connection.  Clients pass no pool (NULL: nothing is counted). */
#ifndef PLUMB_RXPOOL_H
#define PLUMB_RXPOOL_H

#include <stdatomic.h>
#include <stddef.h>

#include "transport.h"

/* Bytes a connection may hold for a partial frame without charging. */
#define PLUMB__RX_FREE ((size_t)64 * 1024)

typedef struct plumb__rx_pool {
  _Atomic size_t used; /* bytes charged now, by all connections */
  size_t max;          /* budget; 0 = unlimited (still counted) */
} plumb__rx_pool;

/* Sets one connection's charge (*charged, starting at 0) for holding
 * `held` bytes: max(held - PLUMB__RX_FREE, 0).  Shrinking always works;
 * growing past the budget returns PLUMB_EBUSY and leaves *charged as it
 * was.  pool NULL: PLUMB_OK, nothing counted. */
int plumb__rx_charge(plumb__rx_pool *pool, size_t *charged, size_t held);
/* What a buffer b that must hold `need` bytes of a partial frame counts:
 * the allocation plumb__buf_reserve will make for it if b must grow, else
 * `need` (the rest of a buffer kept from an earlier, complete frame is
 * bounded per connection by the transport, not charged). */
size_t plumb__rx_held(const plumb_buf *b, size_t need);
/* Gives the whole charge back (connection closed, frame handed over). */
void plumb__rx_release(plumb__rx_pool *pool, size_t *charged);

#endif
