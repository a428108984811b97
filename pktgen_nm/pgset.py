"""Linux pktgen command scripts on our kernel engine (no pktgen module needed).

A script is what pktgen's users write: the ``pgset "..."`` lines of a shell script
with the ``PGDEV=/proc/net/pktgen/...`` they write to (or ``echo "..." > FILE``),
shell variables of the simple ``NAME="value"`` kind, or bare command lines after a
``PGDEV=`` line.  Everything else a shell script does (functions, modprobe, cat,
trap, read) is not ours and is passed over.

    from pktgen_nm import pgset
    script = pgset.parse(open("pktgen.conf").read())
    for dev, res in pgset.run(script).items():
        print(dev, res.pkts)

Every command is either mapped to the run API (send() on the kernel engine) or
refused before anything runs, with the line that gave it.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field

PROC = "/proc/net/pktgen/"

# device commands taken as they are (no effect here: the kernel engine never copies
# or allocates per packet, and sends one frame a batch of XDP_TX live frames)
IGNORED = {"clone_skb", "config", "max_before_softirq", "rem_device_all", "node", "frags"}
# the *_RND flags: which field (Traffic.random_fields: sport, sip, dport, dip) each
# draws at random, within its own min..max as pktgen does
FLAGS_OK = {"UDPSRC_RND": 0, "IPSRC_RND": 1, "UDPDST_RND": 2, "IPDST_RND": 3,
            "NO_TIMESTAMP": None, "TXSIZE_RND": None,   # sizes in min..max: always drawn
            "FLOW_SEQ": None,                           # flows one after the other
            "QUEUE_MAP_CPU": None}  # each kpktgend_N runs on CPU N, and XDP sends on its queue


class ScriptError(ValueError):
    """A script we cannot run as asked: one line, naming the line that says it."""


@dataclass
class Device:
    """One device's configuration as the script left it."""

    name: str                           # as the script names it: eth1 or eth1@0
    thread: int
    count: int = 1000
    pkt_size: int = 60                  # pktgen's: the frame without its 4-byte CRC
    max_pkt_size: int | None = None
    delay_ns: int = 0
    ratep: float = 0.0
    rate_mbit: float = 0.0
    burst: int = 1
    dst: tuple = ("0.0.0.0", "0.0.0.0")
    src: tuple | None = None
    udp_src: tuple = (9, 9)
    udp_dst: tuple = (9, 9)
    dst_mac: str = "00:00:00:00:00:00"
    src_mac: str | None = None
    flags: set = field(default_factory=set)
    vlan: int | None = None             # vlan_id (pktgen: over 4095 is none)
    vlan_p: int = 0
    svlan: int | None = None
    svlan_p: int = 0
    mpls: tuple = ()                    # label stack entries, as written (no S bit)
    tos: int | None = None
    traffic_class: int | None = None
    imix: tuple = ()                    # imix_weights: (size, weight) pairs
    flows: int = 0
    flowlen: int = 0

    @property
    def ifname(self) -> str:
        return self.name.partition("@")[0]

    def pps(self) -> float:
        """The rate asked, packets per second (0: as fast as it goes)."""
        if self.ratep:
            return self.ratep
        if self.rate_mbit:
            return self.rate_mbit * 1e6 / (self.pkt_size * 8)
        return 1e9 / self.delay_ns if self.delay_ns else 0.0


@dataclass
class Script:
    devices: dict = field(default_factory=dict)       # name -> Device
    started: bool = False


# -- reading the script ---------------------------------------------------------------
def _commands(text: str):
    """(line number, target file, command) for each pktgen command of the script."""
    env: dict[str, str] = {}
    target = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or line in ("{", "}") or line.startswith(("function ", "local ")):
            continue
        line = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), line)
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if not words:
            continue
        m = re.fullmatch(r"(\w+)=(.*)", words[0]) if len(words) == 1 else None
        if m:
            env[m.group(1)] = m.group(2)
            if m.group(1) == "PGDEV":
                target = m.group(2)
            continue
        if words[0] == "echo" and ">" in words:
            at = words.index(">")
            if at + 1 < len(words) and words[at + 1].startswith(PROC):
                yield no, words[at + 1], " ".join(words[1:at])
            continue
        if words[0] == "pgset":
            words = shlex.split(" ".join(words[1:]))
        elif words[0] not in KNOWN:
            continue                    # the shell's own lines
        if words and "$" not in " ".join(words):
            yield no, target, " ".join(words)


