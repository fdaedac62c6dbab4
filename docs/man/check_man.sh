#!/usr/bin/env bash
# check_man.sh PAGE - a generated man page formats without any groff
# warning (groff -man -z -wall) and has NAME, SYNOPSIS and SEE ALSO.
set -euo pipefail
out=$(groff -man -Tutf8 -z -wall "$1" 2>&1)
[ -z "$out" ] || { echo "FAIL: groff warnings for $1:"; echo "$out"; exit 1; }
for s in NAME SYNOPSIS 'SEE ALSO'; do
  grep -q "^\.SH $s" "$1" || { echo "FAIL: $1 has no $s section"; exit 1; }
done
echo "ok: $1"
