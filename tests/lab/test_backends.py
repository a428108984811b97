"""Each emulated backend on a veth pair: frames through the ring API arrive complete,
byte-identical and counted exactly; a full receiver drops and says so."""
import os
import signal
import time

import pytest
from labutil import helper, helper_bg, ready

BACKENDS = ["packet", "xdp"]
N = 200_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_sizes_arrive_byte_identical(lab, backend):
    mac_b = lab.mac("B", lab.dev_b)
    # a Python reader is slower than the kernel: give it room (AF_PACKET: 256 MiB ring,
    # AF_XDP: 16384 slots); what could still be lost would be counted, see below
    rx = helper_bg(lab, "B", ["recv", f"{backend}:{lab.dev_b}/R", str(N), "7", "--slots", "16384"])
    ready(rx)
    # paced at 100 kpps so that the Python reader on a shared 2-CPU machine keeps up
    sent = helper(lab, "A", ["send", f"{backend}:{lab.dev_a}/T", str(N), "7", mac_b,
                             "--pace", "100000"])
    out, err = rx.communicate(timeout=120)
    assert rx.returncode == 0, err
    import json
    got = json.loads(out.strip().splitlines()[-1])
    assert sent["sent"] == N and sent["tx_dropped"] == 0
    assert got["received"] == N, got
    assert got["mismatch"] == 0 and got["in_order"] and got["kernel_drops"] == 0
    assert lab.counters("B", lab.dev_b)["rx_packets"] >= N


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_receiver_drops_are_counted(lab, backend):
    mac_b = lab.mac("B", lab.dev_b)
    n = 50_000
    rx = helper_bg(lab, "B", ["recv", f"{backend}:{lab.dev_b}/R", str(n), "9", "--ring-mb", "1",
                              "--hold", "3", "--timeout", "20"])
    ready(rx)
    helper(lab, "A", ["send", f"{backend}:{lab.dev_a}/T", str(n), "9", mac_b])
    import json
    out, err = rx.communicate(timeout=60)
    got = json.loads(out.strip().splitlines()[-1])
    assert got["mismatch"] == 0, "what arrived is intact"
    assert got["kernel_drops"] > 0, "a 1 MiB ring held for 3 s must overflow"
    assert got["received"] + got["kernel_drops"] == n, got
    assert got["received"] < n


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_leaves_nothing_behind(lab, backend):
    # a port with RX rings: for xdp that attaches our program to the interface
    p = helper_bg(lab, "A", ["hold", f"{backend}:{lab.dev_a}"])
    ready(p)
    proto = "PACKET" if backend == "packet" else "XDP"

    def sockets():  # /proc/net/protocols counts the sockets of this namespace
        for line in lab.exec("A", ["cat", "/proc/net/protocols"]).stdout.splitlines():
            if line.split()[0] == proto:
                return int(line.split()[2])
        raise AssertionError(f"no {proto} line in /proc/net/protocols")

    assert sockets() >= 1, f"the sender has {proto} sockets while it runs"
    if backend == "xdp":
        assert "prog/xdp" in lab.exec("A", ["ip", "link", "show", lab.dev_a]).stdout
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=10)
    deadline = time.monotonic() + 5  # the kernel frees sockets and links a moment later
    while time.monotonic() < deadline:
        left = sockets()
        link = lab.exec("A", ["ip", "link", "show", lab.dev_a]).stdout
        if left == 0 and "xdp" not in link:
            break
        time.sleep(0.1)
    assert left == 0, f"{left} {proto} sockets left"
    assert "xdp" not in link, f"an XDP program is still attached: {link}"


def test_close_with_live_view_in_lab(lab):
    import ctypes

    import netmap_py as nm
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet = 0x40000000
    # open inside namespace A from this process: setns moves only this thread
    fd = os.open(f"/run/netns/{lab.ns_a}", os.O_RDONLY)
    orig = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        assert libc.setns(fd, clone_newnet) == 0
        port = nm.open(f"packet:{lab.dev_a}")
        v = port.tx_rings[0].slot(0).buffer
        with pytest.raises(BufferError):
            port.close()
        v.release()
        port.close()
    finally:
        assert libc.setns(orig, clone_newnet) == 0
        os.close(fd)
        os.close(orig)


@pytest.mark.parametrize("backend", BACKENDS)
def test_buffer_swap_between_two_ports_of_one_region(lab3, backend):
    """A -> (B: b receives, b2 sends, by swapping buffers) -> C, byte-identical."""
    import json
    n = 20_000
    mac_c = lab3.mac("C", lab3.dev_c)
    rx = helper_bg(lab3, "C", ["recv", f"{backend}:{lab3.dev_c}/R", str(n), "11",
                               "--slots", "16384", "--timeout", "60"])
    ready(rx)
    br = helper_bg(lab3, "B", ["bridge", f"{backend}:{lab3.dev_b}-0", f"{backend}:{lab3.dev_b2}-0",
                               str(n)])
    ready(br)
    # one queue each way keeps the order; the bridge reads queue 0 of b
    helper(lab3, "A", ["send", f"{backend}:{lab3.dev_a}-0/T", str(n), "11", mac_c,
                       "--pace", "50000"])
    bout, berr = br.communicate(timeout=90)
    out, err = rx.communicate(timeout=90)
    got = json.loads(out.strip().splitlines()[-1])
    fwd = json.loads(bout.strip().splitlines()[-1])
    assert fwd["forwarded"] == n and fwd["swapped"] == n, fwd
    assert got["received"] == n and got["mismatch"] == 0, got
    if backend == "xdp":
        assert fwd["copied_by_us"] == 0, "AF_XDP: the UMEM is shared, no byte copied by us"
    else:
        assert fwd["copied_by_us"] == 2 * n, "AF_PACKET: one copy in, one copy out"


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_send_and_recv(lab, backend):
    """Port.send() and Port.recv() on each backend: every frame arrives byte-identical,
    and no view is left alive after the last batch is given back."""
    import json
    n = 20_000
    mac_b = lab.mac("B", lab.dev_b)
    rx = helper_bg(lab, "B", ["brecv", f"{backend}:{lab.dev_b}/R", str(n), "11",
                              "--slots", "16384"])
    ready(rx)
    sent = helper(lab, "A", ["bsend", f"{backend}:{lab.dev_a}/T", str(n), "11", mac_b,
                             "--pace", "100000"])
    out, err = rx.communicate(timeout=120)
    assert rx.returncode == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    assert sent["sent"] == n and sent["tx_dropped"] == 0, sent
    assert got["received"] == n and got["mismatch"] == 0, got
    assert got["views_alive"] == 0, got
