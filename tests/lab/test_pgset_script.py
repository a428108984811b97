"""pktgen-nm pgset: a pktgen script in the kernel samples' style run on the kernel
engine from A into an AF_XDP receiver in B: the count exact, the rate held, every
packet checked (the destination range drawn at random, checksums right)."""
import re
import subprocess
import sys

from labutil import ENV
from test_pktgen import check_udp, received, start_rx

from pktgen_nm.pcap import read_pcap

SCRIPT = """#!/bin/bash
function pgset() {{
    local result
    echo $1 > $PGDEV
}}
PGDEV=/proc/net/pktgen/kpktgend_0
pgset "rem_device_all"
pgset "add_device {dev}"
CLONE_SKB="clone_skb 1000"
PKT_SIZE="pkt_size 60"
COUNT="count {n}"
PGDEV=/proc/net/pktgen/{dev}
pgset "$COUNT"
pgset "$CLONE_SKB"
pgset "$PKT_SIZE"
pgset "ratep 100000"
pgset "burst 32"
pgset "dst_min 10.9.0.1"
pgset "dst_max 10.9.0.200"
pgset "flag IPDST_RND"
pgset "udp_dst_min 7000"
pgset "udp_dst_max 7000"
pgset "dst_mac {mac}"
{extra}
PGDEV=/proc/net/pktgen/pgctrl
pgset "start"
"""


def run_script(lab, tmp_path, n, extra, keep):
    """SCRIPT (with extra commands) from A into an xdp: receiver in B, which keeps the
    first `keep` frames: (pgset's CompletedProcess, the pcap), all n received."""
    script = tmp_path / "pg.sh"
    script.write_text(SCRIPT.format(dev=lab.dev_a, n=n, mac=lab.mac("B", lab.dev_b),
                                    extra=extra))
    cap = tmp_path / "pg.pcap"
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--pcap-out", str(cap), "--pcap-count", str(keep), "--duration", "20"])
    tx = subprocess.run(lab.cmd("A", [sys.executable, "-m", "pktgen_nm.cli", "pgset",
                                      str(script)]),
                        capture_output=True, text=True, timeout=120, env=ENV)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=90)
    assert received(out) == n, out + err
    return tx, cap


def test_a_sample_style_script_on_the_kernel_engine(lab, tmp_path):
    n = 200_000
    tx, cap = run_script(lab, tmp_path, n, "", 5000)
    assert f"Sent {n} packets {60 * n} bytes" in tx.stdout, tx.stdout
    res = [line for line in tx.stdout.splitlines() if line.startswith("Result: OK:")]
    assert len(res) == 1 and f", {n} (60byte,0frags)" in res[0], tx.stdout
    pps = int(re.search(r"^  (\d+)pps ", tx.stdout, re.M).group(1))
    assert abs(pps - 100_000) <= 1000, tx.stdout                 # within 1 %
    frames = [data for _, data in read_pcap(str(cap))]
    dsts = []
    for f in frames:
        ip, udp = check_udp(f)
        assert len(f) == 60 and udp.dport == 7000
        d = int.from_bytes(ip.dst, "big") - int.from_bytes(bytes([10, 9, 0, 1]), "big")
        assert 0 <= d < 200, d
        dsts.append(d)
    assert len(set(dsts)) > 150, "IPDST_RND: the whole range is drawn"
    assert sum(b == a + 1 for a, b in zip(dsts, dsts[1:])) < len(dsts) // 10, "not in order"


def test_flows_flowlen_burst_and_tags_every_packet(lab, tmp_path):
    """flows 8 / flowlen 4 over dst_min..dst_max with IPDST_RND, a VLAN tag with its
    priority and TOS: the multiset of destinations is exactly the flows' (packet i
    carries packet.flow_value(flow_slot(i))), whatever order the receive queues give."""
    import collections
    import ipaddress

    from scapy.layers.inet import IP
    from scapy.layers.l2 import Dot1Q, Ether

    from pktgen_nm import packet as P
    n = 40_000
    extra = 'pgset "flows 8"\npgset "flowlen 4"\npgset "vlan_id 42"\npgset "vlan_p 6"\n' \
            'pgset "tos 28"'
    _, cap = run_script(lab, tmp_path, n, extra, n)
    dsts = collections.Counter()
    for _, f in read_pcap(str(cap)):
        e = Ether(f)
        assert e[Dot1Q].vlan == 42 and e[Dot1Q].prio == 6 and e[IP].tos == 0x28
        assert len(f) == 60
        dsts[int(ipaddress.ip_address(e[IP].dst))] += 1
    lo = int(ipaddress.ip_address("10.9.0.1"))
    want = collections.Counter(P.flow_value(P.flow_slot(i, 8, 4), lo, lo + 199, True)
                               for i in range(n))
    assert dsts == want
