"""Helpers for the lab tests: run pktgen-nm and ring_io.py inside a namespace."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
PKTGEN = [sys.executable, "-m", "pktgen_nm"]


def pktgen(lab, side, args, timeout=60, **kw):
    """Run pktgen-nm in a namespace; returns CompletedProcess (text)."""
    return subprocess.run(lab.cmd(side, PKTGEN + args), capture_output=True, text=True,
                          timeout=timeout, env=ENV, **kw)


def pktgen_bg(lab, side, args, **kw):
    return subprocess.Popen(lab.cmd(side, PKTGEN + args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def helper(lab, side, args, timeout=120):
    r = subprocess.run(lab.cmd(side, [sys.executable, os.path.join(ROOT, "tests", "lab",
                                                                     "ring_io.py")] + args),
                       capture_output=True, text=True, timeout=timeout, env=ENV)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def helper_bg(lab, side, args):
    return subprocess.Popen(lab.cmd(side, [sys.executable, os.path.join(ROOT, "tests", "lab",
                                                                          "ring_io.py")] + args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def ready(proc, word="READY", timeout=20.0):
    """Wait until a background process prints ``word`` on stderr: ring_io's READY, or
    pktgen-nm's and nm-bridge's "Ready..." (their ports are open and bound by then, so
    traffic sent after it is received).  What it read stays in ``proc.early_err``."""
    from tests.procwait import wait_for_line
    seen = wait_for_line(proc, word, timeout)
    if seen is None:
        raise AssertionError(f"did not get ready (no {word!r}): {proc.early_err}")
    proc.early_err = seen
    return proc


PKTGEN_READY = "Ready..."
FIRST_REPORT = "avg_batch"      # the first report line: the run is a second in
