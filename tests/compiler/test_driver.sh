#!/usr/bin/env bash
# test_driver.sh PLUMBC - the plumbc driver's options and exit statuses
# (docs/IDL-MAPPING.md, "Running plumbc"): -M, --depfile, -E, and the
# messages of bad usage.  Works in a temporary directory it removes.
set -uo pipefail
# Output is matched with grep <<<"$var", never echo | grep -q: grep -q stops
# reading at its first match, echo then dies of SIGPIPE, and pipefail
# turned a match into a failure now and then.
plumbc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d /tmp/plumbc-driver.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; pass=$((pass + 1)); }
cd "$work" || exit 1

mkdir -p inc "sp ace"
cat > inc/base.idl <<'IDL'
#ifndef BASE_IDL
#define BASE_IDL
module b { typedef long Num; };
#endif
IDL
cat > mid.idl <<'IDL'
#include <base.idl>
module m { const long K = 2; };
IDL
cat > "sp ace/top.idl" <<'IDL'
#include "../mid.idl"
#include <base.idl>
module t {
#if 0
  this is not IDL
#endif
  interface I { b::Num f(in b::Num a); };
};
IDL

# -M: the rule on stdout, nothing written
out=$("$plumbc" -M -I inc "sp ace/top.idl") || fail "-M: status $?"
[ ! -e top.h ] || fail "-M generated files"
expect='top.h \
 top-types.c \
 top-client.c \
 top-server.c \
 top-wire.h: \
  sp\ ace/top.idl \
  sp\ ace/../mid.idl \
  inc/base.idl'
[ "$out" = "$expect" ] || fail "-M printed:
$out"
ok "-M names every file read, #include'd twice or through -I, once; spaces escaped"

# --depfile: the outputs and the rule, targets in OUTDIR
"$plumbc" --depfile out/top.d -I inc -o out "sp ace/top.idl" ||
  fail "--depfile: status $?"
[ -f out/top.h ] && [ -f out/top-server.c ] || fail "--depfile: no output"
head -1 out/top.d | grep -qx 'out/top.h \\' || fail "depfile: $(cat out/top.d)"
grep -q '^  inc/base.idl$' out/top.d || fail "depfile: $(cat out/top.d)"
"$plumbc" --depfile=out/p.d --proto -I inc -o out "sp ace/top.idl" ||
  fail "--depfile=: status $?"
grep -q '^ out/top.proto:' out/p.d || fail "depfile with --proto: $(cat out/p.d)"
ok "--depfile FILE / --depfile=FILE write the outputs and the rule (with --proto)"

# -E: active text only, #line markers, nothing written
out=$("$plumbc" -E -I inc "sp ace/top.idl") || fail "-E: status $?"
grep -q 'this is not IDL' <<<"$out" && fail "-E kept an inactive #if"
grep -q '#define' <<<"$out" && fail "-E kept a directive"
grep -qx '#line 3 "inc/base.idl"' <<<"$out" || fail "-E markers: $out"
grep -qx 'module b { typedef long Num; };' <<<"$out" || fail "-E: $out"
grep -qx '  interface I { b::Num f(in b::Num a); };' <<<"$out" ||
  fail "-E: $out"
[ ! -e top.h ] || fail "-E generated files"
ok "-E prints the preprocessed IDL with #line markers"

# --impl: writes only FILE-impl.c, and never over an existing file
"$plumbc" --impl -I inc -o skel "sp ace/top.idl" || fail "--impl: status $?"
[ "$(ls skel)" = "top-impl.c" ] || fail "--impl wrote: $(ls skel)"
grep -q 'impl_t_I_f' skel/top-impl.c || fail "--impl: no handler"
grep -q 'plumb_server_listen_service(srv, "top", NULL)' skel/top-impl.c ||
  fail "--impl: no service main()"
echo "/* mine */" > skel/top-impl.c
rc=0; msg=$("$plumbc" --impl -I inc -o skel "sp ace/top.idl" 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -qF "skel/top-impl.c exists; not overwriting it" <<<"$msg" ||
  fail "--impl over an existing file: $rc $msg"
[ "$(cat skel/top-impl.c)" = "/* mine */" ] || fail "--impl overwrote the file"
rc=0; msg=$("$plumbc" --impl --proto mid.idl 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "one at a time" <<<"$msg" ||
  fail "--impl --proto: $rc $msg"
ok "--impl writes FILE-impl.c only and never overwrites an existing one"

# errors: status 1 and a message naming the problem
rc=0; msg=$("$plumbc" -E nosuch.idl 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "cannot open 'nosuch.idl'" <<<"$msg" ||
  fail "-E of a missing file: $rc $msg"
rc=0; msg=$("$plumbc" -M "sp ace/top.idl" 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "include file 'base.idl' not found" <<<"$msg" ||
  fail "-M without -I: $rc $msg"
rc=0; msg=$("$plumbc" -M -E mid.idl 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "one at a time" <<<"$msg" ||
  fail "-M -E: $rc $msg"
rc=0; msg=$("$plumbc" --depfile 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "needs a file name" <<<"$msg" ||
  fail "--depfile alone: $rc $msg"
rc=0; msg=$("$plumbc" --depfile no/such/dir/x.d -I inc mid.idl 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q "cannot write no/such/dir/x.d" <<<"$msg" ||
  fail "--depfile into a missing dir: $rc $msg"
rc=0; msg=$("$plumbc" -M --check-compat a.idl b.idl 2>&1) || rc=$?
[ $rc -eq 2 ] && grep -q "do not combine" <<<"$msg" ||
  fail "-M --check-compat: $rc $msg"
ok "errors: status 1 (2 with --check-compat) and a message naming the problem"

echo "$pass passed, 0 failed"
