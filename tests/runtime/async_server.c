/* async_server.c - a fake test::Echo server made of raw transport ops, for
 * the client half of the call model (test_async.c): it answers out of
 * order (each answer is held back a random 0-3 ms, nap(a, b) for a ms) and
 * reports what it saw on the wire:
 *   add(a, b)  -> a + b
 *   nap(a, b)  -> b, after a ms (dropped if a CANCEL for it arrives first)
 *   count()    -> the number of CANCEL frames received so far
 *   echo(s)    -> "flags=F us=U": the request's flags and `status` field;
 *                 s == "dup": also an answer to an unknown call id and the
 *                 same answer twice; s == "jnk": a frame with a bad magic
 *                 instead (a hostile server, for the client's checks)
 * One connection at a time, then the next, until SIGTERM / SIGINT; the
 * listener's IPC objects are removed on the way out.  Usage:
 *   async_server ENDPOINT
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "testif.h"
#include "transport.h"

#define HELD_MAX 8192

typedef struct held {
  int64_t due;
  uint32_t id, iface, op;
  int32_t ret;
  char *str; /* echo answers */
  int hostile; /* 1: dup + unknown id, 2: junk frame */
} held;

static volatile sig_atomic_t stop;
static held q[HELD_MAX];
static int nq;
static int cancels;

static void
on_term(int sig)
{
  (void)sig;
  stop = 1;
}

static int
send_answer(plumb_conn *conn, const held *h)
{
  uint8_t hdr[PLUMB__FRAME_HDR], body[256];
  plumb__frame f;
  size_t n;

  if (h->str != NULL) {
    test_EchoRep r;
    test_echo_rep_descriptor.message_init((ProtobufCMessage *)&r);
    r.ret = h->str;
    n = protobuf_c_message_pack(&r.base, body);
  } else {
    test_Int r;
    test_int_descriptor.message_init((ProtobufCMessage *)&r);
    r.ret = h->ret;
    n = protobuf_c_message_pack(&r.base, body);
  }
  memset(&f, 0, sizeof f);
  f.kind = PLUMB__FRAME_REPLY;
  f.call_id = h->id;
  f.iface = h->iface;
  f.op = h->op;
  f.body_len = (uint32_t)n;
  plumb__frame_encode(hdr, &f);
  struct iovec iov[2] = { { hdr, sizeof hdr }, { body, n } };
  return conn->ops->send(conn, iov, 2, plumb__deadline_ms(5000));
}

/* Sends every held answer that is due, in random order. */
static int
flush_due(plumb_conn *conn)
{
  int64_t now = plumb__now_ns();
  for (int i = nq - 1; i > 0; i--) { /* shuffle */
    int j = rand() % (i + 1);
    held t = q[i];
    q[i] = q[j];
    q[j] = t;
  }
  for (int i = 0; i < nq;) {
    if (q[i].due > now) {
      i++;
      continue;
    }
    int st;
    if (q[i].hostile == 2) {
      uint8_t junk[PLUMB__FRAME_HDR] = "JUNKJUNKJUNK";
      struct iovec iov = { junk, sizeof junk };
      st = conn->ops->send(conn, &iov, 1, plumb__deadline_ms(5000));
    } else {
      st = send_answer(conn, &q[i]);
      if (st == PLUMB_OK && q[i].hostile == 1) {
        held u = q[i];
        u.id += 77777; /* nobody asked */
        st = send_answer(conn, &u);
        if (st == PLUMB_OK)
          st = send_answer(conn, &q[i]);
      }
    }
    free(q[i].str);
    q[i] = q[--nq];
    if (st != PLUMB_OK)
      return st;
  }
  return PLUMB_OK;
}

static void
take(const plumb__frame *f)
{
  held h = { plumb__now_ns(), f->call_id, f->iface, f->op, 0, NULL, 0 };
  test_Pair *pr = NULL;

  if (f->kind == PLUMB__FRAME_CANCEL) {
    cancels++;
    for (int i = 0; i < nq; i++)
      if (q[i].id == f->call_id) {
        free(q[i].str);
        q[i] = q[--nq];
        break;
      }
    return;
  }
  if (f->kind != PLUMB__FRAME_REQUEST || nq == HELD_MAX)
    return;
  switch (f->op) {
  case TEST_ADD:
  case TEST_NAP:
    pr = (test_Pair *)protobuf_c_message_unpack(&test_pair_descriptor, NULL,
                                                f->body_len, f->body);
    if (pr == NULL)
      return;
    if (f->op == TEST_ADD) {
      h.ret = pr->a + pr->b;
      h.due += (int64_t)(rand() % 4) * 1000000;
    } else {
      h.ret = pr->b;
      h.due += (int64_t)pr->a * 1000000;
    }
    protobuf_c_message_free_unpacked(&pr->base, NULL);
    break;
  case TEST_COUNT:
    h.ret = cancels;
    break;
  case TEST_ECHO: {
    char buf[64];
    /* Str{s} on the wire: 0x0a, length, the bytes */
    if (f->body_len == 2 + 3 && f->body[0] == 0x0a && f->body[1] == 3)
      h.hostile = memcmp(f->body + 2, "dup", 3) == 0    ? 1
                  : memcmp(f->body + 2, "jnk", 3) == 0 ? 2
                                                       : 0;
    snprintf(buf, sizeof buf, "flags=%u us=%d", f->flags, (int)f->status);
    h.str = strdup(buf);
    break;
  }
  default:
    return;
  }
  q[nq++] = h;
}

static void
serve(plumb_conn *conn)
{
  plumb_buf rx = { NULL, 0, 0 };
  for (;;) {
    int64_t dl = plumb__deadline_ms(50);
    for (int i = 0; i < nq; i++)
      if (q[i].due < dl)
        dl = q[i].due;
    int st = conn->ops->recv(conn, &rx, dl);
    if (st == PLUMB_OK) {
      plumb__frame f;
      const char *why;
      if (plumb__frame_decode(rx.data, rx.len, PLUMB_DEFAULT_MAX_FRAME, &f,
                              &why) != PLUMB_OK) {
        fprintf(stderr, "async_server: bad frame: %s\n", why);
        break;
      }
      take(&f);
    } else if (st != PLUMB_ETIMEDOUT && st != PLUMB_EAGAIN) {
      break;
    }
    if (flush_due(conn) != PLUMB_OK || stop)
      break;
  }
  for (int i = 0; i < nq; i++)
    free(q[i].str);
  nq = 0;
  plumb__buf_free(&rx);
}

int
main(int argc, char **argv)
{
  const char *rest;
  plumb_tran_opts to = { .max_frame = PLUMB_DEFAULT_MAX_FRAME, .mode = 0600 };
  plumb_listener *l;

  if (argc != 2) {
    fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
    return 1;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid());
  const plumb_transport *tr = plumb__transport_find(argv[1], &rest);
  if (tr == NULL || tr->listen(rest, &to, &l) != PLUMB_OK) {
    fprintf(stderr, "async_server: cannot listen on %s\n", argv[1]);
    return 3;
  }
  int pipe_mode = strcmp(tr->scheme, "pipe") == 0;
  while (!stop) {
    plumb_conn *conn;
    struct pollfd pf = { tr->listener_fd(l), POLLIN, 0 };
    if (poll(&pf, 1, 100) <= 0)
      continue;
    if (tr->accept(l, &conn) != PLUMB_OK)
      continue;
    serve(conn);
    tr->close(conn);
    if (pipe_mode)
      break; /* one client per spawned server */
  }
  tr->listener_close(l);
  return 0;
}
