"""Wait for a background process to say it is ready, shared by the test tiers."""
from __future__ import annotations

import select
import time


def wait_for_line(proc, word: str, timeout: float = 20.0) -> str | None:
    """Read proc.stderr until a line holds ``word``; return what was read up to and
    including it, or None when the process ended or the time ran out first (what
    was read is then in the AssertionError the callers raise)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stderr], [], [], 0.2)
        if not r:
            continue
        line = proc.stderr.readline()
        seen += line
        if word in line:
            return seen
        if not line:
            break
    proc.early_err = seen
    return None
