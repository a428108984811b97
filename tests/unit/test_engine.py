"""The Cython loops on the loop backend: every packet checked against scapy."""
import struct
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_RS, IPv6
from scapy.layers.l2 import ARP, Ether

import netmap_py as nm
from pktgen_nm import _engine
from pktgen_nm import packet as P
from tests.packetcheck import checksums_ok


def drain(port):
    port.rxsync()
    rx = port.rx_rings[0]
    out = []
    while not rx.empty():
        out.append(rx.slot(rx.head).tobytes())
        rx.advance()
    port.rxsync()
    return out


def run_tx(func, frame, n, **kw):
    with nm.open("loop:e@conf:slots=1024") as port:
        w = _engine.Worker(port, func, frame=frame, limit=n, burst=kw.pop("burst", 64), **kw)
        w.run()
        assert w.sample()[0] == n
        return drain(port), w


def test_odometer_order_and_checksums_on_every_packet():
    f = P.build_frame(60, src=P.parse_range("10.0.0.1:1000-10.0.0.2:1001", 4, "s"),
                      dst=P.parse_range("10.1.0.1:2000-10.1.0.2:2001", 4, "d"))
    pkts, _ = run_tx("tx", f, 40)
    seen = []
    for b in pkts:
        assert checksums_ok(b)
        e = Ether(b)
        seen.append((e[IP].src, e[UDP].sport, e[IP].dst, e[UDP].dport))
    # facts 3.6: source port, source IP, destination port, destination IP
    assert seen[:4] == [("10.0.0.1", 1000, "10.1.0.1", 2000), ("10.0.0.1", 1001, "10.1.0.1", 2000),
                        ("10.0.0.2", 1000, "10.1.0.1", 2000), ("10.0.0.2", 1001, "10.1.0.1", 2000)]
    assert seen[8] == ("10.0.0.1", 1000, "10.1.0.2", 2000)
    assert seen[16] == seen[0] and seen[15] == ("10.0.0.2", 1001, "10.1.0.2", 2001)
    vals = dict(sport=1000, sip=0x0A000001, dport=2000, dip=0x0A010001)
    assert pkts[0] == P.packet_at(f, 60, vals)


def test_random_every_packet_with_sizes():
    f = P.build_frame(300, min_length=60)
    pkts, _ = run_tx("tx", f, 500, randomize=(True, True), seed=42)
    assert all(checksums_ok(b) for b in pkts)
    sizes = {len(b) for b in pkts}
    assert min(sizes) >= 60 and max(sizes) <= 300 and len(sizes) > 100
    srcs = {Ether(b)[IP].src for b in pkts}
    dports = {Ether(b)[UDP].dport for b in pkts}
    assert len(srcs) > 450 and len(dports) > 450, "a new random value on every packet"


def test_random_within_a_range():
    f = P.build_frame(60, src=P.parse_range("10.0.0.10:5-10.0.0.20:9", 4, "s"))
    pkts, _ = run_tx("tx", f, 300, randomize=(True, False), seed=7)
    for b in pkts:
        e = Ether(b)
        assert 10 <= int(e[IP].src.split(".")[-1]) <= 20 and 5 <= e[UDP].sport <= 9
        assert checksums_ok(b)


def test_ipv6_group_range():
    f = P.build_frame(90, family=6, src=P.parse_range("[fd00::1]:5-[fd00::4]:5", 6, "s"),
                      dst=P.parse_range("[fd00::9]:6", 6, "d"))
    pkts, _ = run_tx("tx", f, 9)
    assert [Ether(b)[IPv6].src for b in pkts[:5]] == ["fd00::1", "fd00::2", "fd00::3", "fd00::4",
                                                      "fd00::1"]
    assert all(checksums_ok(b) for b in pkts)


def test_txseq_numbers_and_checksums():
    f = P.build_frame(64)
    pkts, _ = run_tx("txseq", f, 100, burst=7)
    seqs = [struct.unpack("!I", b[42:46])[0] for b in pkts]
    assert seqs == list(range(100))
    assert all(checksums_ok(b) for b in pkts)


