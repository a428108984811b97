#!/usr/bin/env python3
"""Benchmarks on the veth lab (root).  Not a test: it measures and prints tables.

    scripts/bench.py [--secs 4] [--rounds 3]
        [--only loop,tx,rx,python,ping,bridge,kernel,rfc2544,cluster,netmap,kpktgen]

netmap (not in the default set): pktgen-nm against C pkt-gen on the real module, in
the netmap-vm guest where /dev/netmap is missing (scripts/bench_netmap.py).

TX: pktgen-nm (one thread, pinned to CPU 0, 60-byte frames) on each backend, next
to trafgen (netsniff-ng; PACKET_MMAP TX ring, qdisc bypass) in the same run,
interleaved A B A B; packets counted by the sender's interface counter; frames go
to a foreign destination MAC, so the peer drops them early (shared/BENCH.md).
RX: the same offered load (pktgen-nm xdp sender) into pktgen-nm rx on each
backend and into netsniff-ng; what each receiver counted.
kernel: the kernel engine (--engine kernel) next to xdp-trafficgen (xdp-tools) and the
ring engine on its fastest backend (xdp:), into an XDP program on the peer that
drops everything; counted by the peer's interface over a window that excludes
start-up.
python: pure-Python loops over Port.send()/recv() and NumPy views, and the
Python anchors (socket.send, sendmmsg, Scapy), see scripts/bench_python.py.
rfc2544: the Linux bridge against nm-bridge as RFC 2544 devices, throughput at 64 bytes
(scripts/bench_rfc2544.py).
ping/pong: round trips per second and percentiles.  loop: the engine's own cost
(no kernel at all), user CPU nanoseconds per packet.
Medians are printed with the ratio to the peer; every figure is from this run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from pktgen_nm.lab import VethLab  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=ROOT)
PKTGEN = [sys.executable, "-m", "pktgen_nm"]
FOREIGN = "02:00:00:00:00:99"


def tx_counter(lab, side, dev):
    return lab.counters(side, dev)["tx_packets"]


def run_trafgen(lab, secs):
    src = lab.mac("A", lab.dev_a)
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(f"{{ eth(da={FOREIGN}, sa={src}), ipv4(daddr=10.77.0.2, saddr=10.77.0.1, "
                "ttl=64), udp(sport=1234, dport=4321), fill(0x41, 18) }\n")
        cfg = f.name
    try:
        c0 = tx_counter(lab, "A", lab.dev_a)
        lab.exec("A", ["timeout", "-s", "INT", str(secs), "taskset", "-c", "0", "trafgen",
                       "--dev", lab.dev_a, "--conf", cfg, "--cpus", "1"])
        return (tx_counter(lab, "A", lab.dev_a) - c0) / secs, None
    finally:
        os.unlink(cfg)


def run_pktgen_tx(lab, backend, secs):
    c0 = tx_counter(lab, "A", lab.dev_a)
    r = subprocess.run(lab.cmd("A", ["taskset", "-c", "0"] + PKTGEN + [
        "-i", f"{backend}:{lab.dev_a}-0", "-f", "tx", "-l", "60", "-D", FOREIGN, "-w", "0",
        "--duration", str(secs), "--json"]), capture_output=True, text=True, env=ENV)
    pps = (tx_counter(lab, "A", lab.dev_a) - c0) / secs
    final = json.loads(r.stdout.strip().splitlines()[-1])
    user = sum(c["user_s"] for c in final.get("cpu", []))
    return pps, (user * 1e9 / final["pkts"] if final["pkts"] else None)


def run_loop(secs):
    r = subprocess.run(["taskset", "-c", "0"] + PKTGEN + [
        "-i", "loop:bench", "-f", "tx", "-l", "60", "--duration", str(secs), "--json"],
        capture_output=True, text=True, env=ENV)
    final = json.loads(r.stdout.strip().splitlines()[-1])
    user = sum(c["user_s"] for c in final.get("cpu", []))
    return final["pps"], user * 1e9 / final["pkts"]


def run_rx(lab, receiver, secs, engine="ring"):
    """Offer the fastest load we have (pktgen-nm xdp tx, or the kernel engine, to a
    foreign MAC: B's stack drops the frames early, packet and XDP sockets still see
    them) and count at B."""
    sink = None
    if engine == "kernel" and receiver != "xdp":
        sink = lab.xdp_sink("B", lab.dev_b, "pass")   # B must accept XDP frames
    if receiver == "netsniff-ng":
        rx = subprocess.Popen(lab.cmd("B", ["taskset", "-c", "1", "netsniff-ng", "--in", lab.dev_b,
                                            "--out", "/dev/null", "--silent", "--ring-size",
                                            "64MiB"]), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    else:
        rx = subprocess.Popen(lab.cmd("B", ["taskset", "-c", "1"] + PKTGEN + [
            "-i", f"{receiver}:{lab.dev_b}", "-f", "rx", "-w", "0", "--json",
            "--duration", str(secs + 4)]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=ENV)
    time.sleep(1.5)
    c0 = tx_counter(lab, "A", lab.dev_a)
    port = [lab.dev_a, "--engine", "kernel"] if engine == "kernel" else [f"xdp:{lab.dev_a}-0"]
    subprocess.run(lab.cmd("A", ["taskset", "-c", "0"] + PKTGEN + [
        "-i", *port, "-f", "tx", "-D", FOREIGN, "-w", "0",
        "--duration", str(secs)]), capture_output=True, env=ENV)
    offered = tx_counter(lab, "A", lab.dev_a) - c0
    time.sleep(0.5)
    rx.send_signal(2)
    out, _ = rx.communicate(timeout=30)
    if sink is not None:
        sink.terminate()
        sink.wait()
    if receiver == "netsniff-ng":
        m = re.search(r"(\d+)\s+packets incoming", out)
        got = int(m.group(1)) if m else 0
    else:
        got = json.loads(out.strip().splitlines()[-1])["pkts"]
    return got / secs, offered / secs


def run_ping(lab, backend, secs, rate=0):
    pong = subprocess.Popen(lab.cmd("B", ["taskset", "-c", "1"] + PKTGEN + [
        "-i", f"{backend}:{lab.dev_b}", "-f", "pong", "-w", "0", "--duration", str(secs + 5)]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(1.0)
    r = subprocess.run(lab.cmd("A", ["taskset", "-c", "0"] + PKTGEN + [
        "-i", f"{backend}:{lab.dev_a}", "-f", "ping", "-b", "32", "-w", "0", "--duration",
        str(secs), "--json"] + (["-R", str(rate)] if rate else [])), capture_output=True,
        text=True, env=ENV)
    pong.send_signal(2)
    pong.communicate(timeout=30)
    final = json.loads(r.stdout.strip().splitlines()[-1])
    rtt = final["rtt"]
    return rtt["count"] / secs, rtt.get("p50_ns", 0), rtt.get("p99_ns", 0)


def run_forward(lab3, how, secs):
    """A sends at full speed (pktgen-nm xdp, to C's MAC); count what reaches C."""
    mac_c = lab3.mac("C", lab3.dev_c)
    fwd = None
    if how == "linux-bridge":
        for cmd in (["ip", "link", "add", "nmbr0", "type", "bridge"],
                    ["ip", "link", "set", lab3.dev_b, "master", "nmbr0"],
                    ["ip", "link", "set", lab3.dev_b2, "master", "nmbr0"],
                    ["ip", "link", "set", "nmbr0", "up"]):
            lab3.exec("B", cmd)
    else:
        fwd = subprocess.Popen(lab3.cmd("B", ["taskset", "-c", "1", sys.executable, "-m",
                                              "pktgen_nm.bridge_cli", "-i", f"{how}:{lab3.dev_b}",
                                              "-i", f"{how}:{lab3.dev_b2}", "-w", "0"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    time.sleep(1.5)
    c0 = lab3.counters("C", lab3.dev_c)["rx_packets"]
    subprocess.run(lab3.cmd("A", ["taskset", "-c", "0"] + PKTGEN + [
        "-i", f"xdp:{lab3.dev_a}-0", "-f", "tx", "-D", mac_c, "-w", "0", "--duration", str(secs)]),
        capture_output=True, env=ENV)
    got = lab3.counters("C", lab3.dev_c)["rx_packets"] - c0
    if fwd is not None:
        fwd.send_signal(2)
        fwd.wait(timeout=30)
    else:
        lab3.exec("B", ["ip", "link", "del", "nmbr0"])
    return got / secs


def shim() -> str | None:
    """Debian 12's xdp-tools need an LD_PRELOAD shim on kernels >= 6.15 (see
    ../shared/lab/xdp-tools-shim.c, or XDP_TOOLS_SHIM_SRC)."""
    src = os.environ.get("XDP_TOOLS_SHIM_SRC",
                         os.path.join(ROOT, "..", "shared", "lab", "xdp-tools-shim.c"))
    out = "/tmp/nm-xdp-tools-shim.so"
    if os.path.exists(out):
        return out
    if not os.path.exists(src):
        return None
    r = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", out, src, "-ldl"],
                       capture_output=True)
    return out if r.returncode == 0 else None


def windowed(lab, argv, secs, env=None):
    """Start a sender in A, count what B's interface receives over `secs` once it
    runs, stop it: pps."""
    p = subprocess.Popen(lab.cmd("A", argv), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env or ENV)
    try:
        time.sleep(1.0)
        c0 = lab.counters("B", lab.dev_b)["rx_packets"]
        time.sleep(secs)
        c1 = lab.counters("B", lab.dev_b)["rx_packets"]
    finally:
        p.send_signal(2)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return (c1 - c0) / secs


def run_kernel(lab, who, secs):
    dst = lab.mac("B", lab.dev_b)
    if who == "xdp-trafficgen":
        src = lab.mac("A", lab.dev_a)
        so = shim()
        cmd = ("mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; "
               f"exec taskset -c 0 xdp-trafficgen udp -m {dst} -M {src} -a fd77::2 -A fd77::1 "
               f"-p 9 -P 1234 -t 1 {lab.dev_a}")
        env = dict(os.environ, LD_PRELOAD=so) if so else None
        return windowed(lab, ["sh", "-c", cmd], secs, env=env)
    long = str(secs + 30)
    if who == "kernel":
        return windowed(lab, ["taskset", "-c", "0"] + PKTGEN + [
            "-i", lab.dev_a, "-f", "tx", "-l", "60", "-D", dst, "-w", "0", "--engine", "kernel",
            "--duration", long], secs)
    return windowed(lab, ["taskset", "-c", "0"] + PKTGEN + [
        "-i", f"xdp:{lab.dev_a}-0", "-f", "tx", "-l", "60", "-D", dst, "-w", "0",
        "--duration", long], secs)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def bench_tx(lab, a, have_trafgen: bool) -> None:
    rows = {"trafgen": [], "packet": [], "xdp": []}
    for _ in range(a.rounds):
        if have_trafgen:
            rows["trafgen"].append(run_trafgen(lab, a.secs))
        for b in ("packet", "xdp"):
            rows[b].append(run_pktgen_tx(lab, b, a.secs))
    base = med([r[0] for r in rows["trafgen"]]) if have_trafgen else None
    print("| TX, 60-byte frames, one CPU | kpps (wire) | vs trafgen | user ns/packet |")
    print("|---|---|---|---|")
    if have_trafgen:
        print(f"| trafgen (netsniff-ng) | {base / 1e3:.0f} | 1.00 | - |")
    for b in ("packet", "xdp"):
        pps = med([r[0] for r in rows[b]])
        ratio = f"{pps / base:.2f}" if base else "n/a (trafgen missing)"
        print(f"| pktgen-nm -i {b}: | {pps / 1e3:.0f} | {ratio} | "
              f"{med([r[1] for r in rows[b]]):.1f} |")
    print()


def bench_rx(lab, a, have_sniff: bool) -> None:
    recv = ["packet", "xdp"] + (["netsniff-ng"] if have_sniff else [])
    for engine, what in (("ring", "pktgen-nm xdp tx"), ("kernel", "the kernel engine")):
        rows = {r: [] for r in recv}
        for _ in range(a.rounds):
            for r in recv:
                rows[r].append(run_rx(lab, r, a.secs, engine))
        base = med([x[0] for x in rows["netsniff-ng"]]) if have_sniff else None
        # on veth the receive path runs in the sender's softirq, so what a
        # receiver costs the kernel lowers the load offered to it: show both
        print(f"| RX, sender {what} at full speed | offered kpps | counted kpps | "
              "counted/offered | counted vs netsniff-ng |")
        print("|---|---|---|---|---|")
        for r in recv:
            got, off = med([x[0] for x in rows[r]]), med([x[1] for x in rows[r]])
            name = "netsniff-ng" if r == "netsniff-ng" else f"pktgen-nm -f rx -i {r}:"
            ratio = f"{got / base:.2f}" if base else "n/a"
            print(f"| {name} | {off / 1e3:.0f} | {got / 1e3:.0f} | {got / off:.3f} | "
                  f"{ratio} |")
        print()


def bench_kernel(a) -> None:
    print()
    with VethLab(tag="bk") as lab:
        lab.wait_carrier()
        sink = lab.xdp_sink("B", lab.dev_b)
        try:
            who = (["xdp-trafficgen"] if shutil.which("xdp-trafficgen") else []) + \
                ["kernel", "ring"]
            rows = {w: [] for w in who}
            for _ in range(a.rounds):
                for w in who:
                    rows[w].append(run_kernel(lab, w, a.secs))
        finally:
            sink.terminate()
            sink.wait()
        names = {"xdp-trafficgen": "xdp-trafficgen (xdp-tools, 64-byte IPv6/UDP)",
                 "kernel": "pktgen-nm --engine kernel -l 60",
                 "ring": "pktgen-nm -i xdp: (ring engine) -l 60"}
        k = med(rows["kernel"])
        print("| TX, one CPU, into an XDP drop on the peer | kpps received | "
              "kernel engine vs this |")
        print("|---|---|---|")
        for w in who:
            v = med(rows[w])
            print(f"| {names[w]} | {v / 1e3:.0f} | {k / v:.2f} |" if v else
                  f"| {names[w]} | 0 (did not run) | - |")
        print()


def bench_bridge(a) -> None:
    with VethLab(tag="bb", three=True) as lab3:
        lab3.wait_carrier()
        kinds = ["linux-bridge", "packet", "xdp"]
        rows = {k: [] for k in kinds}
        for _ in range(a.rounds):
            for k in kinds:
                rows[k].append(run_forward(lab3, k, a.secs))
        base = med(rows["linux-bridge"])
        print("\n| forwarding A -> B -> C, 60-byte frames | kpps reaching C | vs Linux bridge |")
        print("|---|---|---|")
        for k in kinds:
            name = "Linux bridge device in B" if k == "linux-bridge" else f"nm-bridge -i {k}: -i {k}:"
            print(f"| {name} | {med(rows[k]) / 1e3:.0f} | {med(rows[k]) / base:.2f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="loop,tx,rx,python,ping,bridge,kernel")
    ap.add_argument("--packets", type=int, default=5_000_000, help="netmap: per transfer")
    a = ap.parse_args()
    if a.only == "kpktgen":
        import bench_kpktgen
        n = a.packets if a.packets != 5_000_000 else 1_000_000
        print(f"# command: scripts/bench.py --only kpktgen --rounds {a.rounds} --packets {n}\n",
              flush=True)
        return bench_kpktgen.main(a.rounds, n)
    if a.only == "netmap":
        import bench_netmap
        print(f"# command: scripts/bench.py --only netmap --rounds {a.rounds} "
              f"--packets {a.packets}\n", flush=True)
        return bench_netmap.main(a.rounds, a.packets)
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces)", file=sys.stderr)
        return 2
    want = set(a.only.split(","))
    have_trafgen = shutil.which("trafgen") is not None
    have_sniff = shutil.which("netsniff-ng") is not None
    print(f"# pktgen-nm benchmarks: {os.cpu_count()} CPUs, kernel {os.uname().release}, "
          f"{a.rounds} rounds x {a.secs} s, medians")
    print(f"# command: scripts/bench.py --secs {a.secs} --rounds {a.rounds} --only {a.only}\n")
    if "loop" in want:
        res = [run_loop(a.secs) for _ in range(a.rounds)]
        print("| engine alone (loop: backend, no kernel) | Mpps | user ns/packet |")
        print("|---|---|---|")
        print(f"| pktgen-nm -f tx -l 60 | {med([r[0] for r in res]) / 1e6:.1f} | "
              f"{med([r[1] for r in res]):.1f} |\n")
    with VethLab(tag="bn") as lab:
        lab.wait_carrier()
        if "tx" in want:
            bench_tx(lab, a, have_trafgen)
        if "rx" in want:
            bench_rx(lab, a, have_sniff)
        if "cluster" in want:
            import bench_cluster
            print(bench_cluster.table(a.rounds, a.secs) + "\n")
        if "rfc2544" in want:
            import bench_rfc2544
            print(bench_rfc2544.table(a.rounds, max(1, a.secs / 2)) + "\n")
        if "python" in want:
            import bench_python
            print(bench_python.table(lab, a.secs, a.rounds) + "\n")
        if "ping" in want:
            print("| ping/pong | round trips/s | p50 us | p99 us |")
            print("|---|---|---|---|")
            for b in ("packet", "xdp"):
                for rate, what in ((0, "flood, 32 per round"), (20000, "-R 20000")):
                    res = [run_ping(lab, b, a.secs, rate) for _ in range(a.rounds)]
                    print(f"| pktgen-nm -i {b}: {what} | {med([r[0] for r in res]) / 1e3:.0f} k | "
                          f"{med([r[1] for r in res]) / 1e3:.0f} | "
                          f"{med([r[2] for r in res]) / 1e3:.0f} |")
    if "kernel" in want:
        bench_kernel(a)
    if "bridge" in want:
        bench_bridge(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
