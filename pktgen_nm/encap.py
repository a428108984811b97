"""What our frames carry beyond pkt-gen's: 802.1Q and 802.1ad (QinQ) tags, an MPLS
label stack, the IPv4 TOS byte (or its DSCP bits), the IPv6 traffic class, and a mix
of frame sizes (IMIX).  Checked here, from the run API's keywords or the command
line's texts, into what packet.build_frame writes."""
from __future__ import annotations

import math
from dataclasses import dataclass

TPID_8021Q, TPID_8021AD = 0x8100, 0x88A8
ETH_MPLS = 0x8847
MPLS_BOTTOM = 1 << 8                    # the S bit of a label stack entry
MAX_LABELS = 16
MAX_TAGS = 2
MAX_CYCLE = 4096                        # sizes in one IMIX cycle, at most
MAX_SIZES = 32                          # distinct sizes in one mix
# the classic simple IMIX, 7:4:1 of 64, 594 and 1518 bytes on the wire: our lengths
# never count the 4-byte CRC (as -l), so these are 60, 590 and 1514
CLASSIC_IMIX = ((60, 7), (590, 4), (1514, 1))
KEYS = ("vlan", "vlan_prio", "svlan", "svlan_prio", "svlan_tpid", "mpls", "tos", "dscp",
        "traffic_class")
OUTER_TPIDS = (TPID_8021AD, TPID_8021Q, 0x9100)   # 802.1ad; as Linux pktgen; pre-standard


class EncapError(ValueError):
    """A tag, label, TOS or size mix that cannot be built; the text says why."""


@dataclass(frozen=True)
class Encap:
    """Between the MACs and the IP header: tags as (tpid, tci), outermost first; MPLS
    label stack entries (32 bits each, outermost first; build_frame sets the bottom of
    stack bit on the last).  tos: the IPv4 TOS or IPv6 traffic class byte (None:
    pkt-gen's 0x10 for IPv4, 0 for IPv6)."""

    tags: tuple = ()
    mpls: tuple = ()
    tos: int | None = None

    @property
    def length(self) -> int:
        return 4 * (len(self.tags) + len(self.mpls))

    def describe(self) -> str:
        parts = [f"{'802.1ad' if tp == TPID_8021AD else '802.1Q'} vid {tci & 0xFFF} "
                 f"prio {tci >> 13}" for tp, tci in self.tags]
        if self.mpls:
            parts.append("MPLS " + "/".join(str(e >> 12) for e in self.mpls))
        if self.tos is not None:
            parts.append(f"tos {self.tos:#04x}")
        return ", ".join(parts)


