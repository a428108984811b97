"""pkt-gen's report formats (facts 3.13)."""
from pktgen_nm.report import Interval, Reporter, norm, percentile, prefix, rtt_lines, summary


def test_norm():
    assert norm(14880000) == "14.880 M"
    assert norm(999) == "999.000 "
    assert norm(1500e12) == "1500.000 T"
    assert norm(14880967, normalize=False) == "14880967 "


def test_prefix():
    assert prefix("main_thread", 2781, now=1046.123456) == "046.123456 main_thread [2781] "


def test_interval_line():
    iv = Interval(pkts=14895000, bytes=14895000 * 60, events=29092, usec=1000943, min_space=99999)
    line = Reporter().line(iv)
    assert line == ("14.881 Mpps (14.895 Mpkts 7.143 Gbps in 1000943 usec) "
                    "512.00 avg_batch 99999 min_space")


def test_interval_line_with_window():
    r = Reporter(window=True)
    r.line(Interval(1000, 60000, 10, 1000000, 0))
    line = r.line(Interval(3000, 180000, 10, 1000000, 0))
    assert line.startswith("3.000 Kpps [avg/std 2.000 K/1.000 K pps](3.000 Kpkts")


def test_summary_example():
    lines = summary("Sent", (123456789, 7407407340, 241126), 8.30)
    assert lines[0] == ("Sent 123456789 packets 7407407340 bytes 241126 events 60 bytes each "
                        "in 8.30 seconds.")
    assert lines[1].startswith("Speed: 14.874 Mpps Bandwidth: 7.140 Gbps (raw 7.140 Gbps). "
                               "Average batch: 512.00 pkts")
    assert summary("Received", (0, 0, 0), 1.0) == ["Received nothing."]
    framed = summary("Sent", (1000, 60000, 2), 1.0, framing_bits=192)
    assert "(raw 672.000 Kbps)" in framed[1]


def test_percentiles_and_rtt_lines():
    vals = list(range(1, 1001))
    assert percentile(vals, 50) == 500 and percentile(vals, 99.9) == 999
    lines, d = rtt_lines({"count": 3, "sum": 600, "min": 100, "max": 300, "replies": 3,
                          "hist": [0] * 6 + [1, 1, 1] + [0] * 55, "samples": [300, 100, 200]}, 4)
    assert lines[0] == "RTT over 4 packets: min 100 av 200 ns"
    assert d["p50_ns"] == 200 and d["lost"] == 1 and d["max_ns"] == 300
    assert rtt_lines({"count": 0, "samples": []}, 5)[0] == ["RTT over 5 packets: no reply"]


def test_dump_lines_pkt_gen_format():
    from pktgen_nm.report import dump_lines
    data = bytes(range(30, 50))
    lines = dump_lines(1, 7, 1234, 0x4, data)
    assert lines[0] == "ring 1 cur     7 [buf   1234 flags 0x0004 len    20]"
    assert lines[1].startswith("    0: 1e 1f 20 21 ") and lines[1][55:] == ".. !\"#$%&'()*+,-"
    assert lines[2][:7] == "   16: " and lines[2][55:] == "./01" and len(lines) == 3


def test_dump_of_sent_packets(capsys):
    from pktgen_nm import cli
    assert cli.main(["-i", "loop:x", "-f", "tx", "-n", "3", "-X", "-s", "10.0.0.1-10.0.0.3"]) == 0
    out = capsys.readouterr().out
    heads = [line for line in out.splitlines() if line.startswith("ring 0 cur")]
    assert len(heads) == 3 and "len    60]" in heads[0]
    # the dump shows each packet as sent: the source address steps
    rows = [line for line in out.splitlines() if line.startswith("   16: ")]
    assert [r[7:7 + 48].split()[13] for r in rows] == ["01", "02", "03"]


def test_no_min_space_is_none_in_data_and_pkt_gens_wording_in_text():
    r = Reporter(threads=2)
    iv = Interval(pkts=10, bytes=600, events=1, usec=1000000, min_space=None)
    assert r.line(iv).endswith(" 0 min_space")            # the first line, as pkt-gen
    assert r.line(iv).endswith(" 199998 min_space")       # then 99999 per thread
    assert r.line(Interval(10, 600, 1, 1000000, 37)).endswith(" 37 min_space")
    assert iv.min_space is None


def test_interval_minima_have_one_writer():
    """The worker writes the interval's minima, the reader only moves the epoch on:
    a receiver's min_space is a real number while packets flow, None once idle."""
    import threading
    import time

    import netmap_py
    from pktgen_nm import _engine
    with netmap_py.open("loop:a") as p:
        w = _engine.Worker(p, "rx")
        assert w.take_interval() == {"min_space": None, "rtt": (0, 0, 0, 0)}
        t = threading.Thread(target=w.run)
        t.start()
        try:
            tx = p.tx_rings[0]
            for _ in range(5):
                tx.slot(tx.head).write(b"x" * 60)
                tx.advance()
            time.sleep(0.3)            # the worker polls, syncs and takes the 5 frames
            assert w.take_interval()["min_space"] == 5
            time.sleep(0.3)            # idle: no ring had anything, so no minimum
            assert w.take_interval()["min_space"] is None
        finally:
            w.cancel()
            t.join()
        assert w.take_interval()["min_space"] is None           # stopped: nothing new
