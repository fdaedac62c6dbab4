"""peers.py - the peers stage of bench/run_bench.py: the RPC systems a user
would pick instead of plumb (ONC RPC, gRPC C++, ZeroMQ, D-Bus; built in
bench/peers by scripts/bench.sh) doing add(int32, int32) -> int32, measured
like plumb's add call in the same run, and the table and chart comparing
them (results/peers.md, results/peers.png, a section of latest.md; every
figure also goes to latest.csv, section "peers").

Per repeat, per placement (cross: client CPU 0, server CPU 1; same: both
CPU 0), per plumb transport with a comparable peer mechanism (unix, tcp):
one plumb bench-server is started, and before each peer on that mechanism
plumb's add is measured again, then the peer's (its own server started
pinned the same way), so each peer / plumb ratio is taken from two
neighbouring runs; the reported ratio is the median of the per-repeat
ratios.  Every child is bounded in time; every socket file is named with
run_bench's TAG, so its leftover check covers the peers too.
"""
import os

# (peer, mechanism); mechanism = the plumb transport it is compared with.
PEERS = [("oncrpc", "unix"), ("oncrpc", "tcp"), ("grpc", "unix"),
         ("grpc", "tcp"), ("zmq", "unix"), ("zmq", "tcp"), ("dbus", "unix")]
NAMES = {
    "oncrpc": "ONC RPC (rpcgen + libtirpc)",
    "grpc": "gRPC C++ sync unary",
    "zmq": "ZeroMQ REQ/REP",
    "dbus": "D-Bus peer to peer (libdbus)",
}
# What each peer's mechanism is called in its own world.
MECH = {("zmq", "unix"): "ipc", ("dbus", "unix"): "unix socket"}


def key(peer, mech):
    return f"{peer}-{mech}"


def label(peer, mech):
    return f"{NAMES[peer]}, {MECH.get((peer, mech), mech)}"


def measured(rb, res, k, metric="median_us"):
    """Whether peer k has figures for metric in either placement."""
    return any(res.n("peers", k, pl, "add", metric)
               for pl in (rb.CROSS, rb.SAME))


def binaries(peers_build):
    """peer -> executable, for the peers that were built."""
    out = {}
    for p in NAMES:
        f = os.path.abspath(os.path.join(peers_build, f"peer-{p}"))
        if os.access(f, os.X_OK):
            out[p] = f
    return out


def make_server(rb):
    """A run_bench.Server that runs a peer's server instead of plumb's."""

    class PeerServer(rb.Server):
        def __init__(self, b, exe, peer, mech, cpu):
            super().__init__(b, mech, cpu)
            self.exe, self.t = exe, key(peer, mech)
            if mech == "tcp":
                self.sep = f"tcp:{rb.free_port()}"
            else:
                self.sep = f"unix:/tmp/{rb.TAG}-peer-{peer}-" \
                           f"{rb.Server.counter}.sock"
            self.cep = self.sep

        def argv(self):
            return [self.exe, "server", self.sep]

    return PeerServer


def peer_lat(rb, exe, srv, secs, count):
    cmd = [exe, "client", srv.cep, "-c", str(rb.CLIENT_CPU), "-n", str(count),
           "-t", str(secs), "-P", str(srv.pid())]
    rc, out, err = rb.run(cmd, timeout=30 + 3 * secs)
    rows = [rb.kv(l) for l in out.splitlines() if l.startswith("peer ")]
    if rc != 0 or not rows:
        rb.log(f"  peer {srv.t}: failed rc={rc} ({err.strip()[-300:]})")
        return None
    return rows[0]


def record(res, k, place, who, r):
    """Median, p99 and CPU per call of one run (who: "" = the peer,
    "plumb_" = plumb's neighbouring run)."""
    res.add("peers", k, place, "add", who + "median_us", r["median_us"])
    res.add("peers", k, place, "add", who + "p99_us", r["p99_us"])
    if r.get("server_cpu_us", -1) >= 0:
        res.add("peers", k, place, "add", who + "cpu_us",
                r["client_cpu_us"] + r["server_cpu_us"])


