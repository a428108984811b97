"""The run API on the loop backend: runs that start, report and end; results as
dataclasses; bad arguments as ValueError/TypeError before anything opens."""
import json
import threading

import pytest

import netmap_py as nm
from netmap_py import _core
from pktgen_nm import SCHEMA, Result, Traffic, receive, send


def test_send_counts_exactly_and_closes_its_port():
    before = _core.debug_counters()
    r = send("loop:api1", Traffic(length=60), count=12345).join()
    assert isinstance(r, Result) and r.function == "tx" and r.backend == "loop"
    assert (r.pkts, r.bytes) == (12345, 12345 * 60)
    after = _core.debug_counters()
    assert after["ports_opened"] - before["ports_opened"] == \
        after["ports_closed"] - before["ports_closed"] == 1


def test_intervals_while_it_runs_and_the_result_after():
    with send("loop:api2", Traffic(), duration=0.5, rate=200_000, interval=0.1) as tx:
        ivs = list(tx.intervals())
    assert len(ivs) >= 4 and sum(iv.pkts for iv in ivs) == tx.result.pkts
    assert abs(tx.result.pkts - 100_000) < 5_000, tx.result
    assert all(iv.pps >= 0 for iv in ivs)


def test_to_dict_is_json_with_a_schema():
    r = send("loop:api3", Traffic(length=64), count=10).join()
    d = r.to_dict()
    assert d["schema"] == SCHEMA == 1 and d["type"] == "final" and d["pkts"] == 10
    assert json.loads(json.dumps(d)) == d


def test_stop_ends_an_endless_run():
    tx = send("loop:api4", Traffic())
    threading.Timer(0.2, tx.stop).start()
    r = tx.join(timeout=10)
    assert r.pkts > 0


def test_several_runs_at_once():
    runs = [send(f"loop:api5{i}", Traffic(), count=50_000) for i in range(3)]
    assert [r.join().pkts for r in runs] == [50_000] * 3


def test_an_error_in_the_block_stops_and_closes():
    with pytest.raises(KeyError):
        with send("loop:api6", Traffic()) as tx:
            raise KeyError("boom")
    assert not tx.alive()
    with nm.open("loop:api6"):          # the name is free again: the port was closed
        pass


def test_raw_frames_are_sent_in_turn():
    t = Traffic.from_bytes(b"\x01" * 60, b"\x02" * 70)
    r = send("loop:api7", t, count=1001).join()
    assert r.pkts == 1001 and r.bytes == 501 * 60 + 500 * 70


def test_receive_with_a_duration_ends_by_itself():
    r = receive("loop:api8", duration=0.2).join(timeout=10)
    assert r.pkts == 0 and r.function == "rx"


@pytest.mark.parametrize("kw,err,text", [
    ({"count": -1}, ValueError, "count=-1"),
    ({"count": 1.5}, TypeError, "integer"),
    ({"rate": float("nan")}, ValueError, "finite"),
    ({"duration": "3"}, TypeError, "number"),
    ({"threads": 0}, ValueError, "threads=0"),
    ({"burst": 10 ** 6}, ValueError, "burst"),
    ({"interval": 0}, ValueError, "interval=0"),
    ({"colour": "red"}, TypeError, "unknown argument"),
    ({"stamp": True}, ValueError, "seq=True"),           # tx, not txseq: nothing to stamp
    ({"stamp": "yes"}, TypeError, "True or False"),
])
def test_bad_run_arguments(kw, err, text):
    with pytest.raises(err, match=text):
        send("loop:bad", Traffic(), **kw)


@pytest.mark.parametrize("kw,err,text", [
    ({"length": 20}, ValueError, "takes 42 to"),
    ({"length": 60, "min_length": 80}, ValueError, "min_length"),
    ({"family": 5}, ValueError, "4 or 6"),
    ({"dst": "10.0.0.300"}, ValueError, "dst"),
    ({"dst_mac": "zz"}, ValueError, "dst_mac"),
    ({"length": "60"}, TypeError, "integer"),
    ({"frames": ()}, ValueError, "at least one frame"),
    ({"frames": ("x",)}, TypeError, "not bytes"),
    ({"frames": (b"x",)}, ValueError, "frame 0 is 1 bytes"),
])
def test_bad_traffic(kw, err, text):
    with pytest.raises(err, match=text):
        Traffic(**kw)


