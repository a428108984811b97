"""pytest fixtures for your own device tests (installed as a pytest11 plugin):

    def test_my_device(veth_lab):
        with veth_lab.inside("B"):
            rx = receive(f"xdp:{veth_lab.dev_b}", duration=2)
        with veth_lab.inside("A"):
            tx = send(f"xdp:{veth_lab.dev_a}", Traffic(dst_mac=veth_lab.mac("B", veth_lab.dev_b)),
                      count=10_000)
        assert tx.join().pkts == rx.join().pkts == 10_000

veth_lab: namespaces A and B joined by a veth pair (addresses 10.77.0.1 and .2), made
for the test and removed after it, whatever happens; the test is skipped with the
reason where a lab cannot be made (not root, no iproute2).
veth_lab3: A - B - C, two veth pairs, B in the middle for a device under test.
"""
from __future__ import annotations

import pytest

from .lab import VethLab, can_run


def _lab(three: bool):
    why = can_run()
    if why:
        pytest.skip(why)
    with VethLab(tag="pt", three=three) as lab:
        lab.wait_carrier()
        yield lab


@pytest.fixture
def veth_lab():
    yield from _lab(False)


@pytest.fixture
def veth_lab3():
    yield from _lab(True)
