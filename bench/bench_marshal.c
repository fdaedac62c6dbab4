/* bench_marshal.c - marshalling alone, no transport: ns per pack + unpack of
 * (a) the calculator's add request (calc_Calculator_add__request, two longs)
 * and (b) a bench::Batch holding 1,000 bench::Sample structs (long, double,
 * string), both through the descriptors plumbc generated.  Unpacking goes
 * into a plumb arena reset each round (as the runtime does) and, for
 * comparison, through protobuf-c's default malloc allocator + free_unpacked.
 *
 *   bench-marshal [-n ROUNDS] [-t SEC]
 *
 * Each case runs up to ROUNDS rounds within SEC seconds (after a short
 * warm-up) and prints one key=value line: ns per pack+unpack, packed size
 * and heap allocations per round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <plumb/plumb.h>

#include "alloc_count.h"
#include "bench-wire.h" /* bench.h + request/reply messages */
#include "bench_util.h"
#include "calculator-wire.h"

#define N_SAMPLES 1000

static volatile size_t sink;

typedef struct mcase {
  const char *name;
  const ProtobufCMessage *msg;
  const ProtobufCMessageDescriptor *desc;
} mcase;

/* One timed loop; use_arena selects the arena or the default allocator. */
static int
run_case(const mcase *m, int use_arena, long rounds, double secs)
{
  size_t size = protobuf_c_message_get_packed_size(m->msg);
  uint8_t *buf = malloc(size ? size : 1);
  plumb_arena *arena = plumb_arena_new();
  ProtobufCAllocator *al = use_arena ? plumb_arena_allocator(arena) : NULL;
  if (buf == NULL || arena == NULL)
    return 1;
  long warm = rounds / 10, n = 0;
  int64_t t0 = 0, end = 0;
  unsigned long long a0 = 0;
  for (long i = 0; i < warm + rounds; i++) {
    if (i == warm) {
      t0 = bench_now_ns();
      end = t0 + (int64_t)(secs * 1e9);
      a0 = bench_allocs();
    }
    if (use_arena)
      plumb_arena_reset(arena);
    size_t k = protobuf_c_message_pack(m->msg, buf);
    ProtobufCMessage *u = protobuf_c_message_unpack(m->desc, al, k, buf);
    if (u == NULL || k != size) {
      fprintf(stderr, "bench-marshal: %s: unpack failed\n", m->name);
      return 1;
    }
    sink += k;
    if (!use_arena)
      protobuf_c_message_free_unpacked(u, NULL);
    if (i >= warm) {
      n++;
      if ((n & 15) == 0 && bench_now_ns() > end)
        break;
    }
  }
  double ns = (double)(bench_now_ns() - t0) / (double)n;
  printf("marshal case=%s alloc=%s n=%ld bytes=%zu ns_per_pack_unpack=%.1f "
         "allocs_per_round=%.2f\n",
         m->name, use_arena ? "arena" : "malloc", n, size, ns,
         (double)(bench_allocs() - a0) / (double)n);
  plumb_arena_free(arena);
  free(buf);
  return 0;
}

int
main(int argc, char **argv)
{
  long rounds = 200000;
  double secs = 1.0;
  int opt, rc = 0;

  while ((opt = getopt(argc, argv, "n:t:")) != -1) {
    switch (opt) {
    case 'n': rounds = atol(optarg); break;
    case 't': secs = atof(optarg); break;
    default:
      fprintf(stderr, "usage: %s [-n ROUNDS] [-t SEC]\n", argv[0]);
      return 2;
    }
  }
  if (rounds < 10 || secs <= 0)
    return 2;

  calc_Calculator_add__request add = calc_Calculator_add__request_INIT;
  add.a = 123456;
  add.b = -42;

  static bench_Sample samples[N_SAMPLES];
  static bench_Sample *ptrs[N_SAMPLES];
  static char names[N_SAMPLES][24];
  for (int i = 0; i < N_SAMPLES; i++) {
    bench_Sample s = bench_Sample_INIT;
    samples[i] = s;
    samples[i].id = i * 7919;
    samples[i].value = i * 0.25;
    snprintf(names[i], sizeof names[i], "sample-%d", i);
    samples[i].name = names[i];
    ptrs[i] = &samples[i];
  }
  bench_Batch batch = bench_Batch_INIT;
  batch.items._length = N_SAMPLES;
  batch.items._buffer = ptrs;

  const mcase cases[] = {
    { "calc_add_request", &add.base, &calc_Calculator_add__request__descriptor },
    { "seq1000_struct", &batch.base, &bench_Batch__descriptor },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    long r = i == 0 ? rounds : rounds / 200 + 10;
    rc |= run_case(&cases[i], 1, r, secs);
    rc |= run_case(&cases[i], 0, r, secs);
  }
  return rc;
}
