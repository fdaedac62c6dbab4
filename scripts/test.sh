#!/usr/bin/env bash
# test.sh - builds plumb and runs the whole test suite (installs what it needs).
#   scripts/test.sh            normal build (build/) + AddressSanitizer/UBSan
#                              build (build-asan/), both run by meson test
#   PLUMB_TEST_ASAN=0 ...      skip the sanitizer pass
# A build folder that fails to set up or compile stops the script at once
# with one line naming the folder and the step (the log is above it).
# Exit status is non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
plumb_install_deps

die() { echo "test.sh: $*" >&2; exit 1; }

run_suite() { # $1 = build dir, rest = meson setup options
  local dir=$1; shift
  if [ -d "$dir" ] && [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null ||
      die "$dir: meson setup --reconfigure failed (see above); stopping"
  else
    rm -rf "$dir"
    meson setup "$dir" "$@" || die "$dir: meson setup failed (see above); stopping"
  fi
  ninja -C "$dir" || die "$dir: compile failed (see above); stopping"
  meson test -C "$dir" --print-errorlogs -v --num-processes 2 \
    --timeout-multiplier "${PLUMB_TIMEOUT_MULT:-1}"
}

status=0
run_suite build || status=1
if [ "${PLUMB_TEST_ASAN:-1}" != 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  PLUMB_TIMEOUT_MULT=3 run_suite build-asan \
    -Db_sanitize=address,undefined -Db_lundef=false || status=1
fi
exit $status
