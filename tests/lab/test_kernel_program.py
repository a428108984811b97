"""The kernel engine's generated XDP program, run by the kernel one packet at a time
(BPF_PROG_RUN without live frames: nothing is sent, the frame comes back) and every
output compared with the Python reference model (packet.packet_at) and scapy."""
from __future__ import annotations

import pytest

from pktgen_nm import _engine, bpf, kprog
from pktgen_nm import packet as P
from tests.packetcheck import checksums_ok

KEYS = ("sport", "sip", "dport", "dip")


def program(frame, **kw):
    return _engine.KernelProgram(frame, 0, **kw)   # ifindex 0: never sent anywhere


def values_in(frame, data):
    out = {}
    for (off, width, *_), key in zip(frame.fields(), KEYS):
        out[key] = int.from_bytes(data[off:off + width], "big")
    return out


def expected_odometer(frame, index, randomize=(False, False)):
    vals = {}
    for (_off, _width, lo, hi, _in_ip, rnd), key in zip(frame.plan_fields(randomize), KEYS):
        if rnd:
            continue
        span = hi - lo + 1
        vals[key] = lo + index % span
        index //= span
    return vals


def run(frame, n, randomize=(False, False), seq=False):
    k = program(frame, randomize=randomize, seq=seq)
    try:
        outs = []
        for _ in range(n):
            verdict, data = k.run_once()
            assert verdict == bpf.XDP_REDIRECT
            outs.append(data)
        assert k.index == n
        return outs
    finally:
        k.close()


def test_constant_frame_is_the_template():
    f = P.build_frame(60)
    for data in run(f, 3):
        assert data == f.data


@pytest.mark.parametrize("family", [4, 6])
def test_ranges_follow_pkt_gens_odometer_with_correct_checksums(family):
    if family == 4:
        src = P.parse_range("10.0.0.1:1000-10.0.0.3:1002", 4, "s")
        dst = P.parse_range("10.1.0.250:2000-10.1.1.3:2001", 4, "d")
    else:
        src = P.parse_range("[fd00::1]:1000-[fd00::3]:1002", 6, "s")
        dst = P.parse_range("[fd01::fffe]:2000-[fd01::ffff]:2001", 6, "d")
    f = P.build_frame(90, family=family, src=src, dst=dst)
    total = 3 * 3 * 2 * (10 if family == 4 else 2)
    outs = run(f, total + 5)
    for i, data in enumerate(outs):
        vals = expected_odometer(f, i)
        assert values_in(f, data) == vals, i
        assert data == P.packet_at(f, 90, vals), i
        assert checksums_ok(data)
    assert outs[total] == outs[0]


def test_random_fields_vary_every_packet_within_their_range():
    src = P.parse_range("10.0.0.1:1000-10.0.9.1:1100", 4, "s")
    f = P.build_frame(64, src=src, dst=P.parse_range("10.1.0.1:5000-10.1.0.4:5000", 4, "d"))
    outs = run(f, 300, randomize=(True, False))
    sports, sips = set(), set()
    for i, data in enumerate(outs):
        v = values_in(f, data)
        assert 1000 <= v["sport"] <= 1100 and src.lo <= v["sip"] <= src.hi
        # the destination keeps its odometer: random fields take no odometer digit
        assert v["dip"] == 0x0A010001 + i % 4 and v["dport"] == 5000
        assert data == P.packet_at(f, 64, v)
        sports.add(v["sport"])
        sips.add(v["sip"])
    assert len(sports) > 60 and len(sips) > 250


def test_random_without_range_covers_the_whole_space():
    f = P.build_frame(60)
    outs = run(f, 200, randomize=(False, True))
    dips = {values_in(f, d)["dip"] for d in outs}
    assert len(dips) == 200 and max(dips) > 0x10000000
    for d in outs:
        assert d == P.packet_at(f, 60, values_in(f, d)) and checksums_ok(d)


@pytest.mark.parametrize("family", [4, 6])
def test_random_lengths_trim_the_frame_and_fix_both_checksums(family):
    f = P.build_frame(1514, min_length=60 if family == 4 else 70, family=family)
    outs = run(f, 400)
    lens = {len(d) for d in outs}
    assert min(lens) >= f.min_len and max(lens) <= 1514 and len(lens) > 200
    for d in outs:
        assert d == P.packet_at(f, len(d), values_in(f, d)) and checksums_ok(d)


def test_txseq_numbers_every_packet():
    f = P.build_frame(60, src=P.parse_range("10.0.0.1:1-10.0.0.1:3", 4, "s"))
    outs = run(f, 10, seq=True)
    for i, d in enumerate(outs):
        assert int.from_bytes(d[f.payload_off:f.payload_off + 4], "big") == i
        assert d == P.packet_at(f, 60, values_in(f, d), seq=i) and checksums_ok(d)


def test_state_map_counts_bytes_when_lengths_vary():
    f = P.build_frame(200, min_length=100)
    k = program(f)
    try:
        total = sum(len(k.run_once()[1]) for _ in range(50))
        assert k.index == 50 and k.bytes_sent == total
    finally:
        k.close()
    assert total >= 5000
    assert kprog.state_size(f) == kprog.STATE_PSUM + 4 * (200 - f.payload_off + 1)
