"""Tags, labels, TOS and IMIX: the frames built, the ring engine's packets on the loop
backend parsed by scapy, rxseq through tags and labels, and every bad value refused."""
import collections
import re
import subprocess
import sys

import pytest
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from test_engine import feed, run_tx

import netmap_py as nm
from pktgen_nm import Traffic, _engine, kprog
from pktgen_nm import encap as E
from pktgen_nm import packet as P
from tests.packetcheck import checksums_ok


def numbered(f, seq: int) -> bytes:
    """f's template with seq where txseq writes it (after the tags and labels)."""
    return P.packet_at(f, f.max_len, dict(sport=f.src.port_lo, sip=f.src.lo,
                                          dport=f.dst.port_lo, dip=f.dst.lo), seq=seq)


def frame_of(**kw):
    return Traffic(**kw)._frame(b"\x02\0\0\0\0\x01")


def test_qinq_and_labels_in_order():
    f = frame_of(vlan=100, vlan_prio=3, svlan=200, svlan_prio=5, mpls=(16, (17, 5, 10)),
                 dscp=46, length=100)
    pkt = Ether(f.data)
    assert pkt.type == 0x88A8 and pkt[Dot1AD].type == 0x8100 and pkt[Dot1Q].type == 0x8847
    assert (pkt[Dot1AD].vlan, pkt[Dot1AD].prio, pkt[Dot1Q].vlan, pkt[Dot1Q].prio) == \
        (200, 5, 100, 3)
    top = pkt[MPLS]
    assert (top.label, top.cos, top.s, top.ttl) == (16, 0, 0, 64)
    assert (top.payload.label, top.payload.cos, top.payload.s, top.payload.ttl) == (17, 5, 1, 10)
    ip = IP(bytes(top.payload.payload))
    assert ip.tos == 0xB8 and ip.len == 100 - 30 and len(f.data) == 100
    assert (f.ip_off, f.udp_off, f.payload_off) == (30, 50, 58)
    fresh = IP(bytes(ip))
    del fresh.chksum, fresh[UDP].chksum
    again = IP(bytes(fresh))
    assert (again.chksum, again[UDP].chksum) == (ip.chksum, ip[UDP].chksum)


def test_defaults_unchanged_and_ipv6_traffic_class():
    assert Ether(frame_of().data)[IP].tos == 0x10          # pkt-gen's
    six = Ether(frame_of(family=6, traffic_class=0xB8, vlan=7, length=80).data)
    assert six[Dot1Q].vlan == 7 and six[IPv6].tc == 0xB8 and six[IPv6].fl == 0
    assert Ether(frame_of(family=6, dscp=10, length=80).data)[IPv6].tc == 40


def test_ring_engine_keeps_tags_and_checksums_on_every_packet():
    f = frame_of(vlan=5, mpls=(100,), tos=0x28, dst="10.1.0.1:9-10.1.0.3:9", length=90,
                 min_length=60)
    pkts, _ = run_tx("tx", f, 300)
    dsts = collections.Counter()
    for b in pkts:
        pkt = Ether(b)
        assert pkt[Dot1Q].vlan == 5 and pkt[MPLS].label == 100 and pkt[MPLS].s == 1
        ip = IP(bytes(pkt[MPLS].payload))
        assert ip.tos == 0x28 and ip.len == len(b) - 22
        assert checksums_ok(b[:12] + b"\x08\x00" + b[22:])     # untagged, the same sums
        dsts[ip.dst] += 1
    assert len(dsts) == 3 and len({len(b) for b in pkts}) > 10


