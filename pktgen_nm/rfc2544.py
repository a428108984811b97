"""RFC 2544 device benchmarks on the run API: frames leave one port, cross the device
under test and come back on another.  Each trial is a txseq run on the sending port
and an rxseq run on the receiving one, so loss, reordering and duplicates are counted
frame by frame (RFC 2544 section 26: throughput, latency, frame loss rate,
back-to-back).  For latency every frame carries its send time, and the receiver
takes each one's one-way latency (both ports on one host, one clock).

    from pktgen_nm.rfc2544 import Setup, throughput
    s = Setup(tx="xdp:t1", rx="xdp:t2", dst_mac="02:..", max_rate=200_000, duration=2)
    print(throughput(s, 64))

Frame sizes are the RFC's, with the 4-byte CRC: a 64-byte frame is sent as 60 bytes.
A trial whose offered load fell short of the rate asked (the generator could not
keep up) is marked invalid, never taken for the device's limit.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field

from .api import receive, send
from .lab import in_netns
from .results import SCHEMA
from .traffic import Traffic

SIZES = (64, 128, 256, 512, 1024, 1280, 1518)
CRC = 4
OFFERED_SLACK = 0.98            # a trial offered less than this share of its rate: invalid
RATE_MIN_FRAMES = 1000          # fewer frames than this: too few to measure their rate


@dataclass(frozen=True)
class Setup:
    """Where the traffic goes and how trials run.  tx/rx: port names (opened inside
    network namespaces tx_netns / rx_netns when given); dst_mac: the device's (or the
    receiver's) MAC; max_rate: packets per second the search starts from; duration:
    seconds a trial (the RFC's 60 by default); resolution: the search ends when its
    bounds are this close, pps; pause: seconds between trials; learning: frames sent
    from the receiving port before each trial (RFC 2544 section 23; 0: none).
    Both directions at once: back_dst_mac, where the frames from the receiving side
    go; they leave back_tx (default rx) and come back on back_rx (default tx), and
    rates are per direction."""

    tx: str
    rx: str
    dst_mac: str
    max_rate: float
    duration: float = 60.0
    resolution: float = 1000.0
    pause: float = 0.5
    learning: int = 10
    tx_netns: str | None = None
    rx_netns: str | None = None
    trials: int = 2                 # back-to-back: repetitions of the longest burst
    engine: str = "ring"            # kernel: the kernel engine sends (tx names an interface)
    back_dst_mac: str | None = None
    back_tx: str | None = None
    back_rx: str | None = None

    @property
    def ways(self) -> list[Way]:
        """The directions a trial sends in: this way, and back where asked."""
        out = [Way(self.tx, self.tx_netns, self.rx, self.rx_netns, self.dst_mac)]
        if self.back_dst_mac:
            out.append(Way(self.back_tx or self.rx, self.rx_netns, self.back_rx or self.tx,
                           self.tx_netns, self.back_dst_mac))
        return out

    def check(self) -> None:
        for name in ("max_rate", "duration", "resolution"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 \
                    or v != v or v == float("inf"):
                raise ValueError(f"{name}={v!r}: give a finite number > 0")
        if not 0 <= self.pause <= 3600:
            raise ValueError(f"pause={self.pause!r}: 0 to 3600 seconds")
        if not isinstance(self.learning, int) or not 0 <= self.learning <= 10000:
            raise ValueError(f"learning={self.learning!r}: 0 to 10000 frames")
        if not isinstance(self.trials, int) or not 1 <= self.trials <= 100:
            raise ValueError(f"trials={self.trials!r}: 1 to 100")
        if self.engine not in ("ring", "kernel"):
            raise ValueError(f"engine={self.engine!r}: ring or kernel")
        if self.resolution >= self.max_rate:
            raise ValueError(f"resolution {self.resolution:g} pps is not below max_rate "
                             f"{self.max_rate:g} pps")
        if (self.back_tx or self.back_rx) and not self.back_dst_mac:
            raise ValueError("back_tx/back_rx need back_dst_mac (both directions at once)")


@dataclass(frozen=True)
class Way:
    """One direction of a trial: frames leave tx (inside tx_netns) for dst_mac and
    come back on rx (inside rx_netns)."""

    tx: str
    tx_netns: str | None
    rx: str
    rx_netns: str | None
    dst_mac: str


def line_rate(ifname: str | None, size: int) -> float | None:
    """Frames per second of size bytes an interface's link carries (its speed with
    the 20 bytes of preamble and gap a frame), None where the speed is not known."""
    if not ifname:
        return None
    try:
        with open(f"/sys/class/net/{ifname}/speed") as f:
            mbit = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return mbit * 1e6 / ((size + 20) * 8) if mbit > 0 else None


def check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 64 <= size <= 9018:
        raise ValueError(f"frame size {size!r}: give 64 to 9018 bytes (with CRC), "
                         f"e.g. {', '.join(map(str, SIZES))}")
    return size


@dataclass(frozen=True)
class Trial:
    """One trial: rate asked (pps), frames sent and received, what the generator really
    offered (pps), and whether the trial counts (valid)."""

    test: str
    size: int
    rate: float
    sent: int
    received: int
    offered: float
    seconds: float
    reordered: int = 0
    duplicated: int = 0
    valid: bool = True
    why: str = ""
    latency: dict | None = None     # latency trials: one-way, ns (count, min/avg/max, pNN)
    directions: list | None = None  # both ways at once: each way's tx, rx, sent, received

    @property
    def lost(self) -> int:
        return max(0, self.sent - self.received)

    @property
    def measured_latency(self) -> dict | None:
        """A valid latency trial's figures when stamped frames came back, else None."""
        lat = self.latency
        return lat if self.valid and lat and lat.get("count") else None

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost / self.sent if self.sent else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "lost": self.lost, "loss_pct": round(self.loss_pct, 4)}


