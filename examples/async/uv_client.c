/* uv_client.c - calc::Calculator.add calls driven by a libuv loop: the
 * client's completion fd is a uv_poll_t, completions run as callbacks on
 * the loop's thread, and a uv_timer_t starts a new batch of 16 calls every
 * millisecond until CALLS are done.  Checks every answer.
 *
 *   async-uv-client ENDPOINT [CALLS]      (default 2000 calls)
 *
 * Exit status 0 if every answer was right. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include <plumb/plumb.h>

#include "calculator.h"

#define BATCH 16

static plumb_client *c;
static int next_a, total, done, bad;
static uv_poll_t poller;
static uv_timer_t ticker;

static void
on_done(plumb_pending *p, void *user)
{
  int a = (int)(intptr_t)user;
  int32_t diff = 0;
  int st = calc_Calculator_sub_finish(p, &diff, NULL); /* releases p */
  if (st != PLUMB_OK || diff != a - 7) {
    fprintf(stderr, "sub(%d, 7): %s, got %d\n", a, plumb_strerror(st),
            (int)diff);
    bad++;
  }
  if (++done == total) {
    uv_poll_stop(&poller);
    uv_timer_stop(&ticker);
  }
}

/* The client fd is readable: let plumb read answers and run callbacks. */
static void
on_readable(uv_poll_t *h, int status, int events)
{
  (void)h;
  (void)status;
  (void)events;
  plumb_client_dispatch(c);
}

static void
on_tick(uv_timer_t *t)
{
  (void)t;
  for (int i = 0; i < BATCH && next_a < total; i++) {
    plumb_pending *p;
    int a = next_a++;
    int st = calc_Calculator_sub_begin(c, a, 7, &p);
    if (st != PLUMB_OK) {
      fprintf(stderr, "sub_begin: %s\n", plumb_strerror(st));
      bad++;
      done++;
      continue;
    }
    plumb_pending_set_callback(p, on_done, (void *)(intptr_t)a);
  }
  if (done == total) {
    uv_poll_stop(&poller);
    uv_timer_stop(&ticker);
  }
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT [CALLS]\n", argv[0]);
    return 2;
  }
  total = argc > 2 ? atoi(argv[2]) : 2000;
  int st = plumb_client_open(&c, argv[1], "calc", NULL);
  if (st != PLUMB_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], plumb_strerror(st));
    return 1;
  }
  uv_loop_t *loop = uv_default_loop();
  int fd = plumb_client_fd(c);
  if (fd < 0 || uv_poll_init(loop, &poller, fd) != 0) {
    fprintf(stderr, "client fd: %s\n", plumb_client_last_error(c));
    return 1;
  }
  uv_poll_start(&poller, UV_READABLE, on_readable);
  uv_timer_init(loop, &ticker);
  uv_timer_start(&ticker, on_tick, 0, 1);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&poller, NULL);
  uv_close((uv_handle_t *)&ticker, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  plumb_client_close(c);
  printf("%d calls through libuv, %d wrong\n", total, bad);
  return bad == 0 && done == total ? 0 : 1;
}
