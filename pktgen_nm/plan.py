"""pkt-gen's options checked and turned into a plan for one run, before anything is
opened; then the ports opened as the plan says, with the checks users need before
traffic (interface, carrier, fit, engine)."""
from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import re
import socket
import time

import netmap_py
from netmap_py import checks
from netmap_py import constants as C
from netmap_py.portspec import PortSpec

from . import encap as E
from . import packet as P
from .args import UsageError, check_range, check_ranges
from .report import log

SENDERS = ("tx", "txseq")
RECEIVERS = ("rx", "rxseq")
DEFAULT_BURST = {"tx": 512, "rx": 512, "txseq": 512, "rxseq": 512, "ping": 1, "pong": 1}
KERNEL_BATCH = 64
KERNEL_MAX_FRAME = 3520  # a page less XDP headroom (256) and skb_shared_info (320)
DUMP_MAX = 1000  # -X: packets dumped per thread
VERB = {"tx": "Sent", "txseq": "Sent", "rx": "Received", "rxseq": "Received"}

# -o bits (facts 3.2)
OPT_PREFETCH, OPT_ACCESS, OPT_COPY, OPT_MEMCPY, OPT_TS, OPT_INDIRECT = 1, 2, 4, 8, 16, 32
OPT_DUMP, OPT_RUBBISH, OPT_RANDOM_SRC, OPT_RANDOM_DST, OPT_PPS_STATS = 64, 256, 512, 1024, 2048
OPT_UPDATE_CSUM = 4096
OPT_KNOWN = (OPT_PREFETCH | OPT_ACCESS | OPT_COPY | OPT_MEMCPY | OPT_TS | OPT_INDIRECT | OPT_DUMP
             | OPT_RUBBISH | OPT_RANDOM_SRC | OPT_RANDOM_DST | OPT_PPS_STATS | OPT_UPDATE_CSUM)


MAX_THREADS = 128
LOOP_MAX_RINGS = 64


def number_ranges() -> list:
    """(attribute, flag, lo, hi, what) of every numeric flag of pktgen-nm."""
    online = os.cpu_count() or 1
    return [
        ("n", "-n", 0, 2**63 - 1, "the packet count (0: no limit)"),
        ("b", "-b", 1, 65536, "the burst"),
        ("a", "-a", 0, online - 1, f"a CPU number (this machine has {online})"),
        ("c", "-c", 0, online, f"the number of CPUs (0: all {online})"),
        ("p", "-p", 1, MAX_THREADS, "the number of threads"),
        ("T", "-T", 10, 3_600_000, "the report interval in ms"),
        ("w", "-w", 0.0, 3600.0, "the wait for carrier in seconds"),
        ("R", "-R", 0.0, 1e10, "the rate in packets per second (0: no limit)"),
        ("F", "-F", 1, 63, "the number of fragments per packet"),
        ("M", "-M", 0, 65535, "the largest fragment in bytes (0: a buffer)"),
        ("o", "-o", 0, OPT_KNOWN, "a sum of pkt-gen's option bits"),
        ("duration", "--duration", 0.0, 1e9, "the run time in seconds (0: no limit)"),
        ("pcap_count", "--pcap-count", 1, 10_000_000, "the number of packets to write"),
        ("seed", "--seed", 0, 2**63 - 1, "the seed"),
    ]


@dataclasses.dataclass
class Plan:
    func: str
    spec: PortSpec
    threads: int
    burst: int
    cpus: int
    family: int
    max_len: int
    min_len: int
    src: P.Range
    dst: P.Range
    dst_mac: bytes
    src_mac: bytes | None
    copy_always: bool
    rubbish: bool
    rand_src: bool
    rand_dst: bool
    wait: float
    pcap_frames: list[bytes] | None
    engine: str = "ring"                # ring, kernel or auto (decided in run())
    dump: bool = False                  # -X / -o 64: hex dump of the first DUMP_MAX packets
    fragmented: bool = False            # -F or -M given
    vnet: int = 0                       # -H: virtio-net header bytes before each frame
    indirect: bool = False              # -I / -o 32: NS_INDIRECT slots (VALE)
    encap: E.Encap = E.Encap()          # --vlan, --svlan, --mpls, --tos/--dscp/--traffic-class
    sizes: tuple = ()                   # --imix: one cycle of lengths
    flows: tuple = ()                   # --flows, --flowlen