def test_imix_cycle_is_exact_and_spread():
    cyc = E.imix_cycle(E.CLASSIC_IMIX)
    assert collections.Counter(cyc) == {60: 7, 590: 4, 1514: 1} and len(cyc) == 12
    assert all(cyc[i] != 1514 or cyc[i + 1] != 1514 for i in range(11))
    assert E.imix_cycle(((100, 20), (200, 60))) == (200, 100, 200, 200)   # 1:3
    f = frame_of(imix="classic")
    pkts, _ = run_tx("tx", f, 600)              # the loop port holds 1023
    sizes = collections.Counter(len(b) for b in pkts)
    assert sizes == {60: 350, 590: 200, 1514: 50}
    assert all(checksums_ok(b) for b in pkts[:24])
    assert [len(b) for b in pkts[:12]] == list(cyc)


def test_imix_user_list_and_its_table_in_the_kernel_program():
    f = frame_of(imix="64:1,128:2")
    assert (f.min_len, f.max_len) == (64, 128) and sorted(f.sizes) == [64, 128, 128]
    g = kprog.build(f, ifindex=2, map_fd=3)
    assert len(g.map_value) == kprog.state_size(f)
    table = g.map_value[-12:]
    assert [int.from_bytes(table[i:i + 4], "little") for i in (0, 4, 8)] == list(f.sizes)


def test_rxseq_reads_numbers_behind_tags_and_labels():
    f = frame_of(vlan=9, svlan=10, mpls=(1, 2, 3), length=90)
    with nm.open("loop:rt@conf:slots=64") as port:
        feed(port, [numbered(f, s) for s in (0, 1, 2, 4)])
        w = _engine.Worker(port, "rxseq", limit=4)
        w.run()
        st = w.seq_stats()
    assert (st["received"], st["lost"], st["other"]) == (4, 1, 0), st


def test_txseq_behind_tags_into_rxseq():
    f = frame_of(vlan=9, mpls=(16,), length=80)
    pkts, _ = run_tx("txseq", f, 50)
    assert [int.from_bytes(b[f.payload_off:f.payload_off + 4], "big") for b in pkts] == \
        list(range(50))
    with nm.open("loop:rq@conf:slots=64") as port:
        feed(port, pkts)
        w = _engine.Worker(port, "rxseq", limit=50)
        w.run()
        assert w.seq_stats()["lost"] == 0 and w.seq_stats()["received"] == 50


BAD = [
    (dict(vlan=4096), "vlan=4096: a VLAN ID is 0 to 4095"),
    (dict(vlan=1, vlan_prio=8), "vlan_prio=8: a priority (PCP) is 0 to 7"),
    (dict(svlan=3), "svlan (the QinQ outer tag) needs vlan"),
    (dict(mpls=16), "give a sequence of labels"),
    (dict(mpls=(1 << 20,)), "a label is 0 to 1048575"),
    (dict(mpls=tuple(range(17))), "at most 16"),
    (dict(mpls=((1, 2, 3, 4),)), "give a label or (label, tc, ttl)"),
    (dict(mpls=("16",)), "give an integer"),
    (dict(vlan=3, svlan=4, svlan_tpid=0x1234), "use 0x88a8 (802.1ad), 0x8100"),
    (dict(tos=1, dscp=2), "tos and dscp set the same byte"),
    (dict(tos=300), "tos=300: it is one byte"),
    (dict(family=6, tos=4, length=80), "for IPv6 give traffic_class"),
    (dict(traffic_class=4), "traffic_class is IPv6's"),
    (dict(dscp=64), "a DSCP is 0 to 63"),
    (dict(imix="60:x"), "give 'classic' or SIZE:WEIGHT"),
    (dict(imix=((60, 0),)), "a weight is 1 to 4096"),
    (dict(imix="60:4000,61:4001"), "keep them at 4096 or less"),
    (dict(imix="classic", length=100), "drop length and min_length"),
    (dict(imix="20:1"), "frame takes 42 to 65536 bytes"),
    (dict(vlan=1, svlan=2, mpls=(1, 2, 3), family=6), "(with its tags and labels) frame takes 82"),
]


