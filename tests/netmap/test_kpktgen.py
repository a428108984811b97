"""pktgen-nm pgset --engine kpktgen on the netmap-vm guest, whose kernel loads the
pktgen module: a script in the kernel documentation's style run on the module and on
our kernel engine across one veth pair, counts exact on both; VLAN, QinQ and IMIX
scripts on both, every captured frame parsed by scapy; the module's refusals said in
one line; and the two engines' speeds compared in the same guest run (a ratio: the
guest's CPU is emulated)."""
import json
import os
import re
import subprocess

import pytest
from nmutil import OURS, TAG, finish, run, start

SCRIPT = """#!/bin/bash
# the documentation's pgset style: a function, PGDEV, then the commands
function pgset() {{
    local result
    echo $1 > $PGDEV
    result=`cat $PGDEV | fgrep "Result: OK:"`
    if [ "$result" = "" ]; then
         cat $PGDEV | fgrep Result:
    fi
}}
PGDEV=/proc/net/pktgen/kpktgend_0
echo "Removing all devices"
pgset "rem_device_all"
echo "Adding {dev}"
pgset "add_device {dev}"
# a veth cannot share one skb between sends: clone_skb 0 (and burst 1) there
CLONE_SKB="clone_skb 0"
PKT_SIZE="pkt_size {size}"
COUNT="count {n}"
PGDEV=/proc/net/pktgen/{dev}
pgset "$COUNT"
pgset "$CLONE_SKB"
pgset "$PKT_SIZE"
pgset "delay 0"
{rate}
pgset "dst_min 10.10.11.2"
pgset "dst_max 10.10.11.20"
pgset "flag IPDST_RND"
pgset "flows 8"
pgset "flowlen 4"
pgset "udp_dst_min 1000"
pgset "udp_dst_max 1000"
pgset "dst_mac {mac}"
{extra}
PGDEV=/proc/net/pktgen/pgctrl
echo "Running... ctrl^C to stop"
pgset "start"
echo "Done"
"""


@pytest.fixture(scope="module")
def module():
    r = subprocess.run(["modprobe", "pktgen"], capture_output=True, text=True)
    if r.returncode or not os.path.isdir("/proc/net/pktgen"):
        pytest.skip(f"the pktgen module does not load here: {r.stderr.strip()}")
    yield
    subprocess.run(["sh", "-c", "echo reset > /proc/net/pktgen/pgctrl"], check=False)


@pytest.fixture
def pair(module):
    a, b = f"{TAG}ka", f"{TAG}kb"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    for d in (a, b):                    # no IPv6 chatter: only the script's frames arrive
        with open(f"/proc/sys/net/ipv6/conf/{d}/disable_ipv6", "w") as f:
            f.write("1")
        subprocess.run(["ip", "link", "set", d, "up"], check=True)
    with open(f"/sys/class/net/{b}/address") as f:
        mac = f.read().strip()
    yield a, b, mac
    subprocess.run(["ip", "link", "del", a], check=False)


def script(tmp_path, pair, n, size=60, rate="", extra=""):
    a, _, mac = pair
    p = tmp_path / "pg.sh"
    p.write_text(SCRIPT.format(dev=a, n=n, size=size, mac=mac, rate=rate, extra=extra))
    return str(p)


def pgset(path, engine):
    return run(OURS + ["pgset", path, "--engine", engine], timeout=300)


def rx(pair, n, more=()):
    return start(OURS + ["-i", f"xdp:{pair[1]}", "-f", "rx", "-n", str(n), "-w", "0",
                         "--duration", "60", "--json"] + list(more), "Ready...")


def received(out: str) -> dict:
    return [json.loads(x) for x in out.splitlines() if '"type": "final"' in x][-1]


def sent(out: str) -> int:
    return int(re.search(r"^Sent (\d+) packets", out, re.M).group(1))


@pytest.mark.parametrize("engine", ["kpktgen", "kernel"])
def test_the_same_script_counts_exact_on_both(pair, tmp_path, engine):
    n = 50_000
    path = script(tmp_path, pair, n, rate='pgset "ratep 20000"')
    r = rx(pair, n)
    tx = pgset(path, engine)
    out, err = finish(r)
    assert tx.returncode == 0, tx.stderr
    assert sent(tx.stdout) == n and received(out)["pkts"] == n, (tx.stdout, out, err)
    assert re.search(rf"^Result: OK: \d+\(c\d+\+d\d+\) usec, {n} \(60byte,0frags\)$",
                     tx.stdout, re.M), tx.stdout
    if engine == "kpktgen":
        assert os.listdir("/proc/net/pktgen") and not _devices(), "the module is left clean"


