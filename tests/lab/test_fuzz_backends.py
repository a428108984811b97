"""The API fuzzer (tests/apifuzz.py) on the lab's real backends: random call sequences
on packet: and xdp: ports in a namespace, run as a child so a crash is seen as one."""
import json
import os
import subprocess
import sys

import pytest
from labutil import ENV, ROOT


@pytest.mark.parametrize("backend,slots", [("packet", "64,256"), ("xdp", "64,256")])
def test_random_api_sequences_on_a_veth(lab, backend, slots):
    script = os.path.join(ROOT, "tests", "apifuzz.py")
    r = subprocess.run(lab.cmd("A", [sys.executable, script, "--prefix",
                                     f"{backend}:{lab.dev_a}", "--slots", slots,
                                     "--examples", "15"]),
                       capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["ports_opened"] > 0
    assert result["ports_open"] == 0 and result["views_alive"] == 0
