"""pktgen-nm: netmap's pkt-gen, on netmap, AF_XDP or AF_PACKET.

Same flags, defaults and report lines as pkt-gen (README: 'Differences from
pkt-gen' lists where we chose to do better).  Python parses, checks, reports;
the per-packet loops are in _engine.pyx and run without the GIL.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import ipaddress
import json
import os
import re
import resource
import signal
import socket
import sys
import threading
import time

import netmap_py
from netmap_py import checks
from netmap_py import constants as C
from netmap_py.portspec import PortSpec

from . import packet as P
from .args import Parser, UsageError, check_range, check_ranges, guarded, number, version_line, whole
from .report import Interval, Reporter, dump_lines, log, rtt_lines, summary

PROG = "pktgen-nm"
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


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, add_help=False, allow_abbrev=False,
                description="pkt-gen's traffic generator and receiver for netmap, AF_XDP "
                            "and AF_PACKET ports.")
    a = p.add_argument
    a("-h", "--help", dest="h", action="store_true", help="show this help and exit")
    a("--version", action="store_true", help="print the version and exit")
    a("-i", metavar="PORT", help="port: eth0 (backend chosen automatically), netmap:eth0, "
      "xdp:eth0, packet:eth0, valeX:Y, loop:NAME")
    a("-f", metavar="FUNC", default="rx", help="tx rx ping pong txseq rxseq (default rx)")
    a("-n", metavar="COUNT", type=whole, default=0,
      help="packets to send or receive in total (default 0: no limit)")
    a("-l", metavar="LEN", type=whole, action="append",
      help="frame length without CRC (default 60); twice: random sizes in [min, max]")
    a("-b", metavar="BURST", type=whole, help="packets per ring per batch (default 512; ping/pong 1)")
    a("-d", metavar="RANGE", help="destination ip[:port][-ip[:port]] (default 10.1.0.1:1234)")
    a("-s", metavar="RANGE", help="source ip[:port][-ip[:port]] (default 10.0.0.1:1234)")
    a("-D", metavar="MAC", help="destination MAC (default ff:ff:ff:ff:ff:ff)")
    a("-S", metavar="MAC", help="source MAC (default the interface's own)")
    a("-a", metavar="CPU", type=whole, help="pin thread i to CPU (a + i) %% cpus")
    a("-c", metavar="CPUS", type=whole, default=1, help="CPUs to use; 0 = all (default 1)")
    a("-p", metavar="THREADS", type=whole, default=1, help="threads, one ring each (default 1)")
    a("-T", metavar="MS", type=whole, default=1000, help="report interval in ms (default 1000)")
    a("-w", metavar="SECS", type=number, help="wait up to SECS for carrier (default 2; vale 0)")
    a("-W", action="store_true", help="rx: exit after 1 s without packets")
    a("-R", metavar="PPS", type=number, default=0,
      help="total packet rate across all threads (default 0: no limit)")
    a("-X", action="store_true", help="hex-dump the packets sent or received (the first 1000)")
    a("-H", metavar="LEN", type=whole, default=0, help="virtio-net header length 0, 10 or 12")
    a("-P", metavar="PCAP", help="replay every packet of a pcap file, in order, looping")
    a("-z", action="store_true", help="random source address and port on every packet")
    a("-Z", action="store_true", help="random destination address and port on every packet")
    a("-N", action="store_true", help="print raw numbers instead of K/M/G")
    a("-F", metavar="FRAGS", type=whole, default=1, help="slots per packet, 1..63")
    a("-M", metavar="SIZE", type=whole, default=0, help="largest fragment size")
    a("-I", action="store_true", help="indirect buffers (VALE only)")
    a("-v", action="count", default=0, help="more messages (repeatable)")
    a("-r", action="store_true", help="send buffers without writing them (rubbish)")
    a("-A", action="store_true", help="add the mean/stddev of pps to the reports")
    a("-B", action="store_true", help="count 24 bytes of CRC and framing per packet in bps")
    a("-C", metavar="CONF", help="tx_slots[,rx_slots[,tx_rings[,rx_rings]]] (deprecated: @conf)")
    a("-o", metavar="BITS", type=whole, default=0, help="pkt-gen option bits (see README)")
    a("-4", dest="ipv4", action="store_true", help="IPv4 (default)")
    a("-6", dest="ipv6", action="store_true", help="IPv6")
    a("--duration", metavar="SECS", type=number, default=0, help="stop after SECS seconds")
    a("--json", action="store_true", help="one JSON object per report and one at the end")
    a("--pcap-out", metavar="FILE", help="rx: write received packets to a pcap file")
    a("--pcap-count", metavar="N", type=whole, default=100000,
      help="rx: at most N packets in --pcap-out (default 100000)")
    a("--seed", metavar="N", type=whole, default=0, help="seed for -z/-Z and random sizes")
    a("--engine", metavar="E", default="ring",
      help="ring (default); kernel: the kernel generates (BPF_PROG_RUN live frames, "
           "tx/txseq); auto: kernel where it can")
    a("--lab", action="store_true",
      help="run on a built-in lab: two namespaces joined by a veth pair (see README)")
    a("--lab-rx", metavar="ARGS", default="",
      help="with --lab: extra flags for the receiver in the other namespace")
    a("--lab-backend", metavar="B",
      help="with --lab: the backend prefix to use on both sides (default packet)")
    return p


USAGE = f"""usage: {PROG} -i PORT [-f tx|rx|ping|pong|txseq|rxseq] [options]
  e.g. {PROG} -i eth0 -f tx -l 60      {PROG} -i eth0 -f rx
       {PROG} --lab -f tx -n 1000000    (two namespaces and a veth pair, made and removed)
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    opts = parser.parse_args(argv)
    if opts.h:
        sys.stdout.write(USAGE + "\n" + parser.format_help().split("\n", 2)[2])
        raise SystemExit(0)
    if opts.version:
        sys.stdout.write(version_line(PROG) + "\n")
        raise SystemExit(0)
    return opts


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


