#!/usr/bin/env bash
# test_headers.sh GOLDEN_DIR RUNTIME_INCLUDE - every golden header
# (NAME.h, what users include, and NAME-wire.h) compiles on its own as C11
# and as C++ (g++ -fsyntax-only, -Wall -Wextra -Werror -pedantic), in a
# translation unit that includes nothing else.
set -uo pipefail
golden=$1 inc=$2
work=$(mktemp -d /tmp/plumb-hdr.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0
for h in "$golden"/expected/*.h; do
  name=$(basename "$h")
  printf '#include "%s"\nint plumb_header_test_%d;\n' "$name" "$n" > "$work/t.c"
  cp "$work/t.c" "$work/t.cc"
  gcc -std=c11 -Wall -Wextra -Werror -pedantic -fsyntax-only \
    -I "$golden/expected" -I "$inc" "$work/t.c" ||
    { echo "FAIL: $name as C11"; exit 1; }
  g++ -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only \
    -I "$golden/expected" -I "$inc" "$work/t.cc" ||
    { echo "FAIL: $name as C++"; exit 1; }
  n=$((n + 1))
done
[ $n -gt 0 ] || { echo "FAIL: no headers"; exit 1; }
echo "ok: $n generated headers compile as C11 and as C++17"