def plan(opts: argparse.Namespace) -> Plan:
    if opts.i is None:
        raise UsageError("missing -i PORT (e.g. -i eth0, -i packet:veth0, or --lab)")
    if opts.f not in DEFAULT_BURST:
        raise UsageError(f"unknown function {opts.f!r}: use tx, rx, ping, pong, txseq or rxseq")
    func = opts.f
    try:
        spec = PortSpec.parse(opts.i)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if opts.engine not in ("ring", "kernel", "auto"):
        raise UsageError(f"unknown --engine {opts.engine!r}: use ring, kernel or auto")
    check_ranges(opts, number_ranges())
    indirect = opts.I or bool(opts.o & OPT_INDIRECT)
    if 0 < opts.M < 16:
        raise UsageError(f"bad -M {opts.M}: the largest fragment is at least 16 bytes (0: a buffer)")
    if (opts.F != 1 or opts.M) and func not in SENDERS:
        raise UsageError(f"-F and -M cut what -f tx and txseq send; not -f {func}")
    if opts.H not in (0, 10, 12):
        raise UsageError(f"bad -H {opts.H}: the virtio-net header length is 0, 10 or 12")
    if opts.o & ~OPT_KNOWN:
        raise UsageError(f"bad -o {opts.o}: unknown bits {opts.o & ~OPT_KNOWN:#x}")
    dump = opts.X or bool(opts.o & OPT_DUMP)
    if dump and func in ("ping", "pong"):
        raise UsageError(f"-X dumps what tx, txseq, rx and rxseq move; not -f {func}")
    if opts.ipv4 and opts.ipv6:
        raise UsageError("-4 and -6 exclude each other")
    family = 6 if opts.ipv6 else 4
    burst = DEFAULT_BURST[func] if opts.b is None else opts.b
    if opts.p > 1 and func in ("ping", "pong", "txseq"):
        raise UsageError(f"-f {func} runs on one thread only (pkt-gen's rule); drop -p")
    if spec.backend == "loop":
        check_range("-p", opts.p, 1, LOOP_MAX_RINGS, "on a loop: port, the number of threads")
    cpus = opts.c or os.cpu_count() or 1
    lens = opts.l or [60]
    if len(lens) > 2:
        raise UsageError("-l may be given at most twice (max, then min)")
    for L in lens:
        if not P.MIN_FRAME <= L <= P.MAX_FRAME:
            raise UsageError(f"bad pktsize {L} [{P.MIN_FRAME}..{P.MAX_FRAME}]")
    max_len, min_len = (lens[0], lens[0]) if len(lens) == 1 else (max(lens), min(lens))
    encap, sizes = _encap(opts, family)
    if sizes:
        max_len, min_len = max(sizes), min(sizes)
    try:
        src = P.parse_range(opts.s or (P.DEFAULT_SRC if family == 4 else "::"), family, "-s range")
        dst = P.parse_range(opts.d or (P.DEFAULT_DST if family == 4 else "::"), family, "-d range")
        dst_mac = P.parse_mac(opts.D, "-D MAC") if opts.D else b"\xff" * 6
        src_mac = P.parse_mac(opts.S, "-S MAC") if opts.S else None
    except P.BadArgument as e:
        raise UsageError(str(e)) from None
    hdrs = P.headers_len(family, encap.length)
    if func in SENDERS + ("ping",) and min_len < hdrs and not opts.P:
        raise UsageError(f"bad {'--imix size' if sizes else '-l'} {min_len}: an IPv{family}/UDP "
                         f"frame{' with its tags and labels' if encap.length else ''} needs at "
                         f"least {hdrs} bytes (and txseq/ping {hdrs + 12}+)")
    if func in ("txseq", "ping") and min_len < hdrs + 12:
        raise UsageError(f"bad -l {min_len}: -f {func} needs at least {hdrs + 12} bytes")
    pcap_frames = _pcap_frames(opts.P, func) if opts.P else None
    if opts.pcap_out:
        _check_pcap_out(opts.pcap_out, func)
    if opts.C:
        spec = _apply_conf(spec, opts.C)
    wait = opts.w if opts.w is not None else (0.0 if spec.is_vale or spec.backend == "loop" else 2.0)
    pl = Plan(func=func, spec=spec, threads=opts.p, burst=burst, cpus=cpus, family=family,
              max_len=max_len, min_len=min_len, src=src, dst=dst, dst_mac=dst_mac,
              src_mac=src_mac, copy_always=bool(opts.o & (OPT_COPY | OPT_MEMCPY)),
              rubbish=opts.r or bool(opts.o & OPT_RUBBISH),
              rand_src=opts.z or bool(opts.o & OPT_RANDOM_SRC),
              rand_dst=opts.Z or bool(opts.o & OPT_RANDOM_DST), wait=wait,
              pcap_frames=pcap_frames, engine=opts.engine, dump=dump,
              fragmented=opts.F != 1 or opts.M != 0, vnet=opts.H, indirect=indirect,
              encap=encap, sizes=sizes, flows=_flows(opts))
    if indirect:
        _check_indirect(pl, opts)
    if opts.engine == "kernel":
        why = kernel_unfit(pl)
        if why:
            raise UsageError(f"--engine kernel: {why}")
    return pl


