#!/usr/bin/env bash
# deps.sh - installs the Debian packages plumb needs, only those missing.
# Sourced by scripts/test.sh and scripts/demo.sh; safe to run on its own.
set -euo pipefail

PLUMB_PACKAGES=(meson ninja-build gcc pkg-config flex bison libprotobuf-c-dev
  libcunit1-dev protobuf-compiler libinih-dev valgrind python3)

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
