"""pktgen-nm cluster on a real local Ray cluster (pktgen_nm.labcluster): the head
("sink") and two generator nodes, each raylet in its own network namespace, joined
to the head over veth links; traffic from each generator to the sink over its own
veth pair."""
import json
import subprocess
import sys
import threading
import time

import pytest

from pktgen_nm.labcluster import LabCluster

N = 1_000_000


@pytest.fixture(scope="module")
def lc():
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'netmap-py[cluster]')")
    with LabCluster(tag="c") as c:
        yield c


def write_plan(tmp_path, text: str) -> str:
    p = tmp_path / "plan.toml"
    p.write_text(text)
    return str(p)


def entry(node, port, function, **kw) -> str:
    lines = [f'node = "{node}"', f'port = "{port}"', f'function = "{function}"']
    lines += [f"{k} = {v!r}" if not isinstance(v, str) else f'{k} = "{v}"' for k, v in kw.items()]
    return "[[port]]\n" + "\n".join(lines) + "\n"


def cluster(lc, plan: str, *extra, popen=False):
    argv = [sys.executable, "-m", "pktgen_nm.cli", "cluster", plan, "--address", lc.address,
            "--json", *extra]
    if popen:
        return subprocess.Popen(["ip", "netns", "exec", lc.ns("sink"), *argv],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return lc.driver(argv, timeout=300)


def final_of(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_two_senders_into_one_receiver_counted_exactly(lc, tmp_path):
    plan = write_plan(tmp_path, "interval = 1.0\n" + "".join(
        [entry("sink", f"xdp:{lc.data[g][1]}", "rxseq", count=N, duration=60)
         for g in lc.senders] +
        [entry(g, f"xdp:{lc.data[g][0]}", "txseq", count=N, rate=200000) for g in lc.senders]))
    r = cluster(lc, plan)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    final = lines[-1]
    assert final["type"] == "final" and not final["failed"], final
    for g in lc.senders:
        rx = final["entries"][f"sink/xdp:{lc.data[g][1]}"]
        assert rx["sequence"]["received"] == N and rx["sequence"]["lost"] == 0, rx
        assert final["entries"][f"{g}/xdp:{lc.data[g][0]}"]["pkts"] == N
    assert final["total"]["sent"]["pkts"] == 2 * N == final["total"]["received"]["pkts"]
    assert 0 <= final["skew_s"] < 1.0 and "start skew" in r.stderr, final
    ivs = [x for x in lines if x["type"] == "interval"]
    assert ivs and all(set(iv["nodes"]) == set(final["entries"]) for iv in ivs)
    assert sum(iv["total"]["received"]["pkts"] for iv in ivs) == 2 * N   # the live totals add up


@pytest.mark.parametrize("node,port,text", [
    ("gen1", "xdp:nosuch0", "node gen1: xdp:nosuch0:"),
    ("gen9", "xdp:data0", "node gen9: not in the cluster"),
])
def test_a_bad_plan_is_refused_before_start(lc, tmp_path, node, port, text):
    plan = write_plan(tmp_path, entry("sink", f"xdp:{lc.data['gen1'][1]}", "rx", duration=5) +
                      entry(node, port, "tx", count=1000))
    t = time.monotonic()
    r = cluster(lc, plan)
    assert r.returncode == 2, r.stdout + r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and text in err[0], r.stderr
    assert time.monotonic() - t < 60 and not r.stdout, "refused before anything ran"


def test_a_bad_plan_file_is_one_line(lc, tmp_path):
    plan = write_plan(tmp_path, entry("gen1", "xdp:data0", "flood"))
    r = cluster(lc, plan)
    assert r.returncode == 2 and "function 'flood'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def xdp_attached(lc, node: str, dev: str) -> bool:
    out = subprocess.run(["ip", "-n", lc.ns(node), "-d", "link", "show", dev],
                         capture_output=True, text=True).stdout
    return "prog/xdp" in out or " xdp " in out


def test_a_node_killed_mid_run_stops_the_run_and_is_named(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'netmap-py[cluster]')")
    with LabCluster(tag="k") as lk:
        plan = write_plan(tmp_path, "interval = 0.5\n" + "".join(
            [entry("sink", f"xdp:{lk.data[g][1]}", "rx", duration=30) for g in lk.senders] +
            [entry(g, f"xdp:{lk.data[g][0]}", "tx", duration=30, rate=50000)
             for g in lk.senders]))
        p = cluster(lk, plan, popen=True)
        seen = []
        reader = threading.Thread(target=lambda: seen.extend(p.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any('"interval"' in x for x in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        lk.kill_node("gen2")                        # kill -9: its raylet and its workers
        p.wait(timeout=120)
        reader.join(timeout=10)
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        final = json.loads(seen[-1])
        assert p.returncode == 1, err
        assert set(final["failed"]) == {f"gen2/xdp:{lk.data['gen2'][0]}"}, final
        failed = final["failed"][f"gen2/xdp:{lk.data['gen2'][0]}"]
        assert failed["last"]["pkts"] > 0, failed           # what it had done
        assert "died or cannot be reached" in failed["why"] or "no answer" in failed["why"]
        gen1 = final["entries"][f"gen1/xdp:{lk.data['gen1'][0]}"]
        assert 0 < gen1["pkts"] < 50000 * 30, gen1           # stopped early, cleanly
        time.sleep(1)
        for node, dev in (("sink", lk.data["gen1"][1]), ("sink", lk.data["gen2"][1]),
                          ("gen1", lk.data["gen1"][0])):
            assert not xdp_attached(lk, node, dev), f"{node} {dev} still has an XDP program"


def rx_packets(lc, node: str, dev: str) -> int:
    out = subprocess.run(["ip", "netns", "exec", lc.ns(node), "cat",
                          f"/sys/class/net/{dev}/statistics/rx_packets"],
                         capture_output=True, text=True).stdout
    return int(out.strip() or 0)


def test_the_driver_killed_the_nodes_stop_by_themselves(lc, tmp_path):
    plan = write_plan(tmp_path, "interval = 0.5\n" + "".join(
        entry(g, f"xdp:{lc.data[g][0]}", "tx", duration=60, rate=50000) for g in lc.senders))
    p = cluster(lc, plan, popen=True)
    try:
        first = p.stdout.readline()                  # a report: the traffic flows
        assert '"interval"' in first, first + p.stderr.read()
        p.kill()                                     # kill -9 the driver
        p.wait(timeout=10)
    finally:
        p.stdout.close()
        p.stderr.close()
    dev = lc.data["gen1"][1]
    deadline = time.monotonic() + 30
    while True:
        before = rx_packets(lc, "sink", dev)
        time.sleep(1)
        if rx_packets(lc, "sink", dev) == before:    # no orphan traffic any more
            break
        assert time.monotonic() < deadline, "the senders went on without their driver"
    stopped_after = 30 - (deadline - time.monotonic())
    assert stopped_after < 15, stopped_after
    for g in lc.senders:
        assert not xdp_attached(lc, g, lc.data[g][0])


def test_each_node_serves_its_metrics(lc, tmp_path):
    """metrics_port in a plan entry: the node serves that entry's live counters, with
    its node label; scraped from the head while the run goes on, they grow and never
    pass the final count."""
    n = 300_000
    plan = write_plan(tmp_path, entry("gen1", f"xdp:{lc.data['gen1'][0]}", "tx", count=n,
                                      rate=100000, metrics_port=9464))
    p = cluster(lc, plan, popen=True)
    url = f"http://{lc.ip('gen1')}:9464/metrics"
    code = ("import sys, urllib.request\n"
            "try: print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())\n"
            "except OSError: pass\n")
    seen = []
    try:
        while p.poll() is None:
            out = lc.driver([sys.executable, "-c", code, url], timeout=30).stdout
            for line in out.splitlines():
                if line.startswith("pktgen_packets_total{"):
                    assert 'node="gen1"' in line and 'function="tx"' in line, line
                    seen.append(float(line.rsplit(" ", 1)[1]))
            time.sleep(0.2)
        final = final_of(p.stdout.read())
    finally:
        p.stdout.close()
        p.stderr.close()
    assert p.returncode == 0 and final["total"]["sent"]["pkts"] == n, final
    grew = [v for v in seen if 0 < v < n]
    assert len(set(grew)) >= 3 and grew == sorted(grew) and max(seen) <= n, seen


def test_ctrl_c_stops_every_node_with_a_summary(lc, tmp_path):
    import signal
    plan = write_plan(tmp_path, "interval = 0.5\n" + "".join(
        entry(g, f"xdp:{lc.data[g][0]}", "tx", duration=60, rate=20000) for g in lc.senders))
    p = cluster(lc, plan, popen=True)
    try:
        first = p.stdout.readline()
        assert '"interval"' in first, first + p.stderr.read()
        # ip netns exec runs the driver in its own process: the signal reaches it
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        p.stdout.close()
        p.stderr.close()
    final = final_of(out)
    assert p.returncode == 0 and not final["failed"], err
    assert "stopping every node" in err
    for g in lc.senders:
        sent = final["entries"][f"{g}/xdp:{lc.data[g][0]}"]["pkts"]
        assert 0 < sent < 20000 * 30, sent
