"""pkt-gen's packets: the template frame, address ranges, and the checksum parts
the Cython engine needs to write correct IP and UDP checksums on every packet.

Pure Python, so it can be checked against scapy/dpkt without any privilege.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from .encap import ETH_MPLS, MPLS_BOTTOM, Encap

# pkt-gen's payload: 70 bytes, repeated to fill the frame (facts 3.5)
PAYLOAD = b"netmap pkt-gen DIRECT payload\nhttp://info.iet.unipi.it/~luigi/netmap/ "
assert len(PAYLOAD) == 70
PAYLOAD_INDIRECT = PAYLOAD.replace(b"DIRECT", b"indirect")  # -I (facts 3.5): 72 bytes
ETH_LEN, IP4_LEN, IP6_LEN, UDP_LEN = 14, 20, 40, 8
MIN_FRAME, MAX_FRAME = 16, 65536
DEFAULT_SRC, DEFAULT_DST = "10.0.0.1", "10.1.0.1"
DEFAULT_PORT = 1234


class BadArgument(ValueError):
    """A value given on the command line that cannot be used; the text says why."""


# -- MAC addresses ---------------------------------------------------------------
def parse_mac(text: str, what: str = "MAC address") -> bytes:
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise BadArgument(f"invalid {what} {text!r}: use six hex bytes, e.g. 02:00:00:00:00:01")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise BadArgument(f"invalid {what} {text!r}: {text!r} has a non-hex digit") from None


def mac_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


# -- address ranges (facts 3.6) ----------------------------------------------------
@dataclass
class Range:
    """A pkt-gen range: addresses [lo, hi] and ports [port_lo, port_hi].

    For IPv6 only one 16-bit group (``group``, 0..7) varies, as in pkt-gen."""

    text: str
    family: int  # 4 or 6
    lo: int
    hi: int
    port_lo: int
    port_hi: int
    group: int = 7
    base: bytes = field(default=b"", repr=False)  # the start address, packed

    @property
    def varies(self) -> bool:
        return self.lo != self.hi or self.port_lo != self.port_hi

    def addr_bytes(self, value: int) -> bytes:
        if self.family == 4:
            return struct.pack("!I", value)
        b = bytearray(self.base)
        b[2 * self.group: 2 * self.group + 2] = struct.pack("!H", value)
        return bytes(b)

    def __str__(self) -> str:
        return self.text


def _port(text: str, whole: str, what: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise BadArgument(f"bad {what} {whole!r}: port {text!r} is not a number") from None
    if not 0 <= v <= 65535:
        raise BadArgument(f"bad {what} {whole!r}: port {v} is outside 0..65535")
    return v


def parse_range(text: str, family: int, what: str) -> Range:
    """``A[:P][-B[:Q]]`` for IPv4; ``[G@][ADDR][:P]`` with optional brackets for IPv6."""
    if not text:
        raise BadArgument(f"bad {what}: empty")
    if family == 4:
        start, _, end = text.partition("-")
        a, pa = _split4(start, text, what)
        b, pb = _split4(end, text, what) if end else (a, None)
        pa = DEFAULT_PORT if pa is None else pa
        pb = pa if pb is None else pb
        lo, hi = sorted((a, b))
        plo, phi = sorted((pa, pb))
        return Range(text, 4, lo, hi, plo, phi, base=struct.pack("!I", lo))
    start, end = _split6_range(text)
    g, a6, pa = _split6(start, text, what)
    if end:
        g2, b6, pb = _split6(end, text, what)
        g = g2 if g2 is not None else g
    else:
        b6, pb = a6, None
    g = 7 if g is None else g
    pa = DEFAULT_PORT if pa is None else pa
    pb = pa if pb is None else pb
    a_words = struct.unpack("!8H", a6)
    b_words = struct.unpack("!8H", b6)
    if a_words[:g] + a_words[g + 1:] != b_words[:g] + b_words[g + 1:]:
        raise BadArgument(f"bad {what} {text!r}: an IPv6 range may differ only in group {g}")
    lo, hi = sorted((a_words[g], b_words[g]))
    plo, phi = sorted((pa, pb))
    return Range(text, 6, lo, hi, plo, phi, group=g, base=a6)


def _split4(part: str, whole: str, what: str) -> tuple[int, int | None]:
    addr, colon, port = part.partition(":")
    try:
        value = int(ipaddress.IPv4Address(addr))
    except ValueError:
        raise BadArgument(f"bad {what} {whole!r}: {addr!r} is not an IPv4 address "
                          "(use A[:port][-B[:port]], e.g. 10.0.0.1:1234-10.0.0.9:1240)") from None
    return value, _port(port, whole, what) if colon else None


def _split6_range(text: str) -> tuple[str, str]:
    # a '-' outside brackets separates the two ends
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "-" and depth == 0:
            return text[:i], text[i + 1:]
    return text, ""


def _split6(part: str, whole: str, what: str) -> tuple[int | None, bytes, int | None]:
    group = None
    if "@" in part:
        g, _, part = part.partition("@")
        if not g.isdigit() or not 0 <= int(g) <= 7:
            raise BadArgument(f"bad {what} {whole!r}: group {g!r} must be 0..7")
        group = int(g)
    port = None
    if part.startswith("["):
        addr, _, rest = part[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise BadArgument(f"bad {what} {whole!r}: expected :port after ]")
            port = _port(rest[1:], whole, what)
    else:
        addr = part
        # a trailing :port only when the remainder is not itself a valid address
        head, colon, tail = part.rpartition(":")
        if colon and tail.isdigit() and "::" not in part[-(len(tail) + 2):]:
            try:
                ipaddress.IPv6Address(part)
            except ValueError:
                addr, port = head, _port(tail, whole, what)
    try:
        packed = ipaddress.IPv6Address(addr or "::").packed
    except ValueError:
        raise BadArgument(f"bad {what} {whole!r}: {addr!r} is not an IPv6 address "
                          "(use [G@][ADDR][:port], e.g. [fd00::1]:1234)") from None
    return group, packed, port


# -- checksums ---------------------------------------------------------------------
def csum_words(data: bytes) -> int:
    """Sum of big-endian 16-bit words (odd length padded with a zero byte), unfolded."""
    if len(data) % 2:
        data = data + b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_csum(data: bytes) -> int:
    return (~fold(csum_words(data))) & 0xFFFF


def udp_csum_value(s: int) -> int:
    c = (~fold(s)) & 0xFFFF
    return c or 0xFFFF


# -- the frame ---------------------------------------------------------------------
@dataclass
class Frame:
    """A template and what the engine needs to vary it (offsets are in the frame)."""

    data: bytes  # the largest frame, checksums correct for its start values
    family: int
    vhdr: int  # virtio-net header bytes before the Ethernet header
    min_len: int  # == len(data) unless -l was given twice
    ip_off: int
    udp_off: int
    payload_off: int
    src: Range
    dst: Range
    ip_base: int  # IPv4 header sum without length, addresses, checksum
    udp_base: int  # pseudo-header + UDP header sum without lengths, addresses, ports, csum
    payload_psum: list[int]  # payload_psum[k] = sum over the first k payload bytes
    sizes: tuple = ()  # an IMIX cycle of lengths, sent in turn (empty: min_len..max_len)
    flows: tuple = ()  # (flows, flowlen): the destination address per flow (flow_slot)

    @property
    def max_len(self) -> int:
        return len(self.data)

    @property
    def ip_csum_off(self) -> int:
        return self.ip_off + 10

    @property
    def udp_csum_off(self) -> int:
        return self.udp_off + 6

    def fields(self):
        """Varying fields in odometer order: sport, sip, dport, dip (facts 3.6).

        Each is (offset, width, lo, hi, in_ip_checksum)."""
        out = []
        for r, port_off, addr_off in ((self.src, 0, self._addr_off(True)),
                                      (self.dst, 2, self._addr_off(False))):
            out.append((self.udp_off + port_off, 2, r.port_lo, r.port_hi, False))
            if self.family == 4:
                out.append((addr_off, 4, r.lo, r.hi, True))
            else:
                out.append((addr_off + 2 * r.group, 2, r.lo, r.hi, False))
        return [out[0], out[1], out[2], out[3]]

    def plan_fields(self, randomize: tuple = (False, False)):
        """fields() with what -z/-Z make of them: (off, width, lo, hi, in_ip, random).

        randomize (source, destination), as -z/-Z: a random field without a range
        covers its whole space, as in pkt-gen.  Or one flag per field (sport, sip,
        dport, dip), as Linux pktgen's *_RND flags: each random within its own range."""
        out = []
        per_field = len(randomize) == 4
        for i, (off, width, lo, hi, in_ip) in enumerate(self.fields()):
            rnd = bool(randomize[i] if per_field else randomize[0] if i < 2 else randomize[1])
            if rnd and lo == hi and not per_field:
                lo, hi = 0, (0x7FFFFFFF if width == 4 else 0xFFFF)
            out.append((off, width, lo, hi, bool(in_ip), rnd))
        return out

    def _addr_off(self, src: bool) -> int:
        if self.family == 4:
            return self.ip_off + (12 if src else 16)
        return self.ip_off + (8 if src else 24)


