#!/usr/bin/env python3
"""Pure-Python packet I/O through netmap_py's batch calls, next to what a Python user
would otherwise pick.  Run by scripts/bench.py --only python (root, the veth lab).

loop: (no kernel): a receive loop that counts the views Port.recv() returns; a send
loop of prebuilt frames through Port.send(); a NumPy filter per batch (the UDP
destination port of every received frame read from Port.buffer_array() through
Ring.slot_array(), one mask per batch).  Each timed over its own calls only.
lab (veth, one CPU): Port.send() on xdp: and packet: against a raw AF_PACKET
socket.send() loop, sendmmsg(2) through ctypes (64 frames a call) and Scapy's
sendp(), all counted by the sender's interface counter.

    bench_python.py ROLE SECS [ARGS]      one measurement, one JSON line (internal)
"""
from __future__ import annotations

import ctypes
import json
import socket
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 2)[0])
import netmap_py as nm  # noqa: E402
from pktgen_nm import packet as P  # noqa: E402

FOREIGN = "02:00:00:00:00:99"


def _frames(n: int, src: str = "02:00:00:00:00:01", ports=(9,)) -> list[bytes]:
    """n 60-byte UDP frames, the destination port cycling through ports."""
    out = []
    for i in range(n):
        f = P.build_frame(60, src_mac=P.parse_mac(src), dst_mac=P.parse_mac(FOREIGN),
                          dst=P.parse_range(f"10.77.0.2:{ports[i % len(ports)]}", 4, "-d"))
        out.append(bytes(f.data))
    return out


def loop_recv(secs: float) -> dict:
    frames, n, spent = _frames(512), 0, 0.0
    with nm.open("loop:pyr@conf:slots=1024") as p:
        end = time.monotonic() + secs
        while time.monotonic() < end:
            p.send(frames)
            t = time.perf_counter()
            for _v in p.recv(512):
                n += 1
            spent += time.perf_counter() - t
        _v = None
        p.recv(1)
    return {"pps": n / spent}


def loop_send(secs: float) -> dict:
    frames, n, spent = _frames(512), 0, 0.0
    with nm.open("loop:pys@conf:slots=1024") as p:
        end = time.monotonic() + secs
        while time.monotonic() < end:
            t = time.perf_counter()
            n += p.send(frames)
            spent += time.perf_counter() - t
            p.rxsync()                              # a receiver that keeps up,
            p.rx_rings[0].advance(p.rx_rings[0].space())   # outside the timing
            p.rxsync()
        assert p.tx_dropped == 0, "the loop receiver fell behind: the figure would be false"
    return {"pps": n / spent}


def loop_numpy(secs: float) -> dict:
    import numpy as np
    frames = _frames(512, ports=(9, 10))
    n = kept = 0
    spent = 0.0
    with nm.open("loop:pyn@conf:slots=1024") as p:
        rx = p.rx_rings[0]
        slots, pool = rx.slot_array(), p.buffer_array()
        off = 14 + 20 + 2                       # the UDP destination port
        end = time.monotonic() + secs
        while time.monotonic() < end:
            p.send(frames)
            t = time.perf_counter()
            p.rxsync()
            m = rx.space()
            idx = slots["buf_idx"][(rx.head + np.arange(m)) % rx.num_slots]
            dport = pool[idx, off].astype(np.uint16) << 8 | pool[idx, off + 1]
            kept += int(np.count_nonzero(dport != 10))
            rx.advance(m)
            n += m
            spent += time.perf_counter() - t
        del slots, pool
    return {"pps": n / spent, "kept": kept, "seen": n}