def _devices() -> list:
    with open("/proc/net/pktgen/kpktgend_0") as f:
        return re.findall(r"^(?:Running|Stopped): (\S+)", f.read(), re.M)


@pytest.mark.parametrize("engine", ["kpktgen", "kernel"])
def test_vlan_qinq_and_imix_on_both(pair, tmp_path, capsys, engine):
    n = 20_000
    extra = ('pgset "vlan_id 100"\npgset "vlan_p 3"\npgset "svlan_id 200"\n'
             'pgset "imix_weights 60,7 590,4 1514,1"')
    path = script(tmp_path, pair, n, rate='pgset "ratep 20000"', extra=extra)
    cap = tmp_path / "m.pcap"
    r = rx(pair, n, ["--pcap-out", str(cap), "--pcap-count", "2000"])
    tx = pgset(path, engine)
    out, err = finish(r)
    assert tx.returncode == 0, tx.stderr
    assert received(out)["pkts"] == n, out + err
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Dot1AD, Dot1Q, Ether

    from pktgen_nm.pcap import read_pcap
    sizes, outer = set(), set()
    for _, f in read_pcap(str(cap)):
        e = Ether(f)
        tags, x = [], e.payload
        while isinstance(x, (Dot1Q, Dot1AD)):
            tags.append((x.vlan, x.prio))
            x = x.payload
        assert tags == [(200, 0), (100, 3)] and isinstance(x, IP), e.summary()
        outer.add(hex(e.type))
        sizes.add(len(f))
    assert len(sizes) == 3, sizes
    with capsys.disabled():
        print(f"\n{engine}: the outer tag's TPID {', '.join(sorted(outer))}; sizes {sorted(sizes)}")


def test_the_modules_refusal_in_one_line(pair, tmp_path):
    path = script(tmp_path, pair, 1000, extra='pgset "burst 32"')
    tx = pgset(path, "kpktgen")
    assert tx.returncode == 2 and tx.stdout == ""
    line = tx.stderr.strip()
    assert "\n" not in line and "burst 32: the pktgen module refused it" in line, tx.stderr
    assert "(not supported on this device)" in line and "burst 1 there" in line
    assert not _devices()


def test_kernel_engine_against_the_module(pair, tmp_path, capsys):
    """Unpaced, both engines into one receiver: the module's speed and ours, as a ratio."""
    n = 200_000
    path = script(tmp_path, pair, n)
    pps = {}
    for engine in ("kpktgen", "kernel"):
        r = rx(pair, n, ["-W"])
        tx = pgset(path, engine)
        finish(r)
        assert tx.returncode == 0 and sent(tx.stdout) == n, tx.stderr
        pps[engine] = int(re.search(r"^  (\d+)pps", tx.stdout, re.M).group(1))
    with capsys.disabled():
        print(f"\nguest, {n} frames of 60 bytes: pktgen module {pps['kpktgen']} pps, our "
              f"kernel engine {pps['kernel']} pps, ratio {pps['kernel'] / pps['kpktgen']:.2f}")
    assert min(pps.values()) > 0


def _tx_packets(dev: str) -> int:
    with open(f"/sys/class/net/{dev}/statistics/tx_packets") as f:
        return int(f.read())


def test_the_documentations_script_on_both(pair, tmp_path):
    """The documentation's example as it is (clone_skb 1000000, max_before_softirq, ...),
    but for its device and count: on the module through a dummy device (a veth refuses
    clone_skb; a dummy takes it and counts what it is handed), and on our kernel engine
    across the veth pair into a receiver."""
    from tests.pgsample import SAMPLE
    n = 100_000
    dummy = f"{TAG}kd"
    if subprocess.run(["modprobe", "dummy"], capture_output=True).returncode:
        pytest.skip("the dummy module does not load here")
    subprocess.run(["ip", "link", "add", dummy, "type", "dummy"], check=True)
    try:
        subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
        text = SAMPLE.replace("count 10000000", f"count {n}")
        on_module = tmp_path / "module.sh"
        on_module.write_text(text.replace("eth1", dummy))
        before = _tx_packets(dummy)
        tx = pgset(str(on_module), "kpktgen")
        assert tx.returncode == 0, tx.stderr
        assert sent(tx.stdout) == n and _tx_packets(dummy) - before == n, tx.stdout
    finally:
        subprocess.run(["ip", "link", "del", dummy], check=False)
    ours = tmp_path / "ours.sh"
    ours.write_text(text.replace("eth1", pair[0]))
    r = rx(pair, n)
    tx = pgset(str(ours), "kernel")
    out, err = finish(r)
    assert tx.returncode == 0, tx.stderr
    assert sent(tx.stdout) == n and received(out)["pkts"] == n, (tx.stdout, out, err)
