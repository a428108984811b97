import struct

import pytest

from pktgen_nm.pcap import PcapError, read_pcap, write_pcap


def test_roundtrip(tmp_path):
    p = tmp_path / "a.pcap"
    frames = [(1_700_000_000_123_456_789, b"\x01" * 60), (1_700_000_001_000_000_000, b"\x02" * 1514)]
    assert write_pcap(str(p), frames) == 2
    got = list(read_pcap(str(p)))
    assert [d for _, d in got] == [d for _, d in frames]
    assert abs(got[0][0] - 1_700_000_000.123456789) < 1e-6


def test_microsecond_big_endian(tmp_path):
    p = tmp_path / "b.pcap"
    body = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    body += struct.pack(">IIII", 5, 250000, 3, 3) + b"abc"
    p.write_bytes(body)
    assert list(read_pcap(str(p))) == [(5.25, b"abc")]


@pytest.mark.parametrize("data,why", [
    (b"", "shorter than a pcap header"),
    (b"\x0a\x0d\x0d\x0a" + bytes(40), "pcapng is not supported"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105), "not Ethernet"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + bytes(10), "truncated"),
])
def test_bad_files(tmp_path, data, why):
    p = tmp_path / "bad.pcap"
    p.write_bytes(data)
    with pytest.raises(PcapError, match=why):
        list(read_pcap(str(p)))
