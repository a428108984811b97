"""Helpers for the netmap tier: run C pkt-gen (on the netmap-vm guest's PATH) and
pktgen-nm side by side, wait for a receiver to be ready, read their summaries."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
OURS = [sys.executable, "-m", "pktgen_nm"]
TAG = f"i{os.getpid() % 100000}"


def c_pktgen() -> list[str]:
    exe = shutil.which("pkt-gen")
    if exe is None:
        pytest.skip("C pkt-gen is not on the PATH (the netmap-vm guest has it)")
    return [exe]


def run(cmd, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)


def start(cmd, ready: str) -> subprocess.Popen:
    """Start a receiver and wait for its ready line on stderr (pktgen-nm: "Ready...",
    C pkt-gen: "reading from"); what it printed so far stays in p.early_err."""
    from tests.procwait import wait_for_line
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    seen = wait_for_line(p, ready, timeout=60)
    if seen is not None:
        p.early_err = seen
        return p
    p.kill()
    p.communicate()
    raise AssertionError(f"receiver not ready ({ready!r}): {p.early_err}")


def finish(p, timeout=120) -> tuple[str, str]:
    out, err = p.communicate(timeout=timeout)
    return out, getattr(p, "early_err", "") + err


def count(verb: str, out: str) -> int:
    """N of 'Sent N packets' / 'Received N packets' (both programs print it)."""
    m = re.search(rf"^{verb} (\d+) packets", out, re.M)
    return int(m.group(1)) if m else 0
