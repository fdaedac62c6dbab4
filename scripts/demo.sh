#!/usr/bin/env bash
# demo.sh - the main demo: builds plumb, generates C from
# examples/calculator/calculator.idl with plumbc, then starts the calculator
# server and calls it from the client over the default transport (unix) and
# then every other transport built in.  One line per transport; exits non-zero
# if any transport fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
plumb_install_deps

BUILD=${PLUMB_BUILD:-build}
if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" >/dev/null
else
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" >/dev/null

echo "== plumbc: generating C from examples/calculator/calculator.idl"
gen=$(mktemp -d /tmp/plumb-demo-gen.XXXXXX)
"$BUILD/compiler/plumbc" --proto -o "$gen" examples/calculator/calculator.idl
ls "$gen" | sed 's/^/   /'
rm -rf "$gen"

server="$BUILD/examples/calc-server"
client="$BUILD/examples/calc-client"
built=$(meson introspect --buildoptions "$BUILD" |
  python3 -c 'import json,sys; print(" ".join(v for o in json.load(sys.stdin) if o["name"]=="transports" for v in o["value"]))')
tag="plumb-demo-$$"
port=$((20000 + $$ % 12000)) # below the ephemeral port range
failed=0

run_one() { # name server-endpoint client-endpoint
  local name=$1 sep=$2 cep=$3 out spid rc=0
  if [ "$name" != pipe ]; then
    "$server" "$sep" 2>"/tmp/$tag.log" &
    spid=$!
    # wait (bounded) until the server answers
    for _ in $(seq 1 50); do
      "$client" "$cep" >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  out=$("$client" "$cep" 7 5 2>&1) || rc=$?
  if [ "$name" != pipe ]; then
    kill -TERM "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || rc=1
  fi
  if [ $rc -eq 0 ]; then
    printf '%-7s %-50s ok   %s\n' "$name" "$cep" \
      "$(echo "$out" | grep -v '^calc-server' | sed 's/  *\[success\]//' | paste -sd';' | sed 's/;/; /g')"
  else
    printf '%-7s %-50s FAIL\n' "$name" "$cep"
    echo "$out" | sed 's/^/        /'
    sed 's/^/        server: /' "/tmp/$tag.log" 2>/dev/null || true
    failed=1
  fi
  rm -f "/tmp/$tag.log"
}

echo "== calculator over every transport (built in: $built)"
for t in unix $built; do
  case $t in
  unix) [ "${seen_unix:-}" ] && continue; seen_unix=1
        run_one unix "unix:/tmp/$tag.sock" "unix:/tmp/$tag.sock" ;;
  tcp) run_one tcp "tcp://127.0.0.1:$port" "tcp://127.0.0.1:$port" ;;
  pipe) run_one pipe "" "pipe:exec=$server pipe:" ;;
  fifo) run_one fifo "fifo:/tmp/$tag.fifo" "fifo:/tmp/$tag.fifo" ;;
  mq) run_one mq "mq:/$tag" "mq:/$tag" ;;
  sysvmq) run_one sysvmq "sysvmq:/tmp/$tag.key" "sysvmq:/tmp/$tag.key" ;;
  shm) run_one shm "shm:/$tag" "shm:/$tag" ;;
  esac
done

echo "== plumb-naming, a name: endpoint and plumb call"
ns_ep="unix:/tmp/$tag-naming.sock"
calc_ep="tcp://127.0.0.1:$((port + 1))"
"$BUILD/services/naming/plumb-naming" --memory "$ns_ep" 2>"/tmp/$tag-ns.log" &
nspid=$!
"$server" "$calc_ep" 2>"/tmp/$tag.log" &
spid=$!
export PLUMB_NAMING_ENDPOINT=$ns_ep
plumb="$BUILD/tools/plumb"
for _ in $(seq 1 50); do
  "$plumb" names >/dev/null 2>&1 && "$plumb" ping -c 1 "$calc_ep" >/dev/null 2>&1 && break
  sleep 0.1
done
demo_step() { # description command...
  local d=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ $rc -eq 0 ]; then
    printf '%-44s ok   %s\n' "$d" "$(echo "$out" | paste -sd' ' | cut -c1-70)"
  else
    printf '%-44s FAIL (%d)\n' "$d" $rc; echo "$out" | sed 's/^/        /'
    failed=1
  fi
}
demo_step "plumb bind --context apps" "$plumb" bind --context apps
demo_step "plumb bind apps/calc $calc_ep calc" "$plumb" bind apps/calc "$calc_ep" calc
demo_step "plumb resolve apps/calc" "$plumb" resolve apps/calc
demo_step "calc-client name:apps/calc 7 5" "$client" name:apps/calc 7 5
demo_step "plumb call ... add {a:40,b:2}" "$plumb" --json call \
  --idl examples/calculator/calculator.idl name:apps/calc calc add '{"a":40,"b":2}'
demo_step "plumb list name:apps/calc" "$plumb" list name:apps/calc
demo_step "plumb call (introspection) ... sub" "$plumb" --json call \
  name:apps/calc calc sub '{"a":40,"b":2}'
demo_step "plumb ping -c 20 name:apps/calc" sh -c "'$plumb' ping -c 20 name:apps/calc | tail -1"
kill -TERM "$spid" "$nspid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
wait "$nspid" 2>/dev/null || true
rm -f "/tmp/$tag.log" "/tmp/$tag-ns.log"
exit $failed
