/* test_objects.c - objects at run time, against a real objsrv_server
 * process over unix: anonymous objects made and removed from inside a
 * handler, 10,000 of them under concurrent calls from 8 clients (calls on
 * removed ones get OBJECT_NOT_EXIST), calls in progress finishing on a
 * removed object before its destroy callback runs, _non_existent and
 * _interface, and the ids' shape. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "objsrv_util.h"
#include "ptest.h"

OBJSRV_UNIX_FIXTURE("objs")

static int
destroyed_count(plumb_client *ctl)
{
  plumb_arena *a = plumb_arena_new();
  int st;
  char *s = objsrv_cmd(ctl, "destroyed", a, &st);
  int n = s ? atoi(s) : -1;
  plumb_arena_free(a);
  return n;
}

static void
test_anonymous(void)
{
  plumb_client *ctl = open_obj(NULL);
  plumb_arena *a = plumb_arena_new();
  int st;
  char *id1 = objsrv_cmd(ctl, "new", a, &st);
  char *id2 = objsrv_cmd(ctl, "new", a, &st);
  CU_ASSERT_PTR_NOT_NULL_FATAL(id1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(id2);
  /* 128 random bits: 32 hex digits, never the same twice */
  CU_ASSERT_EQUAL(strlen(id1), 32);
  CU_ASSERT_EQUAL(strspn(id1, "0123456789abcdef"), 32);
  CU_ASSERT_STRING_NOT_EQUAL(id1, id2);

  plumb_client *o = open_obj(id1);
  int32_t r = 0;
  CU_ASSERT_EQUAL(test_Echo_add(o, 2, 3, &r), PLUMB_OK);
  CU_ASSERT_EQUAL(r, 5);
  int gone = -1;
  CU_ASSERT_EQUAL(plumb_client_non_existent(o, &gone), PLUMB_OK);
  CU_ASSERT_EQUAL(gone, 0);
  char *tid = NULL;
  CU_ASSERT_EQUAL(plumb_client_interface(o, &tid, a), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(tid ? tid : "", "IDL:test/Echo:1.0");

  int before = destroyed_count(ctl);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "del:%s", id1);
  CU_ASSERT_PTR_NOT_NULL(objsrv_cmd(ctl, cmd, a, &st));
  CU_ASSERT_EQUAL(destroyed_count(ctl), before + 1);
  /* later calls: OBJECT_NOT_EXIST, status still ENOOBJECT */
  CU_ASSERT_EQUAL(test_Echo_add(o, 2, 3, &r), PLUMB_ENOOBJECT);
  plumb_sysexc se;
  CU_ASSERT_EQUAL(plumb_client_system_exception(o, &se), 1);
  CU_ASSERT_EQUAL(se.code, PLUMB_SYS_OBJECT_NOT_EXIST);
  CU_ASSERT_EQUAL(se.minor, PLUMB_MINOR_NO_OBJECT);
  CU_ASSERT_EQUAL(se.completed, PLUMB_COMPLETED_NO);
  CU_ASSERT_EQUAL(se.status, PLUMB_ENOOBJECT);
  CU_ASSERT_PTR_NOT_NULL(strstr(se.message, id1));
  CU_ASSERT_EQUAL(plumb_client_non_existent(o, &gone), PLUMB_OK);
  CU_ASSERT_EQUAL(gone, 1);
  /* removing twice: the handler's ENOOBJECT */
  CU_ASSERT_PTR_NULL(objsrv_cmd(ctl, cmd, a, &st));
  CU_ASSERT_EQUAL(st, PLUMB_ENOOBJECT);
  snprintf(cmd, sizeof cmd, "del:%s", id2);
  CU_ASSERT_PTR_NOT_NULL(objsrv_cmd(ctl, cmd, a, &st));
  plumb_client_close(o);
  plumb_client_close(ctl);
  plumb_arena_free(a);
}

/* A call in progress on an object being removed finishes; the destroy
 * callback runs after it. */
typedef struct {
  plumb_client *c;
  int st;
  int32_t r;
} nap_arg;

static void *
nap_thread(void *p)
{
  nap_arg *n = p;
  n->st = test_Echo_nap(n->c, 400, 77, &n->r);
  return NULL;
}

