/* shm_io.c - moving frames over a shm connection (see shm.c for the
 * transport as a whole): writing them into the tx ring (whole, in pieces,
 * or through the writer thread when the ring is full), reassembling them
 * from the rx ring, the waits of direct mode, waited mode for event loops,
 * the side socket as the liveness check, and the count of server calls in
 * progress that steers the clients' spinning.  Everything read from the
 * ring is validated here (record headers, lengths, indices: shm_ring.c).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linger.h"
#include "rxpool.h"
#include "shm_int.h"
#include "shm_ring.h"
#include "transport.h"

/* Server side: the shm calls this process has received and not answered,
 * over all its connections; published in each channel at every send
 * (plumb__shm_side.crowd, only when it changed) so that clients stop
 * spinning when they would outnumber the CPUs.  (Counting the clients
 * active in a 200 us window instead, so that 4 or 16 clients on 2 CPUs
 * stop spinning, was measured and lost: docs/TRANSPORTS.md.) */
static _Atomic uint32_t shm_srv_calls;

void
plumb__shm_call_forget(shm_conn *c)
{
  if (c->side == 0 && atomic_exchange(&c->in_call, 0))
    atomic_fetch_sub(&shm_srv_calls, 1);
}

static void
shm_call_begin(shm_conn *c)
{
  if (c->side == 0 && !atomic_exchange(&c->in_call, 1))
    atomic_fetch_add(&shm_srv_calls, 1);
}

static void
shm_call_end(shm_conn *c)
{
  if (c->side != 0)
    return;
  if (atomic_exchange(&c->in_call, 0))
    atomic_fetch_sub(&shm_srv_calls, 1);
  if (c->chan != NULL) {
    uint32_t n = atomic_load_explicit(&shm_srv_calls, memory_order_relaxed);
    /* Written only when it changes: the client reads this line. */
    if (atomic_load_explicit(&c->chan->side[0].crowd,
                             memory_order_relaxed) != n)
      atomic_store_explicit(&c->chan->side[0].crowd, n,
                            memory_order_relaxed);
  }
}

/* ---- liveness --------------------------------------------------------- */

/* Takes one doorbell message ("b") off the side socket (*rung = 1), or
 * finds none; ECLOSED on hang-up, EPROTO for anything else.  Never blocks.
 * One per call is enough: there is at most one doorbell per arming, and
 * any extra keeps the socket readable, so the loop simply comes back. */
static int
shm_sock_drain(shm_conn *c, int *rung)
{
  char m[16];
  ssize_t n = recv(c->sock, m, sizeof(m), MSG_DONTWAIT);

  *rung = 0;
  if (n == 0)
    return PLUMB_ECLOSED;
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
               ? PLUMB_OK
               : PLUMB_ECLOSED;
  if (n != 1 || m[0] != 'b')
    return PLUMB_EPROTO;
  *rung = 1;
  return PLUMB_OK;
}

/* Has the peer hung up?  Looks without reading, so doorbells queued for a
 * waited-mode recv() in another thread are not consumed. */
static int
shm_sock_check(shm_conn *c)
{
  struct pollfd p = { c->sock, POLLRDHUP, 0 };

  if (poll(&p, 1, 0) <= 0)
    return PLUMB_OK;
  return p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)
             ? PLUMB_ECLOSED
             : PLUMB_OK;
}

static int
shm_conn_dead(void *arg, int deep)
{
  shm_conn *c = arg;

  if (atomic_load_explicit(&c->closed, memory_order_relaxed))
    return PLUMB_ECLOSED;
  if (atomic_load_explicit(&c->peer_gone, memory_order_relaxed) ||
      atomic_load_explicit(&c->chan->closed[1 - c->side],
                           memory_order_acquire))
    return PLUMB_ECLOSED;
  if (deep) {
    int rc = shm_sock_check(c);
    if (rc == PLUMB_ECLOSED)
      atomic_store(&c->peer_gone, 1);
    return rc;
  }
  return PLUMB_OK;
}

/* ---- sending -------------------------------------------------------- */

