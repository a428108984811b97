"""netmap-only features on the real module: ring counts asked for with open() (VALE),
-p on VALE, monitors, host rings, shared regions, zero-copy bridges, native against
emulated adapters, and the kernel's own errors as our one-line messages."""
import subprocess
import threading
from pathlib import Path

import pytest
from nmutil import OURS, TAG, count, finish, run, start

import netmap_py as nm
from netmap_py import checks

ADMODE = Path("/sys/module/netmap/parameters/admode")


@pytest.fixture
def veth():
    a, b = f"{TAG}fa", f"{TAG}fb"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    for d in (a, b):
        subprocess.run(["ip", "link", "set", d, "up"], check=True)
    yield a, b
    subprocess.run(["ip", "link", "del", a], check=False)


@pytest.fixture
def admode():
    before = ADMODE.read_text().strip()
    yield lambda v: ADMODE.write_text(f"{v}\n")
    ADMODE.write_text(f"{before}\n")


def test_open_rings_and_slots_reach_a_new_vale_port():
    """open(rings=, slots=) are the defaults for what @conf does not say (review M1)."""
    with nm.open(f"vale{TAG}r:a", rings=3, slots=256) as a:
        assert (a.num_tx_rings, a.num_rx_rings) == (3, 3)
        assert a.tx_rings[0].num_slots == 256
    with nm.open(f"vale{TAG}r:b@conf:rings=2", rings=4) as b:
        assert b.num_tx_rings == 2              # the name's @conf wins


def test_threads_on_a_vale_port():
    r = run(OURS + ["-i", f"vale{TAG}p:a", "-f", "tx", "-p", "2", "-n", "20000", "-w", "0"])
    assert r.returncode == 0, r.stderr
    assert count("Sent", r.stdout) == 20000, r.stdout + r.stderr
    assert "2 threads" in r.stdout


def test_a_monitor_sees_another_ports_traffic():
    """/r on the receiving port: the monitor gets a copy of what it receives (a monitor
    needs its port to exist first: the receiver's)."""
    sw = f"vale{TAG}m"
    # the receiver outlives its monitor (a monitor fails when its port goes away)
    peer = start(OURS + ["-i", f"{sw}:b", "-f", "rx", "-w", "0", "--duration", "60"],
                 "Ready...")
    mon = start(OURS + ["-i", f"{sw}:b/r", "-f", "rx", "-w", "0", "--duration", "60", "-W"],
                "Ready...")
    tx = run(OURS + ["-i", f"{sw}:a", "-f", "tx", "-n", "3000", "-R", "10000", "-w", "0"])
    mon_out, mon_err = finish(mon)
    peer.send_signal(2)
    peer_out, _ = finish(peer)
    assert tx.returncode == 0, tx.stderr
    assert count("Received", peer_out) == 3000
    # a copy monitor is lossy by design (netmap drops its copy when its ring is full,
    # never the port's own frame): on the emulated CPU allow it a few
    assert 0.95 * 3000 <= count("Received", mon_out) <= 3000, mon_out + mon_err


def test_host_rings_both_ways(veth):
    """netmap:IF* binds the hardware and host rings: frames the host stack sends on IF
    arrive on the host RX ring (here through an AF_PACKET socket's transmit path).
    netmap:IF^ alone: a frame put on the host TX ring reaches the stack as if IF had
    received it (an AF_PACKET socket on IF sees it come in)."""
    import socket
    import time
    a, _ = veth
    frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x07" + b"\x88\xb5" + b"host-stack" * 5
    rx = start(OURS + ["-i", f"netmap:{a}*", "-f", "rx", "-n", "2", "-w", "0",
                       "--duration", "60"], "Ready...")
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((a, 0))
        for _ in range(2):
            s.send(frame)
    out, err = finish(rx)
    assert count("Received", out) == 2, out + err
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88B5)) as s, \
            nm.open(f"netmap:{a}^") as p:
        s.bind((a, 0))
        s.settimeout(5)
        assert p.num_host_tx_rings == 1 and len(p.tx_rings) == 1   # the host ring only
        tx = p.tx_rings[0]
        tx.slot(tx.head).write(frame[:6] + b"\x02\x00\x00\x00\x00\x08" + frame[12:])
        tx.advance()
        p.txsync()
        deadline = time.monotonic() + 5
        got = b""
        while time.monotonic() < deadline and not got.startswith(frame[:6]):
            got = s.recv(2048)
        assert got[6:12] == b"\x02\x00\x00\x00\x00\x08" and got[14:] == frame[14:]


