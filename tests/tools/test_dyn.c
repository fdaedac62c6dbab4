/* test_dyn.c - tools/dyn.c, the run-time descriptors `plumb call` builds
 * from plumbc's model: a type is built once however many values of it are
 * mapped.  plumbc's pool (compiler/back/model.c) lives to the end of the
 * process, so building a type's model again for every `any` a server
 * returned grew the CLI without bound (found by fuzz_jmap: 2 GB after 5 M
 * inputs).  Here: 200,000 lookups of a struct, a union and a recursive type
 * return the first descriptor and add (almost) nothing to the heap. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dyn.h"
#include "front.h"
#include "ptest.h"

static const char idl[] =
    "module t {\n"
    "  struct Point { long x; long y; };\n"
    "  union Shape switch (long) { case 1: Point at; case 2: string name; };\n"
    "  struct Tree { string label; sequence<Tree> kids; Shape s; };\n"
    "};\n";

static idl_tree *tree;

/* in use: small blocks and mmap'd ones (the pool's chunks are large);
 * ASan's allocator reports 0 here, so the heap check bites in the normal
 * build and the pointer check in both */
static size_t
heap_bytes(void)
{
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static void
test_built_once(void)
{
  const idl_node *decl[3]; /* module t's Point, Shape, Tree */
  const dyn_msg *first[3];
  const idl_node *n = tree->root->children->children;
  for (int i = 0; i < 3; i++, n = n->next) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    decl[i] = n;
    first[i] = dyn_of_decl(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first[i]);
  }
  size_t before = heap_bytes();
  int same = 0;
  for (int k = 0; k < 200000; k++) {
    int i = k % 3;
    same += dyn_of_decl(decl[i]) == first[i];
  }
  size_t after = heap_bytes();
  CU_ASSERT_EQUAL(same, 200000);
  /* before the fix: ~580 bytes of model per lookup, +115 MB here */
  if (after >= before + 64 * 1024)
    fprintf(stderr, "heap grew %zu -> %zu bytes\n", before, after);
  CU_ASSERT(after < before + 64 * 1024);
}

static int
init(void)
{
  idl_options io;
  memset(&io, 0, sizeof io);
  if (idl_parse_string("t.idl", idl, &io, &tree) != 0 || tree == NULL)
    return 1;
  proto_set_tree(tree);
  return 0;
}

static const ptest_case cases[] = {
  { "a type is built once, however many values", test_built_once },
  { NULL, NULL },
};
static const ptest_suite suites[] = {
  { "dyn", cases, init, NULL },
  { NULL, NULL, NULL, NULL },
};

int
main(int argc, char **argv)
{
  return ptest_run(suites, argc, argv);
}
