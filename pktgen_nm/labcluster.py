"""A Ray cluster on one machine for trying and testing cluster runs: the head and each
other node in a network namespace of its own, their raylets started inside them, so
a node sees only its own interfaces, as separate hosts would.

    with LabCluster(senders=("gen1", "gen2")) as lc:     # head: node "sink"
        lc.address                  # 10.<n>.0.1:6379, reachable from the head's namespace
        lc.data["gen1"]             # (gen1's interface, the sink's interface facing it)
        lc.driver([...])            # argv run inside the head's namespace

Control plane: a bridge in the head's namespace, one veth to each node.  Data plane:
one veth pair from each sender to the head.  Everything is removed on exit: every
process in the namespaces (Ray's too), the namespaces, Ray's temporary folder."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from .lab import PREFIX, LabError, _ip, can_run

HEAD = "sink"


class LabCluster:
    def __init__(self, senders=("gen1", "gen2"), *, tag: str = "c", subnet: int = 223):
        if not tag.isalnum() or len(tag) > 3:
            raise ValueError("tag: at most 3 letters or digits")
        self.senders, self.subnet = tuple(senders), subnet
        self.prefix = f"{PREFIX}{os.getpid()}x{tag}"
        self.names = [HEAD, *self.senders]
        self.made: list[str] = []
        self.temp = f"/tmp/nmray{os.getpid()}{tag}"
        self.address = f"10.{subnet}.0.1:6379"
        self.data = {s: ("data0", f"rx{i}") for i, s in enumerate(self.senders)}

    def ns(self, node: str) -> str:
        return f"{self.prefix}{self.names.index(node)}"

    def ip(self, node: str) -> str:
        return f"10.{self.subnet}.0.{self.names.index(node) + 1}"

    def __enter__(self) -> LabCluster:
        why = can_run()
        if why:
            raise LabError(why)
        try:
            self._net()
            self._ray()
        except BaseException:
            self.close()
            raise
        return self

    def _net(self) -> None:
        for node in self.names:
            _ip("netns", "add", self.ns(node))
            self.made.append(self.ns(node))
            _ip("-n", self.ns(node), "link", "set", "lo", "up")
        h = self.ns(HEAD)
        _ip("-n", h, "link", "add", "ctl", "type", "bridge")
        _ip("-n", h, "addr", "add", f"{self.ip(HEAD)}/24", "dev", "ctl")
        _ip("-n", h, "link", "set", "ctl", "up")
        for i, s in enumerate(self.senders):
            _ip("-n", h, "link", "add", f"c{i}", "type", "veth", "peer", "name", "ctl",
                "netns", self.ns(s))
            _ip("-n", h, "link", "set", f"c{i}", "master", "ctl", "up")
            _ip("-n", self.ns(s), "addr", "add", f"{self.ip(s)}/24", "dev", "ctl")
            _ip("-n", self.ns(s), "link", "set", "ctl", "up")
            mine, theirs = self.data[s]
            _ip("-n", self.ns(s), "link", "add", mine, "numtxqueues", "2", "numrxqueues", "2",
                "type", "veth", "peer", "name", theirs, "netns", h,
                "numtxqueues", "2", "numrxqueues", "2")
            for node, dev in ((s, mine), (HEAD, theirs)):
                _ip("-n", self.ns(node), "link", "set", dev, "up")
                self._sh(node, ["sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"])

    def _sh(self, node: str, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.ns(node), *argv],
                              capture_output=True, text=True, **kw)

    def _ray(self) -> None:
        for node in self.names:
            argv = [sys.executable, "-c", "from ray.scripts.scripts import main; main()",
                    "start", "--node-ip-address", self.ip(node), "--num-cpus", "1",
                    "--resources", json.dumps({f"pktgen_node_{node}": 100}),
                    "--object-store-memory", str(80 * 1024 * 1024), "--disable-usage-stats"]
            if node == HEAD:
                argv += ["--head", "--port", "6379", "--include-dashboard=false",
                         "--temp-dir", self.temp]
            else:
                argv += ["--address", self.address]
            r = self._sh(node, argv, timeout=120, env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
            if r.returncode:
                raise LabError(f"ray start on {node} failed: {r.stderr.strip()[-300:]}")
        self._wait_nodes(len(self.names))

    def _wait_nodes(self, n: int, timeout: float = 60) -> None:
        code = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR', "
                "log_to_driver=False); print(sum(1 for x in ray.nodes() if x['Alive']))")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.driver([sys.executable, "-c", code, self.address], timeout=60)
            if r.returncode == 0 and r.stdout.strip().splitlines()[-1:] == [str(n)]:
                return
            time.sleep(0.5)
        raise LabError(f"the lab cluster did not reach {n} live nodes")

    def driver(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        """Run argv inside the head's namespace (where every node is reachable)."""
        kw.setdefault("timeout", 300)
        return self._sh(HEAD, argv, **kw)

    def pids(self, node: str) -> list[int]:
        r = subprocess.run(["ip", "netns", "pids", self.ns(node)], capture_output=True, text=True)
        return [int(x) for x in r.stdout.split()]

    def kill_node(self, node: str) -> None:
        """kill -9 every process of a node: its raylet and its workers."""
        for pid in self.pids(node):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        for node in reversed(self.names):
            if self.ns(node) in self.made:
                self.kill_node(node)
        for ns in reversed(self.made):
            _ip("netns", "del", ns, check=False)
        self.made.clear()
        shutil.rmtree(self.temp, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.close()
