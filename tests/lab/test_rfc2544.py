"""RFC 2544 on the lab, namespace B the device under test (pktgen_nm.labdut): a tbf
shaper of known rate behind a Linux bridge gives back its rate, at two frame sizes;
the Linux bridge, a router and nm-bridge complete the command's run with zero loss at
the throughput it reports, on a re-check; a device that forwards nothing ends the
search with a note."""
import json
import subprocess
import sys

import pytest
from labutil import ENV

from pktgen_nm import rfc2544 as R
from pktgen_nm.labdut import Dut

RATE_BIT = 40_000_000


def setup(lab, dut, max_rate, resolution, duration=2):
    return R.Setup(tx=f"xdp:{lab.dev_a}", rx=f"xdp:{lab.dev_c}", dst_mac=dut.dst_mac,
                   max_rate=max_rate, duration=duration, resolution=resolution, pause=0.3,
                   tx_netns=lab.ns("A"), rx_netns=lab.ns("C"))


@pytest.mark.parametrize("size", [64, 512])
def test_throughput_of_a_shaper_is_its_rate(lab3, size):
    shaped = RATE_BIT / ((size - R.CRC) * 8)        # tbf counts the frame without CRC
    res = shaped * 0.06
    with Dut(lab3, "tbf", rate_bit=RATE_BIT) as dut:
        s = setup(lab3, dut, shaped * 2.5, res)
        r = R.throughput(s, size)
        assert r.value is not None, r.to_dict()
        assert abs(r.value - shaped) <= res + shaped * 0.02, (r.value, shaped, r.to_dict())
        # zero loss there, on a re-check; the shaper's queue slows the sender by 1-2 %
        # here (a trial it makes invalid), so up to three re-checks, all without loss
        checks = []
        while len(checks) < 3 and not any(c.valid for c in checks):
            checks.append(R.trial(s, size, r.value))
    assert all(c.lost == 0 for c in checks) and checks[-1].valid, checks


@pytest.mark.parametrize("kind", ["bridge", "router", "nm-bridge"])
def test_the_command_on_real_devices(lab3, kind, tmp_path):
    with Dut(lab3, kind) as dut:
        argv = [sys.executable, "-m", "pktgen_nm.cli", "rfc2544",
                "--tx", f"xdp:{lab3.dev_a}", "--rx", f"xdp:{lab3.dev_c}",
                "--tx-netns", lab3.ns("A"), "--rx-netns", lab3.ns("C"),
                "--dst-mac", dut.dst_mac, "--max-rate", "150000", "--resolution", "20000",
                "--duration", "1", "--pause", "0.3", "--sizes", "64,1518", "--json",
                "--report", str(tmp_path)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=ENV)
        assert p.returncode == 0, p.stderr
        found = [json.loads(line) for line in p.stdout.splitlines()]
        assert [f["size"] for f in found] == [64, 1518] and all(f["value"] for f in found), found
        s = setup(lab3, dut, 150_000, 20_000, duration=1)
        for f in found:
            again = R.trial(s, f["size"], f["value"])
            assert again.lost == 0, (kind, f, again)
    assert (tmp_path / "report.html").exists() and (tmp_path / "throughput.png").exists()


def test_a_device_that_drops_everything_ends_the_search(lab3):
    with Dut(lab3, "none") as dut:                  # B forwards nothing
        r = R.throughput(setup(lab3, dut, 50_000, 10_000), 64)
    assert r.value is None and "no rate" in r.note, r.to_dict()
    assert len(r.trials) <= 4
