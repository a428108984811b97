"""Port.send() / Port.recv() and the NumPy views, on the loop backend (TX ring i
feeds RX ring i): what goes in comes out, bad input raises and queues nothing,
views are counted and refused by close()."""
import pytest

import netmap_py as nm
from netmap_py import _core

np = pytest.importorskip("numpy")


@pytest.fixture
def port():
    p = nm.open("loop:b@conf:slots=64")
    yield p
    p.close()


def frames(n, size=60):
    return [bytes([i % 256]) * size for i in range(n)]


def test_send_then_recv_round_trip(port):
    assert port.send(frames(10)) == 10
    got = port.recv()
    assert [bytes(v) for v in got] == frames(10)
    assert port.recv() == []            # given back, nothing new
    del got


def test_send_stops_when_the_ring_is_full(port):
    assert port.send(frames(100)) == 63, "a 64-slot ring holds 63"
    assert len(port.recv(max=1000)) == 63


def test_recv_max_and_views_until_the_next_call(port):
    port.send(frames(20))
    first = port.recv(max=5)
    assert [bytes(v) for v in first] == frames(5)
    before = _core.debug_counters()["views_alive"]
    second = port.recv(max=100)
    assert [bytes(v) for v in second] == frames(20)[5:]
    assert _core.debug_counters()["views_alive"] == before + 15
    with pytest.raises(BufferError):
        port.close()
    for v in first + second:
        v.release()


@pytest.mark.parametrize("bad,err,text", [
    ([b""], ValueError, "frame 0 is 0 bytes"),
    ([b"x" * 60, b"y" * 5000], ValueError, "frame 1 is 5000 bytes"),
    (["text"], TypeError, "bytes-like"),
    ([60], TypeError, "bytes-like"),
    (b"one frame", TypeError, "sequence of frames"),
    (None, TypeError, "not iterable"),
])
def test_bad_frames_raise_and_queue_nothing(port, bad, err, text):
    tx = port.tx_rings[0]
    head = tx.head
    with pytest.raises(err, match=text):
        port.send(bad)
    assert tx.head == head and port.recv() == []


@pytest.mark.parametrize("bad", [0, -1])
def test_recv_max_must_be_positive(port, bad):
    with pytest.raises(ValueError, match="1 or more"):
        port.recv(max=bad)


def test_send_without_sync_then_txsync(port):
    assert port.send(frames(3), sync=False) == 3
    assert port.recv() == []            # nothing pushed yet
    port.txsync()
    assert len(port.recv()) == 3


def test_closed_port_raises():
    p = nm.open("loop:d")
    p.close()
    with pytest.raises(ValueError):
        p.send(frames(1))
    with pytest.raises(ValueError):
        p.recv()


def test_slot_array_is_the_ring(port):
    tx = port.tx_rings[0]
    a = tx.slot_array()
    assert a.shape == (64,) and a.dtype.names == ("buf_idx", "len", "flags", "ptr")
    assert [int(x) for x in a["buf_idx"][:4]] == [tx.slot(i).buf_idx for i in range(4)]
    a["len"][0] = 77                    # writes go to the ring itself
    assert tx.slot(0).len == 77
    with pytest.raises(BufferError):
        port.close()
    del a


def test_buffer_array_rows_are_buffers(port):
    port.send([b"\xab" * 60])
    (v,) = port.recv()
    rx = port.rx_rings[0]
    idx = rx.slot(rx.head).buf_idx
    pool = port.buffer_array()
    assert pool.shape[1] == rx.buf_size and pool.dtype == np.uint8
    assert bytes(pool[idx, :60]) == b"\xab" * 60
    del v, pool


def test_numpy_filter_per_batch(port):
    """The shape of a NumPy filter: the batch's buffer indices from the slot array,
    one byte column from the pool, a mask, no Python per packet."""
    port.send([bytes([0, i % 2]) + bytes(58) for i in range(40)])
    rx = port.rx_rings[0]
    rx_slots, pool = rx.slot_array(), port.buffer_array()
    port.rxsync()
    n = rx.space()
    idx = rx_slots["buf_idx"][np.arange(rx.head, rx.head + n) % 64]
    keep = pool[idx, 1] == 0
    assert n == 40 and int(keep.sum()) == 20
    del rx_slots, pool


def test_bad_buf_idx_written_through_numpy_is_refused(port):
    """A buffer index that is no buffer of the region: send() refuses the slot."""
    a = port.tx_rings[0].slot_array()
    a["buf_idx"][port.tx_rings[0].head] = 10 ** 9
    with pytest.raises(ValueError, match="names no buffer"):
        port.send(frames(1))
    del a


def test_port_statistics_and_capabilities(port):
    """What front-ends used to ask netmap_py._core for, on the Port itself."""
    assert port.kernel_drops() == {}        # the loop backend's kernel drops nothing
    assert port.vnet_hdr_len() == 0
