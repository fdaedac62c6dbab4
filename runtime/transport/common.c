/* common.c - pieces several transports share (see common.h): the peer
 * process's credentials, liveness and pidfd, /proc/sys limits, epoll sets,
 * frames split into messages, the unsent rest of a non-blocking send, and
 * 64-bit random values. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

/* The effective uid and gid of /proc/<pid>/status: unlike the owner of
 * /proc/<pid> (root for a non-dumpable process, e.g. one that changed its
 * uid), they are the process's own.  0 or -1. */
static int
peer_status_ids(pid_t pid, uid_t *uid, gid_t *gid)
{
  char path[40], line[256];
  unsigned long r, e;
  int got = 0;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if ((f = fopen(path, "re")) == NULL)
    return -1;
  while (got != 3 && fgets(line, sizeof(line), f) != NULL) {
    if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
      *uid = (uid_t)e;
      got |= 1;
    } else if (sscanf(line, "Gid: %lu %lu", &r, &e) == 2) {
      *gid = (gid_t)e;
      got |= 2;
    }
  }
  fclose(f);
  return got == 3 ? 0 : -1;
}

int
plumb__peer_from_pid(pid_t pid, plumb_peer *out)
{
  char path[32];
  struct stat st;

  memset(out, 0, sizeof(*out));
  out->pid = pid;
  if (pid <= 0)
    return PLUMB_OK;
  if (peer_status_ids(pid, &out->uid, &out->gid) == 0) {
    out->has_creds = 1;
    return PLUMB_OK;
  }
  snprintf(path, sizeof(path), "/proc/%d", (int)pid);
  if (stat(path, &st) == 0) {
    out->uid = st.st_uid;
    out->gid = st.st_gid;
    out->has_creds = 1;
  }
  return PLUMB_OK;
}

int
plumb__pid_alive(pid_t pid)
{
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int
plumb__pidfd_open(pid_t pid)
{
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

uint64_t
plumb__random64(void)
{
  uint64_t v = 0;
  while (v == 0)
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
      v = 0; /* EINTR: again */
  return v;
}

long
plumb__read_long(const char *path, long dflt)
{
  FILE *f = fopen(path, "re");
  long v = dflt;
  if (f) {
    if (fscanf(f, "%ld", &v) != 1)
      v = dflt;
    fclose(f);
  }
  return v;
}

int
plumb__epoll_set(const int *fds, int n)
{
  int ep = epoll_create1(EPOLL_CLOEXEC);

  for (int i = 0; ep >= 0 && i < n; i++) {
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
      close(ep);
      ep = -1;
    }
  }
  return ep;
}

int
plumb__split_begin(plumb__split *sp, const struct iovec *iov, int iovcnt,
                   uint32_t max_frame)
{
  memset(sp, 0, sizeof(*sp));
  sp->iov = iov;
  sp->iovcnt = iovcnt;
  for (int i = 0; i < iovcnt; i++)
    sp->total += iov[i].iov_len;
  return sp->total > max_frame ? PLUMB_ETOOBIG : PLUMB_OK;
}

int
plumb__split_more(const plumb__split *sp)
{
  return sp->msgs == 0 || sp->sent < sp->total;
}

size_t
plumb__split_fill(plumb__split *sp, uint8_t *dst, size_t room)
{
  size_t done = 0;

  while (done < room && sp->k < sp->iovcnt) {
    const struct iovec *v = &sp->iov[sp->k];
    size_t avail = v->iov_len - sp->off;
    size_t n = room - done < avail ? room - done : avail;
    if (n > 0) /* an empty iovec may have a NULL base */
      memcpy(dst + done, (const uint8_t *)v->iov_base + sp->off, n);
    done += n;
    sp->off += n;
    if (sp->off == v->iov_len) {
      sp->k++;
      sp->off = 0;
    }
  }
  sp->sent += done;
  sp->msgs++;
  return done;
}

int
plumb__split_failed(const plumb__split *sp, int rv, int *wbroken)
{
  if (sp->msgs > 1) {
    *wbroken = 1;
    if (rv == PLUMB_EAGAIN)
      rv = PLUMB_ETIMEDOUT;
  }
  return rv;
}

int
plumb__tail_keep(plumb__tail *t, plumb__split *sp, const uint8_t *cur,
                 size_t n)
{
  size_t rest = n + (sp->total - sp->sent);
  if (plumb__buf_reserve(&t->buf, rest ? rest : 1) != PLUMB_OK)
    return PLUMB_ENOMEM;
  memcpy(t->buf.data, cur, n);
  plumb__split_fill(sp, t->buf.data + n, sp->total - sp->sent);
  t->buf.len = rest;
  t->off = 0;
  return PLUMB_OK;
}

int
plumb__tail_pending(const plumb__tail *t)
{
  return t->off < t->buf.len;
}

size_t
plumb__tail_peek(const plumb__tail *t, uint8_t *dst, size_t room)
{
  size_t n = t->buf.len - t->off;
  if (n > room)
    n = room;
  memcpy(dst, t->buf.data + t->off, n);
  return n;
}

void
plumb__tail_sent(plumb__tail *t, size_t n)
{
  t->off += n;
  if (t->off >= t->buf.len)
    t->buf.len = t->off = 0;
}

int
plumb__reasm_first(plumb__reasm *r, size_t want, uint32_t max_frame,
                   const uint8_t *data, size_t n)
{
  if (r->in_frame)
    return PLUMB_EPROTO;
  r->skip = 0;
  r->want = want;
  if (want > max_frame) {
    /* discard the rest of it, keep the connection */
    r->skip = want - n;
    return PLUMB_ETOOBIG;
  }
  if (n > want)
    return PLUMB_EPROTO;
  size_t need = (want ? want : 1) + r->slack; /* the slack is held too */
  if (plumb__rx_charge(r->pool, &r->charged,
                       plumb__rx_held(&r->part, need)) != PLUMB_OK) {
    r->skip = want - n;
    return PLUMB_EBUSY;
  }
  if (plumb__buf_reserve(&r->part, need) != PLUMB_OK)
    return PLUMB_ENOMEM;
  memcpy(r->part.data, data, n);
  r->part.len = n;
  r->in_frame = 1;
  return r->part.len == r->want;
}

int
plumb__reasm_more(plumb__reasm *r, const uint8_t *data, size_t n)
{
  if (r->skip) {
    r->skip = n >= r->skip ? 0 : r->skip - n;
    return 0;
  }
  if (!r->in_frame || r->part.len + n > r->want)
    return PLUMB_EPROTO;
  memcpy(r->part.data + r->part.len, data, n);
  r->part.len += n;
  return r->part.len == r->want;
}

void
plumb__reasm_take(plumb__reasm *r, plumb_buf *buf)
{
  plumb_buf t = *buf;
  *buf = r->part;
  r->part = t;
  r->part.len = 0;
  r->in_frame = 0;
  plumb__rx_release(r->pool, &r->charged);
}

void
plumb__reasm_free(plumb__reasm *r)
{
  plumb__rx_release(r->pool, &r->charged);
  plumb__buf_free(&r->part);
  r->in_frame = 0;
}
