"""What a run reports, as dataclasses: the objects the Python API returns and, through
to_dict(), the JSON lines `pktgen-nm --json` prints (one schema, its version in every
object).  A Result's fields that do not apply to a run are None and left out of
to_dict(); an Interval always has every field."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SCHEMA = 1


def _dict(obj, kind: str) -> dict:
    d = {"schema": SCHEMA, "type": kind}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is not None:
            d[f.name] = v
    return d


@dataclass(frozen=True)
class Interval:
    """One report interval, summed over the run's threads.  min_space: receivers'
    least free ring space seen (None: no ring seen); wire: the interface's counters'
    deltas (commands only)."""

    usec: int
    pkts: int
    bytes: int
    events: int
    pps: float
    bps: float                          # bits per second, frames without CRC
    avg_batch: float
    min_space: int | None = None
    wire: dict | None = None

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "type": "interval", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Result:
    """A finished run.  sequence: rxseq's verdict (received, lost, reordered,
    duplicated, short); rtt: ping's round trips in ns (count, lost, min/avg/max,
    percentiles), or with receive(seq=True, stamp=True) the one-way latency of the
    stamped frames (count, min/avg/max, percentiles; ns); wire, kernel_drops, cpu,
    pcap_out: as the command reports them; errors: what ended threads early (strings)."""

    function: str
    port: str
    backend: str
    pkts: int
    bytes: int
    events: int
    seconds: float
    pps: float
    interrupted: bool = False
    rtt: dict | None = None
    sequence: dict | None = None
    wire: dict | None = None
    kernel_drops: dict | None = None
    cpu: list | None = None
    pcap_out: dict | None = None
    errors: list | None = None

    @property
    def bps(self) -> float:
        return 8 * self.bytes / self.seconds if self.seconds else 0.0

    @property
    def lost(self) -> int | None:
        """rxseq: packets missing from the sequence (None for other functions)."""
        return self.sequence["lost"] if self.sequence else None

    def to_dict(self) -> dict:
        return _dict(self, "final")
