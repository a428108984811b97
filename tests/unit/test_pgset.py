"""Linux pktgen scripts (pktgen_nm.pgset): the kernel's sample style of shell script
read as pktgen reads it, each command mapped to the run API or refused with its line."""
import re

import pytest

from pktgen_nm import cli, pgset
from pktgen_nm.pgset import ScriptError
from tests.pgsample import SAMPLE


def test_the_kernel_sample_style():
    s = pgset.parse(SAMPLE)
    assert list(s.devices) == ["eth1"] and s.started
    d = s.devices["eth1"]
    assert (d.count, d.pkt_size, d.pps(), d.thread) == (10_000_000, 60, 0.0, 0)
    assert d.dst == ("10.10.11.2", "10.10.11.20") and d.flags == {"IPDST_RND"}
    t = pgset.traffic_of(d)
    assert t.length == 60 and t.dst == "10.10.11.2:1000-10.10.11.20:1000"
    assert t.random_fields == (False, False, False, True), "IPDST_RND: the address only"
    assert t.dst_mac == "00:04:23:08:91:dc"


def test_echo_lines_threads_and_rates():
    s = pgset.parse("""
echo "add_device eth2@1" > /proc/net/pktgen/kpktgend_1
echo "add_device eth3" > /proc/net/pktgen/kpktgend_0
echo "ratep 25000" > /proc/net/pktgen/eth2@1
echo "count 500" > /proc/net/pktgen/eth2@1
echo "pkt_size 124" > /proc/net/pktgen/eth3
echo "rate 10M" > /proc/net/pktgen/eth3
echo "min_pkt_size 60" > /proc/net/pktgen/eth3
echo "max_pkt_size 1000" > /proc/net/pktgen/eth3
echo "src_min 10.0.0.1" > /proc/net/pktgen/eth3
echo "src_max 10.0.0.4" > /proc/net/pktgen/eth3
echo "udp_src_min 5" > /proc/net/pktgen/eth3
echo "udp_src_max 8" > /proc/net/pktgen/eth3
echo "start" > /proc/net/pktgen/pgctrl
""")
    a, b = s.devices["eth2@1"], s.devices["eth3"]
    assert (a.ifname, a.thread, a.pps(), a.count) == ("eth2", 1, 25000, 500)
    assert b.pps() == pytest.approx(10e6 / (60 * 8))
    t = pgset.traffic_of(b)
    assert (t.min_length, t.length, t.src) == (60, 1000, "10.0.0.1:5-10.0.0.4:8")
    bare = pgset.parse("PGDEV=/proc/net/pktgen/kpktgend_0\nadd_device eth4\n"
                       "PGDEV=/proc/net/pktgen/eth4\ncount 7\ndelay 100000\n"
                       "PGDEV=/proc/net/pktgen/pgctrl\nstart\n")
    assert bare.devices["eth4"].count == 7 and bare.devices["eth4"].pps() == 10_000


BASE = "PGDEV=/proc/net/pktgen/kpktgend_0\npgset 'add_device eth1'\nPGDEV=/proc/net/pktgen/eth1\n"
END = "PGDEV=/proc/net/pktgen/pgctrl\npgset start\n"


