"""The bridge as a run of the API: two ports opened in one memory region where they
can share one (zero-copy), forwarded both ways on a thread until stopped.

    from pktgen_nm.bridging import bridge
    with bridge("xdp:veth1", "xdp:veth2", duration=10) as br:
        for iv in br.intervals():
            print(iv["a_to_b"]["pkts"])
    print(br.result["a_to_b"]["pkts"], br.result["zero_copy"])
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import netmap_py

from .results import SCHEMA
from .runner import kernel_drops

DIRECTIONS = ("a_to_b", "b_to_a")


def open_pair(specs) -> tuple:
    """(a, b, how): one memory region where the backends allow it, else each its own."""
    try:
        a, b = netmap_py.open_group(specs)
        return a, b, "one memory region"
    except OSError as e:
        if e.errno in (1, 2, 13, 19):   # EPERM ENOENT EACCES ENODEV: no point trying apart
            raise
        why = e.strerror
    a = netmap_py.open(specs[0])
    try:
        b = netmap_py.open(specs[1])
    except BaseException:
        a.close()
        raise
    return a, b, f"separate regions ({why})"


@dataclass(frozen=True)
class BridgeOptions:
    """burst: slots per batch; copy: copy even where buffers could be swapped;
    drop_udp_port: the built-in C filter; duration (s, 0: until stop()); interval:
    seconds between intervals()."""

    burst: int = 512
    copy: bool = False
    drop_udp_port: int | None = None
    duration: float = 0.0
    interval: float = 1.0

    def __post_init__(self):
        if not isinstance(self.burst, int) or not 1 <= self.burst <= 65536:
            raise ValueError(f"burst={self.burst!r}: give 1 to 65536")
        if self.duration < 0 or self.interval <= 0:
            raise ValueError("duration must be >= 0 and interval > 0 (seconds)")


class _Intervals:
    """intervals() over _counters() ({direction: {pkts, bytes, batches, dropped}}), for
    a run with alive(), stop(), interval, duration and _t0/_last_t/_prev."""

    def intervals(self):
        """Yield {"usec", "a_to_b": {...}, "b_to_a": {...}} every interval seconds until
        the bridge stops or the duration is over (then it is stopped)."""
        while self.alive():
            end = time.monotonic() + self.interval
            while self.alive() and time.monotonic() < end:
                time.sleep(min(0.05, max(0.0, end - time.monotonic())))
            now, cur = time.monotonic(), self._counters()
            iv = {"schema": SCHEMA, "type": "interval", "usec": int((now - self._last_t) * 1e6),
                  **{d: {k: cur[d][k] - self._prev[d][k] for k in cur[d]} for d in cur}}
            self._prev, self._last_t = cur, now
            yield iv
            if self.duration and now - self._t0 >= self.duration:
                self.stop()


class BridgeRun(_Intervals):
    """nm-bridge's work: start(), intervals() (a dict per direction: pkts, bytes,
    batches, dropped), stop(), join() -> result; a context manager like Run.  owned:
    join() closes the ports."""

    def __init__(self, a, b, opts: BridgeOptions = BridgeOptions(), how: str = "",
                 owned: bool = True):
        self.a, self.b, self.how, self._owned = a, b, how, owned
        self.duration, self.interval = opts.duration, opts.interval
        self.br = netmap_py.Bridge(a, b, burst=opts.burst, copy=opts.copy)
        if opts.drop_udp_port is not None:
            self.br.drop_udp_port(opts.drop_udp_port)
        self.errors: list[BaseException] = []
        self.result: dict | None = None
        self._t: threading.Thread | None = None
        self._t0 = self._last_t = time.monotonic()
        self._prev = self._counters()

    @property
    def zero_copy(self) -> bool:
        return self.br.zero_copy

    def start(self) -> BridgeRun:
        def work():
            try:
                self.br.run()
            except BaseException as e:  # handed to the caller at join()
                self.errors.append(e)
        self._t = threading.Thread(target=work, name="nm-bridge", daemon=True)
        self._t0 = self._last_t = time.monotonic()
        self._t.start()
        return self

    def alive(self) -> bool:
        return self._t is not None and self._t.is_alive()

    def stop(self) -> None:
        self.br.stop()

    def _counters(self) -> dict:
        return self.br.counters()

    def join(self) -> dict:
        """Wait for the thread, then the final counters; the ports are closed (if
        this run opened them).  Raises what the bridge raised."""
        if self._t is not None:
            self._t.join()
        if self.result is None:
            a, b = self.a, self.b
            self.result = {"schema": SCHEMA, "type": "final",
                           "seconds": round(time.monotonic() - self._t0, 3),
                           "zero_copy": self.br.zero_copy,
                           "copied_by_backend": a.copied_packets + b.copied_packets,
                           "kernel_drops": kernel_drops([a, b]),
                           "tx_dropped": a.tx_dropped + b.tx_dropped, **self.br.counters()}
            if self._owned:
                a.close()
                b.close()
        if self.errors:
            raise self.errors[0]
        return self.result

    def __enter__(self) -> BridgeRun:
        return self if self._t is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        try:
            self.join()
        finally:
            if self._owned:
                self.a.close()
                self.b.close()


def bridge(port_a: str, port_b: str, **kw) -> BridgeRun:
    """Open both ports and start forwarding between them; kw: BridgeOptions."""
    opts = BridgeOptions(**kw)          # checked before anything opens
    specs = [netmap_py.PortSpec.parse(p) for p in (port_a, port_b)]
    a, b, how = open_pair(specs)
    try:
        return BridgeRun(a, b, opts, how).start()
    except BaseException:
        a.close()
        b.close()
        raise
