#!/usr/bin/env bash
# test_chat.sh SERVER CLIENT SERVER_ENDPOINT CLIENT_ENDPOINT - runs the chat
# example end to end: starts chat-server on SERVER_ENDPOINT, takes the
# lobby's plumbref: from its first line of output, runs chat-client with it
# (its Listener on CLIENT_ENDPOINT) and checks what the client printed.
# Every wait is bounded; the server is stopped with SIGTERM.
set -u
srv=$1 cli=$2 sep=$3 cep=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/plumb-chat.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$srv" "$sep" > "$work/srv.out" 2> "$work/srv.err" &
pid=$!
ref=
for _ in $(seq 1 200); do
  ref=$(head -n 1 "$work/srv.out" 2>/dev/null)
  [ -n "$ref" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
case "$ref" in
  plumbref:*) ;;
  *) echo "chat-server printed no reference:"; cat "$work/srv.err"; exit 1 ;;
esac
echo "lobby: $ref"
timeout 30 "$cli" alice "$ref" "$cep" > "$work/cli.out" 2>&1
rc=$?
cat "$work/cli.out"
[ $rc -eq 0 ] || { echo "chat-client failed ($rc)"; cat "$work/srv.err"; exit 1; }
grep -q '^\[plumbing\] <alice> hello from alice$' "$work/cli.out" || exit 1
grep -q '^after close: no such object on the server (OBJECT_NOT_EXIST' \
  "$work/cli.out" || exit 1
kill "$pid"; wait "$pid"; src=$?; pid=
[ $src -eq 0 ] || { echo "chat-server exit $src"; cat "$work/srv.err"; exit 1; }
exit 0