@pytest.mark.parametrize("body,text", [
    ("pgset 'vlan_cfi 1'\n", "line 4: vlan_cfi 1: vlan_cfi 1 (the DEI bit) is not supported"),
    ("pgset 'mpls 0001010a'\n", "random MPLS labels"),
    ("pgset 'mpls 1234567890'\n", "mpls takes up to 8 hex digits"),
    ("pgset 'tos 0x10'\n", "tos takes up to 2 hex digits, not '0x10'"),
    ("pgset 'imix_weights 60:7'\n", "imix_weights takes size,weight pairs"),
    ("pgset 'vlan_id 7'\npgset 'vlan_p 9'\n" + END, "a priority (PCP) is 0 to 7"),
    ("pgset 'queue_map_min 1'\n", "queue_map_min is not supported yet: our kernel engine"),
    ("PGDEV=/proc/net/pktgen/kpktgend_99\npgset 'add_device eth3'\n",
     "kpktgend_99: pktgen has a thread per CPU"),
    ("pgset 'flows 70000'\n", "flows=70000: give a whole number 0 to 65536"),
    ("pgset 'flag MPLS_RND'\n", "flag MPLS_RND is not supported yet"),
    ("pgset 'count many'\n", "count takes a number"),
    ("pgset 'pkt_size 20'\n", "pkt_size 20: at least 42"),
    ("pgset 'dst 10.0.0'\n", "dst takes an IPv4 address"),
    ("pgset 'dst_mac 00:zz'\n", "dst_mac"),
    ("pgset 'xmit_mode netif_receive'\n", "only xmit_mode start_xmit"),
    ("PGDEV=/proc/net/pktgen/eth9\npgset 'count 1'\n", "eth9 is not a device added"),
])
def test_refusals_name_the_line(body, text):
    with pytest.raises(ScriptError) as e:
        pgset.parse(BASE + body + END)
    assert text in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_scripts_that_would_do_nothing():
    with pytest.raises(ScriptError, match="never writes start"):
        pgset.parse(BASE + "pgset 'count 5'\n")
    with pytest.raises(ScriptError, match="adds no device"):
        pgset.parse(END)
    with pytest.raises(ScriptError, match="has no /proc/net/pktgen file"):
        pgset.parse("pgset 'count 5'\n")
    with pytest.raises(ScriptError, match="count 0"):
        pgset.runs(pgset.parse(BASE + "pgset 'count 0'\n" + END))


def test_the_command_refuses_in_one_line(tmp_path, capsys):
    f = tmp_path / "s.sh"
    f.write_text(BASE + "pgset 'queue_map_max 4'\n" + END)
    assert cli.main(["pgset", str(f)]) == 2
    err = capsys.readouterr().err
    assert "queue_map_max is not supported yet" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["pgset", str(tmp_path / "none.sh")]) == 2
    assert cli.main(["pgset", str(f), "--engine", "kpktgen"]) == 2


def test_pktgen_result_text():
    from pktgen_nm.results import Result
    r = Result("tx", "eth1", "kernel", 1_000_000, 60_000_000, 100, 0.5, 2_000_000.0)
    assert pgset.result_text(r, 60) == ("Result: OK: 500000(c500000+d0) usec, 1000000 "
                                        "(60byte,0frags)\n  2000000pps 960Mb/sec "
                                        "(960000000bps) errors: 0")


