/* stream.c - length-prefixed frames over byte-stream descriptors, and the
 * connection built on them (see stream.h for the contract).  Shared by
 * unix, tcp, pipe and fifo; it opens nothing: the transports make the
 * descriptors, the connection only accepts, shuts down and closes them. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "stream.h"

/* Receive buffer kept between frames; larger ones are released when idle. */
#define STREAM_RX_MIN (16u * 1024u)
#define STREAM_RX_KEEP (2u * 1024u * 1024u) /* a 1 MiB frame stays cheap */
/* Frames from this size on are read straight into the buffer handed out. */
#define STREAM_BODY_MIN (64u * 1024u)
/* Largest pipe a big frame grows its pipe to (see stream_grow_pipe). */
#define STREAM_PIPE_MAX (1u << 20)
/* Longest single blocking recv() on a blocking socket (ms). */
#define STREAM_RCVTIMEO_SLICE 100
/* Largest send buffer asked for on unix sockets (see stream_size_sndbuf). */
#define PLUMB__STREAM_SNDBUF (2u * 1024u * 1024u)

void
plumb__stream_init(plumb__stream *s, int rfd, int wfd, uint32_t max_frame)
{
  struct stat st;
  int fl;

  memset(s, 0, sizeof(*s));
  s->rfd = rfd;
  s->wfd = wfd;
  s->wake_fd = -1;
  s->wsock = fstat(wfd, &st) == 0 && S_ISSOCK(st.st_mode);
  s->rblock = fstat(rfd, &st) == 0 && S_ISSOCK(st.st_mode) &&
              (fl = fcntl(rfd, F_GETFL)) >= 0 && !(fl & O_NONBLOCK);
  s->rcvtimeo_ms = -1;
  s->max_frame = max_frame ? max_frame : PLUMB_DEFAULT_MAX_FRAME;
}

void
plumb__stream_set_wake(plumb__stream *s, int wake_fd)
{
  s->wake_fd = wake_fd;
}

void
plumb__stream_set_pool(plumb__stream *s, plumb__rx_pool *pool)
{
  s->pool = pool;
}

void
plumb__stream_free(plumb__stream *s)
{
  plumb__rx_release(s->pool, &s->charged);
  plumb__buf_free(&s->rx);
  plumb__buf_free(&s->tail);
  plumb__buf_free(&s->batch);
  s->off = s->toff = s->body = 0;
  s->corked = 0;
}

/* Waits until fd polls for events or the deadline passes (or the wake fd
 * says the stream was shut down). */
