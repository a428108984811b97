#!/usr/bin/env python3
"""Our kernel engine against the kernel's pktgen module, one script, in one guest boot.

    scripts/bench.py --only kpktgen [--rounds 3] [--packets 1000000]

Where /proc/net/pktgen cannot be had (no module here), this re-runs itself inside the
netmap-vm guest (NETMAP_VM, default ../shared/netmap-vm), whose kernel loads pktgen.
The guest's CPU is emulated, so only the ratios within this one run mean anything.
Each round runs the same pgset script (60-byte frames, unpaced, clone_skb 0 as a veth
demands) with `pktgen-nm pgset --engine kpktgen`, then with our kernel engine, into a
pktgen-nm rx on the xdp: backend of the veth's peer; the rate is each one's own
"Result:" pps.  Prints medians, the spread and the median of the per-round ratios.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)
OURS = [sys.executable, "-m", "pktgen_nm"]
A, B = "bkpa", "bkpb"

SCRIPT = """PGDEV=/proc/net/pktgen/kpktgend_0
pgset "rem_device_all"
pgset "add_device {dev}"
PGDEV=/proc/net/pktgen/{dev}
pgset "count {n}"
pgset "clone_skb 0"
pgset "pkt_size 60"
pgset "delay 0"
pgset "dst 10.10.11.2"
pgset "dst_mac {mac}"
PGDEV=/proc/net/pktgen/pgctrl
pgset "start"
"""


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _pair() -> str:
    _sh("ip", "link", "add", A, "type", "veth", "peer", "name", B)
    for d in (A, B):
        with open(f"/proc/sys/net/ipv6/conf/{d}/disable_ipv6", "w") as f:
            f.write("1")
        _sh("ip", "link", "set", d, "up")
    with open(f"/sys/class/net/{B}/address") as f:
        return f.read().strip()


def _one(engine: str, path: str) -> int:
    rx = subprocess.Popen(OURS + ["-i", f"xdp:{B}", "-f", "rx", "-W", "-w", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(2)                       # its XDP program on B: veth takes XDP frames then
    tx = subprocess.run(OURS + ["pgset", path, "--engine", engine], capture_output=True,
                        text=True, env=ENV, timeout=600)
    rx.communicate(timeout=60)
    m = re.search(r"^  (\d+)pps", tx.stdout, re.M)
    if tx.returncode or not m:
        raise SystemExit(f"bench kpktgen: {engine}: {tx.stderr.strip() or tx.stdout}")
    return int(m.group(1))


def measure(rounds: int, n: int) -> dict:
    if subprocess.run(["modprobe", "pktgen"], capture_output=True).returncode:
        raise SystemExit("bench kpktgen: the pktgen module does not load here")
    mac = _pair()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write(SCRIPT.format(dev=A, n=n, mac=mac))
        out = {"kpktgen": [], "kernel": []}
        for _ in range(rounds):
            for engine in out:
                out[engine].append(_one(engine, f.name))
        return out
    finally:
        subprocess.run(["ip", "link", "del", A], capture_output=True)
        os.unlink(f.name)


def table(res: dict, rounds: int, n: int) -> str:
    ratios = [k / m for k, m in zip(res["kernel"], res["kpktgen"])]
    rows = ["| sender (guest, veth, 60-byte frames, unpaced) | kpps, median | min..max |",
            "|---|---|---|"]
    for name, key in (("pktgen module (`--engine kpktgen`)", "kpktgen"),
                      ("our kernel engine (XDP live frames)", "kernel")):
        v = res[key]
        rows.append(f"| {name} | {statistics.median(v) / 1e3:.0f} | "
                    f"{min(v) / 1e3:.0f}..{max(v) / 1e3:.0f} |")
    rows.append(f"\nours / module, median of {rounds} rounds of {n} frames: "
                f"{statistics.median(ratios):.2f} (per round: "
                f"{', '.join(f'{r:.2f}' for r in ratios)})")
    return "\n".join(rows)


def main(rounds: int, n: int) -> int:
    if shutil.which("modprobe"):
        subprocess.run(["modprobe", "pktgen"], capture_output=True)
    if not os.path.isdir("/proc/net/pktgen"):           # no module here: the guest's
        from bench_netmap import in_guest
        return in_guest("bench_kpktgen.py", rounds, n, "no pktgen module")
    print(table(measure(rounds, n), rounds, n), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