# -- checks of every option, before anything is opened -----------------------------
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
    try:
        src = P.parse_range(opts.s or (P.DEFAULT_SRC if family == 4 else "::"), family, "-s range")
        dst = P.parse_range(opts.d or (P.DEFAULT_DST if family == 4 else "::"), family, "-d range")
        dst_mac = P.parse_mac(opts.D, "-D MAC") if opts.D else b"\xff" * 6
        src_mac = P.parse_mac(opts.S, "-S MAC") if opts.S else None
    except P.BadArgument as e:
        raise UsageError(str(e)) from None
    hdrs = P.ETH_LEN + (P.IP4_LEN if family == 4 else P.IP6_LEN) + P.UDP_LEN
    if func in SENDERS + ("ping",) and min_len < hdrs and not opts.P:
        raise UsageError(f"bad -l {min_len}: an IPv{family}/UDP frame needs at least {hdrs} "
                         f"bytes (and txseq/ping {hdrs + 4}+)")
    if func in ("txseq", "ping") and min_len < hdrs + 12:
        raise UsageError(f"bad -l {min_len}: -f {func} needs at least {hdrs + 12} bytes")
    pcap_frames = None
    if opts.P:
        if func != "tx":
            raise UsageError("-P (pcap replay) works with -f tx only")
        from .pcap import PcapError, read_pcap
        try:
            pcap_frames = [data for _, data in read_pcap(opts.P)]
        except (OSError, PcapError) as e:
            raise UsageError(f"cannot use -P {opts.P}: {getattr(e, 'strerror', None) or e}") from None
        if not pcap_frames:
            raise UsageError(f"-P {opts.P}: the file holds no packet")
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
              fragmented=opts.F != 1 or opts.M != 0, vnet=opts.H, indirect=indirect)
    if indirect:
        if not spec.is_vale or func != "tx":
            raise UsageError("-I (NS_INDIRECT) works with -f tx on VALE ports only "
                             "(-i valeX:Y), which copy the frame from our memory")
        if (src.varies or dst.varies or pl.rand_src or pl.rand_dst or min_len != max_len
                or opts.P or opts.F != 1 or opts.M):
            raise UsageError("-I sends the template itself, so nothing can vary per packet: "
                             "drop the ranges, -z/-Z, the second -l, -P, -F and -M")
    if opts.engine == "kernel":
        why = kernel_unfit(pl)
        if why:
            raise UsageError(f"--engine kernel: {why}")
    return pl


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


