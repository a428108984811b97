"""pktgen-nm --metrics-port: a Prometheus endpoint scraped while a run goes on; its
counters grow and end where the final summary does."""
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from pktgen_nm import cli

parser = pytest.importorskip("prometheus_client.parser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict | None:
    """{(name, labels...): value} of one scrape, None when nobody answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def packets(m: dict) -> float:
    return next(v for (name, _), v in m.items() if name == "pktgen_packets_total")


def test_scraped_during_a_run_the_counters_grow_and_match_the_summary():
    n, port = 300_000, free_port()
    p = subprocess.Popen([sys.executable, "-m", "pktgen_nm.cli", "-i", "loop:mx", "-f", "tx",
                          "-R", "100000", "-n", str(n), "--metrics-port", f"127.0.0.1:{port}",
                          "--metrics-hold", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, last = [], None
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        m = scrape(port)
        if m is not None:
            last = m
            seen.append(packets(m))
        time.sleep(0.2)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    sent = int(re.search(r"^Sent (\d+) packets", out, re.M).group(1))
    assert sent == n
    during = [v for v in seen if v < n]
    assert len(set(during)) >= 3 and during == sorted(during), seen     # it grew, live
    assert seen[-1] == sent, (seen[-5:], sent)                           # the final figures
    labels = dict(next(lbl for (name, lbl) in last if name == "pktgen_packets_total"))
    assert labels == {"port": "loop:mx", "function": "tx", "node": socket.gethostname()}
    assert last[("pktgen_bytes_total", tuple(sorted(labels.items())))] == 60 * n


@pytest.mark.parametrize("extra,text", [
    (["--metrics-port", "99999"], "bad --metrics-port"),
    (["--metrics-port", "host:web"], "bad --metrics-port"),
    (["--metrics-hold", "5"], "--metrics-hold needs --metrics-port"),
    (["--metrics-port", "9100", "--metrics-hold", "-1"], "bad --metrics-hold"),
])
def test_bad_metrics_flags_are_one_line(capsys, extra, text):
    assert cli.main(["-i", "loop:mb", "-f", "tx", "-n", "10"] + extra) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1, err


def test_a_port_already_taken_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert cli.main(["-i", "loop:mt", "-f", "tx", "-n", "10",
                         "--metrics-port", f"127.0.0.1:{taken}"]) == 2
    err = capsys.readouterr().err
    assert "cannot listen there" in err and len(err.strip().splitlines()) == 1, err
