/* decode_server.c - the server of tests/hostile/hostile_decode.c: serves
 * hd::Deep (hdecode.idl) as object "deep" on the endpoints on its command
 * line until SIGTERM.
 *
 *   hostile-decode-server ENDPOINT... */
#include <stdio.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "hdecode.h"

/* Depth of the tree (the decoder bounds it, so recursion is safe here). */
static int32_t
node_depth(const hd_Node *n)
{
  int32_t d = 0;
  if (n == NULL)
    return 0;
  for (size_t i = 0; i < n->n_kids; i++) {
    int32_t k = node_depth(n->kids[i]);
    if (k > d)
      d = k;
  }
  return d + 1;
}

static int
srv_depth(void *ctx, plumb_call *call, const hd_Node *n, int32_t *ret)
{
  (void)ctx, (void)call;
  *ret = node_depth(n);
  return PLUMB_OK;
}

static int
srv_put_many(void *ctx, plumb_call *call, const hd_ItemList *items,
             uint32_t *ret)
{
  (void)ctx, (void)call;
  *ret = (uint32_t)items->_length;
  return PLUMB_OK;
}

static int
srv_add(void *ctx, plumb_call *call, int32_t a, int32_t b, int32_t *ret)
{
  (void)ctx, (void)call;
  *ret = (int32_t)((uint32_t)a + (uint32_t)b);
  return PLUMB_OK;
}

static int
srv_pid(void *ctx, plumb_call *call, int32_t *ret)
{
  (void)ctx, (void)call;
  *ret = (int32_t)getpid();
  return PLUMB_OK;
}

static const hd_Deep_ops deep_ops = {
  .depth = srv_depth, .put_many = srv_put_many, .add = srv_add,
  .pid = srv_pid,
};

int
main(int argc, char **argv)
{
  plumb_server *s;
  int rc;

  if (argc < 2) {
    fprintf(stderr, "usage: %s ENDPOINT...\n", argv[0]);
    return 2;
  }
  if ((rc = plumb_server_new(&s, NULL)) != PLUMB_OK ||
      (rc = hd_Deep__serve(s, "deep", &deep_ops, NULL)) != PLUMB_OK)
    goto fail;
  for (int i = 1; i < argc; i++)
    if ((rc = plumb_server_listen(s, argv[i])) != PLUMB_OK)
      goto fail;
  rc = plumb_server_run(s, 1);
  plumb_server_free(s);
  return rc == PLUMB_OK ? 0 : 1;
fail:
  fprintf(stderr, "hostile-decode-server: %s\n", plumb_strerror(rc));
  plumb_server_free(s);
  return 1;
}
