"""RFC 2544 throughput of the lab's devices (scripts/bench.py --only rfc2544): the
Linux bridge against nm-bridge in namespace B, on AF_XDP (our loop) and with --engine
kernel (XDP redirect); 64-byte frames, the kernel engine sending from A (the ring
engine cannot offer enough here), an AF_XDP receiver in C.  A kernel-engine sender's
XDP frames need an XDP program on B's side: nm-bridge has its own, the Linux bridge
gets one that passes everything."""
from __future__ import annotations

import statistics
import sys

from pktgen_nm import rfc2544 as R
from pktgen_nm.lab import VethLab
from pktgen_nm.labdut import Dut

DUTS = ("bridge", "nm-bridge", "nm-bridge-kernel")
NAMES = {"bridge": "Linux bridge in B", "nm-bridge": "nm-bridge -i xdp: -i xdp: in B",
         "nm-bridge-kernel": "nm-bridge --engine kernel in B"}


def search(kind: str, max_rate: float, secs: float) -> R.SearchResult:
    with VethLab(tag="b25", three=True) as lab:
        lab.wait_carrier()
        backend = "kernel" if kind == "nm-bridge-kernel" else "xdp"
        with Dut(lab, kind.replace("-kernel", ""), backend=backend) as d:
            sink = lab.xdp_sink("B", lab.dev_b, "pass") if kind == "bridge" else None
            try:
                s = R.Setup(tx=lab.dev_a, rx=f"xdp:{lab.dev_c}", dst_mac=d.dst_mac,
                            max_rate=max_rate, duration=secs, resolution=max_rate / 50,
                            pause=0.3, tx_netns=lab.ns("A"), rx_netns=lab.ns("C"),
                            engine="kernel")
                return R.throughput(s, 64)
            finally:
                if sink is not None:
                    sink.terminate()
                    sink.wait()


def table(rounds: int, secs: float, max_rate: float = 1_500_000) -> str:
    found: dict = {k: [] for k in DUTS}
    notes: dict = {k: set() for k in DUTS}
    for _ in range(rounds):
        for k in DUTS:
            r = search(k, max_rate, secs)
            print(f"  {k}: {r.value} ({len(r.trials)} trials) {r.note}", file=sys.stderr)
            found[k].append(r.value or 0.0)
            if r.note:
                notes[k].add("generator-limited" if "generator" in r.note else r.note)
    base = statistics.median(found["bridge"]) or 1.0
    out = ["| RFC 2544 throughput, 64-byte frames, A -> B -> C | kpps, zero loss "
           "(median) | rounds | vs Linux bridge | note |", "|---|---|---|---|---|"]
    for k in DUTS:
        m = statistics.median(found[k])
        name = NAMES[k]
        out.append(f"| {name} | {m / 1e3:.0f} | {', '.join(f'{v / 1e3:.0f}' for v in found[k])}"
                   f" | {m / base:.2f} | {'; '.join(sorted(notes[k]))} |")
    return "\n".join(out)
