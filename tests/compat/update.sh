#!/bin/sh
# update.sh PLUMBC - rewrites tests/compat/pairs/*/expected from the given
# plumbc binary (default build/compiler/plumbc).  Review the diff: every
# line is a rule of docs/IDL-MAPPING.md "Compatibility rules".
set -u
here=$(cd "$(dirname "$0")" && pwd)
plumbc=$(cd "$here/../.." && pwd)/${1:-build/compiler/plumbc}
case "${1:-}" in /*) plumbc=$1 ;; esac
for d in "$here"/pairs/*/; do
  (
    cd "$d" || exit 1
    args="old.idl new.idl"
    [ -f args ] && args=$(cat args)
    # shellcheck disable=SC2086
    "$plumbc" --check-compat $args > expected 2>/dev/null
    echo "exit $?" >> expected
  )
done