# -- opening, with the checks users need before traffic -------------------------------
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


def _queues(port, tx: bool, threads: int) -> int:
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


def open_ports(pl: Plan) -> list:
    spec = pl.spec
    if spec.is_monitor or spec.mode in (C.NR_REG_SW, C.NR_REG_NIC_SW, C.NR_REG_ONE_SW):
        # no direction flag: a monitor refuses one, and with host rings it would stop
        # netmap from taking what the host stack sends
        pass
    elif pl.func in SENDERS:
        spec = dataclasses.replace(spec, flags=spec.flags | C.NR_TX_RINGS_ONLY)
    elif pl.func in RECEIVERS:
        spec = dataclasses.replace(spec, flags=spec.flags | C.NR_RX_RINGS_ONLY)
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
            from netmap_py import _core
            try:
                hdr = _core.netmap_port_hdr(ports[0])
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


# -- the run ----------------------------------------------------------------------------
class Run:
    def __init__(self, opts, pl: Plan):
        self.opts, self.pl = opts, pl
        self.workers = []
        self.threads = []
        self.tids: list[int | None] = []
        self.cpu: dict[int, dict] = {}
        self.errors: list[BaseException | None] = []
        self.stop = threading.Event()

    def start(self, ports, frames, engine, kernel=None) -> None:
        pl, opts = self.pl, self.opts
        T = len(ports) if kernel is None else pl.threads
        self.backend = ports[0].backend if kernel is None else "kernel"
        self.ports = ports
        for i, port in enumerate(ports if kernel is None else [None] * T):
            n_i = opts.n // T + (1 if i < opts.n % T else 0) if opts.n else 0
            if opts.n and n_i == 0:
                n_i = -1  # nothing to do for this thread
            w = engine.Worker(
                port, pl.func, frame=frames[i], burst=pl.burst, limit=max(n_i, 0),
                duration=opts.duration, rate=opts.R / T if opts.R else 0,
                exit_on_idle=opts.W, seed=(opts.seed or time.monotonic_ns()) + i * 7919,
                randomize=(pl.rand_src, pl.rand_dst), copy_always=pl.copy_always,
                rubbish=pl.rubbish, pcap_frames=pl.pcap_frames,
                capture=max(opts.pcap_count if opts.pcap_out else 0,
                            DUMP_MAX if pl.dump else 0), kernel=kernel,
                frags=opts.F, max_frag=opts.M, vhdr=pl.vnet, indirect=pl.indirect)
            nfr, size = w.fragments
            if nfr > 1 and i == 0:
                if port.backend == "xdp":
                    raise UsageError(
                        f"AF_XDP sends one buffer per packet, and these packets take {nfr} "
                        f"pieces of {size} bytes (-F/-M, or frames larger than a buffer): "
                        "use a packet: or netmap: port")
                log(f"frags {nfr} frag_size {size}")
            self.workers.append(w)
            self.tids.append(None)
            self.errors.append(None)
            if n_i == -1:
                continue
            t = threading.Thread(target=self._thread, args=(i, w), name=f"pktgen-{i}", daemon=True)
            self.threads.append(t)
        for t in self.threads:
            t.start()

    def _thread(self, i: int, w) -> None:
        self.tids[i] = threading.get_native_id()
        a = self.opts.a
        if a is not None:
            try:
                os.sched_setaffinity(0, {(a + i) % self.pl.cpus})
            except OSError as e:
                log(f"cannot pin thread {i} to CPU {(a + i) % self.pl.cpus}: {e.strerror}")
        try:
            w.run()
        except BaseException as e:  # reported by the main thread
            self.errors[i] = e
        finally:
            ru = resource.getrusage(resource.RUSAGE_THREAD)
            self.cpu[i] = {"thread": i, "user_s": round(ru.ru_utime, 3),
                           "system_s": round(ru.ru_stime, 3)}

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def cancel(self) -> None:
        for w in self.workers:
            w.cancel()

    def join(self) -> None:
        for t in self.threads:
            t.join()

    def totals(self):
        pk = by = ev = 0
        for w in self.workers:
            a, b, c = w.sample()
            pk, by, ev = pk + a, by + b, ev + c
        return pk, by, ev

    def take_interval(self) -> tuple[int | None, list]:
        """End the report interval on every worker: (summed min_space or None when no
        thread saw a ring, each thread's RTT (count, sum, min, max))."""
        ivs = [w.take_interval() for w in self.workers]
        spaces = [v["min_space"] for v in ivs if v["min_space"] is not None]
        return (sum(spaces) if spaces else None), [v["rtt"] for v in ivs]


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