def bench_round(rb, b, a, res, rep, transports, peers_build):
    """One repeat of the peers stage (see the module comment)."""
    exes = binaries(peers_build)
    PeerServer = make_server(rb)
    for place in (rb.CROSS, rb.SAME):
        cpu = rb.SERVER_CPU[place]
        for tr in ("unix", "tcp"):
            todo = [(p, m) for p, m in PEERS if m == tr and p in exes]
            if tr not in transports or not todo:
                continue
            with rb.Server(b, tr, cpu) as psrv:
                if psrv.proc is not None and psrv.proc.poll() is not None:
                    rb.log(f"  peers: plumb {tr} server did not start")
                    continue
                for peer, mech in todo:
                    k = key(peer, mech)
                    p, _ = rb.plumb_lat(b, psrv, "add", 0, a.secs, a.count)
                    with PeerServer(b, exes[peer], peer, mech, cpu) as qsrv:
                        q = None
                        if qsrv.proc.poll() is None:
                            q = peer_lat(rb, exes[peer], qsrv, a.secs,
                                         a.count)
                        else:
                            rb.log(f"  peer {k}: server did not start")
                    if p:
                        record(res, k, place, "plumb_", p)
                    if q:
                        record(res, k, place, "", q)
                    if p and q:
                        res.add("peers", k, place, "add", "ratio",
                                q["median_us"] / p["median_us"])
                        if p.get("server_cpu_us", -1) > 0 and \
                                q.get("server_cpu_us", -1) >= 0:
                            res.add("peers", k, place, "add", "cpu_ratio",
                                    (q["client_cpu_us"] + q["server_cpu_us"])
                                    / (p["client_cpu_us"] +
                                       p["server_cpu_us"]))
                    msg = f"  r{rep} peer {k:12} {place:5}"
                    if p:
                        msg += f" plumb {tr} add {p['median_us']:9.2f} us"
                    if q:
                        msg += f"  {peer} {q['median_us']:9.2f} us"
                    rb.log(msg)


def table(rb, res, transports):
    """Markdown lines: every plumb transport and every peer, both
    placements, and each peer against plumb on the same mechanism."""
    M, fmt, CROSS, SAME = res.med, rb.fmt, rb.CROSS, rb.SAME
    L = []
    L.append("### add(int32, int32) -> int32, median µs\n")
    L.append("plumb rows: the add call of the main stage (every transport); "
             "raw rows: the mechanism alone (16 B / 8 B ping-pong); peer "
             "rows: the peers stage of the same run. CPU = client + server "
             "user + system µs per call.\n")
    L.append("| system | mechanism | cross | p99 | same | p99 | "
             "CPU/call cross | CPU/call same |")
    L.append("|---|---|---|---|---|---|---|---|")
    def row(name, mech, sec, cpu_sec, t, case, pre="", bold=""):
        cells = [name, mech]
        for pl in (CROSS, SAME):
            cells += [bold + fmt(M(sec, t, pl, case, pre + "median_us")) +
                      bold, fmt(M(sec, t, pl, case, pre + "p99_us"))]
        cells += [fmt(M(cpu_sec, t, pl, case, pre + "cpu_us"))
                  for pl in (CROSS, SAME)]
        return "| " + " | ".join(cells) + " |"

    L += [row("raw ping-pong", t, "lat", "cpu", t, "null", "raw_")
          for t in ("unix", "tcp") if t in transports]
    L += [row("**plumb**", t, "lat", "cpu", t, "add", bold="**")
          for t in transports]
    L += [row(NAMES[p], MECH.get((p, m), m), "peers", "peers", key(p, m),
              "add") for p, m in PEERS if measured(rb, res, key(p, m))]
    L.append("\n### Each peer against plumb on the same mechanism\n")
    L.append("plumb's add measured right before each peer, against the same "
             "kind of socket, same pinning; ratio = peer / plumb (median of "
             "the per-run ratios; > 1: plumb is faster). \"plumb faster by\" "
             "= 1 - plumb / peer of the medians (negative: the peer was faster).\n")
    L.append("| peer | vs plumb | plumb cross | peer cross | ratio | "
             "plumb faster by | plumb same | peer same | ratio | "
             "plumb faster by | CPU ratio cross / same |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")

    def faster(k, place):
        p = M("peers", k, place, "add", "plumb_median_us")
        q = M("peers", k, place, "add", "median_us")
        if p is None or q is None or q <= 0:
            return "—"
        return f"{(1 - p / q) * 100:.0f} %"

    for peer, mech in PEERS:
        k = key(peer, mech)
        if not measured(rb, res, k, "plumb_median_us"):
            continue
        row = [label(peer, mech), f"plumb {mech}"]
        for place in (CROSS, SAME):
            row += [fmt(M("peers", k, place, "add", "plumb_median_us")),
                    fmt(M("peers", k, place, "add", "median_us")),
                    fmt(M("peers", k, place, "add", "ratio")),
                    faster(k, place)]
        row.append(fmt(M("peers", k, CROSS, "add", "cpu_ratio")) + " / " +
                   fmt(M("peers", k, SAME, "add", "cpu_ratio")))
        L.append("| " + " | ".join(row) + " |")
    slow = [label(p, m) for p, m in PEERS for pl in (CROSS, SAME)
            if (M("peers", key(p, m), pl, "add", "ratio") or 2) <= 1]
    if slow:
        L.append("\n**plumb is not faster** (median of the per-run "
                 "ratios ≤ 1) than: " + "; ".join(sorted(set(slow))) + ".")
    return L


