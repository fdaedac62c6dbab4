#!/usr/bin/env bash
# update-golden.sh - regenerates tests/golden/expected/ (NAME.h, NAME-wire.h, NAME.proto)
# from tests/golden/*.idl with the plumbc built in BUILD (default: build).
#   scripts/update-golden.sh [BUILD_DIR]
# Review `git diff tests/golden/expected` before committing the result.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build"
fi
ninja -C "$build" compiler/plumbc
plumbc="$build/compiler/plumbc"
src=tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$src/expected"
for idl in "$src"/*.idl; do
  name=$(basename "$idl" .idl)
  "$plumbc" --proto -I "$src" -o "$tmp" "$idl"
  cp "$tmp/$name.h" "$tmp/$name-wire.h" "$tmp/$name.proto" "$src/expected/"
  echo "updated $src/expected/$name{.h,-wire.h,.proto}"
done
