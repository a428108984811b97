"""nm-bridge on netmap ports (the guest's native-netmap veth): both directions at once,
every frame numbered, none lost, reordered or repeated.  A - B, B2 - C: the bridge
joins B and B2; A and C each send to the other and receive from it."""
import re
import subprocess

import pytest
from nmutil import OURS, TAG, finish, start

N = 100_000
RATE = "50000"                  # each way; the guest's CPU is emulated


def _link(a: str, b: str) -> None:
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    for d in (a, b):
        subprocess.run(["ip", "link", "set", d, "up"], check=True)


def _mac(dev: str) -> str:
    with open(f"/sys/class/net/{dev}/address") as f:
        return f.read().strip()


@pytest.fixture
def four():
    names = [f"{TAG}{s}" for s in ("wa", "wb", "wc", "wd")]     # A, B, B2, C
    _link(names[0], names[1])
    _link(names[2], names[3])
    yield names
    for d in (names[0], names[2]):
        subprocess.run(["ip", "link", "del", d], check=False)


def _seq(out: str) -> tuple:
    m = re.search(r"Sequence: (\d+) checked, (\d+) lost, (\d+) reordered, (\d+) duplicated", out)
    assert m, out
    return tuple(int(x) for x in m.groups())


def test_nm_bridge_both_ways_on_netmap_ports_loses_nothing(four):
    a, b, b2, c = four
    br = start(OURS[:2] + ["pktgen_nm.bridge_cli", "-i", f"netmap:{b}", "-i", f"netmap:{b2}",
                           "-w", "0", "--json"], "Ready...")
    try:
        rx = {side: start(OURS + ["-i", f"netmap:{side}", "-f", "rxseq", "-n", str(N), "-w", "0",
                                  "--duration", "120"], "Ready...") for side in (a, c)}
        tx = [subprocess.Popen(OURS + ["-i", f"netmap:{src}", "-f", "txseq", "-D", _mac(dst),
                                       "-R", RATE, "-n", str(N), "-w", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for src, dst in ((a, c), (c, a))]
        for p in tx:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0 and f"Sent {N} packets" in out, out + err
        got = {side: finish(p, timeout=180) for side, p in rx.items()}
    finally:
        br.send_signal(2)
        bout, berr = finish(br)
    for side, (out, err) in got.items():
        assert _seq(out) == (N, 0, 0, 0), f"{side}: {out}{err}\nbridge: {berr[-2000:]}"
    assert '"type": "final"' in bout and br.returncode == 0, berr
