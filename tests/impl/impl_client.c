/* impl_client.c - calls every operation of the objects a plumbc --impl
 * skeleton serves and checks that each answers PLUMB_ENOOP "not
 * implemented" as the system exception NO_IMPLEMENT (oneway operations:
 * accepted, no answer).
 *
 *   impl-client-X ENDPOINT
 *
 * Built once per IDL with -DIMPL_HEADER="x.h", -DIMPL_IFACES=&a,&b and
 * -DIMPL_NAMES="m::A","m::B" (tests/impl/meson.build).  Every operation of
 * each object, inherited ones included, is invoked through the generated
 * interface tables and request descriptors (plumb_invoke, what every
 * generated stub calls) with a default request; with -DIMPL_STUB the
 * generated stub of calc::Calculator::add is called too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plumb/plumb.h>

#include IMPL_HEADER

static const plumb_interface *const ifaces[] = { IMPL_IFACES };
static const char *const names[] = { IMPL_NAMES };

static int failures, calls;

/* Calls the operations of `decl` (and of its bases, depth first) on c. */
static void
call_all(plumb_client *c, const char *obj, const plumb_interface *decl,
         int depth)
{
  if (depth > 64)
    return;
  for (size_t b = 0; b < decl->n_bases; b++)
    call_all(c, obj, decl->bases[b], depth + 1);
  for (size_t i = 0; i < decl->n_ops; i++) {
    const plumb_operation *op = &decl->ops[i];
    ProtobufCMessage *req = calloc(1, op->request->sizeof_message);
    ProtobufCMessage *rep = NULL;
    plumb_arena *a = plumb_arena_new();
    int rc, want = (op->flags & PLUMB_OP_ONEWAY) ? PLUMB_OK : PLUMB_ENOOP;
    if (req == NULL || a == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    protobuf_c_message_init(op->request, req);
    rc = plumb_invoke(c, decl, (uint32_t)i, req, &rep, a);
    calls++;
    if (rc != want) {
      fprintf(stderr, "FAIL: %s %s::%s: %s (%s), expected %s\n", obj,
              decl->type_id, op->name, plumb_strerror(rc),
              plumb_status_name(rc), plumb_status_name(want));
      failures++;
    } else if (want == PLUMB_ENOOP) {
      /* what arrived: the system exception NO_IMPLEMENT, message naming
       * the operation */
      plumb_sysexc x;
      if (!plumb_client_system_exception(c, &x) ||
          x.code != PLUMB_SYS_NO_IMPLEMENT ||
          strstr(x.message, "not implemented") == NULL) {
        fprintf(stderr, "FAIL: %s::%s: system exception %s '%s'\n",
                decl->type_id, op->name, plumb_sysexc_name(x.code),
                x.message);
        failures++;
      }
    }
    plumb_arena_free(a);
    free(req);
  }
}

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
    return 2;
  }
  for (size_t k = 0; k < sizeof ifaces / sizeof ifaces[0]; k++) {
    plumb_client *c;
    int rc = plumb_client_open(&c, argv[1], names[k], NULL);
    if (rc != PLUMB_OK) {
      fprintf(stderr, "FAIL: open %s %s: %s\n", argv[1], names[k],
              plumb_strerror(rc));
      return 1;
    }
    call_all(c, names[k], ifaces[k], 0);
#ifdef IMPL_STUB
    if (strcmp(names[k], "calc::Calculator") == 0) {
      int32_t sum = 7;
      rc = calc_Calculator_add(c, 1, 2, &sum, NULL);
      calls++;
      if (rc != PLUMB_ENOOP || sum != 7) {
        fprintf(stderr, "FAIL: stub calc_Calculator_add: %s, sum %d\n",
                plumb_status_name(rc), (int)sum);
        failures++;
      }
    }
#endif
    plumb_client_close(c);
  }
  printf("%d calls, %d failures\n", calls, failures);
  return failures ? 1 : 0;
}
