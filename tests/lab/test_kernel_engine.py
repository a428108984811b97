"""pktgen-nm --engine kernel across a veth pair: exact counts, every packet checked
against the reference model and dpkt, ranges and randomisation, the total rate,
txseq, Ctrl-C, --engine auto, and the errors where the kernel engine cannot run.

The receiver is pktgen-nm -f rx on the xdp: backend: its XDP program on B is what
lets a veth accept XDP frames from A."""
import re
import signal

from labutil import FIRST_REPORT, pktgen, ready
from test_pktgen import check_udp, received, sent, start_rx

from pktgen_nm import packet as P
from pktgen_nm.pcap import read_pcap


def wire(out: str) -> tuple[int, int]:
    m = re.search(r"^Wire \(\S+ counters\): (\d+) tx packets, (\d+) tx dropped", out, re.M)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def ktx(lab, args, timeout=90):
    return pktgen(lab, "A", ["-i", lab.dev_a, "-f", "tx", "--engine", "kernel", "-w", "0",
                             "-D", lab.mac("B", lab.dev_b)] + args, timeout=timeout)


def test_sends_exactly_n_and_every_packet_arrives(lab):
    n = 300_000
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--duration", "15"])
    tx = ktx(lab, ["-n", str(n), "-l", "60", "-R", "300000"])
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=90)
    assert sent(tx.stdout) == n and f"Sent {n} packets {60 * n} bytes" in tx.stdout
    assert wire(tx.stdout) == (n, 0), tx.stdout
    assert received(out) == n, out + err
    assert "engine kernel: BPF_PROG_RUN with live frames" in tx.stderr
    assert "kernel engine, 1 threads" in tx.stdout
    # pkt-gen's report line, as the ring engine prints it
    assert re.search(r"^\d{3}\.\d{6} main_thread \[\d+\] [\d.]+ [KM]?pps \([\d.]+ [KM]?pkts "
                     r"[\d.]+ [KMG]?bps in \d+ usec\) [\d.]+ avg_batch \d+ min_space$",
                     tx.stderr, re.M)


def test_full_speed_counts_what_the_wire_dropped(lab):
    """Unpaced, the kernel engine outruns the receiver: nothing may go missing silently."""
    n = 2_000_000
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-W", "-w", "0",
                        "--duration", "15"])
    tx = ktx(lab, ["-n", str(n)])
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=90)
    assert sent(tx.stdout) == n
    wire_tx, wire_drop = wire(tx.stdout)
    assert wire_tx + wire_drop == n, tx.stdout
    got = received(out)
    drops = re.search(r"Kernel drops \(xdp\): no_buffer (\d+), ring_full (\d+)", out)
    lost_at_b = int(drops.group(1)) + int(drops.group(2)) if drops else 0
    assert got + lost_at_b == wire_tx, out + err


def capture(lab, tx_args, n, tmp_path):
    cap = tmp_path / "k.pcap"
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-n", str(n), "-w", "0",
                        "--pcap-out", str(cap), "--duration", "15"])
    # one sending CPU: every frame lands in the same queue of B, in order
    tx = ktx(lab, ["-n", str(n), "-a", "0", "-R", "100000"] + tx_args)
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=90)
    assert received(out) == n, out + err
    return tx, [data for _, data in read_pcap(str(cap))]


def test_ranges_and_sizes_on_every_packet(lab, tmp_path):
    n = 4000
    args = ["-s", "10.0.0.1:1000-10.0.0.4:1003", "-d", "10.1.0.1:2000-10.1.0.2:2001",
            "-l", "300", "-l", "60"]
    tx, frames = capture(lab, args, n, tmp_path)
    assert len(frames) == n
    order = []
    src, dst = P.parse_range(args[1], 4, "s"), P.parse_range(args[3], 4, "d")
    mac = P.parse_mac(lab.mac("A", lab.dev_a))
    ref = P.build_frame(300, min_length=60, src=src, dst=dst, src_mac=mac,
                        dst_mac=P.parse_mac(lab.mac("B", lab.dev_b)))
    for f in frames:
        ip, udp = check_udp(f)
        assert 60 <= len(f) <= 300
        vals = dict(sport=udp.sport, sip=int.from_bytes(ip.src, "big"), dport=udp.dport,
                    dip=int.from_bytes(ip.dst, "big"))
        assert f == P.packet_at(ref, len(f), vals)
        order.append((ip.src[-1], udp.sport, ip.dst[-1], udp.dport))
    # the ring engine's odometer: source port fastest, then source IP, dport, dest IP
    expect = [(s, sp, d, dp) for d in (1, 2) for dp in (2000, 2001) for s in (1, 2, 3, 4)
              for sp in (1000, 1001, 1002, 1003)]
    assert order == [expect[i % len(expect)] for i in range(n)]
    assert len({len(f) for f in frames}) > 150, "-l twice: sizes vary per packet"
    # the byte count is exact although the kernel chose the sizes
    assert f"Sent {n} packets {sum(len(f) for f in frames)} bytes" in tx.stdout


