"""VLAN, QinQ, MPLS, TOS/DSCP, IPv6 traffic class and IMIX from both engines across a
veth pair: every captured frame parsed by scapy (tags, labels, the TOS byte, both
checksums recomputed) and equal to the reference model; IMIX proportions counted
over 1 000 000 frames.

The receiver runs on the xdp: backend: XDP sees a frame before the kernel takes its
VLAN tag off (AF_PACKET would hand us the frame untagged, the tag aside)."""
import ipaddress
import json

import pytest
from labutil import helper_bg, pktgen, ready
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from test_kernel_engine import capture
from test_pktgen import start_rx

from pktgen_nm import encap as E
from pktgen_nm import packet as P
from pktgen_nm.pcap import read_pcap

ENGINES = ["ring", "kernel"]


def _capture(lab, engine, args, n, tmp_path):
    """n frames sent by either engine, as B's xdp port received them."""
    if engine == "kernel":
        return capture(lab, args, n, tmp_path)[1]
    cap = tmp_path / "r.pcap"
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--pcap-out", str(cap), "--duration", "15"])
    tx = pktgen(lab, "A", ["-i", f"xdp:{lab.dev_a}", "-f", "tx", "-w", "0", "-n", str(n),
                           "-R", "100000", "-D", lab.mac("B", lab.dev_b)] + args)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=90)
    assert "Received" in out, out + err
    return [data for _, data in read_pcap(str(cap))]


def checksums_fresh(pkt) -> bool:
    """scapy recomputes the IP (v4) and UDP checksums: do they match the frame's?"""
    fresh = pkt.copy()
    if IP in fresh:
        del fresh[IP].chksum
    del fresh[UDP].chksum
    again = Ether(bytes(fresh))
    return again[UDP].chksum == pkt[UDP].chksum and (IP not in pkt or
                                                     again[IP].chksum == pkt[IP].chksum)


@pytest.mark.parametrize("engine", ENGINES)
def test_qinq_mpls_dscp_every_frame(lab, engine, tmp_path):
    n = 2000
    args = ["--vlan", "100:3", "--svlan", "200:5", "--mpls", "16,17/5/10", "--dscp", "46",
            "-d", "10.1.0.1:2000-10.1.0.4:2003", "-l", "200", "-l", "80"]
    frames = _capture(lab, engine, args, n, tmp_path)
    assert len(frames) == n
    enc = E.encap_of({"vlan": 100, "vlan_prio": 3, "svlan": 200, "svlan_prio": 5,
                      "mpls": (16, (17, 5, 10)), "dscp": 46}, 4)
    dst = P.parse_range("10.1.0.1:2000-10.1.0.4:2003", 4, "d")
    ref = P.build_frame(200, min_length=80, dst=dst, encap=enc,
                        src_mac=P.parse_mac(lab.mac("A", lab.dev_a)),
                        dst_mac=P.parse_mac(lab.mac("B", lab.dev_b)))
    dips = set()
    for f in frames:
        pkt = Ether(f)
        outer, inner = pkt[Dot1AD], pkt[Dot1Q]
        assert (outer.vlan, outer.prio, inner.vlan, inner.prio) == (200, 5, 100, 3)
        labels = pkt[MPLS]
        assert (labels.label, labels.s, labels.ttl) == (16, 0, 64)
        bottom = labels.payload
        assert (bottom.label, bottom.cos, bottom.s, bottom.ttl) == (17, 5, 1, 10)
        ip = IP(bytes(bottom.payload))
        assert ip.tos == 46 << 2 and ip.len == len(f) - 30 and 80 <= len(f) <= 200
        assert checksums_fresh(pkt)
        vals = dict(sport=ip[UDP].sport, sip=int(ipaddress.ip_address(ip.src)),
                    dport=ip[UDP].dport, dip=int(ipaddress.ip_address(ip.dst)))
        assert f == P.packet_at(ref, len(f), vals)
        dips.add((ip.dst, ip[UDP].dport))
    assert len(dips) == 16, "the destination range still varies behind the labels"


@pytest.mark.parametrize("engine", ENGINES)
def test_ipv6_vlan_traffic_class_every_frame(lab, engine, tmp_path):
    n = 1000
    frames = _capture(lab, engine, ["-6", "--vlan", "7", "--traffic-class", "0xb8",
                                    "-l", "128"], n, tmp_path)
    assert len(frames) == n
    for f in frames:
        pkt = Ether(f)
        assert pkt[Dot1Q].vlan == 7 and pkt[Dot1Q].prio == 0 and Dot1AD not in pkt
        assert pkt[IPv6].tc == 0xB8 and pkt[IPv6].plen == len(f) - 58 == 128 - 58
        assert checksums_fresh(pkt)


@pytest.mark.parametrize("engine", ENGINES)
def test_imix_proportions_over_a_million(lab, engine, capsys):
    n = 1_000_000
    rx = helper_bg(lab, "B", ["sizes", f"xdp:{lab.dev_b}", str(n), "--timeout", "60"])
    ready(rx)
    port = lab.dev_a if engine == "kernel" else f"xdp:{lab.dev_a}"
    tx = pktgen(lab, "A", ["-i", port, "-f", "tx", "-w", "0", "-n", str(n), "-a", "0",
                           "-R", "200000", "--imix", "classic", "-D", lab.mac("B", lab.dev_b)]
                + (["--engine", "kernel"] if engine == "kernel" else []), timeout=120)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=120)
    assert out.strip(), err
    got = json.loads(out.strip().splitlines()[-1])
    assert got["received"] == n, (got, err)
    sizes = {int(k): v for k, v in got["sizes"].items()}
    assert set(sizes) == {60, 590, 1514}
    for size, weight in E.CLASSIC_IMIX:
        share = sizes[size] / n
        assert abs(share - weight / 12) <= 0.01 * weight / 12, (size, share)
    with capsys.disabled():
        print(f"\nIMIX classic, {engine} engine, {n} frames: " +
              ", ".join(f"{s} bytes {c} ({c / n:.4%})" for s, c in sorted(sizes.items())))
    total = sum(s * c for s, c in sizes.items())
    assert f"Sent {n} packets {total} bytes" in tx.stdout, tx.stdout


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("random_dst", [False, True])
def test_flows_every_frame(lab, engine, random_dst, tmp_path):
    n = 4000
    args = ["-d", "10.9.0.1:7000-10.9.0.200:7000", "--flows", "8", "--flowlen", "4", "-l", "60"]
    frames = _capture(lab, engine, args + (["-Z"] if random_dst else []), n, tmp_path)
    assert len(frames) == n
    dst = P.parse_range(args[1], 4, "d")
    want = [P.flow_value(P.flow_slot(i, 8, 4), dst.lo, dst.hi, random_dst) for i in range(n)]
    got = [int(ipaddress.ip_address(Ether(f)[IP].dst)) for f in frames]
    assert got == want
    assert all(checksums_fresh(Ether(f)) for f in frames[:500])
