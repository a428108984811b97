"""Devices under test for the lab's RFC 2544 runs: namespace B of a three-namespace
VethLab (A - B - C) made into a Linux bridge, a bridge behind a tbf shaper, a router
(ip_forward) or an nm-bridge process.  A sends, C receives; dst_mac is where A's
frames must be addressed for the device to carry them to C."""
from __future__ import annotations

import subprocess
import sys
import threading

from .lab import LabError, VethLab

KINDS = ("bridge", "tbf", "router", "nm-bridge", "none")


class Dut:
    """with Dut(lab, "tbf", rate_bit=40_000_000) as d: ... d.dst_mac ... (undone after)."""

    def __init__(self, lab: VethLab, kind: str, *, rate_bit: int = 40_000_000,
                 backend: str = "xdp"):
        if kind not in KINDS:
            raise ValueError(f"DUT {kind!r}: one of {', '.join(KINDS)}")
        self.lab, self.kind, self.rate_bit, self.backend = lab, kind, rate_bit, backend
        self.proc: subprocess.Popen | None = None
        self.dst_mac = lab.mac("C", lab.dev_c)
        self._undo: list[list[str]] = []    # commands that take it apart, last first

    def _sh(self, *argv: str, undo: tuple = ()) -> None:
        r = self.lab.exec("B", list(argv))
        if r.returncode:
            raise LabError(f"{' '.join(argv)}: {r.stderr.strip()}")
        if undo:
            self._undo.append(list(undo))

    def __enter__(self) -> Dut:
        try:
            return self._make()
        except BaseException:
            self.__exit__()
            raise

    def _make(self) -> Dut:
        lab = self.lab
        if self.kind in ("bridge", "tbf"):
            self._sh("ip", "link", "add", "br0", "type", "bridge",
                     undo=("ip", "link", "del", "br0"))
            for d in (lab.dev_b, lab.dev_b2):
                self._sh("ip", "link", "set", d, "master", "br0")
            self._sh("ip", "link", "set", "br0", "up")
        if self.kind == "tbf":
            self._sh("tc", "qdisc", "add", "dev", lab.dev_b2, "root", "tbf", "rate",
                     str(self.rate_bit), "burst", "16kb", "latency", "20ms",
                     undo=("tc", "qdisc", "del", "dev", lab.dev_b2, "root"))
        if self.kind == "router":
            self._router()
        if self.kind == "nm-bridge":
            self._nm_bridge()
        return self

    def _router(self) -> None:
        lab = self.lab
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                    f"net.ipv4.conf.{lab.dev_b}.rp_filter=0"):
            self._sh("sysctl", "-qw", key)
        self._undo.append(["sysctl", "-qw", "net.ipv4.ip_forward=0"])
        # pkt-gen's default destination 10.1.0.1 lives behind C (10.78.0.2)
        c_ip = f"10.{lab.subnet + 1}.0.2"
        self._sh("ip", "route", "add", "10.1.0.0/24", "via", c_ip,
                 undo=("ip", "route", "del", "10.1.0.0/24"))
        self._sh("ip", "neigh", "replace", c_ip, "lladdr", lab.mac("C", lab.dev_c), "dev",
                 lab.dev_b2, "nud", "permanent",
                 undo=("ip", "neigh", "del", c_ip, "dev", lab.dev_b2))
        self.dst_mac = lab.mac("B", lab.dev_b)

    def _nm_bridge(self) -> None:
        lab = self.lab
        ports = (["-i", lab.dev_b, "-i", lab.dev_b2, "--engine", "kernel"]
                 if self.backend == "kernel" else      # XDP redirect, in the kernel
                 ["-i", f"{self.backend}:{lab.dev_b}", "-i", f"{self.backend}:{lab.dev_b2}"])
        self.proc = lab.popen("B", [sys.executable, "-m", "pktgen_nm.bridge_cli", *ports,
                                    "-w", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "Ready" in line:
                break
        if self.proc.poll() is not None:
            raise LabError("nm-bridge did not start")
        # its report lines go on: read them so that a full pipe never stops the bridge
        self._drain = threading.Thread(target=self.proc.stderr.read, daemon=True)
        self._drain.start()

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._drain.join(timeout=5)
            self.proc.stderr.close()
            self.proc = None
        while self._undo:                   # best effort: the lab goes away after anyway
            self.lab.exec("B", self._undo.pop())
