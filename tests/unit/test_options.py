"""Options objects instead of long parameter lists: open(), Worker(), build_frame()
take one object or its fields as keywords, never both, and refuse unknown names."""
import pytest

import netmap_py as nm
from pktgen_nm import _engine
from pktgen_nm import packet as P


def test_open_takes_options_or_keywords():
    with nm.open("loop:o1", nm.OpenOptions(slots=64)) as p:
        assert p.tx_rings[0].num_slots == 64
    with nm.open("loop:o2", slots=128) as p:
        assert p.tx_rings[0].num_slots == 128
    with pytest.raises(TypeError, match="not both"):
        nm.open("loop:o3", nm.OpenOptions(), slots=64)
    with pytest.raises(TypeError, match="slotz"):
        nm.open("loop:o4", slotz=64)
    with pytest.raises(TypeError, match="OpenOptions"):
        nm.open("loop:o5", {"slots": 64})
    with pytest.raises(ValueError, match="vnet_hdr 11"):
        nm.open("loop:o6", vnet_hdr=11)


def test_worker_takes_options_or_keywords():
    with nm.open("loop:w1@conf:slots=64") as p:
        w = _engine.Worker(p, "tx", _engine.WorkerOptions(frame=P.build_frame(60), limit=10))
        w.run()
        assert w.sample()[0] == 10
        with pytest.raises(TypeError, match="not both"):
            _engine.Worker(p, "rx", _engine.WorkerOptions(), limit=1)
        with pytest.raises(TypeError, match="limitt"):
            _engine.Worker(p, "rx", limitt=1)
        with pytest.raises(TypeError, match="KernelProgram"):
            _engine.Worker(p, "tx", kernel="prog")


def test_build_frame_fields():
    f = P.FrameFields(family=6, vhdr=10)
    assert P.build_frame(80, f).data == P.build_frame(80, family=6, vhdr=10).data
    with pytest.raises(TypeError):
        P.build_frame(60, famliy=4)


@pytest.mark.parametrize("name,frags", [("loop:f1", 63)])
def test_max_frags_capability(name, frags):
    with nm.open(name) as p:
        assert p.max_frags == frags
