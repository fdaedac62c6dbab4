/* stream.c - length-prefixed frames over byte-stream descriptors (see
 * stream.h for the contract).  Shared by unix, tcp, pipe and fifo; it does
 * not open, close or poll anything beyond the descriptors it is given. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"

/* Receive buffer kept between frames; larger ones are released when idle. */
#define STREAM_RX_MIN (16u * 1024u)
#define STREAM_RX_KEEP (256u * 1024u)
/* Longest single blocking recv() on a blocking socket (ms). */
#define STREAM_RCVTIMEO_SLICE 100

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
plumb__stream_free(plumb__stream *s)
{
  plumb__buf_free(&s->rx);
  s->off = 0;
}

static uint32_t
stream_get_le32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
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

/* One non-blocking write of iov; never raises SIGPIPE. */
static ssize_t
stream_write(plumb__stream *s, struct iovec *iov, int n)
{
  ssize_t w;

  if (s->wsock) {
    struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    return sendmsg(s->wfd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
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
  size_t total = 0;
  int n = 0, first = 1, st;

  if (iovcnt < 0 || iovcnt > PLUMB__STREAM_MAX_IOV)
    return PLUMB_EINVAL;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  if (total > s->max_frame)
    return PLUMB_ETOOBIG;
  prefix[0] = (uint8_t)total;
  prefix[1] = (uint8_t)(total >> 8);
  prefix[2] = (uint8_t)(total >> 16);
  prefix[3] = (uint8_t)(total >> 24);
  v[n].iov_base = prefix;
  v[n++].iov_len = sizeof(prefix);
  for (int i = 0; i < iovcnt; i++)
    if (iov[i].iov_len > 0)
      v[n++] = iov[i];

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

int
plumb__stream_buffered(const plumb__stream *s)
{
  size_t have = s->rx.len - s->off;
  if (have < PLUMB__STREAM_PREFIX)
    return 0;
  uint32_t n = stream_get_le32(s->rx.data + s->off);
  return n <= s->max_frame && have - PLUMB__STREAM_PREFIX >= n;
}

/* Hands out the frame at the head of the buffer if it is complete.
 * Returns PLUMB_OK, PLUMB_EAGAIN (need more bytes) or an error. */
static int
stream_take(plumb__stream *s, plumb_buf *out, size_t *need)
{
  size_t have = s->rx.len - s->off;

  *need = PLUMB__STREAM_PREFIX;
  if (have < PLUMB__STREAM_PREFIX)
    return PLUMB_EAGAIN;
  uint32_t n = stream_get_le32(s->rx.data + s->off);
  if (n > s->max_frame)
    return PLUMB_ETOOBIG;
  *need = PLUMB__STREAM_PREFIX + (size_t)n;
  if (have < *need)
    return PLUMB_EAGAIN;
  if (plumb__buf_reserve(out, n ? n : 1) != PLUMB_OK)
    return PLUMB_ENOMEM;
  memcpy(out->data, s->rx.data + s->off + PLUMB__STREAM_PREFIX, n);
  out->len = n;
  s->off += *need;
  if (s->off == s->rx.len) {
    s->off = s->rx.len = 0;
    if (s->rx.cap > STREAM_RX_KEEP)
      plumb__buf_free(&s->rx);
  }
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
  size_t n = s->rx.cap - s->rx.len;

  if (!s->rblock)
    return read(s->rfd, p, n);
  if (deadline == PLUMB_NOWAIT)
    return recv(s->rfd, p, n, MSG_DONTWAIT);
  if ((*st = stream_set_rcvtimeo(s, deadline)) != PLUMB_OK)
    return -2;
  return recv(s->rfd, p, n, 0);
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
    if (plumb__buf_reserve(&s->rx, need < STREAM_RX_MIN ? STREAM_RX_MIN
                                                        : need) != PLUMB_OK)
      return PLUMB_ENOMEM;
    /* Blocking receivers on non-blocking fds wait first (one poll + one
     * read per frame); PLUMB_NOWAIT receivers and blocking sockets read at
     * once. */
    int direct = s->rblock && s->wake_fd < 0;
    if (!direct && deadline != PLUMB_NOWAIT && s->rx.len == 0 &&
        (st = stream_wait(s, s->rfd, POLLIN, deadline)) != PLUMB_OK)
      return st;
    ssize_t r = stream_read(s, direct ? deadline : PLUMB_NOWAIT, &st);
    if (r == -2)
      return st;
    if (r > 0) {
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
