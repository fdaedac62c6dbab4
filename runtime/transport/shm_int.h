/* shm_int.h - what the two halves of the shm transport share: a
 * connection's state, the frame and wait constants, and the I/O half's
 * entry points (shm_io.c) that the transport table in shm.c names.
 * Internal to runtime/transport/shm*.c.
 */
#ifndef PLUMB_SHM_INT_H
#define PLUMB_SHM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rxpool.h"
#include "shm_ring.h"
#include "transport.h"

#define SHM_FRAME_KEY 0x5a3cc3a5u
#define SHM_SLICE_NS (100 * 1000000LL) /* peer-death check while asleep */
#define SHM_TTAIL_KEEP (4u << 20)      /* a kept-frame buffer reused up to */
#define SHM_WRITER_STACK (256u * 1024u)

typedef struct shm_conn {
  plumb_conn base;
  int side; /* 0 server, 1 client */
  int sock; /* side channel: crash detector and credentials */
  uint8_t *map;
  size_t map_len;
  plumb__shm_chan *chan;
  plumb__shm_ring tx, rx;
  uint32_t max_frame;
  _Atomic int closed; /* shutdown() was called */
  int rx_err;         /* sticky receive failure */
  int tx_err;         /* sticky send failure (half-sent frame, EPROTO) */
  _Atomic int peer_gone; /* the side socket reported the peer's death */
  _Atomic int in_call;   /* server: a request received, not answered yet */
  plumb__shm_spin spin_rx, spin_tx;
  plumb__shm_spin spin_poll; /* waited mode: spin before reporting EAGAIN */
  /* reassembly of the frame being received */
  uint8_t rhdr[8];
  uint32_t rhdr_got;
  uint32_t rlen;
  uint32_t rgot;
  plumb_buf part;
  plumb__rx_pool *rx_pool; /* server side: charged for part (rxpool.h) */
  size_t rx_charged;
  /* try_send: a frame that cannot go into the ring now (too long for it, or
   * no room), copied and streamed by flush(); when the ring is full flush()
   * hands it to the writer thread, which waits for room on the ring's head
   * (spin, then futex) and makes wevfd readable when all of it went: that
   * is write_wait()'s fd.  ttail/ttoff belong to the writer while w_busy
   * (under wmu), to the core's flush() otherwise. */
  plumb_buf ttail;
  size_t ttoff;
  pthread_mutex_t wmu;
  pthread_cond_t wcv;
  int w_busy, w_stop, w_status;
  int wevfd;
  pthread_t wthr;
  int wthr_on;
  /* waited mode, set up by the first conn_fd() */
  pthread_mutex_t fd_lock;
  _Atomic int waited;
  int efd;  /* private eventfd for self-signals */
  int epfd; /* conn_fd(): epoll set of sock and efd */
  _Atomic int efd_pending;
} shm_conn;

/* The transport operations of a connection (transport.h), shm_io.c. */
int plumb__shm_conn_send(plumb_conn *pc, const struct iovec *iov, int iovcnt,
                         int64_t deadline);
int plumb__shm_conn_try_send(plumb_conn *pc, const struct iovec *iov,
                             int iovcnt);
int plumb__shm_conn_flush(plumb_conn *pc);
int plumb__shm_conn_write_wait(plumb_conn *pc, int *fd, uint32_t *events);
size_t plumb__shm_conn_rx_partial(plumb_conn *pc);
int plumb__shm_conn_recv(plumb_conn *pc, plumb_buf *buf, int64_t deadline);
int plumb__shm_conn_fd(plumb_conn *pc);
/* A server connection closing with a request unanswered: takes it off the
 * process's count of calls in progress. */
void plumb__shm_call_forget(shm_conn *c);

#endif
