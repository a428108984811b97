#!/usr/bin/env python3
"""pktgen-nm against C pkt-gen on the real netmap module, in one guest boot.

    scripts/bench.py --only netmap [--rounds 5] [--packets 5000000]

Where /dev/netmap is missing, this re-runs itself inside the netmap-vm guest
(NETMAP_VM, default ../shared/netmap-vm).  The guest's CPU is emulated, so only
the ratios within this one run mean anything.  For each of a netmap pipe, a VALE
switch and a native veth pair, 60-byte frames, each round interleaved:
  TX: C pkt-gen tx and pktgen-nm tx, each into a C pkt-gen rx, each sender's own
      "Speed:" line;
  RX: C pkt-gen tx into C pkt-gen rx and into pktgen-nm rx, each receiver's own
      "Speed:" line (first to last packet).
Prints medians, the spread (min..max) and the median of the per-round ratios.
Senders run on vCPU 0 and receivers on vCPU 1 (taskset), ours and C's alike.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)
OURS = [sys.executable, "-m", "pktgen_nm"]


def _mpps(text: str) -> float:
    m = re.search(r"^Speed: ([\d.]+) ([KMG]?)pps", text, re.M)
    if not m:
        return 0.0
    return float(m.group(1)) * {"": 1e-6, "K": 1e-3, "M": 1.0, "G": 1e3}[m.group(2)]


def _start(cmd, ready):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline, seen = time.monotonic() + 60, ""
    while time.monotonic() < deadline and ready not in seen:
        if select.select([p.stderr], [], [], 0.2)[0]:
            line = p.stderr.readline()
            if not line:
                break
            seen += line
    return p


def pair(tx_cmd, rx_cmd, rx_ready) -> tuple[float, float]:
    """(sender Mpps, receiver Mpps) of one transfer."""
    rx = _start(rx_cmd, rx_ready)
    tx = subprocess.run(tx_cmd, capture_output=True, text=True, env=ENV, timeout=600)
    out, _ = rx.communicate(timeout=600)
    return _mpps(tx.stdout), _mpps(out)


def topologies(tag: str):
    a, b = f"{tag}a", f"{tag}b"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    for d in (a, b):
        subprocess.run(["ip", "link", "set", d, "up"], check=True)
    return {"pipe": (f"netmap:{tag}p}}1", f"netmap:{tag}p{{1"),
            "VALE": (f"vale{tag}:a", f"vale{tag}:b"),
            "native veth": (f"netmap:{a}", f"netmap:{b}")}


def measure(rounds: int, n: int) -> dict:
    pg = shutil.which("pkt-gen")
    # sender on vCPU 0, receiver on vCPU 1, for both programs: the guest's scheduler
    # otherwise moves them about, which is most of the run-to-run spread
    tx0, rx1 = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    c_rx = rx1 + [pg, "-f", "rx", "-W", "-w", "0"]
    c_tx = tx0 + [pg, "-f", "tx", "-l", "60", "-w", "0", "-n", str(n)]
    o_rx = rx1 + OURS + ["-f", "rx", "-W", "-w", "0"]
    o_tx = tx0 + OURS + ["-f", "tx", "-l", "60", "-w", "0", "-n", str(n)]
    res: dict = {}
    for name, (txp, rxp) in topologies(f"b{os.getpid() % 1000}").items():
        r = res[name] = {"tx_c": [], "tx_ours": [], "rx_c": [], "rx_ours": []}
        for _ in range(rounds):
            r["tx_c"].append(pair(c_tx + ["-i", txp], c_rx + ["-i", rxp], "reading from")[0])
            r["tx_ours"].append(pair(o_tx + ["-i", txp], c_rx + ["-i", rxp], "reading from")[0])
            r["rx_c"].append(pair(c_tx + ["-i", txp], c_rx + ["-i", rxp], "reading from")[1])
            r["rx_ours"].append(pair(c_tx + ["-i", txp], o_rx + ["-i", rxp], "Ready...")[1])
    return res


def table(res: dict, rounds: int, n: int) -> str:
    lines = [f"| {n} packets, 60 bytes, {rounds} rounds | C pkt-gen Mpps (min..max) | "
             "pktgen-nm Mpps (min..max) | ratio, median (min..max) |", "|---|---|---|---|"]
    for name, r in res.items():
        for d in ("tx", "rx"):
            c, o = r[f"{d}_c"], r[f"{d}_ours"]
            ratios = [x / y for x, y in zip(o, c) if y]
            lines.append(
                f"| {d} on {name} | {statistics.median(c):.2f} ({min(c):.2f}..{max(c):.2f}) | "
                f"{statistics.median(o):.2f} ({min(o):.2f}..{max(o):.2f}) | "
                + (f"{statistics.median(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f}) |"
                   if ratios else "- |"))
    return "\n".join(lines)


def in_guest(script: str, rounds: int, n: int, why: str) -> int:
    """Run scripts/SCRIPT ROUNDS N inside the netmap-vm guest (NETMAP_VM, default
    ../shared/netmap-vm), for what this machine lacks (why)."""
    vm = os.environ.get("NETMAP_VM") or os.path.join(os.path.dirname(ROOT), "shared",
                                                      "netmap-vm")
    run = os.path.join(vm, "run.sh")
    if not os.path.exists(run):
        print(f"bench: {why} here and no netmap-vm guest (set NETMAP_VM)", file=sys.stderr)
        return 2
    cmd = f"{sys.executable} scripts/{script} {rounds} {n}"
    return subprocess.run([run, cmd], cwd=ROOT,
                          env=dict(os.environ, GUEST_TIMEOUT="3000")).returncode


def main(rounds: int, n: int) -> int:
    if not os.path.exists("/dev/netmap"):
        return in_guest("bench_netmap.py", rounds, n, "no /dev/netmap")
    print(table(measure(rounds, n), rounds, n), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
