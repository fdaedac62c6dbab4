#!/usr/bin/env python3
"""run_bench.py - runs every plumb benchmark against the raw floor and writes
bench/results/latest.{md,csv} and latency.png (called by scripts/bench.sh).

Usage: run_bench.py --build DIR --out DIR --transports unix,tcp,...
                    [--repeats N] [--secs S] [--count N] [--rss-calls N]
                    [--rss-secs S] [--idl-lines N] [--quick]
                    [--peers PEERS_BUILD_DIR]

For each repeat and each transport: for each placement (client on CPU 0,
server on CPU 1 = "cross"; both on CPU 0 = "same") one bench-server is
started, and the raw ping-pong over the same mechanism (raw_pingpong, or
raw_shm_futex for shm) is run right next to the plumb null call, the add
call and (cross only) the 4 KiB / 64 KiB / 1 MiB echoes, so every ratio
compares two figures taken in the same run; then throughput with 1, 4 and 16
client processes (unpinned).  Every reported figure is the median over the
repeats (ratios: the median of the per-repeat ratios).  Then, once: RSS over
1,000,000 null calls on the fastest transport, marshalling alone, and plumbc
on a generated IDL file.  Every child is bounded in time (timeouts below);
every IPC object the servers create is removed when they stop (SIGTERM), and
the run checks that none is left behind.

--peers DIR adds, in every repeat after the transports, the peers stage
(bench/peers/peers.py: ONC RPC, gRPC, ZeroMQ, D-Bus against plumb's add on
unix and tcp) and writes results/peers.md and peers.png.
"""
import argparse
import csv
import datetime
import glob
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TAG = f"plumb-bench-{os.getpid()}"
CROSS, SAME = "cross", "same"
CLIENT_CPU = 0
SERVER_CPU = {CROSS: 1, SAME: 0}
ECHO_SIZES = [4096, 65536, 1048576]
PROCS = [1, 4, 16]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def kv(line):
    """key=value pairs of one output line -> dict (numbers as float)."""
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", line):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def run(cmd, timeout, env=None):
    """Runs cmd (bounded); returns (rc, stdout, stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, env=env)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return -1, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) \
            else (e.stdout or ""), "timeout"


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def endpoints(t, server_bin, n):
    """(server endpoint or None, client endpoint) for transport t."""
    base = f"{TAG}-{n}"
    if t == "unix":
        ep = f"unix:/tmp/{base}.sock"
    elif t == "tcp":
        ep = f"tcp://127.0.0.1:{free_port()}"
    elif t == "fifo":
        ep = f"fifo:/tmp/{base}"
    elif t in ("mq", "shm"):
        ep = f"{t}:/{base}"
    elif t == "sysvmq":
        ep = f"sysvmq:/tmp/{base}.key"
    elif t == "pipe":
        return None, f"pipe:exec={server_bin} pipe:"
    else:
        raise ValueError(t)
    return ep, ep


class Server:
    """A bench-server on one endpoint (none for pipe: clients spawn it)."""
    counter = 0

    def __init__(self, b, t, cpu):
        Server.counter += 1
        self.b, self.t, self.cpu = b, t, cpu
        self.sep, self.cep = endpoints(t, b["server"], Server.counter)
        self.proc = None
        self.stats = []
        self.env = dict(os.environ)
        if cpu is not None:
            self.env["BENCH_SERVER_CPU"] = str(cpu)
        else:
            self.env.pop("BENCH_SERVER_CPU", None)
        self.log = tempfile.NamedTemporaryFile(
            mode="w+", prefix=f"{TAG}-srv-", suffix=".log", delete=False)

    def __enter__(self):
        if self.sep is None:
            return self
        self.proc = subprocess.Popen(self.argv(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=self.env)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # bounded: ready when it says so
            with open(self.log.name) as f:
                if "serving" in f.read():
                    break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return self

    def argv(self):
        """The server's command line (bench/peers/peers.py overrides it)."""
        return [self.b["server"], self.sep]

    def pid(self):
        return self.proc.pid if self.proc else 0

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with open(self.log.name) as f:
            text = f.read()
        self.stats = [kv(l) for l in text.splitlines()
                      if l.startswith("server-stats")]
        os.unlink(self.log.name)
        return False

    def client_env(self):
        """pipe: the client spawns the server, which inherits this env."""
        return self.env


class Results:
    """Samples per (section, transport, placement, case, metric)."""

    def __init__(self):
        self.s = {}

    def add(self, section, t, place, case, metric, value):
        if value is None:
            return
        self.s.setdefault((section, t, place, case, metric), []).append(value)

    def med(self, section, t, place, case, metric):
        v = self.s.get((section, t, place, case, metric))
        return statistics.median(v) if v else None

    def n(self, section, t, place, case, metric):
        return len(self.s.get((section, t, place, case, metric), []))


