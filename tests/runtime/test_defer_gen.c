/* test_defer_gen.c - plumbc's deferred-reply helpers (gen_defer.c) end to
 * end: a calculator server process (forked) whose add and div handlers
 * defer every call and complete it from another thread with the generated
 * calc_Calculator_add_reply / _div_reply / _div_raise_DivByZero; this
 * process calls it over a unix socket with the generated stubs. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "calculator.h"
#include "proc.h"
#include "ptest.h"

static char g_ep[128];
static pid_t g_child = -1;

typedef struct job {
  plumb_deferred *d;
  int op; /* 0 add, 1 div */
  double a, b;
} job;

static void *
complete_main(void *p)
{
  job *j = p;
  struct timespec ts = { 0, 20 * 1000000 };
  nanosleep(&ts, NULL);
  if (j->op == 0) {
    calc_Calculator_add_reply(j->d, (int32_t)(j->a + j->b));
  } else if (j->b == 0) {
    calc_DivByZero e;
    calc_DivByZero_init(&e);
    e.reason = (char *)"deferred division by zero";
    calc_Calculator_div_raise_DivByZero(j->d, &e);
  } else {
    calc_Calculator_div_reply(j->d, j->a / j->b);
  }
  free(j);
  return NULL;
}

static int
defer_to_thread(plumb_call *call, int op, double a, double b)
{
  job *j = calloc(1, sizeof(*j));
  pthread_t t;
  if (j == NULL || (j->d = plumb_call_defer(call)) == NULL) {
    free(j);
    return PLUMB_ESERVER;
  }
  j->op = op;
  j->a = a;
  j->b = b;
  if (pthread_create(&t, NULL, complete_main, j) != 0)
    abort(); /* the deferred call could never complete */
  pthread_detach(t);
  return PLUMB_DEFERRED;
}

static int
srv_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx;
  (void)ret;
  return defer_to_thread(call, 0, a, b);
}

static int
srv_div(void *ctx, plumb_call *call, double a, double b, double *ret)
{
  (void)ctx;
  (void)ret;
  return defer_to_thread(call, 1, a, b);
}

static void
serve(void)
{
  static const calc_Calculator_ops ops = { .add = srv_add, .div = srv_div };
  plumb_server *s;
  if (plumb_server_new(&s, NULL) != PLUMB_OK ||
      calc_Calculator__serve(s, "calc", &ops, NULL) != PLUMB_OK ||
      plumb_server_listen(s, g_ep) != PLUMB_OK)
    _exit(1);
  int st = plumb_server_run(s, 1);
  plumb_server_free(s);
  _exit(st == PLUMB_OK ? 0 : 1);
}

static void
test_generated_helpers(void)
{
  plumb_client *c = NULL;
  plumb_client_opts o = { .timeout_ms = 3000 };
  long long end = ptest_now_ms() + 3000;
  while (plumb_client_open(&c, g_ep, NULL, &o) != PLUMB_OK &&
         ptest_now_ms() < end)
    usleep(20000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  int32_t r = 0;
  CU_ASSERT_EQUAL(calc_Calculator_add(c, 2, 3, &r, NULL), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 5);
  double q = 0;
  CU_ASSERT_EQUAL(calc_Calculator_div(c, 6, 3, &q, NULL), PLUMB_OK);
  CU_ASSERT_DOUBLE_EQUAL(q, 2.0, 1e-9);
  plumb_arena *a = plumb_arena_new();
  CU_ASSERT_EQUAL(calc_Calculator_div(c, 1, 0, &q, a), PLUMB_EEXCEPTION);
  const char *tid = NULL;
  const calc_DivByZero *e = plumb_arena_exception(a, &tid);
  CU_ASSERT(tid != NULL && strcmp(tid, calc_DivByZero_type.type_id) == 0);
  CU_ASSERT(e != NULL && e->reason != NULL &&
            strcmp(e->reason, "deferred division by zero") == 0);
  plumb_arena_free(a);
  plumb_client_close(c);
}

static const ptest_case cases[] = {
  { "generated _reply and _raise_X", test_generated_helpers },
  { NULL, NULL }
};

static int
suite_cleanup(void)
{
  int st = ptest_stop(g_child, SIGTERM, 3000);
  return st == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
  static const ptest_suite suites[] = {
    { "defer-gen", cases, NULL, suite_cleanup },
    { NULL, NULL, NULL, NULL }
  };
  snprintf(g_ep, sizeof g_ep, "unix:/tmp/plumb-dg-%d.sock", (int)getpid());
  if ((g_child = fork()) == 0)
    serve();
  if (g_child < 0)
    return 1;
  return ptest_run(suites, argc, argv);
}