def _encap(opts, family: int) -> tuple:
    """--vlan, --svlan, --mpls, --tos, --dscp, --traffic-class and --imix: (Encap, sizes)."""
    try:
        keys = {"tos": opts.tos, "dscp": opts.dscp, "traffic_class": opts.traffic_class}
        if opts.vlan:
            keys["vlan"], keys["vlan_prio"] = E.parse_tag(opts.vlan, "--vlan")
        if opts.svlan:
            keys["svlan"], keys["svlan_prio"] = E.parse_tag(opts.svlan, "--svlan")
        if opts.mpls:
            keys["mpls"] = E.parse_labels(opts.mpls)
        enc = E.encap_of(keys, family)
        if (enc.length or enc.tos is not None) and opts.P:
            raise UsageError("-P sends the file's frames as they are: drop --vlan, --svlan, "
                             "--mpls, --tos, --dscp and --traffic-class")
        if opts.imix is None:
            return enc, ()
        if opts.l:
            raise UsageError("--imix sets the sizes: drop -l")
        return enc, E.imix_cycle(E.imix_of(opts.imix))
    except E.EncapError as e:
        raise UsageError(_as_flag(str(e))) from None


def _flows(opts) -> tuple:
    check_range("--flows", opts.flows, 0, P.MAX_FLOWS, "the number of flows")
    check_range("--flowlen", opts.flowlen, 0, 2**31 - 1, "the packets of each flow")
    if opts.flowlen and not opts.flows:
        raise UsageError("--flowlen is the length of each of the --flows: give --flows too")
    return (opts.flows, max(opts.flowlen, 1)) if opts.flows else ()


def _as_flag(text: str) -> str:
    """The run API's "svlan_prio=9: why" as the command line's "bad --svlan-prio 9: why"."""
    name, eq, rest = text.partition("=")
    if not eq or not name.replace("_", "").replace(" ", "").isalpha():
        return re.sub(r"(?<![-\w])(svlan|vlan|tos|dscp|traffic_class)\b",
                      lambda m: "--" + m.group(1).replace("_", "-"), text)
    value, _, why = rest.partition(": ")
    words = name.split()
    flag = "--" + words[0].replace("_", "-").replace("-prio", "")
    return f"bad {flag} {value}: {why}"


def _pcap_frames(path: str, func: str) -> list[bytes]:
    """-P: every frame of the file, or the one line saying why not."""
    if func != "tx":
        raise UsageError("-P (pcap replay) works with -f tx only")
    from .pcap import PcapError, read_pcap
    try:
        frames = [data for _, data in read_pcap(path)]
    except (OSError, PcapError) as e:
        raise UsageError(f"cannot use -P {path}: {getattr(e, 'strerror', None) or e}") from None
    if not frames:
        raise UsageError(f"-P {path}: the file holds no packet")
    return frames


