#!/usr/bin/env bash
# test_install.sh SRC_ROOT - plumb as a dependency of another project.
# Builds plumb with only the unix transport, installs it into a temporary
# prefix, builds examples/consumer against it with dependency('plumb') and
# the installed plumbc, runs its server and clients, and checks link-time
# transport selection: the statically linked client carries the unix
# transport and no code of any other, and an endpoint of another transport is
# refused with a message naming what is available.  Then the depfile: after
# touching words.idl (which hello.idl #includes) ninja regenerates hello's
# code, and with nothing touched it has nothing to do.
set -euo pipefail
src=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/plumb-install.XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

meson setup "$work/build" "$src" --prefix="$work/prefix" -Dtests=false \
  -Dtransports=unix -Dbuildtype=release -Db_sanitize=none >/dev/null
ninja -C "$work/build" install >/dev/null
pc=$(find "$work/prefix" -name plumb.pc | head -1)
[ -n "$pc" ] || fail "plumb.pc not installed"
[ -x "$work/prefix/bin/plumbc" ] || fail "plumbc not installed"
[ -f "$work/prefix/include/plumb/plumb.h" ] || fail "headers not installed"
ls "$(dirname "$(dirname "$pc")")"/libplumb.a >/dev/null || fail "no libplumb.a"
[ -f "$work/prefix/share/plumb/idl/plumb/options.proto" ] ||
  fail "plumb/options.proto not installed under \$datadir/plumb/idl"
ok "installed: plumbc, headers, libplumb.so + libplumb.a, plumb.pc, plumb/options.proto"
export PKG_CONFIG_PATH=$(dirname "$pc")
export LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")")
[ "$(pkg-config --variable=plumbc plumb)" = "$work/prefix/bin/plumbc" ] ||
  fail "pkg-config plumbc variable"
[ "$(pkg-config --variable=transports plumb)" = "unix" ] ||
  fail "pkg-config transports variable"
ok "pkg-config --variable=plumbc plumb"

idldir=$(pkg-config --variable=idldir plumb)
[ -f "$idldir/CosNaming.idl" ] || fail "CosNaming.idl not in idldir $idldir"
[ -f "$idldir/plumb/introspect.idl" ] || fail "plumb/introspect.idl not installed"
printf '#include <CosNaming.idl>\n#include <plumb/introspect.idl>\n%s\n' \
  'module app { interface Dir { CosNaming::Name where(); }; };' >"$work/app.idl"
mkdir -p "$work/gen"
"$work/prefix/bin/plumbc" -o "$work/gen" "$work/app.idl" 2>"$work/plumbc.log" ||
  fail "installed plumbc without -I: $(cat "$work/plumbc.log")"
ok "plumb IDL installed in idldir and found by plumbc without -I"

[ -x "$work/prefix/bin/plumb" ] || fail "plumb CLI not installed"
[ -x "$work/prefix/sbin/plumb-naming" ] || fail "plumb-naming not installed"
[ -f "$work/prefix/lib/systemd/system/plumb-naming.service" ] ||
  fail "plumb-naming.service not installed"
grep -q "^ExecStart=$work/prefix/sbin/plumb-naming$" \
  "$work/prefix/lib/systemd/system/plumb-naming.service" ||
  fail "plumb-naming.service ExecStart"
[ -f "$work/prefix/share/bash-completion/completions/plumb" ] ||
  fail "bash completion not installed"
if command -v scdoc >/dev/null; then
  for m in man1/plumb.1 man1/plumbc.1 man8/plumb-naming.8 man5/plumb.conf.5; do
    [ -f "$work/prefix/share/man/$m" ] || fail "man page $m not installed"
  done
fi
"$work/prefix/bin/plumb" --help | grep -q "usage: plumb" || fail "plumb --help"
ok "installed: plumb, plumb-naming (+ systemd unit), bash completion, man pages"

# a copy, so that touching its IDL leaves the checkout alone
cp -r "$src/examples/consumer" "$work/consumer-src"
meson setup "$work/consumer" "$work/consumer-src" >/dev/null
ninja -C "$work/consumer" >/dev/null
ok "downstream project built with dependency('plumb') and the installed plumbc"