STREAMS = ("pipe", "fifo", "unix", "tcp")  # raw_pingpong -x applies


def mq_plumb_depth():
    """The messages per queue the mq transport picks at msgsize 8192
    (runtime/transport/mq.c, mq_depth: RLIMIT_MSGQUEUE paying for 24
    connections of two queues, between 2 and 8 and msg_max) - the raw
    mq echo is also run at it, like with like."""
    import resource
    try:
        mmax = int(open("/proc/sys/fs/mqueue/msg_max").read())
    except (OSError, ValueError):
        mmax = 10
    cur = resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0]
    d = 8 if cur == resource.RLIM_INFINITY else cur // (2 * 24 * (8192 + 64))
    d = min(d, 8, mmax)
    return d if d >= 2 else min(2, mmax)


def raw_cmd(b, t, place, size=16, echo=False, secs=0.5, count=20000,
            mimic=False, depth=None):
    if t == "shm":
        return [b["raw_shm"], "-m", "all", "-c", place, "-n", str(count),
                "-t", str(secs)]
    cmd = [b["raw"], t, "-n", str(count), "-t", str(secs), "-s", str(size),
           "-c", place]
    if echo:
        cmd.append("-e")
    if mimic:
        cmd.append("-x")
    if depth:
        cmd += ["-q", str(depth)]
    return cmd


def raw_run(b, t, place, size=16, echo=False, secs=0.5, count=20000,
            mimic=False, depth=None):
    """Median/p99/MBps of the raw floor; for shm the best of futex and
    spin-then-futex for this placement (the floor a transport can reach)."""
    rc, out, err = run(raw_cmd(b, t, place, size, echo, secs, count, mimic,
                               depth),
                       timeout=30 + 3 * secs)
    rows = []
    for l in out.splitlines():
        if "median_us=" in l:
            r = kv(l)
            r["mode"] = l.split()[0]  # "unix", "shm-futex", "shm-spin"
            rows.append(r)
    rows = [r for r in rows if r.get("placement") == place]
    if not rows:
        log(f"  raw {t} {place} size={size}: no result ({err.strip()[:200]})")
        return None
    return min(rows, key=lambda r: r["median_us"])


def shm_floor_run(b, place, size, secs, count):
    """bench/shm_echo_floor: the best an in-place shm echo can do here, and
    one memcpy of the payload in the same run."""
    rc, out, err = run([b["shm_floor"], "-s", str(size), "-c", place,
                        "-n", str(count), "-t", str(secs)],
                       timeout=30 + 3 * secs)
    for l in out.splitlines():
        if l.startswith("shm-echo-floor"):
            return kv(l)
    log(f"  shm echo floor size={size}: no result ({err.strip()[:200]})")
    return None


def plumb_lat(b, srv, op, size=0, secs=0.5, count=20000):
    cmd = [b["client"], "lat", srv.cep, op, "-c", str(CLIENT_CPU),
           "-n", str(count), "-t", str(secs), "-P", str(srv.pid())]
    if size:
        cmd += ["-s", str(size)]
    rc, out, err = run(cmd, timeout=30 + 3 * secs, env=srv.client_env())
    rows = [kv(l) for l in out.splitlines() if l.startswith("plumb ")]
    if rc != 0 or not rows:
        log(f"  plumb {srv.t} {op} size={size}: failed rc={rc} "
            f"({err.strip()[-300:]})")
        return None, err
    return rows[0], err


