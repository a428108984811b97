"""nm-bridge: forward between two ports, zero-copy where they can share memory.

    nm-bridge -i xdp:veth1 -i xdp:veth2 [-b 512] [-w 2] [-T 1000] [--json]
"""
from __future__ import annotations

import json
import sys
import threading
import time

import netmap_py

from . import cli
from .args import Parser, UsageError, check_ranges, guarded, number, version_line, whole
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
    try:
        a, b = netmap_py.open_group(specs)
        how = "one memory region"
    except OSError as e:
        if e.errno in (1, 2, 13, 19):  # EPERM ENOENT EACCES ENODEV: no point trying apart
            raise
        a = netmap_py.open(specs[0])
        try:
            b = netmap_py.open(specs[1])
        except BaseException:
            a.close()
            raise
        how = f"separate regions ({e.strerror})"
    try:
        for info in infos:
            cli.wait_carrier(info, o.w)
        br = netmap_py.Bridge(a, b, burst=o.b, copy=o.copy)
        if o.drop_udp_port is not None:
            br.drop_udp_port(o.drop_udp_port)
        mode = "zero-copy (buffer swaps)" if br.zero_copy else "copying"
        log(f"bridge {a.spec} <-> {b.spec}: {a.backend}/{b.backend}, {how}, {mode}")
        log(f"{a.spec}: {a.backend_reason}")
        log(f"{b.spec}: {b.backend_reason}")
        _warn_host_offload(specs)
        log("Ready...")                 # both ports are open and bound
        return _loop(o, a, b, br)
    finally:
        a.close()
        b.close()


def _warn_host_offload(specs) -> None:
    for s in specs:
        fact = netmap_py.checks.host_ring_offload(s)
        if fact is not None:
            log(f"warning: {fact.sentence}")


def _loop(o, a, b, br) -> int:
    errors: list[BaseException] = []

    def work():
        try:
            br.run()
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=work, daemon=True)
    t0 = time.monotonic()
    t.start()
    try:
        interrupted = _report(o, br, t, t0)
    finally:
        br.stop()           # every way out stops and joins the bridge before the
        t.join()            # caller closes its ports
    return _final(o, a, b, br, t0, interrupted, errors)


def _report(o, br, t, t0) -> bool:
    """The report loop; True when Ctrl-C ended it."""
    last = t0
    prev = br.counters()
    try:
        while t.is_alive():
            time.sleep(o.T / 1000)
            now = time.monotonic()
            cur = br.counters()
            secs = now - last
            parts = []
            for d in ("a_to_b", "b_to_a"):
                dp = cur[d]["pkts"] - prev[d]["pkts"]
                db = cur[d]["bytes"] - prev[d]["bytes"]
                parts.append(f"{d.replace('_to_', '->')} {norm(dp / secs, not o.N)}pps "
                             f"({norm(db * 8 / secs, not o.N)}bps)")
            log(" ".join(parts) + f" in {int(secs * 1e6)} usec", func="main_thread")
            if o.json:
                print(json.dumps({"type": "interval", "usec": int(secs * 1e6),
                                  **{d: {k: cur[d][k] - prev[d][k] for k in cur[d]} for d in cur}}),
                      flush=True)
            prev, last = cur, now
            if o.duration and now - t0 >= o.duration:
                break
    except KeyboardInterrupt:
        log("received control-C on thread main")
        return True
    return False


def _final(o, a, b, br, t0, interrupted, errors) -> int:
    secs = time.monotonic() - t0
    c = br.counters()
    final = {"type": "final", "seconds": round(secs, 3), "zero_copy": br.zero_copy,
             "copied_by_backend": a.copied_packets + b.copied_packets,
             "kernel_drops": cli.kernel_drops([a, b]),
             "tx_dropped": a.tx_dropped + b.tx_dropped,
             "interrupted": interrupted, **c}
    if o.json:
        print(json.dumps(final), flush=True)
    else:
        for d in ("a_to_b", "b_to_a"):
            x = c[d]
            avg = x["pkts"] / x["batches"] if x["batches"] else 0
            print(f"Forwarded {d.replace('_to_', '->')} {x['pkts']} packets {x['bytes']} bytes "
                  f"{x['dropped']} dropped in {secs:.2f} seconds. Average batch: {avg:.2f} pkts")
        print(f"Mode: {'zero-copy' if br.zero_copy else 'copy'}; "
              f"packets copied by the backends: {a.copied_packets + b.copied_packets}; "
              f"kernel drops: {final['kernel_drops']}")
    if errors:
        e = errors[0]
        log(f"the bridge stopped: {getattr(e, 'strerror', None) or e}")
        return 1
    return 0


def main(argv=None) -> int:
    return guarded(PROG, run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
