"""Random sequences of API calls on real ports (hypothesis' stateful testing): open,
views, writes, index and length setters, head/cur moves, syncs, swaps, workers started
and stopped, close.  Every call must either work or raise a Python exception; the
process must never die; after each run every port closes and every count balances.

The unit tier runs it on loop: ports (tests/unit/test_api_fuzz.py); the lab tier runs
this file as a script inside a namespace on packet: and xdp: ports:

    python tests/apifuzz.py --prefix packet:veth0 --examples 20
"""
from __future__ import annotations

import argparse
import json
import sys
import threading

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import netmap_py
from netmap_py import _core

# what a call may raise: anything else, or a dead process, is a bug
EXPECTED = (ValueError, IndexError, BufferError, OSError, OverflowError, TypeError)
U32 = st.integers(0, 2**32 - 1)


def pick(data, items):
    """One of items.  The draw never depends on the state (how many items there are,
    which port is closed: with worker threads that is timing), so that hypothesis
    can replay and shrink a failing sequence."""
    k = data.draw(st.integers(0, 2**16))
    return items[k % len(items)] if items else None


def machine_for(prefix: str, slot_choices: tuple[int, ...], max_ports: int = 3):
    """A state machine class whose ports are ``prefix`` (``loop:f`` or ``packet:IF``)."""

    class PortMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.ports: list = []
            self.views: list = []
            self.workers: list = []
            self.serial = 0

        # -- helpers --------------------------------------------------------------
        def call(self, fn, *args):
            try:
                return fn(*args)
            except EXPECTED:
                return None

        def ring_of(self, data):
            port = pick(data, self.ports)
            k = data.draw(st.integers(0, 2**16))
            if port is None or port.closed:
                return None
            rings = self.call(lambda: port.tx_rings + port.rx_rings)
            return rings[k % len(rings)] if rings else None

        def slot_of(self, data):
            ring = self.ring_of(data)
            k = data.draw(st.integers(0, 2**16))
            if ring is None:
                return None
            return self.call(lambda: ring.slot(k % ring.num_slots))

        # -- rules ----------------------------------------------------------------
        # no precondition may depend on what a call did (with worker threads running,
        # that is timing): hypothesis must be able to replay every sequence
        @precondition(lambda self: len(self.ports) < 2 * max_ports)
        @rule(rings=st.integers(1, 3), slots=st.sampled_from(slot_choices),
              shared=st.booleans())
        def open(self, rings, slots, shared):
            if len([p for p in self.ports if not p.closed]) >= max_ports:
                return
            self.serial += 1
            name = f"{prefix}{self.serial}" if prefix.startswith("loop:") else prefix
            if shared and prefix.startswith("loop:"):
                group = self.call(lambda: netmap_py.open_group(
                    [f"{name}a@conf:rings={rings}", f"{name}b@conf:rings={rings}"], slots=slots))
                self.ports += group or []
                return
            p = self.call(netmap_py.open, f"{name}@conf:rings={rings},slots={slots}")
            if p is not None:
                self.ports.append(p)

        @precondition(lambda self: self.ports)
        @rule(data=st.data())
        def close(self, data):
            self.call(pick(data, self.ports).close)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), whole=st.booleans())
        def take_view(self, data, whole):
            s = self.slot_of(data)
            if s is not None:
                v = self.call(lambda: s.buffer if whole else s.data)
                if v is not None:
                    self.views.append(v)

        @rule(data=st.data())
        def release_view(self, data):
            k = data.draw(st.integers(0, 2**16))
            if self.views:      # by position: == on memoryviews compares their bytes
                self.views.pop(k % len(self.views)).release()

        @rule(data=st.data(), value=st.integers(0, 255))
        def write_through_view(self, data, value):
            v = pick(data, self.views)
            k = data.draw(st.integers(0, 2**16))
            if v is not None and len(v):
                self.call(v.__setitem__, k % len(v), value)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), size=st.integers(0, 4200))
        def write(self, data, size):
            s = self.slot_of(data)
            if s is not None:
                self.call(s.write, bytes(size))

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), value=U32)
        def set_buf_idx(self, data, value):
            s = self.slot_of(data)
            if s is not None:
                self.call(setattr, s, "buf_idx", value)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), value=st.integers(-10, 5000))
        def set_len(self, data, value):
            s = self.slot_of(data)
            if s is not None:
                self.call(setattr, s, "len", value)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), flags=st.integers(0, 0xFFFF), ptr=st.integers(0, 2**64 - 1))
        def set_flags_and_ptr(self, data, flags, ptr):
            s = self.slot_of(data)
            if s is not None:
                self.call(setattr, s, "flags", flags)
                self.call(setattr, s, "ptr", ptr)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), which=st.sampled_from(["head", "cur"]), value=st.integers(0, 70))
        def move(self, data, which, value):
            r = self.ring_of(data)
            if r is not None:
                self.call(setattr, r, which, value)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), n=st.integers(0, 70))
        def advance(self, data, n):
            r = self.ring_of(data)
            if r is not None:
                self.call(r.advance, n)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), what=st.sampled_from(["txsync", "rxsync", "poll"]))
        def sync(self, data, what):
            p = pick(data, self.ports)
            if what == "poll":
                self.call(p.poll, netmap_py.POLLIN | netmap_py.POLLOUT, 0)
            else:
                self.call(getattr(p, what))

        @precondition(lambda self: self.ports)
        @rule(data=st.data())
        def read(self, data):
            s = self.slot_of(data)
            if s is not None:
                self.call(s.tobytes)

        @precondition(lambda self: len(self.ports) >= 1)
        @rule(data=st.data())
        def swap(self, data):
            a, b = self.slot_of(data), self.slot_of(data)
            if a is not None and b is not None:
                self.call(a.swap, b)

        @precondition(lambda self: self.ports)
        @rule(data=st.data(), func=st.sampled_from(["tx", "rx", "txseq", "pong"]),
              limit=st.integers(1, 300))
        def start_worker(self, data, func, limit):
            from pktgen_nm import _engine
            from pktgen_nm import packet as P
            port = pick(data, self.ports)
            if len(self.workers) >= 2:
                return
            frame = P.build_frame(60) if func in ("tx", "txseq") else None
            w = self.call(lambda: _engine.Worker(port, func, frame=frame, limit=limit,
                                                 duration=0.2, burst=8))
            if w is None:
                return
            errors: list = []

            def body():
                try:
                    w.run()
                except EXPECTED as e:
                    errors.append(e)
            t = threading.Thread(target=body, daemon=True)
            t.start()
            self.workers.append((w, t, errors))

        @rule(data=st.data())
        def stop_worker(self, data):
            k = data.draw(st.integers(0, 2**16))
            if not self.workers:
                return
            w, t, _ = self.workers.pop(k % len(self.workers))
            w.cancel()
            t.join(timeout=10)
            assert not t.is_alive(), "a cancelled worker did not stop"

        @invariant()
        def counts_are_sane(self):
            c = _core.debug_counters()
            assert c["views_alive"] >= len(self.views)
            for p in self.ports:
                if not p.closed:
                    assert p.tx_invalid >= 0 and p.tx_dropped >= 0

        def teardown(self):
            for w, t, _ in self.workers:
                w.cancel()
                t.join(timeout=10)
                assert not t.is_alive()
            for v in self.views:
                v.release()
            for p in self.ports:
                p.close()               # nothing holds them now: this must work
                assert p.closed

    return PortMachine


def run(prefix: str, slot_choices, examples: int, steps: int = 30) -> dict:
    before = _core.debug_counters()
    machine = machine_for(prefix, tuple(slot_choices))
    machine.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
        suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
    after = _core.debug_counters()
    return {"ports_open": after["ports_open"] - before["ports_open"],
            "views_alive": after["views_alive"] - before["views_alive"],
            "ports_opened": after["ports_opened"] - before["ports_opened"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--slots", default="64,256")
    ap.add_argument("--examples", type=int, default=20)
    o = ap.parse_args()
    result = run(o.prefix, [int(x) for x in o.slots.split(",")], o.examples)
    print(json.dumps(result))
    return 0 if result["ports_open"] == result["views_alive"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
