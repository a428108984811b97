"""pktgen-nm across a veth pair: exact counts, every packet checked, rate, ping/pong,
sequence checks, Ctrl-C, JSON, MTU, the built-in lab."""
import json
import re
import signal
import subprocess

import dpkt
import pytest
from labutil import ENV, FIRST_REPORT, PKTGEN, PKTGEN_READY, helper, pktgen, pktgen_bg, ready

from netmap_py.portspec import PortSpec
from pktgen_nm.lab import namespaces
from pktgen_nm.pcap import read_pcap

BACKENDS = ["packet", "xdp"]


def received(out: str) -> int:
    m = re.search(r"^Received (\d+) packets", out, re.M)
    return int(m.group(1)) if m else 0


def sent(out: str) -> int:
    m = re.search(r"^Sent (\d+) packets", out, re.M)
    return int(m.group(1)) if m else 0


def start_rx(lab, args, side="B"):
    p = pktgen_bg(lab, side, args)
    ready(p, PKTGEN_READY)     # its ports are bound: what is sent now is received
    assert p.poll() is None, p.communicate()
    return p


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_million_counted_exactly(lab, backend):
    n = 1_000_000
    rx = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--duration", "60"])
    tx = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "tx", "-n", str(n), "-l", "60",
                           "-D", lab.mac("B", lab.dev_b), "-w", "0"], timeout=120)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=120)
    assert sent(tx.stdout) == n
    assert received(out) == n, out + err
    assert "Sent 1000000 packets 60000000 bytes" in tx.stdout
    assert re.search(r"Wire \(\S+ counters\): 1000000 tx packets", tx.stdout)
    # pkt-gen's report line, on stderr, with its prefix
    assert re.search(r"^\d{3}\.\d{6} main_thread \[\d+\] [\d.]+ [KM]?pps \([\d.]+ [KM]?pkts "
                     r"[\d.]+ [KMG]?bps in \d+ usec\) [\d.]+ avg_batch \d+ min_space$", tx.stderr, re.M)


def capture(lab, backend, tx_args, n, tmp_path, name="cap.pcap", ring=""):
    cap = tmp_path / name
    rx = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}{ring}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--pcap-out", str(cap), "--duration", "30"])
    tx = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}{ring}", "-f", "tx", "-n", str(n),
                           "-w", "0", "-D", lab.mac("B", lab.dev_b)] + tx_args)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=60)
    assert received(out) == n, out + err
    return [data for _, data in read_pcap(str(cap))]


def check_udp(frame: bytes):
    """Headers and both checksums of one captured frame, with dpkt as the oracle."""
    eth = dpkt.ethernet.Ethernet(frame)
    ip = eth.data
    udp = ip.data
    assert isinstance(udp, dpkt.udp.UDP)
    got_ip, got_udp = ip.sum, udp.sum
    ip.sum = 0
    udp.sum = 0
    fresh = dpkt.ethernet.Ethernet(bytes(eth))  # dpkt recomputes zeroed checksums
    assert got_ip == fresh.data.sum, "IP checksum"
    assert got_udp == fresh.data.data.sum, "UDP checksum"
    assert ip.len == len(frame) - 14 and udp.ulen == len(frame) - 34
    return ip, udp


@pytest.mark.parametrize("backend", BACKENDS)
def test_ranges_sizes_checked_on_every_packet(lab, backend, tmp_path):
    n = 4000
    frames = capture(lab, backend, ["-s", "10.0.0.1:1000-10.0.0.4:1003",
                                    "-d", "10.1.0.1:2000-10.1.0.2:2001",
                                    "-l", "300", "-l", "60"], n, tmp_path,
                     ring="-0")  # one queue each way: arrival order is sending order
    assert len(frames) == n
    order = []
    for f in frames:
        ip, udp = check_udp(f)
        assert 60 <= len(f) <= 300
        order.append((ip.src[-1], udp.sport, ip.dst[-1], udp.dport))
    # the odometer: source port fastest, then source IP, destination port, destination IP
    expect = [(s, sp, d, dp) for d in (1, 2) for dp in (2000, 2001) for s in (1, 2, 3, 4)
              for sp in (1000, 1001, 1002, 1003)]
    assert order == [expect[i % len(expect)] for i in range(n)]
    assert len({len(f) for f in frames}) > 150, "-l twice: sizes vary per packet"


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_addresses_every_packet(lab, backend, tmp_path):
    n = 3000
    frames = capture(lab, backend, ["-z", "-Z", "-l", "128"], n, tmp_path)
    srcs, dports = set(), set()
    for f in frames:
        ip, udp = check_udp(f)
        srcs.add(ip.src)
        dports.add(udp.dport)
    assert len(srcs) > 0.95 * n and len(dports) > 0.9 * n


