#!/usr/bin/env bash
# deps.sh - the one list of Debian packages plumb needs, and the function
# that installs those missing.  Sourced by scripts/test.sh and scripts/demo.sh
# (and so by CI); safe to run on its own.
#
# Installs with --no-install-recommends, so every package the build, the tests
# and the demo use is named here explicitly - nothing may rely on a Recommends
# (gcc only *recommends* libc6-dev, protobuf-compiler only *recommends*
# libprotobuf-dev, which holds google/protobuf/*.proto).  Known to work on
# Debian 12 (bookworm), checked from a minbase chroot by scripts/fresh-debian.sh.
set -euo pipefail

PLUMB_PACKAGES=(
  # build
  meson ninja-build gcc libc6-dev pkgconf flex bison
  g++ # the generated headers compile as C++ too (tests/golden)
  libprotobuf-c-dev libinih-dev
  libsqlite3-dev libjson-c-dev # plumb-naming (bindings), the plumb CLI (JSON)
  scdoc groff-base             # man pages (docs/man), checked by groff
  # tests
  libcunit1-dev protobuf-compiler libprotobuf-dev valgrind python3
  libuv1-dev               # examples/async: the libuv client (optional)
  clang libclang-rt-14-dev # libFuzzer harnesses (tests/fuzz)
  passwd                   # useradd/userdel for the second-user hostile tests
  iproute2                 # ip netns + veth: references from another namespace
)

plumb_install_deps() {
  local missing=()
  for p in "${PLUMB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "deps: installing ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq </dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  plumb_install_deps
fi
