#!/usr/bin/env bash
# run_fuzz.sh BINARY CORPUS [DICT] - fuzzes one libFuzzer harness for
# PLUMB_FUZZ_SECONDS (default 5) from a scratch copy of its committed corpus
# (which it never writes), then removes the copy.  Fails on any finding.
# PLUMB_FUZZ_KEEP=DIR: copy the grown corpus there at the end (scripts/fuzz.sh).
set -u
bin=$1 corpus=$2 dict=${3:-}
secs=${PLUMB_FUZZ_SECONDS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/plumb-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp -r "$corpus"/. "$work/corpus/" 2>/dev/null
args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
      -artifact_prefix="$work/artifacts/" -print_final_stats=1)
[ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
"$bin" "${args[@]}" "$work/corpus"
rc=$?
# libFuzzer reports a finding with exit status 77 (-error_exitcode), which
# meson would count as a skipped test: any finding is a failure here.
[ $rc -eq 0 ] || rc=1
if [ -n "${PLUMB_FUZZ_KEEP:-}" ]; then
  mkdir -p "$PLUMB_FUZZ_KEEP" && cp -r "$work/corpus"/. "$PLUMB_FUZZ_KEEP/"
  cp -r "$work/artifacts" "$PLUMB_FUZZ_KEEP.artifacts" 2>/dev/null
fi
if [ $rc -ne 0 ]; then
  echo "run_fuzz: $bin found a failure (exit $rc); inputs:" >&2
  for f in "$work/artifacts"/*; do
    [ -f "$f" ] && { echo "  $f" >&2; od -An -c "$f" | head -5 >&2; }
  done
fi
exit $rc