@pytest.mark.parametrize("backend", BACKENDS)
def test_rate_total_within_one_percent(lab, backend):
    rx = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}", "-f", "rx", "-W", "-w", "0"])
    tx = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "tx", "-R", "100000",
                           "--duration", "5", "-p", "2", "-D", lab.mac("B", lab.dev_b),
                           "-w", "0"], timeout=60)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=60)
    n = sent(tx.stdout)
    assert abs(n - 500_000) <= 5_000, tx.stdout
    assert received(out) == n, out + err


@pytest.mark.parametrize("backend", BACKENDS)
def test_ping_pong_percentiles(lab, backend):
    pong = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}", "-f", "pong", "-w", "0",
                          "--duration", "30"])
    try:
        ping = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "ping", "-n", "20000",
                                 "-R", "20000", "-w", "0", "--json"], timeout=60)
    finally:
        pong.send_signal(signal.SIGINT)
        pout, perr = pong.communicate(timeout=30)
    assert ping.returncode == 0, ping.stderr
    final = json.loads(ping.stdout.strip().splitlines()[-1])
    rtt = final["rtt"]
    assert rtt["count"] >= 19_000, rtt
    assert 0 < rtt["min_ns"] <= rtt["p50_ns"] <= rtt["p90_ns"] <= rtt["p99_ns"] \
        <= rtt["p99_9_ns"] <= rtt["max_ns"] < 1e9
    assert "Replied to" in pout


@pytest.mark.parametrize("backend", BACKENDS)
def test_txseq_into_rxseq_loses_nothing(lab, backend):
    rx = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}", "-f", "rxseq", "-W", "-w", "0"])
    tx = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "txseq", "-R", "200000",
                           "--duration", "2", "-D", lab.mac("B", lab.dev_b), "-w", "0"])
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=60)
    n = sent(tx.stdout)
    assert n > 300_000
    assert f"Sequence: {n} checked, 0 lost, 0 reordered, 0 duplicated" in out, out + err


@pytest.mark.parametrize("backend", BACKENDS)
def test_rxseq_counts_a_doctored_sequence(lab, backend):
    # sent in this order through the ring API: 3 and 9..11 never, 4 late, 6 twice
    order = [0, 1, 2, 5, 4, 6, 6, 7, 8, 12, 13]
    rx = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}", "-f", "rxseq", "-W", "-w", "0"])
    helper(lab, "A", ["seq", f"{backend}:{lab.dev_a}/T", lab.mac("B", lab.dev_b),
                      ",".join(map(str, order))])
    out, err = rx.communicate(timeout=30)
    assert "Sequence: 11 checked, 4 lost, 1 reordered, 1 duplicated" in out, out + err


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_prints_the_summary(lab, backend):
    tx = pktgen_bg(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "tx", "-w", "0",
                              "-D", "02:00:00:00:00:99"])
    ready(tx, FIRST_REPORT)
    tx.send_signal(signal.SIGINT)
    out, err = tx.communicate(timeout=20)
    assert tx.returncode == 0, err
    assert sent(out) > 0 and "Speed:" in out
    assert "Traceback" not in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_json_lines(lab, backend):
    tx = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "tx", "-n", "200000",
                           "-T", "100", "-w", "0", "-D", "02:00:00:00:00:99", "--json"])
    assert tx.returncode == 0, tx.stderr
    objs = [json.loads(line) for line in tx.stdout.splitlines()]
    assert objs[-1]["type"] == "final" and objs[-1]["pkts"] == 200000
    assert sum(o["pkts"] for o in objs if o["type"] == "interval") == 200000
    assert objs[-1]["wire"]["tx_packets"] == 200000


def test_mtu_is_checked_against_the_frame(lab):
    ok = pktgen(lab, "A", ["-i", f"packet:{lab.dev_a}", "-f", "tx", "-n", "10", "-l", "1514",
                           "-w", "0", "-D", "02:00:00:00:00:99"])
    assert ok.returncode == 0 and sent(ok.stdout) == 10, ok.stderr  # pkt-gen refuses this
    bad = pktgen(lab, "A", ["-i", f"packet:{lab.dev_a}", "-f", "tx", "-l", "1515", "-w", "0"])
    assert bad.returncode == 2 and "MTU 1500" in bad.stderr and bad.stderr.count("\n") == 1


