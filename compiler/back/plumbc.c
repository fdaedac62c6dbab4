/* plumbc.c - the IDL compiler's driver: parses options, runs the front end
 * (parse + check, which reports its own diagnostics) and then the back ends.
 *
 *   plumbc [-I DIR]... [-D NAME[=VAL]]... [-U NAME]... [-o OUTDIR] [--proto]
 *          [--depfile FILE] [--help] [--version] FILE.idl
 *   plumbc -M [options] FILE.idl      dependency rule to stdout, no output
 *   plumbc -E [options] FILE.idl      preprocessed IDL to stdout
 *   plumbc --impl [options] FILE.idl  FILE-impl.c, a server skeleton
 *   plumbc --check-compat [--strict] [-I DIR]... OLD.idl NEW.idl
 *
 * Exit status: 0 on success, 1 on any error (bad usage included).  With
 * --check-compat (compat.c): 0 compatible, 1 breaking, 2 usage/parse error.
 * docs/IDL-MAPPING.md ("Running plumbc") lists every status and message.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "back.h"
#include "compat.h"
#include "depfile.h"
#include "front.h"

/* At the end of a run the tree and the back ends' pool are left to the
 * kernel, as clang's driver does (-disable-free): freeing a large file's
 * hundreds of thousands of nodes one by one was a tenth of plumbc's time
 * (gen_big_idl.py 20000).  Sanitizer builds free everything, so leak
 * checking still sees every allocation; PLUMBC_FREE=1 does the same for a
 * valgrind run. */
#if defined(__SANITIZE_ADDRESS__)
#define FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define FREE_AT_EXIT 1
#endif
#endif
#ifndef FREE_AT_EXIT
#define FREE_AT_EXIT 0
#endif

/* plumbc allocates a lot and frees little until it exits: a large file's
 * tree and the back ends' pool are tens of megabytes (gen_big_idl.py 20000:
 * 39 MB).  With glibc's defaults the heap grows and shrinks in small steps
 * and every new 4 KiB page faults: a tenth of the run.  So the heap grows
 * 64 MiB at a time, is never trimmed, big blocks come from it too, and
 * the kernel may back it with huge pages (madvise; a no-op where THP is
 * off or the allocator is not glibc's).  Measured on that file: 0.54 ->
 * 0.45 s wall, system time halved. */
static void
tune_heap(void)
{
#if defined(__GLIBC__) && defined(M_TOP_PAD)
  enum { PAD = 64 << 20 };
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  mallopt(M_TOP_PAD, PAD);
  /* a block larger than what the heap has yet: it extends the heap by
   * itself plus PAD, and that whole extension is madvised */
  void *p = malloc(1 << 20);
  if (p != NULL) {
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)sbrk(0)) & ~(uintptr_t)(pg > 0 ? pg - 1 : 4095);
    if (end > start)
      (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
    free(p);
  }
#endif
}

#ifndef PLUMBC_IDLDIR /* set by meson: $datadir/plumb/idl */
#define PLUMBC_IDLDIR "/usr/local/share/plumb/idl"
#endif

static void
usage(FILE *f)
{
  fprintf(f,
          "usage: plumbc [-I DIR]... [-D NAME[=VAL]]... [-U NAME]... "
          "[-o OUTDIR] [--proto] [--depfile FILE] FILE.idl\n"
          "       plumbc -M | -E | --impl [-I DIR]... [-D ...] [-U ...] "
          "FILE.idl\n"
          "\n"
          "Compiles an OMG IDL file into C for plumb.  For FILE.idl it "
          "writes\n"
          "into OUTDIR (default .): FILE.h, FILE-wire.h, FILE-types.c,\n"
          "FILE-client.c, FILE-server.c, and with --proto also FILE.proto.\n"
          "\n"
          "  -I DIR       add DIR to the #include search path (repeatable);\n"
          "               plumb's own IDL (" PLUMBC_IDLDIR ")\n"
          "               is searched last\n"
          "  -D NAME[=VAL] define a macro for #if (VAL 1 if omitted)\n"
          "  -U NAME      undefine a macro (-D and -U apply in order)\n"
          "  -o OUTDIR    directory to write the generated files into\n"
          "  --proto      also write the equivalent proto3 schema\n"
          "  --depfile FILE  also write a make-style rule: the generated\n"
          "               files depend on every IDL file read (#include)\n"
          "  -M           print that rule to stdout and generate nothing\n"
          "  -E           print the preprocessed IDL to stdout and generate\n"
          "               nothing\n"
          "  --impl       write only FILE-impl.c, a server skeleton to fill\n"
          "               in (never overwrites an existing file)\n"
          "  --check-compat OLD.idl NEW.idl\n"
          "               report breaking, source-only and safe changes\n"
          "               (exit 0: compatible, 1: breaking, 2: error)\n"
          "  --strict     with --check-compat: source-only changes fail too\n"
          "  --help       show this help\n"
          "  --version    show the version\n");
}

