#!/usr/bin/env bash
# test_repo_ids.sh PLUMBC COSNAMING.IDL - the repository ids plumbc makes of
# idl/CosNaming.idl are the OMG ones (IDL:omg.org/CosNaming/...:1.0), as
# other ORBs use.  Until plumbc honours #pragma prefix this is a visible
# skip (exit 77), not a pass.
set -euo pipefail
work=$(mktemp -d /tmp/plumb-repoids.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$1" -o "$work" "$2" 2>"$work/log"
ids=$(grep -oh '"IDL:[^"]*"' "$work"/CosNaming-types.c | sort -u)
want='"IDL:omg.org/CosNaming/NamingContext:1.0"
"IDL:omg.org/CosNaming/NamingContextExt:1.0"
"IDL:omg.org/CosNaming/BindingIterator:1.0"
"IDL:omg.org/CosNaming/NamingContext/NotFound:1.0"
"IDL:omg.org/CosNaming/NamingContext/CannotProceed:1.0"
"IDL:omg.org/CosNaming/NamingContext/InvalidName:1.0"
"IDL:omg.org/CosNaming/NamingContext/AlreadyBound:1.0"
"IDL:omg.org/CosNaming/NamingContext/NotEmpty:1.0"
"IDL:omg.org/CosNaming/NamingContextExt/InvalidAddress:1.0"
"IDL:omg.org/CosNaming/Binding:1.0"
"IDL:omg.org/CosNaming/NameComponent:1.0"'
if grep -q 'pragma prefix ignored' "$work/log"; then
  echo "SKIP: this plumbc ignores #pragma prefix; ids are:"
  echo "$ids"
  exit 77
fi
missing=0
while read -r id; do
  grep -qxF "$id" <<<"$ids" || { echo "FAIL: $id not generated"; missing=1; }
done <<<"$want"
[ $missing -eq 0 ] || { echo "generated:"; echo "$ids"; exit 1; }
echo "ok: all $(wc -l <<<"$want") standard CosNaming repository ids"
