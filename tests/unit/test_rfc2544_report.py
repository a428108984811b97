"""The RFC 2544 report: the page, its charts and results.json from a run's results,
looked at in a real browser (headless Chromium's screenshot of the page)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pktgen_nm import rfc2544 as R
from pktgen_nm import rfc2544_report

plt = pytest.importorskip("matplotlib.pyplot")


def results():
    s = R.Setup(tx="xdp:t1", rx="xdp:t2", dst_mac="02:00:00:00:00:02", max_rate=200_000,
                duration=2, resolution=5000)
    tp = [R.SearchResult("throughput", size, 150_000.0 - size * 50, [
        R.Trial("throughput", size, 200_000, 400_000, 390_000, 199_000, 2.0),
        R.Trial("throughput", size, 100_000, 200_000, 200_000, 99_990, 2.0)]) for size in
          (64, 512, 1518)]
    fl = R.SearchResult("frame_loss", 64, 2.5, [
        R.Trial("frame_loss", 64, r, int(2 * r), int(2 * r * (1 - loss)), r, 2.0)
        for r, loss in ((200_000, 0.025), (180_000, 0.01), (160_000, 0), (140_000, 0))])
    bad = R.SearchResult("throughput", 128, None, [R.Trial(
        "throughput", 128, 200_000, 100_000, 0, 50_000, 2.0, valid=False,
        why="the generator offered 50,000 pps of 200,000 asked")], note="no rate <crossed>")
    lat = [R.SearchResult("latency", size, 20.0 + size / 100, [
        R.Trial("latency", size, 100_000, 200_000, 200_000, 99_990, 2.0, latency={
            "count": 200_000, "min_ns": 5_000, "avg_ns": 20_000 + size * 10,
            "max_ns": 900_000, "p50_ns": 18_000, "p90_ns": 40_000, "p99_ns": 120_000 + k,
            "p99_9_ns": 400_000, "samples_used": 200_000}) for k in (0, 2000)])
        for size in (64, 512, 1518)]
    return s, tp + [fl, bad] + lat


def test_page_charts_and_json(tmp_path):
    s, rs = results()
    page = rfc2544_report.write(rs, s, str(tmp_path), title="a test", link_mbit=1000)
    text = Path(page).read_text()
    for want in ("throughput.png", "loss.png", "latency.png", "146,800 fps",
                 "invalid: the generator offered", "no rate &lt;crossed&gt;",
                 "shorter than the RFC", "20.6 us average, 121.0 us p99"):
        assert want in text, want
    assert not (tmp_path / "back_to_back.png").exists(), "no back-to-back results: no chart"
    for png in ("throughput.png", "loss.png", "latency.png"):
        img = plt.imread(str(tmp_path / png))
        assert img.shape[0] > 200 and img.std() > 0.05, png
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["test"] for r in saved] == [r.test for r in rs]
    assert saved[3]["trials"][0]["lost"] == 10_000


def test_the_page_in_a_real_browser(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium here (scripts/setup.sh installs it as root)")
    s, rs = results()
    page = rfc2544_report.write(rs, s, str(tmp_path))
    shot = tmp_path / "shot.png"
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1600",
                        f"--screenshot={shot}", "file://" + os.path.abspath(page)],
                       capture_output=True, text=True, timeout=120)
    assert shot.exists(), r.stderr
    img = plt.imread(str(shot))
    assert img.shape[:2] == (1600, 1000)
    # the charts drew: the page has their blue line and more than text on white
    rows_with_ink = (img[:, :, :3].min(axis=2) < 0.9).any(axis=1).sum()
    assert rows_with_ink > 600, rows_with_ink
    blue = ((img[:, :, 2] > 0.6) & (img[:, :, 0] < 0.3)).sum()
    assert blue > 500, "no chart line in the screenshot"
