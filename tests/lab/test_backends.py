"""Each emulated backend on a veth pair: frames through the ring API arrive complete,
byte-identical and counted exactly; a full receiver drops and says so."""
import os
import signal
import time

import pytest
from labutil import helper, helper_bg, ready

BACKENDS = ["packet"]
N = 200_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_mixed_sizes_arrive_byte_identical(lab, backend):
    mac_b = lab.mac("B", lab.dev_b)
    rx = helper_bg(lab, "B", ["recv", f"{backend}:{lab.dev_b}/R", str(N), "7"])
    ready(rx)
    sent = helper(lab, "A", ["send", f"{backend}:{lab.dev_a}/T", str(N), "7", mac_b])
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
    p = helper_bg(lab, "A", ["hold", f"{backend}:{lab.dev_a}/T"])
    ready(p)
    time.sleep(0.3)
    inside = lab.exec("A", ["cat", "/proc/net/packet"]).stdout.strip().splitlines()
    assert len(inside) >= 2, "the sender has a packet socket while it runs"
    os.kill(p.pid, signal.SIGKILL)
    p.communicate(timeout=10)
    time.sleep(0.3)
    left = lab.exec("A", ["cat", "/proc/net/packet"]).stdout.strip().splitlines()
    assert len(left) == 1, f"sockets left: {left}"
    link = lab.exec("A", ["ip", "link", "show", lab.dev_a]).stdout
    assert "xdp" not in link


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
