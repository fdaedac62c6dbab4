/* txq.h - the per-connection queue of reply frames a slow peer has not read
 * yet (core-internal).  See txq.c. */
#ifndef PLUMB_TXQ_H
#define PLUMB_TXQ_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/uio.h>

#include "transport.h"

typedef struct plumb__txq_item {
  struct plumb__txq_item *next;
  size_t len;
  uint8_t data[]; /* the whole frame, copied */
} plumb__txq_item;

typedef struct plumb__txq {
  plumb__txq_item *head, *last;
  size_t bytes;    /* bytes of frames queued here */
  unsigned frames; /* frames queued here */
} plumb__txq;

/* The limits a push is checked against; `server_bytes` counts the bytes
 * queued on every connection of one server. */
typedef struct plumb__txq_limits {
  size_t conn_bytes;
  unsigned conn_frames;
  size_t server_max;
  atomic_size_t *server_bytes;
} plumb__txq_limits;

static inline int
plumb__txq_empty(const plumb__txq *q)
{
  return q->head == NULL;
}

/* Copies the frame iov[0..n) to the end of q.  PLUMB_EBUSY if a limit
 * would be exceeded (nothing queued), PLUMB_ENOMEM. */
int plumb__txq_push(plumb__txq *q, const struct iovec *iov, int n,
                    const plumb__txq_limits *lim);
/* Pushes out what the connection and q hold, never blocking: the
 * connection's kept tail (flush), then queued frames (try_send) in order.
 * PLUMB_OK once everything is out, PLUMB_EAGAIN while some is left, or the
 * transport's error. */
int plumb__txq_flush(plumb__txq *q, plumb_conn *c,
                     const plumb__txq_limits *lim);
/* Frees every queued frame (the connection is being dropped). */
void plumb__txq_clear(plumb__txq *q, const plumb__txq_limits *lim);

#endif
