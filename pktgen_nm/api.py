"""The run API: traffic as an object, runs that start without blocking, live intervals,
results as dataclasses.

    from pktgen_nm import Traffic, send, receive

    t = Traffic(length=60, dst="10.1.0.1-10.1.0.200:9", dst_mac="02:00:00:00:00:02")
    with receive("xdp:veth1", duration=3) as rx, send("xdp:veth0", t, rate=100_000,
                                                        count=100_000) as tx:
        for iv in tx.intervals():
            print(iv.pps)
    print(tx.result.pkts, rx.result.pkts)

Each run opens its port(s), one engine thread per port (the Cython loops of
pktgen_nm._engine, without the GIL) and closes everything when it ends, whatever
happens.  Bad arguments raise ValueError (or TypeError), ports OSError with errno.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass

import netmap_py

from . import _engine, runner
from .plan import KERNEL_MAX_FRAME, directed
from .results import SCHEMA, Interval, Result
from .traffic import Traffic

RUN_FUNCTIONS = ("tx", "rx", "txseq", "rxseq", "ping", "pong")

__all__ = ["Interval", "Result", "Run", "SCHEMA", "Traffic", "ping", "pong", "prepare", "receive",
           "send"]


def _positive(name: str, v, *, integer: bool = False, allow_zero: bool = True):
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise TypeError(f"{name} must be a{'n integer' if integer else ' number'}, "
                        f"not {type(v).__name__}")
    if v != v or v in (float("inf"), float("-inf")) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}={v!r}: give a finite number {'>= 0' if allow_zero else '> 0'}")
    return v


@dataclass
class _Options:
    func: str
    port: str
    traffic: Traffic | None = None
    count: int = 0
    duration: float = 0.0
    rate: float = 0.0
    threads: int = 1
    burst: int = 0                      # 0: pkt-gen's default for the function
    interval: float = 1.0
    exit_on_idle: bool = False
    seed: int = 0
    engine: str = "ring"                # ring, or kernel: the kernel generates (tx, txseq)
    stamp: bool = False                 # txseq: send times in the frames; rxseq: latency
    cpu: int | None = None              # thread i pinned to CPU (cpu + i) % the CPUs

    def check(self) -> None:
        _positive("count", self.count, integer=True)
        _positive("duration", self.duration)
        _positive("rate", self.rate)
        _positive("interval", self.interval, allow_zero=False)
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 64:
            raise ValueError(f"threads={self.threads!r}: give 1 to 64")
        if not isinstance(self.burst, int) or not 0 <= self.burst <= 8192:
            raise ValueError(f"burst={self.burst!r}: give 1 to 8192 (0: the default)")
        if self.burst == 0:
            self.burst = 1 if self.func in ("ping", "pong") else 512
        if self.func in ("tx", "txseq", "ping") and not isinstance(self.traffic, Traffic):
            raise TypeError(f"{self.func} needs a Traffic (pktgen_nm.Traffic(...)), "
                            f"not {type(self.traffic).__name__}")
        if self.func in ("ping", "pong", "txseq") and self.threads != 1:
            raise ValueError(f"{self.func} runs on one thread only")
        if self.engine not in ("ring", "kernel"):
            raise ValueError(f"engine={self.engine!r}: ring or kernel")
        if not isinstance(self.stamp, bool):
            raise TypeError(f"stamp={self.stamp!r}: True or False")
        cpus = os.cpu_count() or 1
        if self.cpu is not None and (isinstance(self.cpu, bool) or not isinstance(self.cpu, int)
                                     or not 0 <= self.cpu < cpus):
            raise ValueError(f"cpu={self.cpu!r}: a CPU number, 0 to {cpus - 1} here")
        if self.stamp and (self.func not in ("txseq", "rxseq") or self.engine == "kernel"):
            raise ValueError("stamp=True is for send(seq=True) on the ring engine and "
                             "receive(seq=True): one-way latency")
        if self.engine == "kernel" and (self.func not in ("tx", "txseq") or
                                        self.traffic.frames is not None):
            raise ValueError("engine='kernel' sends pkt-gen's frame (a Traffic of "
                             "parameters) with send(); use the ring engine for the rest")


class Run:
    """One running function on one port.  Start with start() (send()/receive() do),
    read intervals() while it runs, stop() or let it end, join(); result is set then.
    As a context manager: started on entry, stopped, joined and closed on exit."""

    def __init__(self, opts: _Options):
        opts.check()
        self._o = opts
        self._ports: list = []
        self._kernel = None
        self._given = None              # over(): (frames) of ports the caller opened
        self._core = runner.Run(runner.Job(
            func=opts.func, count=opts.count, duration=opts.duration, rate=opts.rate,
            exit_on_idle=opts.exit_on_idle, seed=opts.seed, burst=opts.burst,
            randomize=opts.traffic.randomize if opts.traffic else (False, False),
            stamp=opts.stamp, first_cpu=opts.cpu, cpus=os.cpu_count() or 1))
        self._fresh()

    def _fresh(self) -> None:
        """No result yet, no interval taken."""
        self.result: Result | None = None
        self._drops: dict = {}
        self.interval_rtt = (0, 0, 0, 0)    # ping: the last interval's (count, sum, min, max)
        self._last = (0, 0, 0, time.monotonic())

    @classmethod
    def over(cls, job: runner.Job, ports: list, frames: list, *, port: str,
             kernel=None, interval: float = 1.0) -> Run:
        """A run over ports (or a kernel program) the caller opened and closes: what a
        front-end that checks and opens ports itself (pktgen-nm) starts.  job says
        what each engine thread does, frames[i] is thread i's template."""
        self = cls.__new__(cls)
        self._o = _Options(job.func, port, count=job.count, duration=job.duration,
                           rate=job.rate, interval=interval, threads=max(1, len(ports)))
        self._ports, self._kernel, self._given = list(ports), kernel, list(frames)
        self._core = runner.Run(job)
        self._fresh()
        return self

    # -- life -----------------------------------------------------------------------
    def start(self, at: float | None = None) -> Run:
        """Open the ports, make the engine threads and start them; at: a wall-clock
        instant (time.time()) the threads start at, once the ports are open (runs on
        several hosts start together this way)."""
        if self._core.workers:
            raise RuntimeError("this run was started already")
        try:
            if self._given is not None:
                self._core.start(self._ports, self._given, _engine, self._kernel, at)
            elif self._o.engine == "kernel":
                self._core.job.threads = self._o.threads
                self._core.start([], self._open_kernel(), _engine, self._kernel, at)
            else:
                self._core.start(self._ports, self._open(), _engine, None, at)
        except BaseException:
            self._core.cancel()
            self._core.join()
            self._close()
            raise
        self._last = (0, 0, 0, time.monotonic())
        return self

    def _open(self) -> list:
        """Open the port (one per thread, a ring each); the template of each thread."""
        o = self._o
        spec = directed(netmap_py.PortSpec.parse(o.port), o.func)
        specs = [spec] if o.threads == 1 else [spec.with_ring(i) for i in range(o.threads)]
        rings = {} if o.threads == 1 else {"rings": o.threads}
        frames = (o.traffic.frames_for(o.func, o.threads, _mac_of(spec)) if o.traffic
                  else [(None, None)] * o.threads)
        self._core.job.pcap_frames = frames[0][1]
        for s in specs:
            self._ports.append(netmap_py.open(s, **rings, accept_vnet_hdr=True,
                                              low_latency=o.func in ("ping", "pong")))
        return [f for f, _ in frames]

    def _open_kernel(self) -> list:
        """The kernel engine's XDP program on the interface (no ports): its frames."""
        import socket
        o = self._o
        spec = netmap_py.PortSpec.parse(o.port)
        if spec.ifname is None or spec.backend in ("netmap", "loop") or spec.one_ring:
            raise ValueError(f"engine='kernel' sends on a Linux interface: name it alone "
                             f"(e.g. 'eth0'), not {o.port!r}")
        frame = o.traffic.frames_for(o.func, 1, _mac_of(spec))[0][0]
        if frame.max_len > KERNEL_MAX_FRAME:
            raise ValueError(f"engine='kernel': frames of {frame.max_len} bytes do not fit "
                             f"one XDP frame (at most {KERNEL_MAX_FRAME})")
        self._kernel = _engine.KernelProgram(frame, socket.if_nametoindex(spec.ifname),
                                             randomize=o.traffic.randomize,
                                             seq=o.func == "txseq", park=True)
        self._core.job.burst = min(self._core.job.burst, 64)
        return [frame] * o.threads

    @property
    def _workers(self) -> list:
        return self._core.workers

    @property
    def workers(self) -> list:
        """The engine's Worker of each thread (captured frames, RTT samples)."""
        return self._core.workers

    @property
    def ports(self) -> list:
        """The run's open ports (none once it closed them, or on the kernel engine)."""
        return list(self._ports)

    @property
    def errors(self) -> list:
        """[(thread, exception)] of the threads that ended on an error."""
        return [(i, e) for i, e in enumerate(self._core.errors) if e is not None]

    def alive(self) -> bool:
        return self._core.alive()

    def stop(self) -> None:
        self._core.cancel()

    def join(self, timeout: float | None = None) -> Result:
        """Wait for the end (stop() first to end it now); the ports are closed then.
        Raises what a worker raised, once the ports are closed."""
        self.finish(timeout)
        errors = [e for _, e in self.errors]
        if errors:
            raise errors[0]
        return self.result

    def finish(self, timeout: float | None = None) -> Result:
        """join() that leaves a worker's exception in errors instead of raising it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._core.threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self.alive():
            raise TimeoutError(f"the {self._o.func} run on {self._o.port} is still running")
        if self.result is None and self._workers:
            self.result = self._result()
            self._close()
        return self.result

    def _close(self) -> None:
        if self._given is not None:     # over(): the caller's ports
            return
        self._drops = runner.kernel_drops(self._ports)     # the last figures, kept
        for p in self._ports:
            p.close()
        self._ports = []
        if self._kernel is not None:
            self._kernel.close()
            self._kernel = None

    def __enter__(self) -> Run:
        return self if self._workers else self.start()

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            self.stop()
        elif self._o.count == 0 and self._o.duration == 0:
            self._linger()
        try:
            self.join()
        finally:
            if self.alive():        # an exception in join(): never leave threads behind
                self.stop()
                self._core.join()
            self._close()

    def _linger(self, quiet: float = 0.3, most: float = 5.0) -> None:
        """An endless run leaving its with-block: a receiver first takes what is still
        in flight (until quiet seconds pass without a packet, at most `most`)."""
        if self._o.func in ("rx", "rxseq"):
            last, seen, end = time.monotonic(), self.totals()[0], time.monotonic() + most
            while self.alive() and time.monotonic() < end and time.monotonic() - last < quiet:
                time.sleep(0.02)
                now = self.totals()[0]
                if now != seen:
                    seen, last = now, time.monotonic()
        self.stop()

    # -- numbers ----------------------------------------------------------------------
    def totals(self) -> tuple[int, int, int]:
        """(packets, bytes, batches) so far, summed over the threads."""
        return self._core.totals()

    @property
    def function(self) -> str:
        return self._o.func

    @property
    def started_at(self) -> float | None:
        """time.time() when the engine threads started (None before start())."""
        return self._core.started_at

    def kernel_drops(self) -> dict:
        """What the backends' kernel sides dropped on receive so far (Port.kernel_drops()
        summed over the run's ports; after the end, the last figures); {} where none
        counts any."""
        return runner.kernel_drops(self._ports) if self._ports else dict(self._drops)

    def rtt_histogram(self) -> tuple[int, int, list] | None:
        """ping, or receive(seq=True, stamp=True): (count, sum ns, log2 histogram) of the
        round trips or latencies so far; None for other runs or before start()."""
        if not self._workers or self._timed is None:
            return None
        return self._workers[0].rtt_histogram()

    @property
    def _timed(self) -> str | None:
        """What the engine times: "rtt" (ping), "latency" (stamped rxseq) or None."""
        if self._o.func == "ping":
            return "rtt"
        return "latency" if self._o.stamp and self._o.func == "rxseq" else None

    def sequence(self) -> dict | None:
        """receive(seq=True): its verdict so far (received, lost, reordered, duplicated,
        short, other: frames not UDP, not counted as ours); None for other functions."""
        return self._core.sequence() if self._o.func == "rxseq" and self._workers else None

    def intervals(self):
        """Yield an Interval every `interval` seconds while the run is alive, and a last
        one for what the final part of an interval saw."""
        step = self._o.interval
        while self._core.threads:
            end = time.monotonic() + step
            while self.alive() and time.monotonic() < end:
                time.sleep(min(0.05, max(0.0, end - time.monotonic())))
            yield self._interval()
            if not self.alive():
                return

    def _interval(self) -> Interval:
        pk, by, ev = self.totals()
        p0, b0, e0, t0 = self._last
        now = time.monotonic()
        self._last = (pk, by, ev, now)
        secs = max(now - t0, 1e-9)
        space, rtts = self._core.take_interval()
        self.interval_rtt = rtts[0] if rtts else (0, 0, 0, 0)
        from .report import Interval as Line
        line = Line(pk - p0, by - b0, ev - e0, int(secs * 1e6), space)
        return Interval(line.usec, line.pkts, line.bytes, line.events, line.pps(), line.bps(),
                        round(line.avg_batch(), 2), space)

    def _result(self) -> Result:
        pk, by, ev = self.totals()
        secs = self._core.seconds()
        seq = self._core.sequence() if self._o.func == "rxseq" else None
        rtt = None
        w0 = self._workers[0]
        if self._timed == "rtt":
            from .report import rtt_lines
            rtt = rtt_lines(w0.rtt(), w0.sample()[0])[1]
        elif self._timed == "latency":
            from .report import latency_stats
            rtt = latency_stats(w0.rtt())
        errors = [str(e) for e in self._core.errors if e is not None]
        errors += [os.strerror(w.error) for w in self._workers if w.error]
        cpu = [self._core.cpu[i] for i in sorted(self._core.cpu)]
        backend = self._ports[0].backend if self._ports else "kernel"
        return Result(self._o.func, self._o.port, backend, pk, by, ev,
                      round(secs, 6), pk / secs if secs else 0.0, rtt=rtt, sequence=seq,
                      cpu=cpu or None, errors=errors)


def _mac_of(spec) -> bytes:
    """The interface's MAC (pkt-gen's default source address), zeros without one."""
    if spec.ifname is None or spec.backend == "loop":
        return bytes(6)
    from netmap_py import checks

    from . import packet as P
    mac = checks.interface(spec.ifname).mac
    return P.parse_mac(mac) if mac else bytes(6)


def _run(func: str, port: str, traffic=None, **kw) -> Run:
    return prepare(func, port, traffic, **kw).start()


def prepare(func: str, port: str, traffic=None, **kw) -> Run:
    """A checked Run of any function (tx, rx, txseq, rxseq, ping, pong) not started
    yet: start() (or start(at=...)) opens its port and runs it."""
    if not isinstance(port, str):
        raise TypeError(f"port must be a str such as 'xdp:veth0', not {type(port).__name__}")
    unknown = set(kw) - {f.name for f in dataclasses.fields(_Options)}
    if unknown:
        raise TypeError(f"unknown argument(s): {', '.join(sorted(unknown))}")
    if func not in RUN_FUNCTIONS:
        raise ValueError(f"function {func!r}: one of {', '.join(RUN_FUNCTIONS)}")
    return Run(_Options(func, port, traffic, **kw))


def send(port: str, traffic: Traffic, *, seq: bool = False, **kw) -> Run:
    """Send traffic on port (tx; seq=True: txseq, numbered for a receive(seq=True)).
    count (packets, 0 = no limit), duration (s, 0 = no limit), rate (pps, 0 = as fast
    as the port takes), threads, burst, interval (s between intervals()), seed, cpu
    (thread i pinned to CPU cpu + i)."""
    return _run("txseq" if seq else "tx", port, traffic, **kw)


def receive(port: str, *, seq: bool = False, **kw) -> Run:
    """Count what arrives on port (rx; seq=True: rxseq, checks txseq numbering).
    count, duration, exit_on_idle (stop after 1 s without packets), threads, burst, cpu."""
    return _run("rxseq" if seq else "rx", port, None, **kw)


def ping(port: str, traffic: Traffic | None = None, **kw) -> Run:
    """Round trips against a pong(): result.rtt has min/avg/max and percentiles (ns)."""
    return _run("ping", port, traffic or Traffic(length=64), **kw)


def pong(port: str, **kw) -> Run:
    """Answer ping() on port (swap addresses, send back)."""
    return _run("pong", port, None, **kw)
