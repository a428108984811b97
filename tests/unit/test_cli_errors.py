"""Bad input: one line on stderr, exit status 2, no traceback, nothing left open."""
import os
import shutil
import subprocess
import sys

import pytest

from pktgen_nm import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_NETMAP = not os.path.exists("/dev/netmap")

CASES = [
    ([], "missing -i"),
    (["-i", "loop:x", "-f", "flood"], "unknown function 'flood'"),
    (["-i", "nosuch0", "-f", "tx"], "no interface named 'nosuch0'"),
    (["-i", "packet:nosuch0", "-f", "rx"], "no interface named 'nosuch0'"),
    (["-i", "netmap:", "-f", "tx"], "bad port name 'netmap:'"),
    (["-i", "xdp:eth0^", "-f", "tx"], "host rings"),
    (["-i", "loop:x", "-f", "tx", "-D", "zz:00:00:00:00:01"], "invalid -D MAC"),
    (["-i", "loop:x", "-f", "tx", "-S", "02:00:00:00:01"], "invalid -S MAC"),
    (["-i", "loop:x", "-f", "tx", "-s", "10.0.0"], "not an IPv4 address"),
    (["-i", "loop:x", "-f", "tx", "-d", "10.0.0.1:70000"], "outside 0..65535"),
    (["-i", "loop:x", "-f", "tx", "-s", "fd00::1-fd01::2", "-6"], "may differ only in group"),
    (["-i", "loop:x", "-f", "tx", "-l", "15"], "bad pktsize 15"),
    (["-i", "loop:x", "-f", "tx", "-l", "70000"], "bad pktsize 70000"),
    (["-i", "loop:x", "-f", "tx", "-l", "30"], "needs at least 42 bytes"),
    (["-i", "loop:x", "-f", "tx", "-l", "60", "-l", "70", "-l", "80"], "at most twice"),
    (["-i", "loop:x", "-f", "tx", "-p", "0"], "at least one thread"),
    (["-i", "loop:x", "-f", "ping", "-p", "2"], "one thread only"),
    (["-i", "loop:x", "-f", "tx", "-c", "999"], "999 cpus is too high"),
    (["-i", "loop:x", "-f", "tx", "-a", "999"], "CPU 999 does not exist"),
    (["-i", "loop:x", "-f", "tx", "-T", "5"], "at least 10 ms"),
    (["-i", "loop:x", "-f", "tx", "-R-5"], "rate cannot be negative"),
    (["-i", "loop:x", "-f", "tx", "-n-1"], "cannot be negative"),
    (["-i", "loop:x", "-f", "tx", "-n", "lots"], "not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-H", "7"], "0, 10 or 12"),
    (["-i", "loop:x", "-f", "tx", "-F", "70"], "must be 1..63"),
    (["-i", "loop:x", "-f", "tx", "-M", "8"], "at least 16 bytes"),
    (["-i", "loop:x", "-f", "rx", "-F", "2"], "cut what -f tx and txseq send"),
    (["-i", "veth0", "-f", "tx", "-F", "2", "--engine", "kernel"], "about ring slots"),
    (["-i", "veth0", "-f", "tx", "-l", "9000", "--engine", "kernel"], "do not fit one XDP frame"),
    (["-i", "loop:x", "-f", "tx", "-o", "0x100000"], "unknown bits"),
    (["-i", "loop:x", "-f", "tx", "-4", "-6"], "exclude each other"),
    (["-i", "loop:x", "-f", "tx", "-b", "0"], "burst must be"),
    (["-i", "loop:x", "-f", "tx", "-C", "a,b"], "bad -C"),
    (["-i", "loop:x", "-f", "tx", "-P", "/nonexistent/x.pcap"], "cannot use -P"),
    (["-i", "loop:x", "-f", "rx", "-P", "/dev/null"], "works with -f tx only"),
    (["-i", "loop:x", "-f", "tx", "--pcap-out", "x.pcap"], "works with -f rx and rxseq only"),
    (["-i", "loop:x", "-f", "tx", "--engine", "kernel"], "sends on a Linux interface"),
    (["-i", "loop:x", "-f", "tx", "--engine", "warp"], "unknown --engine 'warp'"),
    (["-i", "loop:x", "-f", "rx", "--engine", "kernel"], "only sends"),
    (["-i", "veth0", "-f", "tx", "-r", "--engine", "kernel"], "about ring slots"),
    (["-i", "veth0-1", "-f", "tx", "--engine", "kernel"], "drop the ring suffix"),
    (["-i", "loop:x", "-f", "tx", "-I"], "VALE ports only"),
    (["-i", "vale0:a", "-f", "tx", "-I", "-z"], "nothing can vary per packet"),
    (["-i", "loop:x", "-f", "ping", "-X"], "-X dumps what tx"),
    (["-i", "veth0", "-f", "tx", "-X", "--engine", "kernel"], "about ring slots"),
    (["-i", "loop:x", "-f", "tx", "-w-1"], "cannot be negative"),
    (["-i", "loop:x", "-f", "tx", "--bogus"], "unrecognized arguments"),
    (["-i", "loop:x", "-f", "tx", "--duration=-3"], "cannot be negative"),
    (["-i", "loop:x", "-f", "txseq", "-l", "50"], "needs at least 54 bytes"),
]


@pytest.mark.parametrize("argv,why", CASES)
def test_bad_input(argv, why, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("pktgen-nm: "), err
    assert why in err
    assert "Traceback" not in err + out


def test_enough_cases():
    assert len(CASES) >= 25


def test_unreadable_pcap(tmp_path, capsys):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture file at all")
    assert cli.main(["-i", "loop:x", "-f", "tx", "-P", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a pcap file" in err and err.count("\n") == 1


@pytest.mark.skipif(not NO_NETMAP, reason="this machine has netmap: the case is its absence")
def test_netmap_forced_but_missing(capsys):
    # rx only: nothing is sent even where this would open
    assert cli.main(["-i", "netmap:lo", "-f", "rx", "-w", "0"]) == 2
    err = capsys.readouterr().err
    assert "netmap module not loaded" in err and "xdp:lo or packet:lo" in err
    assert err.count("\n") == 1


def test_no_permission():
    """A user without CAP_NET_RAW gets one line saying so (run as nobody)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become an unprivileged user")
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, "-m", "pktgen_nm", "-i", "packet:lo", "-f", "rx"],
                       capture_output=True, text=True, env=env, cwd="/", timeout=30)
    assert r.returncode == 2, r.stderr
    assert "no permission" in r.stderr and r.stderr.count("\n") == 1


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["-h"])
    assert e.value.code == 0
    assert "usage: pktgen-nm" in capsys.readouterr().out
