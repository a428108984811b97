"""pkt-gen's frame (facts 3.5, 3.6) and our checksums, checked against scapy."""
import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from pktgen_nm import packet as P

DEFAULT_60 = bytes.fromhex(
    "ffffffffffff000000000000080045100 02e00004000401126ad0a0000010a01"
    "000104d204d2001a15806e65746d617020706b742d67656e20444952".replace(" ", ""))


def test_default_frame_is_pkt_gens():
    assert P.build_frame(60).data == DEFAULT_60


def test_1514_checksums_from_facts():
    d = P.build_frame(1514).data
    assert struct.unpack("!HH", d[16:18] + d[24:26]) == (1500, 0x20FF)
    assert struct.unpack("!HH", d[38:42]) == (1480, 0x4A85)


@pytest.mark.parametrize("length", [42, 43, 60, 61, 128, 999, 1514, 9000])
def test_ipv4_checksums_scapy(length):
    f = P.build_frame(length, src=P.parse_range("192.168.1.7:53", 4, "s"))
    e = Ether(f.data)
    ip_c, udp_c = e[IP].chksum, e[UDP].chksum
    del e[IP].chksum, e[UDP].chksum
    e2 = Ether(bytes(e))
    assert (ip_c, udp_c) == (e2[IP].chksum, e2[UDP].chksum)
    assert len(f.data) == length


def test_ipv6_checksum_is_right_unlike_pkt_gen():
    f = P.build_frame(78, family=6, src=P.parse_range("[fd00::1]:7", 6, "s"),
                      dst=P.parse_range("fd00::2", 6, "d"))
    e = Ether(f.data)
    c = e[UDP].chksum
    del e[UDP].chksum
    assert Ether(bytes(e))[UDP].chksum == c
    assert e[IPv6].plen == 78 - 54 and e[UDP].sport == 7


def test_reference_model_matches_builder():
    f = P.build_frame(100)
    vals = dict(sport=1234, sip=0x0A000001, dport=1234, dip=0x0A010001)
    assert P.packet_at(f, 100, vals) == f.data


@pytest.mark.parametrize("text,lo,hi,plo,phi", [
    ("10.0.0.1", 0x0A000001, 0x0A000001, 1234, 1234),
    ("10.0.0.1:99", 0x0A000001, 0x0A000001, 99, 99),
    ("10.0.0.9:7-10.0.0.1:3", 0x0A000001, 0x0A000009, 3, 7),  # swapped, independently
    ("10.0.0.1:0x10-10.0.0.2", 0x0A000001, 0x0A000002, 16, 16),
])
def test_ipv4_ranges(text, lo, hi, plo, phi):
    r = P.parse_range(text, 4, "-s")
    assert (r.lo, r.hi, r.port_lo, r.port_hi) == (lo, hi, plo, phi)


def test_ipv6_ranges():
    r = P.parse_range("[fd00::1]:80-[fd00::9]:81", 6, "-s")
    assert (r.group, r.lo, r.hi, r.port_lo, r.port_hi) == (7, 1, 9, 80, 81)
    r = P.parse_range("3@fd00::-3@fd00:0:0:5::", 6, "-s")
    assert (r.group, r.lo, r.hi) == (3, 0, 5)
    assert P.parse_range("::", 6, "-s").lo == 0


@pytest.mark.parametrize("text,fam,why", [
    ("10.0.0", 4, "not an IPv4 address"),
    ("10.0.0.1:70000", 4, "outside 0..65535"),
    ("10.0.0.1:abc", 4, "not a number"),
    ("", 4, "empty"),
    ("fd00::1-fd01::2", 6, "may differ only in group"),
    ("9@fd00::1", 6, "must be 0..7"),
    ("zz::1", 6, "not an IPv6 address"),
])
def test_bad_ranges(text, fam, why):
    with pytest.raises(P.BadArgument, match=why):
        P.parse_range(text, fam, "-s")


def test_macs():
    assert P.parse_mac("02:00:00:00:00:0a") == b"\x02\0\0\0\0\x0a"
    assert P.mac_str(b"\x02\0\0\0\0\x0a") == "02:00:00:00:00:0a"
    for bad in ("02:00:00:00:00", "02:00:00:00:00:zz", "0200.0000.000a"):
        with pytest.raises(P.BadArgument):
            P.parse_mac(bad)


def test_too_small():
    with pytest.raises(P.BadArgument, match="too small"):
        P.build_frame(41)
