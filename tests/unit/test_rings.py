"""Rings, slots and buffers laid out in memory as netmap lays them out, driven
through the loop backend (TX ring i feeds RX ring i by swapping buffers)."""
import ctypes
import struct

import pytest

import netmap_py as nm
from netmap_py import _core


@pytest.fixture
def port():
    p = nm.open("loop:t@conf:slots=8")
    yield p
    p.close()


def test_port_facts(port):
    assert port.backend == "loop" and port.zero_copy
    assert port.name == "t"
    assert (port.num_tx_rings, port.num_rx_rings) == (1, 1)
    assert list(port.tx_ring_range) == [0] and list(port.rx_ring_range) == [0]
    assert "loop" in repr(port)


def test_fresh_rings_as_netmap_makes_them(port):
    tx, rx = port.tx_rings[0], port.rx_rings[0]
    assert (tx.head, tx.cur, tx.tail, tx.num_slots) == (0, 0, 7, 8)
    assert (rx.head, rx.cur, rx.tail) == (0, 0, 0)
    assert tx.space() == 7, "one slot is always kept empty"
    assert rx.empty() and not tx.empty()
    assert tx.buf_size == 2048
    idx = {tx.slot(i).buf_idx for i in range(8)} | {rx.slot(i).buf_idx for i in range(8)}
    assert len(idx) == 16 and min(idx) >= 2, "every slot its own buffer; 0 and 1 reserved"
    assert all(tx.slot(i).len == 2048 and tx.slot(i).flags == 0 for i in range(8))


def test_memory_layout_is_netmaps(port):
    """nifp, ring_ofs[] and buffer arithmetic read straight from the region."""
    tx = port.tx_rings[0]
    view = tx.slot(0).buffer
    try:
        addr0 = ctypes.addressof(ctypes.c_char.from_buffer(view))
    finally:
        view.release()
    view = tx.slot(1).buffer
    try:
        addr1 = ctypes.addressof(ctypes.c_char.from_buffer(view))
    finally:
        view.release()
    b0, b1 = tx.slot(0).buf_idx, tx.slot(1).buf_idx
    assert addr1 - addr0 == (b1 - b0) * tx.buf_size


def test_next_space_wraparound(port):
    tx, rx = port.tx_rings[0], port.rx_rings[0]
    assert tx.next(6) == 7 and tx.next(7) == 0
    with pytest.raises(IndexError):
        tx.next(8)
    for rnd in range(5):  # 5 x 5 slots through an 8-slot ring: indices wrap
        for k in range(5):
            tx.slot(tx.head).write(bytes([rnd, k]) * 10)
            tx.advance()
        port.txsync()
        port.rxsync()
        assert rx.space() == 5
        got = []
        while not rx.empty():
            got.append(rx.slot(rx.head).tobytes())
            rx.advance()
        assert got == [bytes([rnd, k]) * 10 for k in range(5)]
        port.rxsync()
        port.txsync()
        assert tx.space() == 7
    assert tx.head == (25 % 8)


def test_tx_pending_and_advance_limits(port):
    tx = port.tx_rings[0]
    assert not tx.tx_pending()
    tx.advance(3)
    assert tx.tx_pending()
    port.txsync()
    assert not tx.tx_pending()
    with pytest.raises(ValueError):
        tx.advance(8)


def test_receiver_full_counts_drops(port):
    tx = port.tx_rings[0]
    for _ in range(3):
        tx.advance(7)
        port.txsync()
    assert port.rx_rings[0].space() == 0  # not synced yet
    port.rxsync()
    assert port.rx_rings[0].space() == 7
    assert port.tx_dropped == 14


def test_swap_zero_copy(port):
    tx, rx = port.tx_rings[0], port.rx_rings[0]
    tx.slot(tx.head).write(b"A" * 60)
    tx.advance()
    port.txsync()
    port.rxsync()
    rs = rx.slot(rx.head)
    ts = tx.slot(tx.head)
    a, b = rs.buf_idx, ts.buf_idx
    rs.swap(ts)
    assert (rs.buf_idx, ts.buf_idx) == (b, a)
    assert ts.len == 60 and ts.tobytes() == b"A" * 60
    assert rs.flags & nm.NS_BUF_CHANGED and ts.flags & nm.NS_BUF_CHANGED


def test_swap_needs_one_region():
    with nm.open("loop:a") as a, nm.open("loop:b") as b:
        assert not nm.same_region(a, b)
        with pytest.raises(ValueError, match="do not share a memory region"):
            a.rx_rings[0].slot(0).swap(b.tx_rings[0].slot(0))


def test_views_are_counted_and_block_close(port):
    tx = port.tx_rings[0]
    v = tx.slot(0).buffer
    v[:4] = b"abcd"  # writable, no copy: the next read sees it
    assert tx.slot(0).buffer[:4].tobytes() == b"abcd"
    assert _core.debug_counters()["views_alive"] >= 1
    with pytest.raises(BufferError, match="still alive"):
        port.close()
    assert not port.closed
    v.release()
    port.close()
    port.close()  # idempotent
    assert port.closed
    with pytest.raises(ValueError, match="closed"):
        _ = tx.head
    with pytest.raises(ValueError, match="closed"):
        port.txsync()


def test_view_keeps_port_alive():
    p = nm.open("loop:keep")
    v = p.tx_rings[0].slot(0).buffer
    del p  # the view holds the owner; memory stays mapped
    v[0] = 7
    assert v[0] == 7
    import gc
    with pytest.warns(ResourceWarning, match="never closed"):   # it was never closed
        v.release()
        gc.collect()


def test_bad_user_indices_are_refused(port):
    tx = port.tx_rings[0]
    with pytest.raises(IndexError):
        tx.head = 8
    with pytest.raises(IndexError):
        tx.slot(8)
    with pytest.raises(IndexError):
        tx.buf(1)  # reserved
    with pytest.raises(IndexError):
        tx.buf(10 ** 6)
    tx.cur = 5
    tx.head = 6  # head past cur: netmap would re-initialise the ring; we say EINVAL
    with pytest.raises(OSError) as e:
        port.txsync()
    assert e.value.errno == 22 and "loop:t" in str(e.value)


def test_slot_fields(port):
    s = port.tx_rings[0].slot(2)
    s.len = 100
    s.flags = nm.NS_MOREFRAG
    s.ptr = 0xDEAD
    assert (s.len, s.flags, s.ptr) == (100, nm.NS_MOREFRAG, 0xDEAD)
    with pytest.raises(ValueError):
        s.len = 5000
    with pytest.raises(ValueError):
        s.write(b"x" * 3000)
    d = s.data
    assert len(d) == 100
    d[:4] = struct.pack("!I", 0xC0FFEE)       # the view writes the slot's own buffer
    d.release()
    assert struct.unpack("!I", s.tobytes()[:4])[0] == 0xC0FFEE


def test_poll_timestamps(port):
    tx, rx = port.tx_rings[0], port.rx_rings[0]
    assert port.poll(nm.POLLIN, 0) == 0
    tx.slot(tx.head).write(b"x" * 60)
    tx.advance()
    rev = port.poll(nm.POLLIN | nm.POLLOUT, 0)
    assert rev & nm.POLLIN and rev & nm.POLLOUT
    assert rx.timestamp > 1e9