def lab_send(how: str, dev: str, secs: float) -> dict:
    """Send 60-byte frames on dev for secs; the caller counts the interface."""
    src = open(f"/sys/class/net/{dev}/address").read().strip()
    frames = _frames(64, src)
    end = time.monotonic() + secs
    if how in ("xdp", "packet"):
        with nm.open(f"{how}:{dev}-0" if how == "xdp" else f"{how}:{dev}") as p:
            batch = frames * 4
            while time.monotonic() < end:
                if p.send(batch) == 0:
                    p.poll(nm.POLLOUT, 10)
    elif how == "socket":
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((dev, 0))
            while time.monotonic() < end:
                for f in frames:
                    s.send(f)
    elif how == "sendmmsg":
        _sendmmsg(dev, frames, end)
    elif how == "scapy":
        from scapy.all import Ether, sendp
        pkts = [Ether(f) for f in frames]
        while time.monotonic() < end:
            sendp(pkts, iface=dev, verbose=False)
    return {}


class _IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_IOVec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", _MsgHdr), ("len", ctypes.c_uint)]


def _sendmmsg(dev: str, frames: list[bytes], end: float) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    bufs = [ctypes.create_string_buffer(f, len(f)) for f in frames]
    iovs = (_IOVec * len(frames))(*[_IOVec(ctypes.addressof(b), len(f))
                                     for b, f in zip(bufs, frames)])
    msgs = (_MMsgHdr * len(frames))()
    for i in range(len(frames)):
        msgs[i].hdr.iov = ctypes.pointer(iovs[i])
        msgs[i].hdr.iovlen = 1
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        while time.monotonic() < end:
            libc.sendmmsg(s.fileno(), msgs, len(frames), 0)


LOOP = [("loop_recv", "receive loop counting Port.recv() views", 2e6),
        ("loop_send", "Port.send() of prebuilt 60-byte frames", 1e6),
        ("loop_numpy", "NumPy filter per batch (drop one UDP port)", 1e6)]
SENDERS = [("xdp", "Port.send() on xdp:"), ("packet", "Port.send() on packet:"),
           ("socket", "AF_PACKET socket.send() loop"),
           ("sendmmsg", "sendmmsg(2), 64 frames a call (ctypes)"),
           ("scapy", "Scapy sendp() of a prebuilt list")]


def _child(argv: list[str], lab=None, side: str = "A") -> dict:
    import subprocess
    cmd = ["taskset", "-c", "0", sys.executable, __file__] + argv
    if lab is not None:
        cmd = lab.cmd(side, cmd)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise RuntimeError(f"{argv[0]} failed: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def table(lab, secs: float, rounds: int) -> str:
    """Both tables, measured now: loop: first, then the lab's senders interleaved."""
    from statistics import median
    rows = ["| pure Python, loop: (no kernel) | Mpps | target |", "|---|---|---|"]
    for role, what, target in LOOP:
        pps = median(_child([role, str(secs)])["pps"] for _ in range(rounds))
        rows.append(f"| {what} | {pps / 1e6:.2f} | {target / 1e6:.0f} Mpps: "
                    f"{'met' if pps >= target else 'NOT met'} |")
    got: dict = {how: [] for how, _ in SENDERS}
    have_scapy = _has("scapy")
    for _ in range(rounds):
        for how, _what in SENDERS:
            if how == "scapy" and not have_scapy:
                continue
            c0 = lab.counters("A", lab.dev_a)["tx_packets"]
            _child(["lab", str(secs), how, lab.dev_a], lab)
            got[how].append((lab.counters("A", lab.dev_a)["tx_packets"] - c0) / secs)
    base = median(got["socket"])
    rows += ["", "| pure Python TX on the veth lab, 60-byte frames, one CPU | kpps (wire) | "
             "vs socket.send() |", "|---|---|---|"]
    for how, what in SENDERS:
        if got[how]:
            pps = median(got[how])
            rows.append(f"| {what} | {pps / 1e3:.0f} | {pps / base:.3g} |")
        else:
            rows.append(f"| {what} | not installed | - |")
    return "\n".join(rows)


def _has(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def main(argv: list[str]) -> int:
    role, secs = argv[0], float(argv[1])
    if role.startswith("loop_"):
        print(json.dumps(globals()[role](secs)))
    else:
        print(json.dumps(lab_send(argv[2], argv[3], secs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