def _check_indirect(pl: Plan, opts) -> None:
    """-I: VALE only, and nothing may vary per packet (the slots point at the template)."""
    if not pl.spec.is_vale or pl.func != "tx":
        raise UsageError("-I (NS_INDIRECT) works with -f tx on VALE ports only "
                         "(-i valeX:Y), which copy the frame from our memory")
    if (pl.src.varies or pl.dst.varies or pl.rand_src or pl.rand_dst
            or pl.min_len != pl.max_len or opts.P or opts.F != 1 or opts.M):
        raise UsageError("-I sends the template itself, so nothing can vary per packet: "
                         "drop the ranges, -z/-Z, the second -l, -P, -F and -M")


def _check_pcap_out(path: str, func: str) -> None:
    """--pcap-out is written at the end: refuse a place it cannot go before starting."""
    if func not in RECEIVERS:
        raise UsageError("--pcap-out works with -f rx and rxseq only")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"bad --pcap-out {path}: it is a directory; name a file")
    if not os.path.isdir(folder):
        raise UsageError(f"bad --pcap-out {path}: no directory {folder}; create it first")
    existed = os.path.exists(path)
    try:                                # try it: access() says yes to root where open says no
        fd = os.open(path, os.O_WRONLY | (0 if existed else os.O_CREAT | os.O_EXCL), 0o644)
        os.close(fd)
        if not existed:
            os.unlink(path)
    except OSError as e:
        raise UsageError(f"bad --pcap-out {path}: {e.strerror}; choose another place") from None


def kernel_unfit(pl: Plan) -> str | None:
    """Why the kernel engine cannot run this plan (None: it can)."""
    spec = pl.spec
    if pl.func not in SENDERS:
        return f"it only sends (-f tx, txseq); -f {pl.func} needs --engine ring"
    if pl.pcap_frames:
        return "-P replays a pcap file through the rings; use --engine ring"
    if pl.vnet:
        return "-H puts a virtio-net header in ring slots; use --engine ring"
    if pl.rubbish or pl.copy_always or pl.dump or pl.fragmented:
        return "-r, -X, -F, -M and -o 4/8/64/256 are about ring slots; use --engine ring"
    if pl.max_len > KERNEL_MAX_FRAME:
        return (f"frames of {pl.max_len} bytes do not fit one XDP frame (at most "
                f"{KERNEL_MAX_FRAME}); use --engine ring")
    if spec.backend in ("netmap", "loop") or spec.is_vale or spec.ifname is None:
        return (f"it sends on a Linux interface, not on {spec.text}; name the interface "
                "alone (-i eth0)")
    if spec.one_ring:
        return f"it uses no rings; drop the ring suffix of {spec.text}"
    return None


def _apply_conf(spec: PortSpec, text: str) -> PortSpec:
    parts = text.split(",")
    if not 1 <= len(parts) <= 4 or not all(re.fullmatch("[0-9]+", x) for x in parts):
        raise UsageError(f"bad -C {text!r}: use tx_slots[,rx_slots[,tx_rings[,rx_rings]]]")
    v = [int(x) for x in parts]
    for i, x in enumerate(v):
        hi = 0xFFFFFFFF if i < 2 else 0xFFFF      # nr_*_slots 32 bits, nr_*_rings 16
        check_range("-C", x, 0, hi, "a slot count" if i < 2 else "a ring count")
    keys = {}
    keys["tx_slots"] = v[0]
    keys["rx_slots"] = v[1] if len(v) > 1 else v[0]
    if len(v) > 2:
        keys["tx_rings"] = v[2]
        keys["rx_rings"] = v[3] if len(v) > 3 else v[2]
    keys = {k: str(x) for k, x in keys.items() if x}
    return dataclasses.replace(spec, options=spec.options + (("conf", tuple(keys.items())),))


