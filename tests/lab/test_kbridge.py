"""nm-bridge --engine kernel in B of A - B - C: an XDP program on each of B's ports
redirects to the other.  Numbered frames both ways at once, every one arriving once
and in order; the counters and the summary at SIGTERM; nothing attached afterwards.

The receivers use xdp: ports on every queue: a veth delivers XDP-redirected frames
only to a peer with an XDP program (ours, for AF_XDP), on the queue of the CPU that
redirected them.  Each sender (AF_PACKET) is pinned to one CPU, so each direction's
frames keep to one queue, in order."""
import json
import re
import signal
import subprocess
import sys

import pytest
from labutil import ENV, PKTGEN_READY, pktgen_bg, ready
from test_bridge import seq_result


def start_kbridge(lab3, extra=()):
    p = subprocess.Popen(lab3.cmd("B", [sys.executable, "-m", "pktgen_nm.bridge_cli",
                                        "-i", lab3.dev_b, "-i", lab3.dev_b2, "-w", "0",
                                        "--engine", "kernel", "--json", *extra]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    ready(p, PKTGEN_READY)
    assert p.poll() is None, p.communicate()
    return p


def xdp_attached(lab3) -> list:
    out = lab3.exec("B", ["ip", "-d", "link", "show"]).stdout
    return re.findall(r"prog/xdp id \d+", out)


def test_both_directions_at_once_in_the_kernel(lab3):
    n = 300_000
    br = start_kbridge(lab3)
    assert len(xdp_attached(lab3)) == 2, "a program on each of B's ports"
    try:
        mac_a, mac_c = lab3.mac("A", lab3.dev_a), lab3.mac("C", lab3.dev_c)
        rx_c = pktgen_bg(lab3, "C", ["-i", f"xdp:{lab3.dev_c}", "-f", "rxseq", "-n", str(n),
                                     "-w", "0", "--duration", "60"])
        rx_a = pktgen_bg(lab3, "A", ["-i", f"xdp:{lab3.dev_a}", "-f", "rxseq", "-n", str(n),
                                     "-w", "0", "--duration", "60"])
        ready(rx_c, PKTGEN_READY)
        ready(rx_a, PKTGEN_READY)
        tx_a = pktgen_bg(lab3, "A", ["-i", f"packet:{lab3.dev_a}", "-f", "txseq", "-D", mac_c,
                                     "-R", "100000", "-n", str(n), "-w", "0", "-a", "0"])
        tx_c = pktgen_bg(lab3, "C", ["-i", f"packet:{lab3.dev_c}", "-f", "txseq", "-D", mac_a,
                                     "-R", "100000", "-n", str(n), "-w", "0", "-a", "1"])
        for p in (tx_a, tx_c):
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        got_c, err_c = rx_c.communicate(timeout=60)
        got_a, err_a = rx_a.communicate(timeout=60)
    finally:
        br.send_signal(signal.SIGTERM)
        bout, berr = br.communicate(timeout=30)
    assert br.returncode == 0, berr
    assert seq_result(got_c) == (n, 0, 0, 0), got_c + err_c + bout + berr
    assert seq_result(got_a) == (n, 0, 0, 0), got_a + err_a + bout + berr
    final = json.loads(bout.strip().splitlines()[-1])
    assert final["engine"] == "kernel"
    # what B's programs counted: our frames, and whatever else the ports saw (IPv6 chatter)
    assert n <= final["a_to_b"]["pkts"] < n + 100 and n <= final["b_to_a"]["pkts"] < n + 100
    assert final["a_to_b"]["bytes"] >= 60 * n
    assert "XDP redirect both ways" in br.early_err
    assert xdp_attached(lab3) == [], "both programs detached"


def test_the_summary_in_words(lab3):
    br = start_kbridge(lab3)
    br.send_signal(signal.SIGINT)
    out, err = br.communicate(timeout=30)
    assert br.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["a_to_b"]["pkts"] >= 0
    p = subprocess.run(lab3.cmd("B", [sys.executable, "-m", "pktgen_nm.bridge_cli", "-i",
                                      lab3.dev_b, "-i", lab3.dev_b2, "-w", "0", "--engine",
                                      "kernel", "--duration", "1"]),
                       capture_output=True, text=True, env=ENV, timeout=30)
    assert p.returncode == 0, p.stderr
    assert re.search(r"^Forwarded a->b \d+ packets \d+ bytes 0 dropped", p.stdout, re.M)
    assert "Mode: in the kernel (XDP redirect)" in p.stdout


@pytest.mark.parametrize("args,words", [
    (["--engine", "kernel", "--copy"], "--copy and --drop-udp-port are the ring engine's"),
    (["--engine", "warp"], "unknown --engine 'warp': use ring or kernel"),
])
def test_refusals(lab3, args, words):
    p = subprocess.run(lab3.cmd("B", [sys.executable, "-m", "pktgen_nm.bridge_cli", "-i",
                                      lab3.dev_b, "-i", lab3.dev_b2, "-w", "0", *args]),
                       capture_output=True, text=True, env=ENV, timeout=30)
    assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert xdp_attached(lab3) == []


def test_names_that_are_not_interfaces():
    from pktgen_nm import kbridge
    for port, words in (("netmap:eth0", "name them alone"), ("xdp:veth9@2", "name them alone"),
                        ("nosuchdev0", "no interface named 'nosuchdev0'")):
        with pytest.raises(ValueError, match=words):
            kbridge.KernelBridgeRun(port, "lo")
    with pytest.raises(ValueError, match="two different interfaces"):
        kbridge.KernelBridgeRun("lo", "xdp:lo")
    assert len(kbridge.program(3, 0, 2)) % 8 == 0


def test_detaching_leaves_the_process_s_other_files_alone(lab3):
    """XdpAttachment.close() once shut fd 1 (a loop variable typed as a truth value):
    after closing an attachment, and the bridge that holds two, stdout still works."""
    code = ("import socket; from pktgen_nm import bpf; "
            "from pktgen_nm._engine import XdpAttachment, KernelBridge; "
            f"i = socket.if_nametoindex({lab3.dev_b!r}); "
            f"j = socket.if_nametoindex({lab3.dev_b2!r}); "
            "a = XdpAttachment(bpf.drop_program(), i); a.close(); a.close(); "
            "k = KernelBridge(i, j); k.close(); k.close(); print('still here', flush=True)")
    p = subprocess.run(lab3.cmd("B", [sys.executable, "-c", code]), capture_output=True,
                       text=True, env=ENV, timeout=30)
    assert p.returncode == 0 and p.stdout == "still here\n", p.stderr
    assert xdp_attached(lab3) == []