static int
stream_wait(const plumb__stream *s, int fd, short events, int64_t deadline)
{
  struct pollfd p[2] = { { .fd = fd, .events = events },
                         { .fd = s->wake_fd, .events = POLLIN } };
  nfds_t n = s->wake_fd >= 0 ? 2 : 1;
  int r;

  if (deadline == PLUMB_NOWAIT)
    return PLUMB_EAGAIN;
  for (;;) {
    int ms = plumb__poll_timeout(deadline);
    if (ms == 0 && deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
    r = poll(p, n, ms);
    if (r > 0 && n == 2 && p[1].revents != 0)
      return PLUMB_ECLOSED;
    if (r > 0)
      return PLUMB_OK; /* readable, writable, HUP or ERR: the I/O tells */
    if (r == 0) {
      if (deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
        return PLUMB_ETIMEDOUT;
      continue;
    }
    if (errno != EINTR)
      return PLUMB_ESYS;
  }
}

/* The prefix and the non-empty iovecs of a frame into v (room for
 * PLUMB__STREAM_MAX_IOV + 1); *total gets the frame's length. */
static int
stream_frame_iov(const plumb__stream *s, const struct iovec *iov, int iovcnt,
                 uint8_t prefix[PLUMB__STREAM_PREFIX], struct iovec *v,
                 int *n, size_t *total)
{
  size_t sum = 0;

  if (iovcnt < 0 || iovcnt > PLUMB__STREAM_MAX_IOV)
    return PLUMB_EINVAL;
  for (int i = 0; i < iovcnt; i++)
    sum += iov[i].iov_len;
  if (sum > s->max_frame)
    return PLUMB_ETOOBIG;
  plumb__put_le32(prefix, (uint32_t)sum);
  *n = 0;
  v[(*n)++] = (struct iovec){ prefix, PLUMB__STREAM_PREFIX };
  for (int i = 0; i < iovcnt; i++)
    if (iov[i].iov_len > 0)
      v[(*n)++] = iov[i];
  *total = sum;
  return PLUMB_OK;
}

/* A pipe or FIFO holds 64 KiB by default: a 1 MiB frame then crosses in
 * sixteen turns, each a wake-up of both sides.  The first frame larger than
 * that grows the pipe once to min(frame, pipe-max-size, STREAM_PIPE_MAX).
 * Only connections that carry big frames pay: the pages count against the
 * user's pipe-user-pages-soft (64 MiB), which small-call connections never
 * touch; a refusal (EPERM past the limit) just keeps the default. */
static void
stream_grow_pipe(plumb__stream *s, size_t frame)
{
  long max = plumb__read_long("/proc/sys/fs/pipe-max-size", 1 << 20);
  size_t want = STREAM_PIPE_MAX;

  s->pipe_grown = 1;
  if (max > 0 && (size_t)max < want)
    want = (size_t)max;
  if (frame < want)
    want = frame;
  int have = fcntl(s->wfd, F_GETPIPE_SZ);
  if (have > 0 && (size_t)have < want)
    (void)fcntl(s->wfd, F_SETPIPE_SZ, (int)want);
}

/* Non-zero if SIGPIPE is ignored in this process: by plumb_server_run, or
 * by the program (looked at on the first write and every 256th after:
 * one sigaction() instead of two sigprocmask() per write).  A program
 * that stops ignoring SIGPIPE while pipe or FIFO connections are open may
 * see up to 255 writes go unmasked (docs/TRANSPORTS.md, pipe). */
static int
stream_sigpipe_ignored(plumb__stream *s)
{
  if (plumb__sigpipe_ignored())
    return 1;
  if ((s->sig_n++ & 255) == 0) {
    struct sigaction sa;
    s->sig_ign = sigaction(SIGPIPE, NULL, &sa) == 0 &&
                 !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN;
  }
  return s->sig_ign;
}

/* One non-blocking write of iov; never raises SIGPIPE. */
static ssize_t
stream_write(plumb__stream *s, struct iovec *iov, int n)
{
  ssize_t w;

  if (s->wsock) {
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    return sendmsg(s->wfd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (stream_sigpipe_ignored(s)) /* no signal to fear: 2 syscalls saved */
    return writev(s->wfd, iov, n);
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  w = writev(s->wfd, iov, n);
  if (w < 0 && errno == EPIPE) {
    int saved = errno;
    struct timespec zero = { 0, 0 };
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old, SIGPIPE))
      (void)sigtimedwait(&pipe_set, NULL, &zero);
    errno = saved;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return w;
}

int
plumb__stream_send(plumb__stream *s, const struct iovec *iov, int iovcnt,
                   int64_t deadline)
{
  struct iovec v[PLUMB__STREAM_MAX_IOV + 1];
  uint8_t prefix[PLUMB__STREAM_PREFIX];
  size_t total;
  int n, first = 1, st;

  if ((st = stream_frame_iov(s, iov, iovcnt, prefix, v, &n, &total)) !=
      PLUMB_OK)
    return st;
  if (!s->wsock && !s->pipe_grown && total >= STREAM_BODY_MIN)
    stream_grow_pipe(s, total + PLUMB__STREAM_PREFIX);

  struct iovec *cur = v;
  for (;;) {
    ssize_t w = stream_write(s, cur, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
        return PLUMB_ECLOSED;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return PLUMB_ESYS;
      w = 0;
    }
    if (w > 0)
      first = 0;
    /* Skip what went out. */
    size_t done = (size_t)w;
    while (n > 0 && done >= cur->iov_len) {
      done -= cur->iov_len;
      cur++;
      n--;
    }
    if (n == 0)
      return PLUMB_OK;
    cur->iov_base = (uint8_t *)cur->iov_base + done;
    cur->iov_len -= done;
    if ((st = stream_wait(s, s->wfd, POLLOUT, deadline)) != PLUMB_OK) {
      if (st == PLUMB_EAGAIN && !first)
        st = PLUMB_ETIMEDOUT; /* half sent: stream unusable */
      return st;
    }
  }
}

/* A failed write's errno as a status; EAGAIN is PLUMB_EAGAIN. */
static int
stream_write_error(int err)
{
  if (err == EAGAIN || err == EWOULDBLOCK)
    return PLUMB_EAGAIN;
  if (err == EPIPE || err == ECONNRESET || err == ENOTCONN)
    return PLUMB_ECLOSED;
  return PLUMB_ESYS;
}

/* Writes the corked batch with one non-blocking write; what the peer does
 * not take becomes the kept tail (there is none while a batch is held:
 * try_send() batches nothing while a tail is pending).  PLUMB_OK, or the
 * write's error. */
static int
stream_batch_out(plumb__stream *s)
{
  if (s->batch.len == 0)
    return PLUMB_OK;
  struct iovec v = { s->batch.data, s->batch.len };
  ssize_t w;
  do
    w = stream_write(s, &v, 1);
  while (w < 0 && errno == EINTR);
  if (w < 0) {
    int st = stream_write_error(errno);
    if (st != PLUMB_EAGAIN)
      return st;
    w = 0;
  }
  if ((size_t)w < s->batch.len) { /* the rest is the tail: swap buffers */
    plumb_buf t = s->tail;
    s->tail = s->batch;
    s->toff = (size_t)w;
    s->batch = t;
  }
  s->batch.len = 0;
  if (s->batch.cap > STREAM_RX_KEEP)
    plumb__buf_free(&s->batch);
  return PLUMB_OK;
}

void
plumb__stream_cork(plumb__stream *s, int on)
{
  s->corked = on != 0;
}

int
plumb__stream_try_send(plumb__stream *s, const struct iovec *iov, int iovcnt)
{
  struct iovec v[PLUMB__STREAM_MAX_IOV + 1];
  uint8_t prefix[PLUMB__STREAM_PREFIX];
  size_t total, done;
  ssize_t w;
  int n, st;

  if (s->toff < s->tail.len)
    return PLUMB_EAGAIN; /* one kept tail at a time */
  if ((st = stream_frame_iov(s, iov, iovcnt, prefix, v, &n, &total)) !=
      PLUMB_OK)
    return st;
  size_t flen = total + PLUMB__STREAM_PREFIX;
  if (s->batch.len != 0 &&
      (!s->corked || s->batch.len + flen > PLUMB__STREAM_BATCH)) {
    /* the batch goes first, so frames keep their order */
    if ((st = stream_batch_out(s)) != PLUMB_OK)
      return st;
    if (s->toff < s->tail.len)
      return PLUMB_EAGAIN; /* this frame not taken */
  }
  if (s->corked && flen <= PLUMB__STREAM_BATCH) {
    if (plumb__buf_reserve(&s->batch, s->batch.len + flen) != PLUMB_OK)
      return PLUMB_EAGAIN; /* not taken: the core queues it */
    for (int i = 0; i < n; i++) {
      memcpy(s->batch.data + s->batch.len, v[i].iov_base, v[i].iov_len);
      s->batch.len += v[i].iov_len;
    }
    return PLUMB_OK;
  }
  if (!s->wsock && !s->pipe_grown && total >= STREAM_BODY_MIN)
    stream_grow_pipe(s, total + PLUMB__STREAM_PREFIX);
  do
    w = stream_write(s, v, n);
  while (w < 0 && errno == EINTR);
  if (w < 0)
    return stream_write_error(errno);
  if (w == 0)
    return PLUMB_EAGAIN;
  done = (size_t)w;
  if (done == total + PLUMB__STREAM_PREFIX)
    return PLUMB_OK;
  /* Keep the rest: the frame was taken, flush() finishes it. */
  size_t rest = total + PLUMB__STREAM_PREFIX - done;
  if (plumb__buf_reserve(&s->tail, rest) != PLUMB_OK)
    return PLUMB_ESYS; /* half a frame is out: the stream is unusable */
  s->tail.len = s->toff = 0;
  for (int i = 0; i < n; i++) {
    size_t skip = done < v[i].iov_len ? done : v[i].iov_len;
    done -= skip;
    memcpy(s->tail.data + s->tail.len, (uint8_t *)v[i].iov_base + skip,
           v[i].iov_len - skip);
    s->tail.len += v[i].iov_len - skip;
  }
  return PLUMB_OK;
}

int
plumb__stream_flush(plumb__stream *s)
{
  int st;
  if (!s->corked && s->toff >= s->tail.len &&
      (st = stream_batch_out(s)) != PLUMB_OK)
    return st;
  while (s->toff < s->tail.len) {
    struct iovec v = { s->tail.data + s->toff, s->tail.len - s->toff };
    ssize_t w = stream_write(s, &v, 1);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return stream_write_error(errno);
    if (w == 0)
      return PLUMB_EAGAIN;
    s->toff += (size_t)w;
  }
  s->tail.len = s->toff = 0;
  if (s->tail.cap > STREAM_RX_KEEP)
    plumb__buf_free(&s->tail);
  return PLUMB_OK;
}

size_t
plumb__stream_partial(const plumb__stream *s)
{
  return s->rx.len - s->off;
}

int
plumb__stream_buffered(const plumb__stream *s)
{
  size_t have = s->rx.len - s->off;

  if (s->body)
    return s->rx.len == s->body;
  if (have < PLUMB__STREAM_PREFIX)
    return 0;
  uint32_t n = plumb__get_le32(s->rx.data + s->off);
  return n <= s->max_frame && have - PLUMB__STREAM_PREFIX >= n;
}

int
plumb__stream_rx_state(const plumb__stream *s)
{
  if (plumb__stream_buffered(s))
    return PLUMB__RX_WHOLE;
  return s->rx_short ? PLUMB__RX_DRAINED : PLUMB__RX_MORE;
}

/* The buffer is empty again: no charge, and a large one goes. */
static void
stream_rx_idle(plumb__stream *s)
{
  s->off = s->rx.len = 0;
  plumb__rx_release(s->pool, &s->charged); /* nothing partial left */
  if (s->rx.cap > STREAM_RX_KEEP)
    plumb__buf_free(&s->rx);
}

/* Hands out the frame at the head of the buffer if it is complete.
 * Returns PLUMB_OK, PLUMB_EAGAIN (need more bytes: *need of them in the
 * buffer) or an error.  A frame of at least STREAM_BODY_MIN bytes that is
 * not all here yet switches the stream to body mode (stream.h). */
static int
stream_take(plumb__stream *s, plumb_buf *out, size_t *need)
{
  size_t have = s->rx.len - s->off;

  if (s->body) {
    *need = s->body;
    if (s->rx.len < s->body)
      return PLUMB_EAGAIN;
    plumb_buf t = *out; /* the buffers swap: no copy */
    *out = s->rx;
    s->rx = t;
    s->body = 0;
    s->split = 1;
    stream_rx_idle(s);
    return PLUMB_OK;
  }
  *need = PLUMB__STREAM_PREFIX;
  if (have < PLUMB__STREAM_PREFIX)
    return PLUMB_EAGAIN;
  uint32_t n = plumb__get_le32(s->rx.data + s->off);
  if (n > s->max_frame)
    return PLUMB_ETOOBIG;
  *need = PLUMB__STREAM_PREFIX + (size_t)n;
  if (have < *need) {
    if (n >= STREAM_BODY_MIN) { /* everything here is of this frame */
      memmove(s->rx.data, s->rx.data + s->off + PLUMB__STREAM_PREFIX,
              have - PLUMB__STREAM_PREFIX);
      s->rx.len = have - PLUMB__STREAM_PREFIX;
      s->off = 0;
      s->body = n;
      *need = n;
    }
    return PLUMB_EAGAIN;
  }
  if (plumb__buf_reserve(out, n ? n : 1) != PLUMB_OK)
    return PLUMB_ENOMEM;
  memcpy(out->data, s->rx.data + s->off + PLUMB__STREAM_PREFIX, n);
  out->len = n;
  s->split = n >= STREAM_BODY_MIN;
  s->off += *need;
  if (s->off == s->rx.len)
    stream_rx_idle(s);
  return PLUMB_OK;
}

/* Bounds the next blocking recv() on a blocking socket so that it returns
 * by the deadline; a setsockopt only when the bound must change. */
static int
stream_set_rcvtimeo(plumb__stream *s, int64_t deadline)
{
  int want = STREAM_RCVTIMEO_SLICE;

  if (deadline != PLUMB_FOREVER) {
    int64_t left = deadline - plumb__now_ns();
    if (left <= 0)
      return PLUMB_ETIMEDOUT;
    if (left < (int64_t)STREAM_RCVTIMEO_SLICE * 1000000)
      want = (int)((left + 999999) / 1000000);
  }
  if (s->rcvtimeo_ms >= 1 && s->rcvtimeo_ms <= want &&
      !(want == STREAM_RCVTIMEO_SLICE && s->rcvtimeo_ms != want))
    return PLUMB_OK;
  struct timeval tv = { want / 1000, (want % 1000) * 1000 };
  if (setsockopt(s->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
    return PLUMB_ESYS;
  s->rcvtimeo_ms = want;
  return PLUMB_OK;
}

/* One receive into the buffer's free space: recv() on a blocking socket
 * (MSG_DONTWAIT for PLUMB_NOWAIT, else bounded by SO_RCVTIMEO), read()
 * otherwise.  Returns the byte count, or -1 with errno (EAGAIN after a
 * SO_RCVTIMEO slice as well), or -2 with *st set. */
static ssize_t
stream_read(plumb__stream *s, int64_t deadline, int *st)
{
  void *p = s->rx.data + s->rx.len;
  size_t n = s->body ? s->body - s->rx.len : s->rx.cap - s->rx.len;
  ssize_t r;

  if (!s->rblock)
    r = read(s->rfd, p, n);
  else if (deadline == PLUMB_NOWAIT)
    r = recv(s->rfd, p, n, MSG_DONTWAIT);
  else if ((*st = stream_set_rcvtimeo(s, deadline)) != PLUMB_OK)
    return -2;
  else
    r = recv(s->rfd, p, n, 0);
  /* A stream read (pipe, unix, tcp) takes all the kernel holds up to n:
   * short means drained at that moment (plumb__stream_rx_state). */
  s->rx_short = r >= 0 ? (size_t)r < n
                       : errno == EAGAIN || errno == EWOULDBLOCK;
  return r;
}

/* stream_read into the empty buffer after a large frame (s->split): the
 * 4-byte prefix goes aside (readv/recvmsg), so a large frame's body lands
 * at the buffer's start - body mode from its first byte, and handed out by
 * swapping even if it arrives whole (else stream_take copies it out).
 * Anything else - a small frame, bytes past the body, a short read - is
 * put back as stream_read would have left it.  Sets s->rx.len and s->body
 * itself; returns the bytes read, or as stream_read. */
static ssize_t
stream_read_split(plumb__stream *s, int64_t deadline, int *st)
{
  uint8_t pfx[PLUMB__STREAM_PREFIX];
  struct iovec v[2] = {
    { pfx, sizeof pfx },
    { s->rx.data, s->rx.cap - PLUMB__STREAM_PREFIX },
  };
  ssize_t r;

  if (!s->rblock) {
    r = readv(s->rfd, v, 2);
  } else {
    struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };
    if (deadline != PLUMB_NOWAIT &&
        (*st = stream_set_rcvtimeo(s, deadline)) != PLUMB_OK)
      return -2;
    r = recvmsg(s->rfd, &m, deadline == PLUMB_NOWAIT ? MSG_DONTWAIT : 0);
  }
  /* as stream_read: short (or EAGAIN) means drained then */
  s->rx_short = r >= 0 ? (size_t)r < s->rx.cap
                       : errno == EAGAIN || errno == EWOULDBLOCK;
  if (r <= 0)
    return r;
  size_t got = (size_t)r;
  if (got < PLUMB__STREAM_PREFIX) { /* part of the prefix only */
    memcpy(s->rx.data, pfx, got);
    s->rx.len = got;
    return r;
  }
  uint32_t n = plumb__get_le32(pfx);
  size_t body = got - PLUMB__STREAM_PREFIX;
  if (n >= STREAM_BODY_MIN && n <= s->max_frame && body <= n) {
    s->rx.len = body;
    s->body = n;
    return r;
  }
  memmove(s->rx.data + PLUMB__STREAM_PREFIX, s->rx.data, body);
  memcpy(s->rx.data, pfx, PLUMB__STREAM_PREFIX);
  s->rx.len = got;
  return r;
}

int
plumb__stream_recv(plumb__stream *s, plumb_buf *out, int64_t deadline)
{
  size_t need;
  int st;

  for (;;) {
    st = stream_take(s, out, &need);
    if (st != PLUMB_EAGAIN)
      return st;
    /* Make room for at least the rest of this frame at the buffer's end. */
    if (s->off > 0) {
      memmove(s->rx.data, s->rx.data + s->off, s->rx.len - s->off);
      s->rx.len -= s->off;
      s->off = 0;
    }
    size_t want = need < STREAM_RX_MIN && !s->body ? STREAM_RX_MIN : need;
    /* The buffer serves a partial frame: the server's budget pays for it
     * beyond the free allowance (a no-op for small frames), before the
     * memory is taken. */
    if (plumb__rx_charge(s->pool, &s->charged,
                         plumb__rx_held(&s->rx, want)) != PLUMB_OK)
      return PLUMB_EBUSY;
    if (plumb__buf_reserve(&s->rx, want) != PLUMB_OK)
      return PLUMB_ENOMEM;
    /* Blocking receivers on non-blocking fds (pipes, FIFOs) wait first
     * (one poll + one read per frame) - unless reading first found the
     * frame last time (the peer shares our CPU and has answered by the
     * time we read: one read), tried again every 16th frame.  PLUMB_NOWAIT
     * receivers and blocking sockets read at once. */
    int direct = s->rblock && s->wake_fd < 0;
    int first = !direct && deadline != PLUMB_NOWAIT && s->rx.len == 0;
    int try_first = first && (s->rx_first_ok || (++s->rx_first_n & 15) == 0);
    if (first && !try_first &&
        (st = stream_wait(s, s->rfd, POLLIN, deadline)) != PLUMB_OK)
      return st;
    int split = s->split && s->rx.len == 0 && s->off == 0 && !s->body &&
                s->rx.cap >= STREAM_BODY_MIN;
    ssize_t r = split ? stream_read_split(s, direct ? deadline : PLUMB_NOWAIT,
                                          &st)
                      : stream_read(s, direct ? deadline : PLUMB_NOWAIT, &st);
    if (try_first)
      s->rx_first_ok = r > 0;
    if (r == -2)
      return st;
    if (r > 0) {
      if (!split)
        s->rx.len += (size_t)r;
      continue;
    }
    if (r == 0)
      return PLUMB_ECLOSED;
    if (errno == EINTR)
      continue;
    if (errno == ECONNRESET)
      return PLUMB_ECLOSED;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return PLUMB_ESYS;
    if (deadline == PLUMB_NOWAIT)
      return PLUMB_EAGAIN;
    if (direct)
      continue; /* a SO_RCVTIMEO slice ended: re-check the deadline */
    if ((st = stream_wait(s, s->rfd, POLLIN, deadline)) != PLUMB_OK)
      return st;
  }
}

/* ---- the connection (plumb__fdconn) ---- */

int
plumb__fdconn_init_pipes(plumb__fdconn *c, const plumb_transport *ops)
{
  c->base.ops = ops;
  c->rfd = c->wfd = -1;
  c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return c->wakefd < 0 ? PLUMB_ESYS : PLUMB_OK;
}

void
plumb__fdconn_start(plumb__fdconn *c, uint32_t max_frame)
{
  plumb__stream_init(&c->st, c->rfd, c->wfd, max_frame);
  plumb__stream_set_wake(&c->st, c->wakefd);
}

void
plumb__fdconn_fini(plumb__fdconn *c)
{
  if (c->rfd >= 0)
    close(c->rfd);
  if (c->wfd >= 0 && c->wfd != c->rfd)
    close(c->wfd);
  if (c->wakefd >= 0)
    close(c->wakefd);
  plumb__stream_free(&c->st);
}

/* A unix stream socket's send buffer bounds what one sendmsg() can hand
 * the kernel (the receiver has no buffer of its own: the sender's is
 * charged).  With the default (wmem_default, 208 KiB) a 1 MiB frame goes in
 * five turns, each a wake-up of both sides; a buffer that holds a whole
 * large frame - min(max_frame, PLUMB__STREAM_SNDBUF), the kernel caps it
 * at wmem_max - lets it go in one.  Only memory a frame actually uses is
 * charged, so idle and small-call connections cost nothing more. */
static void
stream_size_sndbuf(int fd, uint32_t max_frame)
{
  int want = max_frame > PLUMB__STREAM_SNDBUF ? (int)PLUMB__STREAM_SNDBUF
                                              : (int)max_frame;
  int have = 0;
  socklen_t len = sizeof(have);

  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &len) == 0 &&
      have < want)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
}

/* A connection over socket fd, which it owns from now on (closed on
 * failure). */
static int
fdconn_socket(const plumb_transport *ops, int fd, uint32_t max_frame,
              int tcp_nodelay, plumb_conn **out)
{
  plumb__fdconn *c = calloc(1, sizeof(*c));
  int one = 1;

  if (c == NULL) {
    close(fd);
    return PLUMB_ENOMEM;
  }
  if (tcp_nodelay)
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  else
    stream_size_sndbuf(fd, max_frame);
  c->base.ops = ops;
  c->rfd = c->wfd = fd;
  c->wakefd = -1;
  plumb__stream_init(&c->st, fd, fd, max_frame);
  *out = &c->base;
  return PLUMB_OK;
}

int
plumb__fdconn_dialed(const plumb_transport *ops, int fd, uint32_t max_frame,
                     int tcp_nodelay, plumb_conn **out)
{
  int fl = fcntl(fd, F_GETFL);

  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    close(fd);
    return PLUMB_ESYS;
  }
  return fdconn_socket(ops, fd, max_frame, tcp_nodelay, out);
}

int
plumb__socklistener_fd(plumb_listener *pl)
{
  return ((plumb__socklistener *)pl)->fd;
}

int
plumb__socklistener_accept(plumb_listener *pl, plumb_conn **out)
{
  plumb__socklistener *l = (plumb__socklistener *)pl;
  int fd;

  *out = NULL;
  do
    fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC); /* blocking: stream.h */
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
      return PLUMB_EAGAIN;
    return l->errno_status(errno);
  }
  int st = fdconn_socket(l->base.ops, fd, l->max_frame, l->tcp_nodelay, out);
  if (st == PLUMB_OK)
    plumb__stream_set_pool(&((plumb__fdconn *)*out)->st, l->rx_pool);
  return st;
}