FLOW_MIX = 0x9E3779B97F4A7C15          # odd: slot -> a well-spread 32-bit draw
MAX_FLOWS = 65536                       # as Linux pktgen's MAX_CFLOWS


def flow_slot(i: int, flows: int, flowlen: int) -> int:
    """Which address of the destination range packet i carries: the flows take turns a
    packet each, and a flow moves to a new address after flowlen of its packets."""
    return i % flows + flows * (i // flows // flowlen)


def flow_value(slot: int, lo: int, hi: int, random: bool) -> int:
    """The destination address (or IPv6 group) of a flow slot: the next in the range,
    or with random (IPDST_RND, -Z) a draw fixed by the slot, the same in both engines."""
    x = ((slot * FLOW_MIX) & 0xFFFFFFFFFFFFFFFF) >> 32 if random else slot
    return lo + x % (hi - lo + 1)


def headers_len(family: int, encap_len: int = 0) -> int:
    """Ethernet (with encap_len bytes of tags and labels) + IPv4 or IPv6 + UDP: the
    shortest frame we build."""
    return ETH_LEN + encap_len + (IP4_LEN if family == 4 else IP6_LEN) + UDP_LEN


@dataclass(frozen=True)
class FrameFields:
    """What a frame of build_frame() holds besides its length: min_length (random
    sizes in [min_length, length]), IPv4 or 6, source and destination ranges, MACs,
    virtio-net header bytes before it, the payload pattern; tags, labels and TOS
    (an encap.Encap); sizes: an IMIX cycle (then length is its largest); flows:
    (flows, flowlen), Linux pktgen's flows of the destination address."""

    min_length: int | None = None
    family: int = 4
    src: Range | None = None
    dst: Range | None = None
    src_mac: bytes = b"\0" * 6
    dst_mac: bytes = b"\xff" * 6
    vhdr: int = 0
    payload: bytes = PAYLOAD
    encap: Encap = Encap()
    sizes: tuple = ()
    flows: tuple = ()


def build_frame(length: int, fields: FrameFields | None = None, **kw) -> Frame:
    """pkt-gen's default UDP frame of ``length`` bytes (no CRC, no virtio header);
    fields: a FrameFields, or its fields as keywords."""
    f = fields if fields is not None else FrameFields(**kw)
    min_length, family, src, dst = f.min_length, f.family, f.src, f.dst
    src_mac, dst_mac, vhdr, payload = f.src_mac, f.dst_mac, f.vhdr, f.payload
    enc = f.encap
    ip_len = IP4_LEN if family == 4 else IP6_LEN
    hdrs = headers_len(family, enc.length)
    lo_len = length if min_length is None else min_length
    if f.sizes:
        lo_len, length = min(f.sizes), max(f.sizes)
    if lo_len < hdrs or length < hdrs:
        raise BadArgument(f"frame length {min(lo_len, length)} is too small for Ethernet + "
                          f"{'tags + ' if enc.length else ''}IPv{family} + UDP headers "
                          f"({hdrs} bytes); use -l {hdrs} or more")
    if length > MAX_FRAME:
        raise BadArgument(f"frame length {length} is larger than {MAX_FRAME}")
    src = src or parse_range(DEFAULT_SRC if family == 4 else "::", family, "source")
    dst = dst or parse_range(DEFAULT_DST if family == 4 else "::", family, "destination")
    n_payload = length - hdrs
    body = (payload * (n_payload // len(payload) + 1))[:n_payload]
    udp_len = UDP_LEN + n_payload
    sip, dip = src.addr_bytes(src.lo), dst.addr_bytes(dst.lo)
    if family == 4:
        tos = 0x10 if enc.tos is None else enc.tos
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, tos, length - ETH_LEN - enc.length, 0, 0x4000,
                         64, 17, 0, sip, dip)
        ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
        pseudo = sip + dip + struct.pack("!BBH", 0, 17, udp_len)
        ethertype = 0x0800
    else:
        ip = struct.pack("!IHBB16s16s", 6 << 28 | (enc.tos or 0) << 20, udp_len, 17, 64, sip, dip)
        pseudo = sip + dip + struct.pack("!IxxxB", udp_len, 17)
        ethertype = 0x86DD
    udp = struct.pack("!HHHH", src.port_lo, dst.port_lo, udp_len, 0)
    csum = udp_csum_value(csum_words(pseudo + udp + body))
    udp = udp[:6] + struct.pack("!H", csum)
    eth = dst_mac + src_mac + _encap_bytes(enc, ethertype)
    data = b"\0" * vhdr + eth + ip + udp + body
    ip_off = vhdr + ETH_LEN + enc.length
    udp_off = ip_off + ip_len
    # sums of everything that does not vary per packet
    if family == 4:
        fixed_ip = bytearray(ip)
        for a, b in ((2, 4), (10, 12), (12, 20)):  # total length, checksum, addresses
            fixed_ip[a:b] = bytes(b - a)
        ip_base = csum_words(bytes(fixed_ip))
        udp_base = 17
    else:
        ip_base = 0
        s_fixed = bytearray(sip)
        d_fixed = bytearray(dip)
        s_fixed[2 * src.group: 2 * src.group + 2] = b"\0\0"
        d_fixed[2 * dst.group: 2 * dst.group + 2] = b"\0\0"
        udp_base = csum_words(bytes(s_fixed) + bytes(d_fixed)) + 17
    psum = [0] * (n_payload + 1)
    acc = 0
    for k in range(n_payload):
        acc += body[k] << (8 if k % 2 == 0 else 0)
        psum[k + 1] = acc
    return Frame(data=data, family=family, vhdr=vhdr, min_len=lo_len + vhdr, ip_off=ip_off,
                 udp_off=udp_off, payload_off=udp_off + UDP_LEN, src=src, dst=dst,
                 ip_base=ip_base, udp_base=udp_base, payload_psum=psum,
                 sizes=tuple(s + vhdr for s in f.sizes), flows=tuple(f.flows))


def _encap_bytes(enc: Encap, ethertype: int) -> bytes:
    """From the first TPID (or the EtherType) to the IP header: tags, the EtherType,
    then the label stack, its last entry marked bottom of stack."""
    out = b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in enc.tags)
    if not enc.mpls:
        return out + struct.pack("!H", ethertype)
    stack = list(enc.mpls)
    stack[-1] |= MPLS_BOTTOM
    return out + struct.pack(f"!H{len(stack)}I", ETH_MPLS, *stack)


def packet_at(frame: Frame, length: int, values: dict[str, int], seq: int | None = None) -> bytes:
    """The frame the engine should produce (reference model for tests)."""
    b = bytearray(frame.data[:length])
    f = frame.fields()
    for (off, width, _lo, _hi, _ip), key in zip(f, ("sport", "sip", "dport", "dip")):
        b[off:off + width] = values[key].to_bytes(width, "big")
    hdr_l = frame.udp_off - frame.vhdr + UDP_LEN
    udp_len = length - frame.vhdr - hdr_l + UDP_LEN
    if frame.family == 4:
        b[frame.ip_off + 2:frame.ip_off + 4] = struct.pack("!H", length - frame.ip_off)
        b[frame.ip_off + 10:frame.ip_off + 12] = b"\0\0"
        b[frame.ip_off + 10:frame.ip_off + 12] = struct.pack(
            "!H", inet_csum(bytes(b[frame.ip_off:frame.ip_off + IP4_LEN])))
    else:
        b[frame.ip_off + 4:frame.ip_off + 6] = struct.pack("!H", udp_len)
    b[frame.udp_off + 4:frame.udp_off + 6] = struct.pack("!H", udp_len)
    if seq is not None:
        b[frame.payload_off:frame.payload_off + 4] = struct.pack("!I", seq)
    b[frame.udp_csum_off:frame.udp_csum_off + 2] = b"\0\0"
    if frame.family == 4:
        pseudo = bytes(b[frame.ip_off + 12:frame.ip_off + 20]) + struct.pack("!BBH", 0, 17, udp_len)
    else:
        pseudo = bytes(b[frame.ip_off + 8:frame.ip_off + 40]) + struct.pack("!IxxxB", udp_len, 17)
    c = udp_csum_value(csum_words(pseudo + bytes(b[frame.udp_off:])))
    b[frame.udp_csum_off:frame.udp_csum_off + 2] = struct.pack("!H", c)
    return bytes(b)
