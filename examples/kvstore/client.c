/* client.c - command-line client of the key-value store.
 *
 *   kv-client ENDPOINT put KEY TEXT | putnum KEY N | get KEY | rm KEY
 *                      | list [PREFIX] | keys | size | name [NEW] | log MSG
 *
 * Every result lives in one arena freed at the end (see IDL-MAPPING.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plumb/plumb.h>

#include "kvstore.h"

static void
print_value(const kv_Value *v)
{
  switch (v->_case) {
  case kv_Value_case_text: printf("\"%s\"", v->text); break;
  case kv_Value_case_number: printf("%lld", (long long)v->number); break;
  case kv_Value_case_blob: printf("<%zu bytes>", v->blob.len); break;
  default: printf("<unset>"); break;
  }
}

static int
run(plumb_client *c, plumb_arena *a, int argc, char **argv)
{
  const char *cmd = argv[0];
  int rc = PLUMB_EINVAL;

  if (strcmp(cmd, "put") == 0 && argc == 3) {
    kv_Value v = kv_Value_INIT;
    uint32_t ver;
    v._d = kv_Kind_K_TEXT;
    v._case = kv_Value_case_text;
    v.text = argv[2];
    if ((rc = kv_Store_put(c, argv[1], &v, &ver, a)) == PLUMB_OK)
      printf("%s -> version %u\n", argv[1], ver);
  } else if (strcmp(cmd, "putnum") == 0 && argc == 3) {
    kv_Value v = kv_Value_INIT;
    uint32_t ver;
    v._d = kv_Kind_K_NUMBER;
    v._case = kv_Value_case_number;
    v.number = atoll(argv[2]);
    if ((rc = kv_Store_put(c, argv[1], &v, &ver, a)) == PLUMB_OK)
      printf("%s -> version %u\n", argv[1], ver);
  } else if (strcmp(cmd, "get") == 0 && argc == 2) {
    kv_Value v;
    rc = kv_Store_get(c, argv[1], &v, a);
    if (rc == PLUMB_OK) {
      print_value(&v);
      printf("\n");
    } else if (rc == PLUMB_EEXCEPTION) {
      const char *id;
      kv_NotFound *nf = plumb_arena_exception(a, &id);
      printf("%s: key '%s'\n", id, nf ? nf->key : "?");
    }
  } else if (strcmp(cmd, "rm") == 0 && argc == 2) {
    bool gone;
    if ((rc = kv_Store_remove(c, argv[1], &gone, a)) == PLUMB_OK)
      printf("%s\n", gone ? "removed" : "absent");
  } else if (strcmp(cmd, "list") == 0 && argc <= 2) {
    kv_EntryList l;
    if ((rc = kv_Store_list(c, argc == 2 ? argv[1] : "", &l, a)) == PLUMB_OK)
      for (size_t i = 0; i < l._length; i++) {
        printf("%s = ", l._buffer[i]->key);
        print_value(l._buffer[i]->value);
        printf("  (v%u)\n", l._buffer[i]->version);
      }
  } else if (strcmp(cmd, "keys") == 0 && argc == 1) {
    kv_KeyList k;
    if ((rc = kv_Store_keys(c, &k, a)) == PLUMB_OK)
      for (size_t i = 0; i < k._length; i++)
        printf("%s\n", k._buffer[i]);
  } else if (strcmp(cmd, "size") == 0 && argc == 1) {
    uint32_t n;
    if ((rc = kv_Store__get_size(c, &n, a)) == PLUMB_OK)
      printf("%u\n", n);
  } else if (strcmp(cmd, "name") == 0 && argc <= 2) {
    char *name;
    if (argc == 2)
      rc = kv_Store__set_name(c, argv[1], a);
    else if ((rc = kv_Store__get_name(c, &name, a)) == PLUMB_OK)
      printf("%s\n", name);
  } else if (strcmp(cmd, "log") == 0 && argc == 2) {
    rc = kv_Store_log(c, argv[1], a);
  } else {
    fprintf(stderr, "kv-client: unknown command or wrong arguments\n");
    return 2;
  }
  if (rc != PLUMB_OK && rc != PLUMB_EEXCEPTION)
    fprintf(stderr, "kv-client: %s: %s\n", cmd, plumb_strerror(rc));
  return rc == PLUMB_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
  plumb_client *c;
  plumb_arena *a;
  int rc;

  if (argc < 3) {
    fprintf(stderr, "usage: kv-client ENDPOINT COMMAND [ARGS]\n");
    return 2;
  }
  if ((rc = plumb_client_open(&c, argv[1], "kv", NULL)) != PLUMB_OK) {
    fprintf(stderr, "kv-client: cannot reach %s: %s\n", argv[1],
            plumb_strerror(rc));
    return 1;
  }
  if ((a = plumb_arena_new()) == NULL)
    return 1;
  rc = run(c, a, argc - 2, argv + 2);
  plumb_arena_free(a);
  plumb_client_close(c);
  return rc;
}