/* How much to copy between two publishes of a big frame.  With the peer on
 * another CPU, quarter-ring pieces let it copy out while we copy in; with
 * the peer on our CPU every publish may wake it and preempt us, so the
 * whole free space goes at once. */
static uint32_t
shm_piece_on(shm_conn *c, const plumb__shm_ring *r, int cpu)
{
  if (cpu >= 0 && atomic_load_explicit(&c->chan->side[1 - c->side].cpu,
                                       memory_order_relaxed) == cpu)
    return r->size;
  return r->size / 4;
}

static uint32_t
shm_piece(shm_conn *c, const plumb__shm_ring *r)
{
  return shm_piece_on(c, r, sched_getcpu());
}

/* The length of frame iov[0..iovcnt) into *total; PLUMB_ETOOBIG if it is
 * over max_frame (or 4 GiB). */
static int
shm_frame_len(const shm_conn *c, const struct iovec *iov, int iovcnt,
              size_t *total)
{
  *total = 0;
  for (int i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len > UINT32_MAX - *total)
      return PLUMB_ETOOBIG;
    *total += iov[i].iov_len;
  }
  return *total > c->max_frame ? PLUMB_ETOOBIG : PLUMB_OK;
}

/* A frame of at most a quarter ring, written whole if the ring has room
 * for it now: header and pieces copied in, one publish.  PLUMB_EAGAIN (and
 * nothing written) if there is no room. */
static int
shm_put_whole(shm_conn *c, const struct iovec *iov, int iovcnt, size_t total)
{
  uint32_t hdr[2], space, head_seen, need = (uint32_t)total + sizeof(hdr);
  int rc;

  if ((rc = plumb__shm_ring_writable(&c->tx, need, &space,
                                     &head_seen)) != 0)
    return c->tx_err = rc;
  if (space < need)
    return PLUMB_EAGAIN;
  hdr[0] = (uint32_t)total;
  hdr[1] = (uint32_t)total ^ SHM_FRAME_KEY;
  plumb__shm_ring_write(&c->tx, hdr, sizeof(hdr));
  for (int i = 0; i < iovcnt; i++)
    if (iov[i].iov_len > 0)
      plumb__shm_ring_write(&c->tx, iov[i].iov_base, iov[i].iov_len);
  plumb__shm_ring_publish_tail(&c->tx);
  /* Where we run, for the peer's spin-or-sleep choice. */
  plumb__shm_note_cpu(&c->chan->side[c->side].cpu, sched_getcpu());
  return PLUMB_OK;
}

/* Writes one frame of `total` bytes (checked by shm_frame_len), waiting
 * for room until the deadline (PLUMB_NOWAIT: PLUMB_EAGAIN at once if it
 * does not fit whole).  The connection was checked open by the caller. */
