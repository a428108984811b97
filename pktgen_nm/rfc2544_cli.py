"""pktgen-nm rfc2544: RFC 2544 benchmarks of a device between two ports.

    pktgen-nm rfc2544 --tx xdp:eth1 --rx xdp:eth2 --dst-mac 02:00:00:00:00:02 \\
        --max-rate 1000000 [--sizes 64,512,1518] [--duration 60] [--tests throughput]
"""
from __future__ import annotations

import json
import sys

from . import packet as P
from . import rfc2544 as R
from .args import Parser, UsageError, guarded, number, whole
from .report import log

PROG = "pktgen-nm rfc2544"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="RFC 2544 throughput, latency, frame loss rate and "
                                      "back-to-back tests of a device between two ports.")
    a = p.add_argument
    a("--tx", metavar="PORT", required=True, help="the port frames leave from (to the device)")
    a("--rx", metavar="PORT", required=True, help="the port they come back on")
    a("--dst-mac", metavar="MAC", required=True,
      help="destination MAC of the frames: the device's, or the receiving port's")
    a("--max-rate", metavar="PPS", type=number, required=True,
      help="the highest rate tried, packets per second (line rate, or less)")
    a("--sizes", metavar="LIST", default=",".join(map(str, R.SIZES)),
      help="frame sizes with CRC (default 64,128,256,512,1024,1280,1518)")
    a("--tests", metavar="LIST", default="throughput",
      help="throughput, latency, frame_loss, back_to_back (comma-separated; default "
           "throughput; latency runs at each size's throughput, searched first if not asked)")
    a("--duration", metavar="SECS", type=number, default=60.0,
      help="seconds a trial (RFC 2544: 60, the default)")
    a("--resolution", metavar="PPS", type=number,
      help="throughput search: stop when its bounds are this close (default 1%% of max)")
    a("--pause", metavar="SECS", type=number, default=2.0, help="pause between trials")
    a("--learning", metavar="N", type=whole, default=10,
      help="learning frames from the receiving port before each trial (default 10)")
    a("--trials", metavar="N", type=whole, default=2,
      help="repetitions of the latency and back-to-back trials (default 2)")
    a("--back-dst-mac", metavar="MAC",
      help="both directions at once: frames also go from the --rx side to MAC (the "
           "device's, or the --tx port's) and come back on --tx; rates are per direction")
    a("--back-tx", metavar="PORT", help="with --back-dst-mac: send back from PORT "
      "(default --rx; AF_XDP: another queue of it, e.g. xdp:eth2-0)")
    a("--back-rx", metavar="PORT", help="with --back-dst-mac: receive back on PORT "
      "(default --tx; AF_XDP: another queue of it)")
    a("--tx-netns", metavar="NS", help="open --tx inside network namespace NS")
    a("--rx-netns", metavar="NS", help="open --rx inside network namespace NS")
    a("--json", action="store_true", help="one JSON object per test and frame size")
    a("--report", metavar="DIR", help="write DIR/report.html with charts (needs matplotlib: "
      "pip install 'netmap-py[report]'), DIR/results.json")
    a("--link-mbit", metavar="MBIT", type=number,
      help="the link's speed for the line-rate curve (default: the interface's, if known)")
    return p


def _list(text: str, what: str, conv) -> list:
    out = []
    for item in text.split(","):
        item = item.strip()
        try:
            out.append(conv(item))
        except ValueError as e:
            raise UsageError(f"bad {what} {item!r}: {e}") from None
    return out


def _size(text: str) -> int:
    if not text.isdigit():
        raise ValueError("give whole numbers, e.g. 64,512,1518")
    return R.check_size(int(text))


def _test(text: str) -> str:
    if text not in R.TESTS:
        raise ValueError(f"use {', '.join(R.TESTS)}")
    return text


def setup(o) -> R.Setup:
    for flag, mac in (("--dst-mac", o.dst_mac), ("--back-dst-mac", o.back_dst_mac)):
        try:
            if mac is not None:
                P.parse_mac(mac)
        except ValueError as e:
            raise UsageError(f"bad {flag} {mac}: {e}") from None
    s = R.Setup(tx=o.tx, rx=o.rx, dst_mac=o.dst_mac, max_rate=o.max_rate,
                duration=o.duration, resolution=o.resolution or o.max_rate / 100,
                pause=o.pause, learning=o.learning, tx_netns=o.tx_netns,
                rx_netns=o.rx_netns, trials=o.trials, back_dst_mac=o.back_dst_mac,
                back_tx=o.back_tx, back_rx=o.back_rx)
    try:
        s.check()
    except ValueError as e:
        if "back_dst_mac" in str(e):
            raise UsageError("--back-tx and --back-rx need --back-dst-mac") from None
        flag = str(e).split("=")[0].replace("_", "-")
        raise UsageError(f"bad --{flag}: {str(e).split(': ', 1)[-1]}") from None
    return s


