"""pktgen-nm: netmap's pkt-gen, on netmap, AF_XDP or AF_PACKET.

Same flags, defaults and report lines as pkt-gen (README: 'Differences from
pkt-gen' lists where we chose to do better).  Python parses, checks, reports;
the per-packet loops are in _engine.pyx and run without the GIL.
"""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import signal
import socket
import sys
import time

from netmap_py import checks

from . import api
from . import packet as P
from .args import Parser, UsageError, guarded, number, version_line, whole
from .plan import (
    DUMP_MAX,
    KERNEL_BATCH,
    OPT_PPS_STATS,
    OPT_PREFETCH,
    RECEIVERS,
    SENDERS,
    VERB,
    Plan,
    bound_queues,
    build_frame,
    check_fits,
    check_interface,
    choose_engine,
    kernel_unfit,
    number_ranges,
    open_kernel,
    open_ports,
    plan,
    thread_flows,
    wait_carrier,
)
from .report import Interval, Reporter, dump_lines, log, rtt_lines, summary
from .runner import Job, kernel_drops

PROG = "pktgen-nm"
__all__ = ["kernel_drops", "kernel_unfit", "main", "number_ranges", "plan", "wait_carrier"]


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
    a("--vlan", metavar="ID[:PRIO]", help="an 802.1Q tag: VLAN ID 0..4095, priority 0..7")
    a("--svlan", metavar="ID[:PRIO]", help="a QinQ outer tag (802.1ad) over --vlan's")
    a("--mpls", metavar="LABELS", help="an MPLS label stack, outermost first: "
      "LABEL[/TC[/TTL]],... (TC 0, TTL 64 unless given)")
    a("--tos", metavar="BYTE", type=whole, help="the IPv4 TOS byte (default 0x10, pkt-gen's)")
    a("--dscp", metavar="N", type=whole, help="DSCP 0..63 (IPv4 TOS or IPv6 traffic class)")
    a("--traffic-class", metavar="BYTE", type=whole, help="the IPv6 traffic class byte")
    a("--imix", metavar="MIX", help="sizes in a mix: classic (7:4:1 of 60/590/1514, i.e. "
      "64/594/1518 with CRC) or SIZE:WEIGHT,...")
    a("--flows", metavar="N", type=whole, default=0,
      help="Linux pktgen's flows: N destination addresses in turn, each for --flowlen packets")
    a("--flowlen", metavar="LEN", type=whole, default=0, help="packets per flow (default 1)")
    a("--seed", metavar="N", type=whole, default=0, help="seed for -z/-Z and random sizes")
    a("--engine", metavar="E", default="ring",
      help="ring (default); kernel: the kernel generates (BPF_PROG_RUN live frames, "
           "tx/txseq); auto: kernel where it can")
    a("--metrics-port", metavar="[ADDR:]PORT",
      help="serve live counters for Prometheus there (needs prometheus_client)")
    a("--metrics-hold", metavar="SECS", type=number, default=0,
      help="keep serving the final figures SECS seconds after the run (default 0)")
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
       {PROG} rfc2544 --help            (RFC 2544 benchmarks of a device between two ports)
       {PROG} cluster PLAN              (one test on the nodes of a Ray cluster)
       {PROG} pgset SCRIPT              (a Linux pktgen script: our kernel engine or the module)
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


def _check_metrics(opts) -> None:
    """--metrics-port/--metrics-hold: wrong before any port opens."""
    if opts.metrics_port is None:
        if opts.metrics_hold:
            raise UsageError("--metrics-hold needs --metrics-port")
        return
    from . import metrics
    try:
        metrics.parse_address(opts.metrics_port)
        metrics.require()
    except ValueError as e:
        raise UsageError(f"bad --metrics-port: {e}") from None
    if not 0 <= opts.metrics_hold <= 3600:
        raise UsageError(f"bad --metrics-hold {opts.metrics_hold:g}: 0 to 3600 seconds")