def write(rb, a, res, info, transports):
    """results/peers.md and results/peers.png; returns the lines for
    latest.md's section."""
    M, CROSS, SAME = res.med, rb.CROSS, rb.SAME
    L = table(rb, res, transports)
    head = ["# plumb against the RPC systems a user would pick instead\n",
            f"- **machine**: {info['cpu']}, {info['cores']} cores "
            f"({info['virt']}), Linux {info['kernel']}; **date** "
            f"{info['date']}; load average at start {info['load']}",
            f"- **commit**: `{info['commit']}`; median of {info['repeats']} "
            "repeated runs; reproduce: `scripts/bench.sh` (the peers stage "
            "is on unless `--no-peers`).",
            "- every system does the same add(int32, int32) -> int32 call; "
            "**cross** = client pinned to CPU 0, server (all its threads) to "
            "CPU 1; **same** = both pinned to CPU 0. Peers built from Debian "
            "packages in `bench/peers/` (see bench/README.md).\n"]
    with open(os.path.join(a.out, "peers.md"), "w") as f:
        f.write("\n".join(head + L) + "\n\n![plumb vs peers](peers.png)\n")
    # Chart: plumb per transport, then each peer, both placements.
    dat = os.path.join(a.out, "peers.dat")
    rows = [(f"plumb {t}", M("lat", t, CROSS, "add", "median_us"),
             M("lat", t, SAME, "add", "median_us")) for t in transports]
    rows += [(f"{p} {MECH.get((p, m), m)}",
              M("peers", key(p, m), CROSS, "add", "median_us"),
              M("peers", key(p, m), SAME, "add", "median_us"))
             for p, m in PEERS if measured(rb, res, key(p, m))]
    with open(dat, "w") as f:
        f.write("# system cross_us same_us\n")
        for name, c, s in rows:
            f.write('"' + name + '" ' + " ".join(
                "NaN" if v is None else f"{v:.3f}" for v in (c, s)) + "\n")
    rb.plot_histogram(
        os.path.join(a.out, "peers.png"),
        "add(int32, int32) round trip: plumb per transport vs peer RPC "
        f"systems, median of {info['repeats']} runs ({info['date']}, "
        f"{info['commit'][:10]})",
        f"""'{dat}' using 2:xtic(1) title 'cross CPU' lc rgb '#08519c', \\
     '' using 3 title 'same CPU' lc rgb '#d94801'""",
        size="1100,560", extra="set xtics rotate by -35")
    os.unlink(dat)
    return ["\n## Peers: plumb against other RPC systems\n"] + L + \
        ["\n![plumb vs peers](peers.png) — also in [peers.md](peers.md)."]
