/* tcp.c - the `tcp` transport: TCP sockets over IPv4 and IPv6.
 *
 * Endpoints: `tcp://host:port`, `tcp://[v6addr]:port` (`tcp:host:port` works
 * too).  Names are resolved with getaddrinfo; a listener binds the first
 * address that works (SO_REUSEADDR, and IPV6_V6ONLY for IPv6 so `[::1]`
 * and `127.0.0.1` can coexist); a dialer tries every address until one
 * connects or the deadline passes.  Port 0 is accepted for listening (the
 * kernel picks one) although clients then cannot find it by name.  Every
 * connection has TCP_NODELAY.  Frames use stream.h; no peer credentials
 * (peer() is NULL), so the core's access check cannot apply: TCP is open
 * to whoever reaches the port, loopback included, until a TLS layer
 * authenticates peers (docs/TRANSPORTS.md, "Who may connect"); the core
 * logs tcp peers as address:port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream.h"
#include "transport.h"

const plumb_transport plumb__tran_tcp;

/* Splits "host:port" / "[v6]:port" into host and port (copied into the
 * caller's buffers).  PLUMB_EADDR if malformed. */
static int
tcp_split(const char *addr, char *host, size_t hostsz, char *port,
          size_t portsz)
{
  const char *hs, *he, *ps;
  char *end;

  if (addr == NULL || addr[0] == '\0') {
    plumb__addr_why("missing host and port (expected tcp://HOST:PORT)");
    return PLUMB_EADDR;
  }
  if (addr[0] == '[') {
    hs = addr + 1;
    if ((he = strchr(hs, ']')) == NULL) {
      plumb__addr_why("'[' without ']' (expected tcp://[IPv6]:PORT)");
      return PLUMB_EADDR;
    }
    if (he[1] != ':') {
      plumb__addr_why("missing port");
      return PLUMB_EADDR;
    }
    ps = he + 2;
  } else {
    hs = addr;
    if ((he = strrchr(addr, ':')) == NULL) {
      plumb__addr_why("missing port");
      return PLUMB_EADDR;
    }
    if (memchr(addr, ':', (size_t)(he - addr))) {
      plumb__addr_why("an IPv6 address goes in brackets: tcp://[%.*s]:PORT",
                      (int)(he - addr), addr);
      return PLUMB_EADDR;
    }
    ps = he + 1;
  }
  if (he == hs) {
    plumb__addr_why("missing host");
    return PLUMB_EADDR;
  }
  if ((size_t)(he - hs) >= hostsz) {
    plumb__addr_why("host name longer than %zu bytes", hostsz - 1);
    return PLUMB_EADDR;
  }
  if (ps[0] == '\0') {
    plumb__addr_why("missing port");
    return PLUMB_EADDR;
  }
  errno = 0;
  long p = strtol(ps, &end, 10);
  if (*end != '\0' || ps[0] == '-' || ps[0] == '+' || end == ps) {
    plumb__addr_why("port '%s' is not a number", ps);
    return PLUMB_EADDR;
  }
  if (errno != 0 || p < 0 || p > 65535 || strlen(ps) >= portsz) {
    plumb__addr_why("port %s out of range", ps);
    return PLUMB_EADDR;
  }
  memcpy(host, hs, (size_t)(he - hs));
  host[he - hs] = '\0';
  strcpy(port, ps);
  return PLUMB_OK;
}

static int
tcp_resolve(const char *addr, int passive, struct addrinfo **res)
{
  char host[256], port[8];
  struct addrinfo hints;
  int st;

  if ((st = tcp_split(addr, host, sizeof(host), port, sizeof(port))) !=
      PLUMB_OK)
    return st;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  int g = getaddrinfo(host, port, &hints, res);
  switch (g) {
  case 0:
    return PLUMB_OK;
  case EAI_MEMORY:
    return PLUMB_ENOMEM;
  case EAI_SYSTEM:
    return PLUMB_ESYS;
  default:
    plumb__addr_why("cannot resolve host '%s': %s", host, gai_strerror(g));
    return PLUMB_EADDR;
  }
}

static int
tcp_errno_status(int e)
{
  switch (e) {
  case EADDRINUSE:
    return PLUMB_EBUSY;
  case EACCES:
  case EPERM:
    return PLUMB_EPERM;
  case ECONNREFUSED:
  case ENETUNREACH:
  case EHOSTUNREACH:
    return PLUMB_ECONNREFUSED;
  case EADDRNOTAVAIL:
  case EAFNOSUPPORT:
    return PLUMB_EADDR;
  case ETIMEDOUT:
    return PLUMB_ETIMEDOUT;
  case ENOMEM:
  case ENOBUFS:
    return PLUMB_ENOMEM;
  default:
    return PLUMB_ESYS;
  }
}