def run(opts) -> int:
    pl = plan(opts)
    from . import _engine
    info = check_interface(pl, opts)    # a wrong name first: it is wrong for root too
    # netmap: opening /dev/netmap says what is wrong itself (no module, no permission)
    if os.geteuid() != 0 and pl.spec.backend not in ("loop", "netmap"):
        raise UsageError("no permission: opening packet ports needs root (CAP_NET_RAW, "
                         "CAP_NET_ADMIN); run with sudo")
    normalize = not opts.N
    json_out = opts.json
    out = sys.stdout
    say = (lambda s: None) if json_out else (lambda s: (out.write(s + "\n"), out.flush()))

    module = checks.netmap_module()
    engine, why = choose_engine(pl, info)
    if engine == "kernel":
        # the kernel engine's batch: frames run before each flush to the driver; its
        # default is the kernel's (64): larger batches overflow a veth peer's ring
        pl.burst = min(opts.b or KERNEL_BATCH, 256)
        frame = _frame(pl, info)
        kernel = open_kernel(pl, info, frame)
        try:
            _banner(opts, pl, info, module)
            return _run_ports(opts, pl, [], info, module, normalize, json_out, say, _engine,
                              kernel=(kernel, why), frame=frame)
        finally:
            kernel.close()
    ports = open_ports(pl)
    try:
        _check_fits(pl, ports[0])
        _banner(opts, pl, info, module)
        if pl.engine == "auto":
            log(f"engine ring: {why}")
        return _run_ports(opts, pl, ports, info, module, normalize, json_out, say, _engine)
    finally:
        for p in ports:
            p.close()


def _check_fits(pl: Plan, port) -> None:
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
        if e.errno == errno.EPERM:
            raise UsageError("--engine kernel: no permission for bpf(); run as root "
                             "(CAP_BPF and CAP_NET_ADMIN)") from None
        raise UsageError(f"--engine kernel: {e.strerror}") from None


def _frame(pl: Plan, info, src: P.Range | None = None):
    src_mac = pl.src_mac
    if src_mac is None:
        src_mac = P.parse_mac(info.mac) if info is not None and info.mac else b"\0" * 6
    return P.build_frame(pl.max_len, min_length=pl.min_len, family=pl.family,
                         src=src or pl.src, dst=pl.dst, src_mac=src_mac, dst_mac=pl.dst_mac,
                         vhdr=pl.vnet, payload=P.PAYLOAD_INDIRECT if pl.indirect else P.PAYLOAD)


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
    return [frame] + [_frame(pl, info, dataclasses.replace(src, port_lo=p, port_hi=p))
                      for p in ports[1:]]


