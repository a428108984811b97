"""pktgen-nm pgset SCRIPT: a Linux pktgen script on our kernel engine (pktgen_nm.pgset)
or, with --engine kpktgen, on the kernel's pktgen module (pktgen_nm.kpktgen)."""
from __future__ import annotations

import sys

from .args import Parser, UsageError, guarded
from .report import log, summary

PROG = "pktgen-nm pgset"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Run a Linux pktgen script (pgset lines, PGDEV= files) "
                                      "on our kernel engine (no pktgen module needed), or on "
                                      "the pktgen module with --engine kpktgen.")
    p.add_argument("script", metavar="SCRIPT", help="the script (a shell script, or bare commands)")
    p.add_argument("--engine", default="kernel",
                   help="kernel (default: our XDP live frames, no module needed); kpktgen: "
                        "the kernel's pktgen module, where it is loaded")
    return p


def _on_module(script_path: str) -> int:
    """--engine kpktgen: the script as written, on the pktgen module."""
    from . import kpktgen
    try:
        with open(script_path) as f:
            text = f.read()
        steps = kpktgen.plan(text)
        devices = kpktgen.configure(steps)
        log(f"pktgen module: {len(steps)} commands from {script_path} taken; "
            f"starting {', '.join(devices)}")
    except OSError as e:
        raise UsageError(f"{script_path}: {e.strerror or e}") from None
    except kpktgen.ModuleError as e:
        raise UsageError(str(e)) from None
    try:
        done = kpktgen.start()
        results = {dev: kpktgen.result(dev, not done) for dev in devices}
    except kpktgen.ModuleError as e:
        raise UsageError(str(e)) from None
    finally:
        kpktgen.reset()
    for dev, (res, text) in results.items():
        _report(dev, res, text)
    return 0


def _report(name: str, res, text: str) -> None:
    print(f"{name}:")
    for line in summary("Sent", (res.pkts, res.bytes, res.events), res.seconds, True, 0):
        print(line)
    print(text)


def run(argv) -> int:
    from . import pgset
    o = build_parser().parse_args(argv)
    if o.engine == "kpktgen":
        return _on_module(o.script)
    if o.engine != "kernel":
        raise UsageError(f"unknown --engine {o.engine!r}: use kernel (ours) or kpktgen "
                         "(the pktgen module)")
    try:
        with open(o.script) as f:
            script = pgset.parse(f.read())
        runs = pgset.runs(script)
    except OSError as e:
        raise UsageError(f"{o.script}: {e.strerror or e}") from None
    except (pgset.ScriptError, ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    started = []
    try:
        for name, r in runs.items():
            d = script.devices[name]
            log(f"{name}: {d.count} packets of {d.pkt_size} bytes, "
                f"{'as fast as it goes' if not d.pps() else f'{d.pps():,.0f} pps'}")
            r.start()
            started.append(name)
        results = {name: runs[name].join() for name in started}
    except KeyboardInterrupt:
        for name in started:
            runs[name].stop()
        results = {name: runs[name].finish() for name in started}
    except (OSError, ValueError) as e:
        for name in started:
            runs[name].stop()
            runs[name].finish()
        raise UsageError(f"{e}") from None
    for name, res in results.items():
        _report(name, res, pgset.result_text(res, script.devices[name].pkt_size))
    return 0


def main(argv=None) -> int:
    return guarded(PROG, run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
