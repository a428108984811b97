"""What a sender sends: pkt-gen's UDP frame and its ranges, or frames of your own (raw
bytes, a pcap, a Scapy packet with fields that vary per frame)."""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, fields

from . import encap as E
from . import packet as P

MAX_VARIED = 65536              # from_scapy(vary=...): frames built at most


@dataclass(frozen=True)
class Traffic:
    """pkt-gen's parameters: length (bytes without CRC; min_length too: sizes in
    [min, max]), family 4 or 6, src/dst ranges as -s/-d take them ("10.0.0.1-10.0.0.9:
    1234-1240"), MACs (src_mac None: the interface's), random_src/random_dst (-z/-Z),
    or random_fields (sport, sip, dport, dip: each random within its own range).
    Beyond pkt-gen: vlan (802.1Q ID, vlan_prio its PCP), svlan (a QinQ 802.1ad outer
    tag over vlan, svlan_prio; svlan_tpid 0x8100 as Linux pktgen writes it), mpls
    (labels outermost first: ints, or (label, tc, ttl)), tos or dscp (IPv4),
    traffic_class or dscp (IPv6), imix ("classic": 7:4:1 of 60/590/1514 bytes, that is
    64/594/1518 with CRC; or (size, weight) pairs, "60:7,1514:1"), each cycle of sizes
    sent spread out, in place of length/min_length.  flows, flowlen: Linux pktgen's
    flows (the destination address held by each of `flows` flows taking turns, for
    flowlen of its packets; P.flow_slot says which address a packet carries).
    Or frames: sent in turn, as they are (from_bytes, from_pcap, from_scapy)."""

    length: int = 60
    min_length: int | None = None
    family: int = 4
    src: str | None = None
    dst: str | None = None
    src_mac: str | None = None
    dst_mac: str = "ff:ff:ff:ff:ff:ff"
    random_src: bool = False
    random_dst: bool = False
    frames: tuple[bytes, ...] | None = None
    random_fields: tuple | None = None  # (sport, sip, dport, dip): each within its range
    vlan: int | None = None
    vlan_prio: int = 0
    svlan: int | None = None
    svlan_prio: int = 0
    svlan_tpid: int = E.TPID_8021AD
    mpls: tuple = ()
    tos: int | None = None
    dscp: int | None = None
    traffic_class: int | None = None
    imix: object = None
    flows: int = 0
    flowlen: int = 0

    @property
    def randomize(self) -> tuple:
        """What the engine draws at random: (source, destination), or per field."""
        return self.random_fields if self.random_fields is not None else \
            (self.random_src, self.random_dst)

    def __post_init__(self):
        if self.frames is not None:
            if self._extras():
                raise ValueError(f"Traffic(frames=...) are sent as they are: drop "
                                 f"{', '.join(self._extras())}")
            if not self.frames:
                raise ValueError("Traffic(frames=...) needs at least one frame")
            for i, f in enumerate(self.frames):
                if not isinstance(f, (bytes, bytearray, memoryview)):
                    raise TypeError(f"frame {i} is a {type(f).__name__}, not bytes")
                if not P.MIN_FRAME <= len(f) <= P.MAX_FRAME:
                    raise ValueError(f"frame {i} is {len(f)} bytes: give "
                                     f"{P.MIN_FRAME} to {P.MAX_FRAME}")
            return
        rf = self.random_fields
        if rf is not None and (not isinstance(rf, tuple) or len(rf) != 4 or
                               not all(isinstance(x, bool) for x in rf)):
            raise TypeError("random_fields: four booleans (sport, sip, dport, dip)")
        self._frame(b"\0" * 6)          # every check the engine's frame makes, now

    def _extras(self) -> list[str]:
        """The encapsulation and size-mix fields given (not at their defaults)."""
        defaults = {f.name: f.default for f in fields(self)}
        return [k for k in E.KEYS + ("imix", "flows", "flowlen")
                if getattr(self, k) != defaults[k]]

    def _frame(self, src_mac: bytes) -> P.Frame:
        if self.family not in (4, 6):
            raise ValueError(f"family={self.family!r}: 4 or 6")
        for name in ("length", "min_length"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise TypeError(f"{name} must be an integer, not {type(v).__name__}")
        enc = E.encap_of({k: getattr(self, k) for k in E.KEYS}, self.family)
        sizes = ()
        if self.imix is not None:
            if self.min_length is not None or self.length != 60:
                raise ValueError("imix sets the sizes: drop length and min_length")
            sizes = E.imix_cycle(E.imix_of(self.imix))
        lo = min(sizes) if sizes else self.length if self.min_length is None else self.min_length
        hi = max(sizes) if sizes else self.length
        hdrs = P.headers_len(self.family, enc.length)
        if not hdrs <= lo <= hi <= P.MAX_FRAME:
            what = f"IPv{self.family}/UDP" + (" (with its tags and labels)" if enc.length else "")
            raise ValueError(f"length {hi} (min_length {lo}): an {what} frame takes {hdrs} "
                             f"to {P.MAX_FRAME} bytes, min_length <= length")
        any4, any6 = P.DEFAULT_SRC if self.family == 4 else "::", \
            P.DEFAULT_DST if self.family == 4 else "::"
        src = P.parse_range(self.src or any4, self.family, "src range")
        dst = P.parse_range(self.dst or any6, self.family, "dst range")
        smac = P.parse_mac(self.src_mac, "src_mac") if self.src_mac else src_mac
        return P.build_frame(hi, min_length=lo, family=self.family, src=src,
                             dst=dst, src_mac=smac, encap=enc, sizes=sizes, flows=self._flows(),
                             dst_mac=P.parse_mac(self.dst_mac, "dst_mac"))

    def _flows(self) -> tuple:
        for name, hi in (("flows", P.MAX_FLOWS), ("flowlen", 2**31 - 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                raise ValueError(f"{name}={v!r}: give a whole number 0 to {hi}")
        if not self.flows:
            if self.flowlen:
                raise ValueError("flowlen is the length of each of the flows: give flows too")
            return ()
        return (self.flows, max(self.flowlen, 1))     # flowlen 0, as pktgen: a packet

    def frames_for(self, func: str, threads: int, src_mac: bytes = b"\0" * 6) -> list:
        """(Frame or None, frames or None) per thread, for the engine."""
        if self.frames is not None:
            if func != "tx":
                raise ValueError(f"frames of your own are sent with send() (tx), not {func}")
            return [(None, [bytes(f) for f in self.frames])] * threads
        frame = self._frame(src_mac)
        hdrs = frame.payload_off - frame.vhdr
        if func in ("txseq", "ping") and frame.min_len < hdrs + 12:
            raise ValueError(f"{func} needs frames of {hdrs + 12} bytes at least")
        return [(frame, None)] * threads

    # -- frames of your own -----------------------------------------------------------
    @classmethod
    def from_bytes(cls, *frames: bytes) -> Traffic:
        """These frames, sent in turn (the Ethernet header onwards, no CRC)."""
        return cls(frames=tuple(bytes(f) if isinstance(f, (bytearray, memoryview)) else f
                                for f in frames))

    @classmethod
    def from_pcap(cls, path: str) -> Traffic:
        """Every packet of a pcap file, in order (OSError / ValueError for a bad file)."""
        from .pcap import PcapError, read_pcap
        try:
            return cls(frames=tuple(data for _, data in read_pcap(path)))
        except PcapError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_scapy(cls, packet, vary: dict | None = None, *, count: int = 1024,
                   seed: int = 1) -> Traffic:
        """A Scapy packet (any headers); vary names fields as "layer.field" (ip.src,
        udp.sport, ipv6.dst, dot1q.vlan ...) with a range "a-b" or "random".  The
        fields advance together, a step a frame, each wrapping at the end of its range
        (random: count draws); Scapy recomputes every length and checksum per frame."""
        try:
            from scapy.packet import Packet
        except ImportError:
            raise ImportError("Traffic.from_scapy needs Scapy: pip install scapy") from None
        if not isinstance(packet, Packet):
            raise TypeError(f"from_scapy takes a Scapy packet, not {type(packet).__name__}")
        if not vary:
            return cls(frames=(bytes(packet),))
        rnd = random.Random(seed)
        plans = [_field_plan(packet, k, v, count, rnd) for k, v in vary.items()]
        n = min(MAX_VARIED, max(len(values) for _, _, values in plans))
        out = []
        for i in range(n):
            p = packet.copy()
            for layer, name, values in plans:
                setattr(p[layer], name, values[i % len(values)])
            _forget_checksums(p)
            out.append(bytes(p))
        return cls(frames=tuple(out))


def _field_plan(packet, key: str, spec: str, count: int, rnd: random.Random):
    """(layer class, field name, the values it takes) for one vary entry."""
    if not isinstance(key, str) or key.count(".") != 1:
        raise ValueError(f"vary key {key!r}: name a field as 'layer.field', e.g. 'ip.src'")
    lname, fname = key.split(".")
    layer = next((lay for lay in packet.layers() if lay.__name__.lower() == lname.lower()), None)
    if layer is None:
        have = ", ".join(lay.__name__.lower() for lay in packet.layers())
        raise ValueError(f"vary {key!r}: the packet has no {lname} layer (it has {have})")
    if fname not in {f.name for f in packet[layer].fields_desc}:
        raise ValueError(f"vary {key!r}: {layer.__name__} has no field {fname!r}")
    fld = packet[layer].get_field(fname)
    while hasattr(fld, "fld"):              # the field itself, not a wrapper (Emph)
        fld = fld.fld
    from scapy.fields import IP6Field, IPField
    is_addr = isinstance(fld, (IPField, IP6Field))
    if spec == "random":
        if is_addr:
            bits = 128 if isinstance(fld, IP6Field) else 32
            return layer, fname, [str(ipaddress.ip_address(rnd.getrandbits(bits)))
                                  for _ in range(count)]
        bits = 8 * getattr(fld, "sz", 2)
        return layer, fname, [rnd.getrandbits(bits) for _ in range(count)]
    if not isinstance(spec, str) or spec.count("-") != 1:
        raise ValueError(f"vary {key!r}: {spec!r} is neither 'a-b' nor 'random'")
    a, b = spec.split("-")
    try:
        lo, hi = ((int(ipaddress.ip_address(a)), int(ipaddress.ip_address(b))) if is_addr
                  else (int(a), int(b)))
    except ValueError:
        raise ValueError(f"vary {key!r}: {spec!r} is not a range of "
                         f"{'addresses' if is_addr else 'integers'}") from None
    if hi < lo:
        raise ValueError(f"vary {key!r}: {spec!r} ends before it starts")
    if hi - lo >= MAX_VARIED:
        hi = lo + MAX_VARIED - 1
    vals = range(lo, hi + 1)
    return layer, fname, [str(ipaddress.ip_address(v)) for v in vals] if is_addr else list(vals)


def _forget_checksums(p) -> None:
    """Let Scapy compute lengths and checksums anew for this frame."""
    lay = p
    while lay is not None and lay.name != "NoPayload":
        for name in ("chksum", "len", "plen"):
            if name in lay.fields:
                delattr(lay, name)
        lay = lay.payload if lay.payload.name != "NoPayload" else None