static int
shm_send_frame(shm_conn *c, const struct iovec *iov, int iovcnt,
               size_t total, int64_t deadline)
{
  uint32_t hdr[2], space, head_seen;
  size_t left, off = 0, piece;
  int src = -1, rc, written = 0, cpu;

  if (c->tx_err)
    return c->tx_err;
  if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
    return rc;
  left = total + sizeof(hdr);
  /* A frame of a quarter ring goes in one piece wherever the peer runs. */
  if (left <= c->tx.size / 4 &&
      (rc = shm_put_whole(c, iov, iovcnt, total)) != PLUMB_EAGAIN)
    return rc;
  hdr[0] = (uint32_t)total;
  hdr[1] = (uint32_t)total ^ SHM_FRAME_KEY;
  cpu = sched_getcpu();
  piece = left <= c->tx.size / 4 ? left : shm_piece_on(c, &c->tx, cpu);
  if (deadline == PLUMB_NOWAIT) {
    uint32_t need = left < c->tx.size ? (uint32_t)left : c->tx.size;
    if ((rc = plumb__shm_ring_writable(&c->tx, need, &space,
                                       &head_seen)) != 0)
      return c->tx_err = rc;
    if (space < left)
      return PLUMB_EAGAIN;
  }
  while (left > 0) {
    size_t n, want = left < piece ? left : piece;
    uint32_t need = want < c->tx.size ? (uint32_t)want : c->tx.size;
    if ((rc = plumb__shm_ring_writable(&c->tx, need, &space,
                                       &head_seen)) != 0)
      return c->tx_err = rc;
    if (space == 0) {
      rc = plumb__shm_wait(&c->spin_tx, &c->tx.ctl->head, head_seen,
                           &c->tx.ctl->prod_waiting, &c->tx.ctl->head_wake_ns,
                           deadline, SHM_SLICE_NS,
                           shm_conn_dead, c);
      if (rc != PLUMB_OK) {
        if (written)
          c->tx_err = rc == PLUMB_ETIMEDOUT ? PLUMB_ECLOSED : rc;
        return rc;
      }
      continue;
    }
    n = space < left ? space : left;
    if (n > piece)
      n = piece;
    left -= n;
    while (n > 0) {
      const uint8_t *p;
      size_t avail, k;
      if (src < 0) {
        p = (const uint8_t *)hdr + off;
        avail = sizeof(hdr) - off;
      } else {
        /* an empty piece may have a NULL base: no arithmetic on it */
        avail = iov[src].iov_len - off;
        p = avail ? (const uint8_t *)iov[src].iov_base + off : NULL;
      }
      if (avail == 0) {
        src++;
        off = 0;
        continue;
      }
      k = avail < n ? avail : n;
      plumb__shm_ring_write(&c->tx, p, k);
      off += k;
      n -= k;
    }
    plumb__shm_ring_publish_tail(&c->tx);
    written = 1;
  }
  /* Where we run, for the peer's spin-or-sleep choice. */
  plumb__shm_note_cpu(&c->chan->side[c->side].cpu, cpu);
  return PLUMB_OK;
}

int
plumb__shm_conn_send(plumb_conn *pc, const struct iovec *iov, int iovcnt,
              int64_t deadline)
{
  shm_conn *c = (shm_conn *)pc;
  size_t total = 0;

  if (shm_frame_len(c, iov, iovcnt, &total) != PLUMB_OK)
    return PLUMB_ETOOBIG;
  if (atomic_load(&c->closed))
    return PLUMB_ECLOSED;
  shm_call_end(c);
  return shm_send_frame(c, iov, iovcnt, total, deadline);
}

/* Streams the kept frame (ttail) into the ring: without waiting
 * (PLUMB_EAGAIN once the ring is full) or, for the writer thread, waiting
 * for room as a blocking send() does.  Big frames go in pieces (shm_piece)
 * so that the peer copies out while we copy in. */
static int
shm_tail_push(shm_conn *c, int block)
{
  uint32_t space, head_seen;
  size_t piece;
  int rc;

  if (c->ttail.len == 0) /* nothing kept (its buffer was trimmed then) */
    return PLUMB_OK;
  piece = block ? shm_piece(c, &c->tx) : SIZE_MAX;
  while (c->ttoff < c->ttail.len) {
    /* need = the whole ring: always read the head afresh here. */
    if ((rc = plumb__shm_ring_writable(&c->tx, c->tx.size, &space,
                                       &head_seen)) != 0)
      return c->tx_err = rc;
    if (space == 0) {
      if (!block) {
        if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
          return c->tx_err = rc;
        return PLUMB_EAGAIN;
      }
      rc = plumb__shm_wait(&c->spin_tx, &c->tx.ctl->head, head_seen,
                           &c->tx.ctl->prod_waiting, &c->tx.ctl->head_wake_ns,
                           PLUMB_FOREVER, SHM_SLICE_NS, shm_conn_dead, c);
      if (rc != PLUMB_OK)
        return c->tx_err = rc;
      continue;
    }
    size_t n = c->ttail.len - c->ttoff;
    if (n > space)
      n = space;
    if (n > piece)
      n = piece;
    plumb__shm_ring_write(&c->tx, c->ttail.data + c->ttoff, n);
    plumb__shm_ring_publish_tail(&c->tx);
    c->ttoff += n;
  }
  c->ttail.len = c->ttoff = 0;
  if (c->ttail.cap > SHM_TTAIL_KEEP)
    plumb__buf_free(&c->ttail);
  return PLUMB_OK;
}