def bench_transport(b, a, t, res, rep):
    for place in (CROSS, SAME):
        with Server(b, t, SERVER_CPU[place]) as srv:
            if srv.proc is not None and srv.proc.poll() is not None:
                log(f"  {t}: server did not start")
                continue
            cases = [("null", 0), ("add", 0)]
            if place == CROSS:
                cases += [("echo", s) for s in ECHO_SIZES]
            for op, size in cases:
                secs = a.secs
                count = a.count if size < 65536 else max(200, a.count // 20)
                if size == 0:
                    raw = raw_run(b, t, place, 16, False, secs, count) \
                        if op == "null" else None
                elif t == "shm":
                    # the raw echo over shared memory: in place, spinning,
                    # one copy per direction (bench/shm_echo_floor.c)
                    raw = shm_floor_run(b, place, size, secs, count)
                    if raw:
                        res.add("lat", t, place, f"echo{size // 1024}k",
                                "memcpy_MBps", raw["memcpy_MBps"])
                else:
                    raw = raw_run(b, t, place, size, True, secs, count)
                p, err = plumb_lat(b, srv, op, size, secs, count)
                case = op if size == 0 else f"echo{size // 1024}k"
                if t == "mq" and size:
                    # raw mq again with the transport's queue depth
                    rq = raw_run(b, t, place, size, True, secs, count,
                                 depth=mq_plumb_depth())
                    if rq and p and rq["MBps"]:
                        res.add("lat", t, place, case, "rawq_MBps",
                                rq["MBps"])
                        res.add("lat", t, place, case, "MBps_q_ratio",
                                p["MBps"] / rq["MBps"])
                if op == "null" and t in STREAMS:
                    # The raw floor with plumb's system-call pattern.
                    rx = raw_run(b, t, place, 16, False, secs, count, True)
                    if rx:
                        res.add("lat", t, place, case, "rawx_median_us",
                                rx["median_us"])
                        if p:
                            res.add("lat", t, place, case, "rawx_ratio",
                                    p["median_us"] / rx["median_us"])
                if raw:
                    res.add("lat", t, place, case, "raw_median_us",
                            raw["median_us"])
                    res.add("lat", t, place, case, "raw_p99_us", raw["p99_us"])
                    if size:
                        res.add("lat", t, place, case, "raw_MBps", raw["MBps"])
                if p:
                    res.add("lat", t, place, case, "median_us", p["median_us"])
                    res.add("lat", t, place, case, "p99_us", p["p99_us"])
                    res.add("lat", t, place, case, "calls_per_s",
                            p["calls_per_s"])
                    res.add("lat", t, place, case, "allocs_per_call",
                            p["allocs_per_call"])
                    res.add("cost", t, place, case, "client_vmhwm_kb",
                            p["vmhwm_kb"])
                    if size:
                        res.add("lat", t, place, case, "MBps", p["MBps"])
                    for k in ("client_faults", "server_faults"):
                        if p.get(k, -1) >= 0:
                            res.add("lat", t, place, case, k, p[k])
                    for l in err.splitlines():  # pipe: the spawned server
                        if l.startswith("server-stats"):
                            res.add("cost", t, place, case, "server_vmhwm_kb",
                                    kv(l).get("vmhwm_kb"))
                for who, src in (("raw_", raw), ("", p)):
                    if src and src.get("server_cpu_us", -1) >= 0 and \
                            "client_cpu_us" in src:
                        res.add("cpu", t, place, case, who + "cpu_us",
                                src["client_cpu_us"] + src["server_cpu_us"])
                if raw and p and raw.get("server_cpu_us", -1) >= 0 and \
                        p.get("server_cpu_us", -1) >= 0:
                    res.add("cpu", t, place, case, "ratio",
                            (p["client_cpu_us"] + p["server_cpu_us"]) /
                            (raw["client_cpu_us"] + raw["server_cpu_us"]))
                if raw and p:
                    res.add("lat", t, place, case, "ratio",
                            p["median_us"] / raw["median_us"])
                    if size:
                        res.add("lat", t, place, case, "MBps_ratio",
                                p["MBps"] / raw["MBps"] if raw["MBps"] else None)
                msg = f"  r{rep} {t:6} {place:5} {case:9}"
                if p:
                    msg += f" plumb {p['median_us']:9.2f} us"
                if raw:
                    msg += f"  raw {raw['median_us']:9.2f} us"
                log(msg)
        for st in srv.stats:
            if st.get("when") == "exit":
                res.add("cost", t, place, "server", "server_vmhwm_kb",
                        st.get("vmhwm_kb"))
    with Server(b, t, None) as srv:
        for procs in PROCS:
            cmd = [b["client"], "tput", srv.cep, "-p", str(procs),
                   "-t", str(a.secs), "-n", "10000000"]
            rc, out, err = run(cmd, timeout=60 + 3 * a.secs,
                               env=srv.client_env())
            rows = [kv(l) for l in out.splitlines() if l.startswith("tput")]
            if rc == 0 and rows:
                res.add("tput", t, "any", f"p{procs}", "calls_per_s",
                        rows[0]["calls_per_s"])
                log(f"  r{rep} {t:6} tput  p{procs:<3} "
                    f"{rows[0]['calls_per_s']:10.0f} calls/s")
            else:
                log(f"  {t} tput p{procs} failed ({err.strip()[-300:]})")
    if t == "shm":  # the mechanism's own floor with N clients
        for procs in PROCS:
            best = None
            for mode in ("spin", "yield", "futex"):
                rc, out, err = run([b["raw_shm_tput"], "-p", str(procs),
                                    "-m", mode, "-t", str(a.secs)],
                                   timeout=30 + 3 * a.secs)
                for l in out.splitlines():
                    if l.startswith("raw-shm-tput"):
                        v = kv(l)["calls_per_s"]
                        best = v if best is None or v > best else best
            if best is not None:
                res.add("tput", t, "any", f"p{procs}", "raw_calls_per_s",
                        best)


def bench_rss(b, a, t, res, calls, secs):
    """RSS before/after `calls` null calls (bounded by secs) on transport t
    (cross placement)."""
    with Server(b, t, SERVER_CPU[CROSS]) as srv:
        cmd = [b["client"], "rss", srv.cep, "-c", str(CLIENT_CPU),
               "-n", str(calls), "-t", str(secs), "-P", str(srv.pid())]
        rc, out, err = run(cmd, timeout=60 + secs, env=srv.client_env())
        if srv.proc is not None:  # server-side allocations per call
            time.sleep(0.1)
    rows = [kv(l) for l in out.splitlines() if l.startswith("rss")]
    if rc != 0 or not rows:
        log(f"  rss {t}: failed ({err.strip()[-300:]})")
        return
    r = rows[0]
    log(f"  rss {t}: {out.strip()}")
    for k in ("calls", "secs", "client_rss0_kb", "client_rss1_kb",
              "server_rss0_kb", "server_rss1_kb", "client_heap_blocks_delta"):
        res.add("rss", t, CROSS, "null", k, r.get(k))
    usr1 = [s for s in srv.stats if s.get("when") == "usr1"] + \
        [kv(l) for l in err.splitlines()  # pipe: the server is our child's
         if l.startswith("server-stats when=usr1")]
    if len(usr1) >= 2 and usr1[-1]["calls"] > usr1[-2]["calls"]:
        res.add("rss", t, CROSS, "null", "server_allocs_per_call",
                (usr1[-1]["allocs"] - usr1[-2]["allocs"]) /
                (usr1[-1]["calls"] - usr1[-2]["calls"]))


def bench_marshal(b, res, repeats):
    for _ in range(repeats):
        rc, out, err = run([b["marshal"], "-t", "0.5"], timeout=60)
        for l in out.splitlines():
            r = kv(l)
            if "case" in r:
                res.add("marshal", "-", "-", f"{r['case']}/{r['alloc']}",
                        "ns", r["ns_per_pack_unpack"])
                res.add("marshal", "-", "-", f"{r['case']}/{r['alloc']}",
                        "bytes", r["bytes"])
                res.add("marshal", "-", "-", f"{r['case']}/{r['alloc']}",
                        "allocs", r["allocs_per_round"])
        log(f"  marshal: {out.strip()}" if rc == 0 else f"  marshal failed")


def bench_plumbc(b, a, res, repeats, gen_script):
    with tempfile.TemporaryDirectory(prefix=f"{TAG}-idl-") as d:
        idl = os.path.join(d, "big.idl")
        rc, out, err = run([sys.executable, gen_script, str(a.idl_lines), idl],
                           timeout=120)
        if rc != 0:
            log(f"  gen_big_idl failed: {err.strip()[-300:]}")
            return
        with open(idl) as f:
            lines = sum(1 for _ in f)
        res.add("plumbc", "-", "-", "big", "lines", lines)
        outdir = os.path.join(d, "out")
        os.mkdir(outdir)
        for _ in range(repeats):
            # GNU time reports peak RSS of plumbc alone.
            cmd = ["/usr/bin/time", "-f", "TIME %e %M", b["plumbc"], "-o",
                   outdir, idl]
            t0 = time.monotonic()
            rc, out, err = run(cmd, timeout=300)
            wall = time.monotonic() - t0
            m = re.search(r"TIME (\S+) (\d+)", err)
            if rc != 0 or not m:
                log(f"  plumbc failed rc={rc}: {err.strip()[-300:]}")
                continue
            res.add("plumbc", "-", "-", "big", "seconds", wall)
            res.add("plumbc", "-", "-", "big", "output_mb",
                    sum(os.path.getsize(os.path.join(outdir, f))
                        for f in os.listdir(outdir)) / 1e6)
            res.add("plumbc", "-", "-", "big", "maxrss_kb", float(m.group(2)))
            log(f"  plumbc {lines} lines: {wall:.2f} s, {m.group(2)} KiB")


def leftovers():
    """IPC objects of this run still present (must be none)."""
    left = glob.glob(f"/tmp/{TAG}*") + glob.glob(f"/dev/shm/*{TAG}*") + \
        glob.glob(f"/dev/mqueue/*{TAG}*")
    return [p for p in left if not p.endswith(".log")]


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    virt = ""
    try:
        virt = subprocess.run(["systemd-detect-virt"], capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
        "virt": virt or "unknown", "load": "%.2f %.2f %.2f" % os.getloadavg(),
    }


def fmt(v, nd=2):
    if v is None:
        return "—"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{nd}f}"


