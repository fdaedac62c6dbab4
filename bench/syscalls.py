#!/usr/bin/env python3
"""syscalls.py - system calls per plumb call, client and server side, per
transport, counted with `strace -f -c` (evidence for bench/results/ANALYSIS.md).

Usage: syscalls.py --build DIR --transports unix,tcp,... [--op null]
                   [--calls 1000,3000]

For each transport it runs the bench server under strace and one bench
client under strace, twice, with N1 and N2 calls; the per-call figure of
every system call is (count(N2) - count(N1)) / (calls(N2) - calls(N1)), so
connection set-up and exit cancel out.  Prints one markdown table per
transport.  The raw floor for comparison is one write + one read per side
(or mq_timedsend + mq_timedreceive, msgsnd + msgrcv).  Every child is
bounded in time; the servers are stopped with SIGTERM and remove their IPC
objects.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402  (endpoints, kv)


def parse_strace(path):
    """strace -c summary -> {syscall: calls}."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$",
                         line)
            if m and m.group(2) != "total":
                out[m.group(2)] = int(m.group(1))
    return out


def one(b, t, op, n, d):
    """(client counts, server counts, calls made) for one run of n calls."""
    sep, cep = run_bench.endpoints(t, b["server"], n)
    env = dict(os.environ, BENCH_SERVER_CPU="1")
    scount = os.path.join(d, f"s-{t}-{n}.txt")
    ccount = os.path.join(d, f"c-{t}-{n}.txt")
    srv = None
    if sep is not None:
        # Attach to the running server (every thread) once it serves, so a
        # SIGTERM to the server itself ends it normally and strace reports.
        srv = subprocess.Popen([b["server"], sep], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
        time.sleep(0.3)
        tracer = subprocess.Popen(["strace", "-f", "-c", "-o", scount, "-p",
                                   str(srv.pid)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    else:  # pipe: the client spawns the server; strace -f follows it
        scount = None
    cmd = ["strace", "-f", "-c", "-o", ccount, b["client"], "lat", cep, op,
           "-c", "0", "-n", str(n), "-t", "60"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=env)
    if srv is not None:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait(timeout=10)
        try:
            tracer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            tracer.kill()
            tracer.wait(timeout=10)
    rows = [run_bench.kv(l) for l in p.stdout.splitlines()
            if l.startswith("plumb")]
    if p.returncode != 0 or not rows:
        raise RuntimeError(f"{t}: client failed: {p.stderr[-300:]}")
    # lat runs a warm-up of min(n/10, 1000) calls before the n timed ones.
    calls = n + min(n // 10, 1000)
    return (parse_strace(ccount),
            parse_strace(scount) if scount else {}, calls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--transports", required=True)
    ap.add_argument("--op", default="null")
    ap.add_argument("--calls", default="1000,3000")
    a = ap.parse_args()
    n1, n2 = (int(x) for x in a.calls.split(","))
    b = {"server": os.path.abspath(os.path.join(a.build, "bench",
                                                "bench-server")),
         "client": os.path.abspath(os.path.join(a.build, "bench",
                                                "bench-client"))}
    with tempfile.TemporaryDirectory(prefix="plumb-bench-strace-") as d:
        for t in a.transports.split(","):
            try:
                c1, s1, k1 = one(b, t, a.op, n1, d)
                c2, s2, k2 = one(b, t, a.op, n2, d)
            except (RuntimeError, subprocess.SubprocessError) as e:
                print(f"### {t}: {e}\n")
                continue
            dk = k2 - k1
            print(f"### {t}: system calls per {a.op} call "
                  f"(client process; server process"
                  f"{' = spawned child, counted with the client' if t == 'pipe' else ''})\n")
            print("| syscall | client | server |")
            print("|---|---|---|")
            names = sorted(set(c1) | set(c2) | set(s1) | set(s2))
            tc = ts = 0.0
            for nm in names:
                c = (c2.get(nm, 0) - c1.get(nm, 0)) / dk
                s = (s2.get(nm, 0) - s1.get(nm, 0)) / dk
                if abs(c) < 0.05 and abs(s) < 0.05:
                    continue
                tc += c
                ts += s
                print(f"| {nm} | {c:.2f} | {s:.2f} |")
            print(f"| **total** | **{tc:.2f}** | **{ts:.2f}** |\n", flush=True)


if __name__ == "__main__":
    main()
