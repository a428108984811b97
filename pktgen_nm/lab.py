"""The built-in lab: network namespaces joined by veth pairs, made and removed by us.

    with VethLab() as lab:            # namespaces <p>A, <p>B; veth <p>a <-> <p>b
        lab.run("A", ["pktgen-nm", "-i", lab.dev_a, "-f", "tx"])

Traffic never leaves these namespaces.  Everything made is removed on exit, also
after an error or Ctrl-C; ``cleanup_stale()`` removes what a killed run left.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field

PREFIX = "nmlab"


class LabError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which("ip") is None:
        raise LabError("the 'ip' command is missing: apt-get install iproute2")
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {r.stderr.strip() or 'failed'}")
    return r


def can_run() -> str | None:
    """None when a lab can be made here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces and veth pairs)"
    if shutil.which("ip") is None:
        return "the 'ip' command is missing (apt-get install iproute2)"
    return None


def namespaces() -> list[str]:
    r = _ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces named <prefix>... whose creating process is gone."""
    removed = []
    for ns in namespaces():
        if not ns.startswith(prefix):
            continue
        pid = ns[len(prefix):].split("x")[0]
        if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
            continue
        # what still runs in it (a lab cluster's Ray processes) goes with it
        for left in _ip("netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(left), 9)
            except (ProcessLookupError, ValueError):
                pass
        _ip("netns", "del", ns, check=False)
        removed.append(ns)
    return removed


class in_netns:
    """with in_netns("name"): the calling thread in network namespace /run/netns/name
    for the block (setns(2)), back in its own after, also on an exception."""

    CLONE_NEWNET = 0x40000000

    def __init__(self, name: str):
        self.name = name

    def _setns(self, fd: int) -> None:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, self.CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns into {self.name}: {os.strerror(e)}")

    def __enter__(self) -> in_netns:
        self._own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        except OSError:
            os.close(self._own)
            raise
        try:
            self._setns(target)
        except BaseException:
            os.close(self._own)
            raise
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._setns(self._own)
        finally:
            os.close(self._own)


@dataclass
class VethLab:
    """Namespaces A, B (and C with ``three=True``: A - B - C, two veth pairs)."""

    tag: str = ""
    three: bool = False
    subnet: int = 77
    queues: int = 2  # so that -p 2 has a queue per thread on every backend
    made: list[str] = field(default_factory=list)

    def __post_init__(self):
        # the pid in the name lets cleanup_stale() know whether we are still alive
        self.prefix = f"{PREFIX}{os.getpid()}x{self.tag}"
        self.ns_a, self.ns_b, self.ns_c = (self.prefix + s for s in ("A", "B", "C"))
        if len(self.tag) > 4 or not self.tag.isalnum() and self.tag:
            raise ValueError("lab tag: at most 4 letters or digits")
        short = f"nm{os.getpid()}{self.tag}"  # interface names must fit 15 bytes
        self.dev_a, self.dev_b, self.dev_b2, self.dev_c = (short + s for s in ("a", "b", "b2", "c"))

    def ns(self, side: str) -> str:
        return {"A": self.ns_a, "B": self.ns_b, "C": self.ns_c}[side]

    def inside(self, side: str):
        """A context manager: the calling thread runs in that side's namespace until
        the block ends (setns(2)), so ports opened there are that side's; they stay
        usable from any thread afterwards.  Read interface facts with ioctls there,
        not /sys, which still shows the namespace it was mounted in."""
        return in_netns(self.ns(side))

    def __enter__(self) -> VethLab:
        why = can_run()
        if why:
            raise LabError(why)
        try:
            self._make()
        except BaseException:
            self.close()
            raise
        return self

    def _make(self) -> None:
        sides = ["A", "B", "C"] if self.three else ["A", "B"]
        for s in sides:
            _ip("netns", "add", self.ns(s))
            self.made.append(self.ns(s))
            _ip("-n", self.ns(s), "link", "set", "lo", "up")
        pairs = [(self.dev_a, "A", self.dev_b, "B", 0)]
        if self.three:
            pairs.append((self.dev_b2, "B", self.dev_c, "C", 1))
        for left, ls, right, rs, k in pairs:
            # create inside the first namespace, then move the peer: nothing
            # ever appears in the caller's namespace
            q = str(self.queues)
            _ip("-n", self.ns(ls), "link", "add", left, "numtxqueues", q, "numrxqueues", q,
                "type", "veth", "peer", "name", right, "netns", self.ns(rs),
                "numtxqueues", q, "numrxqueues", q)
            for dev, side, host in ((left, ls, 1), (right, rs, 2)):
                _ip("-n", self.ns(side), "link", "set", dev, "up")
                _ip("-n", self.ns(side), "addr", "add", f"10.{self.subnet + k}.0.{host}/24",
                    "dev", dev)
                # no IPv6 chatter (router solicitations) in counted runs
                self.sysctl(side, f"net.ipv6.conf.{dev}.disable_ipv6", "1")

    def sysctl(self, side: str, key: str, value: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.ns(side), "sysctl", "-qw", f"{key}={value}"],
                       capture_output=True)

    def mac(self, side: str, dev: str) -> str:
        return self.exec(side, ["cat", f"/sys/class/net/{dev}/address"]).stdout.strip()

    def counters(self, side: str, dev: str) -> dict[str, int]:
        out = self.exec(side, ["sh", "-c", f"cd /sys/class/net/{dev}/statistics && grep -H . *"])
        vals = {}
        for line in out.stdout.splitlines():
            k, _, v = line.partition(":")
            vals[k] = int(v)
        return vals

    def wait_carrier(self, timeout: float = 5.0) -> None:
        import time
        deadline = time.monotonic() + timeout
        devs = [("A", self.dev_a), ("B", self.dev_b)]
        if self.three:
            devs += [("B", self.dev_b2), ("C", self.dev_c)]
        for side, dev in devs:
            while self.exec(side, ["cat", f"/sys/class/net/{dev}/carrier"]).stdout.strip() != "1":
                if time.monotonic() > deadline:
                    raise LabError(f"{dev} has no carrier after {timeout} s")
                time.sleep(0.02)

    def cmd(self, side: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(side), *argv]

    def exec(self, side: str, argv: list[str], **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.cmd(side, argv), **kw)

    def popen(self, side: str, argv: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(side, argv), **kw)

    def xdp_sink(self, side: str, dev: str, program: str = "drop") -> subprocess.Popen:
        """A process in `side` holding an XDP program on `dev` that drops everything
        (or, with program="pass", lets everything through): a veth with an XDP program
        accepts XDP frames from its peer, which the kernel engine sends.  Stop it with
        .terminate()."""
        import sys
        code = ("import signal, socket, sys; from pktgen_nm import _engine, bpf; "
                f"a = _engine.XdpAttachment(bpf.{program}_program(), "
                f"socket.if_nametoindex({dev!r})); "
                "print(a.mode, flush=True); signal.signal(signal.SIGTERM, lambda *x: sys.exit(0)); "
                "signal.pause()")
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        p = self.popen(side, [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                       env=env)
        if not p.stdout.readline().strip():
            p.kill()
            p.wait()
            raise LabError(f"could not attach the XDP sink to {dev}")
        return p

    def close(self) -> None:
        for ns in reversed(self.made):
            _ip("netns", "del", ns, check=False)
        self.made.clear()

    def __exit__(self, *exc) -> None:
        self.close()
