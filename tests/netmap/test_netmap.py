"""The netmap backend against the real kernel module (VALE ports and pipes).

Runs only where /dev/netmap exists (tests/conftest.py skips it elsewhere with the
reason); written for a machine with netmap loaded, where it will be run."""
import os
import subprocess
import sys

import pytest

import netmap_py as nm

N = 10_000
TAG = f"nmpy{os.getpid() % 100000}"


def frame(i: int, size: int = 60) -> bytes:
    return b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + i.to_bytes(4, "big") + \
        bytes((i + k) & 0xFF for k in range(size - 18))


def send(port, frames):
    tx = port.tx_rings[0]
    for f in frames:
        while tx.space() == 0:
            port.poll(nm.POLLOUT, 1000)
        tx.slot(tx.head).write(f)
        tx.advance()
    port.txsync()


def receive(port, n, timeout_ms=2000):
    got = []
    rx = port.rx_rings[0]
    while len(got) < n:
        if port.poll(nm.POLLIN, timeout_ms) == 0:
            break
        while not rx.empty() and len(got) < n:
            got.append(rx.slot(rx.head).tobytes())
            rx.advance()
    port.rxsync()
    return got


def test_vale_ports_exchange_10000_packets():
    with nm.open(f"vale{TAG}:a") as a, nm.open(f"vale{TAG}:b") as b:
        assert a.backend == b.backend == "netmap" and a.zero_copy
        assert len(a.tx_rings) == 1 and len(b.rx_rings) == 1
        got = []
        batch = 256
        for start in range(0, N, batch):
            frames = [frame(i) for i in range(start, min(N, start + batch))]
            send(a, frames)
            got += receive(b, len(frames))
        assert len(got) == N
        assert got == [frame(i) for i in range(N)]


def test_pipe_pair_and_zero_copy_swap():
    with nm.open(f"netmap:{TAG}p{{1") as master, nm.open(f"netmap:{TAG}p}}1") as slave:
        assert nm.same_region(master, slave), "pipe ends share their parent's region"
        assert master.mem_id == slave.mem_id
        got = []
        for start in range(0, N, 128):
            frames = [frame(i, 64 + i % 500) for i in range(start, min(N, start + 128))]
            send(master, frames)
            got += receive(slave, len(frames))
        assert got == [frame(i, 64 + i % 500) for i in range(N)]

        # forward back by swapping buffers: slave RX slot -> slave TX slot, no copy
        send(master, [frame(7, 100)])
        slave.poll(nm.POLLIN, 2000)
        rx, tx = slave.rx_rings[0], slave.tx_rings[0]
        rs, ts = rx.slot(rx.head), tx.slot(tx.head)
        before = rs.buf_idx
        rs.swap(ts)
        assert ts.buf_idx == before and ts.len == 100
        rx.advance()
        tx.advance()
        slave.txsync()
        back = receive(master, 1)
        assert back == [frame(7, 100)]


def test_swap_refused_across_regions():
    with nm.open(f"vale{TAG}x:a") as a, nm.open(f"vale{TAG}y:b") as b:
        if nm.same_region(a, b):
            pytest.skip("this netmap build gave both VALE ports one region")
        with pytest.raises(ValueError, match="do not share a memory region"):
            a.rx_rings[0].slot(0).swap(b.tx_rings[0].slot(0))


def test_unknown_interface_is_named():
    with pytest.raises(OSError) as e:
        nm.open("netmap:nosuchif0")
    assert "nosuchif0" in str(e.value)


def test_close_with_live_view():
    p = nm.open(f"vale{TAG}:v")
    v = p.tx_rings[0].slot(0).buffer
    with pytest.raises(BufferError):
        p.close()
    v.release()
    p.close()


def test_pktgen_indirect_buffers_into_a_vale_port():
    """-I: slots point at pktgen-nm's template (NS_INDIRECT); VALE copies from there."""
    from nmutil import finish, start
    cmd = [sys.executable, "-m", "pktgen_nm"]
    # VALE drops what is sent before the receiver is attached: wait for its Ready line
    rx = start(cmd + ["-i", f"vale{TAG}i:b", "-f", "rx", "-n", "1000", "-w", "0",
                      "--duration", "60"], "Ready...")
    tx = subprocess.run(cmd + ["-i", f"vale{TAG}i:a", "-f", "tx", "-I", "-n", "1000", "-w", "0",
                               "-R", "100000"], capture_output=True, text=True, timeout=60)
    out, err = finish(rx)
    assert tx.returncode == 0, tx.stderr
    assert "SPECIAL OPTIONS: indirect" in tx.stdout and "Sent 1000 packets" in tx.stdout
    assert "Received 1000 packets 60000 bytes" in out, out + err


