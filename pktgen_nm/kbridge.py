"""nm-bridge --engine kernel: the bridge in XDP.  Each of the two interfaces gets a
program that counts a frame (packets and bytes, per direction, in one map) and
redirects it to the other interface, so frames never reach user space; this module
writes the programs (with pktgen_nm.bpf) and runs them as a BridgeRun does.

    from pktgen_nm.kbridge import KernelBridgeRun
    with KernelBridgeRun("veth1", "veth2", duration=10) as br:
        for iv in br.intervals():
            print(iv["a_to_b"]["pkts"])
"""
from __future__ import annotations

import socket
import time

from . import bpf
from .bpf import R0, R1, R2, R6, R7, R9
from .bridging import DIRECTIONS, _Intervals
from .results import SCHEMA

STATE_SIZE = 32                         # per direction: packets, bytes (u64 each)
FUNC_XDP_GET_BUFF_LEN = 188             # bpf_xdp_get_buff_len (kernel >= 5.18)


def program(map_fd: int, direction: int, out_ifindex: int) -> bytes:
    """Count the frame in direction's counters, then redirect it out of out_ifindex."""
    a = bpf.Asm()
    a.mov(R6, R1)
    a.call(FUNC_XDP_GET_BUFF_LEN)
    a.mov(R7, R0)
    a.map_value(R9, map_fd, 0)
    a.mov(R0, 1, imm=True)
    a.atomic_add(8, R9, 16 * direction, R0)
    a.atomic_add(8, R9, 16 * direction + 8, R7)
    a.mov(R1, out_ifindex, imm=True)
    a.mov(R2, 0, imm=True)
    a.call(bpf.FUNC_REDIRECT)
    a.exit()
    return a.assemble()


def _ifindex(port: str) -> int:
    name = port.split(":", 1)[1] if port.startswith("xdp:") else port
    if not name or any(c in name for c in ":@^{}/"):
        raise ValueError(f"--engine kernel bridges two interfaces: name them alone (eth1 "
                         f"or xdp:eth1), not {port!r}")
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise ValueError(f"no interface named {name!r}") from None


class KernelBridgeRun(_Intervals):
    """The same life as bridging.BridgeRun: start() attaches both programs,
    intervals() reads the counters, stop() and join() detach and give the result."""

    def __init__(self, port_a: str, port_b: str, duration: float = 0.0, interval: float = 1.0):
        if duration < 0 or interval <= 0:
            raise ValueError("duration must be >= 0 and interval > 0 (seconds)")
        self.ports = (port_a, port_b)
        self.ends = (_ifindex(port_a), _ifindex(port_b))
        if self.ends[0] == self.ends[1]:
            raise ValueError("give two different interfaces")
        self.duration, self.interval = duration, interval
        self.zero_copy = False
        self.result: dict | None = None
        self.errors: list = []
        self._kb = None
        self._stopped = False
        self._t0 = self._last_t = time.monotonic()
        self._prev = self._counters()

    @property
    def native(self) -> tuple:
        return self._kb.native if self._kb is not None else (False, False)

    def start(self) -> KernelBridgeRun:
        from ._engine import KernelBridge
        if self._kb is not None:
            return self
        self._kb = KernelBridge(*self.ends)
        self._t0 = self._last_t = time.monotonic()
        return self

    def alive(self) -> bool:
        return self._kb is not None and not self._stopped

    def stop(self) -> None:
        self._stopped = True

    def _counters(self) -> dict:
        c = self._kb.counters() if self._kb is not None else ((0, 0), (0, 0))
        return {d: {"pkts": c[i][0], "bytes": c[i][1], "batches": 0, "dropped": 0}
                for i, d in enumerate(DIRECTIONS)}      # no batches of ours: the kernel's

    def join(self) -> dict:
        """Detach both programs; the final counters."""
        if self.result is None and self._kb is not None:
            self.result = {"schema": SCHEMA, "type": "final", "engine": "kernel",
                           "seconds": round(time.monotonic() - self._t0, 3),
                           "zero_copy": False, "copied_by_backend": 0, "kernel_drops": {},
                           "tx_dropped": 0, **self._counters()}
            self._kb.close()
        return self.result

    def __enter__(self) -> KernelBridgeRun:
        return self if self._kb is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.join()
