"""nm-bridge in the middle of three namespaces: A - B - C."""
import json
import re
import signal
import subprocess

import pytest
from labutil import ENV, PKTGEN_READY, pktgen, pktgen_bg, ready

import netmap_py as nm

BACKENDS = ["packet", "xdp"]


def start_bridge(lab3, backend, extra=()):
    import sys
    p = subprocess.Popen(lab3.cmd("B", [sys.executable, "-m", "pktgen_nm.bridge_cli",
                                        "-i", f"{backend}:{lab3.dev_b}",
                                        "-i", f"{backend}:{lab3.dev_b2}", "-w", "0",
                                        "--json", *extra]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    ready(p, PKTGEN_READY)
    assert p.poll() is None, p.communicate()
    return p


def seq_result(out: str):
    m = re.search(r"Sequence: (\d+) checked, (\d+) lost, (\d+) reordered, (\d+) duplicated", out)
    assert m, out
    return tuple(int(x) for x in m.groups())


@pytest.mark.parametrize("backend", BACKENDS)
def test_both_directions_at_once_all_intact(lab3, backend):
    """10 s at 100 kpps each way, both at once: nothing lost, reordered or repeated
    (five processes on two CPUs here: the paced senders must sleep between their
    batches, or they starve the bridge and its fill rings run dry)."""
    n = 1_000_000
    rate = "100000"
    br = start_bridge(lab3, backend)
    try:
        mac_a, mac_c = lab3.mac("A", lab3.dev_a), lab3.mac("C", lab3.dev_c)
        # sequence numbers in every payload: rxseq proves none lost, reordered or repeated
        # queue 0 carries C -> A and queue 1 A -> C (the bridge keeps queue numbers;
        # an AF_XDP queue takes one socket, so a sender and a receiver need two)
        rx_c = pktgen_bg(lab3, "C", ["-i", f"{backend}:{lab3.dev_c}-1", "-f", "rxseq", "-n", str(n),
                                     "-w", "0", "--duration", "60"])
        rx_a = pktgen_bg(lab3, "A", ["-i", f"{backend}:{lab3.dev_a}-0", "-f", "rxseq", "-n", str(n),
                                     "-w", "0", "--duration", "60"])
        ready(rx_c, PKTGEN_READY)
        ready(rx_a, PKTGEN_READY)
        tx_a = pktgen_bg(lab3, "A", ["-i", f"{backend}:{lab3.dev_a}-1", "-f", "txseq", "-D", mac_c,
                                     "-R", rate, "-n", str(n), "-w", "0"])
        tx_c = pktgen_bg(lab3, "C", ["-i", f"{backend}:{lab3.dev_c}-0", "-f", "txseq", "-D", mac_a,
                                     "-R", rate, "-n", str(n), "-w", "0"])
        for p in (tx_a, tx_c):
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            assert int(re.search(r"^Sent (\d+) packets", out, re.M).group(1)) == n
        got_c, err_c = rx_c.communicate(timeout=60)
        got_a, err_a = rx_a.communicate(timeout=60)
    finally:
        br.send_signal(signal.SIGINT)
        bout, berr = br.communicate(timeout=30)
    wire_b = {d: lab3.counters("B", d) for d in (lab3.dev_b, lab3.dev_b2)}
    where = f"bridge: {bout}{berr}\nB's wire: {wire_b}"
    assert seq_result(got_c) == (n, 0, 0, 0), got_c + err_c + where
    assert seq_result(got_a) == (n, 0, 0, 0), got_a + err_a + where
    final = json.loads(bout.strip().splitlines()[-1])
    assert final["a_to_b"]["pkts"] >= n and final["b_to_a"]["pkts"] >= n
    assert final["zero_copy"], "one region: the bridge swaps buffers"
    if backend == "xdp":
        assert final["copied_by_backend"] == 0, "AF_XDP: no byte copied in user space"


def test_c_filter_drops_one_udp_port(lab3):
    br = start_bridge(lab3, "xdp", ["--drop-udp-port", "5555"])
    try:
        mac_c = lab3.mac("C", lab3.dev_c)
        rx = pktgen_bg(lab3, "C", ["-i", f"xdp:{lab3.dev_c}", "-f", "rx", "-W", "-w", "0"])
        ready(rx, PKTGEN_READY)
        for dport, n in ((5555, 3000), (6666, 2000)):
            r = pktgen(lab3, "A", ["-i", f"xdp:{lab3.dev_a}", "-f", "tx", "-n", str(n), "-D", mac_c,
                                   "-d", f"10.1.0.1:{dport}", "-w", "0"])
            assert r.returncode == 0, r.stderr
        out, err = rx.communicate(timeout=30)
    finally:
        br.send_signal(signal.SIGINT)
        bout, _ = br.communicate(timeout=30)
    assert re.search(r"^Received 2000 packets", out, re.M), out + err
    final = json.loads(bout.strip().splitlines()[-1])
    assert final["a_to_b"]["dropped"] == 3000 and final["a_to_b"]["pkts"] == 2000


def test_python_batch_callback_and_library_call():
    """nm.bridge() with a per-batch Python hook, on loop ports (no privilege needed)."""
    a, b = nm.open_group(["loop:ba", "loop:bb"])
    try:
        t = a.tx_rings[0]
        for i in range(100):
            t.slot(t.head).write(bytes([i]) * 60)
            t.advance()
        a.txsync()
        br = nm.bridge(a, b, duration=0.2, batch_callback=lambda fs: [f[0] != 7 for f in fs])
        assert br.zero_copy
        assert br.counters()["a_to_b"]["dropped"] == 1
    finally:
        a.close()
        b.close()


def test_bad_input_one_line():
    import sys
    r = subprocess.run([sys.executable, "-m", "pktgen_nm.bridge_cli", "-i", "loop:x"],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "exactly two ports" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_bridge_with_its_summary(lab3, sig):
    """Ctrl-C or SIGTERM while forwarding: the final summary per direction, exit 0."""
    br = start_bridge(lab3, "xdp")
    mac_c = lab3.mac("C", lab3.dev_c)
    r = pktgen(lab3, "A", ["-i", f"xdp:{lab3.dev_a}", "-f", "tx", "-n", "5000", "-D", mac_c,
                           "-R", "50000", "-w", "0"])
    assert r.returncode == 0, r.stderr
    br.send_signal(sig)
    bout, berr = br.communicate(timeout=30)
    assert br.returncode == 0, berr
    final = json.loads(bout.strip().splitlines()[-1])
    assert final["type"] == "final" and final["interrupted"] is True, final
    assert final["a_to_b"]["pkts"] >= 5000 and "interrupted before start" not in berr
