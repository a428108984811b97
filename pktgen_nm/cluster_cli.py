"""pktgen-nm cluster PLAN: one test on many hosts (Ray); see pktgen_nm.cluster."""
from __future__ import annotations

import json
import sys

from .args import Parser, UsageError, guarded, number
from .report import log, norm

PROG = "pktgen-nm cluster"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Run a plan's ports on the nodes of a Ray cluster, "
                                      "started together, reported per node and in total.")
    p.add_argument("plan", metavar="PLAN", help="the plan (TOML; see the README)")
    p.add_argument("--address", metavar="RAY_ADDRESS",
                   help="the cluster's head (HOST:6379; default: RAY_ADDRESS, or this host's)")
    p.add_argument("-T", metavar="MS", type=number, help="report interval (default: the plan's)")
    p.add_argument("--json", action="store_true", help="one JSON object per report and at the end")
    return p


def run(argv) -> int:
    import dataclasses

    from . import cluster
    o = build_parser().parse_args(argv)
    try:
        plan = cluster.Plan.load(o.plan)
        if o.T is not None:
            if not o.T > 0:
                raise cluster.PlanError(f"-T {o.T:g}: give milliseconds > 0")
            plan = dataclasses.replace(plan, interval=o.T / 1000)
        cr = cluster.ClusterRun(plan, o.address)
        cr.start()
    except cluster.PlanError as e:
        raise UsageError(str(e)) from None
    nodes = {e.node for e in plan.entries}
    log(f"cluster: {len(plan.entries)} ports on {len(nodes)} nodes, started together; "
        f"start skew {cr.skew * 1e3:.3f} ms (the last {cr.late * 1e3:.3f} ms after the instant)")
    try:
        for iv in cr.intervals():
            _interval(o, iv)
    except KeyboardInterrupt:
        log("received control-C: stopping every node")
    final = cr.finish()
    _final(o, final)
    return 1 if final["failed"] else 0


def _interval(o, iv: dict) -> None:
    if o.json:
        print(json.dumps({"type": "interval", **iv}), flush=True)
        return
    for name, d in iv["nodes"].items():
        w = d["wire"]
        wire = (f"; wire tx {w.get('tx_packets', 0)} rx {w.get('rx_packets', 0)} drops "
                f"{w.get('tx_dropped', 0) + w.get('rx_dropped', 0)}") if w else ""
        log(f"{name}: {norm(d['pps'], True)}pps ({norm(d['bps'], True)}bps) drops {d['drops']}"
            f"{wire}", func="cluster")
    s, r = iv["total"]["sent"], iv["total"]["received"]
    log(f"total: sent {norm(s['pps'], True)}pps ({norm(s['bps'], True)}bps), received "
        f"{norm(r['pps'], True)}pps ({norm(r['bps'], True)}bps), drops {r['drops']} "
        f"in {iv['usec']} usec", func="cluster")


def _final(o, final: dict) -> None:
    if o.json:
        print(json.dumps({"type": "final", **final}), flush=True)
        return
    for name, r in final["entries"].items():
        seq = r.get("sequence")
        extra = (f"; sequence: {seq['received']} checked, {seq['lost']} lost, "
                 f"{seq['reordered']} reordered, {seq['duplicated']} duplicated") if seq else ""
        print(f"{name}: {r['function']} {r['pkts']} packets {r['bytes']} bytes in "
              f"{r['seconds']:.2f} seconds{extra}")
    s, r = final["total"]["sent"], final["total"]["received"]
    print(f"total: sent {s['pkts']} packets {s['bytes']} bytes, received {r['pkts']} packets "
          f"{r['bytes']} bytes; start skew {(final['skew_s'] or 0) * 1e3:.3f} ms")
    for name, f in final["failed"].items():
        last = f["last"] or {}
        print(f"FAILED {name}: {f['why']}; it had done {last.get('pkts', 0)} packets "
              f"{last.get('bytes', 0)} bytes")


def main(argv=None) -> int:
    return guarded(PROG, run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
