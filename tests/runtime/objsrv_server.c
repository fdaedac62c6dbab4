/* objsrv_server.c - the server the object-model tests start (test_objects,
 * test_refs, test_sysexc): serves test::Echo as "calc" (the default),
 * test::Derived as "derived" and a Derived without mul as "nomul" on every
 * endpoint on its command line, until SIGTERM.  Its echo(s) takes commands,
 * so that clients drive the object table from inside a handler:
 *   new             add an anonymous Echo object; returns its id
 *   del:ID          remove object ID (ENOOBJECT if none)
 *   ref:NAME        plumb_server_ref of NAME ("" = default), as a string
 *   destroyed       how many destroy callbacks ran, as a string
 *   sys:C:M:D       raise system exception code C, minor M, completion D
 *   st:N            return status -N
 *   big:N           return N bytes (over the 256 KiB frame limit: the
 *                   runtime's IMP_LIMIT)
 *   peer            plumb_call_peer as "addr=A creds=C pid=P uid=U"
 *   hold:MS[:PAD]   sleep MS ms (at most 5000) holding the request's decode
 *                   memory (PAD makes it big); returns "held"
 * With OBJSRV_MAX_DECODE_MEMORY=N in its environment the server's
 * max_decode_memory is N (the runtime's NO_RESOURCES).
 * anything else is echoed.  Exit status: 0 after a clean stop, 3 if an
 * endpoint is in use, 1 on other errors. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echo_impl.h"
#include "serve.h"
#include "testif.h"

static plumb_server *g_srv;
static atomic_int destroyed;

static void
on_destroy(void *ctx)
{
  (void)ctx;
  atomic_fetch_add(&destroyed, 1);
}

static int srv_echo(void *ctx, plumb_call *call, const char *s, char **ret);

static const test_Echo_ops echo_impl = { echo_impl_add, NULL, srv_echo,
                                         NULL, NULL, echo_impl_nap, NULL };
static const test_Echo_ops derived_impl = { echo_impl_add, NULL, srv_echo,
                                            NULL, NULL, echo_impl_nap,
                                            echo_impl_mul };
static const test_Echo_ops nomul_impl = { echo_impl_add, NULL, srv_echo,
                                          NULL, NULL, echo_impl_nap, NULL };

static int
srv_echo(void *ctx, plumb_call *call, const char *s, char **ret)
{
  (void)ctx;
  char buf[PLUMB_OBJECT_ID_MAX + 32];
  int st;

  if (strcmp(s, "new") == 0) {
    plumb_object_opts o = { NULL, on_destroy };
    char id[PLUMB_OBJECT_ID_MAX];
    if ((st = plumb_server_add_object_opts(g_srv, &test_Echo_interface,
                                           &echo_impl, NULL, &o, id)) !=
        PLUMB_OK)
      return plumb_call_fail(call, st, "add object: %s", plumb_strerror(st));
    *ret = plumb_call_strdup(call, id);
    return PLUMB_OK;
  }
  if (strncmp(s, "del:", 4) == 0) {
    if ((st = plumb_server_remove_object(g_srv, s + 4)) != PLUMB_OK)
      return plumb_call_fail(call, st, "remove '%s': %s", s + 4,
                             plumb_strerror(st));
    *ret = plumb_call_strdup(call, "ok");
    return PLUMB_OK;
  }
  if (strncmp(s, "ref:", 4) == 0) {
    plumb_objref r;
    if ((st = plumb_server_ref(g_srv, s + 4, &r, plumb_call_arena(call))) !=
            PLUMB_OK ||
        (st = plumb_objref_format(&r, ret, plumb_call_arena(call))) !=
            PLUMB_OK)
      return st;
    return PLUMB_OK;
  }
  if (strcmp(s, "destroyed") == 0) {
    snprintf(buf, sizeof buf, "%d", atomic_load(&destroyed));
    *ret = plumb_call_strdup(call, buf);
    return PLUMB_OK;
  }
  if (strcmp(s, "peer") == 0) {
    const plumb_peer *p = plumb_call_peer(call);
    char pb[PLUMB_PEER_ADDR_MAX + 64];
    snprintf(pb, sizeof pb, "addr=%s creds=%d pid=%d uid=%u", p->addr,
             p->has_creds, (int)p->pid, (unsigned)p->uid);
    *ret = plumb_call_strdup(call, pb);
    return PLUMB_OK;
  }
  int c, m, d;
  if (sscanf(s, "hold:%d", &c) == 1) {
    if (c > 5000)
      c = 5000;
    struct timespec ts = { c / 1000, (long)(c % 1000) * 1000000 };
    nanosleep(&ts, NULL);
    *ret = plumb_call_strdup(call, "held");
    return PLUMB_OK;
  }
  if (sscanf(s, "sys:%d:%d:%d", &c, &m, &d) == 3) {
    plumb_call_set_completion(call, d);
    return plumb_call_raise_system(call, c, (uint32_t)m, "raised %s",
                                   plumb_sysexc_name(c));
  }
  if (sscanf(s, "st:%d", &c) == 1)
    return -c;
  if (sscanf(s, "big:%d", &c) == 1 && c > 0 && c < (1 << 22)) {
    if ((*ret = plumb_call_alloc(call, (size_t)c + 1)) == NULL)
      return PLUMB_ENOMEM;
    memset(*ret, 'x', (size_t)c);
    (*ret)[c] = '\0';
    return PLUMB_OK;
  }
  *ret = plumb_call_strdup(call, s);
  return *ret ? PLUMB_OK : PLUMB_ENOMEM;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 1;
  }
  plumb_server_opts so = { .max_frame = 256 * 1024 };
  const char *mdm = getenv("OBJSRV_MAX_DECODE_MEMORY");
  if (mdm != NULL)
    so.max_decode_memory = (size_t)strtoull(mdm, NULL, 10);
  if (plumb_server_new(&g_srv, &so) != PLUMB_OK)
    return 1;
  if (plumb_server_add_object(g_srv, "calc", &test_Echo_interface,
                              &echo_impl, NULL) != PLUMB_OK ||
      plumb_server_add_object(g_srv, "derived", &test_Derived_interface,
                              &derived_impl, NULL) != PLUMB_OK ||
      plumb_server_add_object(g_srv, "nomul", &test_Derived_interface,
                              &nomul_impl, NULL) != PLUMB_OK) {
    plumb_server_free(g_srv);
    return 1;
  }
  return ptest_serve(g_srv, argv + 1, argc - 1);
}