def test_down_interface_and_threads(lab):
    lab.exec("A", ["ip", "link", "set", lab.dev_a, "down"])
    r = pktgen(lab, "A", ["-i", f"packet:{lab.dev_a}", "-f", "tx", "-w", "0"])
    assert r.returncode == 2 and "is down" in r.stderr and r.stderr.count("\n") == 1
    r = pktgen(lab, "A", ["-i", f"packet:{lab.dev_a}-0", "-f", "tx", "-p", "2", "-w", "0"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_split_the_count_exactly(lab, backend):
    n = 300_001
    rx = start_rx(lab, ["-i", f"{backend}:{lab.dev_b}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--duration", "60"])
    tx = pktgen(lab, "A", ["-i", f"{backend}:{lab.dev_a}", "-f", "tx", "-n", str(n), "-p", "2",
                           "-D", lab.mac("B", lab.dev_b), "-w", "0"], timeout=120)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=120)
    assert sent(tx.stdout) == n and received(out) == n, out + err
    assert "Sending on" in tx.stdout and "2 threads" in tx.stdout


def test_auto_backend_says_why(lab):
    r = pktgen(lab, "A", ["-i", lab.dev_a, "-f", "tx", "-n", "1000", "-w", "0",
                          "-D", "02:00:00:00:00:99"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"backend (packet|xdp|netmap): ", r.stderr)
    assert PortSpec.parse(lab.dev_a).backend == "auto"


def test_builtin_lab_command():
    before = set(namespaces())
    r = subprocess.run(PKTGEN + ["--lab", "-f", "tx", "-n", "100000"], capture_output=True,
                       text=True, timeout=120, env=ENV)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Sent 100000 packets" in r.stdout
    assert "Received 100000 packets" in r.stdout
    assert set(namespaces()) == before, "the lab removed its namespaces"


def test_xdp_forced_where_another_program_sits(lab):
    """A forced backend that cannot work is one line and exit 2, never a fallback."""
    holder = pktgen_bg(lab, "B", ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-w", "0",
                                  "--duration", "20"])
    try:
        ready(holder, PKTGEN_READY)
        assert "prog/xdp" in lab.exec("B", ["ip", "link", "show", lab.dev_b]).stdout
        r = pktgen(lab, "B", ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-w", "0"])
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert "another XDP program is attached" in r.stderr
    finally:
        holder.send_signal(signal.SIGINT)
        holder.communicate(timeout=20)


def test_fragments_are_sent_as_whole_frames(lab, tmp_path):
    """-F 3 -M 64: each packet leaves the sender's ring in three slots; AF_PACKET
    gathers them into one frame, which arrives whole, checksums right."""
    n = 2000
    tx_args = ["-F", "3", "-M", "64", "-l", "150", "-s", "10.0.0.1:1000-10.0.0.1:1009"]
    frames = capture(lab, "packet", tx_args, n, tmp_path)
    assert len(frames) == n
    for f in frames:
        ip, udp = check_udp(f)
        assert len(f) == 150 and 1000 <= udp.sport <= 1009
    r = pktgen(lab, "A", ["-i", f"xdp:{lab.dev_a}", "-f", "tx", "-F", "2", "-n", "10", "-w", "0"])
    assert r.returncode == 2 and "AF_XDP sends one buffer per packet" in r.stderr, r.stderr


def test_virtio_net_header(lab, tmp_path):
    """-H 10 on AF_PACKET: the slots carry a virtio-net header, which the kernel takes
    on TX and writes on RX; the frames on the wire are plain."""
    n = 20_000
    frames = capture(lab, "packet", ["-H", "10", "-l", "60"], n, tmp_path)
    assert all(len(f) == 60 for f in frames)
    for f in frames[:500]:
        check_udp(f)
    rx = start_rx(lab, ["-i", f"packet:{lab.dev_b}", "-f", "rxseq", "-H", "10", "-n", str(n),
                        "-w", "0", "--duration", "30"])
    tx = pktgen(lab, "A", ["-i", f"packet:{lab.dev_a}", "-f", "txseq", "-H", "10", "-n", str(n),
                           "-w", "0", "-D", lab.mac("B", lab.dev_b), "-R", "100000"])
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=60)
    assert f"Sent {n} packets {70 * n} bytes" in tx.stdout
    assert f"Received {n} packets {70 * n} bytes" in out, out + err
    assert f"Sequence: {n} checked, 0 lost, 0 reordered, 0 duplicated, 0 too short" in out
    for port, words in ((f"xdp:{lab.dev_a}", "AF_XDP carries no virtio-net header"),
                        (f"packet:{lab.dev_a}", "not 12")):
        r = pktgen(lab, "A", ["-i", port, "-f", "tx", "-H", "12" if "packet" in port else "10",
                              "-n", "10", "-w", "0"])
        assert r.returncode == 2 and words in r.stderr, r.stderr