def test_share_and_open_group_make_one_region():
    with nm.open(f"vale{TAG}g:a") as a, nm.open(f"vale{TAG}h:b@share=vale{TAG}g:a") as b:
        assert a.mem_id == b.mem_id and nm.same_region(a, b)
        ta, tb = a.tx_rings[0].slot(0), b.tx_rings[0].slot(0)
        ia, ib = ta.buf_idx, tb.buf_idx
        ta.swap(tb)                             # one region: buffers move, no copy
        assert (ta.buf_idx, tb.buf_idx) == (ib, ia)
        ta.swap(tb)
    x, y = nm.open_group([f"vale{TAG}j:x", f"vale{TAG}k:y"])
    try:
        assert nm.same_region(x, y)
    finally:
        x.close()
        y.close()


def test_zero_copy_bridge_between_two_vale_switches():
    n = 5000
    a, b = nm.open_group([f"vale{TAG}ba:x", f"vale{TAG}bb:y"])
    try:
        br = nm.Bridge(a, b)
        assert br.zero_copy
        t = threading.Thread(target=br.run)
        t.start()
        try:
            rx = start(OURS + ["-i", f"vale{TAG}bb:r", "-f", "rx", "-n", str(n), "-w", "0",
                               "--duration", "60"], "Ready...")
            tx = run(OURS + ["-i", f"vale{TAG}ba:s", "-f", "tx", "-n", str(n), "-R", "10000",
                             "-w", "0"])
            out, err = finish(rx)
        finally:
            br.stop()
            t.join()
        assert tx.returncode == 0, tx.stderr
        assert count("Received", out) == n, out + err
        assert br.counters()["a_to_b"]["pkts"] == n
        assert a.copied_packets == b.copied_packets == 0
    finally:
        a.close()
        b.close()


def test_nm_bridge_command_between_a_port_and_a_vale_port(veth):
    va, vb = veth
    n = 3000
    br = start(OURS[:2] + ["pktgen_nm.bridge_cli", "-i", f"netmap:{vb}", "-i",
                           f"vale{TAG}n:x", "-w", "0", "--json"], "Ready...")
    rx = start(OURS + ["-i", f"vale{TAG}n:r", "-f", "rx", "-n", str(n), "-w", "0",
                       "--duration", "60"], "Ready...")
    tx = run(OURS + ["-i", f"netmap:{va}", "-f", "tx", "-n", str(n), "-R", "10000", "-w", "0"])
    out, err = finish(rx)
    br.send_signal(2)                           # Ctrl-C: the final report, then exit 0
    bout, berr = finish(br)
    assert tx.returncode == 0, tx.stderr
    assert count("Received", out) == n, out + err + berr
    assert '"type": "final"' in bout and br.returncode == 0, berr


def test_native_and_emulated_are_told_apart(veth, admode):
    a, _ = veth
    admode(1)                                   # native adapters only
    info = checks.interface(a)
    fact = checks.native_netmap(info)
    assert fact.ok and "native netmap support" in fact.sentence
    r = run(OURS + ["-i", f"netmap:{a}", "-f", "tx", "-n", "100", "-w", "0"])
    assert r.returncode == 0 and "native netmap support" in r.stderr, r.stderr
    subprocess.run(["ip", "link", "add", f"{TAG}d", "type", "dummy"], check=True)
    try:
        subprocess.run(["ip", "link", "set", f"{TAG}d", "up"], check=True)
        admode(2)                               # every adapter emulated
        fact = checks.native_netmap(checks.interface(f"{TAG}d"))
        assert not fact.ok and "emulated" in fact.sentence
        r = run(OURS + ["-i", f"netmap:{TAG}d", "-f", "tx", "-n", "100", "-w", "0"])
        assert r.returncode == 0 and "emulated" in r.stderr, r.stderr
    finally:
        subprocess.run(["ip", "link", "del", f"{TAG}d"], check=False)


