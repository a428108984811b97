"""The RFC 2544 report: an HTML page with the results per frame size, every trial, and
charts drawn with matplotlib (the optional extra netmap-py[report]): throughput against
frame size beside the line-rate curve, frame loss against offered load, back-to-back
bursts against frame size."""
from __future__ import annotations

import html
import json
import os
import time

from .rfc2544 import CRC, SearchResult, Setup


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ValueError("the report's charts need matplotlib: pip install "
                         "'netmap-py[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _mbit(pps: float, size: int) -> float:
    return pps * size * 8 / 1e6


def _save(plt, fig, ax, path: str, labels: tuple, grid: bool = True) -> bool:
    """A chart's labels (x, y, title), its grid and legend (grid=False: neither),
    written to path."""
    xlabel, ylabel, title = labels
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if grid:
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _chart_throughput(plt, results, link_mbit, path) -> bool:
    rs = sorted((r for r in results if r.test == "throughput"), key=lambda r: r.size)
    if not rs:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    sizes = [r.size for r in rs]
    ax.plot(sizes, [r.value or 0 for r in rs], "o-", label="throughput (zero loss)")
    if link_mbit:
        grid = list(range(min(sizes), max(sizes) + 1, 2))
        ax.plot(grid, [link_mbit * 1e6 / ((s + 20) * 8) for s in grid], "--",
                label=f"line rate ({link_mbit:g} Mbit/s)")
    ax.set_ylim(bottom=0)
    return _save(plt, fig, ax, path, ("frame size, bytes (with CRC)", "frames per second",
                                      "Throughput against frame size"))


def _chart_loss(plt, results, path) -> bool:
    rs = [r for r in results if r.test == "frame_loss"]
    if not rs:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in rs:
        ts = sorted((t for t in r.trials if t.valid), key=lambda t: t.offered)
        ax.plot([t.offered for t in ts], [t.loss_pct for t in ts], "o-", label=f"{r.size} B")
    return _save(plt, fig, ax, path, ("offered load, frames per second", "frames lost, %",
                                      "Frame loss rate against offered load"))


def _latency_of(r) -> list:
    """A latency result's trials that measured something, as their ns figures."""
    return [t.measured_latency for t in r.trials if t.test == "latency" and t.measured_latency]


def _chart_latency(plt, results, path) -> bool:
    rs = sorted((r for r in results if r.test == "latency" and _latency_of(r)),
                key=lambda r: r.size)
    if not rs:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    sizes = [r.size for r in rs]

    def mean_of(r, key):
        ls = _latency_of(r)
        return sum(x[key] for x in ls) / len(ls) / 1e3

    for key, style, label in (("avg_ns", "o-", "average"), ("p99_ns", "s--", "99th percentile"),
                              ("min_ns", "v:", "minimum"), ("max_ns", "^:", "maximum")):
        ax.plot(sizes, [mean_of(r, key) for r in rs], style, label=label)
    ax.set_yscale("log")
    return _save(plt, fig, ax, path, ("frame size, bytes (with CRC)",
                                      "one-way latency, microseconds (log)",
                                      "Latency at the throughput rate, mean over trials"))


def _chart_b2b(plt, results, path) -> bool:
    rs = sorted((r for r in results if r.test == "back_to_back"), key=lambda r: r.size)
    if not rs:
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar([str(r.size) for r in rs], [r.value or 0 for r in rs])
    return _save(plt, fig, ax, path, ("frame size, bytes (with CRC)",
                                      "longest burst without loss, frames",
                                      "Back-to-back frames"), grid=False)


def _summary_rows(results) -> str:
    rows = []
    for r in results:
        if r.value is None:
            val = "none"
        elif r.test == "throughput":
            val = f"{r.value:,.0f} fps ({_mbit(r.value, r.size):,.1f} Mbit/s)"
        elif r.test == "frame_loss":
            val = f"up to {r.value:.3f} % lost"
        elif r.test == "latency":
            ls = _latency_of(r)
            p99 = sum(x["p99_ns"] for x in ls) / len(ls) / 1e3
            val = f"{r.value:,.1f} us average, {p99:,.1f} us p99"
        else:
            val = f"{r.value:,.0f} frames"
        rows.append(f"<tr><td>{r.test}</td><td>{r.size}</td><td>{val}</td>"
                    f"<td>{html.escape(r.note)}</td></tr>")
    return "\n".join(rows)


def _trial_rows(results) -> str:
    rows = []
    for r in results:
        for t in r.trials:
            mark = "" if t.valid else f"invalid: {html.escape(t.why)}"
            lat = t.measured_latency
            us = "".join(f"<td>{lat[k] / 1e3:,.1f}</td>" if lat else "<td></td>"
                         for k in ("min_ns", "avg_ns", "p99_ns", "p99_9_ns", "max_ns"))
            rows.append(f"<tr><td>{t.test}</td><td>{t.size}</td><td>{t.rate:,.0f}</td>"
                        f"<td>{t.offered:,.0f}</td><td>{t.sent}</td><td>{t.received}</td>"
                        f"<td>{t.lost}</td><td>{t.loss_pct:.3f}</td>{us}<td>{mark}</td></tr>")
    return "\n".join(rows)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>RFC 2544: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }}
