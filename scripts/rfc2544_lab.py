"""RFC 2544 on the lab: namespaces A - B - C, the device under test in B (a Linux
bridge, a tbf shaper behind one, a router or nm-bridge), A sends, C receives.

    .venv/bin/python scripts/rfc2544_lab.py --dut nm-bridge --sizes 64,512 --duration 2 \\
        --max-rate 300000 [--report docs/rfc2544] [--json]
Root only; the namespaces are removed after.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pktgen_nm import rfc2544 as R  # noqa: E402
from pktgen_nm.lab import VethLab  # noqa: E402
from pktgen_nm.labdut import KINDS, Dut  # noqa: E402


def run(dut: str, sizes, tests, args) -> list:
    with VethLab(tag="rfc", three=True) as lab:
        lab.wait_carrier()
        with Dut(lab, dut, rate_bit=args.tbf_bit, backend=args.backend) as d:
            s = R.Setup(tx=f"{args.backend}:{lab.dev_a}", rx=f"{args.backend}:{lab.dev_c}",
                        dst_mac=d.dst_mac, max_rate=args.max_rate, duration=args.duration,
                        resolution=args.resolution or args.max_rate / 100, pause=0.3,
                        tx_netns=lab.ns("A"), rx_netns=lab.ns("C"))
            out = list(R.run_tests(s, tests, sizes, progress=lambda t: print(
                f"  {dut} {t.test} {t.size} B {t.rate:,.0f} pps: lost {t.lost} of "
                f"{t.sent}{'' if t.valid else ' (invalid: ' + t.why + ')'}",
                file=sys.stderr, flush=True)))
            if args.report:
                from pktgen_nm import rfc2544_report
                path = rfc2544_report.write(out, s, args.report, title=f"the lab's {dut}")
                print(f"report: {path}", file=sys.stderr)
            return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dut", choices=KINDS, default="bridge")
    p.add_argument("--sizes", default="64,512")
    p.add_argument("--tests", default="throughput")
    p.add_argument("--duration", type=float, default=2.0)
    p.add_argument("--max-rate", type=float, default=300_000)
    p.add_argument("--resolution", type=float)
    p.add_argument("--backend", default="xdp")
    p.add_argument("--tbf-bit", type=int, default=40_000_000)
    p.add_argument("--report")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    res = run(a.dut, sizes, a.tests.split(","), a)
    for r in res:
        if a.json:
            print(json.dumps(r.to_dict()))
        else:
            print(f"{a.dut:<10} {r.test:<13} {r.size:>5} B  "
                  f"{'none' if r.value is None else f'{r.value:,.0f}'}  {r.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
