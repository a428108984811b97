"""The run core under both the commands and the Python API: a Job (what each engine
thread does) and a Run (the Worker threads of pktgen_nm._engine, their counters and
their end).  Nothing here parses options or prints reports."""
from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass

from .report import log


@dataclass
class Job:
    """What every engine thread of a run does (a run's totals are split over them)."""

    func: str
    count: int = 0                      # packets in all, 0: no limit
    duration: float = 0.0               # seconds, 0: no limit
    rate: float = 0.0                   # packets per second in all, 0: no limit
    exit_on_idle: bool = False
    seed: int = 0                       # 0: from the clock
    burst: int = 512
    randomize: tuple = (False, False)   # random source, random destination
    copy_always: bool = False
    rubbish: bool = False
    pcap_frames: list | None = None     # frames sent in turn instead of the template
    capture: int = 0                    # frames each thread keeps a copy of
    frags: int = 1
    max_frag: int = 0
    vnet: int = 0                       # virtio-net header bytes
    indirect: bool = False
    first_cpu: int | None = None        # thread i on CPU (first_cpu + i) % cpus
    cpus: int = 1
    threads: int = 1                    # kernel engine: its threads (no ports)
    stamp: bool = False                 # txseq/rxseq: send times, one-way latency


BACKEND_NAMES = {"xdp": "AF_XDP", "packet": "AF_PACKET", "netmap": "netmap", "loop": "loop:"}


class Run:
    """The engine threads of one run: one Worker per port (or per kernel-engine
    thread), started together, sampled while they run, cancelled and joined."""

    def __init__(self, job: Job):
        self.job = job
        self.workers = []
        self.threads = []
        self.tids: list[int | None] = []
        self.cpu: dict[int, dict] = {}
        self.errors: list[BaseException | None] = []
        self.backend = ""
        self.ports: list = []
        self.started_at: float | None = None    # time.time() when the threads started

    def start(self, ports, frames, engine, kernel=None, at: float | None = None) -> None:
        """One Worker per port with frames[i] (or kernel-engine threads); raises
        ValueError before any thread starts where the engine refuses the job.  at: a
        wall-clock instant (time.time()) the threads start at, once all is ready."""
        j = self.job
        T = len(ports) if kernel is None else j.threads
        self.backend = ports[0].backend if kernel is None else "kernel"
        self.ports = ports
        for i, port in enumerate(ports if kernel is None else [None] * T):
            n_i = j.count // T + (1 if i < j.count % T else 0) if j.count else 0
            if j.count and n_i == 0:
                n_i = -1  # nothing to do for this thread
            w = engine.Worker(port, j.func, engine.WorkerOptions(
                frame=frames[i], burst=j.burst, limit=max(n_i, 0), duration=j.duration,
                rate=j.rate / T if j.rate else 0, exit_on_idle=j.exit_on_idle,
                seed=(j.seed or time.monotonic_ns()) + i * 7919, randomize=j.randomize,
                copy_always=j.copy_always, rubbish=j.rubbish, pcap_frames=j.pcap_frames,
                capture=j.capture, kernel=kernel, frags=j.frags, max_frag=j.max_frag,
                vhdr=j.vnet, indirect=j.indirect, stamp=j.stamp))
            nfr, size = w.fragments
            if nfr > 1 and i == 0:
                if nfr > port.max_frags:
                    most = ("one buffer" if port.max_frags == 1 else
                            f"at most {port.max_frags} buffers")
                    raise ValueError(
                        f"{BACKEND_NAMES.get(port.backend, port.backend)} sends {most} per "
                        f"packet, and these packets take {nfr} pieces of {size} bytes (-F/-M, "
                        "or frames larger than a buffer): use a packet: or netmap: port")
                log(f"frags {nfr} frag_size {size}")
            self.workers.append(w)
            self.tids.append(None)
            self.errors.append(None)
            if n_i == -1:
                continue
            t = threading.Thread(target=self._thread, args=(i, w), name=f"pktgen-{i}", daemon=True)
            self.threads.append(t)
        if at is not None:
            wait_until(at)
        self.started_at = time.time()
        for t in self.threads:
            t.start()

    def _thread(self, i: int, w) -> None:
        self.tids[i] = threading.get_native_id()
        a, cpus = self.job.first_cpu, self.job.cpus
        if a is not None:
            try:
                os.sched_setaffinity(0, {(a + i) % cpus})
            except OSError as e:
                log(f"cannot pin thread {i} to CPU {(a + i) % cpus}: {e.strerror}")
        try:
            w.run()
        except BaseException as e:  # reported by the main thread
            self.errors[i] = e
        finally:
            ru = resource.getrusage(resource.RUSAGE_THREAD)
            self.cpu[i] = {"thread": i, "user_s": round(ru.ru_utime, 3),
                           "system_s": round(ru.ru_stime, 3)}

    def alive(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def cancel(self) -> None:
        for w in self.workers:
            w.cancel()

    def join(self) -> None:
        for t in self.threads:
            t.join()

    def totals(self):
        pk = by = ev = 0
        for w in self.workers:
            a, b, c = w.sample()
            pk, by, ev = pk + a, by + b, ev + c
        return pk, by, ev

    def seconds(self) -> float:
        """First packet of any thread to the last one's end (0 before any started)."""
        starts = [w.start_ns for w in self.workers if w.started]
        ends = [w.end_ns for w in self.workers if w.started]
        return (max(ends) - min(starts)) / 1e9 if starts and max(ends) > min(starts) else 0.0

    def sequence(self) -> dict:
        """rxseq's verdict summed over the threads."""
        st = [w.seq_stats() for w in self.workers]
        return {k: sum(s[k] for s in st) for k in st[0]}

    def take_interval(self) -> tuple[int | None, list]:
        """End the report interval on every worker: (summed min_space or None when no
        thread saw a ring, each thread's RTT (count, sum, min, max))."""
        ivs = [w.take_interval() for w in self.workers]
        spaces = [v["min_space"] for v in ivs if v["min_space"] is not None]
        return (sum(spaces) if spaces else None), [v["rtt"] for v in ivs]


def wait_until(at: float) -> None:
    """Return at the wall-clock instant at (time.time()), to well under a millisecond:
    sleep most of the way, then look at the clock."""
    while True:
        left = at - time.time()
        if left <= 0:
            return
        if left > 0.002:
            time.sleep(left - 0.0015)


def kernel_drops(ports) -> dict:
    """What the backends' kernel sides dropped on receive, summed over the ports
    (Port.kernel_drops()); empty where no backend counts any."""
    out: dict = {}
    for p in ports:
        for k, v in p.kernel_drops().items():
            out[k] = out.get(k, 0) + v
    return out
