/* fuzz_jmap.c - plumb call's JSON mapping (tools/jmap.c) of what it reads:
 * the first byte picks
 *   0: the rest is the encoded value of an any a server returned, of a
 *      recursive type (fz::Tree) or a wide one (fz::Bag) by the second
 *      byte: jm_to_json must bound it (any_bounded) and never crash;
 *   1: the rest is JSON arguments (the user's, or a script's): parsed by
 *      json-c, mapped by jm_from_json into fz::Holder (any, union,
 *      sequences, 64-bit, bytes), then printed back by jm_to_json.
 * The IDL is parsed once, by plumbc's front end, as the CLI does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "front.h"
#include "jmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char idl[] =
    "module fz {\n"
    "  struct Point { long x; long y; };\n"
    "  union Shape switch (long) { case 1: Point at; case 2: string name; "
    "};\n"
    "  struct Tree { string label; sequence<Tree> kids; };\n"
    "  struct Bag { sequence<Point> pts; long long big; sequence<octet> raw;"
    " Shape shape; sequence<sequence<string> > names; double d; };\n"
    "  struct Holder { any a; Bag bag; Tree tree; };\n"
    "};\n";

static idl_tree *tree;
static const dyn_msg *holder;

static const idl_node *
find(const char *name)
{
  for (const idl_node *m = tree->root->children; m; m = m->next)
    if (m->kind == IDL_MODULE)
      for (const idl_node *c = m->children; c; c = c->next)
        if (c->name && strcmp(c->name, name) == 0)
          return c;
  return NULL;
}

static int
setup(void)
{
  idl_options io;
  memset(&io, 0, sizeof io);
  if (idl_parse_string("fz.idl", idl, &io, &tree) != 0 || tree == NULL)
    abort();
  proto_set_tree(tree);
  jm_set_types(tree->root);
  const idl_node *h = find("Holder");
  holder = h ? dyn_of_decl(h) : NULL;
  if (holder == NULL)
    abort();
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int once = -1;
  if (once < 0)
    once = setup();
  if (size < 1 || size > 65536)
    return 0;
  plumb_arena *a = plumb_arena_new();
  if (a == NULL)
    return 0;
  if (data[0] == 0 && size >= 2) {
    plumb_any any = PLUMB_ANY_INIT;
    any.type_url = (char *)(data[1] & 1 ? "type.plumb/IDL:fz/Tree:1.0"
                                        : "type.plumb/IDL:fz/Bag:1.0");
    any.value.len = size - 2;
    any.value.data = (uint8_t *)(size > 2 ? data + 2 : NULL);
    ProtobufCMessage *m = dyn_new(holder, a);
    if (m == NULL)
      abort();
    for (unsigned i = 0; i < holder->d.n_fields; i++)
      if (strcmp(holder->fields[i].name, "a") == 0)
        *(plumb_any **)((char *)m + holder->fields[i].offset) = &any;
    json_object_put(jm_to_json(holder, m));
  } else if (data[0] == 1) {
    json_tokener *tok = json_tokener_new_ex(32);
    json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)data + 1,
                                                 (int)(size - 1))
                         : NULL;
    if (tok)
      json_tokener_free(tok);
    char err[600];
    ProtobufCMessage *m = NULL;
    if (o != NULL && json_object_is_type(o, json_type_object) &&
        jm_from_json(holder, o, &m, a, err, sizeof err) == 0)
      json_object_put(jm_to_json(holder, m));
    json_object_put(o);
  }
  plumb_arena_free(a);
  return 0;
}
