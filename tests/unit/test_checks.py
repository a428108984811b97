"""Interface and module facts (read-only; lo is always there)."""
from netmap_py import checks


def test_loopback_facts():
    info = checks.interface("lo")
    assert info.exists and info.up and info.ifindex == 1 and info.mtu > 0
    names = [f.name for f in info.facts]
    assert names == ["exists", "up", "carrier", "mtu", "driver", "queues"]
    assert all(isinstance(f.sentence, str) and "lo" in f.sentence for f in info.facts)


def test_missing_interface():
    info = checks.interface("nosuch0")
    assert not info.exists
    assert "no interface named 'nosuch0'" in str(info.facts[0])
    assert not checks.interface("a/b").exists


def test_wire_counters():
    c = checks.wire_counters("lo")
    assert {"tx_packets", "rx_packets", "tx_bytes", "rx_dropped"} <= set(c)
    assert checks.wire_counters("nosuch0") == {}


def test_netmap_module_facts():
    m = checks.netmap_module()
    assert m.loaded == (checks.NETMAP_DEV.exists() or checks.NETMAP_MOD.exists())
    assert m.facts and all(f.sentence for f in m.facts)
    if not m.loaded:
        assert "not loaded" in m.facts[0].sentence


def test_native_or_emulated_sentences():
    info = checks.interface("lo")
    absent = checks.NetmapModule(False, False, None, {}, [])
    assert "does not apply" in checks.native_netmap(info, absent).sentence
    forced = checks.NetmapModule(True, True, 2, {"admode": "2"}, [])
    assert "emulated" in checks.native_netmap(info, forced).sentence
    native_only = checks.NetmapModule(True, True, 1, {"admode": "1"}, [])
    assert "will fail" in checks.native_netmap(info, native_only).sentence
    default = checks.NetmapModule(True, True, 0, {"admode": "0"}, [])
    assert "much slower" in checks.native_netmap(info, default).sentence
    info.driver = "ixgbe"
    assert checks.native_netmap(info, default).ok


def test_transmit_checksum_offload():
    """lo leaves checksums undone (the offload is on); a missing interface: no answer."""
    from netmap_py.portspec import PortSpec
    fact = checks.tx_checksum_offload("lo")
    assert fact is not None and not fact.ok and fact.value is True
    assert "ethtool -K lo tx off" in fact.sentence
    assert checks.tx_checksum_offload("nosuch0") is None
    assert checks.host_ring_offload(PortSpec.parse("netmap:lo^")) == fact
    assert checks.host_ring_offload(PortSpec.parse("netmap:lo*")) == fact
    assert checks.host_ring_offload(PortSpec.parse("netmap:lo")) is None   # NIC rings only
    assert checks.host_ring_offload(PortSpec.parse("vale0:a")) is None