def _scribble_while_sending(copy_always: bool) -> list[bytes]:
    """A slow sender on a 4-slot loop port nobody reads: after 3 frames the receiver
    is full, so every later frame reuses its TX buffer without a swap.  Mid-run the
    test scribbles on every TX buffer; the frames captured after that show whether
    the engine wrote the template again."""
    import threading
    import time
    f = P.build_frame(60)
    with nm.open("loop:w@conf:slots=4") as port:
        w = _engine.Worker(port, "tx", frame=f, rate=400, burst=1, duration=0.6,
                           capture=400, copy_always=copy_always)
        t = threading.Thread(target=w.run)
        t.start()
        time.sleep(0.25)
        tx = port.tx_rings[0]
        for i in range(tx.num_slots):
            with tx.buf(tx.slot(i).buf_idx) as b:
                b[:6] = b"SCRIBL"
        t.join()
        frames = [data for _, data in w.captured()]
        drain(port)
    assert len(frames) > 100 and frames[0] == f.data
    return frames


def test_fixed_frames_are_written_once():
    """Steady state writes only len (pkt-gen's trick): a buffer we scribble on after
    its first use keeps the scribble, unless -o 4 (copy every packet) is given."""
    frames = _scribble_while_sending(copy_always=False)
    assert frames[-1][:6] == b"SCRIBL" and frames[-1][6:] == P.build_frame(60).data[6:]
    frames = _scribble_while_sending(copy_always=True)
    assert all(fr == P.build_frame(60).data for fr in frames)


def test_pcap_frames_replayed_in_order():
    frames = [P.build_frame(n).data for n in (60, 70, 80)]
    with nm.open("loop:pc@conf:slots=64") as port:
        w = _engine.Worker(port, "tx", pcap_frames=frames, limit=7, burst=4)
        w.run()
        assert drain(port) == [frames[i % 3] for i in range(7)]


def feed(port, frames):
    tx = port.tx_rings[0]
    for b in frames:
        tx.slot(tx.head).write(b)
        tx.advance()
    port.txsync()


def seq_frame(f, s):
    b = bytearray(f.data)
    b[42:46] = struct.pack("!I", s)
    return bytes(b)


def test_rxseq_counts_lost_reordered_duplicated():
    f = P.build_frame(64)
    order = [0, 1, 2, 5, 4, 6, 6, 7, 8, 12]
    with nm.open("loop:rs@conf:slots=64") as port:
        feed(port, [seq_frame(f, s) for s in order])
        w = _engine.Worker(port, "rxseq", limit=len(order))
        w.run()
        st = w.seq_stats()
        # lost: 3, 9, 10, 11 (4 arrived late); reordered: 4; duplicated: one 6
        assert st == {"received": 10, "lost": 4, "reordered": 1, "duplicated": 1, "short": 0,
                      "other": 0}


def test_rxseq_counts_frames_not_udp_apart():
    """A neighbour's ARP or ICMPv6 on the receiving port is not a frame of ours: it
    must neither count as received nor break the sequence."""
    f = P.build_frame(64)
    arp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.9")).ljust(60, b"\0")
    icmp6 = bytes(Ether() / IPv6() / ICMPv6ND_RS()).ljust(70, b"\0")
    frames = [seq_frame(f, 0), arp, seq_frame(f, 1), icmp6, seq_frame(f, 2)]
    with nm.open("loop:ro@conf:slots=64") as port:
        feed(port, frames)
        w = _engine.Worker(port, "rxseq", limit=len(frames))
        w.run()
        st = w.seq_stats()
        assert (st["received"], st["lost"], st["other"]) == (3, 0, 2), st


def test_txseq_stamps_send_times_and_rxseq_takes_latency():
    f = P.build_frame(64)
    t0 = time.monotonic_ns()
    pkts, _ = run_tx("txseq", f, 50, burst=7, stamp=True)
    t1 = time.monotonic_ns()
    stamps = [struct.unpack("!Q", b[46:54])[0] for b in pkts]
    assert all(t0 <= ts <= t1 for ts in stamps), (t0, stamps[:3], t1)
    assert [struct.unpack("!I", b[42:46])[0] for b in pkts] == list(range(50))
    assert all(checksums_ok(b) for b in pkts), "the stamp is in the UDP checksum"
    with nm.open("loop:lt@conf:slots=64") as port:
        feed(port, pkts)
        time.sleep(0.01)
        w = _engine.Worker(port, "rxseq", limit=50, stamp=True)
        w.run()
        done = time.monotonic_ns()
        rtt = w.rtt()
        assert rtt["count"] == 50 and len(rtt["samples"]) == 50
        assert 10_000_000 <= rtt["min"] <= rtt["max"] <= done - t0, rtt
        for ts, lat in zip(stamps, rtt["samples"]):
            assert t0 <= ts + lat <= done


def test_stamps_only_for_numbered_functions():
    with nm.open("loop:ls@conf:slots=64") as port:
        with pytest.raises(ValueError, match="txseq and rxseq"):
            _engine.Worker(port, "rx", stamp=True)


