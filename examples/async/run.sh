#!/bin/sh
# run.sh - runs an async example client against a real calc-server on a
# private unix socket: run.sh CALC_SERVER CLIENT [CALLS].  The server is
# stopped (SIGTERM) whatever happens; every wait is bounded.
set -u
server=$1 client=$2 calls=${3:-2000}
sock=/tmp/plumb-async-example-$$.sock
ep=unix:$sock
"$server" "$ep" >/dev/null 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -f "$sock"' EXIT
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
timeout 60 "$client" "$ep" "$calls"