def _inside(netns: str | None):
    return in_netns(netns) if netns else contextlib.nullcontext()


def _learn(s: Setup, size: int) -> None:
    """Learning frames (section 23): each receiving port speaks first, so that a
    learning device knows where its address is."""
    if not s.learning:
        return
    for w in s.ways:
        with _inside(w.rx_netns):
            run = send(w.rx, Traffic(length=size - CRC), count=s.learning, rate=10_000)
        run.join(timeout=30)


def trial(s: Setup, size: int, rate: float, *, count: int = 0, test: str = "throughput") -> Trial:
    """One trial at rate pps (each way) for s.duration seconds (or exactly count
    frames); a latency trial stamps every frame (on the ring engine: the kernel's
    does not)."""
    _learn(s, size)
    stamp, ways = test == "latency", s.ways
    with contextlib.ExitStack() as receivers:
        rxs = []
        for w in ways:
            with _inside(w.rx_netns):
                rxs.append(receivers.enter_context(receive(w.rx, seq=True, stamp=stamp)))
        stale = [_quiet(rx) for rx in rxs]
        txs = []
        for w in ways:                  # both ways start before either is waited for
            with _inside(w.tx_netns):
                txs.append(send(w.tx, Traffic(length=size - CRC, dst_mac=w.dst_mac), seq=True,
                                rate=rate, count=count, duration=0 if count else s.duration,
                                engine="ring" if stamp else s.engine, stamp=stamp))
        for tx in txs:
            with tx:
                pass
    per = [_way_figures(s, count, tx, rx, st) for tx, rx, st in zip(txs, rxs, stale)]
    t = Trial(test, size, rate, sum(p["sent"] for p in per), sum(p["received"] for p in per),
              min(p["offered"] for p in per), max(p["seconds"] for p in per),
              sum(p["reordered"] for p in per), sum(p["duplicated"] for p in per),
              latency=rxs[0].result.rtt if stamp else None,
              directions=[{"tx": w.tx, "rx": w.rx, **p} for w, p in zip(ways, per)]
              if len(ways) > 1 else None)
    want = count if count else rate * s.duration
    # a rate needs enough frames to be measured: short bursts are judged by count only
    short = [p for p in per if p["sent"] < OFFERED_SLACK * want or (
        p["sent"] >= RATE_MIN_FRAMES and p["offered"] < OFFERED_SLACK * rate)]
    if short:
        t = Trial(**{**asdict(t), "valid": False, "why": f"the generator offered "
                     f"{short[0]['offered']:,.0f} pps of {rate:,.0f} asked"})
    time.sleep(s.pause)
    return t


def _way_figures(s: Setup, count: int, tx, rx, stale: int) -> dict:
    """One direction's sent, received, offered pps, seconds, reordered, duplicated."""
    sent, secs = tx.result.pkts, tx.result.seconds
    seq = rx.result.sequence or {}
    # a timed trial's sending ends at s.duration; what follows is the wait for the port
    # to drain its queue, which is not time the generator had to offer frames in
    span = min(secs, s.duration) if not count else secs
    return {"sent": sent, "received": max(0, seq.get("received", 0) - stale),
            "offered": round(sent / span if span else 0.0, 1), "seconds": round(secs, 3),
            "reordered": seq.get("reordered", 0), "duplicated": seq.get("duplicated", 0)}


def _quiet(rx, quiet: float = 0.2, most: float = 2.0) -> int:
    """Let what an earlier trial left in flight arrive before this one starts; how
    many numbered frames that was (not this trial's; a neighbour's ARP or ICMPv6 is
    not counted as numbered)."""
    def numbered() -> int:
        return (rx.sequence() or {}).get("received", 0)

    end, seen, last = time.monotonic() + most, numbered(), time.monotonic()
    while time.monotonic() < end and time.monotonic() - last < quiet:
        time.sleep(0.02)
        now = numbered()
        if now != seen:
            seen, last = now, time.monotonic()
    return seen


@dataclass
class SearchResult:
    """A test's answer for one frame size, and every trial that led to it."""

    test: str
    size: int
    value: float | None             # throughput pps / burst frames; None: none found
    trials: list = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "type": "rfc2544", "test": self.test, "size": self.size,
                "value": self.value, "note": self.note,
                "trials": [t.to_dict() for t in self.trials]}


