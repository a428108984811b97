"""Wait for a background process to say it is ready, shared by the test tiers."""
from __future__ import annotations

from pktgen_nm.labrun import wait_for_line as _wait


def wait_for_line(proc, word: str, timeout: float = 20.0) -> str | None:
    """Read proc.stderr until a line holds ``word`` (pktgen_nm.labrun.wait_for_line);
    on failure what was read is left in proc.early_err."""
    seen = _wait(proc.stderr, word, timeout)
    if seen is None:
        proc.early_err = _wait.seen
    return seen