def parse(text: str) -> Script:
    """The script's devices and their settings; ScriptError for what we cannot run."""
    s = Script()
    for no, target, cmd in _commands(text):
        if target is None or not target.startswith(PROC):
            raise ScriptError(f"line {no}: {cmd!r} has no /proc/net/pktgen file to go to "
                              "(set PGDEV=... first)")
        where = target[len(PROC):]
        name, _, arg = cmd.partition(" ")
        arg = arg.strip()
        try:
            if where == "pgctrl":
                _pgctrl(s, name)
            elif where.startswith("kpktgend_"):
                _thread(s, int(where[len("kpktgend_"):]), name, arg)
            elif where in s.devices:
                _device(s.devices[where], name, arg)
            else:
                raise ScriptError(f"{where} is not a device added with add_device")
        except ScriptError as e:
            raise ScriptError(f"line {no}: {cmd}: {e}") from None
        except ValueError as e:
            raise ScriptError(f"line {no}: {cmd}: {e}") from None
    if not s.devices:
        raise ScriptError("the script adds no device (add_device on a kpktgend_N file)")
    if not s.started:
        raise ScriptError("the script never writes start to pgctrl: nothing would run")
    for name, d in s.devices.items():   # what only the whole frame can tell
        try:
            traffic_of(d)
        except ValueError as e:
            raise ScriptError(f"{name}: {e}") from None
    return s


def _pgctrl(s: Script, name: str) -> None:
    if name == "start":
        s.started = True
    elif name not in ("stop", "reset"):
        raise ScriptError("pgctrl takes start, stop, reset")


def _thread(s: Script, n: int, name: str, arg: str) -> None:
    cpus = os.cpu_count() or 1
    if n >= cpus:
        raise ScriptError(f"kpktgend_{n}: pktgen has a thread per CPU, and this machine has "
                          f"CPUs 0 to {cpus - 1}")
    if name == "add_device":
        if not arg or arg in s.devices:
            raise ScriptError("add_device needs a device not added yet")
        s.devices[arg] = Device(arg, n)
    elif name not in ("rem_device_all", "max_before_softirq"):
        raise ScriptError(f"{name} is not a thread command we take "
                          "(add_device, rem_device_all, max_before_softirq)")


def _num(arg: str, what: str, lo: float = 0) -> float:
    try:
        v = float(arg.rstrip("M")) if what == "rate" else int(arg)
    except ValueError:
        raise ScriptError(f"{what} takes a number, not {arg!r}") from None
    if v < lo:
        raise ScriptError(f"{what} {arg}: at least {lo}")
    return v


def _device(d: Device, name: str, arg: str) -> None:
    simple = {"count": ("count", 0), "pkt_size": ("pkt_size", 42), "min_pkt_size": ("pkt_size", 42),
              "max_pkt_size": ("max_pkt_size", 42), "delay": ("delay_ns", 0),
              "ratep": ("ratep", 0), "rate": ("rate_mbit", 0), "burst": ("burst", 1),
              "flows": ("flows", 0), "flowlen": ("flowlen", 0)}
    pairs = {"dst_min": ("dst", 0), "dst_max": ("dst", 1), "src_min": ("src", 0),
             "src_max": ("src", 1), "udp_src_min": ("udp_src", 0), "udp_src_max": ("udp_src", 1),
             "udp_dst_min": ("udp_dst", 0), "udp_dst_max": ("udp_dst", 1)}
    if name in IGNORED:
        return
    if name in simple:
        attr, lo = simple[name]
        setattr(d, attr, _num(arg, name, lo))
    elif name in pairs:
        attr, i = pairs[name]
        v = _num(arg, name) if name.startswith("udp") else _ip4(arg, name)
        cur = list(getattr(d, attr) or (v, v))
        cur[i] = v
        setattr(d, attr, tuple(cur))
    elif name == "dst":
        d.dst = (_ip4(arg, name),) * 2
    elif name in ("dst_mac", "src_mac"):
        from .packet import parse_mac
        parse_mac(arg, name)
        setattr(d, name, arg)
    elif name == "flag":
        flag = arg.lstrip("!")
        if flag not in FLAGS_OK:
            raise ScriptError(f"flag {flag} is not supported yet (we take "
                              f"{', '.join(sorted(FLAGS_OK))})")
        (d.flags.discard if arg.startswith("!") else d.flags.add)(flag)
    elif name in TAGS or name in ("mpls", "tos", "traffic_class", "imix_weights"):
        _encap(d, name, arg)
    elif name in ("queue_map_min", "queue_map_max"):
        raise ScriptError(f"{name} is not supported yet: our kernel engine sends on the TX "
                          "queue of the CPU it runs on (flag QUEUE_MAP_CPU; kpktgend_N is CPU N)")
    elif name == "xmit_mode":
        if arg != "start_xmit":
            raise ScriptError("only xmit_mode start_xmit (a device's transmit) is ours")
    else:
        raise ScriptError(f"{name} is not supported yet")


TAGS = {"vlan_id": "vlan", "vlan_p": "vlan_p", "vlan_cfi": None,
        "svlan_id": "svlan", "svlan_p": "svlan_p", "svlan_cfi": None}


