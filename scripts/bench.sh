#!/usr/bin/env bash
# bench.sh - one command for plumb's performance table: builds a release
# build in build-bench, runs every benchmark (plumb vs the raw mechanism on
# each built-in transport, throughput, allocations, RSS, marshalling, plumbc)
# and writes bench/results/latest.md, latest.csv and latency.png.
#
#   scripts/bench.sh [--quick] [--repeats N] [--transports a,b,c]
#
# Installs only what scripts/deps.sh installs, plus gnuplot-nox for the chart.
# Takes about 5-8 minutes (--quick: about one).  Numbers on a shared machine
# are noisy: every figure is a median of repeated runs and every ratio is
# taken within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
plumb_install_deps
if ! command -v gnuplot >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends gnuplot-nox </dev/null
fi

BUILD=${PLUMB_BENCH_BUILD:-build-bench}
repeats=3 secs=0.5 count=20000 rss_calls=1000000 rss_secs=40 rss_each=5
transports=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) repeats=1 secs=0.25 count=5000 rss_calls=100000 rss_secs=10 rss_each=2 ;;
    --repeats) repeats=$2; shift ;;
    --transports) transports=$2; shift ;;
    *) echo "usage: $0 [--quick] [--repeats N] [--transports a,b]" >&2; exit 2 ;;
  esac
  shift
done

# The transports built in: $PLUMB_TRANSPORTS if set, else the option's
# default from meson_options.txt (passed explicitly, so a reconfigure never
# keeps an older choice).
tr_opt=${PLUMB_TRANSPORTS:-$(meson introspect --buildoptions meson.build | python3 -c '
import json, sys
print(",".join(next(o["value"] for o in json.load(sys.stdin)
                    if o["name"] == "transports")))')}
setup=(--buildtype=release -Dtests=false "-Dtransports=$tr_opt")
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" "${setup[@]}" >/dev/null
else
  meson setup "$BUILD" "${setup[@]}" >/dev/null
fi
ninja -C "$BUILD" >/dev/null

built=$(meson introspect --buildoptions "$BUILD" | python3 -c '
import json, sys
print(",".join(next(o["value"] for o in json.load(sys.stdin)
                    if o["name"] == "transports")))')
if [ -z "$transports" ]; then
  # Report in a fixed order, only what this build carries.
  transports=$(python3 -c '
import sys
order = ["pipe", "fifo", "mq", "sysvmq", "shm", "unix", "tcp"]
built = sys.argv[1].split(",")
print(",".join([t for t in order if t in built] +
               [t for t in built if t not in order]))' "$built")
fi
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- runtime compiler 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi

exec python3 bench/run_bench.py --build "$BUILD" --out bench/results \
  --transports "$transports" --repeats "$repeats" --secs "$secs" \
  --count "$count" --rss-calls "$rss_calls" --rss-secs "$rss_secs" \
  --rss-secs-each "$rss_each" \
  --commit "$commit"
