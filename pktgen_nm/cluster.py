"""One test on many hosts, on Ray (``pip install 'netmap-py[cluster]'``): a plan says
what runs on each node's ports; one actor per (node, port) runs it through the run
API, every one starting at one wall-clock instant; the driver reports each interval
per node and in total, and stops them all together.

    from pktgen_nm import cluster
    plan = cluster.Plan.load("plan.toml")        # or cluster.Plan.from_dict({...})
    with cluster.ClusterRun(plan, address="10.0.0.1:6379") as run:
        for iv in run.intervals():
            print(iv["total"]["pps"])
    print(run.final)

A node is a Ray node that declared the resource ``pktgen_node_<name>`` when it
joined (``ray start --resources '{"pktgen_node_gen1": 100}'``).  A plan file:

    interval = 1.0                  # seconds between reports
    duration = 10                   # seconds for every entry that gives none (0: none)
    [[port]]
    node = "gen1"
    port = "xdp:eth1"
    function = "txseq"              # tx, rx, txseq, rxseq, ping, pong
    count = 1000000                 # rate, burst, duration, engine, stamp: as send()
    traffic = { length = 60, dst_mac = "02:00:00:00:00:02" }
    metrics_port = 9464             # optional: the node serves this entry's metrics
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .api import RUN_FUNCTIONS

RESOURCE = "pktgen_node_"
RUN_KEYS = ("count", "duration", "rate", "burst", "threads", "engine", "stamp", "seed")
TRAFFIC_KEYS = ("length", "min_length", "family", "src", "dst", "src_mac", "dst_mac",
                "random_src", "random_dst")


class PlanError(ValueError):
    """A plan that cannot run: one line saying what is wrong (and where)."""


@dataclass(frozen=True)
class Entry:
    """What runs on one port of one node."""

    node: str
    port: str
    function: str
    run: dict = field(default_factory=dict)        # send()/receive() keywords
    traffic: dict = field(default_factory=dict)    # Traffic fields
    metrics: str | None = None                     # [ADDR:]PORT the node serves it at

    @property
    def name(self) -> str:
        return f"{self.node}/{self.port}"

    @property
    def role(self) -> str:
        """What its packets are in the totals: "received" (rx, rxseq) or "sent"."""
        return "received" if self.function in ("rx", "rxseq") else "sent"


@dataclass(frozen=True)
class Plan:
    entries: tuple
    interval: float = 1.0

    @classmethod
    def load(cls, path: str) -> Plan:
        import tomllib
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise PlanError(f"{path}: {e.strerror or e}") from None
        except tomllib.TOMLDecodeError as e:
            raise PlanError(f"{path}: not TOML: {e}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """{"interval": s, "duration": s, "port": [{node, port, function, ...}, ...]}"""
        if not isinstance(data, dict):
            raise PlanError("a plan is a table: interval, duration and [[port]] entries")
        unknown = set(data) - {"interval", "duration", "port"}
        if unknown:
            raise PlanError(f"unknown plan key(s): {', '.join(sorted(unknown))}")
        interval, duration = data.get("interval", 1.0), data.get("duration", 0)
        for key, v in (("interval", interval), ("duration", duration)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != v:
                raise PlanError(f"{key} = {v!r}: give seconds, a number >= 0")
        if not interval:
            raise PlanError("interval = 0: give seconds > 0")
        ports = data.get("port")
        if not isinstance(ports, list) or not ports:
            raise PlanError("the plan has no [[port]] entry: nothing would run")
        entries = tuple(_entry(i, p, duration) for i, p in enumerate(ports))
        names = [e.name for e in entries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise PlanError(f"{dup[0]} appears twice in the plan: one entry per port")
        return cls(entries, float(interval))


def _entry(i: int, p, duration: float) -> Entry:
    where = f"[[port]] {i + 1}"
    if not isinstance(p, dict):
        raise PlanError(f"{where}: a table (node, port, function, ...)")
    for key in ("node", "port", "function"):
        if not isinstance(p.get(key), str) or not p[key]:
            raise PlanError(f"{where}: {key} is missing (a string)")
    where = f"{where} ({p['node']}/{p['port']})"
    if p["function"] not in RUN_FUNCTIONS:
        raise PlanError(f"{where}: function {p['function']!r}: one of {', '.join(RUN_FUNCTIONS)}")
    unknown = set(p) - {"node", "port", "function", "traffic", "metrics_port", *RUN_KEYS}
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    traffic = p.get("traffic", {})
    if not isinstance(traffic, dict) or set(traffic) - set(TRAFFIC_KEYS):
        raise PlanError(f"{where}: traffic takes {', '.join(TRAFFIC_KEYS)}")
    run = {k: p[k] for k in RUN_KEYS if k in p}
    if duration and "duration" not in run and "count" not in run:
        run["duration"] = duration
    metrics = p.get("metrics_port")
    if metrics is not None:
        from .metrics import parse_address
        try:
            parse_address(str(metrics))
        except ValueError as err:
            raise PlanError(f"{where}: metrics_port {err}") from None
    e = Entry(p["node"], p["port"], p["function"], run, dict(traffic),
              None if metrics is None else str(metrics))
    try:                                # the run API's own checks, here, before any node
        build(e)
    except (TypeError, ValueError) as err:
        raise PlanError(f"{where}: {err}") from None
    return e


def build(e: Entry):
    """The api.Run an entry describes, not started (no port opened)."""
    from .api import prepare
    from .traffic import Traffic
    traffic = Traffic(**e.traffic) if e.function in ("tx", "txseq", "ping") else None
    return prepare(e.function, e.port, traffic, **e.run)


def interval_of(samples: dict, prev: dict, secs: float, roles: dict) -> dict:
    """One report: per entry (pkts, bytes, pps, bps, drops, and the interface's own
    counters over the interval: wire) and the totals of what was sent and what was
    received (roles: entry name -> Entry.role)."""
    zero = {"pkts": 0, "bytes": 0, "drops": 0}
    out, total = {}, {"sent": dict(zero), "received": dict(zero)}
    for name, s in samples.items():
        p = prev.get(name, zero)
        d = {k: s[k] - p[k] for k in zero}
        node, _, port = name.partition("/")
        wire, wire0 = s.get("wire") or {}, p.get("wire") or {}
        out[name] = {"node": node, "port": port, **d, "pps": d["pkts"] / secs,
                     "bps": 8 * d["bytes"] / secs,
                     "wire": {k: v - wire0.get(k, 0) for k, v in wire.items()}}
        for k in zero:
            total[roles[name]][k] += d[k]
    for t in total.values():
        t.update(pps=t["pkts"] / secs, bps=8 * t["bytes"] / secs)
    return {"usec": int(secs * 1e6), "nodes": out, "total": total}


__all__ = ["ClusterRun", "Entry", "Plan", "PlanError", "RESOURCE", "build", "interval_of"]

from .cluster_run import ClusterRun  # noqa: E402  (the driver, which needs Ray)
