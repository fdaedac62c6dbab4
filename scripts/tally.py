#!/usr/bin/env python3
"""tally.py [ROOT] - prints "N passed, N failed[, N skipped]" counted from
meson's results (build/, build-asan/ and build-fuzz/ testlog.json under ROOT, default the
current folder).  Used by .ci/run and scripts/fresh-debian.sh."""
import json
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
passed = failed = skipped = 0
for d in ("build", "build-asan", "build-fuzz"):
    p = os.path.join(root, d, "meson-logs", "testlog.json")
    if not os.path.exists(p):
        continue
    with open(p) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line).get("result")
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