def plot_histogram(png, title, plot, size="1000,560", extra=""):
    """A clustered bar chart, log y in µs, by gnuplot (latency.png, and
    bench/peers' peers.png); plot = the gnuplot plot clauses."""
    gp = f"""set terminal pngcairo size {size} noenhanced font ',10'
set output '{png}'
set title '{title}'
set ylabel 'microseconds (log scale)'
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left
set grid ytics
{extra}
plot {plot}
"""
    try:
        p = subprocess.run(["gnuplot"], input=gp, capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            log(f"gnuplot ({os.path.basename(png)}) failed: " +
                p.stderr.strip()[-300:])
    except (OSError, subprocess.SubprocessError) as e:
        log(f"gnuplot not run: {e}")


def write_outputs(a, res, info, transports, started, finished, rss_t):
    os.makedirs(a.out, exist_ok=True)
    # CSV: one figure per row (median over repeats).
    with open(os.path.join(a.out, "latest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "transport", "placement", "case", "metric",
                    "value", "runs"])
        for k in ("date", "commit", "cpu", "cores", "kernel", "virt", "load",
                  "repeats"):
            w.writerow(["meta", "-", "-", "-", k, info[k], 1])
        for key in sorted(res.s):
            w.writerow(list(key) + [f"{statistics.median(res.s[key]):.4f}",
                                    len(res.s[key])])
    M = res.med
    L = []
    L.append("# plumb benchmark results\n")
    L.append(f"- **machine**: {info['cpu']}, {info['cores']} cores "
             f"({info['virt']}), Linux {info['kernel']}")
    L.append(f"- **date**: {info['date']} (run took {finished - started:.0f} s)"
             f"; load average at start {info['load']}")
    L.append(f"- **commit**: `{info['commit']}`; build: meson "
             f"buildtype=release; transports: {', '.join(transports)}")
    L.append(f"- every figure is the median of {info['repeats']} repeated runs; "
             "each ratio is plumb / raw measured in the same run (median of "
             "the per-run ratios). Reproduce: `scripts/bench.sh`.")
    L.append("- placements: **cross** = client pinned to CPU 0, server to "
             "CPU 1; **same** = both pinned to CPU 0. raw = the mechanism "
             "alone (`bench/raw_pingpong`, 16 B request / 8 B reply; shm: "
             "`bench/raw_shm_futex`, best of futex and spin-then-futex). "
             "Latencies in µs.\n")
    L.append("## Null call latency: plumb vs raw (issue 17 target: ratio ≤ 1.15)\n")
    L.append("| transport | raw cross | plumb cross | p99 | ratio | "
             "raw same | plumb same | p99 | ratio | add cross | add same | "
             "raw with plumb's syscalls cross / same |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in transports:
        row = [t]
        for pl in (CROSS, SAME):
            row += [fmt(M("lat", t, pl, "null", "raw_median_us")),
                    fmt(M("lat", t, pl, "null", "median_us")),
                    fmt(M("lat", t, pl, "null", "p99_us")),
                    fmt(M("lat", t, pl, "null", "ratio"))]
        row += [fmt(M("lat", t, CROSS, "add", "median_us")),
                fmt(M("lat", t, SAME, "add", "median_us")),
                (fmt(M("lat", t, CROSS, "null", "rawx_median_us")) + " / " +
                 fmt(M("lat", t, SAME, "null", "rawx_median_us")))
                if t in STREAMS else "—"]
        L.append("| " + " | ".join(row) + " |")
    L.append("\nLast column: `raw_pingpong -x`, the raw ping-pong doing "
             "the system calls plumb makes on a stream (client poll before "
             "read; server epoll_wait, read until EAGAIN, epoll_ctl re-arm; "
             "SIGPIPE masked around writes on pipes and FIFOs) - see "
             "ANALYSIS.md.\n")
    L.append("\nCPU time per null call, client + server process (user + "
             "system µs; server from /proc clock ticks), over the same timed calls; "
             "less sensitive than latency to what else the machine runs:\n")
    L.append("| transport | raw cross | plumb cross | ratio | raw same | "
             "plumb same | ratio |")
    L.append("|---|---|---|---|---|---|---|")
    for t in transports:
        row = [t]
        for pl in (CROSS, SAME):
            row += [fmt(M("cpu", t, pl, "null", "raw_cpu_us")),
                    fmt(M("cpu", t, pl, "null", "cpu_us")),
                    fmt(M("cpu", t, pl, "null", "ratio"))]
        L.append("| " + " | ".join(row) + " |")
    L.append("\n## Payload echoes (cross): MB/s, request + reply bytes\n")
    L.append("| transport | " + " | ".join(
        f"{s // 1024} KiB plumb | raw | ratio" for s in ECHO_SIZES) +
        " | 1 MiB median µs | 1 MiB page faults per call, client / server |")
    L.append("|---|" + "---|---|---|" * len(ECHO_SIZES) + "---|---|")
    for t in transports:
        row = [t]
        for s in ECHO_SIZES:
            c = f"echo{s // 1024}k"
            row += [fmt(M("lat", t, CROSS, c, "MBps"), 0),
                    fmt(M("lat", t, CROSS, c, "raw_MBps"), 0),
                    fmt(M("lat", t, CROSS, c, "MBps_ratio"))]
        row.append(fmt(M("lat", t, CROSS, "echo1024k", "median_us"), 0))
        row.append(fmt(M("lat", t, CROSS, "echo1024k", "client_faults"), 0) +
                   " / " +
                   fmt(M("lat", t, CROSS, "echo1024k", "server_faults"), 0))
        L.append("| " + " | ".join(row) + " |")
    if M("lat", "mq", CROSS, "echo1024k", "rawq_MBps") is not None:
        L.append(
            f"\nmq against raw mq at the transport's own queue depth "
            f"({mq_plumb_depth()} messages of 8 KiB, what this user's "
            "RLIMIT_MSGQUEUE pays for 24 connections; raw above uses 10): "
            + ", ".join(
                f"{s // 1024} KiB raw {fmt(M('lat', 'mq', CROSS, f'echo{s // 1024}k', 'rawq_MBps'), 0)}"
                f" MB/s, ratio {fmt(M('lat', 'mq', CROSS, f'echo{s // 1024}k', 'MBps_q_ratio'))}"
                for s in ECHO_SIZES) + ".")
    if M("lat", "shm", CROSS, "echo1024k", "memcpy_MBps") is not None:
        L.append(
            "\nshm's raw is `bench/shm_echo_floor`: the echo with no RPC "
            "layer and no ring, written and answered in place (one memcpy "
            "per direction, both sides spinning) - what a perfect loan API "
            "could reach. One memcpy of the payload in the same run: "
            + ", ".join(
                f"{s // 1024} KiB {fmt(M('lat', 'shm', CROSS, f'echo{s // 1024}k', 'memcpy_MBps'), 0)} MB/s"
                f" (floor / memcpy {fmt(M('lat', 'shm', CROSS, f'echo{s // 1024}k', 'raw_MBps') / M('lat', 'shm', CROSS, f'echo{s // 1024}k', 'memcpy_MBps') if M('lat', 'shm', CROSS, f'echo{s // 1024}k', 'raw_MBps') else None)})"
                for s in ECHO_SIZES) + ".")
    L.append("\n## Throughput: null calls/s, N client processes (unpinned)\n")
    L.append("| transport | " + " | ".join(f"{p} client{'s' if p > 1 else ''}"
                                           for p in PROCS) + " |")
    L.append("|---|" + "---|" * len(PROCS))
    for t in transports:
        L.append("| " + " | ".join([t] + [
            fmt(M("tput", t, "any", f"p{p}", "calls_per_s"), 0)
            for p in PROCS]) + " |")
    if M("tput", "shm", "any", f"p{PROCS[0]}", "raw_calls_per_s") is not None:
        L.append(
            "\nshm's own floor with N clients (`bench/raw_shm_tput`: one "
            "server process that never sleeps, polling every client's "
            "sequence word; clients spin, yield or sleep - the best of the "
            "three; no rings, no RPC): " + ", ".join(
                f"{p} client{'s' if p > 1 else ''} "
                f"{fmt(M('tput', 'shm', 'any', f'p{p}', 'raw_calls_per_s'), 0)}"
                for p in PROCS) +
            " calls/s. The mechanism itself loses throughput when clients "
            "outnumber the CPUs: each waiting client must be switched in "
            "for its reply.")
    L.append("\n## Cost: heap allocations per call and memory\n")
    L.append("Allocations counted by a malloc/calloc/realloc replacement "
             "linked into the bench client (`bench/alloc_count.c`); null and "
             "add use the per-thread scratch arena (arena = NULL), echo "
             "one arena reset per call.\n")
    L.append("| transport | allocs/call null | add | echo 4 KiB | echo 64 KiB |"
             " server allocs/call null |"
             " client peak RSS KiB (null) | client peak RSS KiB (1 MiB echo) |"
             " server peak RSS KiB | RssAnon growth client / server KiB "
             "(null calls made) |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    def growth(t):
        g = [M("rss", t, CROSS, "null", k) for k in
             ("client_rss0_kb", "client_rss1_kb", "server_rss0_kb",
              "server_rss1_kb", "calls")]
        if g[0] is None or g[1] is None:
            return "—"
        sv = f"{g[3] - g[2]:+.0f}" if g[2] is not None and g[2] >= 0 and \
            g[3] is not None and g[3] >= 0 else "—"
        return f"{g[1] - g[0]:+.0f} / {sv} ({fmt(g[4], 0)})"

    for t in transports:
        srv = res.s.get(("cost", t, CROSS, "server", "server_vmhwm_kb"), []) + \
            res.s.get(("cost", t, CROSS, "echo1024k", "server_vmhwm_kb"), [])
        L.append("| " + " | ".join([
            t,
            fmt(M("lat", t, CROSS, "null", "allocs_per_call"), 3),
            fmt(M("lat", t, CROSS, "add", "allocs_per_call"), 3),
            fmt(M("lat", t, CROSS, "echo4k", "allocs_per_call"), 3),
            fmt(M("lat", t, CROSS, "echo64k", "allocs_per_call"), 3),
            fmt(M("rss", t, CROSS, "null", "server_allocs_per_call"), 3),
            fmt(M("cost", t, CROSS, "null", "client_vmhwm_kb"), 0),
            fmt(M("cost", t, CROSS, "echo1024k", "client_vmhwm_kb"), 0),
            fmt(max(srv) if srv else None, 0), growth(t)]) + " |")
    if rss_t:
        g = lambda k: M("rss", rss_t, CROSS, "null", k)
        calls, secs = g("calls"), g("secs")
        c0, c1, s0, s1 = (g("client_rss0_kb"), g("client_rss1_kb"),
                          g("server_rss0_kb"), g("server_rss1_kb"))
        L.append(f"\n**Anonymous RSS (RssAnon: heap + stacks) over "
                 f"{fmt(calls, 0)} null calls** on {rss_t} "
                 f"(the transport with the highest call rate, cross, {fmt(secs, 1)} s, after "
                 "10,000 warm-up calls; target: flat): client "
                 f"{fmt(c0, 0)} → {fmt(c1, 0)} KiB "
                 f"({'+' if c1 is not None and c0 is not None and c1 >= c0 else ''}"
                 f"{fmt(c1 - c0 if c1 is not None and c0 is not None else None, 0)}"
                 f" KiB), server {fmt(s0, 0)} → {fmt(s1, 0)} KiB "
                 f"({fmt(s1 - s0 if s1 is not None and s0 is not None else None, 0)}"
                 " KiB); heap blocks still held by the client: "
                 f"{fmt(g('client_heap_blocks_delta'), 0)}; server heap "
                 f"allocations per call: {fmt(g('server_allocs_per_call'), 3)}.")
    L.append("\n## Marshalling alone (pack + unpack, ns)\n")
    L.append("| message | bytes | arena (runtime path) ns | allocs | "
             "malloc + free_unpacked ns | allocs |")
    L.append("|---|---|---|---|---|---|")
    for c, name in (("calc_add_request", "calculator add request (2 longs)"),
                    ("seq1000_struct", "1,000-element sequence of structs "
                     "(long, double, string)")):
        L.append("| " + " | ".join([
            name, fmt(M("marshal", "-", "-", f"{c}/arena", "bytes"), 0),
            fmt(M("marshal", "-", "-", f"{c}/arena", "ns"), 1),
            fmt(M("marshal", "-", "-", f"{c}/arena", "allocs"), 1),
            fmt(M("marshal", "-", "-", f"{c}/malloc", "ns"), 1),
            fmt(M("marshal", "-", "-", f"{c}/malloc", "allocs"), 1)]) + " |")
    L.append("\n## Compiler\n")
    L.append(f"plumbc on a {fmt(M('plumbc', '-', '-', 'big', 'lines'), 0)}-line "
             "IDL file (`scripts/gen_big_idl.py`): "
             f"{fmt(M('plumbc', '-', '-', 'big', 'seconds'), 2)} s wall, "
             f"{fmt(M('plumbc', '-', '-', 'big', 'maxrss_kb'), 0)} KiB peak RSS "
             f"(GNU time), {fmt(M('plumbc', '-', '-', 'big', 'output_mb'), 1)} MB "
             "of C written.")
    if a.peers:  # the peers stage: results/peers.{md,png} and a section
        L += peers_stage().write(sys.modules[__name__], a, res, info,
                                 transports)
    L.append("\n![latency per transport, plumb vs raw](latency.png)\n")
    L.append("Where a target is missed and why: [ANALYSIS.md](ANALYSIS.md).")
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    # gnuplot data + chart.
    dat = os.path.join(a.out, "latency.dat")
    with open(dat, "w") as f:
        f.write("# transport raw_cross plumb_cross raw_same plumb_same (µs)\n")
        for t in transports:
            vals = [M("lat", t, pl, "null", k) for pl in (CROSS, SAME)
                    for k in ("raw_median_us", "median_us")]
            f.write(t + " " + " ".join("NaN" if v is None else f"{v:.3f}"
                                       for v in vals) + "\n")
    plot_histogram(os.path.join(a.out, "latency.png"),
                   f"null call round trip, median of {info['repeats']} runs "
                   f"({info['date']}, {info['commit'][:10]})",
                   f"""'{dat}' using 2:xtic(1) title 'raw, cross CPU' lc rgb '#9ecae1', \\
     '' using 3 title 'plumb, cross CPU' lc rgb '#08519c', \\
     '' using 4 title 'raw, same CPU' lc rgb '#fdae6b', \\
     '' using 5 title 'plumb, same CPU' lc rgb '#d94801'""")
    os.unlink(dat)


def peers_stage():
    """bench/peers/peers.py: the peers stage (--peers), kept in its folder."""
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "peers"))
    import peers
    return peers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--transports", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--secs", type=float, default=0.5)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--rss-calls", type=int, default=1000000)
    ap.add_argument("--rss-secs", type=float, default=40)
    ap.add_argument("--rss-secs-each", type=float, default=5)
    ap.add_argument("--idl-lines", type=int, default=20000)
    ap.add_argument("--commit", default="?")
    ap.add_argument("--peers", default="",
                    help="build folder of bench/peers: run the peers stage")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    bd = args.build
    b = {
        "server": os.path.join(bd, "bench", "bench-server"),
        "client": os.path.join(bd, "bench", "bench-client"),
        "marshal": os.path.join(bd, "bench", "bench-marshal"),
        "raw": os.path.join(bd, "bench", "raw_pingpong"),
        "raw_shm": os.path.join(bd, "bench", "raw_shm_futex"),
        "shm_floor": os.path.join(bd, "bench", "shm_echo_floor"),
        "raw_shm_tput": os.path.join(bd, "bench", "raw_shm_tput"),
        "plumbc": os.path.join(bd, "compiler", "plumbc"),
    }
    b = {k: os.path.abspath(v) for k, v in b.items()}
    transports = [t for t in args.transports.split(",") if t]
    info = machine()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")
    info["commit"] = args.commit
    info["repeats"] = args.repeats
    started = time.monotonic()
    res = Results()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    log(f"bench: {info['cpu']}, {info['cores']} cores, load {info['load']}; "
        f"transports {', '.join(transports)}; {args.repeats} repeats")
    for rep in range(1, args.repeats + 1):
        for t in transports:
            bench_transport(b, args, t, res, rep)
        if args.peers:
            peers_stage().bench_round(sys.modules[__name__], b, args, res,
                                      rep, transports, args.peers)
    fastest = None
    # Fastest = most calls per second (mean rate, cross): what fits the most
    # calls into the time bound.
    cands = [(res.med("lat", t, CROSS, "null", "calls_per_s"), t)
             for t in transports
             if res.med("lat", t, CROSS, "null", "calls_per_s") is not None]
    if cands:
        fastest = max(cands)[1]
        log(f"bench: RSS over {args.rss_calls} calls on {fastest}")
        bench_rss(b, args, fastest, res, args.rss_calls, args.rss_secs)
    for t in transports:  # every other transport: a shorter, bounded run
        if t != fastest:
            bench_rss(b, args, t, res, args.rss_calls, args.rss_secs_each)
    bench_marshal(b, res, args.repeats)
    bench_plumbc(b, args, res, args.repeats,
                 os.path.join(here, "..", "scripts", "gen_big_idl.py"))
    left = leftovers()
    if left:
        log("bench: IPC objects left behind: " + " ".join(left))
    write_outputs(args, res, info, transports, started, time.monotonic(),
                  fastest)
    log(f"bench: wrote {args.out}/latest.md, latest.csv, latency.png "
        f"in {time.monotonic() - started:.0f} s")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
