"""Traffic(...) under hypothesis: whatever the keywords, either a frame the engine sends
(checksums right on every packet) or a ValueError/TypeError in one line; never
another exception, never a crash."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netmap_py as nm
from pktgen_nm import Traffic, _engine
from tests.packetcheck import checksums_ok

ODD = st.one_of(st.none(), st.booleans(), st.text(max_size=4), st.floats(allow_nan=True),
                st.integers(-5, 70000))
KW = st.fixed_dictionaries({}, optional={
    "length": st.one_of(st.integers(0, 2000), ODD),
    "family": st.sampled_from([4, 6, 5]),
    "vlan": st.one_of(st.integers(-1, 5000), ODD),
    "vlan_prio": st.one_of(st.integers(-1, 9), ODD),
    "svlan": st.one_of(st.integers(0, 4095), ODD),
    "svlan_tpid": st.sampled_from([0x88A8, 0x8100, 0x9100, 0x1234]),
    "mpls": st.one_of(st.lists(st.one_of(st.integers(-1, 1 << 21),
                                         st.tuples(st.integers(0, 9), st.integers(0, 9))),
                               max_size=18).map(tuple), ODD),
    "tos": st.one_of(st.integers(-1, 300), ODD),
    "dscp": st.one_of(st.integers(-1, 70), ODD),
    "traffic_class": st.one_of(st.integers(-1, 300), ODD),
    "imix": st.one_of(st.sampled_from(["classic", "60:1,128:3", "x", "70:0"]),
                      st.lists(st.tuples(st.integers(10, 2000), st.integers(0, 5000)),
                               max_size=3).map(tuple), ODD),
    "flows": st.one_of(st.integers(-1, 70000), ODD),
    "flowlen": st.one_of(st.integers(-1, 10), ODD),
    "dst": st.sampled_from([None, "10.1.0.1:9-10.1.0.9:9", "[fd00::1]:9"]),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(KW)
def test_any_keywords_build_or_say_why(kw):
    try:
        t = Traffic(**kw)
    except (ValueError, TypeError) as e:
        assert str(e) and "\n" not in str(e)
        return
    frame = t.frames_for("tx", 1)[0][0]
    if frame.max_len > 2048:
        return                          # the loop port's buffers: 2048 bytes
    with nm.open("loop:tf@conf:slots=64") as port:
        w = _engine.Worker(port, "tx", frame=frame, limit=40, burst=16, randomize=t.randomize)
        w.run()
        port.rxsync()
        rx = port.rx_rings[0]
        while not rx.empty():
            b = rx.slot(rx.head).tobytes()
            rx.advance()
            untagged = b[:12] + (b"\x08\x00" if frame.family == 4 else b"\x86\xdd") + \
                b[frame.ip_off:]        # the tags and labels taken out: the same sums
            assert checksums_ok(untagged), kw


GOOD = st.fixed_dictionaries({"length": st.integers(90, 1500)}, optional={
    "vlan": st.integers(0, 4095), "vlan_prio": st.integers(0, 7),
    "svlan": st.integers(0, 4095), "svlan_prio": st.integers(0, 7),
    "mpls": st.lists(st.integers(0, (1 << 20) - 1), max_size=3).map(tuple),
    "dscp": st.integers(0, 63), "flows": st.integers(1, 64), "flowlen": st.integers(0, 9),
    "dst": st.sampled_from(["10.1.0.1:9-10.1.0.9:9", "10.1.0.1:1-10.1.0.1:5"]),
    "min_length": st.integers(90, 90),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GOOD)
def test_valid_keywords_send_right_packets(kw):
    if "svlan" in kw and "vlan" not in kw:
        kw["vlan"] = 1
    test_any_keywords_build_or_say_why.hypothesis.inner_test(kw)
