"""Cluster plans (pktgen_nm.cluster.Plan): what a plan file says, and every mistake in
one refused with one line naming where, before any node is asked."""
import pytest

from pktgen_nm import cluster
from pktgen_nm.cluster import Plan, PlanError

GOOD = """
interval = 0.5
duration = 10
[[port]]
node = "gen1"
port = "xdp:eth1"
function = "txseq"
rate = 100000
traffic = { length = 128, dst_mac = "02:00:00:00:00:02" }
[[port]]
node = "sink"
port = "xdp:eth2"
function = "rxseq"
count = 1000
metrics_port = 9464
"""


def test_a_plan_file(tmp_path):
    f = tmp_path / "plan.toml"
    f.write_text(GOOD)
    p = Plan.load(str(f))
    assert p.interval == 0.5 and [e.name for e in p.entries] == ["gen1/xdp:eth1", "sink/xdp:eth2"]
    tx, rx = p.entries
    assert tx.run == {"rate": 100000, "duration": 10}, "the plan's duration where none is given"
    assert rx.run == {"count": 1000}, "a count: no default duration on top"
    assert tx.traffic["length"] == 128 and rx.metrics == "9464"
    assert (tx.role, rx.role) == ("sent", "received")
    assert cluster.build(tx).function == "txseq"


@pytest.mark.parametrize("data,text", [
    ({}, "no [[port]] entry"),
    ({"port": [], "colour": 1}, "unknown plan key(s): colour"),
    ({"interval": 0, "port": [{}]}, "interval = 0"),
    ({"duration": -1, "port": [{}]}, "duration = -1"),
    ({"port": [{"node": "a", "port": "loop:x"}]}, "function is missing"),
    ({"port": [{"node": "a", "port": "loop:x", "function": "flood"}]}, "function 'flood'"),
    ({"port": [{"node": "a", "port": "loop:x", "function": "tx", "speed": 1}]},
     "(a/loop:x): unknown key(s) speed"),
    ({"port": [{"node": "a", "port": "loop:x", "function": "tx", "rate": -5}]}, "rate=-5"),
    ({"port": [{"node": "a", "port": "loop:x", "function": "tx", "traffic": {"ttl": 3}}]},
     "traffic takes"),
    ({"port": [{"node": "a", "port": "loop:x", "function": "tx", "metrics_port": 70000}]},
     "metrics_port"),
    ({"port": [{"node": "a", "port": "loop:x", "function": "rx"}] * 2}, "appears twice"),
])
def test_bad_plans_are_one_line(data, text):
    with pytest.raises(PlanError) as e:
        Plan.from_dict(data)
    assert text in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_a_file_that_is_not_toml(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[[port]\nnode=")
    with pytest.raises(PlanError, match="not TOML"):
        Plan.load(str(f))
    with pytest.raises(PlanError, match="No such file"):
        Plan.load(str(tmp_path / "none.toml"))


def test_an_interval_adds_per_entry_and_per_role():
    roles = {"g/a": "sent", "s/b": "received"}
    prev = {"g/a": {"pkts": 100, "bytes": 6000, "drops": 0}}
    prev["g/a"]["wire"] = {"tx_packets": 90}
    now = {"g/a": {"pkts": 300, "bytes": 18000, "drops": 0, "wire": {"tx_packets": 290}},
           "s/b": {"pkts": 150, "bytes": 9000, "drops": 2}}
    iv = cluster.interval_of(now, prev, 0.5, roles)
    assert iv["nodes"]["g/a"]["pps"] == 400 and iv["nodes"]["s/b"]["pkts"] == 150
    assert (iv["nodes"]["s/b"]["node"], iv["nodes"]["s/b"]["port"]) == ("s", "b")
    assert iv["nodes"]["g/a"]["wire"] == {"tx_packets": 200} and iv["nodes"]["s/b"]["wire"] == {}
    assert iv["total"]["sent"]["pkts"] == 200 and iv["total"]["received"]["drops"] == 2
    assert iv["total"]["received"]["bps"] == 8 * 9000 / 0.5 and iv["usec"] == 500000
