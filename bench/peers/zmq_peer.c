/* zmq_peer.c - ZeroMQ REQ/REP (libzmq) doing the bench's add(int32, int32)
 * -> int32 over ipc:// (a unix socket) or tcp://127.0.0.1, for the peers
 * stage of scripts/bench.sh (command line: peer_util.h).
 *
 * The request is one 8-byte message (a, b in host order), the reply one
 * 4-byte message: no serialisation library, the least a ZeroMQ user would
 * write.  Every received message is length-checked before use.  The server
 * (pinned before zmq_ctx_new, so libzmq's I/O thread inherits the CPU)
 * stops on SIGTERM: its receive times out every 200 ms to look at the flag
 * (the signal may land in libzmq's own thread).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "peer_util.h"

static void
zmq_endpoint(const peer_opts *o, char *buf, size_t n)
{
  if (o->tcp)
    snprintf(buf, n, "tcp://127.0.0.1:%d", o->port);
  else
    snprintf(buf, n, "ipc://%s", o->path);
}

static int
serve(const peer_opts *o, void *ctx)
{
  char ep[160];
  int tick = 200;
  void *s = zmq_socket(ctx, ZMQ_REP);
  zmq_endpoint(o, ep, sizeof ep);
  if (s != NULL)
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tick, sizeof tick);
  if (s == NULL || zmq_bind(s, ep) != 0) {
    fprintf(stderr, "peer-zmq: bind %s: %s\n", ep, zmq_strerror(errno));
    return 1;
  }
  peer_server_ready("zmq");
  while (!peer_stopping()) {
    int32_t in[2], out;
    int n = zmq_recv(s, in, sizeof in, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      fprintf(stderr, "peer-zmq: recv: %s\n", zmq_strerror(errno));
      break;
    }
    if (n != (int)sizeof in) { /* a REP socket must still answer */
      out = 0;
      fprintf(stderr, "peer-zmq: request of %d bytes ignored\n", n);
    } else {
      out = (int32_t)((uint32_t)in[0] + (uint32_t)in[1]);
    }
    if (zmq_send(s, &out, sizeof out, 0) < 0 && errno != EINTR)
      break;
  }
  zmq_close(s);
  if (!o->tcp)
    unlink(o->path);
  return 0;
}

static int
call_add(void *sock, int32_t a, int32_t b, int32_t *r)
{
  int32_t req[2] = { a, b }, rep;
  if (zmq_send(sock, req, sizeof req, 0) != (int)sizeof req) {
    fprintf(stderr, "peer-zmq: send: %s\n", zmq_strerror(errno));
    return -1;
  }
  int n = zmq_recv(sock, &rep, sizeof rep, 0);
  if (n != (int)sizeof rep) {
    fprintf(stderr, "peer-zmq: recv: %s\n",
            n < 0 ? zmq_strerror(errno) : "reply of the wrong size");
    return -1;
  }
  *r = rep;
  return 0;
}

int
main(int argc, char **argv)
{
  peer_opts o;
  int rc;
  if (peer_parse(argc, argv, "zmq", &o) != 0)
    return 2;
  void *ctx = zmq_ctx_new();
  if (ctx == NULL)
    return 1;
  if (strcmp(o.role, "server") == 0) {
    peer_server_signals(&o);
    rc = serve(&o, ctx);
  } else {
    char ep[160];
    int tmo = 5000, linger = 0;
    void *s = zmq_socket(ctx, ZMQ_REQ);
    zmq_endpoint(&o, ep, sizeof ep);
    if (s == NULL)
      return 1;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, ep) != 0) {
      fprintf(stderr, "peer-zmq: connect %s: %s\n", ep, zmq_strerror(errno));
      return 1;
    }
    rc = peer_measure("zmq", &o, call_add, s);
    zmq_close(s);
  }
  zmq_ctx_term(ctx);
  return rc;
}