def run(opts) -> int:
    pl = plan(opts)
    _check_metrics(opts)
    from . import _engine
    info = check_interface(pl, opts)    # a wrong name first: it is wrong for root too
    # netmap: opening /dev/netmap says what is wrong itself (no module, no permission)
    if os.geteuid() != 0 and pl.spec.backend not in ("loop", "netmap"):
        raise UsageError("no permission: opening packet ports needs root (CAP_NET_RAW, "
                         "CAP_NET_ADMIN); run with sudo")
    exporter = _metrics(opts, pl, info)     # listening before any port opens
    try:
        return _run_on(opts, pl, info, _engine, exporter)
    finally:
        if exporter is not None:
            _hold(opts.metrics_hold)
            exporter.close()


def _run_on(opts, pl, info, _engine, exporter) -> int:
    """run() once the checks passed: the kernel engine or the ports, then the run."""
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
        frame = build_frame(pl, info)
        kernel = open_kernel(pl, info, frame)
        try:
            _banner(opts, pl, info, module)
            return _run_ports(_Out(opts, pl, info, module, say, normalize, json_out,
                                   exporter), [], _engine, kernel=(kernel, why), frame=frame)
        finally:
            kernel.close()
    ports = open_ports(pl)
    try:
        check_fits(pl, ports[0])
        _banner(opts, pl, info, module)
        if pl.engine == "auto":
            log(f"engine ring: {why}")
        return _run_ports(_Out(opts, pl, info, module, say, normalize, json_out, exporter),
                          ports, _engine)
    finally:
        for p in ports:
            p.close()


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
        extras = [x for x in (pl.encap.describe(),
                              pl.sizes and f"IMIX of {len(pl.sizes)}: "
                              f"{', '.join(f'{s}x{pl.sizes.count(s)}' for s in sorted(set(pl.sizes)))}",
                              pl.flows and f"{pl.flows[0]} flows of {pl.flows[1]}") if x]
        if extras:
            log("frames carry " + "; ".join(extras))
    if info is not None:
        for f in info.facts[1:]:
            if opts.v or not f.ok:
                log(f.sentence)
    if pl.spec.backend in ("auto", "netmap") and opts.v:
        for f in module.facts:
            log(f.sentence)


@dataclasses.dataclass
class _Out:
    """One run's settings for reporting: the options, the plan, the interface, where
    lines go (say: stdout unless --json) and how numbers look."""

    opts: argparse.Namespace
    pl: Plan
    info: checks.InterfaceInfo | None
    module: checks.NetmapModule
    say: object
    normalize: bool = True
    json_out: bool = False
    metrics: object = None              # --metrics-port: the endpoint (metrics.Exporter)


def job(opts, pl: Plan) -> Job:
    """The plan as the run core's Job (the options each engine thread needs)."""
    return Job(func=pl.func, count=opts.n, duration=opts.duration, rate=opts.R,
               exit_on_idle=opts.W, seed=opts.seed, burst=pl.burst,
               randomize=(pl.rand_src, pl.rand_dst), copy_always=pl.copy_always,
               rubbish=pl.rubbish, pcap_frames=pl.pcap_frames,
               capture=max(opts.pcap_count if opts.pcap_out else 0, DUMP_MAX if pl.dump else 0),
               frags=opts.F, max_frag=opts.M, vnet=pl.vnet, indirect=pl.indirect,
               first_cpu=opts.a, cpus=pl.cpus, threads=pl.threads)


def _announce(o: _Out, ports, kernel) -> int:
    """The engine, backend and queue lines; returns the number of threads."""
    opts, pl, info, module, say = o.opts, o.pl, o.info, o.module, o.say
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
        q = bound_queues(port0, pl.func not in RECEIVERS, T)
        say(f"{verb} {opts.i}: {q} queues, {T} threads and {pl.cpus} cpus.")
        fact = checks.host_ring_offload(port0.spec) if pl.func in RECEIVERS else None
        if fact is not None:
            log(f"warning: {fact.sentence}")
    return T


