"""pktgen-nm against C pkt-gen on the real module: both directions, exact counts on
pipes, native veth pairs and (rate-limited, so nobody lags) VALE; txseq/rxseq with
the other's verdict; ping against the other's pong."""
import re
import subprocess

import pytest
from nmutil import OURS, TAG, c_pktgen, count, finish, run, start

N = 100_000


def _veth(name: str):
    a, b = f"{name}a", f"{name}b"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    for d in (a, b):
        subprocess.run(["ip", "link", "set", d, "up"], check=True)
    return a, b


@pytest.fixture
def veth():
    a, b = _veth(f"{TAG}v")
    yield a, b
    subprocess.run(["ip", "link", "del", a], check=False)


def _ours_to_c(tx_port, rx_port, extra=(), n=N):
    rx = start(c_pktgen() + ["-i", rx_port, "-f", "rx", "-w", "0", "-W"], "reading from")
    tx = run(OURS + ["-i", tx_port, "-f", "tx", "-n", str(n), "-l", "60", "-w", "0", *extra])
    out, err = finish(rx)
    assert tx.returncode == 0, tx.stderr
    return count("Sent", tx.stdout), count("Received", out), out + err


def _c_to_c(tx_port, rx_port, extra=(), n=N):
    rx = start(c_pktgen() + ["-i", rx_port, "-f", "rx", "-w", "0", "-W"], "reading from")
    tx = run(c_pktgen() + ["-i", tx_port, "-f", "tx", "-n", str(n), "-l", "60", "-w", "0",
                           *extra])
    out, err = finish(rx)
    return count("Sent", tx.stdout), count("Received", out), out + err


def _c_to_ours(tx_port, rx_port, extra=(), n=N):
    rx = start(OURS + ["-i", rx_port, "-f", "rx", "-n", str(n), "-w", "0", "--duration", "60"],
               "Ready...")
    tx = run(c_pktgen() + ["-i", tx_port, "-f", "tx", "-n", str(n), "-l", "60", "-w", "0",
                           *extra])
    out, err = finish(rx)
    assert tx.returncode == 0, tx.stderr
    assert rx.returncode == 0, err
    return count("Sent", tx.stdout), count("Received", out), out + err


@pytest.mark.parametrize("direction", ["ours_to_c", "c_to_ours"])
def test_pipe_exact_counts(direction):
    master, slave = f"netmap:{TAG}{direction[0]}{{1", f"netmap:{TAG}{direction[0]}}}1"
    fn = _ours_to_c if direction == "ours_to_c" else _c_to_ours
    sent, received, log = fn(slave, master)
    assert sent == received == N, log


@pytest.mark.parametrize("direction", ["ours_to_c", "c_to_ours"])
def test_native_veth_exact_counts(veth, direction):
    a, b = veth
    fn = _ours_to_c if direction == "ours_to_c" else _c_to_ours
    sent, received, log = fn(f"netmap:{a}", f"netmap:{b}")
    assert sent == received == N, log


@pytest.mark.parametrize("direction", ["ours_to_c", "c_to_ours"])
def test_vale_counts_at_a_rate_nobody_lags(direction):
    """VALE drops what a lagging receiver cannot take, for C as for us: at a rate the
    emulated guest's receivers keep up with, both directions count every packet."""
    sw = f"vale{TAG}{direction[0]}"
    fn = _ours_to_c if direction == "ours_to_c" else _c_to_ours
    rate = ("-R", "10000")
    sent, received, log = fn(f"{sw}:a", f"{sw}:b", extra=rate, n=20_000)
    if received != sent:        # like with like: what does C to C lose here, now?
        c_sent, c_received, _ = _c_to_c(f"{sw}c:a", f"{sw}c:b", extra=rate, n=20_000)
        log += f"\n(C to C at the same rate, just after: {c_received} of {c_sent})"
    assert sent == received == 20_000, log


def test_txseq_into_c_rxseq_no_gap():
    rx = start(c_pktgen() + ["-i", f"netmap:{TAG}q{{1", "-f", "rxseq", "-w", "0", "-W"],
               "reading from")
    tx = run(OURS + ["-i", f"netmap:{TAG}q}}1", "-f", "txseq", "-n", "20000", "-w", "0"])
    out, err = finish(rx)
    assert tx.returncode == 0, tx.stderr
    assert count("Received", out) == 20000, out + err
    assert "Sequence GAP" not in err and "OUT OF ORDER" not in err, err


def test_c_txseq_into_our_rxseq_no_gap():
    rx = start(OURS + ["-i", f"netmap:{TAG}s{{1", "-f", "rxseq", "-n", "20000", "-w", "0",
                       "--duration", "60"], "Ready...")
    # C txseq ignores -n (facts 3.10): it runs until it is stopped
    tx = subprocess.Popen(c_pktgen() + ["-i", f"netmap:{TAG}s}}1", "-f", "txseq", "-w", "0",
                                        "-R", "20000"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        out, err = finish(rx)
    finally:
        tx.terminate()
        tx.communicate(timeout=30)
    m = re.search(r"Sequence: (\d+) checked, (\d+) lost, (\d+) reordered, (\d+) duplicated", out)
    assert m, out + err
    assert int(m.group(1)) == 20000 and m.group(2, 3, 4) == ("0", "0", "0"), out


@pytest.mark.parametrize("who_pings", ["ours", "c"])
def test_ping_against_the_others_pong(who_pings):
    ping_port, pong_port = f"netmap:{TAG}g{who_pings[0]}{{1", f"netmap:{TAG}g{who_pings[0]}}}1"
    if who_pings == "ours":
        # pkt-gen registers its port before "Ready...": what arrives after it is queued
        pong = start(c_pktgen() + ["-i", pong_port, "-f", "pong", "-w", "0"], "Ready...")
        ping = run(OURS + ["-i", ping_port, "-f", "ping", "-n", "200", "-R", "200", "-w", "0"])
    else:
        pong = start(OURS + ["-i", pong_port, "-f", "pong", "-w", "0", "--duration", "60"],
                     "Ready...")
        ping = run(c_pktgen() + ["-i", ping_port, "-f", "ping", "-n", "200", "-R", "200",
                                 "-w", "0"])
    pong.terminate()
    finish(pong)
    assert ping.returncode == 0, ping.stderr
    text = ping.stdout + ping.stderr
    if who_pings == "ours":
        m = re.search(r"RTT: (\d+) replies \((\d+) lost\)", text)
        assert m and int(m.group(1)) == 200 and m.group(2) == "0", text
    else:
        m = re.search(r"count (\d+) RTT: min (\d+)", text)
        assert m and int(m.group(1)) > 0, text
