"""pkt-gen's report lines (facts 3.13), formatted from plain numbers.

Nothing here touches a port: the engine's counters go in, strings come out, so
every format is unit-tested without packets.
"""
from __future__ import annotations

import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field

UNITS = ("", "K", "M", "G", "T")


def norm(value: float, normalize: bool = True) -> str:
    """pkt-gen's number format: '14.880 M', '999.000 ', or raw '14880967 ' with -N."""
    if not normalize:
        return f"{value:.0f} "
    i = 0
    while value >= 1000 and i < 4:
        value /= 1000
        i += 1
    return f"{value:.3f} {UNITS[i]}"


def prefix(func: str = "main_thread", line: int = 0, now: float | None = None) -> str:
    """pkt-gen's log prefix: seconds mod 1000, microseconds, function, line."""
    now = time.time() if now is None else now
    sec = int(now)
    usec = int(round((now - sec) * 1e6))
    if usec == 1000000:
        sec, usec = sec + 1, 0
    return f"{sec % 1000:03d}.{usec:06d} {func} [{line}] "


@dataclass
class Interval:
    pkts: int
    bytes: int
    events: int
    usec: int
    min_space: int | None

    def pps(self) -> int:
        return (self.pkts * 1000000 + self.usec // 2) // self.usec if self.usec else 0

    def bps(self, framing_bits: int = 0) -> float:
        return 1e6 * (self.bytes * 8 + self.pkts * framing_bits) / self.usec if self.usec else 0.0

    def avg_batch(self) -> float:
        return self.pkts / self.events if self.events else 0.0


@dataclass
class Reporter:
    """Keeps the previous sample and the -A window; formats lines."""

    normalize: bool = True
    framing_bits: int = 0  # 192 with -B
    window: bool = False  # -A
    threads: int = 1
    samples: deque = field(default_factory=lambda: deque(maxlen=15))
    lines: int = 0

    def min_space_text(self, value: int | None) -> int:
        """pkt-gen's wording for "no value" (a sender, or a receiver that saw no ring):
        0 on the first line, then the counter it resets to, 99999 per thread."""
        if value is not None:
            return value
        return 0 if self.lines == 0 else 99999 * self.threads

    def line(self, iv: Interval) -> str:
        pps = iv.pps()
        stats = ""
        if self.window:
            if pps:
                self.samples.append(pps)
            if self.samples:
                n = len(self.samples)
                avg = sum(self.samples) / n
                std = math.sqrt(sum((x - avg) ** 2 for x in self.samples) / n)
                stats = f"[avg/std {norm(avg, self.normalize)}/{norm(std, self.normalize)} pps]"
        ms = self.min_space_text(iv.min_space)
        self.lines += 1
        return (f"{norm(pps, self.normalize)}pps {stats}({norm(iv.pkts, self.normalize)}pkts "
                f"{norm(iv.bps(self.framing_bits), self.normalize)}bps in {iv.usec} usec) "
                f"{iv.avg_batch():.2f} avg_batch {ms} min_space")


def summary(verb: str, totals: tuple, seconds: float, normalize: bool = True,
            framing_bits: int = 0) -> list[str]:
    """The final two lines ('Sent ... packets ...', 'Speed: ...'), or 'X nothing.';
    totals: (packets, bytes, batches)."""
    pkts, nbytes, events = totals
    if pkts == 0:
        return [f"{verb} nothing."]
    secs = seconds if seconds > 0 else 1e-9
    pps = pkts / secs
    bw = 8 * nbytes / secs
    raw = (8 * nbytes + pkts * framing_bits) / secs
    return [
        f"{verb} {pkts} packets {nbytes} bytes {events} events {nbytes // pkts} bytes each "
        f"in {seconds:.2f} seconds.",
        f"Speed: {norm(pps, normalize)}pps Bandwidth: {norm(bw, normalize)}bps "
        f"(raw {norm(raw, normalize)}bps). Average batch: {pkts / events if events else 0:.2f} pkts",
    ]


def log(msg: str, func: str = "main", line: int | None = None, stream=None) -> None:
    """A pkt-gen style diagnostic line on stderr; [line] is the caller's source line,
    as pkt-gen's D() prints its own."""
    stream = stream or sys.stderr
    if line is None:
        line = sys._getframe(1).f_lineno
    stream.write(prefix(func, line) + msg + "\n")
    stream.flush()


def percentile(sorted_vals: list[int], q: float) -> int:
    """Nearest-rank percentile of an already sorted list (q in 0..100)."""
    if not sorted_vals:
        return 0
    rank = math.ceil(round(q * len(sorted_vals) / 100, 9))  # round: 99.9% of 1000 is 999
    k = max(0, min(len(sorted_vals) - 1, rank - 1))
    return sorted_vals[k]


def latency_stats(rtt: dict) -> dict:
    """A Worker's rtt() as ns figures: count, min/avg/max and percentiles (of the
    samples kept), {"count": 0} when none came."""
    n = rtt["count"]
    if not n:
        return {"count": 0}
    s = sorted(rtt["samples"])
    pct = {p: percentile(s, p) for p in (50, 90, 99, 99.9)}
    return {"count": n, "min_ns": rtt["min"], "avg_ns": rtt["sum"] // n, "max_ns": rtt["max"],
            "p50_ns": pct[50], "p90_ns": pct[90], "p99_ns": pct[99], "p99_9_ns": pct[99.9],
            "samples_used": len(s)}


def rtt_lines(rtt: dict, sent: int) -> tuple[list[str], dict]:
    """Final ping lines: pkt-gen's 'RTT over N packets' line, then ours."""
    n = rtt["count"]
    if not n:
        return [f"RTT over {sent} packets: no reply"], {"count": 0, "sent": sent}
    st = latency_stats(rtt)
    out = {"count": n, "sent": sent, "lost": max(0, sent - rtt["replies"]),
           **{k: v for k, v in st.items() if k != "count"}}
    avg = st["avg_ns"]
    lines = [
        f"RTT over {sent} packets: min {rtt['min']} av {avg} ns",
        f"RTT: {n} replies ({out['lost']} lost); min {rtt['min']} avg {avg} max {rtt['max']} ns; "
        f"p50 {st['p50_ns']} p90 {st['p90_ns']} p99 {st['p99_ns']} p99.9 {st['p99_9_ns']} ns",
    ]
    hist = rtt["hist"]
    used = [i for i, c in enumerate(hist) if c]
    if used:
        lines.append("RTT histogram (ns, log2 buckets):")
        top = max(hist)
        for i in range(used[0], used[-1] + 1):
            bar = "#" * (0 if not hist[i] else max(1, round(40 * hist[i] / top)))
            lines.append(f"  {1 << i:>12} .. {(1 << (i + 1)) - 1:<12} {hist[i]:>10} {bar}")
        out["hist"] = {str(1 << i): hist[i] for i in used}
    return lines, out


def dump_lines(ring: int, slot: int, buf: int, flags: int, data: bytes) -> list[str]:
    """pkt-gen's -X dump of one slot: a header, then 16 bytes a line with the
    printable characters from column 55."""
    lines = [f"ring {ring} cur {slot:5d} [buf {buf:6d} flags 0x{flags:04x} len {len(data):5d}]"]
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexes = "".join(f"{b:02x} " for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:5d}: {hexes:<48}{text}")
    return lines