def _int(name: str, v, lo: int, hi: int, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise EncapError(f"{name}={v!r}: give an integer, {what}")
    if not lo <= v <= hi:
        raise EncapError(f"{name}={v}: {what}")
    return v


def label_entry(label: int, tc: int = 0, ttl: int = 64) -> int:
    """One MPLS label stack entry without its S bit."""
    _int("mpls label", label, 0, (1 << 20) - 1, "a label is 0 to 1048575")
    _int("mpls tc", tc, 0, 7, "a traffic class is 0 to 7")
    _int("mpls ttl", ttl, 0, 255, "a TTL is 0 to 255")
    return (label << 12) | (tc << 9) | ttl


def encap_of(fields: dict, family: int) -> Encap:
    """An Encap from the run API's keywords (KEYS; None or absent: not used)."""
    get = fields.get
    tags = []
    if get("svlan") is not None:
        if get("vlan") is None:
            raise EncapError("svlan (the QinQ outer tag) needs vlan, the inner tag, too")
        tpid = TPID_8021AD if get("svlan_tpid") is None else get("svlan_tpid")
        if tpid not in OUTER_TPIDS:
            raise EncapError(f"svlan_tpid={tpid!r}: use 0x88a8 (802.1ad), 0x8100 (as Linux "
                             "pktgen writes its outer tag) or 0x9100")
        tags.append((tpid, _tci("svlan", get("svlan"), get("svlan_prio") or 0)))
    if get("vlan") is not None:
        tags.append((TPID_8021Q, _tci("vlan", get("vlan"), get("vlan_prio") or 0)))
    stack = get("mpls") or ()
    if isinstance(stack, (int, str)) or not isinstance(stack, (tuple, list)):
        raise EncapError(f"mpls={stack!r}: give a sequence of labels, e.g. mpls=(16, 17)")
    if len(stack) > MAX_LABELS:
        raise EncapError(f"mpls: {len(stack)} labels; at most {MAX_LABELS}")
    for e in stack:
        if isinstance(e, tuple) and not 1 <= len(e) <= 3:
            raise EncapError(f"mpls entry {e!r}: give a label or (label, tc, ttl)")
    entries = tuple(label_entry(*e) if isinstance(e, tuple) else label_entry(e) for e in stack)
    return Encap(tuple(tags), entries, _tos(get, family))


def _tci(name: str, vid, prio) -> int:
    _int(name, vid, 0, 4095, "a VLAN ID is 0 to 4095")
    _int(f"{name}_prio", prio, 0, 7, "a priority (PCP) is 0 to 7")
    return (prio << 13) | vid


def _tos(get, family: int) -> int | None:
    given = [k for k in ("tos", "dscp", "traffic_class") if get(k) is not None]
    if len(given) > 1:
        raise EncapError(f"{' and '.join(given)} set the same byte: give one")
    if not given:
        return None
    k = given[0]
    if k == "tos" and family != 4:
        raise EncapError("tos is the IPv4 header's byte: for IPv6 give traffic_class (or dscp)")
    if k == "traffic_class" and family != 6:
        raise EncapError("traffic_class is IPv6's: for IPv4 give tos (or dscp)")
    if k == "dscp":
        return _int("dscp", get(k), 0, 63, "a DSCP is 0 to 63") << 2
    return _int(k, get(k), 0, 255, "it is one byte, 0 to 255")


# -- size mixes ------------------------------------------------------------------
def imix_of(spec) -> tuple:
    """(size, weight) pairs from "classic", "60:7,590:4,1514:1" or a sequence of pairs."""
    if spec == "classic":
        return CLASSIC_IMIX
    if isinstance(spec, str):
        pairs = []
        for part in spec.split(","):
            size, colon, weight = part.strip().partition(":")
            if not (colon and size.isdigit() and weight.isdigit()):
                raise EncapError(f"imix {spec!r}: give 'classic' or SIZE:WEIGHT,... "
                                 "(e.g. 60:7,590:4,1514:1)")
            pairs.append((int(size), int(weight)))
        spec = pairs
    try:
        pairs = tuple((s, w) for s, w in spec)
    except (TypeError, ValueError):
        raise EncapError(f"imix={spec!r}: give 'classic' or (size, weight) pairs") from None
    if not 1 <= len(pairs) <= MAX_SIZES:
        raise EncapError(f"imix: {len(pairs)} sizes; give 1 to {MAX_SIZES}")
    for s, w in pairs:
        _int("imix size", s, 16, 65536, "a frame is 16 to 65536 bytes")
        _int("imix weight", w, 1, MAX_CYCLE, f"a weight is 1 to {MAX_CYCLE}")
    return pairs


def imix_cycle(pairs: tuple) -> tuple:
    """One cycle of sizes in send order: each size as often as its weight (weights
    divided by their common divisor), spread out (smooth weighted round robin)."""
    g = math.gcd(*(w for _, w in pairs))
    weights = [w // g for _, w in pairs]
    total = sum(weights)
    if total > MAX_CYCLE:
        raise EncapError(f"imix: the weights add up to {total} (after dividing by their "
                         f"common divisor); keep them at {MAX_CYCLE} or less")
    credit = [0] * len(pairs)
    out = []
    for _ in range(total):
        for i, w in enumerate(weights):
            credit[i] += w
        best = max(range(len(pairs)), key=lambda i: credit[i])
        credit[best] -= total
        out.append(pairs[best][0])
    return tuple(out)


# -- the command line's texts ------------------------------------------------------
def parse_tag(text: str, flag: str) -> tuple[int, int]:
    """--vlan/--qinq ID[:PRIO]."""
    vid, _, prio = text.partition(":")
    if not vid.isdigit() or (prio and not prio.isdigit()):
        raise EncapError(f"bad {flag} {text!r}: use ID[:PRIO], e.g. {flag} 100:3")
    return int(vid), int(prio or 0)


def parse_labels(text: str) -> tuple:
    """--mpls LABEL[/TC[/TTL]][,...]: outermost first."""
    out = []
    for part in text.split(","):
        bits = part.strip().split("/")
        if not 1 <= len(bits) <= 3 or not all(b.isdigit() for b in bits):
            raise EncapError(f"bad --mpls {text!r}: use LABEL[/TC[/TTL]],..., e.g. 16,17/5/64")
        out.append(tuple(int(b) for b in bits))
    return tuple(out)