/* `shut` is only ever set on pipes and FIFOs; a shut-down socket fails by
 * itself. */
int
plumb__fdconn_send(plumb_conn *pc, const struct iovec *iov, int iovcnt,
                   int64_t deadline)
{
  plumb__fdconn *c = (plumb__fdconn *)pc;

  if (atomic_load(&c->shut))
    return PLUMB_ECLOSED;
  return plumb__stream_send(&c->st, iov, iovcnt, deadline);
}

/* The stream's waits also poll the shutdown eventfd (set_wake). */
int
plumb__fdconn_recv(plumb_conn *pc, plumb_buf *buf, int64_t deadline)
{
  plumb__fdconn *c = (plumb__fdconn *)pc;

  if (atomic_load(&c->shut))
    return PLUMB_ECLOSED;
  return plumb__stream_recv(&c->st, buf, deadline);
}

int
plumb__fdconn_try_send(plumb_conn *pc, const struct iovec *iov, int iovcnt)
{
  plumb__fdconn *c = (plumb__fdconn *)pc;

  if (atomic_load(&c->shut))
    return PLUMB_ECLOSED;
  return plumb__stream_try_send(&c->st, iov, iovcnt);
}

int
plumb__fdconn_flush(plumb_conn *pc)
{
  plumb__fdconn *c = (plumb__fdconn *)pc;

  if (atomic_load(&c->shut))
    return PLUMB_ECLOSED;
  return plumb__stream_flush(&c->st);
}

