"""RFC 2544 on the lab: a tbf shaper of known rate in namespace B (a Linux bridge
between its two veths) is the device; the throughput found lies within the search
resolution of the shaper's rate, at two frame sizes; a device that drops everything
ends the search with a note."""
import subprocess

import pytest

from pktgen_nm import rfc2544 as R

RATE_BIT = 40_000_000


def dut_bridge(lab, shape: bool = True, drop: bool = False):
    def sh(*a):
        subprocess.run(["ip", "netns", "exec", lab.ns("B"), *a], check=True)
    sh("ip", "link", "add", "br0", "type", "bridge")
    for d in (lab.dev_b, lab.dev_b2):
        sh("ip", "link", "set", d, "master", "br0")
    sh("ip", "link", "set", "br0", "up")
    if shape:
        sh("tc", "qdisc", "add", "dev", lab.dev_b2, "root", "tbf", "rate", str(RATE_BIT),
           "burst", "16kb", "latency", "20ms")
    if drop:                    # B's second veth leaves the bridge: nothing crosses
        sh("ip", "link", "set", lab.dev_b2, "nomaster")


def setup(lab, max_rate, resolution):
    return R.Setup(tx=f"xdp:{lab.dev_a}", rx=f"xdp:{lab.dev_c}",
                   dst_mac=lab.mac("C", lab.dev_c), max_rate=max_rate, duration=2,
                   resolution=resolution, pause=0.3, tx_netns=lab.ns("A"),
                   rx_netns=lab.ns("C"))


@pytest.mark.parametrize("size", [64, 512])
def test_throughput_of_a_shaper_is_its_rate(lab3, size):
    dut_bridge(lab3)
    shaped = RATE_BIT / ((size - R.CRC) * 8)        # tbf counts the frame without CRC
    res = shaped * 0.06
    r = R.throughput(setup(lab3, shaped * 2.5, res), size)
    assert r.value is not None, r.to_dict()
    assert abs(r.value - shaped) <= res + shaped * 0.02, (r.value, shaped, r.to_dict())
    # the answer holds on a re-check: zero loss at the reported throughput
    again = R.trial(setup(lab3, shaped * 2.5, res), size, r.value)
    assert again.lost == 0 and again.valid, again


def test_a_device_that_drops_everything_ends_the_search(lab3):
    dut_bridge(lab3, shape=False, drop=True)         # B forwards nothing
    r = R.throughput(setup(lab3, 50_000, 10_000), 64)
    assert r.value is None and "no rate" in r.note, r.to_dict()
    assert len(r.trials) <= 4
