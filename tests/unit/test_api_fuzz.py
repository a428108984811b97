"""Random sequences of API calls on loop: ports never crash the process, never raise
anything but a Python exception we document, and leave every count balanced
(tests/apifuzz.py; the lab tier runs it on packet: and xdp: ports)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from apifuzz import run  # noqa: E402


def test_random_api_sequences_on_loop_ports():
    r = run("loop:f", (2, 4, 16, 64), examples=60, steps=40)
    assert r["ports_opened"] > 0
    assert r["ports_open"] == 0 and r["views_alive"] == 0