out=$(ninja -C "$work/consumer" -n)
grep -q "no work to do" <<<"$out" || fail "a second build has work to do: $out"
# ninja keeps what the depfile said in its own log (and removes the file)
# (read whole first: grep -q would cut ninja's output and pipefail fail it)
deps=$(ninja -C "$work/consumer" -t deps)
[[ $(grep -A3 '^hello.h:' <<<"$deps") == *words.idl* ]] ||
  fail "ninja's deps of hello.h name no words.idl: $deps"
touch "$work/mark"
sleep 1.1
touch "$work/consumer-src/words.idl"
out=$(ninja -C "$work/consumer")
[ "$work/consumer/hello.h" -nt "$work/mark" ] ||
  fail "hello.h not regenerated after touching words.idl: $out"
grep -q 'hello-idl' <<<"$out" || fail "ninja did not run hello-idl: $out"
out=$(ninja -C "$work/consumer" -n)
grep -q "no work to do" <<<"$out" || fail "work left after the rebuild: $out"
ok "touching the included words.idl regenerates hello.h (depfile), then nothing to do"

ep="unix:$work/hello.sock"
"$work/consumer/hello-server" "$ep" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
  [ -S "$work/hello.sock" ] && break
  sleep 0.05
done
out=$("$work/consumer/hello-client" "$ep" world) || fail "shared client: $out"
[ "$out" = "hello, world" ] || fail "got '$out'"
out=$("$work/consumer/hello-client-static" "$ep" plumbers) ||
  fail "static client: $out"
[ "$out" = "hello, plumbers" ] || fail "got '$out'"
rc=0
out=$("$work/consumer/hello-client-static" "$ep" rude) || rc=$?
[ $rc -eq 3 ] && [ "$out" = "raised rude" ] || fail "exception: rc=$rc '$out'"
ok "shared and static clients call the server; user exception arrives"

syms=$(nm "$work/consumer/hello-client-static")
grep -q ' plumb__tran_unix$' <<<"$syms" || fail "unix transport missing"
if echo "$syms" | grep -E 'plumb__tran_(tcp|pipe|fifo|mq|sysvmq|shm)$|(tcp|fifo|sysvmq|shm)_(conn|listen|dial)'; then
  fail "the static client carries code of other transports"
fi
ok "static client carries the unix transport and no other (nm)"

rc=0
out=$("$work/consumer/hello-client" tcp://127.0.0.1:9 x 2>&1) || rc=$?
[ $rc -ne 0 ] || fail "tcp endpoint accepted"
grep -qF "transport 'tcp' is not built into this libplumb (available: unix)" <<<"$out" ||
  fail "message: $out"
ok "tcp endpoint refused: $out"

# the installed naming service and a name: endpoint
export PLUMB_NAMING_ENDPOINT="unix:$work/naming.sock"
"$work/prefix/sbin/plumb-naming" --memory "$PLUMB_NAMING_ENDPOINT" \
  2>"$work/naming.log" &
npid=$!
for _ in $(seq 1 100); do
  "$work/prefix/bin/plumb" names >/dev/null 2>&1 && break
  sleep 0.05
done
"$work/prefix/bin/plumb" bind hello "$ep" ||
  fail "plumb bind: $(cat "$work/naming.log")"
out=$("$work/consumer/hello-client" name:hello named) || fail "name: $out"
[ "$out" = "hello, named" ] || fail "got '$out' through name:hello"
kill -TERM "$npid"
wait "$npid" || fail "plumb-naming exit status $?"
unset PLUMB_NAMING_ENDPOINT
ok "installed plumb-naming: plumb bind, then hello-client name:hello"

kill -TERM "$pid"
wait "$pid" || fail "server exit status $?"
pid=""
[ ! -e "$work/hello.sock" ] || fail "socket file left behind"
ok "server stopped cleanly and removed its socket"
echo "$pass passed, 0 failed"
