"""Port names: netmap's vectors (facts 2.3) and our backend prefixes."""
import pytest

from netmap_py import constants as C
from netmap_py.portspec import PortSpec

A, SW, NS, ONE, ONESW = (C.NR_REG_ALL_NIC, C.NR_REG_SW, C.NR_REG_NIC_SW, C.NR_REG_ONE_NIC,
                         C.NR_REG_ONE_SW)

VALID = [
    # text, backend, nr_name, mode, ringid, flags, mem_id
    ("netmap:eth0", "netmap", "eth0", A, 0, 0, 0),
    ("netmap:eth0-1", "netmap", "eth0", ONE, 1, 0, 0),
    ("netmap:eth0/x", "netmap", "eth0", A, 0, 0x800, 0),
    ("netmap:eth0/z", "netmap", "eth0", A, 0, 0x400, 0),
    ("netmap:eth0/r", "netmap", "eth0", A, 0, 0x200, 0),
    ("netmap:eth0/t", "netmap", "eth0", A, 0, 0x100, 0),
    ("netmap:eth0-2/Tx", "netmap", "eth0", ONE, 2, 0x4800, 0),
    ("netmap:eth0*", "netmap", "eth0", NS, 0, 0, 0),
    ("netmap:eth0^", "netmap", "eth0", SW, 0, 0, 0),
    ("netmap:eth0^1", "netmap", "eth0", ONESW, 1, 0, 0),
    ("netmap:eth0@2", "netmap", "eth0", A, 0, 0, 2),
    ("netmap:eth0@2/R", "netmap", "eth0", A, 0, 0x2000, 2),
    ("netmap:eth0@2/R@2", "netmap", "eth0", A, 0, 0x2000, 2),
    ("vale0:0", "netmap", "vale0:0", A, 0, 0, 0),
    ("vale:0", "netmap", "vale:0", A, 0, 0, 0),
    ("valeXXX:YYY", "netmap", "valeXXX:YYY", A, 0, 0, 0),
    ("valeXXX:YYY-4", "netmap", "valeXXX:YYY", ONE, 4, 0, 0),
    ("netmap:14", "netmap", "14", A, 0, 0, 0),
    ("netmap:pipe{0", "netmap", "pipe{0", A, 0, 0, 0),
    ("netmap:pipe{in", "netmap", "pipe{in", A, 0, 0, 0),
    ("netmap:pipe}in", "netmap", "pipe}in", A, 0, 0, 0),
    ("netmap:pipe{in-7", "netmap", "pipe{in", ONE, 7, 0, 0),
    ("vale0:0{0", "netmap", "vale0:0{0", A, 0, 0, 0),
    ("vale0:0/Tx@conf:rings=2", "netmap", "vale0:0", A, 0, 0x4800, 0),
    ("vale0:0-3@conf:slots=256", "netmap", "vale0:0", ONE, 3, 0, 0),
    ("netmap:eth0-4094", "netmap", "eth0", ONE, 4094, 0, 0),
    ("netmap:eth0&", "netmap", "eth0&", A, 0, 0, 0),  # accepted, as libnetmap's parser does
    ("netmap:vale0:0", "netmap", "vale0:0", A, 0, 0, 0),  # likewise
    ("netmap:eth0@share=netmap:eth1", "netmap", "eth0", A, 0, 0, 0),
    ("xdp:eth0", "xdp", "eth0", A, 0, 0, 0),
    ("xdp:eth0-1", "xdp", "eth0", ONE, 1, 0, 0),
    ("packet:eth0", "packet", "eth0", A, 0, 0, 0),
    ("packet:eth0/T", "packet", "eth0", A, 0, 0x4000, 0),
    ("eth0", "auto", "eth0", A, 0, 0, 0),
    ("eth0-2", "auto", "eth0", ONE, 2, 0, 0),
    ("loop:x", "loop", "x", A, 0, 0, 0),
]

