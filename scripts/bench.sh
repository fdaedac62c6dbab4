#!/usr/bin/env bash
# bench.sh - one command for plumb's performance table: builds a release
# build in build-bench, runs every benchmark (plumb vs the raw mechanism on
# each built-in transport, throughput, allocations, RSS, marshalling, plumbc)
# and writes bench/results/latest.md, latest.csv and latency.png.
#
#   scripts/bench.sh [--quick] [--repeats N] [--transports a,b,c]
#                    [--peers | --no-peers]
#
# Installs only what scripts/deps.sh installs, plus gnuplot-nox for the chart.
# --peers (the default): also builds bench/peers (ONC RPC, gRPC C++, ZeroMQ,
# D-Bus; their Debian packages are installed here and nowhere else) in
# $BUILD-peers and measures them against plumb in the same run
# (bench/results/peers.md, peers.png).  --no-peers skips all of that.
# PLUMB_BENCH_JOBS=N limits ninja's parallel jobs (a shared machine).
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
transports="" peers=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) repeats=1 secs=0.25 count=5000 rss_calls=100000 rss_secs=10 rss_each=2 ;;
    --repeats) repeats=$2; shift ;;
    --transports) transports=$2; shift ;;
    --peers) peers=1 ;;
    --no-peers) peers=0 ;;
    *) echo "usage: $0 [--quick] [--repeats N] [--transports a,b]" \
            "[--peers|--no-peers]" >&2; exit 2 ;;
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
jobs=${PLUMB_BENCH_JOBS:+-j$PLUMB_BENCH_JOBS}
ninja -C "$BUILD" $jobs >/dev/null

# --- peers stage: the other RPC systems, a separate meson project --------
peers_args=()
if [ "$peers" = 1 ]; then
  # Debian packages for bench/peers only (never for the build or the tests).
  peer_pkgs=(libtirpc-dev rpcsvc-proto libgrpc++-dev protobuf-compiler-grpc
             libprotobuf-dev protobuf-compiler libzmq3-dev libdbus-1-dev g++
             pkg-config)
  missing=()
  for p in "${peer_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" </dev/null
  fi
  PEERS_BUILD="$BUILD-peers"
  if [ -f "$PEERS_BUILD/build.ninja" ]; then
    meson setup --reconfigure "$PEERS_BUILD" bench/peers >/dev/null
  else
    meson setup "$PEERS_BUILD" bench/peers >/dev/null
  fi
  ninja -C "$PEERS_BUILD" $jobs >/dev/null
  peers_args=(--peers "$PEERS_BUILD")
fi

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
  --commit "$commit" "${peers_args[@]}"