/* mkdir -p: creates dir and its missing parents; 0 or -1 (reported). */
static int
make_dirs(const char *dir)
{
  char *p = strdup(dir), *q;
  int rc = 0;
  if (p == NULL)
    return -1;
  for (q = p + 1;; q++) {
    if (*q == '/' || *q == '\0') {
      char c = *q;
      *q = '\0';
      if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "plumbc: cannot create %s: %s\n", p, strerror(errno));
        rc = -1;
        break;
      }
      *q = c;
      if (c == '\0')
        break;
    }
  }
  free(p);
  return rc;
}

/* The files gen_c (and gen_proto) write, as paths in outdir. */
static size_t
output_paths(const gen_options *go, const char **out)
{
  size_t n = 0;
  /* "x.h", not "./x.h": make compares names as written */
  const char *d = strcmp(go->outdir, ".") == 0 ? "" : go->outdir;
  const char *sep = *d ? "/" : "";
  for (size_t i = 0; gen_c_suffixes[i] != NULL; i++)
    out[n++] = gstr("%s%s%s%s", d, sep, go->base, gen_c_suffixes[i]);
  if (go->proto)
    out[n++] = gstr("%s%s%s.proto", d, sep, go->base);
  return n;
}

/* -M (to stdout) or --depfile (to depfile). */
static int
emit_deps(const idl_tree *tree, const gen_options *go, const char *depfile)
{
  const char *targets[16];
  const char **deps;
  size_t nt = output_paths(go, targets);
  size_t nd = idl_tree_files(tree, &deps);
  int rc = depfile != NULL ? depfile_save(depfile, targets, nt, deps, nd)
                           : depfile_write(stdout, targets, nt, deps, nd);
  free(deps);
  return rc;
}

static void
free_macros(char **m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(m[i]);
  free(m);
}

