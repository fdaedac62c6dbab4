#!/usr/bin/env bash
# test.sh - builds plumb and runs the whole test suite (installs what it needs).
#   scripts/test.sh            normal build (build/) + AddressSanitizer/UBSan
#                              build (build-asan/), both run by meson test
#   PLUMB_TEST_ASAN=0 ...      skip the sanitizer pass
#                              then a clang build (build-fuzz/, -Dfuzz=true)
#                              whose `meson test --suite fuzz` fuzzes every
#                              tests/fuzz harness for PLUMB_FUZZ_SECONDS (5) each
#   PLUMB_TEST_FUZZ=0 ...      skip the fuzz smoke pass
# A build folder that fails to set up or compile stops the script at once
# with one line naming the folder and the step (the log is above it).
# Exit status is non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
plumb_install_deps

die() { echo "test.sh: $*" >&2; exit 1; }

run_suite() { # $1 = build dir, rest = meson setup options; $SUITE: only it
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
    --timeout-multiplier "${PLUMB_TIMEOUT_MULT:-1}" ${SUITE:+--suite "$SUITE"}
}

status=0
run_suite build || status=1
if [ "${PLUMB_TEST_ASAN:-1}" != 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  PLUMB_TIMEOUT_MULT=3 run_suite build-asan \
    -Db_sanitize=address,undefined -Db_lundef=false || status=1
fi
if [ "${PLUMB_TEST_FUZZ:-1}" != 0 ]; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CC=clang SUITE=fuzz run_suite build-fuzz \
    -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false || status=1
fi
exit $status