def _banner(opts, pl, info, module) -> None:
    if opts.C:
        log(f"-C is deprecated: write the port as {pl.spec}")
    log(f"interface is {opts.i}")
    if opts.b is None:
        log(f"using default burst size: {pl.burst}")
    log(f"running on {pl.cpus} cpus (have {os.cpu_count()})")
    if pl.func in SENDERS + ("ping",):
        for r in (pl.src, pl.dst):
            if r.family == 4:
                log(f"range is {ipaddress.IPv4Address(r.lo)}:{r.port_lo} to "
                    f"{ipaddress.IPv4Address(r.hi)}:{r.port_hi}")
            else:
                log(f"range is {r.group}@[{r.lo:x}]:{r.port_lo} to {r.group}@[{r.hi:x}]:{r.port_hi}")
    if info is not None:
        for f in info.facts[1:]:
            if opts.v or not f.ok:
                log(f.sentence)
    if pl.spec.backend in ("auto", "netmap") and opts.v:
        for f in module.facts:
            log(f.sentence)


def _run_ports(opts, pl, ports, info, module, normalize, json_out, say, engine,
               kernel=None, frame=None) -> int:
    if kernel is not None:
        prog, why = kernel
        T = pl.threads
        parked = (f"parked on {info.name}" if prog.parked else
                  f"not parked ({prog.park_error}): each system call costs ~25 ms more")
        log(f"engine kernel: {why}; XDP program of {prog.instructions} instructions, {parked}")
        say(f"Sending on {opts.i}: kernel engine, {T} threads and {pl.cpus} cpus.")
    else:
        port0 = ports[0]
        T = len(ports)
        backend_line = f"backend {port0.backend}: {port0.backend_reason}"
        if port0.backend == "packet":
            backend_line += " (AF_PACKET rings: one copy per packet)"
        if port0.backend == "netmap" and info is not None:
            backend_line += "; " + checks.native_netmap(info, module).sentence
        log(backend_line)
        verb = ("Sending on" if pl.func in SENDERS else
                "Receiving from" if pl.func in RECEIVERS else "Working on")
        q = _queues(port0, pl.func not in RECEIVERS, T)
        say(f"{verb} {opts.i}: {q} queues, {T} threads and {pl.cpus} cpus.")
        fact = checks.host_ring_offload(port0.spec) if pl.func in RECEIVERS else None
        if fact is not None:
            log(f"warning: {fact.sentence}")
    if pl.func in SENDERS + ("ping",):
        frame = frame or _frame(pl, info)
        src_mac = frame.data[frame.vhdr + 6:frame.vhdr + 12]
        if pl.pcap_frames:
            say(f"replaying {len(pl.pcap_frames)} packets from {opts.P}")
        else:
            say(f"{pl.src} -> {pl.dst} ({P.mac_str(src_mac)} -> {P.mac_str(pl.dst_mac)})")
        special = [n for n, on in (("copy", pl.copy_always), ("rubbish", pl.rubbish),
                                   ("prefetch", opts.o & OPT_PREFETCH),
                                   ("indirect", pl.indirect)) if on]
        if special:
            say("--- SPECIAL OPTIONS: " + " ".join(special))
        if opts.R:
            per = opts.R / T
            b = max(1, min(pl.burst, int(per // 300)))
            log(f"Sending {b} packets every  {b / per:.9f} s")
        else:
            log(f"Sending {pl.burst} packets every  0.000000000 s")
    wait_carrier(info, pl.wait)
    log("Ready...")

    run = Run(opts, pl)
    wire0 = checks.wire_counters(info.name) if info is not None else {}
    rep = Reporter(normalize=normalize, framing_bits=192 if opts.B else 0,
                   window=opts.A or bool(opts.o & OPT_PPS_STATS), threads=T)
    interrupted = False
    prev_sig = _install_sigterm()
    try:
        frames = thread_flows(opts, pl, info, frame, T) if kernel is None else [frame] * T
        run.start(ports, frames, engine, kernel=kernel[0] if kernel else None)
        last = time.monotonic()
        prev = (0, 0, 0)
        wprev = dict(wire0)
        while True:
            deadline = last + opts.T / 1000
            while run.alive() and time.monotonic() < deadline:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            now = time.monotonic()
            usec = int((now - last) * 1e6)
            if usec < 10000 and run.alive():
                continue
            cur = run.totals()
            space, rtts = run.take_interval()
            iv = Interval(cur[0] - prev[0], cur[1] - prev[1], cur[2] - prev[2], usec, space)
            log(rep.line(iv), func="main_thread")
            wire = checks.wire_counters(info.name) if info is not None else {}
            wd = {k: wire[k] - wprev.get(k, 0) for k in wire}
            if wd:
                secs = usec / 1e6
                log(f"wire {info.name}: tx {norm_pps(wd.get('tx_packets', 0), secs, normalize)} "
                    f"rx {norm_pps(wd.get('rx_packets', 0), secs, normalize)} "
                    f"drops tx {wd.get('tx_dropped', 0)} rx {wd.get('rx_dropped', 0)}",
                    func="main_thread")
            if pl.func == "ping":
                cnt, tot, mn, _mx = rtts[0]
                log(f"count {cnt} RTT: min {mn} av {tot // cnt if cnt else 0} ns",
                    func="ping_body")
            if json_out:
                _json({"type": "interval", "usec": usec, "pkts": iv.pkts, "bytes": iv.bytes,
                       "events": iv.events, "pps": iv.pps(), "bps": iv.bps(rep.framing_bits),
                       "avg_batch": round(iv.avg_batch(), 2), "min_space": iv.min_space,
                       "wire": wd})
            prev, wprev, last = cur, wire, now
            if not run.alive():
                break
    except KeyboardInterrupt:
        interrupted = True
        log("received control-C on thread main")
    finally:
        # whatever ended the loop (done, Ctrl-C, a broken pipe, a bug), the threads
        # stop and are joined before the caller closes the ports under them
        run.cancel()
        run.join()
        signal.signal(signal.SIGTERM, prev_sig)
    return _final(opts, pl, run, info, wire0, normalize, json_out, say, interrupted)


def norm_pps(n: int, secs: float, normalize: bool) -> str:
    from .report import norm
    return f"{norm(n / secs if secs else 0, normalize)}pps"


def _final(opts, pl, run, info, wire0, normalize, json_out, say, interrupted) -> int:
    pkts, nbytes, events = run.totals()
    if pl.dump and not json_out:
        shown = 0
        for w in run.workers:
            for _, ring, slot, buf, flags, data in w.captured_slots()[:DUMP_MAX]:
                for line in dump_lines(ring, slot, buf, flags, data):
                    say(line)
                shown += 1
        if shown < pkts:
            say(f"(-X: dumped the first {shown} of {pkts} packets)")
    starts = [w.start_ns for w in run.workers if w.started]
    ends = [w.end_ns for w in run.workers if w.started]
    seconds = (max(ends) - min(starts)) / 1e9 if starts and ends else 0.0
    result = {"type": "final", "function": pl.func, "port": str(pl.spec),
              "backend": run.backend,
              "pkts": pkts, "bytes": nbytes, "events": events, "seconds": round(seconds, 6),
              "pps": pkts / seconds if seconds else 0, "interrupted": interrupted}
    if pl.func in VERB:
        for line in summary(VERB[pl.func], pkts, nbytes, events, seconds, normalize,
                            192 if opts.B else 0):
            say(line)
    if pl.func == "ping" and run.workers:
        lines, rtt = rtt_lines(run.workers[0].rtt(), pkts)
        for line in lines:
            say(line)
        result["rtt"] = rtt
    if pl.func == "pong":
        say(f"Replied to {pkts} packets ({nbytes} bytes) in {seconds:.2f} seconds.")
    if pl.func == "rxseq":
        st = [w.seq_stats() for w in run.workers]
        agg = {k: sum(s[k] for s in st) for k in st[0]}
        say(f"Sequence: {agg['received']} checked, {agg['lost']} lost, {agg['reordered']} "
            f"reordered, {agg['duplicated']} duplicated, {agg['short']} too short")
        result["sequence"] = agg
    if info is not None:
        wire = checks.wire_counters(info.name)
        wd = {k: wire[k] - wire0.get(k, 0) for k in wire}
        key = "tx_packets" if pl.func in SENDERS else "rx_packets"
        say(f"Wire ({info.name} counters): {wd.get(key, 0)} {key.replace('_', ' ')}, "
            f"{wd.get('tx_dropped', 0)} tx dropped, {wd.get('rx_dropped', 0)} rx dropped")
        result["wire"] = wd
    kdrops = kernel_drops(run.ports)
    if kdrops:
        say("Kernel drops (" + run.backend + "): " + ", ".join(f"{k} {v}" for k, v in kdrops.items()))
        result["kernel_drops"] = kdrops
    cpu = [run.cpu[i] for i in sorted(run.cpu)]
    if cpu:
        user = sum(c["user_s"] for c in cpu)
        per = f", {user * 1e9 / pkts:.0f} ns user CPU per packet" if pkts else ""
        say("CPU: " + "; ".join(f"thread {c['thread']} user {c['user_s']:.2f}s sys "
                                f"{c['system_s']:.2f}s" for c in cpu) + per)
        result["cpu"] = cpu
    if opts.pcap_out and pl.func in RECEIVERS:
        from .pcap import write_pcap
        n = write_pcap(opts.pcap_out, (pkt for w in run.workers for pkt in w.captured()))
        say(f"wrote {n} packets to {opts.pcap_out}")
        result["pcap_out"] = {"file": opts.pcap_out, "packets": n}
    failed = [(i, e) for i, e in enumerate(run.errors) if e is not None]
    for i, e in failed:
        msg = e.strerror if isinstance(e, OSError) else str(e)
        log(f"ouch, thread {i} exited with error: {msg}")
    if json_out:
        result["errors"] = [str(e) for _, e in failed]
        _json(result)
    return 1 if failed else 0


def kernel_drops(ports) -> dict:
    """What the backend's kernel side dropped (receivers): AF_PACKET ring full, AF_XDP
    no free buffer or RX ring full.  Empty for backends that count nothing."""
    from netmap_py import _core
    out: dict = {}
    for p in ports:
        if p.closed or not p.rx_rings:
            continue
        if p.backend == "packet":
            out["ring_full"] = out.get("ring_full", 0) + _core.packet_stats(p)[1]
        elif p.backend == "xdp":
            st = _core.xdp_stats(p)
            out["no_buffer"] = out.get("no_buffer", 0) + st["rx_dropped"]
            out["ring_full"] = out.get("ring_full", 0) + st["rx_ring_full"]
    return out


def _json(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _install_sigterm():
    def handler(signum, frame):
        raise KeyboardInterrupt
    return signal.signal(signal.SIGTERM, handler)


LAB_BACKENDS = ("packet", "xdp", "netmap", "auto")


def _check_lab_flags(opts) -> None:
    if not opts.lab and (opts.lab_rx or opts.lab_backend is not None):
        raise UsageError("--lab-rx and --lab-backend go with --lab")
    backend = (opts.lab_backend or "packet").rstrip(":")
    if backend not in LAB_BACKENDS:
        raise UsageError(f"bad --lab-backend {opts.lab_backend}: use packet, xdp, netmap or auto")


def _main(argv: list[str]) -> int:
    opts = parse_args(argv)
    _check_lab_flags(opts)
    if opts.lab:
        from .labrun import lab_main
        return lab_main(opts, argv)
    return run(opts)


def main(argv: list[str] | None = None) -> int:
    return guarded(PROG, _main, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