def _announce_frame(o: _Out, frame, T: int):
    """What a sender sends, and at what pace; returns the frame."""
    opts, pl, info, say = o.opts, o.pl, o.info, o.say
    if pl.func in SENDERS + ("ping",):
        frame = frame or build_frame(pl, info)
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
    return frame


def _run_ports(o: _Out, ports, engine, kernel=None, frame=None) -> int:
    opts, pl, info = o.opts, o.pl, o.info
    T = _announce(o, ports, kernel)
    frame = _announce_frame(o, frame, T)
    wait_carrier(info, pl.wait)
    log("Ready...")
    frames = thread_flows(opts, pl, info, frame, T) if kernel is None else [frame] * T
    run = api.Run.over(job(opts, pl), ports, frames, port=str(pl.spec),
                       kernel=kernel[0] if kernel else None, interval=opts.T / 1000)
    wire0 = checks.wire_counters(info.name) if info is not None else {}
    interrupted = False
    if o.metrics is not None:
        o.metrics.attach(run, wire0)
    prev_sig = _install_sigterm()
    try:
        run.start()
        _report(o, run, wire0, T)
    except KeyboardInterrupt:
        interrupted = True
        log("received control-C on thread main")
    finally:
        # whatever ended the loop (done, Ctrl-C, a broken pipe, a bug), the threads
        # stop and are joined before the caller closes the ports under them
        run.stop()
        run.finish()
        signal.signal(signal.SIGTERM, prev_sig)
    return _final(o, run, wire0, interrupted)


def _metrics(opts, pl, info):
    """--metrics-port: the endpoint, up before any port opens (None without it); it
    serves the run once _run_ports attaches it."""
    if not opts.metrics_port:
        return None
    from . import metrics
    try:
        ex = metrics.serve(opts.metrics_port, port=str(pl.spec), function=pl.func,
                           ifname=info.name if info is not None else None)
    except ValueError as e:
        raise UsageError(str(e)) from None
    log(f"metrics: http://{socket.gethostname()}:{ex.port}/metrics")
    return ex


def _hold(secs: float) -> None:
    """--metrics-hold: the final figures stay up for a last scrape (Ctrl-C ends it)."""
    try:
        time.sleep(secs)
    except KeyboardInterrupt:
        pass


def _report(o: _Out, run: api.Run, wire0: dict, T: int) -> None:
    """An interval line (and the wire's, ping's, JSON) every -T ms until the run ends."""
    opts, pl, info, normalize, json_out = o.opts, o.pl, o.info, o.normalize, o.json_out
    rep = Reporter(normalize=normalize, framing_bits=192 if opts.B else 0,
                   window=opts.A or bool(opts.o & OPT_PPS_STATS), threads=T)
    wprev = dict(wire0)
    for iv in run.intervals():
        line = Interval(iv.pkts, iv.bytes, iv.events, iv.usec, iv.min_space)
        log(rep.line(line), func="main_thread")
        wire = checks.wire_counters(info.name) if info is not None else {}
        wd = {k: wire[k] - wprev.get(k, 0) for k in wire}
        if wd:
            secs = iv.usec / 1e6
            log(f"wire {info.name}: tx {norm_pps(wd.get('tx_packets', 0), secs, normalize)} "
                f"rx {norm_pps(wd.get('rx_packets', 0), secs, normalize)} "
                f"drops tx {wd.get('tx_dropped', 0)} rx {wd.get('rx_dropped', 0)}",
                func="main_thread")
        if pl.func == "ping":
            cnt, tot, mn, _mx = run.interval_rtt
            log(f"count {cnt} RTT: min {mn} av {tot // cnt if cnt else 0} ns",
                func="ping_body")
        if json_out:
            _json(dataclasses.replace(iv, bps=line.bps(rep.framing_bits), wire=wd).to_dict())
        wprev = wire


def norm_pps(n: int, secs: float, normalize: bool) -> str:
    from .report import norm
    return f"{norm(n / secs if secs else 0, normalize)}pps"