def test_per_field_randomness_keeps_the_other_fields():
    """IPDST_RND draws the address within dst_min..dst_max and leaves the port as it
    is (pkt-gen's -Z, by contrast, draws a fixed port over its whole space)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    import netmap_py as nm
    from pktgen_nm import _engine
    from pktgen_nm.traffic import Traffic
    t = Traffic(dst="10.9.0.1:7000-10.9.0.200:7000", random_fields=(False, False, False, True))
    frame = t.frames_for("tx", 1)[0][0]
    with nm.open("loop:pf@conf:slots=1024") as port:
        w = _engine.Worker(port, "tx", frame=frame, limit=500, burst=64, randomize=t.randomize)
        w.run()
        rx, got = port.rx_rings[0], []
        port.rxsync()
        while rx.head != rx.tail:
            got.append(Ether(bytes(rx.slot(rx.head).data)))
            rx.advance()
        port.rxsync()
    assert len(got) == 500 and {p[UDP].dport for p in got} == {7000}
    last = {int(p[IP].dst.split(".")[-1]) for p in got}
    assert min(last) >= 1 and max(last) <= 200 and len(last) > 100
    with pytest.raises(TypeError, match="four booleans"):
        Traffic(random_fields=(True, False))


def test_tags_labels_tos_and_imix_as_the_module_takes_them():
    d = pgset.parse(BASE + "pgset 'vlan_id 100'\npgset 'vlan_p 3'\npgset 'svlan_id 200'\n"
                    "pgset 'svlan_p 5'\npgset 'vlan_cfi 0'\npgset 'tos 28'\n"
                    "pgset 'imix_weights 60,7 590,4 1514,1'\n" + END).devices["eth1"]
    t = pgset.traffic_of(d)
    assert (t.vlan, t.vlan_prio, t.svlan, t.svlan_prio, t.tos) == (100, 3, 200, 5, 0x28)
    assert t.imix == ((60, 7), (590, 4), (1514, 1)) and t.mpls == ()
    # MPLS turns the tags off and a later vlan_id turns the labels off, as in the module
    m = pgset.parse(BASE + "pgset 'vlan_id 5'\npgset 'mpls 0001000a,0002000a'\n" + END)
    t = pgset.traffic_of(m.devices["eth1"])
    assert t.vlan is None and t.mpls == ((16, 0, 10), (32, 0, 10))
    v = pgset.parse(BASE + "pgset 'mpls 0001000a'\npgset 'vlan_id 5'\n" + END)
    assert pgset.traffic_of(v.devices["eth1"]).mpls == ()
    off = pgset.parse(BASE + "pgset 'vlan_id 5'\npgset 'vlan_id 9999'\npgset 'mpls 0'\n" + END)
    t = pgset.traffic_of(off.devices["eth1"])
    assert t.vlan is None and t.mpls == () and t.tos == 0, "pktgen's TOS is 0"


def test_flows_and_flow_seq():
    d = pgset.parse(BASE + "pgset 'flows 8'\npgset 'flowlen 4'\n" + END).devices["eth1"]
    t = pgset.traffic_of(d)
    assert (t.flows, t.flowlen) == (8, 4)
    seq = pgset.parse(BASE + "pgset 'flows 8'\npgset 'flowlen 4'\npgset 'flag FLOW_SEQ'\n"
                      + END).devices["eth1"]
    t = pgset.traffic_of(seq)
    assert (t.flows, t.flowlen) == (1, 4), "FLOW_SEQ: a flow's packets in a row"
    zero = pgset.traffic_of(pgset.parse(BASE + "pgset 'flows 2'\n" + END).devices["eth1"])
    assert zero._frame(b"\0" * 6).flows == (2, 1), "flowlen 0, as pktgen: one packet a flow"


def test_the_module_driver_checks_before_writing(tmp_path, monkeypatch):
    """--engine kpktgen: a script's files and counts checked before the first write."""
    from pktgen_nm import kpktgen
    for name in ("pgctrl", "kpktgend_0", "kpktgend_1"):
        (tmp_path / name).write_text("")
    monkeypatch.setattr(kpktgen, "PROC", str(tmp_path))
    steps = kpktgen.plan(BASE + "pgset 'flows 4'\npgset 'count 10'\n" + END)
    assert [c for _, _, c in steps] == ["add_device eth1", "flows 4", "count 10", "start"]
    for body, words in [
        ("PGDEV=/proc/net/pktgen/kpktgend_7\npgset 'add_device eth2'\n",
         "kpktgend_7 does not exist here (the module has kpktgend_0, kpktgend_1: one per CPU)"),
        ("pgset 'count 0'\n", "eth1: count 0 (for ever) needs Ctrl-C"),
        ("PGDEV=/proc/net/pktgen/eth5\npgset 'count 1'\n", "eth5 is not a device added"),
    ]:
        with pytest.raises(kpktgen.ModuleError, match=re.escape(words)):
            kpktgen.plan(BASE + body + END)
    with pytest.raises(kpktgen.ModuleError, match="never writes start"):
        kpktgen.plan(BASE)
    assert not (tmp_path / "eth1").exists(), "nothing written"


def test_each_thread_runs_on_its_cpu_as_queue_map_cpu_says():
    s = pgset.parse(BASE + "pgset 'flag QUEUE_MAP_CPU'\n" + END)
    run = pgset.runs(s)["eth1"]
    assert run._o.cpu == 0 and run._o.engine == "kernel"
    from pktgen_nm import Traffic, api
    with pytest.raises(ValueError, match="cpu=999: a CPU number"):
        api.send("eth1", Traffic(), cpu=999)
