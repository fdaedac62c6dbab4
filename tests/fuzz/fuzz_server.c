/* fuzz_server.c - libFuzzer harness for a live server: arbitrary bytes on a
 * connection must never crash or wedge it.
 *
 * LLVMFuzzerInitialize starts an in-process server (2 workers) serving the
 * runtime tests' interface (tests/runtime/testif.c) on a unix socket in a
 * fresh temporary directory, plus one well-behaved client.  Each input is
 * written raw (stream prefix, header and all) to a fresh connection, whose
 * write side is then shut; the harness reads whatever comes back until the
 * server closes it (bounded: 5 s).  Afterwards the good client's call must
 * still answer correctly - abort otherwise.  The socket and directory are
 * removed at exit.
 *
 * Every wait here survives EINTR: libFuzzer's -timeout runs a SIGALRM timer
 * that interrupts the harness's poll() at random.  (The "hang" inputs of
 * corpus/server/hang_* were exactly that: poll() returned -1/EINTR at once
 * and was taken for a 5 s timeout; the server had already closed the
 * connection.) */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "testif.h"

static char fz_dir[64] = "/tmp/plumb-fuzz-srv.XXXXXX";
static char fz_path[100];
static plumb_server *fz_server;
static plumb_client *fz_good;
static pthread_t fz_thread;

static int64_t
fz_now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int
fz_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx, (void)call;
  *ret = (int32_t)((uint32_t)a + (uint32_t)b);
  return PLUMB_OK;
}

static int
fz_div(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  if (b == 0) {
    test_DivByZero e = { PROTOBUF_C_MESSAGE_INIT(&test_div_by_zero_descriptor),
                         (char *)"division by zero", a };
    return plumb_call_raise(call, &test_DivByZero_type, &e);
  }
  *ret = b == -1 ? (int32_t)(0u - (uint32_t)a) : a / b;
  return PLUMB_OK;
}

static int
fz_echo(void *ctx, plumb_call *call, const char *s, char **ret)
{
  (void)ctx;
  if (strcmp(s, "fail") == 0)
    return plumb_call_fail(call, PLUMB_EINVAL, "echo of 'fail'");
  *ret = plumb_call_strdup(call, s);
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

static int
fz_note(void *ctx, plumb_call *call, int32_t a, int32_t b)
{
  (void)ctx, (void)call, (void)a, (void)b;
  return PLUMB_OK;
}

/* nap is left out (NULL: ENOOP): the harness must never sleep. */
static const test_Echo_ops fz_ops = { .add = fz_add, .div = fz_div,
                                      .echo = fz_echo, .note = fz_note,
                                      .mul = fz_add };

static void *
fz_run(void *arg)
{
  (void)arg;
  plumb_server_run(fz_server, 0);
  return NULL;
}

static void
fz_fini(void)
{
  plumb_client_close(fz_good);
  plumb_server_stop(fz_server);
  pthread_join(fz_thread, NULL);
  plumb_server_free(fz_server); /* unlinks the socket */
  unlink(fz_path);
  rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  char ep[128];
  (void)argc, (void)argv;
  setenv("PLUMB_LOG", "off", 0);
  if (mkdtemp(fz_dir) == NULL)
    abort();
  snprintf(fz_path, sizeof fz_path, "%s/s.sock", fz_dir);
  snprintf(ep, sizeof ep, "unix:%s", fz_path);
  /* Short peer timeouts, so a peer that stops mid-frame or never reads is
   * dropped well within the 5 s the harness waits. */
  plumb_server_opts o = { .workers = 2, .frame_timeout_ms = 2000,
                          .send_timeout_ms = 2000 };
  if (plumb_server_new(&fz_server, &o) != PLUMB_OK ||
      plumb_server_add_object(fz_server, "t", &test_Echo_interface, &fz_ops,
                              NULL) != PLUMB_OK ||
      plumb_server_add_object(fz_server, "d", &test_Derived_interface,
                              &fz_ops, NULL) != PLUMB_OK ||
      plumb_server_listen(fz_server, ep) != PLUMB_OK)
    abort();
  if (pthread_create(&fz_thread, NULL, fz_run, NULL) != 0)
    abort();
  if (plumb_client_open(&fz_good, ep, "t", NULL) != PLUMB_OK)
    abort();
  plumb_client_set_timeout(fz_good, 5000);
  atexit(fz_fini);
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    abort();
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", fz_path);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
    abort();
  for (size_t off = 0; off < size;) {
    ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break; /* the server dropped us: fine */
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  /* Drain the answers until the server closes the connection: 5 s in all,
   * whatever signals interrupt the waits. */
  uint8_t buf[65536];
  int64_t deadline = fz_now_ms() + 5000;
  for (int i = 0; i < 100000; i++) {
    int64_t left = deadline - fz_now_ms();
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr != 1) {
      int32_t r = 0;
      int rc = test_Echo_add(fz_good, 1, 2, &r);
      fprintf(stderr, "fuzz_server: connection not closed within 5 s "
              "(poll: %s; good client meanwhile: %s)\n",
              pr < 0 ? strerror(errno) : "timed out", plumb_strerror(rc));
      abort();
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
  }
  close(fd);
  int32_t r = 0;
  int rc = test_Echo_add(fz_good, 40, 2, &r);
  if (rc != PLUMB_OK || r != 42) {
    fprintf(stderr, "fuzz_server: good call failed: %s (%s)\n",
            plumb_strerror(rc), plumb_client_last_error(fz_good));
    abort();
  }
  return 0;
}
