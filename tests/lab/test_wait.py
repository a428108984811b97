"""netmap_py.wait(): one sleep over several ports of different backends, each of two
queues, that wakes for the port that got traffic and times out when none did."""
import threading
import time

import pytest

import netmap_py as nm


def frame(dst: str, n: int) -> bytes:
    mac = bytes.fromhex(dst.replace(":", ""))
    return mac + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes([n % 256]) * 46


@pytest.mark.parametrize("backend", ["packet", "xdp"])
def test_wait_wakes_for_the_port_that_got_traffic(lab3, backend):
    lab = lab3
    with lab.inside("A"):
        tx = nm.open(f"{backend}:{lab.dev_a}")
    with lab.inside("B"):
        from_a = nm.open(f"{backend}:{lab.dev_b}")      # both queues: two sockets
        from_c = nm.open(f"{backend}:{lab.dev_b2}")
    loop = nm.open("loop:wait")                          # no descriptor at all
    ports = [from_c, from_a, loop]
    try:
        assert from_a.rx_rings and len(from_a.rx_rings) == 2
        t0 = time.monotonic()
        assert nm.wait(ports, timeout_ms=300) == []
        assert time.monotonic() - t0 >= 0.28, "the timeout is the whole wait's"
        dst = lab.mac("B", lab.dev_b)
        sender = threading.Timer(0.2, lambda: tx.send([frame(dst, i) for i in range(8)]))
        sender.start()
        try:
            t0 = time.monotonic()
            ready = nm.wait(ports, timeout_ms=10_000)
            woke = time.monotonic() - t0
        finally:
            sender.join()
        assert [(p, ev) for p, ev in ready] == [(from_a, nm.POLLIN)], ready
        assert woke < 5, f"woke after {woke:.1f} s: the frames did not wake the wait"
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 8 and time.monotonic() < deadline:
            views = from_a.recv(max=64, timeout_ms=100)
            got += [bytes(v) for v in views]
            for v in views:
                v.release()
        assert sorted(g[14] for g in got) == list(range(8))
        # room to send: every TX ring of an idle port is ready for POLLOUT at once
        assert nm.wait([(from_c, nm.POLLOUT)], timeout_ms=0) == [(from_c, nm.POLLOUT)]
    finally:
        for p in ports + [tx]:
            p.close()
