/* txq.c - per-connection reply queues: whole frames, copied, bounded in
 * bytes and frames per connection and in bytes per server.  Only the head
 * is ever in flight (the transport keeps at most one partly sent tail).
 * It does not decide when to wait or drop: the worker loop (server.c)
 * does, from what push and flush return. */
#include <stdlib.h>
#include <string.h>

#include "txq.h"

int
plumb__txq_push(plumb__txq *q, const struct iovec *iov, int n,
                const plumb__txq_limits *lim)
{
  size_t len = 0;

  for (int i = 0; i < n; i++)
    len += iov[i].iov_len;
  if (q->frames + 1 > lim->conn_frames || q->bytes + len > lim->conn_bytes)
    return PLUMB_EBUSY;
  size_t was = atomic_fetch_add(lim->server_bytes, len);
  if (was + len > lim->server_max) {
    atomic_fetch_sub(lim->server_bytes, len);
    return PLUMB_EBUSY;
  }
  plumb__txq_item *it = malloc(sizeof(*it) + (len ? len : 1));
  if (it == NULL) {
    atomic_fetch_sub(lim->server_bytes, len);
    return PLUMB_ENOMEM;
  }
  it->next = NULL;
  it->len = 0;
  for (int i = 0; i < n; i++) {
    if (iov[i].iov_len)
      memcpy(it->data + it->len, iov[i].iov_base, iov[i].iov_len);
    it->len += iov[i].iov_len;
  }
  if (q->last)
    q->last->next = it;
  else
    q->head = it;
  q->last = it;
  q->bytes += len;
  q->frames++;
  return PLUMB_OK;
}

static void
txq_pop(plumb__txq *q, const plumb__txq_limits *lim)
{
  plumb__txq_item *it = q->head;

  q->head = it->next;
  if (q->head == NULL)
    q->last = NULL;
  q->bytes -= it->len;
  q->frames--;
  atomic_fetch_sub(lim->server_bytes, it->len);
  free(it);
}

int
plumb__txq_flush(plumb__txq *q, plumb_conn *c, const plumb__txq_limits *lim)
{
  int st = c->ops->flush(c);

  while (st == PLUMB_OK && q->head != NULL) {
    struct iovec v = { q->head->data, q->head->len };
    if ((st = c->ops->try_send(c, &v, 1)) == PLUMB_OK)
      txq_pop(q, lim);
  }
  return st;
}

void
plumb__txq_clear(plumb__txq *q, const plumb__txq_limits *lim)
{
  while (q->head != NULL)
    txq_pop(q, lim);
}