def _final(o: _Out, run: api.Run, wire0: dict, interrupted: bool) -> int:
    opts, pl, json_out, say = o.opts, o.pl, o.json_out, o.say
    res = run.result or api.Result(pl.func, str(pl.spec), "", 0, 0, 0, 0.0, 0.0)
    if pl.dump and not json_out:
        _dump(run.workers, res.pkts, say)
    extra: dict = {"interrupted": interrupted}
    if pl.func in VERB:
        for line in summary(VERB[pl.func], (res.pkts, res.bytes, res.events), res.seconds,
                            o.normalize, 192 if opts.B else 0):
            say(line)
    if pl.func == "ping" and run.workers:
        lines, extra["rtt"] = rtt_lines(run.workers[0].rtt(), res.pkts)
        for line in lines:
            say(line)
    if pl.func == "pong":
        say(f"Replied to {res.pkts} packets ({res.bytes} bytes) in {res.seconds:.2f} seconds.")
    if pl.func == "rxseq" and res.sequence:
        agg = res.sequence
        say(f"Sequence: {agg['received']} checked, {agg['lost']} lost, {agg['reordered']} "
            f"reordered, {agg['duplicated']} duplicated, {agg['short']} too short, "
            f"{agg['other']} not UDP (not ours)")
    extra.update(_final_counters(o, run, res, wire0))
    failed = run.errors
    for i, e in failed:
        msg = e.strerror if isinstance(e, OSError) else str(e)
        log(f"ouch, thread {i} exited with error: {msg}")
    if json_out:
        extra["errors"] = [str(e) for _, e in failed]
        _json(dataclasses.replace(res, **extra).to_dict())
    return 1 if failed else 0


def _dump(workers, pkts: int, say) -> None:
    """-X: the first DUMP_MAX packets, as hex."""
    shown = 0
    for w in workers:
        for _, ring, slot, buf, flags, data in w.captured_slots()[:DUMP_MAX]:
            for line in dump_lines(ring, slot, buf, flags, data):
                say(line)
            shown += 1
    if shown < pkts:
        say(f"(-X: dumped the first {shown} of {pkts} packets)")


def _final_counters(o: _Out, run: api.Run, res, wire0: dict) -> dict:
    """The wire's, the kernel's and the CPU's lines, and the pcap written; their
    fields of the result."""
    opts, pl, info, say = o.opts, o.pl, o.info, o.say
    out: dict = {}
    if info is not None:
        wire = checks.wire_counters(info.name)
        wd = {k: wire[k] - wire0.get(k, 0) for k in wire}
        key = "tx_packets" if pl.func in SENDERS else "rx_packets"
        say(f"Wire ({info.name} counters): {wd.get(key, 0)} {key.replace('_', ' ')}, "
            f"{wd.get('tx_dropped', 0)} tx dropped, {wd.get('rx_dropped', 0)} rx dropped")
        out["wire"] = wd
    kdrops = kernel_drops(run.ports)
    if kdrops:
        say(f"Kernel drops ({res.backend}): " + ", ".join(f"{k} {v}" for k, v in kdrops.items()))
        out["kernel_drops"] = kdrops
    if res.cpu:
        user = sum(c["user_s"] for c in res.cpu)
        per = f", {user * 1e9 / res.pkts:.0f} ns user CPU per packet" if res.pkts else ""
        say("CPU: " + "; ".join(f"thread {c['thread']} user {c['user_s']:.2f}s sys "
                                f"{c['system_s']:.2f}s" for c in res.cpu) + per)
    if opts.pcap_out and pl.func in RECEIVERS:
        from .pcap import write_pcap
        n = write_pcap(opts.pcap_out, (pkt for w in run.workers for pkt in w.captured()))
        say(f"wrote {n} packets to {opts.pcap_out}")
        out["pcap_out"] = {"file": opts.pcap_out, "packets": n}
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["rfc2544"]:
        from . import rfc2544_cli
        return rfc2544_cli.main(argv[1:])
    if argv[:1] == ["cluster"]:
        from . import cluster_cli
        return cluster_cli.main(argv[1:])
    if argv[:1] == ["pgset"]:
        from . import pgset_cli
        return pgset_cli.main(argv[1:])
    return guarded(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