@pytest.mark.parametrize("args,why", [
    (["-i", "netmap:nosuch0", "-f", "rx"], "nosuch0"),
    (["-i", "vale-1:x", "-f", "rx"], "invalid VALE switch name"),
    (["-i", f"vale{TAG}e:a-7", "-f", "rx"], "ring"),
])
def test_kernel_errors_are_one_line(args, why):
    r = run(OURS + args + ["-w", "0"], timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and why in r.stderr, r.stderr


def test_a_busy_exclusive_port_is_one_line():
    with nm.open(f"vale{TAG}x:a/x"):
        r = run(OURS + ["-i", f"vale{TAG}x:a", "-f", "rx", "-w", "0"], timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "already registered" in r.stderr, r.stderr


def test_nm_bridge_between_a_port_and_its_host_rings(veth):
    """netmap:B and netmap:B^ bridged: UDP frames pktgen-nm sends from netmap:A cross
    the bridge into B's host stack and reach a socket bound to B's address; datagrams
    that socket sends go down to the host RX ring, across the bridge and out of B, to
    a pktgen-nm receiver on netmap:A."""
    import json
    import socket
    a, b = veth
    mac = {d: Path(f"/sys/class/net/{d}/address").read_text().strip() for d in (a, b)}
    subprocess.run(["ip", "addr", "add", "10.77.0.2/24", "dev", b], check=True)
    subprocess.run(["ip", "neigh", "replace", "10.77.0.1", "lladdr", mac[a], "dev", b],
                   check=True)
    n = 200
    br = start(OURS[:2] + ["pktgen_nm.bridge_cli", "-i", f"netmap:{b}", "-i",
                           f"netmap:{b}^", "-w", "0", "--json"], "Ready...")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("10.77.0.2", 9999))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            tx = run(OURS + ["-i", f"netmap:{a}", "-f", "tx", "-n", str(n), "-R", "2000",
                             "-w", "0", "-s", "10.77.0.1:1234", "-d", "10.77.0.2:9999",
                             "-S", mac[a], "-D", mac[b]])
            assert tx.returncode == 0, tx.stderr
            s.settimeout(2)
            up = 0
            try:
                while up < n:
                    s.recv(2048)
                    up += 1
            except TimeoutError:
                pass
            rx = start(OURS + ["-i", f"netmap:{a}", "-f", "rx", "-n", str(n), "-w", "0",
                               "--duration", "60"], "Ready...")
            # netmap drops what the stack hands it with the checksum left to the NIC
            # (CHECKSUM_PARTIAL; users turn tx offload off, ethtool -K IF tx off): send
            # UDP without a checksum (SO_NO_CHECK), as an offload-free interface would
            s.setsockopt(socket.SOL_SOCKET, 11, 1)
            for i in range(n):
                s.sendto(b"down %d" % i, ("10.77.0.1", 1234))
            out, err = finish(rx)
    finally:
        br.send_signal(2)
        bout, berr = finish(br)
    assert up == n, berr
    assert f"warning: {b}: transmit checksum offload is on" in berr, berr   # a veth's default
    assert count("Received", out) == n, out + err + berr
    final = json.loads(bout.strip().splitlines()[-1])
    assert final["a_to_b"]["pkts"] >= n and final["b_to_a"]["pkts"] >= n, final
    assert final["zero_copy"], final


@pytest.mark.parametrize("suffix,queues", [("", 1), ("*", 2), ("^", 1)])
def test_the_banner_counts_the_bound_rings(veth, suffix, queues):
    """As pkt-gen: 'N queues' is the rings bound (a veth has one ring pair and one
    host ring pair), not every ring the port has."""
    a, _ = veth
    r = run(OURS + ["-i", f"netmap:{a}{suffix}", "-f", "tx", "-n", "10", "-w", "0"])
    assert r.returncode == 0, r.stderr
    assert f"Sending on netmap:{a}{suffix}: {queues} queues," in r.stdout, r.stdout


def test_a_pipe_banner_says_one_queue():
    r = run(OURS + ["-i", f"netmap:{TAG}q}}1", "-f", "tx", "-n", "10", "-w", "0"])
    assert r.returncode == 0, r.stderr
    assert f"netmap:{TAG}q}}1: 1 queues," in r.stdout, r.stdout