def check_interface(pl: Plan, opts) -> checks.InterfaceInfo | None:
    spec = pl.spec
    if spec.backend == "loop" or spec.ifname is None:
        return None
    info = checks.interface(spec.ifname)
    if not info.exists:
        raise UsageError(info.facts[0].sentence)
    if not info.up:
        raise UsageError(f"{spec.ifname} is down: bring it up with 'ip link set {spec.ifname} up'")
    if pl.func in SENDERS + ("ping", "pong"):
        longest = max(len(f) for f in pl.pcap_frames) if pl.pcap_frames else pl.max_len
        if longest > info.mtu + 14:
            raise UsageError(
                f"frames of {longest} bytes do not fit {spec.ifname}'s MTU {info.mtu} (frames up "
                f"to {info.mtu + 14} bytes without CRC): use -l {info.mtu + 14} or less, or "
                f"raise the MTU (ip link set {spec.ifname} mtu {longest - 14})")
    return info


def bound_queues(port, tx: bool, threads: int) -> int:
    """The rings the run covers, as pkt-gen counts them (first to last bound ring):
    host rings only where the name asked for them, one ring for NAME-N."""
    nic = port.num_tx_rings if tx else port.num_rx_rings
    host = port.num_host_tx_rings if tx else port.num_host_rx_rings
    mode = port.spec.mode
    if mode in (C.NR_REG_ONE_NIC, C.NR_REG_ONE_SW):
        return threads
    return {C.NR_REG_SW: host, C.NR_REG_NIC_SW: nic + host}.get(mode, nic)


def wait_carrier(info: checks.InterfaceInfo | None, secs: float) -> None:
    if info is None or secs <= 0:
        return
    path = checks.SYS_NET / info.name / "carrier"
    deadline = time.monotonic() + secs
    first = True
    while True:
        try:
            up = path.read_text().strip() == "1"
        except OSError:
            up = False
        if up:
            if not first:
                log(f"carrier up on {info.name}")
            return
        if first:
            log(f"Wait up to {secs:g} secs for carrier on {info.name}")
            first = False
        if time.monotonic() >= deadline:
            log(f"no carrier on {info.name} after {secs:g} s; going on anyway")
            return
        time.sleep(0.05)


def directed(spec: PortSpec, func: str) -> PortSpec:
    """Senders bind TX rings only and receivers RX rings only (an AF_XDP sender then
    attaches no program).  No direction flag for a monitor (it refuses one) or host
    rings (it would stop netmap from taking what the host stack sends)."""
    if spec.is_monitor or spec.mode in (C.NR_REG_SW, C.NR_REG_NIC_SW, C.NR_REG_ONE_SW):
        return spec
    if func in SENDERS:
        return dataclasses.replace(spec, flags=spec.flags | C.NR_TX_RINGS_ONLY)
    if func in RECEIVERS:
        return dataclasses.replace(spec, flags=spec.flags | C.NR_RX_RINGS_ONLY)
    return spec


def open_ports(pl: Plan) -> list:
    spec = directed(pl.spec, pl.func)
    ports = []
    try:
        low_latency = pl.func in ("ping", "pong")
        if pl.threads == 1:
            ports.append(netmap_py.open(spec, accept_vnet_hdr=True, low_latency=low_latency,
                                        vnet_hdr=pl.vnet))
        else:
            if spec.one_ring:
                raise UsageError(f"-p {pl.threads} needs all rings, but {pl.spec.text} names one")
            for i in range(pl.threads):
                ports.append(netmap_py.open(spec.with_ring(i), rings=pl.threads,
                                            accept_vnet_hdr=True, vnet_hdr=pl.vnet))
                if i == 0:
                    port = ports[0]
                    have = port.num_tx_rings if pl.func in SENDERS else port.num_rx_rings
                    if pl.threads > have:
                        raise UsageError(f"bad -p {pl.threads}: {pl.spec.name} has {have} "
                                         f"ring(s) in that direction")
        if ports[0].backend == "netmap" and not pl.vnet:
            try:
                hdr = ports[0].vnet_hdr_len()
            except OSError:
                hdr = 0                 # best effort, as pkt-gen: no header then
            if hdr:                     # as pkt-gen: adopt the port's header length
                log(f"Port requires virtio-net header, length = {hdr}")
                pl.vnet = hdr
    except BaseException:
        for p in ports:
            p.close()
        raise
    return ports


