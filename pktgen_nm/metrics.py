"""Live figures of a run for Prometheus (``pktgen-nm --metrics-port``), served with
prometheus_client (``pip install 'netmap-py[metrics]'``).  Every scrape reads the
run's counters as they are at that moment; nothing is pushed per packet or interval.

Served, each labelled by port, function and node (the host's name unless given):
  pktgen_packets_total, pktgen_bytes_total, pktgen_batches_total   the run's counters
  pktgen_kernel_drops_total{reason}   frames the backend's kernel side dropped
  pktgen_wire_packets_total{direction}, pktgen_wire_dropped_total{direction}
                                      the interface's own counters, since the start
  pktgen_sequence_total{verdict}      rxseq: received, lost, reordered, duplicated
  pktgen_rtt_seconds                  ping: the round trips (histogram, log2 buckets)
  pktgen_latency_seconds              rxseq with stamps: one-way latency (histogram)
"""
from __future__ import annotations

import socket

from netmap_py import checks

__all__ = ["Exporter", "parse_address", "require", "serve"]


def parse_address(text: str) -> tuple[str, int]:
    """'PORT' (every address) or 'ADDR:PORT' -> (addr, port); ValueError otherwise."""
    addr, _, port = text.rpartition(":")
    try:
        n = int(port)
    except ValueError:
        n = -1
    if not 1 <= n <= 65535:
        raise ValueError(f"{text!r}: give a TCP port 1-65535, or ADDR:PORT")
    return (addr.strip("[]") or "0.0.0.0"), n


def require():
    """prometheus_client and its core module; ValueError saying how to install it."""
    try:
        import prometheus_client
        from prometheus_client import core
    except ImportError:
        raise ValueError("--metrics-port needs prometheus_client: "
                         "pip install 'netmap-py[metrics]'") from None
    return prometheus_client, core


class _Collector:
    """Reads one run at each scrape (prometheus_client's custom-collector protocol)."""

    def __init__(self, labels: dict, ifname: str | None, core):
        self.run, self.labels, self.ifname, self.core = None, labels, ifname, core
        self.wire0: dict = {}

    def attach(self, run, wire0: dict | None) -> None:
        if wire0 is None:
            wire0 = checks.wire_counters(self.ifname) if self.ifname else {}
        self.wire0, self.run = wire0, run

    def _family(self, kind, name: str, doc: str, extra: tuple = ()):
        return kind(name, doc, labels=[*self.labels, *extra])

    def collect(self):
        if self.run is None:                # not started yet: nothing to say
            return
        c, keys = self.core, list(self.labels.values())
        pkts, nbytes, batches = self.run.totals()
        for name, doc, v in (("pktgen_packets", "packets sent or received", pkts),
                             ("pktgen_bytes", "bytes sent or received", nbytes),
                             ("pktgen_batches", "ring batches (syncs that moved packets)",
                              batches)):
            f = self._family(c.CounterMetricFamily, name, doc)
            f.add_metric(keys, v)
            yield f
        yield from self._drops(keys)
        yield from self._wire(keys)
        seq = self.run.sequence()
        if seq:
            f = self._family(c.CounterMetricFamily, "pktgen_sequence",
                             "rxseq's verdict on numbered frames", ("verdict",))
            for k in ("received", "lost", "reordered", "duplicated"):
                f.add_metric(keys + [k], seq[k])
            yield f
        yield from self._histogram(keys)

    def _drops(self, keys):
        drops = self.run.kernel_drops()
        if drops:
            f = self._family(self.core.CounterMetricFamily, "pktgen_kernel_drops",
                             "frames the backend's kernel side dropped", ("reason",))
            for reason, n in sorted(drops.items()):
                f.add_metric(keys + [reason], n)
            yield f

    def _wire(self, keys):
        if not self.ifname:
            return
        now = checks.wire_counters(self.ifname)
        for name, stat, doc in (("pktgen_wire_packets", "packets", "the interface's packets"),
                                ("pktgen_wire_dropped", "dropped", "the interface's drops")):
            f = self._family(self.core.CounterMetricFamily, name, doc + " since the start",
                             ("direction",))
            for d in ("tx", "rx"):
                k = f"{d}_{stat}"
                f.add_metric(keys + [d], max(0, now.get(k, 0) - self.wire0.get(k, 0)))
            yield f

    def _histogram(self, keys):
        h = self.run.rtt_histogram()
        if h is None:
            return
        name, doc = (("pktgen_rtt_seconds", "ping round trips") if self.run.function == "ping"
                     else ("pktgen_latency_seconds", "one-way latency of stamped frames"))
        count, total, hist = h
        buckets, running = [], 0
        for i, n in enumerate(hist):
            running += n
            if n or buckets:
                buckets.append((repr((1 << (i + 1)) / 1e9), running))
        buckets.append(("+Inf", count))
        f = self._family(self.core.HistogramMetricFamily, name, doc)
        f.add_metric(keys, buckets, total / 1e9)
        yield f


class Exporter:
    """An HTTP endpoint serving one run's figures; close() stops it."""

    def __init__(self, server, thread, collector: _Collector):
        self._server, self._thread, self._collector = server, thread, collector

    def attach(self, run, wire0: dict | None = None) -> None:
        """Serve this run's figures (an api.Run) from now on; wire0: the interface's
        counters at the start, when the caller has read them already."""
        self._collector.attach(run, wire0)

    @property
    def port(self) -> int:
        return self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(address: str, run=None, *, port: str, function: str, ifname: str | None = None,
          node: str | None = None) -> Exporter:
    """Serve a run's figures at address ('PORT' or 'ADDR:PORT'): run's, or the one
    attach() gives later; ValueError for a bad address, a missing prometheus_client or
    a port already taken."""
    addr, n = parse_address(address)
    prom, core = require()
    reg = prom.CollectorRegistry(auto_describe=False)
    labels = {"port": port, "function": function, "node": node or socket.gethostname()}
    coll = _Collector(labels, ifname, core)
    reg.register(coll)
    try:
        server, thread = prom.start_http_server(n, addr=addr, registry=reg)
    except OSError as e:
        raise ValueError(f"--metrics-port {address}: cannot listen there "
                         f"({e.strerror or e})") from None
    ex = Exporter(server, thread, coll)
    if run is not None:
        ex.attach(run)
    return ex
