/* oncrpc_peer.c - ONC RPC (rpcgen stubs + libtirpc) doing the bench's
 * add(int32, int32) -> int32 over a unix or a loopback tcp socket, for the
 * peers stage of scripts/bench.sh (command line: peer_util.h).
 *
 * The server registers the program with svc_reg() and no netconfig, so no
 * rpcbind is involved: the client connects to the known socket itself and
 * hands it to clnt_vc_create(), the same record-marked stream ONC RPC uses
 * over tcp and unix alike.  The server's loop is svc_run()'s (poll over
 * svc_pollfd, svc_getreq_poll) with a 200 ms timeout so SIGTERM stops it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rpc/rpc.h>

#include "oncrpc_add.h"
#include "peer_util.h"

/* The dispatcher rpcgen -m writes (oncrpc_add_svc.c; not in its header). */
void bench_prog_1(struct svc_req *rqstp, SVCXPRT *transp);

/* The rpcgen dispatcher (oncrpc_add_svc.c, rpcgen -m) calls this. */
int *
add_1_svc(add_args *argp, struct svc_req *rqstp)
{
  static int result;
  (void)rqstp;
  result = (int)((unsigned)argp->a + (unsigned)argp->b);
  return &result;
}

static int
serve(const peer_opts *o)
{
  int fd = peer_listen(o);
  if (fd < 0)
    return 1;
  SVCXPRT *xprt = svc_vc_create(fd, 0, 0);
  if (xprt == NULL || !svc_reg(xprt, BENCH_PROG, BENCH_VERS, bench_prog_1,
                               NULL)) {
    fprintf(stderr, "peer-oncrpc: cannot create the service\n");
    return 1;
  }
  peer_server_ready("oncrpc");
  while (!peer_stopping()) {
    int n = poll(svc_pollfd, (nfds_t)svc_max_pollfd, 200);
    if (n < 0 && errno != EINTR) {
      perror("peer-oncrpc: poll");
      break;
    }
    if (n > 0)
      svc_getreq_poll(svc_pollfd, n);
  }
  svc_unreg(BENCH_PROG, BENCH_VERS);
  svc_destroy(xprt);
  if (!o->tcp)
    unlink(o->path);
  return 0;
}

static int
call_add(void *ctx, int32_t a, int32_t b, int32_t *r)
{
  add_args args = { a, b };
  int *res = add_1(&args, (CLIENT *)ctx);
  if (res == NULL) {
    clnt_perror((CLIENT *)ctx, "peer-oncrpc: add");
    return -1;
  }
  *r = *res;
  return 0;
}

int
main(int argc, char **argv)
{
  peer_opts o;
  if (peer_parse(argc, argv, "oncrpc", &o) != 0)
    return 2;
  if (strcmp(o.role, "server") == 0) {
    peer_server_signals(&o);
    return serve(&o);
  }
  int fd = peer_connect(&o);
  if (fd < 0)
    return 1;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
    return 1;
  struct netbuf addr = { len, len, &ss };
  CLIENT *clnt = clnt_vc_create(fd, &addr, BENCH_PROG, BENCH_VERS, 0, 0);
  if (clnt == NULL) {
    clnt_pcreateerror("peer-oncrpc");
    return 1;
  }
  struct timeval tmo = { 5, 0 };
  clnt_control(clnt, CLSET_TIMEOUT, (char *)&tmo);
  clnt_control(clnt, CLSET_FD_CLOSE, NULL);
  int rc = peer_measure("oncrpc", &o, call_add, clnt);
  clnt_destroy(clnt);
  return rc;
}
