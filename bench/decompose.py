#!/usr/bin/env python3
"""decompose.py - what each of plumb's extra system calls costs on the stream
transports (evidence for bench/results/ANALYSIS.md).

Usage: decompose.py --build DIR [--repeats N] [--secs S] [--transports ...]

Runs bench/raw_pingpong with -X 0 (plain), 1 (client poll before read),
2 (server epoll loop: epoll_wait, read until EAGAIN, epoll_ctl re-arm),
4 (SIGPIPE masked around writes; pipe and fifo only) and 7 (all: what plumb
does), interleaved, in both placements, and prints the median round trip of
each as a markdown table.  Every run is bounded in count and time.
"""
import argparse
import os
import statistics
import subprocess

MASKS = [0, 1, 2, 4, 7]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--secs", type=float, default=0.4)
    ap.add_argument("--transports", default="pipe,fifo,unix,tcp")
    a = ap.parse_args()
    raw = os.path.join(a.build, "bench", "raw_pingpong")
    res = {}
    for _ in range(a.repeats):
        for t in a.transports.split(","):
            for place in ("cross", "same"):
                for m in MASKS:
                    if m == 4 and t not in ("pipe", "fifo"):
                        continue
                    cmd = [raw, t, "-c", place, "-n", "20000", "-t",
                           str(a.secs)]
                    if m:
                        cmd += ["-X", str(m)]
                    p = subprocess.run(cmd, capture_output=True, text=True,
                                       timeout=60)
                    for tok in p.stdout.split():
                        if tok.startswith("median_us="):
                            res.setdefault((t, place, m), []).append(
                                float(tok.split("=")[1]))
    print("| transport | placement | raw | + client poll | + server epoll "
          "loop | + SIGPIPE masks | all (plumb's pattern) |")
    print("|---|---|---|---|---|---|---|")
    for t in a.transports.split(","):
        for place in ("cross", "same"):
            row = [t, place]
            for m in MASKS:
                v = res.get((t, place, m))
                row.append(f"{statistics.median(v):.2f}" if v else "—")
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