/* The writer thread (started at the first full ring of a server
 * connection): streams what flush() hands it, then signals wevfd. */
static void *
shm_writer_main(void *arg)
{
  shm_conn *c = arg;
  uint64_t one = 1;

  pthread_mutex_lock(&c->wmu);
  for (;;) {
    while (!c->w_busy && !c->w_stop)
      pthread_cond_wait(&c->wcv, &c->wmu);
    if (c->w_stop)
      break;
    pthread_mutex_unlock(&c->wmu);
    int rc = shm_tail_push(c, 1);
    pthread_mutex_lock(&c->wmu);
    c->w_status = rc;
    c->w_busy = 0;
    if (write(c->wevfd, &one, sizeof(one)) < 0) {
      /* cannot overflow: flush() reads it before the next hand-off */
    }
  }
  pthread_mutex_unlock(&c->wmu);
  return NULL;
}

/* The ring is full: the writer thread takes over the kept frame. */
static int
shm_hand_off(shm_conn *c)
{
  if (!c->wthr_on) {
    pthread_attr_t a;
    int rv;
    if (c->wevfd < 0 &&
        (c->wevfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
      return PLUMB_ESYS;
    if (pthread_attr_init(&a) != 0)
      return PLUMB_ESYS;
    pthread_attr_setstacksize(&a, SHM_WRITER_STACK);
    rv = pthread_create(&c->wthr, &a, shm_writer_main, c);
    pthread_attr_destroy(&a);
    if (rv != 0)
      return PLUMB_ESYS;
    c->wthr_on = 1;
  }
  pthread_mutex_lock(&c->wmu);
  c->w_busy = 1;
  pthread_cond_signal(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  return PLUMB_EAGAIN;
}

/* Server side, never blocking (transport.h).  A frame that fits the ring
 * and finds room goes in whole; any other is copied and streamed through by
 * flush(), or by the writer thread while the ring is full. */
int
plumb__shm_conn_flush(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;
  int rc;

  if (c->wthr_on) {
    uint64_t v;
    pthread_mutex_lock(&c->wmu);
    int busy = c->w_busy;
    if (!busy && read(c->wevfd, &v, sizeof(v)) < 0) {
      /* EAGAIN: nothing handed off since the last look */
    }
    pthread_mutex_unlock(&c->wmu);
    if (busy)
      return PLUMB_EAGAIN;
  }
  if (atomic_load(&c->closed))
    return PLUMB_ECLOSED;
  if (c->tx_err)
    return c->tx_err;
  rc = shm_tail_push(c, 0);
  return rc == PLUMB_EAGAIN ? shm_hand_off(c) : rc;
}

int
plumb__shm_conn_try_send(plumb_conn *pc, const struct iovec *iov, int iovcnt)
{
  shm_conn *c = (shm_conn *)pc;
  size_t total = 0;
  int rc;

  if ((rc = plumb__shm_conn_flush(pc)) != PLUMB_OK)
    return rc; /* PLUMB_EAGAIN: a kept frame still goes first */
  if (shm_frame_len(c, iov, iovcnt, &total) != PLUMB_OK)
    return PLUMB_ETOOBIG;
  shm_call_end(c); /* answered, whether it fits the ring now or not */
  if (total + 8 <= c->tx.size) {
    if (atomic_load(&c->closed))
      return PLUMB_ECLOSED;
    rc = shm_send_frame(c, iov, iovcnt, total, PLUMB_NOWAIT);
    if (rc != PLUMB_EAGAIN)
      return rc;
    if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
      return rc;
  }
  if (plumb__buf_reserve(&c->ttail, total + 8) != PLUMB_OK)
    return PLUMB_ENOMEM;
  uint32_t hdr[2] = { (uint32_t)total, (uint32_t)total ^ SHM_FRAME_KEY };
  memcpy(c->ttail.data, hdr, sizeof(hdr));
  c->ttail.len = sizeof(hdr);
  for (int i = 0; i < iovcnt; i++) {
    if (iov[i].iov_len)
      memcpy(c->ttail.data + c->ttail.len, iov[i].iov_base, iov[i].iov_len);
    c->ttail.len += iov[i].iov_len;
  }
  c->ttoff = 0;
  rc = plumb__shm_conn_flush(pc);
  return rc == PLUMB_EAGAIN ? PLUMB_OK : rc; /* taken either way */
}

/* The writer thread's eventfd once it exists (it does whenever flush() said
 * PLUMB_EAGAIN). */
int
plumb__shm_conn_write_wait(plumb_conn *pc, int *fd, uint32_t *events)
{
  shm_conn *c = (shm_conn *)pc;

  *fd = c->wevfd;
  *events = EPOLLIN;
  if (c->wevfd < 0) {
    *events = 0;
    return PLUMB_ENOTSUP;
  }
  return PLUMB_OK;
}

/* Bytes of a frame begun and not complete: the header bytes read, and once
 * the header is whole, the body bytes assembled.  (rgot keeps the length of
 * the last frame handed over until the next header is whole: it counts
 * only while rhdr_got says a frame is under way.) */
size_t
plumb__shm_conn_rx_partial(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;
  if (c->rhdr_got < sizeof(c->rhdr))
    return c->rhdr_got;
  return c->rhdr_got + c->rgot;
}

/* ---- receiving ------------------------------------------------------ */

/* Moves what the ring holds into the frame being assembled.  PLUMB_OK when
 * a frame is complete (then handed over in buf), PLUMB_EAGAIN if more is
 * needed, else a sticky error.  *more: bytes remain in the ring. */
static int
shm_rx_pull(shm_conn *c, plumb_buf *buf, int *more, uint32_t *seen)
{
  uint32_t avail, n, piece = 0;
  int rc = PLUMB_EAGAIN;

  *more = 0;
  if (c->rx_err)
    return c->rx_err;
  if (plumb__shm_ring_readable(&c->rx, &avail, seen) != PLUMB_OK)
    return c->rx_err = PLUMB_EPROTO;
  for (;;) {
    if (c->rhdr_got < sizeof(c->rhdr)) {
      uint32_t len, chk;
      if (avail == 0)
        break;
      n = (uint32_t)sizeof(c->rhdr) - c->rhdr_got;
      n = n < avail ? n : avail;
      plumb__shm_ring_read(&c->rx, c->rhdr + c->rhdr_got, n);
      c->rhdr_got += n;
      avail -= n;
      if (c->rhdr_got < sizeof(c->rhdr))
        break;
      memcpy(&len, c->rhdr, 4);
      memcpy(&chk, c->rhdr + 4, 4);
      if (chk != (len ^ SHM_FRAME_KEY)) {
        rc = PLUMB_EPROTO;
        break;
      }
      if (len > c->max_frame) {
        rc = PLUMB_ETOOBIG;
        break;
      }
      /* A frame the buffer already holds within the free allowance
       * charges nothing and grows nothing: no call for it. */
      if ((len > c->part.cap || len > PLUMB__RX_FREE || c->rx_charged) &&
          plumb__rx_charge(c->rx_pool, &c->rx_charged,
                           plumb__rx_held(&c->part, len)) != PLUMB_OK) {
        rc = PLUMB_EBUSY; /* the server's receive memory is full */
        break;
      }
      if (plumb__buf_reserve(&c->part, len ? len : 1) != PLUMB_OK) {
        rc = PLUMB_ENOMEM;
        break;
      }
      c->rlen = len;
      c->rgot = 0;
    }
    if (c->rgot == c->rlen) {
      /* Hand the assembled buffer over; keep the caller's for reuse. */
      plumb_buf old = *buf;
      buf->data = c->part.data;
      buf->cap = c->part.cap;
      buf->len = c->rlen;
      c->part.data = old.data;
      c->part.cap = old.cap;
      c->part.len = 0;
      c->rhdr_got = 0;
      if (c->rx_charged)
        plumb__rx_release(c->rx_pool, &c->rx_charged);
      rc = PLUMB_OK;
      break;
    }
    if (avail == 0) {
      /* Mid-frame: the producer may have published more meanwhile. */
      if (plumb__shm_ring_readable(&c->rx, &avail, seen) != PLUMB_OK) {
        rc = PLUMB_EPROTO;
        break;
      }
      if (avail == 0)
        break;
    }
    n = c->rlen - c->rgot;
    n = n < avail ? n : avail;
    if (n > c->rx.size / 4) { /* a piece is never less than that */
      if (piece == 0)
        piece = shm_piece(c, &c->rx);
      if (n > piece)
        n = piece;
    }
    plumb__shm_ring_read(&c->rx, c->part.data + c->rgot, n);
    c->rgot += n;
    avail -= n;
    /* Big frames free each quarter-ring piece at once (a frame complete
     * now is released below). */
    if (c->rgot < c->rlen)
      plumb__shm_ring_release(&c->rx, 1);
  }
  /* A whole small frame: the head may wait for our next wait or send
   * (plumb__shm_ring_release); a partial one frees its space now. */
  plumb__shm_ring_release(&c->rx, rc == PLUMB_OK);
  if (rc != PLUMB_OK && rc != PLUMB_EAGAIN)
    c->rx_err = rc;
  *more = avail > 0;
  return rc;
}

/* The peer is gone: deliver a frame it completed before leaving, if any. */
static int
shm_rx_final(shm_conn *c, plumb_buf *buf, int why)
{
  uint32_t seen;
  int more, rc;

  if (why != PLUMB_ECLOSED || atomic_load(&c->closed))
    return why;
  rc = shm_rx_pull(c, buf, &more, &seen);
  return rc == PLUMB_EAGAIN ? PLUMB_ECLOSED : rc;
}

static void
shm_signal(shm_conn *c)
{
  uint64_t one = 1;

  atomic_store(&c->efd_pending, 1);
  (void)!write(c->efd, &one, sizeof(one));
}

/* Busy pollers in this process at once: at most one CPU fewer than there
 * are (at least one), so polling never takes every CPU from the peers it
 * waits for, nor the server's other workers from their connections. */
static _Atomic int shm_pollers;

static int
shm_poll_enter(void)
{
  if (atomic_fetch_add(&shm_pollers, 1) < plumb__waiters_max())
    return 1;
  atomic_fetch_sub(&shm_pollers, 1);
  return 0;
}

/* Waited mode: the core polls conn_fd() (sock + efd).  Before reporting
 * EAGAIN we drain the doorbells, arm the bell (the producer's next publish
 * sends one doorbell message on the side socket) and look at the ring once
 * more, so a frame published meanwhile is never missed.  A frame returned
 * does not drain anything: the fd stays readable until a call finds the
 * ring empty, so frames already queued are not forgotten. */
static int
shm_recv_waited(shm_conn *c, plumb_buf *buf, int64_t deadline)
{
  for (;;) {
    uint32_t seen;
    int more, rung, rc = shm_rx_pull(c, buf, &more, &seen);

    /* Busy poll (the server's default, PLUMB_SHM_POLL_US): a request
     * that follows within the adaptive budget costs no system call at
     * all.  Bounded in time and in pollers (shm_poll_enter), and only
     * while no other connection has a call in progress here (that one
     * needs the CPU; its client's next request wakes us anyway). */
    if (rc == PLUMB_EAGAIN && c->spin_poll.max_ns != 0 &&
        atomic_load_explicit(&shm_srv_calls, memory_order_relaxed) == 0 &&
        shm_poll_enter()) {
      int won = plumb__shm_poll(&c->spin_poll, &c->rx.ctl->tail, seen);
      atomic_fetch_sub(&shm_pollers, 1);
      if (won)
        rc = shm_rx_pull(c, buf, &more, &seen);
    }
    if (rc != PLUMB_EAGAIN)
      return rc;
    if (atomic_exchange(&c->efd_pending, 0)) {
      uint64_t v;
      (void)!read(c->efd, &v, sizeof(v));
    }
    rc = shm_sock_drain(c, &rung);
    if (rc == PLUMB_ECLOSED)
      atomic_store(&c->peer_gone, 1);
    else if (rc == PLUMB_EPROTO)
      c->rx_err = rc;
    atomic_store_explicit(&c->rx.ctl->cons_waiting, PLUMB_SHM_WAIT_BELL,
                          memory_order_seq_cst);
    if (rc == PLUMB_OK)
      rc = shm_rx_pull(c, buf, &more, &seen);
    if (rc != PLUMB_EAGAIN && rc != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
    if (rc == PLUMB_OK)
      return rc;
    if ((rc = shm_conn_dead(c, 0)) != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
    struct pollfd p = { c->epfd, POLLIN, 0 };
    if (poll(&p, 1, plumb__poll_timeout(deadline)) < 0 && errno != EINTR)
      return PLUMB_ESYS;
  }
}

static int shm_conn_recv_frame(shm_conn *c, plumb_buf *buf,
                               int64_t deadline);

int
plumb__shm_conn_recv(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  shm_conn *c = (shm_conn *)pc;
  int rc = shm_conn_recv_frame(c, buf, deadline);

  if (rc == PLUMB_OK)
    shm_call_begin(c);
  return rc;
}

static int
shm_conn_recv_frame(shm_conn *c, plumb_buf *buf, int64_t deadline)
{

  if (atomic_load(&c->closed))
    return PLUMB_ECLOSED;
  if (atomic_load_explicit(&c->waited, memory_order_acquire))
    return shm_recv_waited(c, buf, deadline);
  for (;;) {
    uint32_t seen;
    int more, rc = shm_rx_pull(c, buf, &more, &seen);

    if (rc != PLUMB_EAGAIN)
      return rc;
    if ((rc = shm_conn_dead(c, deadline == PLUMB_NOWAIT)) != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    rc = plumb__shm_wait(&c->spin_rx, &c->rx.ctl->tail, seen,
                         &c->rx.ctl->cons_waiting, &c->rx.ctl->tail_wake_ns,
                         deadline, SHM_SLICE_NS, shm_conn_dead, c);
    if (rc != PLUMB_OK)
      return shm_rx_final(c, buf, rc);
  }
}

/* ---- waited mode ------------------------------------------------------ */

static int
shm_waited_start(shm_conn *c)
{
  struct epoll_event ev;
  uint32_t avail, seen;

  c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  c->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (c->efd < 0 || c->epfd < 0)
    goto fail;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->efd, &ev) != 0)
    goto fail;
  ev.events = EPOLLIN | EPOLLRDHUP;
  if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->sock, &ev) != 0)
    goto fail;
  /* Arm the bell; if bytes are already there, make the fd readable now. */
  atomic_store_explicit(&c->rx.ctl->cons_waiting, PLUMB_SHM_WAIT_BELL,
                        memory_order_seq_cst);
  if (plumb__shm_ring_readable(&c->rx, &avail, &seen) != PLUMB_OK ||
      avail > 0 || c->rhdr_got > 0)
    shm_signal(c);
  atomic_store_explicit(&c->waited, 1, memory_order_release);
  return c->epfd;

fail:
  if (c->efd >= 0)
    close(c->efd);
  if (c->epfd >= 0)
    close(c->epfd);
  c->efd = c->epfd = -1;
  return -1;
}

/* Switches the connection to waited mode (first call) and returns an fd
 * that polls readable when recv() may make progress: the side socket
 * (doorbells, peer death) and a private eventfd, in one epoll set.  Must
 * not race with a blocking recv() in direct mode. */
int
plumb__shm_conn_fd(plumb_conn *pc)
{
  shm_conn *c = (shm_conn *)pc;
  int fd;

  pthread_mutex_lock(&c->fd_lock);
  fd = atomic_load(&c->waited) ? c->epfd : shm_waited_start(c);
  pthread_mutex_unlock(&c->fd_lock);
  return fd;
}
