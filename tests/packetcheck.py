"""Checks on one frame shared by the test tiers: scapy recomputes both checksums."""
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether


def checksums_ok(frame: bytes) -> bool:
    """IPv4 and UDP checksums (or the UDP one for IPv6) and the length fields."""
    e = Ether(frame)
    if IP in e:
        c1, c2 = e[IP].chksum, e[UDP].chksum
        del e[IP].chksum, e[UDP].chksum
        e2 = Ether(bytes(e))
        return (c1, c2) == (e2[IP].chksum, e2[UDP].chksum) and e[IP].len == len(frame) - 14
    c2 = e[UDP].chksum
    del e[UDP].chksum
    return Ether(bytes(e))[UDP].chksum == c2 and e[IPv6].plen == len(frame) - 54
