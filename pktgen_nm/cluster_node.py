"""What runs on each node of a cluster run: one NodeWorker per (node, port), made a
Ray actor by the driver (pktgen_nm.cluster_run).  It checks that its node can run
its entry, then runs the entry through the run API from a common instant."""
from __future__ import annotations

import os

from .cluster import Entry, build


class NodeWorker:
    """One plan entry on this node: check(), start(at), sample(), stop(), finish()."""

    def __init__(self, entry: Entry):
        self.entry, self.run, self.ifname, self.wire0 = entry, None, None, {}
        self.exporter = None

    def check(self) -> str | None:
        """None when this node can run the entry (interface there and up, the
        permission, the backend opens the port), else why not, in one line."""
        import netmap_py
        from netmap_py import checks

        from .plan import directed
        e = self.entry
        try:
            spec = netmap_py.PortSpec.parse(e.port)
        except ValueError as err:
            return f"bad port {e.port}: {err}"
        if spec.ifname is not None and spec.backend != "loop":
            info = checks.interface(spec.ifname)
            if not info.exists:
                return info.facts[0].sentence
            if not info.up:
                return f"{spec.ifname} is down: ip link set {spec.ifname} up"
            if os.geteuid() != 0 and spec.backend != "netmap":
                return "no permission: opening packet ports needs root (CAP_NET_RAW, CAP_NET_ADMIN)"
            self.ifname = spec.ifname
        try:
            netmap_py.open(directed(spec, e.function)).close()
        except (OSError, ValueError) as err:
            return f"cannot open {e.port}: {err}"
        return None

    def start(self, at: float) -> float:
        """Open the port, then start at the wall-clock instant at; when it started."""
        from netmap_py import checks
        self.wire0 = checks.wire_counters(self.ifname) if self.ifname else {}
        self.run = build(self.entry)
        if self.entry.metrics:
            from . import metrics
            self.exporter = metrics.serve(self.entry.metrics, port=self.entry.port,
                                          function=self.entry.function, ifname=self.ifname,
                                          node=self.entry.node)
        self.run.start(at=at)
        if self.exporter is not None:
            self.exporter.attach(self.run, self.wire0)
        return self.run.started_at

    def sample(self) -> dict:
        """The counters now: pkts, bytes, drops (the kernel's), alive, sequence, wire."""
        r = self.run
        pkts, nbytes, _ = r.totals()
        return {"pkts": pkts, "bytes": nbytes, "drops": sum(r.kernel_drops().values()),
                "alive": r.alive(), "sequence": r.sequence(), "wire": self._wire()}

    def _wire(self) -> dict:
        from netmap_py import checks
        if not self.ifname:
            return {}
        now = checks.wire_counters(self.ifname)
        return {k: now[k] - self.wire0.get(k, 0) for k in now}

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()

    def finish(self) -> dict:
        """Wait for the end (at most 30 s after stop()); the result as a dict."""
        res = self.run.finish(timeout=30)
        if self.exporter is not None:
            self.exporter.close()
        return {**res.to_dict(), "wire": self._wire(), "kernel_drops": self.run.kernel_drops()}