def test_random_addresses_every_packet(lab, tmp_path):
    n = 3000
    _, frames = capture(lab, ["-z", "-Z", "-l", "128"], n, tmp_path)
    srcs, dports = set(), set()
    for f in frames:
        ip, udp = check_udp(f)
        assert len(f) == 128
        srcs.add(ip.src)
        dports.add(udp.dport)
    assert len(srcs) > 0.95 * n and len(dports) > 0.9 * n


def test_ipv6_and_txseq_into_rxseq(lab):
    n = 50_000
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rxseq", "-n", str(n), "-w", "0",
                        "--duration", "15"])
    tx = ktx(lab, ["-f", "txseq", "-6", "-n", str(n), "-l", "90", "-R", "100000"])
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=90)
    assert received(out) == n, out + err
    assert f"Sequence: {n} checked, 0 lost, 0 reordered, 0 duplicated, 0 too short" in out


def test_rate_total_within_one_percent(lab):
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-W", "-w", "0"])
    tx = ktx(lab, ["-R", "100000", "--duration", "5", "-p", "2"])
    assert tx.returncode == 0, tx.stderr
    out, err = rx.communicate(timeout=60)
    n = sent(tx.stdout)
    assert abs(n - 500_000) <= 5_000, tx.stdout
    assert received(out) == n, out + err


def test_ctrl_c_prints_the_summary(lab):
    import subprocess

    from labutil import ENV, PKTGEN
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-W", "-w", "0"])
    tx = subprocess.Popen(lab.cmd("A", PKTGEN + ["-i", lab.dev_a, "-f", "tx", "--engine",
                                                 "kernel", "-w", "0", "-R", "200000"]),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    ready(tx, FIRST_REPORT)
    tx.send_signal(signal.SIGINT)
    out, err = tx.communicate(timeout=30)
    rx.communicate(timeout=30)
    assert tx.returncode == 0, err
    assert "received control-C" in err
    assert sent(out) > 100_000 and wire(out)[0] == sent(out)


def test_auto_picks_the_kernel_where_it_can(lab):
    # no XDP program on B yet: a veth then refuses XDP frames, auto keeps the rings
    r = pktgen(lab, "A", ["-i", f"{lab.dev_a}", "-f", "tx", "--engine", "auto", "-n", "1000",
                          "-w", "0"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"engine ring: auto: .*peer has neither an XDP program nor GRO", r.stderr)
    rx = start_rx(lab, ["-i", f"xdp:{lab.dev_b}", "-f", "rx", "-n", "1000", "-w", "0",
                        "--duration", "30"])
    r = pktgen(lab, "A", ["-i", f"{lab.dev_a}", "-f", "tx", "--engine", "auto", "-n", "1000",
                          "-w", "0", "-D", lab.mac("B", lab.dev_b)])
    out, _ = rx.communicate(timeout=30)
    assert r.returncode == 0, r.stderr
    assert "engine kernel:" in r.stderr and received(out) == 1000


def test_errors_where_the_kernel_engine_cannot_run(lab):
    r = ktx(lab, ["-n", "10"])          # B has no XDP program: the veth drops XDP frames
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "peer has neither an XDP program nor GRO" in r.stderr and "--engine ring" in r.stderr
    for args, words in ((["-f", "rx"], "only sends"), (["-i", f"xdp:{lab.dev_a}-0"], "ring suffix"),
                        (["-r"], "ring slots")):
        r = ktx(lab, args + ["-n", "10"])
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    # nothing is left behind: no program parked on A
    link = lab.exec("A", ["ip", "link", "show", lab.dev_a]).stdout
    assert "xdp" not in link, link


def test_builtin_lab_with_the_kernel_engine():
    import subprocess

    from labutil import ENV, PKTGEN

    from pktgen_nm.lab import namespaces
    before = set(namespaces())
    r = subprocess.run(PKTGEN + ["--lab", "-f", "tx", "--engine", "kernel", "-n", "200000",
                                 "-R", "400000"], capture_output=True, text=True, timeout=120,
                       env=ENV)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kernel engine" in r.stdout and "Receiving from xdp:" in r.stdout
    assert "Sent 200000 packets" in r.stdout and "Received 200000 packets" in r.stdout
    assert set(namespaces()) == before
