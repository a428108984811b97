"""The run API on the lab, through the pytest plugin's veth_lab fixture: each side's
ports opened inside its namespace (veth_lab.inside), the runs in this process."""
import os
import re

import pytest

from pktgen_nm import Traffic, ping, pong, receive, send

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_block(marker: str) -> str:
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    return re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", text, re.S).group(1)


def test_readme_device_test_runs_as_written(veth_lab):
    """The README's device test: a pytest function of our users, run here as theirs."""
    code = readme_block("API-DEVICE-TEST")
    assert len([line for line in code.splitlines() if line.strip()]) <= 12
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    tests = [v for k, v in scope.items() if k.startswith("test_")]
    assert len(tests) == 1
    tests[0](veth_lab)


@pytest.mark.parametrize("backend", ["xdp", "packet"])
def test_txseq_into_rxseq_counts_exactly(veth_lab, backend):
    lab = veth_lab
    with lab.inside("B"):
        rx = receive(f"{backend}:{lab.dev_b}", seq=True, duration=30)
    with lab.inside("A"):
        tx = send(f"{backend}:{lab.dev_a}", Traffic(dst_mac=lab.mac("B", lab.dev_b)),
                  seq=True, count=50_000, rate=200_000)
    with rx:
        with tx:
            ivs = list(tx.intervals())
        rx.stop()
    assert tx.result.pkts == 50_000 and sum(iv.pkts for iv in ivs) == 50_000
    assert rx.result.pkts == 50_000, rx.result
    assert rx.result.sequence["lost"] == rx.result.lost == 0 and rx.result.sequence["reordered"] == 0


def test_scapy_traffic_arrives_as_built(veth_lab):
    """from_scapy with two varying fields; every frame checked with Scapy on arrival."""
    from scapy.all import IP, UDP, Ether

    import netmap_py as nm
    lab = veth_lab
    pkt = (Ether(dst=lab.mac("B", lab.dev_b)) / IP(src="10.0.0.1", dst="10.77.0.2")
           / UDP(sport=1000, dport=9) / (b"p" * 30))
    t = Traffic.from_scapy(pkt, vary={"ip.src": "10.0.0.1-10.0.0.100", "udp.dport": "9-13"})
    with lab.inside("B"):
        port = nm.open(f"xdp:{lab.dev_b}/R")
    got = []
    try:
        with lab.inside("A"):
            tx = send(f"xdp:{lab.dev_a}", t, count=1000, rate=50_000)
        while tx.alive() or len(got) < 1000:
            batch = port.recv(512, 200)
            if not batch and not tx.alive():
                break
            got += [bytes(v) for v in batch]
        batch = None
        port.recv(1)
        tx.join()
    finally:
        port.close()
    frames = [Ether(f) for f in got if f[12:14] == b"\x08\x00"]
    assert len(frames) == 1000
    assert [p[IP].src for p in frames[:100]] == [f"10.0.0.{i}" for i in range(1, 101)]
    assert {p[UDP].dport for p in frames} == {9, 10, 11, 12, 13}
    for p in frames[:50]:
        ip_sum, udp_sum = p[IP].chksum, p[UDP].chksum
        del p[IP].chksum, p[UDP].chksum
        q = Ether(bytes(p))
        assert (q[IP].chksum, q[UDP].chksum) == (ip_sum, udp_sum)


def test_ping_against_pong(veth_lab):
    lab = veth_lab
    with lab.inside("B"):
        server = pong(f"xdp:{lab.dev_b}", duration=20)
    with lab.inside("A"):
        client = ping(f"xdp:{lab.dev_a}", Traffic(length=64, dst_mac=lab.mac("B", lab.dev_b)),
                      count=2000, rate=10_000)
    with server:
        r = client.join()
        server.stop()
    assert r.rtt["count"] == 2000 and r.rtt["lost"] == 0, r.rtt
    assert 0 < r.rtt["min_ns"] <= r.rtt["p50_ns"] <= r.rtt["p99_ns"] <= r.rtt["max_ns"]


def test_facts_inside_a_namespace_entered_with_setns(veth_lab):
    """/sys still shows the namespace it was mounted in: queue counts come from the
    driver (ETHTOOL_GCHANNELS), and each namespace's veth gets its own XDP program even
    where both interfaces have the same index."""
    from netmap_py import checks
    lab = veth_lab
    with lab.inside("B"):
        info = checks.interface(lab.dev_b)
    assert (info.tx_queues, info.rx_queues) == (lab.queues, lab.queues), info.facts
    assert info.exists and info.mac == lab.mac("B", lab.dev_b)


def test_bridge_run_between_two_namespaces(veth_lab3):
    """A -> bridge in B (the API's bridge(), AF_XDP both sides) -> C: every sequence
    number arrives once, in order."""
    from pktgen_nm import bridge
    lab = veth_lab3
    with lab.inside("C"):
        rx = receive(f"xdp:{lab.dev_c}", seq=True)
    with lab.inside("B"):
        br = bridge(f"xdp:{lab.dev_b}", f"xdp:{lab.dev_b2}")
    with lab.inside("A"):
        tx = send(f"xdp:{lab.dev_a}", Traffic(dst_mac=lab.mac("C", lab.dev_c)), seq=True,
                  count=20_000, rate=100_000)
    with br, rx, tx:
        pass
    assert tx.result.pkts == 20_000
    assert rx.result.pkts == 20_000 and rx.result.lost == 0, rx.result
    assert br.result["a_to_b"]["pkts"] >= 20_000 and br.result["zero_copy"]


def test_kernel_engine_through_the_api(veth_lab):
    """send(engine='kernel'): the kernel generates (BPF_PROG_RUN with live frames);
    the AF_XDP receiver in B, whose program also lets the peer take XDP frames,
    counts every one."""
    lab = veth_lab
    with lab.inside("B"):
        rx = receive(f"xdp:{lab.dev_b}", seq=True)
    with lab.inside("A"):
        tx = send(lab.dev_a, Traffic(dst_mac=lab.mac("B", lab.dev_b)), seq=True,
                  engine="kernel", count=20_000, rate=100_000)
    with rx, tx:
        pass
    assert tx.result.backend == "kernel" and tx.result.pkts == 20_000
    assert rx.result.pkts == 20_000 and rx.result.lost == 0, rx.result