static int
tcp_listen(const char *addr, const plumb_tran_opts *opts,
           plumb_listener **out)
{
  struct addrinfo *res, *ai;
  plumb__socklistener *l;
  int st, fd = -1, one = 1;

  *out = NULL;
  if ((st = tcp_resolve(addr, 1, &res)) != PLUMB_OK)
    return st;
  st = PLUMB_EADDR;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family,
                ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
      st = tcp_errno_status(errno);
      continue;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
      (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        listen(fd, SOMAXCONN) == 0)
      break;
    if (errno == EADDRNOTAVAIL)
      plumb__addr_why("the address is not one of this host's");
    else if (errno == EADDRINUSE)
      plumb__addr_why("the port is in use");
    else if (errno == EACCES)
      plumb__addr_why("permission denied (ports below 1024 need "
                      "privilege)");
    st = tcp_errno_status(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return st;
  if ((l = calloc(1, sizeof(*l))) == NULL) {
    close(fd);
    return PLUMB_ENOMEM;
  }
  l->base.ops = &plumb__tran_tcp;
  l->fd = fd;
  l->max_frame = opts->max_frame;
  l->rx_pool = opts->rx_pool;
  l->tcp_nodelay = 1; /* connections are blocking sockets (stream.h) */
  l->errno_status = tcp_errno_status;
  *out = &l->base;
  return PLUMB_OK;
}

static void
tcp_listener_close(plumb_listener *lb)
{
  plumb__socklistener *l = (plumb__socklistener *)lb;

  if (l == NULL)
    return;
  close(l->fd);
  free(l);
}

/* The address the kernel gave the listener (port 0 resolved). */
static int
tcp_listener_endpoint(plumb_listener *lb, char *buf, size_t len)
{
  plumb__socklistener *l = (plumb__socklistener *)lb;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char host[INET6_ADDRSTRLEN];
  int n;

  if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) != 0)
    return PLUMB_ESYS;
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host) == NULL)
      return PLUMB_ESYS;
    n = snprintf(buf, len, "tcp://[%s]:%u", host, ntohs(a->sin6_port));
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof host) == NULL)
      return PLUMB_ESYS;
    n = snprintf(buf, len, "tcp://%s:%u", host, ntohs(a->sin_port));
  }
  return n > 0 && (size_t)n < len ? PLUMB_OK : PLUMB_ETOOBIG;
}

/* Connects fd to ai before deadline (non-blocking connect + poll). */
static int
tcp_connect(int fd, const struct addrinfo *ai, int64_t deadline)
{
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  socklen_t len = sizeof(int);
  int err = 0, r;

  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
    return PLUMB_OK;
  if (errno != EINPROGRESS && errno != EINTR)
    return tcp_errno_status(errno);
  for (;;) {
    r = poll(&p, 1, plumb__poll_timeout(deadline));
    if (r > 0)
      break;
    if (r == 0 && deadline != PLUMB_FOREVER && plumb__now_ns() >= deadline)
      return PLUMB_ETIMEDOUT;
    if (r < 0 && errno != EINTR)
      return PLUMB_ESYS;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return PLUMB_ESYS;
  return err == 0 ? PLUMB_OK : tcp_errno_status(err);
}

static int
tcp_dial(const char *addr, const plumb_tran_opts *opts, int64_t deadline,
         plumb_conn **out)
{
  struct addrinfo *res, *ai;
  int st, fd = -1;

  *out = NULL;
  if ((st = tcp_resolve(addr, 0, &res)) != PLUMB_OK)
    return st;
  st = PLUMB_ECONNREFUSED;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family,
                ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0) {
      st = tcp_errno_status(errno);
      continue;
    }
    if ((st = tcp_connect(fd, ai, deadline)) == PLUMB_OK)
      break;
    close(fd);
    fd = -1;
    if (st == PLUMB_ETIMEDOUT)
      break;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return st;
  return plumb__fdconn_dialed(&plumb__tran_tcp, fd, opts->max_frame, 1, out);
}

const plumb_transport plumb__tran_tcp = {
  .abi_version = PLUMB_TRANSPORT_ABI,
  .scheme = "tcp",
  .aliases = NULL,
  .listen = tcp_listen,
  .listener_fd = plumb__socklistener_fd,
  .accept = plumb__socklistener_accept,
  .listener_close = tcp_listener_close,
  .dial = tcp_dial,
  .send = plumb__fdconn_send,
  .try_send = plumb__fdconn_try_send,
  .flush = plumb__fdconn_flush,
  .cork = plumb__fdconn_cork,
  .write_wait = plumb__fdconn_write_wait,
  .rx_partial = plumb__fdconn_rx_partial,
  .rx_level = 1,
  .rx_state = plumb__fdconn_rx_state,
  .recv = plumb__fdconn_recv,
  .conn_fd = plumb__fdconn_fd,
  .peer = NULL,
  .shutdown = plumb__fdconn_shutdown,
  .close = plumb__fdconn_close,
  .listener_endpoint = tcp_listener_endpoint,
};