@pytest.mark.parametrize("kw,words", BAD)
def test_api_refuses_with_the_reason(kw, words):
    with pytest.raises(ValueError) as e:
        Traffic(**kw)
    assert words in str(e.value)


def test_frames_of_your_own_take_no_tags():
    with pytest.raises(ValueError, match="drop vlan"):
        Traffic(frames=(b"\0" * 60,), vlan=3)


CLI_BAD = [
    (["--vlan", "5000"], "bad --vlan 5000: a VLAN ID is 0 to 4095"),
    (["--vlan", "1:9"], "bad --vlan 9: a priority (PCP) is 0 to 7"),
    (["--vlan", "x"], "bad --vlan 'x': use ID[:PRIO]"),
    (["--svlan", "3"], "--svlan (the QinQ outer tag) needs --vlan"),
    (["--mpls", "16,a"], "bad --mpls '16,a': use LABEL[/TC[/TTL]]"),
    (["--mpls", "16/9"], "bad --mpls 9: a traffic class is 0 to 7"),
    (["--tos", "1", "--dscp", "2"], "--tos and --dscp set the same byte"),
    (["-6", "--tos", "1", "-l", "80"], "for IPv6 give --traffic-class"),
    (["--imix", "classic", "-l", "60"], "--imix sets the sizes: drop -l"),
    (["--imix", "30:1"], "bad --imix size 30: an IPv4/UDP frame needs at least 42"),
    (["--vlan", "1", "--mpls", "1,2", "-l", "50"], "with its tags and labels needs at least 54"),
    (["--flowlen", "4"], "--flowlen is the length of each of the --flows: give --flows too"),
    (["--flows", "70000"], "bad --flows 70000: the number of flows must be 0..65536"),
]


@pytest.mark.parametrize("args,words", CLI_BAD)
def test_cli_refuses_in_one_line(args, words):
    r = subprocess.run([sys.executable, "-m", "pktgen_nm", "-i", "loop:x", "-f", "tx"] + args,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr


@pytest.mark.parametrize("random_dst", [False, True])
def test_flows_hold_each_destination_for_flowlen_packets(random_dst):
    t = Traffic(dst="10.9.0.1:7000-10.9.0.200:7000", flows=8, flowlen=4,
                random_fields=(False, False, False, random_dst))
    f = t.frames_for("tx", 1)[0][0]
    from pktgen_nm import _engine as eng
    with nm.open("loop:fw@conf:slots=1024") as port:
        w = eng.Worker(port, "tx", frame=f, limit=640, burst=64, randomize=t.randomize)
        w.run()
        rx, got = port.rx_rings[0], []
        port.rxsync()
        while not rx.empty():
            got.append(rx.slot(rx.head).tobytes())
            rx.advance()
    assert len(got) == 640
    dips = [int.from_bytes(b[30:34], "big") for b in got]
    assert dips == [P.flow_value(P.flow_slot(i, 8, 4), f.dst.lo, f.dst.hi, random_dst)
                    for i in range(640)]
    # each flow (every 8th packet) keeps its address for 4 of its packets, then moves on
    flow0 = dips[::8]
    assert all(len(set(flow0[k:k + 4])) == 1 for k in range(0, 80, 4))
    if random_dst:
        assert len(set(flow0[::4])) > 15, "a new draw for each of its 20 turns"
    else:
        assert flow0[::4] == [f.dst.lo + 8 * k for k in range(20)], "the next in the range"
    assert all(checksums_ok(b) for b in got[:50])
    g = kprog.build(f, ifindex=2, map_fd=3, randomize=t.randomize)
    assert g.code and g.fixed_len == 60


@pytest.mark.parametrize("kw,words", [
    (dict(flows=70000), "flows=70000: give a whole number 0 to 65536"),
    (dict(flowlen=3), "give flows too"),
    (dict(flows=2, flowlen=-1), "flowlen=-1"),
])
def test_flows_refused_with_the_reason(kw, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        Traffic(**kw)
