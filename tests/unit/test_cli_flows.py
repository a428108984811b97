"""-p N without -s: one flow per thread (source port P + i), so RSS can spread them."""
from pktgen_nm import cli


def source_ports(out: str) -> list[int]:
    # dump row 32..47 of an IPv4/UDP frame: bytes 34-35 are the source port
    rows = [line for line in out.splitlines() if line.startswith("   32: ")]
    return [int("".join(r[7:7 + 48].split()[2:4]), 16) for r in rows]


def test_threads_send_distinct_flows(capsys):
    assert cli.main(["-i", "loop:x", "-f", "tx", "-n", "6", "-p", "3", "-X"]) == 0
    out, err = capsys.readouterr()
    assert sorted(set(source_ports(out))) == [1234, 1235, 1236]
    assert "RSS spreads them" in err


def test_an_explicit_source_is_kept(capsys):
    assert cli.main(["-i", "loop:x", "-f", "tx", "-n", "4", "-p", "2", "-X",
                     "-s", "10.0.0.1:5000"]) == 0
    out, err = capsys.readouterr()
    assert set(source_ports(out)) == {5000} and "RSS" not in err


def test_one_thread_sends_pkt_gens_default_flow(capsys):
    assert cli.main(["-i", "loop:x", "-f", "tx", "-n", "2", "-X"]) == 0
    assert set(source_ports(capsys.readouterr().out)) == {1234}
