#!/usr/bin/env bash
# fuzz.sh [SECONDS] [NAME...] - long fuzzing runs of the tests/fuzz harnesses.
#
# Builds the clang + libFuzzer + ASan/UBSan folder build-fuzz (as the third
# pass of scripts/test.sh does) and fuzzes each harness (default: all) for
# SECONDS (default 600) from a scratch copy of its committed corpus, one
# after the other, with tests/fuzz/run_fuzz.sh.  New interesting inputs are
# kept in build-fuzz/fuzz-corpus/NAME (add the useful ones to
# tests/fuzz/corpus/NAME by hand); crashes stop the run and are shown.
# Prints libFuzzer's last status line (executions, cov, ft) per harness;
# the whole log is build-fuzz/fuzz-corpus/NAME.log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
plumb_install_deps
secs=${1:-600}
[ $# -gt 0 ] && shift
if [ -f build-fuzz/build.ninja ]; then
  meson setup --reconfigure build-fuzz >/dev/null
else
  CC=clang meson setup build-fuzz -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz >/dev/null
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in build-fuzz/tests/fuzz/fuzz-*; do
    n=${f##*/fuzz-}
    case $n in replay-*) continue ;; esac
    [ -f "$f" ] && [ -x "$f" ] && names+=("$n")
  done
fi
status=0
for n in "${names[@]}"; do
  keep=build-fuzz/fuzz-corpus/$n
  mkdir -p "$keep"
  echo "== fuzz $n for $secs s"
  log=build-fuzz/fuzz-corpus/$n.log
  if PLUMB_FUZZ_SECONDS=$secs PLUMB_FUZZ_KEEP=$keep tests/fuzz/run_fuzz.sh \
      "build-fuzz/tests/fuzz/fuzz-$n" "tests/fuzz/corpus/$n" \
      "tests/fuzz/$n.dict" >"$log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units' "$log" || true
  else
    status=1
    grep -E 'run_fuzz|ERROR|SUMMARY|^  /' "$log" || tail -20 "$log"
  fi
done
exit $status