static void
test_remove_during_call(void)
{
  plumb_client *ctl = open_obj(NULL);
  plumb_arena *a = plumb_arena_new();
  int st;
  char *id = objsrv_cmd(ctl, "new", a, &st);
  CU_ASSERT_PTR_NOT_NULL_FATAL(id);
  int before = destroyed_count(ctl);
  nap_arg n = { open_obj(id), -1, 0 };
  pthread_t t;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, nap_thread, &n), 0);
  struct timespec ts = { 0, 100000000 };
  nanosleep(&ts, NULL); /* the nap has begun */
  char cmd[64];
  snprintf(cmd, sizeof cmd, "del:%s", id);
  CU_ASSERT_PTR_NOT_NULL(objsrv_cmd(ctl, cmd, a, &st));
  CU_ASSERT_EQUAL(destroyed_count(ctl), before); /* still in use */
  pthread_join(t, NULL);
  CU_ASSERT_EQUAL(n.st, PLUMB_OK);
  CU_ASSERT_EQUAL(n.r, 77);
  /* the worker drops its reference right after sending the reply */
  int now = before;
  for (int i = 0; i < 100 && now == before; i++) {
    nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
    now = destroyed_count(ctl);
  }
  CU_ASSERT_EQUAL(now, before + 1);
  int32_t r;
  CU_ASSERT_EQUAL(test_Echo_add(n.c, 1, 1, &r), PLUMB_ENOOBJECT);
  plumb_client_close(n.c);
  plumb_client_close(ctl);
  plumb_arena_free(a);
}

/* 8 clients x 1250 objects: each made, called, removed, called again. */
#define FACT_THREADS 8
#define FACT_PER 1250

static atomic_int fact_ok, fact_gone, fact_bad;

static void *
factory_thread(void *p)
{
  (void)p;
  plumb_client *ctl = NULL;
  if (plumb_client_open(&ctl, g_obj.ep, NULL, NULL) != PLUMB_OK) {
    atomic_fetch_add(&fact_bad, 1);
    return NULL;
  }
  plumb_arena *a = plumb_arena_new();
  long long end = ptest_now_ms() + 100000;
  for (int i = 0; i < FACT_PER && ptest_now_ms() < end; i++) {
    int st;
    plumb_arena_reset(a);
    char *id = objsrv_cmd(ctl, "new", a, &st);
    if (id == NULL) {
      atomic_fetch_add(&fact_bad, 1);
      continue;
    }
    plumb_client *o = NULL;
    int32_t r = 0;
    if (plumb_client_open(&o, g_obj.ep, id, NULL) != PLUMB_OK) {
      atomic_fetch_add(&fact_bad, 1);
      continue;
    }
    if (test_Echo_add(o, i, 1, &r) == PLUMB_OK && r == i + 1)
      atomic_fetch_add(&fact_ok, 1);
    else
      atomic_fetch_add(&fact_bad, 1);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "del:%s", id);
    if (objsrv_cmd(ctl, cmd, a, &st) == NULL)
      atomic_fetch_add(&fact_bad, 1);
    plumb_sysexc se;
    if (test_Echo_add(o, i, 1, &r) == PLUMB_ENOOBJECT &&
        plumb_client_system_exception(o, &se) &&
        se.code == PLUMB_SYS_OBJECT_NOT_EXIST)
      atomic_fetch_add(&fact_gone, 1);
    else
      atomic_fetch_add(&fact_bad, 1);
    plumb_client_close(o);
  }
  plumb_arena_free(a);
  plumb_client_close(ctl);
  return NULL;
}

static void
test_factory_10000(void)
{
  plumb_client *ctl = open_obj(NULL);
  int before = destroyed_count(ctl);
  pthread_t t[FACT_THREADS];
  for (int i = 0; i < FACT_THREADS; i++)
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, factory_thread, NULL),
                          0);
  for (int i = 0; i < FACT_THREADS; i++)
    pthread_join(t[i], NULL);
  CU_ASSERT_EQUAL(atomic_load(&fact_bad), 0);
  CU_ASSERT_EQUAL(atomic_load(&fact_ok), FACT_THREADS * FACT_PER);
  CU_ASSERT_EQUAL(atomic_load(&fact_gone), FACT_THREADS * FACT_PER);
  CU_ASSERT_EQUAL(destroyed_count(ctl), before + FACT_THREADS * FACT_PER);
  plumb_client_close(ctl);
}

