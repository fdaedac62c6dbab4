/* epoll_client.c - keeps 100 calc::Calculator.add calls in flight over one
 * client handle, from one thread, with its own epoll loop on
 * plumb_client_fd(); checks every answer.
 *
 *   async-epoll-client ENDPOINT [CALLS]      (default 2000 calls)
 *
 * Exit status 0 if every answer was right. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "calculator.h"

#define IN_FLIGHT 100

typedef struct loop_state {
  plumb_client *c;
  int next, total, done, bad;
} loop_state;

typedef struct slot {
  loop_state *ls;
  int a, b;
} slot;

static void start_one(loop_state *ls, slot *s);

/* Completion callback: run by plumb_client_dispatch on this thread. */
static void
on_done(plumb_pending *p, void *user)
{
  slot *s = user;
  int32_t sum = 0;
  int st = calc_Calculator_add_finish(p, &sum, NULL); /* releases p */
  if (st != PLUMB_OK || sum != s->a + s->b) {
    fprintf(stderr, "add(%d, %d): %s, got %d\n", s->a, s->b,
            plumb_strerror(st), (int)sum);
    s->ls->bad++;
  }
  s->ls->done++;
  start_one(s->ls, s); /* keep IN_FLIGHT calls going */
}

static void
start_one(loop_state *ls, slot *s)
{
  plumb_pending *p;
  if (ls->next >= ls->total)
    return;
  s->a = ls->next++;
  s->b = 1000;
  int st = calc_Calculator_add_begin(ls->c, s->a, s->b, &p);
  if (st != PLUMB_OK) {
    fprintf(stderr, "add_begin: %s (%s)\n", plumb_strerror(st),
            plumb_client_last_error(ls->c));
    ls->bad++;
    ls->done++;
    return;
  }
  plumb_pending_set_callback(p, on_done, s);
}

int
main(int argc, char **argv)
{
  loop_state ls = { 0 };
  slot slots[IN_FLIGHT];
  struct epoll_event ev = { .events = EPOLLIN }, out[4];

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT [CALLS]\n", argv[0]);
    return 2;
  }
  ls.total = argc > 2 ? atoi(argv[2]) : 2000;
  int st = plumb_client_open(&ls.c, argv[1], "calc", NULL);
  if (st != PLUMB_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], plumb_strerror(st));
    return 1;
  }
  int ep = epoll_create1(0);
  int fd = plumb_client_fd(ls.c);
  if (ep < 0 || fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    fprintf(stderr, "epoll: %s\n", plumb_client_last_error(ls.c));
    return 1;
  }
  for (int i = 0; i < IN_FLIGHT; i++) {
    slots[i].ls = &ls;
    start_one(&ls, &slots[i]);
  }
  /* The loop: wait on our own epoll set, let plumb run completions. */
  while (ls.done < ls.total) {
    int n = epoll_wait(ep, out, 4, 10000);
    if (n == 0) {
      fprintf(stderr, "no progress in 10 s (%d of %d done)\n", ls.done,
              ls.total);
      return 1;
    }
    if (n > 0)
      plumb_client_dispatch(ls.c);
  }
  close(ep);
  plumb_client_close(ls.c);
  printf("%d calls, %d in flight, %d wrong\n", ls.total, IN_FLIGHT, ls.bad);
  return ls.bad == 0 ? 0 : 1;
}