def throughput(s: Setup, size: int, progress=None) -> SearchResult:
    """Section 26.1: the highest rate with zero loss, by binary search between 0 and
    s.max_rate until the bounds are s.resolution apart."""
    s.check()
    check_size(size)
    res = SearchResult("throughput", size, None)
    lo, hi, rate = 0.0, float(s.max_rate), float(s.max_rate)
    limit = ""                          # why the upper bound is where it is, if not loss
    while True:
        t = trial(s, size, rate)
        res.trials.append(t)
        if progress:
            progress(t)
        if not t.valid:
            hi = rate                   # the generator's limit, not the device's
            limit = t.why
        elif t.lost == 0:
            lo = rate
        else:
            hi, limit = rate, ""
        if lo == s.max_rate or hi - lo <= s.resolution:
            break
        rate = (lo + hi) / 2
    if lo == 0:
        res.note = limit or f"no rate down to {hi:,.0f} pps crossed the device without loss"
        return res
    if limit:
        res.note = f"a lower bound: {limit}"
    res.value = lo
    return res


def frame_loss(s: Setup, size: int, progress=None, step: float = 0.1) -> SearchResult:
    """Section 26.3: loss at 100 %, 90 %, ... of s.max_rate, until two successive
    trials lose nothing."""
    s.check()
    check_size(size)
    res = SearchResult("frame_loss", size, None)
    clean = 0
    for k in range(int(round(1 / step))):
        t = trial(s, size, s.max_rate * (1 - k * step), test="frame_loss")
        res.trials.append(t)
        if progress:
            progress(t)
        clean = clean + 1 if t.valid and t.lost == 0 else 0
        if clean == 2:
            break
    res.value = max((t.loss_pct for t in res.trials if t.valid), default=None)
    return res


def back_to_back(s: Setup, size: int, progress=None) -> SearchResult:
    """Section 26.4: the longest burst at s.max_rate with zero loss (binary search on
    the burst's length, from s.duration seconds' worth down), repeated s.trials times;
    the value is the trials' average."""
    s.check()
    check_size(size)
    res = SearchResult("back_to_back", size, None)
    longest = []
    for _ in range(s.trials):
        lo, hi = 0, max(2, int(s.max_rate * s.duration))
        n = hi
        while hi - lo > max(1, hi // 100):
            t = trial(s, size, s.max_rate, count=n, test="back_to_back")
            res.trials.append(t)
            if progress:
                progress(t)
            if t.valid and t.lost == 0:
                lo = n
                if n == hi:
                    break
            else:
                hi = n
            n = (lo + hi) // 2
        longest.append(lo)
    res.value = sum(longest) / len(longest) if any(longest) else None
    if res.value is None:
        res.note = "every burst lost frames"
    elif any(not t.valid for t in res.trials):
        res.note = ("longer bursts were not offered at the full rate (the generator's "
                    "limit): the value is a lower bound")
    return res


def latency(s: Setup, size: int, progress=None, rate: float | None = None) -> SearchResult:
    """Section 26.2: at the throughput rate (rate, else found first by throughput()),
    s.trials trials of s.duration seconds with every frame stamped; the value is the
    average of the trials' mean latencies, in microseconds.  The RFC's 20 trials of
    120 s (one tagged frame each) become fewer, shorter ones where every frame is
    measured: the trials' min/avg/max and percentiles are in res.trials."""
    s.check()
    check_size(size)
    res = SearchResult("latency", size, None)
    if rate is None:
        found = throughput(s, size, progress)
        res.trials.extend(found.trials)
        if found.value is None:
            res.note = f"no throughput to measure latency at: {found.note}"
            return res
        rate = found.value
    means = []
    for _ in range(s.trials):
        t = trial(s, size, rate, test="latency")
        res.trials.append(t)
        if progress:
            progress(t)
        if t.measured_latency:
            means.append(t.measured_latency["avg_ns"])
    if not means:
        res.note = f"no valid trial at {rate:,.0f} pps brought a stamped frame back"
        return res
    res.value = round(sum(means) / len(means) / 1000, 3)
    res.note = f"at {rate:,.0f} pps" + (
        "; the kernel engine does not stamp frames: the ring engine sent these"
        if s.engine == "kernel" else "")
    return res


TESTS = {"throughput": throughput, "latency": latency, "frame_loss": frame_loss,
         "back_to_back": back_to_back}


def run_tests(s: Setup, tests, sizes, progress=None):
    """Yield each test's SearchResult at each size, tests in the order given; latency
    runs at the throughput found earlier in the same run (searched first where
    throughput was not asked for)."""
    found = {}
    for test in tests:
        for size in sizes:
            if test == "latency" and size in found:
                r = (latency(s, size, progress, rate=found[size]) if found[size] else
                     SearchResult("latency", size, None,
                                  note="no throughput at this size to measure latency at"))
            else:
                r = TESTS[test](s, size, progress)
            if test == "throughput":
                found[size] = r.value
            yield r