INVALID = [
    ("netmap:eth0-", "ring number"),
    ("netmap:eth0*2", "takes no ring number"),
    ("netmap:eth0@2/R@3", "conflicting memory regions"),
    ("netmap:eth0@", "empty memory region"),
    ("vale0:0@", "empty memory region"),
    ("netmap:", "no port name"),
    ("netmap:^", "no port name"),
    ("netmap:{", "invalid pipe name"),
    ("", "empty"),
    ("netmapXXX:eth0", "unknown prefix"),
    ("valeA-B:c", "invalid VALE switch name"),
    ("netmap:pipe{1}2", "invalid pipe name"),
    ("netmap:eth0-4096", "out of range"),
    ("netmap:eth0/R@xxx", "unknown option '@xxx'"),
    ("netmap:eth0@netmap:lo/R", "unknown option"),
    ("netmap:eth0/q", "unknown flag 'q'"),
    ("netmap:eth0/", "must be followed by flags"),
    ("netmap:eth0@conf=4", "no default key"),
    ("netmap:eth0@conf:rings", "malformed key=value"),
    ("netmap:eth0@conf:wheels=2", "unknown key 'wheels'"),
    ("netmap:eth0@conf:rings=2,rings=3", "given twice"),
    ("netmap:eth0@conf:slots=many", "must be a number"),
    ("netmap:eth0@share", "needs port="),
    ("netmap:eth0@offset=64", "@offset is disabled"),
    ("netmap:eth0@0", "must be > 0"),
    ("netmap:" + "x" * 64, "name too long"),
    ("xdp:eth0^", "host rings"),
    ("packet:eth0*", "host rings"),
    ("xdp:eth0/z", "monitor ports"),
    ("packet:eth0@2", "memory region ids"),
    ("xdp:pipe{1", "pipes exist only in netmap"),
    ("packet:averyveryverylongname", "longer than 15"),
    ("eth0^", "host rings"),
    ("foo:eth0", "unknown prefix"),
]


@pytest.mark.parametrize("text,backend,name,mode,ringid,flags,mem_id", VALID)
def test_valid(text, backend, name, mode, ringid, flags, mem_id):
    s = PortSpec.parse(text)
    assert (s.backend, s.name, s.mode, s.ringid, s.flags, s.mem_id) == (
        backend, name, mode, ringid, flags, mem_id)
    # printing a spec gives a name that parses to the same request
    again = PortSpec.parse(str(s))
    assert (again.name, again.mode, again.ringid, again.flags, again.mem_id) == (
        s.name, s.mode, s.ringid, s.flags, s.mem_id)


@pytest.mark.parametrize("text,why", INVALID)
def test_invalid(text, why):
    with pytest.raises(ValueError) as e:
        PortSpec.parse(text)
    msg = str(e.value)
    assert "\n" not in msg
    assert repr(text) in msg, "the message quotes the name"
    assert why in msg


def test_enough_cases():
    assert len(VALID) + len(INVALID) >= 40


def test_conf_specific_keys_win():
    s = PortSpec.parse("netmap:eth0@conf:slots=512,tx-rings=2,host-rings=3")
    assert s.conf() == {"tx_slots": 512, "rx_slots": 512, "tx_rings": 2,
                        "host_tx_rings": 3, "host_rx_rings": 3}
    s = PortSpec.parse("netmap:eth0-3@conf:tx-slots=256,rx-slots=1024")
    assert (s.mode, s.ringid) == (ONE, 3)
    assert s.conf() == {"tx_slots": 256, "rx_slots": 1024}


def test_pipe_and_identity():
    s = PortSpec.parse("netmap:x}3")
    assert s.pipe == ("slave", "3") and s.ifname is None
    assert PortSpec.parse("vale0:p1").is_vale
    assert PortSpec.parse("netmap:eth0/t").is_monitor
    assert PortSpec.parse("packet:eth0").ifname == "eth0"


def test_with_ring_keeps_backend_and_flags():
    s = PortSpec.parse("packet:eth0/T").with_ring(3)
    assert (s.backend, s.mode, s.ringid, s.flags) == ("packet", ONE, 3, C.NR_TX_RINGS_ONLY)


def test_type_error():
    with pytest.raises(TypeError):
        PortSpec.parse(b"netmap:eth0")
