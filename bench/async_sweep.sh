#!/bin/bash
# bench/async_sweep.sh - async throughput over one handle (issue 12's
# figures): for each transport, bench-client async with 0 (the synchronous
# stub), 1, 16 and 256 calls in flight, server pinned to one CPU and the
# client to another, ROUNDS interleaved rounds; prints the median calls/s
# of each cell and the 16-in-flight / sync ratio as a markdown table.
#
#   bench/async_sweep.sh [BUILD_BENCH_DIR] [ROUNDS] [SECONDS]
#
# BUILD_BENCH_DIR holds bench/bench-server and bench/bench-client (a
# release build: meson setup build-bench --buildtype=release
# -Dtests=false).  Endpoints: unix and shm names under /tmp and /dev/shm
# with this shell's pid, tcp on 127.0.0.1; nothing is left behind.
set -eu
B=${1:-build-bench}/bench
ROUNDS=${2:-5}
SECS=${3:-1}
SCPU=${PLUMB_SERVER_CPU:-1}
CCPU=${PLUMB_CLIENT_CPU:-0}
WINDOWS="0 1 16 256"
TRANSPORTS=${PLUMB_SWEEP_TRANSPORTS:-"unix tcp shm"}
out=$(mktemp -d /tmp/plumb-sweep.XXXXXX)
trap 'rm -rf "$out"' EXIT

endpoint() {
  case $1 in
  unix) echo "unix:/tmp/plumb-sweep-$$.sock" ;;
  tcp) echo "tcp:127.0.0.1:$((20000 + $$ % 20000))" ;;
  shm) echo "shm:/plumb-sweep-$$" ;;
  esac
}

for r in $(seq "$ROUNDS"); do
  for t in $TRANSPORTS; do
    ep=$(endpoint "$t")
    taskset -c "$SCPU" "$B/bench-server" "$ep" >/dev/null 2>&1 &
    srv=$!
    sleep 0.3
    for w in $WINDOWS; do
      n=$(taskset -c "$CCPU" "$B/bench-client" async "$ep" -w "$w" \
            -n 100000000 -t "$SECS" | sed -n 's/.*calls_per_s=\([0-9]*\).*/\1/p')
      echo "${n:-0}" >> "$out/$t.$w"
    done
    kill "$srv"
    wait "$srv" 2>/dev/null || true
  done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| calls/s (median of $ROUNDS) | sync | 1 in flight | 16 | 256 | 16 / sync |"
echo "|---|---:|---:|---:|---:|---:|"
for t in $TRANSPORTS; do
  row="| $t"
  for w in $WINDOWS; do
    row="$row | $(median "$out/$t.$w")"
  done
  s=$(median "$out/$t.0"); d=$(median "$out/$t.16")
  echo "$row | $(awk -v a="$d" -v b="$s" 'BEGIN {printf "%.2f", b ? a / b : 0}') |"
done
