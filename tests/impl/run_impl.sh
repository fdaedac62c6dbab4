#!/usr/bin/env bash
# run_impl.sh SERVER CLIENT - starts a plumbc --impl skeleton server on a
# unix socket, runs the client against it (every operation answers
# PLUMB_ENOOP), stops the server with SIGTERM and checks that it exits 0
# and removes its socket.
set -uo pipefail
server=$1 client=$2
dir=$(mktemp -d /tmp/plumb-impl.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
ep="unix:$dir/s.sock"
"$server" "$ep" 2>"$dir/server.log" &
pid=$!
for _ in $(seq 1 100); do
  [ -S "$dir/s.sock" ] && break
  sleep 0.05
done
[ -S "$dir/s.sock" ] || { echo "FAIL: server did not listen"; cat "$dir/server.log"; exit 1; }
timeout 30 "$client" "$ep" || { echo "FAIL: client"; cat "$dir/server.log"; exit 1; }
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ $rc -eq 0 ] || { echo "FAIL: server exit status $rc"; cat "$dir/server.log"; exit 1; }
[ ! -e "$dir/s.sock" ] || { echo "FAIL: socket left behind"; exit 1; }
echo "ok: skeleton served, every call answered as expected, clean stop"
