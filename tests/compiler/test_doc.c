/* test_doc.c - documentation comments in the front end (compiler/front/
 * doc.c): which comments document which declaration, how their text is
 * cleaned, and that a hostile comment is bounded. */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "front.h"
#include "ptest.h"

static idl_tree *
parse(const char *text)
{
  idl_options o;
  idl_tree *t = NULL;
  memset(&o, 0, sizeof o);
  CU_ASSERT_EQUAL(idl_parse_string("d.idl", text, &o, &t), 0);
  CU_ASSERT_PTR_NOT_NULL(t);
  return t;
}

/* The child of n named name (depth first). */
static const idl_node *
find(const idl_node *n, const char *name)
{
  for (const idl_node *c = n->children; c != NULL; c = c->next) {
    const idl_node *r;
    if (c->name != NULL && strcmp(c->name, name) == 0)
      return c;
    if ((r = find(c, name)) != NULL)
      return r;
  }
  return NULL;
}

static const char *
doc_of(const idl_tree *t, const char *name)
{
  const idl_node *n = find(t->root, name);
  CU_ASSERT_PTR_NOT_NULL_FATAL(n);
  return n->doc;
}

static void
test_which_comment(void)
{
  idl_tree *t = parse(
      "module m {\n"
      "  /** A point.\n"
      "   *\n"
      "   * In the plane. */\n"
      "  struct P {\n"
      "    // x coordinate\n"
      "    long x; // trailing: not y's doc\n"
      "    long y;\n"
      "    /* plain comment */\n"
      "    long z;\n"
      "  };\n"
      "  // one\n"
      "  // two\n"
      "\n"
      "  const long C = 1;\n"
      "  /// three\n"
      "  /**/\n"
      "  const long D = 2;\n"
      "  /** E's */ const long E = 3;\n"
      "  interface I {\n"
      "    /** op doc */\n"
      "    void op();\n"
      "    // attr doc\n"
      "    attribute long a;\n"
      "  };\n"
      "  enum Col {\n"
      "    // red\n"
      "    RED, GREEN };\n"
      "};\n");
  if (t == NULL)
    return;
  CU_ASSERT_STRING_EQUAL(doc_of(t, "P"), "A point.\n\nIn the plane.");
  CU_ASSERT_STRING_EQUAL(doc_of(t, "x"), "x coordinate");
  CU_ASSERT_PTR_NULL(doc_of(t, "y"));
  CU_ASSERT_PTR_NULL(doc_of(t, "z"));
  CU_ASSERT_PTR_NULL(doc_of(t, "C")); /* a blank line in between */
  /* the empty block comment breaks the run: "three" is not D's doc */
  CU_ASSERT_PTR_NULL(doc_of(t, "D"));
  CU_ASSERT_STRING_EQUAL(doc_of(t, "E"), "E's");
  CU_ASSERT_STRING_EQUAL(doc_of(t, "op"), "op doc");
  CU_ASSERT_STRING_EQUAL(doc_of(t, "a"), "attr doc");
  CU_ASSERT_STRING_EQUAL(doc_of(t, "RED"), "red");
  CU_ASSERT_PTR_NULL(doc_of(t, "GREEN"));
  CU_ASSERT_PTR_NULL(doc_of(t, "I"));
  idl_tree_free(t);
}

static void
test_run_of_line_comments(void)
{
  idl_tree *t = parse("//   indented\n//\n/// third\nconst long K = 1;\n");
  if (t == NULL)
    return;
  CU_ASSERT_STRING_EQUAL(doc_of(t, "K"), "  indented\n\nthird");
  idl_tree_free(t);
}

static void
test_hostile_comment_bounded(void)
{
  size_t big = 1u << 20;
  char *text = malloc(big + 64);
  idl_tree *t;
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  memcpy(text, "/**", 3);
  memset(text + 3, 'a', big);
  text[100] = '\x01'; /* a control character */
  strcpy(text + 3 + big, "*/\nconst long K = 1;\n");
  t = parse(text);
  if (t != NULL) {
    const char *d = doc_of(t, "K");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT(strlen(d) <= 8192);
    CU_ASSERT(strchr(d, '\x01') == NULL);
    CU_ASSERT(strchr(d, '?') != NULL);
    idl_tree_free(t);
  }
  free(text);
}

int
main(int argc, char **argv)
{
  static const ptest_case cases[] = {
    {"which_comment", test_which_comment},
    {"run_of_line_comments", test_run_of_line_comments},
    {"hostile_comment_bounded", test_hostile_comment_bounded},
    {NULL, NULL},
  };
  static const ptest_suite suites[] = {
    {"front_doc", cases, NULL, NULL},
    {NULL, NULL, NULL, NULL},
  };
  return ptest_run(suites, argc, argv);
}
