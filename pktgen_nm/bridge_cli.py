"""nm-bridge: forward between two ports, zero-copy where they can share memory.

    nm-bridge -i xdp:veth1 -i xdp:veth2 [-b 512] [-w 2] [-T 1000] [--json]
"""
from __future__ import annotations

import json
import signal
import sys

import netmap_py

from .args import Parser, UsageError, check_ranges, guarded, number, version_line, whole
from .bridging import DIRECTIONS, BridgeOptions, BridgeRun, open_pair
from .plan import wait_carrier
from .report import log, norm

PROG = "nm-bridge"


def build_parser():
    p = Parser(prog=PROG, description="Forward frames between two ports, both ways.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("-i", metavar="PORT", action="append", default=[],
                   help="a port (give two), any netmap_py name: xdp:eth1, packet:eth2, netmap:eth0^")
    p.add_argument("-b", metavar="BURST", type=whole, default=512, help="slots per batch")
    p.add_argument("-w", metavar="SECS", type=number, default=2.0,
                   help="wait up to SECS for carrier on both interfaces (default 2)")
    p.add_argument("-T", metavar="MS", type=whole, default=1000, help="report interval in ms")
    p.add_argument("-N", action="store_true", help="raw numbers instead of K/M/G")
    p.add_argument("--json", action="store_true", help="one JSON object per report and at the end")
    p.add_argument("--duration", metavar="SECS", type=number, default=0,
                   help="stop after SECS seconds")
    p.add_argument("--copy", action="store_true", help="copy even where buffers could be swapped")
    p.add_argument("--drop-udp-port", metavar="PORT", type=whole,
                   help="drop UDP frames to or from PORT (an example of the C filter hook)")
    p.add_argument("--engine", default="ring",
                   help="ring (default: our loop over the ports' rings); kernel: an XDP "
                        "program on each interface redirects to the other")
    return p


RANGES = [
    ("b", "-b", 1, 65536, "the burst"),
    ("w", "-w", 0.0, 3600.0, "the wait for carrier in seconds"),
    ("T", "-T", 10, 3_600_000, "the report interval in ms"),
    ("duration", "--duration", 0.0, 1e9, "the run time in seconds (0: no limit)"),
    ("drop_udp_port", "--drop-udp-port", 0, 65535, "a UDP port"),
]


def run(argv) -> int:
    o = build_parser().parse_args(argv)
    if o.version:
        print(version_line(PROG))
        return 0
    if len(o.i) != 2:
        raise UsageError(f"give exactly two ports with -i (got {len(o.i)}), e.g. "
                         "-i xdp:veth1 -i xdp:veth2")
    check_ranges(o, RANGES)
    specs = []
    for text in o.i:
        try:
            specs.append(netmap_py.PortSpec.parse(text))
        except ValueError as e:
            raise UsageError(str(e)) from None
    infos = []
    for s in specs:
        if s.ifname is not None and s.backend != "loop":
            info = netmap_py.checks.interface(s.ifname)
            if not info.exists:
                raise UsageError(info.facts[0].sentence)
            if not info.up:
                raise UsageError(f"{s.ifname} is down: ip link set {s.ifname} up")
            infos.append(info)
    if o.engine != "ring":
        return _in_kernel(o, specs)
    a, b, how = open_pair(specs)
    try:
        for info in infos:
            wait_carrier(info, o.w)
        opts = BridgeOptions(burst=o.b, copy=o.copy, drop_udp_port=o.drop_udp_port,
                             duration=o.duration, interval=o.T / 1000)
        br = BridgeRun(a, b, opts, how, owned=False)
        mode = "zero-copy (buffer swaps)" if br.zero_copy else "copying"
        log(f"bridge {a.spec} <-> {b.spec}: {a.backend}/{b.backend}, {how}, {mode}")
        log(f"{a.spec}: {a.backend_reason}")
        log(f"{b.spec}: {b.backend_reason}")
        _warn_host_offload(specs)
        log("Ready...")                 # both ports are open and bound
        return _loop(o, br)
    finally:
        a.close()
        b.close()