th {{ background: #eee; }} td:first-child, td:last-child, th:last-child {{ text-align: left; }}
.note {{ color: #a40; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>RFC 2544: {title}</h1>
<p>Frames leave <code>{tx}</code> and come back on <code>{rx}</code>, to {dst}.{both}
Trials of {duration:g} s{short}; sizes count the {crc}-byte CRC; {learning} learning
frames before each trial; search resolution {resolution:,.0f} fps from a maximum of
{max_rate:,.0f} fps. Made {when} by pktgen-nm.</p>
<h2>Results</h2>
<table><tr><th>test</th><th>size</th><th>result</th><th>note</th></tr>
{summary}
</table>
{charts}
<p>Latency is one-way: every frame of a latency trial carries its send time, taken
once per batch the sender queues, and the receiver takes its arrival time once per
batch it reads (both ports on one host, one clock). Software timestamps: the figures
include both hosts' batching and wake-ups, microseconds here, not a NIC's nanoseconds.</p>
<h2>Every trial</h2>
<table><tr><th>test</th><th>size</th><th>rate asked</th><th>offered</th><th>sent</th>
<th>received</th><th>lost</th><th>lost %</th><th>min us</th><th>avg us</th><th>p99 us</th>
<th>p99.9 us</th><th>max us</th><th></th></tr>
{trials}
</table>
</body></html>
"""


def _both_ways(s: Setup) -> str:
    if len(s.ways) == 1:
        return ""
    back = s.ways[1]
    return (f" Both directions at once: frames also leave <code>{html.escape(back.tx)}</code> "
            f"for {html.escape(back.dst_mac)} and come back on "
            f"<code>{html.escape(back.rx)}</code>; rates are per direction, frame counts "
            f"are both directions' sums.")


def write(results: list[SearchResult], s: Setup, folder: str, *, title: str = "",
          link_mbit: float | None = None) -> str:
    """Write folder/report.html, its PNG charts and results.json; the page's path."""
    plt = _plt()
    os.makedirs(folder, exist_ok=True)
    charts = []
    for name, draw, alt in (
            ("throughput.png", lambda p: _chart_throughput(plt, results, link_mbit, p),
             "throughput against frame size"),
            ("latency.png", lambda p: _chart_latency(plt, results, p),
             "latency against frame size"),
            ("loss.png", lambda p: _chart_loss(plt, results, p), "loss against offered load"),
            ("back_to_back.png", lambda p: _chart_b2b(plt, results, p), "back-to-back bursts")):
        if draw(os.path.join(folder, name)):
            charts.append(f'<p><img src="{name}" alt="{alt}"></p>')
    page = PAGE.format(
        title=html.escape(title or f"{s.tx} to {s.rx}"), tx=html.escape(s.tx),
        rx=html.escape(s.rx), dst=html.escape(s.dst_mac), duration=s.duration,
        both=_both_ways(s),
        short=" (shorter than the RFC's 60 s)" if s.duration < 60 else "", crc=CRC,
        learning=s.learning, resolution=s.resolution, max_rate=s.max_rate,
        when=time.strftime("%Y-%m-%d %H:%M"), summary=_summary_rows(results),
        charts="\n".join(charts), trials=_trial_rows(results))
    path = os.path.join(folder, "report.html")
    with open(path, "w") as f:
        f.write(page)
    with open(os.path.join(folder, "results.json"), "w") as f:
        json.dump([r.to_dict() for r in results], f, indent=1)
    return path