int
main(int argc, char **argv)
{
  tune_heap();
  const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
  size_t ndirs = 0;
  /* -D NAME[=VAL] / -U NAME as front.h wants them: "NAME[=VAL]" / "-NAME" */
  char **macros = calloc((size_t)argc + 1, sizeof *macros);
  size_t nmacros = 0;
  const char *input = NULL;
  gen_options go = { ".", NULL, NULL, false };
  idl_options io;
  idl_tree *tree = NULL;
  int rc = 1;
  const char *input2 = NULL; /* --check-compat: NEW.idl */
  bool compat = false, strict = false;
  bool deps_only = false, pp_only = false, impl = false;
  const char *depfile = NULL;

  if (dirs == NULL || macros == NULL) {
    free(dirs);
    free(macros);
    return 1;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      free(dirs);
      free_macros(macros, nmacros);
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      printf("plumbc %s\n", PLUMBC_VERSION);
      free(dirs);
      free_macros(macros, nmacros);
      return 0;
    } else if (strcmp(a, "--proto") == 0) {
      go.proto = true;
    } else if (strcmp(a, "--impl") == 0) {
      impl = true;
    } else if (strcmp(a, "-M") == 0) {
      deps_only = true;
    } else if (strcmp(a, "-E") == 0) {
      pp_only = true;
    } else if (strcmp(a, "--depfile") == 0 ||
               strncmp(a, "--depfile=", 10) == 0) {
      depfile = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
      if (depfile == NULL || *depfile == '\0') {
        fprintf(stderr, "plumbc: --depfile needs a file name\n");
        goto bad_usage;
      }
    } else if (strcmp(a, "--check-compat") == 0) {
      compat = true;
    } else if (strcmp(a, "--strict") == 0) {
      strict = true;
    } else if (strncmp(a, "-I", 2) == 0) {
      const char *d = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
      if (d == NULL)
        goto bad_usage;
      dirs[ndirs++] = d;
    } else if (strncmp(a, "-D", 2) == 0 || strncmp(a, "-U", 2) == 0) {
      const char *d = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
      if (d == NULL || (macros[nmacros] = malloc(strlen(d) + 2)) == NULL)
        goto bad_usage;
      sprintf(macros[nmacros++], "%s%s", a[1] == 'U' ? "-" : "", d);
    } else if (strncmp(a, "-o", 2) == 0) {
      const char *d = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
      if (d == NULL)
        goto bad_usage;
      go.outdir = d;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "plumbc: unknown option '%s'\n", a);
      goto bad_usage;
    } else if (input == NULL) {
      input = a;
    } else if (input2 == NULL) {
      input2 = a;
    } else {
      fprintf(stderr, "plumbc: more than one input file\n");
      goto bad_usage;
    }
  }
  if (input == NULL) {
    fprintf(stderr, "plumbc: no input file\n");
    goto bad_usage;
  }
  if ((deps_only || pp_only || depfile || impl) && (compat || strict)) {
    fprintf(stderr, "plumbc: -M, -E, --depfile and --impl do not combine "
                    "with --check-compat\n");
    goto bad_usage;
  }
  if (deps_only + pp_only + (depfile != NULL) + impl > 1 ||
      (impl && go.proto)) {
    fprintf(stderr, "plumbc: -M, -E, --depfile, --proto and --impl: only "
                    "--proto with --depfile, the others one at a time\n");
    goto bad_usage;
  }
  dirs[ndirs++] = PLUMBC_IDLDIR; /* CosNaming.idl, plumb/introspect.idl */
  if (compat || strict || input2 != NULL) {
    compat_options co = { dirs, ndirs, strict, stdout };
    if (!compat || input2 == NULL) {
      fprintf(stderr, compat ? "plumbc: --check-compat needs OLD.idl and "
                               "NEW.idl\n"
                             : input2 ? "plumbc: more than one input file\n"
                                      : "plumbc: --strict needs "
                                        "--check-compat\n");
      goto bad_usage;
    }
    rc = compat_check(input, input2, &co);
    back_pool_free();
    free(dirs);
    free_macros(macros, nmacros);
    return rc;
  }

  memset(&io, 0, sizeof io);
  io.include_dirs = dirs;
  io.ninclude_dirs = ndirs;
  io.macros = (const char *const *)macros;
  io.nmacros = nmacros;
  if (pp_only) {
    io.echo = stdout;
    rc = idl_preprocess_file(input, &io) == 0 && fflush(stdout) == 0 ? 0 : 1;
    goto out;
  }
  if (idl_parse_file(input, &io, &tree) != 0 || tree == NULL)
    goto out;
  go.base = file_base(input);
  {
    const char *slash = strrchr(input, '/');
    go.idl = slash ? slash + 1 : input;
  }
  if (deps_only) {
    rc = emit_deps(tree, &go, NULL) == 0 && fflush(stdout) == 0 ? 0 : 1;
    goto out;
  }
  if (make_dirs(go.outdir) != 0)
    goto out;
  if (impl) {
    rc = gen_impl(tree, &go) == 0 ? 0 : 1;
    goto out;
  }
  if (gen_c(tree, &go) == 0 && (!go.proto || gen_proto(tree, &go) == 0))
    rc = 0;
  if (rc == 0 && depfile != NULL && emit_deps(tree, &go, depfile) != 0)
    rc = 1;
out:
  if (!FREE_AT_EXIT && getenv("PLUMBC_FREE") == NULL) {
    fflush(stdout);
    exit(rc); /* what is left is the kernel's to free (see FREE_AT_EXIT) */
  }
  if (tree != NULL)
    idl_tree_free(tree);
  back_pool_free();
  free(dirs);
  free_macros(macros, nmacros);
  return rc;
bad_usage:
  usage(stderr);
  free(dirs);
  free_macros(macros, nmacros);
  return compat ? 2 : 1;
}