def _vale_receive(switch, vnet_hdr, n):
    """Open SWITCH:b with that header length, send n frames into SWITCH:a with
    pktgen-nm -H 12, return what SWITCH:b received, a bytes object a slot."""
    import time
    cmd = [sys.executable, "-m", "pktgen_nm", "-i", f"{switch}:a", "-f", "tx",
           "-H", "12", "-n", str(n), "-w", "0", "-R", "20000"]
    got = []
    with nm.open(f"{switch}:b", vnet_hdr=vnet_hdr) as rx:
        tx = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert tx.returncode == 0, tx.stderr
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            rx.poll(timeout_ms=200)
            ring = rx.rx_rings[0]
            while not ring.empty():
                got.append(ring.slot(ring.head).tobytes())
                ring.advance()
    return got, tx.stdout


@pytest.mark.parametrize("rx_hdr", [0, 12])
def test_virtio_net_header_checked_by_a_receiver(rx_hdr):
    """-H 12 on the sender: every frame leaves with a 12-byte virtio-net header. VALE
    gives a port with the same header length the frame as sent (header first) and
    strips the header for a port with none: the receiver sees exactly that."""
    got, out = _vale_receive(f"vale{TAG}hv{rx_hdr}", rx_hdr, 200)
    assert "Sent 200 packets 14400 bytes" in out, out      # 72 bytes: 12 + 60
    assert len(got) == 200
    frame = got[0][rx_hdr:]
    assert {len(s) for s in got} == {60 + rx_hdr}
    assert all(s[:rx_hdr] == bytes(rx_hdr) for s in got)    # pkt-gen's header: zeros
    assert frame[12:14] == b"\x08\x00" and frame[23] == 17    # IPv4 / UDP right after


def test_virtio_net_header_length_on_a_vale_port():
    """vnet_hdr=12 (pktgen-nm -H 12): the port is told the length and reports it."""
    from netmap_py import _core
    with nm.open(f"vale{TAG}h:a", vnet_hdr=12) as a:
        assert _core.netmap_port_hdr(a) == 12
    with nm.open(f"vale{TAG}h:b") as b:
        assert _core.netmap_port_hdr(b) == 0


def test_batch_send_recv_and_numpy_views_on_vale():
    """Port.send() on one VALE port, Port.recv() on another of the switch; the NumPy
    views over the real module's rings and buffer pool."""
    import time
    pytest.importorskip("numpy")
    frames = [b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + bytes([i]) * 46
              for i in range(100)]
    with nm.open(f"vale{TAG}bt:a") as a, nm.open(f"vale{TAG}bt:b") as b:
        assert a.send(frames) == 100
        got, deadline = [], time.monotonic() + 10
        while len(got) < 100 and time.monotonic() < deadline:
            got += [bytes(v) for v in b.recv(64, 200)]
        assert got == frames
        rx = b.rx_rings[0]
        slots, pool = rx.slot_array(), b.buffer_array()
        try:
            # head: the first slot of the batch the last recv() returned (frames 64..99;
            # its slots go back at the next recv)
            assert slots.shape == (rx.num_slots,) and pool.shape[1] == rx.buf_size
            assert bytes(pool[slots["buf_idx"][rx.head], :60]) == frames[64]
        finally:
            del slots, pool
        b.recv(1)


def test_one_wait_over_netmap_and_loop_ports():
    """netmap_py.wait() over two VALE ports and a loop: port: a timeout with nothing
    sent, then the port the frame went to, woken by the kernel."""
    import threading
    import time
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"w" * 46
    with nm.open(f"vale{TAG}w:a") as a, nm.open(f"vale{TAG}w:b") as b, \
            nm.open(f"vale{TAG}w:c") as c, nm.open("loop:w") as lp:
        t0 = time.monotonic()
        assert nm.wait([b, c, lp], timeout_ms=300) == []
        assert time.monotonic() - t0 >= 0.28
        sender = threading.Timer(0.2, lambda: a.send([frame]))
        sender.start()
        try:
            ready = nm.wait([(b, nm.POLLIN), lp], timeout_ms=10_000)
        finally:
            sender.join()
        assert [p for p, _ in ready] == [b]
        got = b.recv(8, 1000)
        assert [bytes(v) for v in got] == [frame]
        for v in got:
            v.release()
