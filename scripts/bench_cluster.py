"""The cluster's aggregate against one node alone (scripts/bench.py --only cluster): a
lab cluster (pktgen_nm.labcluster: the sink and two generator nodes, each raylet in
its own namespace), 60-byte frames at full speed from one generator, then from both
at once, counted by AF_XDP receivers on the sink; for the ring and kernel engines.
Also the start skew each run reports."""
from __future__ import annotations

import json
import statistics
import sys

from pktgen_nm.labcluster import LabCluster


def _plan(lc, gens, engine: str, secs: float) -> str:
    out = ["interval = 1.0"]
    for g in lc.senders:
        out += ["[[port]]", 'node = "sink"', f'port = "xdp:{lc.data[g][1]}"', 'function = "rx"',
                f"duration = {secs + 4}"]
    for g in gens:
        port = lc.data[g][0] if engine == "kernel" else f"xdp:{lc.data[g][0]}"
        out += ["[[port]]", f'node = "{g}"', f'port = "{port}"', 'function = "tx"',
                f"duration = {secs}", f'engine = "{engine}"']
    return "\n".join(out) + "\n"


def one(lc, gens, engine: str, secs: float) -> tuple[float, float]:
    """(packets per second received in all, start skew s) of one run."""
    path = f"{lc.temp}-plan.toml"
    with open(path, "w") as f:
        f.write(_plan(lc, gens, engine, secs))
    r = lc.driver([sys.executable, "-m", "pktgen_nm.cli", "cluster", path, "--address",
                   lc.address, "--json"], timeout=secs + 120)
    if r.returncode:
        raise RuntimeError(f"cluster run failed: {r.stderr.strip()[-500:]}")
    final = json.loads(r.stdout.splitlines()[-1])
    sent = [e for e in final["entries"].values() if e["function"] == "tx"]
    secs_run = max(e["seconds"] for e in sent)
    return final["total"]["received"]["pkts"] / secs_run, final["skew_s"]


def table(rounds: int, secs: float) -> str:
    rows = ["| cluster, 60-byte frames, full speed | one node alone, kpps | two nodes, kpps | "
            "ratio to 2 x alone | start skew, ms (median) |", "|---|---|---|---|---|"]
    with LabCluster(tag="b") as lc:
        for engine in ("ring", "kernel"):
            alone, both, skews = [], [], []
            for _ in range(rounds):
                pps, skew = one(lc, lc.senders[:1], engine, secs)
                alone.append(pps)
                skews.append(skew)
                pps, skew = one(lc, lc.senders, engine, secs)
                both.append(pps)
                skews.append(skew)
            a, b = statistics.median(alone), statistics.median(both)
            rows.append(f"| {engine} engine | {a / 1e3:.0f} | {b / 1e3:.0f} | {b / (2 * a):.2f} | "
                        f"{statistics.median(skews) * 1e3:.3f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(int(sys.argv[1]) if len(sys.argv) > 1 else 2,
                float(sys.argv[2]) if len(sys.argv) > 2 else 3))