def test_rx_counts_exactly_and_captures():
    f = P.build_frame(60)
    with nm.open("loop:rx@conf:slots=64") as port:
        feed(port, [f.data] * 50)
        w = _engine.Worker(port, "rx", limit=30, burst=8, capture=5)
        w.run()
        assert w.sample()[0] == 30 and w.sample()[1] == 30 * 60
        cap = w.captured()
        assert len(cap) == 5 and all(data == f.data for _, data in cap)


def test_pong_reflects():
    f = P.build_frame(60, src=P.parse_range("10.0.0.1", 4, "s"),
                      dst=P.parse_range("10.1.0.1", 4, "d"), src_mac=b"\x02" * 6,
                      dst_mac=b"\x04" * 6)
    with nm.open("loop:pp@conf:slots=64") as port:
        feed(port, [f.data] * 3)
        w = _engine.Worker(port, "pong", limit=3)
        w.run()
        out = drain(port)
        assert len(out) == 3
        e = Ether(out[0])
        assert (e.src, e.dst, e[IP].src, e[IP].dst) == ("04:04:04:04:04:04", "02:02:02:02:02:02",
                                                        "10.1.0.1", "10.0.0.1")
        assert checksums_ok(out[0])


def test_ping_through_a_loop_measures_rtts():
    f = P.build_frame(64)
    with nm.open("loop:pg@conf:slots=256") as port:
        w = _engine.Worker(port, "ping", frame=f, limit=200, burst=8)
        w.run()
        rtt = w.rtt()
        assert rtt["count"] == 200 and rtt["replies"] == 200
        assert 0 < rtt["min"] <= rtt["sum"] / 200 <= rtt["max"] < 1e9
        assert len(rtt["samples"]) == 200 and sum(rtt["hist"]) == 200


def test_rate_is_exact_in_total():
    import time
    f = P.build_frame(60)
    with nm.open("loop:rt@conf:slots=1024") as port:
        w = _engine.Worker(port, "tx", frame=f, rate=20000, duration=0.5)
        t0 = time.monotonic()
        w.run()
        took = time.monotonic() - t0
        assert abs(w.sample()[0] - 10000) <= 10000 * 0.01 + 1, w.sample()
        assert took < 1.0


def test_bad_function():
    with nm.open("loop:bf") as port, pytest.raises(ValueError):
        _engine.Worker(port, "flood")


@pytest.mark.parametrize("frags,max_frag,pieces", [(1, 40, [40, 40, 20]), (4, 0, [25, 25, 25, 25]),
                                                   (3, 30, [30, 30, 30, 10])])
def test_fragments_cut_every_packet(frags, max_frag, pieces):
    """-F/-M: NS_MOREFRAG on all but the last piece; the pieces make the packet."""
    from netmap_py.constants import NS_MOREFRAG
    f = P.build_frame(100, src=P.parse_range("10.0.0.1:1000-10.0.0.1:1002", 4, "s"))
    with nm.open("loop:frag@conf:slots=1024") as port:
        w = _engine.Worker(port, "tx", frame=f, limit=9, burst=64, frags=frags, max_frag=max_frag)
        w.run()
        assert w.fragments == (len(pieces), pieces[0])
        assert w.sample()[:2] == (9, 900)
        port.rxsync()
        rx = port.rx_rings[0]
        slots = []
        while not rx.empty():
            s = rx.slot(rx.head)
            slots.append((s.flags & NS_MOREFRAG, s.tobytes()))
            rx.advance()
        port.rxsync()
    assert len(slots) == 9 * len(pieces)
    packets, cur = [], b""
    for k, (more, data) in enumerate(slots):
        assert len(data) == pieces[k % len(pieces)]
        assert bool(more) == (k % len(pieces) != len(pieces) - 1)
        cur += data
        if not more:
            packets.append(cur)
            cur = b""
    for i, pkt in enumerate(packets):
        vals = dict(sport=1000 + i % 3, sip=0x0A000001, dport=1234, dip=0x0A010001)
        assert pkt == P.packet_at(f, 100, vals) and checksums_ok(pkt)


def test_frames_larger_than_a_buffer_are_split():
    f = P.build_frame(3000)
    with nm.open("loop:big@conf:slots=256") as port:
        w = _engine.Worker(port, "tx", frame=f, limit=2, burst=8)
        assert w.fragments == (2, 2048)      # loop: buffers of 2048 bytes
        w.run()
        got = drain(port)
    assert [len(x) for x in got] == [2048, 952, 2048, 952]
    assert got[0] + got[1] == f.data
