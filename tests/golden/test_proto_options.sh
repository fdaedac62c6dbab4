#!/usr/bin/env bash
# test_proto_options.sh PLUMBC PROTOC GOLDEN_DIR IDL_DIR - the custom
# options of idl/plumb/options.proto in plumbc --proto output, read back by
# the real protoc: every golden IDL's .proto compiles against the installed
# options.proto, and the decoded descriptor set carries repository ids,
# interface ids and hashes, operation indexes, oneway and raises; a oneway
# rpc returns google.protobuf.Empty and has no reply message.
set -uo pipefail
plumbc=$1 protoc=$2 golden=$3 idl=$4
work=$(mktemp -d /tmp/plumb-popt.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

for f in "$golden"/*.idl; do
  "$plumbc" --proto -I "$golden" -o "$work" "$f" 2>/dev/null ||
    fail "plumbc --proto $f"
done
for f in "$work"/*.proto; do
  [ "$(basename "$f")" = plumb.proto ] && continue
  "$protoc" -I "$work" -I "$idl" -I /usr/include --include_imports \
    --descriptor_set_out="$work/$(basename "$f" .proto).pb" "$f" ||
    fail "protoc rejects $(basename "$f")"
done
ok "protoc accepts every golden .proto with -I the idl dir"

decode() {
  "$protoc" -I "$idl" -I /usr/include \
    --decode=google.protobuf.FileDescriptorSet plumb/options.proto \
    < "$work/$1.pb" > "$work/$1.txt" || fail "decode $1"
}
has() { # FILE TEXT...
  local f=$1; shift
  for t in "$@"; do
    grep -qF -- "$t" "$work/$f.txt" || fail "$f: missing '$t'"
  done
}

decode calc
has calc '[plumb.type_id]: "IDL:calc/DivByZero:1.0"' \
  '[plumb.interface_id]: "IDL:calc/Calculator:1.0"' \
  '[plumb.op_index]: 5' '[plumb.oneway]: true' \
  'type_id: "IDL:calc/DivByZero:1.0"' 'message: "calc.DivByZero"' \
  'output_type: ".google.protobuf.Empty"'
grep -q 'name: "Calculator_reset_Reply"' "$work/calc.txt" &&
  fail "calc: a reply message for the oneway reset"
grep -q 'struct calc_Calculator_reset__reply' "$work/calc.h" 2>/dev/null &&
  fail "calc.h: a reply message for the oneway reset"
# the hash is the one the C tables carry (plumb_type_hash = FNV-1a 32)
hash=$(python3 -c 'import sys
h=0x811c9dc5
for b in sys.argv[1].encode(): h=((h^b)*0x01000193)&0xffffffff
print(h)' "IDL:calc/Calculator:1.0")
has calc "[plumb.interface_hash]: $hash"
ok "calc: type ids, interface id and hash, op indexes, oneway (Empty, no reply message), raises"

decode inherit
has inherit '[plumb.interface_id]: "IDL:zoo/Dog:1.0"' \
  '[plumb.base_interface_ids]: "IDL:zoo/Pet:1.0"' \
  '[plumb.base_interface_ids]: "IDL:zoo/Worker:1.0"'
ok "inherit: base interface ids in declaration order"

decode nested
grep -q '\[plumb.enum_type_id\]: "IDL:' "$work/nested.txt" ||
  fail "nested: no enum type id"
ok "nested: enums carry their repository id"

decode naming
has naming '[plumb.type_id]: "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0"' \
  'type_id: "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0"'
ok "naming: nested exceptions carry their repository ids, in messages and raises"
echo "$pass passed, 0 failed"
