"""pktgen-nm pgset SCRIPT: a Linux pktgen script on our kernel engine (pktgen_nm.pgset)."""
from __future__ import annotations

import sys

from .args import Parser, UsageError, guarded
from .report import log, summary

PROG = "pktgen-nm pgset"


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Run a Linux pktgen script (pgset lines, PGDEV= files) "
                                      "on the kernel engine, without the pktgen module.")
    p.add_argument("script", metavar="SCRIPT", help="the script (a shell script, or bare commands)")
    p.add_argument("--engine", default="kernel",
                   help="kernel (default: XDP live frames); the module (kpktgen) is not driven yet")
    return p


def run(argv) -> int:
    from . import pgset
    o = build_parser().parse_args(argv)
    if o.engine != "kernel":
        raise UsageError(f"--engine {o.engine}: only kernel for now (the pktgen module is "
                         "not driven yet)")
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
        size = script.devices[name].pkt_size
        print(f"{name}:")
        for line in summary("Sent", (res.pkts, res.bytes, res.events), res.seconds, True, 0):
            print(line)
        print(pgset.result_text(res, size))
    return 0


def main(argv=None) -> int:
    return guarded(PROG, run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
