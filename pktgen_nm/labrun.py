"""``pktgen-nm --lab``: the main job on a machine with no spare NIC.

Makes two namespaces joined by a veth pair, starts ``pktgen-nm -f rx`` (or pong)
in B, runs the user's command in A, prints both sides, and removes the lab, also
on error or Ctrl-C.  Traffic never leaves the two namespaces.
"""
from __future__ import annotations

import shlex
import subprocess
import sys
import time

from .lab import LabError, VethLab, cleanup_stale

PEER = {"tx": "rx", "txseq": "rxseq", "ping": "pong"}


def _strip_lab_flags(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--lab":
            continue
        if a in ("--lab-rx", "--lab-backend", "-i"):
            skip = True
            continue
        if a.startswith(("--lab-rx=", "--lab-backend=")):
            continue
        out.append(a)
    return out


READY = "Ready..."


def wait_for_line(stream, word: str, timeout: float = 20.0) -> str | None:
    """Read lines from ``stream`` until one holds ``word``: what was read up to and
    including it, or None when the stream ended or the time ran out (what was read
    is then in the exception's ``seen``)."""
    import select
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        if not select.select([stream], [], [], 0.2)[0]:
            continue
        line = stream.readline()
        seen += line
        if word in line:
            return seen
        if not line:
            break
    wait_for_line.seen = seen
    return None


def _wait_ready(proc, timeout: float = 20.0) -> str:
    """The receiver's output up to its "Ready..." line (its ports are open and bound).
    A receiver that exits first is a LabError."""
    seen = wait_for_line(proc.stdout, READY, timeout)
    if seen is None:
        raise LabError(f"the receiver did not start: {wait_for_line.seen.strip() or 'no output'}")
    return seen


def lab_main(opts, argv: list[str]) -> int:
    func = opts.f if opts.f != "rx" or "-f" in argv else "tx"
    if func not in PEER:
        sys.stderr.write(f"pktgen-nm: --lab runs -f tx, txseq or ping (with rx, rxseq or pong "
                         f"on the other side), not -f {func}\n")
        return 2
    backend = (opts.lab_backend or "packet").rstrip(":")   # checked by the command
    pre = "" if backend == "auto" else backend + ":"
    rx_pre = pre
    if opts.engine != "ring" and not any(a.startswith("--lab-backend") for a in argv):
        # the kernel engine sends XDP frames: a veth takes them only when its peer has
        # an XDP program, which the AF_XDP receiver brings
        rx_pre = "xdp:"
    tx_pre = "" if opts.engine != "ring" else pre   # the kernel engine takes a bare name
    cleanup_stale()
    me = [sys.executable, "-m", "pktgen_nm"]
    try:
        with VethLab(tag="L") as lab:
            lab.wait_carrier()
            peer_mac = lab.mac("B", lab.dev_b)
            sender = _strip_lab_flags(argv)
            if "-f" not in sender:
                sender += ["-f", func]
            if "-D" not in sender and func != "ping":
                sender += ["-D", peer_mac]      # unicast to B: no broadcast flood
            if "-d" not in sender and func != "ping":
                sender += ["-d", "10.77.0.2:9"]  # B's own address: its stack drops
            recv = ["-i", rx_pre + lab.dev_b, "-f", PEER[func], "-w", "0"]
            if func != "ping":
                recv += ["-W"]
            recv += shlex.split(opts.lab_rx)
            print(f"lab: namespaces {lab.ns_a} ({lab.dev_a}) <-> {lab.ns_b} ({lab.dev_b}), "
                  f"backend {backend}", flush=True)
            print(f"lab: B runs: pktgen-nm {' '.join(recv)}", flush=True)
            print(f"lab: A runs: pktgen-nm -i {tx_pre + lab.dev_a} {' '.join(sender)}", flush=True)
            rx = lab.popen("B", me + recv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
            try:
                early = _wait_ready(rx)     # its ports are bound: traffic can start
                tx = lab.exec("A", me + ["-i", tx_pre + lab.dev_a, "-w", "0"] + sender,
                              capture_output=False)
                if func == "ping":
                    rx.terminate()
                out, _ = rx.communicate(timeout=30)
                out = early + out
            except BaseException:
                rx.kill()
                rx.wait()
                raise
            print("---- receiver (namespace B) ----")
            sys.stdout.write(out)
            return tx.returncode or (rx.returncode if rx.returncode not in (0, -15) else 0)
    except LabError as e:
        sys.stderr.write(f"pktgen-nm: --lab: {e}\n")
        return 2