void
plumb__fdconn_cork(plumb_conn *pc, int on)
{
  plumb__stream_cork(&((plumb__fdconn *)pc)->st, on);
}

int
plumb__fdconn_write_wait(plumb_conn *pc, int *fd, uint32_t *events)
{
  *fd = ((plumb__fdconn *)pc)->wfd;
  *events = EPOLLOUT;
  return PLUMB_OK;
}

size_t
plumb__fdconn_rx_partial(plumb_conn *pc)
{
  return plumb__stream_partial(&((plumb__fdconn *)pc)->st);
}

int
plumb__fdconn_rx_state(plumb_conn *pc)
{
  return plumb__stream_rx_state(&((plumb__fdconn *)pc)->st);
}

int
plumb__fdconn_fd(plumb_conn *pc)
{
  return ((plumb__fdconn *)pc)->rfd;
}

int
plumb__fdconn_peer(plumb_conn *pc, plumb_peer *out)
{
  return plumb__peer_from_pid(((plumb__fdconn *)pc)->peer_pid, out);
}

/* Swaps fd for a pipe end whose other end is closed: the peer sees end of
 * file / EPIPE at once, and our own I/O on it fails the same way, while fd
 * stays a valid descriptor. */
static void
fdconn_cut(int fd, int write_end)
{
  int p[2];
  if (fd < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
    return;
  close(p[write_end ? 0 : 1]);
  dup3(p[write_end ? 1 : 0], fd, O_CLOEXEC);
  close(p[write_end ? 1 : 0]);
}

void
plumb__fdconn_shutdown(plumb_conn *pc)
{
  plumb__fdconn *c = (plumb__fdconn *)pc;
  uint64_t one = 1;

  if (c->wakefd < 0) { /* a socket: shutdown(2) wakes poll, tells the peer */
    (void)shutdown(c->rfd, SHUT_RDWR);
    return;
  }
  if (atomic_exchange(&c->shut, 1))
    return;
  if (write(c->wakefd, &one, sizeof(one)) < 0) {
    /* cannot overflow with a single write */
  }
  /* The eventfd ends our blocked send/recv (stream waits poll it); the
   * cut ends tell the peer: end of file, and EPIPE on its writes. */
  fdconn_cut(c->wfd, 1);
  fdconn_cut(c->rfd, 0);
}

void
plumb__fdconn_close(plumb_conn *pc)
{
  if (pc == NULL)
    return;
  plumb__fdconn_fini((plumb__fdconn *)pc);
  free(pc);
}