def _in_kernel(o, specs) -> int:
    """--engine kernel: XDP redirects both ways; our loop only reads the counters."""
    from .kbridge import KernelBridgeRun
    if o.engine != "kernel":
        raise UsageError(f"unknown --engine {o.engine!r}: use ring or kernel")
    if o.copy or o.drop_udp_port is not None:
        raise UsageError("--copy and --drop-udp-port are the ring engine's (frames never "
                         "reach us with --engine kernel)")
    try:
        br = KernelBridgeRun(o.i[0], o.i[1], o.duration, o.T / 1000)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for s in specs:
        wait_carrier(netmap_py.checks.interface(s.ifname), o.w)
    try:
        br.start()
    except OSError as e:
        raise UsageError(f"--engine kernel: {e.strerror or e}") from None
    modes = ["driver (native)" if n else "generic (skb)" for n in br.native]
    log(f"bridge {o.i[0]} <-> {o.i[1]}: in the kernel, XDP redirect both ways "
        f"({modes[0]}, {modes[1]} mode)")
    log("Ready...")
    return _loop(o, br)


def _warn_host_offload(specs) -> None:
    for s in specs:
        fact = netmap_py.checks.host_ring_offload(s)
        if fact is not None:
            log(f"warning: {fact.sentence}")


def _loop(o, br: BridgeRun) -> int:
    """Forward and report until the duration, Ctrl-C or SIGTERM; then the summary."""
    interrupted = False
    prev = signal.signal(signal.SIGTERM, _term)
    br.start()
    try:
        for iv in br.intervals():
            _interval_line(o, iv)
    except KeyboardInterrupt:
        interrupted = True
        log("received control-C on thread main")
    finally:
        # every way out stops and joins the bridge before the caller closes its
        # ports; a second signal meanwhile must not cut the summary short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        br.stop()
        try:
            final = br.join()
            error = None
        except BaseException as e:
            final, error = br.result, e
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, prev)
    return _final(o, dict(final, interrupted=interrupted), error)


def _term(signum, frame):
    raise KeyboardInterrupt             # SIGTERM ends the bridge as Ctrl-C does


def _interval_line(o, iv: dict) -> None:
    secs = iv["usec"] / 1e6 or 1e-9
    parts = [f"{d.replace('_to_', '->')} {norm(iv[d]['pkts'] / secs, not o.N)}pps "
             f"({norm(iv[d]['bytes'] * 8 / secs, not o.N)}bps)" for d in DIRECTIONS]
    log(" ".join(parts) + f" in {iv['usec']} usec", func="main_thread")
    if o.json:
        print(json.dumps(iv), flush=True)


def _final(o, final: dict, error) -> int:
    if o.json:
        print(json.dumps(final), flush=True)
    else:
        for d in DIRECTIONS:
            x = final[d]
            avg = x["pkts"] / x["batches"] if x["batches"] else 0
            batch = "" if final.get("engine") == "kernel" else f" Average batch: {avg:.2f} pkts"
            print(f"Forwarded {d.replace('_to_', '->')} {x['pkts']} packets {x['bytes']} bytes "
                  f"{x['dropped']} dropped in {final['seconds']:.2f} seconds.{batch}")
        if final.get("engine") == "kernel":
            print("Mode: in the kernel (XDP redirect); frames the egress could not take "
                  "are dropped there (ethtool -S), not counted here")
        else:
            print(f"Mode: {'zero-copy' if final['zero_copy'] else 'copy'}; "
                  f"packets copied by the backends: {final['copied_by_backend']}; "
                  f"kernel drops: {final['kernel_drops']}")
    if error is not None:
        log(f"the bridge stopped: {getattr(error, 'strerror', None) or error}")
        return 1
    return 0


def main(argv=None) -> int:
    return guarded(PROG, run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