/* Named objects: EBUSY on a taken name; the default object. */
static void
test_builtin_is_a(void)
{
  plumb_client *c = open_obj("derived");
  int yes = -1;
  CU_ASSERT_EQUAL(plumb_client_is_a(c, "IDL:test/Derived:1.0", &yes),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(yes, 1);
  CU_ASSERT_EQUAL(plumb_client_is_a(c, "IDL:test/Echo:1.0", &yes), PLUMB_OK);
  CU_ASSERT_EQUAL(yes, 1); /* a base */
  CU_ASSERT_EQUAL(plumb_client_is_a(c, "IDL:omg.org/CORBA/Object:1.0", &yes),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(yes, 1);
  CU_ASSERT_EQUAL(plumb_client_is_a(c, "IDL:test/Other:1.0", &yes),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(yes, 0);
  plumb_client_close(c);
  c = open_obj("calc");
  CU_ASSERT_EQUAL(plumb_client_is_a(c, "IDL:test/Derived:1.0", &yes),
                  PLUMB_OK);
  CU_ASSERT_EQUAL(yes, 0); /* not a derived one */
  plumb_client_close(c);
}

/* In-process, no run: the table's own rules. */
static int unit_destroyed;

static void
unit_destroy(void *ctx)
{
  unit_destroyed += *(int *)ctx;
}

static void
test_table_rules(void)
{
  static const test_Echo_ops ops = { 0 };
  plumb_server *s;
  int one = 1, ten = 10;
  CU_ASSERT_EQUAL_FATAL(plumb_server_new(&s, NULL), PLUMB_OK);
  plumb_object_opts o = { "a", unit_destroy };
  char id[PLUMB_OBJECT_ID_MAX];
  CU_ASSERT_EQUAL(plumb_server_add_object_opts(s, &test_Echo_interface, &ops,
                                               &one, &o, id), PLUMB_OK);
  CU_ASSERT_STRING_EQUAL(id, "a");
  CU_ASSERT_EQUAL(plumb_server_add_object(s, "a", &test_Echo_interface, &ops,
                                          NULL), PLUMB_EBUSY);
  CU_ASSERT_EQUAL(plumb_server_add_object(s, "", &test_Echo_interface, &ops,
                                          NULL), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_server_add_object(s, NULL, &test_Echo_interface, &ops,
                                          NULL), PLUMB_EINVAL);
  CU_ASSERT_EQUAL(plumb_server_remove_object(s, "nope"), PLUMB_ENOOBJECT);
  /* many anonymous ones: the table grows, ids stay distinct */
  o.name = NULL;
  for (int i = 0; i < 1000; i++)
    CU_ASSERT_EQUAL(plumb_server_add_object_opts(s, &test_Echo_interface,
                                                 &ops, &ten, &o, id),
                    PLUMB_OK);
  CU_ASSERT_EQUAL(plumb_server_remove_object(s, "a"), PLUMB_OK);
  CU_ASSERT_EQUAL(unit_destroyed, 1); /* no call ran on it: at once */
  CU_ASSERT_EQUAL(plumb_server_remove_object(s, "a"), PLUMB_ENOOBJECT);
  /* the default object was "a": there is none now */
  plumb_objref r;
  plumb_arena *a = plumb_arena_new();
  CU_ASSERT_EQUAL(plumb_server_ref(s, NULL, &r, a), PLUMB_ENOOBJECT);
  CU_ASSERT_EQUAL(plumb_server_ref(s, id, &r, a), PLUMB_ENOTSUP);
  plumb_arena_free(a);
  plumb_server_free(s); /* destroys the 1000 left */
  CU_ASSERT_EQUAL(unit_destroyed, 1 + 10 * 1000);
}

static const ptest_case unit_cases[] = {
  { "table rules", test_table_rules },
  { NULL, NULL },
};

static const ptest_case cases[] = {
  { "anonymous objects, removal, _non_existent", test_anonymous },
  { "removal during a call", test_remove_during_call },
  { "_is_a follows bases", test_builtin_is_a },
  { "10,000 objects under 8 clients", test_factory_10000 },
  { NULL, NULL },
};

static const ptest_suite suites[] = {
  { "objects-units", unit_cases, NULL, NULL },
  { "objects", cases, suite_init, suite_cleanup },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