def test_bad_port_and_function_mismatch():
    with pytest.raises(TypeError, match="port must be a str"):
        send(7, Traffic())
    with pytest.raises(ValueError, match="bad port name"):
        send("loop:", Traffic())
    with pytest.raises(TypeError, match="needs a Traffic"):
        send("loop:x", b"frame")
    with pytest.raises(ValueError, match="sent with send"):
        send("loop:x", Traffic.from_bytes(bytes(60)), seq=True)


def test_from_scapy_varies_fields_with_checksums_right():
    scapy = pytest.importorskip("scapy.all")
    Ether, IP, UDP = scapy.Ether, scapy.IP, scapy.UDP
    pkt = Ether(dst="02:00:00:00:00:02") / IP(dst="10.1.0.1") / UDP(dport=9) / (b"x" * 18)
    t = Traffic.from_scapy(pkt, vary={"ip.src": "10.0.0.1-10.0.0.200", "udp.sport": "random"},
                           count=50)
    assert len(t.frames) == 200
    seen = set()
    for f in t.frames:
        p = Ether(f)
        seen.add(p[IP].src)
        ip_sum, udp_sum = p[IP].chksum, p[UDP].chksum
        del p[IP].chksum, p[UDP].chksum
        q = Ether(bytes(p))
        assert (q[IP].chksum, q[UDP].chksum) == (ip_sum, udp_sum)
    assert len(seen) == 200
    with pytest.raises(ValueError, match="no tcp layer"):
        Traffic.from_scapy(pkt, vary={"tcp.sport": "1-2"})
    with pytest.raises(ValueError, match="no field"):
        Traffic.from_scapy(pkt, vary={"ip.nosuch": "1-2"})
    with pytest.raises(ValueError, match="ends before"):
        Traffic.from_scapy(pkt, vary={"udp.dport": "9-1"})


def test_bridge_run_forwards_stops_and_closes():
    """bridge() on two loop ports (each port's TX comes back on its own RX, so frames
    put in go round for as long as it runs): both ways counted, ports closed at the end."""
    from pktgen_nm import bridge
    with bridge("loop:brx", "loop:bry", interval=0.05, duration=0.3) as br:
        a = br.a
        a.send([bytes(60)] * 10)
        ivs = list(br.intervals())
    r = br.result
    assert r["zero_copy"] and r["type"] == "final" and r["schema"] == SCHEMA
    assert r["a_to_b"]["pkts"] > 0 and r["b_to_a"]["pkts"] > 0
    assert sum(iv["a_to_b"]["pkts"] for iv in ivs) <= r["a_to_b"]["pkts"]
    assert a.closed and br.b.closed


@pytest.mark.parametrize("kw,text", [({"burst": 0}, "burst=0"), ({"duration": -1}, "duration"),
                                     ({"drop_udp_port": 70000}, "outside")])
def test_bridge_bad_arguments_close_the_ports(kw, text):
    from pktgen_nm import bridge
    with pytest.raises(ValueError, match=text):
        bridge("loop:bra", "loop:brb", **kw)
    with nm.open("loop:bra"), nm.open("loop:brb"):     # both free again
        pass


@pytest.mark.parametrize("port,kw,text", [
    ("loop:k", {}, "Linux interface"),
    ("lo", {"seq": True, "traffic": Traffic.from_bytes(bytes(60))}, "pkt-gen's frame"),
    ("lo", {"engine": "gpu"}, "ring or kernel"),
])
def test_kernel_engine_refusals(port, kw, text):
    t = kw.pop("traffic", Traffic())
    with pytest.raises(ValueError, match=text):
        send(port, t, **{"engine": "kernel", **kw})