def _encap(d: Device, name: str, arg: str) -> None:
    """Tags, labels, TOS and sizes.  As the module: a VLAN tag and an MPLS stack
    exclude each other (the later one turns the other off); vlan_id over 4095 turns
    tags off; "mpls 0" turns labels off."""
    if name in TAGS:
        v = _num(arg, name)
        if TAGS[name] is None:
            if v:
                raise ScriptError(f"{name} 1 (the DEI bit) is not supported yet")
        elif name.endswith("_id"):
            setattr(d, TAGS[name], v if v <= 4095 else None)
            if name == "vlan_id" and v <= 4095:
                d.mpls = ()
        else:
            setattr(d, TAGS[name], v)
    elif name == "mpls":
        entries = tuple(_hex(x, name, 8) for x in arg.split(","))
        if any(e & 0x100 for e in entries):
            raise ScriptError("random MPLS labels (an entry with the bottom of stack bit, "
                              "MPLS_RND) are not supported yet")
        d.mpls = () if entries == (0,) else entries
        if d.mpls:
            d.vlan = d.svlan = None
    elif name == "imix_weights":
        try:
            d.imix = tuple((int(a), int(b)) for a, _, b in
                           (p.partition(",") for p in arg.split()))
        except ValueError:
            raise ScriptError("imix_weights takes size,weight pairs, e.g. 60,7 590,4 "
                              "1514,1") from None
    else:
        setattr(d, name, _hex(arg, name, 2))


def _hex(arg: str, what: str, digits: int) -> int:
    if not re.fullmatch(f"[0-9a-fA-F]{{1,{digits}}}", arg):
        raise ScriptError(f"{what} takes up to {digits} hex digits, not {arg!r}")
    return int(arg, 16)


def _ip4(arg: str, what: str) -> str:
    import ipaddress
    try:
        ipaddress.IPv4Address(arg)
    except ValueError:
        raise ScriptError(f"{what} takes an IPv4 address, not {arg!r}") from None
    return arg


KNOWN = {"add_device", "rem_device_all", "max_before_softirq", "start", "stop", "reset",
         "count", "clone_skb", "pkt_size", "min_pkt_size", "max_pkt_size", "delay", "ratep",
         "rate", "burst", "dst", "dst_min", "dst_max", "src_min", "src_max", "udp_src_min",
         "udp_src_max", "udp_dst_min", "udp_dst_max", "dst_mac", "src_mac", "flag", "config",
         "xmit_mode", "flows", "flowlen", "vlan_id", "vlan_p", "vlan_cfi", "svlan_id",
         "svlan_p", "svlan_cfi", "mpls", "tos", "traffic_class", "imix_weights",
         "queue_map_min", "queue_map_max", "node", "frags"}


# -- running it -----------------------------------------------------------------------
def traffic_of(d: Device):
    """The device's frames as a run API Traffic."""
    from .traffic import Traffic
    src = None
    if d.src is not None:
        src = f"{d.src[0]}:{d.udp_src[0]}-{d.src[1]}:{d.udp_src[1]}"
    elif d.udp_src != (9, 9):
        src = f"0.0.0.0:{d.udp_src[0]}-0.0.0.0:{d.udp_src[1]}"
    dst = f"{d.dst[0]}:{d.udp_dst[0]}-{d.dst[1]}:{d.udp_dst[1]}"
    drawn = {FLAGS_OK[f] for f in d.flags if FLAGS_OK[f] is not None}
    labels = tuple((e >> 12, (e >> 9) & 7, e & 0xFF) for e in d.mpls)
    kw = dict(length=max(d.pkt_size, d.max_pkt_size or 0),
              min_length=d.pkt_size if d.max_pkt_size else None)
    if d.imix:
        kw = dict(imix=d.imix)
    if d.flows:                         # FLOW_SEQ: each flow's packets in a row
        kw.update(flows=1 if "FLOW_SEQ" in d.flags else d.flows, flowlen=d.flowlen)
    return Traffic(**kw, src=src, dst=dst, src_mac=d.src_mac, dst_mac=d.dst_mac,
                   random_fields=tuple(i in drawn for i in range(4)) if drawn else None,
                   vlan=d.vlan, vlan_prio=d.vlan_p, svlan=d.svlan if d.vlan is not None else None,
                   svlan_prio=d.svlan_p, svlan_tpid=0x8100, mpls=labels,
                   tos=d.tos or 0)               # pktgen's TOS is 0, its outer TPID 0x8100


def runs(s: Script) -> dict:
    """An api.Run (not started) per device, on the kernel engine."""
    from .api import prepare
    out = {}
    for name, d in s.devices.items():
        if not d.count:
            raise ScriptError(f"{name}: count 0 (for ever) needs Ctrl-C; give a count here")
        out[name] = prepare("tx", d.ifname, traffic_of(d), count=d.count, rate=d.pps(),
                            engine="kernel", cpu=d.thread)    # kpktgend_N: CPU N
    return out


def result_text(res, size: int) -> str:
    """pktgen's own result lines for a finished run (a Result)."""
    usec = int(res.seconds * 1e6)
    pps = int(res.pps)
    bps = int(res.bytes * 8 / res.seconds) if res.seconds else 0
    return (f"Result: OK: {usec}(c{usec}+d0) usec, {res.pkts} ({size}byte,0frags)\n"
            f"  {pps}pps {bps // 1000000}Mb/sec ({bps}bps) errors: 0")
