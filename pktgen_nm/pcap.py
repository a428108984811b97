"""Classic pcap files (libpcap format): read for -P, write for --pcap-out."""
from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

MAGIC_US, MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
LINKTYPE_ETHERNET = 1


class PcapError(ValueError):
    pass


def read_pcap(path: str) -> Iterator[tuple[float, bytes]]:
    """Yield (timestamp, frame) for every packet; raise PcapError on a bad file."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise PcapError("not a pcap file (shorter than a pcap header)")
        for endian in ("<", ">"):
            magic = struct.unpack(endian + "I", head[:4])[0]
            if magic in (MAGIC_US, MAGIC_NS):
                break
        else:
            raise PcapError("not a pcap file (bad magic; pcapng is not supported: "
                            "convert with 'editcap -F pcap in.pcapng out.pcap')")
        scale = 1e-9 if magic == MAGIC_NS else 1e-6
        linktype = struct.unpack(endian + "I", head[20:24])[0] & 0xFFFF
        if linktype != LINKTYPE_ETHERNET:
            raise PcapError(f"link type {linktype} is not Ethernet (1)")
        rec = struct.Struct(endian + "IIII")
        frames = []
        while True:
            h = f.read(16)
            if not h:
                break
            if len(h) < 16:
                raise PcapError("truncated packet header at the end of the file")
            sec, frac, incl, _orig = rec.unpack(h)
            data = f.read(incl)
            if len(data) < incl:
                raise PcapError("truncated packet at the end of the file")
            frames.append((sec + frac * scale, data))
    yield from frames


def write_pcap(path: str, packets: Iterable[tuple[int, bytes]]) -> int:
    """Write (unix time ns, frame) pairs with nanosecond timestamps; return the count."""
    n = 0
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", MAGIC_NS, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for ts, data in packets:
            f.write(struct.pack("<IIII", ts // 1_000_000_000, ts % 1_000_000_000,
                                len(data), len(data)))
            f.write(data)
            n += 1
    return n