def choose_engine(pl: Plan, info: checks.InterfaceInfo | None) -> tuple[str, str]:
    """(engine, why) for this run, with the interface checked for the kernel engine."""
    if pl.engine == "ring":
        return "ring", "the default (--engine kernel: the kernel generates)"
    why = kernel_unfit(pl)
    if why:                             # only --engine auto gets here
        return "ring", f"auto: the kernel engine cannot run this ({why})"
    release = kernel_release()
    if release < (5, 18):
        fix = (f"Linux {os.uname().release} has no BPF_PROG_RUN with live frames (5.18 and "
               "newer have it)")
        if pl.engine == "kernel":
            raise UsageError(f"--engine kernel: {fix}; use --engine ring")
        return "ring", f"auto: {fix}"
    name = info.name if info is not None else pl.spec.ifname
    feats = checks.xdp_features(name)
    if feats is not None and not feats & checks.XDP_ACT_NDO_XMIT:
        veth = info is not None and info.driver == "veth"
        fix = (f"{name} is a veth whose peer has neither an XDP program nor GRO: load one "
               "on the peer (e.g. pktgen-nm -f rx -i xdp:PEER there) or run "
               "'ethtool -K PEER gro on'" if veth else
               f"the driver of {name} cannot transmit XDP frames (no ndo_xdp_xmit)")
        if pl.engine == "kernel":
            raise UsageError(f"--engine kernel: {fix}; or use --engine ring")
        return "ring", f"auto: {fix}"
    return "kernel", ("BPF_PROG_RUN with live frames" +
                      ("" if feats is not None else
                       " (this kernel does not report XDP features: unchecked)"))


def kernel_release() -> tuple[int, int]:
    """The running kernel's (major, minor)."""
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def check_fits(pl: Plan, port) -> None:
    """-f ping sends each frame in one buffer (tx and txseq cut it into fragments)."""
    if pl.func == "ping" and port.tx_rings:
        buf = port.tx_rings[0].buf_size
        if pl.max_len + pl.vnet > buf:
            raise UsageError(f"bad -l {pl.max_len}: -f ping sends one buffer per packet and "
                             f"{port.spec} has {buf}-byte buffers: use -l {buf - pl.vnet} or less")


def open_kernel(pl: Plan, info, frame: P.Frame):
    """The kernel engine's program for this run (one, shared by the threads)."""
    from . import _engine
    try:
        return _engine.KernelProgram(frame, socket.if_nametoindex(info.name),
                                     randomize=(pl.rand_src, pl.rand_dst),
                                     seq=pl.func == "txseq", park=True)
    except OSError as e:
        from netmap_py.advice import advice
        why = advice("kernel", e.errno) if e.errno == errno.EPERM else e.strerror
        raise UsageError(f"--engine kernel: {why}") from None


def build_frame(pl: Plan, info, src: P.Range | None = None):
    src_mac = pl.src_mac
    if src_mac is None:
        src_mac = P.parse_mac(info.mac) if info is not None and info.mac else b"\0" * 6
    return P.build_frame(pl.max_len, min_length=pl.min_len, family=pl.family,
                         src=src or pl.src, dst=pl.dst, src_mac=src_mac, dst_mac=pl.dst_mac,
                         vhdr=pl.vnet, payload=P.PAYLOAD_INDIRECT if pl.indirect else P.PAYLOAD,
                         encap=pl.encap, sizes=pl.sizes, flows=pl.flows)


def thread_flows(opts, pl: Plan, info, frame, threads: int) -> list:
    """The frame of each thread.  pkt-gen's threads all send the same single flow,
    which a receiver's RSS hashes to one queue; with -p N and no -s, thread i sends
    from source port P + i instead, so the flows spread over the receiver's queues."""
    src = pl.src
    if (threads == 1 or frame is None or opts.s is not None or pl.pcap_frames
            or pl.rand_src or src.varies):
        return [frame] * threads
    ports = [(src.port_lo + i) % 65536 for i in range(threads)]
    log(f"flows: thread i sends from source port {ports[0]} + i ({ports[0]}..{ports[-1]}) so "
        "that RSS spreads them over the receiver's queues; -s sets the source yourself")
    return [frame] + [build_frame(pl, info, dataclasses.replace(src, port_lo=p, port_hi=p))
                      for p in ports[1:]]