def _check_ports(s: R.Setup) -> None:
    """Every port's interface exists (in its namespace) before any trial starts."""
    import netmap_py
    ports = [("--tx", s.tx, s.tx_netns), ("--rx", s.rx, s.rx_netns)]
    ports += [(f, n, ns) for f, n, ns in (("--back-tx", s.back_tx, s.rx_netns),
                                          ("--back-rx", s.back_rx, s.tx_netns)) if n]
    for flag, name, netns in ports:
        try:
            spec = netmap_py.PortSpec.parse(name)
        except ValueError as e:
            raise UsageError(f"bad {flag} {name}: {e}") from None
        if spec.ifname is None or spec.backend == "loop":
            continue
        try:
            with R._inside(netns):
                info = netmap_py.checks.interface(spec.ifname)
        except OSError as e:
            why = ("no such network namespace (ip netns lists them)" if e.errno == 2 else
                   e.strerror or str(e))
            side = "--tx" if netns == s.tx_netns else "--rx"
            raise UsageError(f"bad {side}-netns {netns}: {why}") from None
        if not info.exists:
            raise UsageError(f"bad {flag} {name}: {info.facts[0].sentence}")


def _tx_ifname(o) -> str | None:
    """The sending interface, where its speed can be read here (not in another netns)."""
    import netmap_py
    return netmap_py.PortSpec.parse(o.tx).ifname if not o.tx_netns else None


def _check_line_rate(o, s: R.Setup, size: int) -> None:
    name = _tx_ifname(o)
    most = R.line_rate(name, size)
    if most is not None and s.max_rate > most * 1.0001:
        raise UsageError(f"bad --max-rate {s.max_rate:g}: {name}'s line rate is {most:,.0f} "
                         f"pps at {size}-byte frames")


def _progress(t: R.Trial) -> None:
    flag = "" if t.valid else f"  INVALID: {t.why}"
    lat = t.measured_latency
    lat_s = (f", latency min {lat['min_ns'] / 1e3:.1f} avg {lat['avg_ns'] / 1e3:.1f} p99 "
             f"{lat['p99_ns'] / 1e3:.1f} max {lat['max_ns'] / 1e3:.1f} us") if lat else ""
    log(f"{t.test} {t.size} B at {t.rate:,.0f} pps: sent {t.sent} received {t.received} "
        f"lost {t.lost} ({t.loss_pct:.3f} %), offered {t.offered:,.0f} pps{lat_s}{flag}")


def _table(results: list) -> None:
    print(f"{'test':<14}{'size':>6}{'result':>18}  note")
    for r in results:
        unit = {"throughput": " pps", "frame_loss": " %", "latency": " us"}.get(r.test, " frames")
        val = "none" if r.value is None else f"{r.value:,.1f}{unit}"
        print(f"{r.test:<14}{r.size:>6}{val:>18}  {r.note}")


def run(argv) -> int:
    o = build_parser().parse_args(argv)
    sizes = _list(o.sizes, "--sizes", _size)
    tests = _list(o.tests, "--tests", _test)
    s = setup(o)
    _check_ports(s)
    _check_line_rate(o, s, min(sizes))
    if o.report:
        from . import rfc2544_report
        rfc2544_report._plt()       # no matplotlib: say so now, not after the trials
    if s.duration < 60:
        log(f"trials of {s.duration:g} s: shorter than RFC 2544's 60 s (said in the report)")
    results = []
    for r in R.run_tests(s, tests, sizes, _progress):
        results.append(r)
        if o.json:
                print(json.dumps({**r.to_dict(), "duration": s.duration}), flush=True)
    if not o.json:
        _table(results)
    if o.report:
        from . import rfc2544_report
        link = o.link_mbit or _link_mbit(o)
        log(f"report: {rfc2544_report.write(results, s, o.report, link_mbit=link)}")
    return 0


def _link_mbit(o) -> float | None:
    rate = R.line_rate(_tx_ifname(o), 64)
    return rate * 84 * 8 / 1e6 if rate else None


def main(argv=None) -> int:
    return guarded(PROG, run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
