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
    (["-i", "loop:x", "-f", "tx", "-p", "0"], "bad -p 0: the number of threads must be 1..128"),
    (["-i", "loop:x", "-f", "ping", "-p", "2"], "one thread only"),
    (["-i", "loop:x", "-f", "tx", "-c", "999"], "bad -c 999: the number of CPUs"),
    (["-i", "loop:x", "-f", "tx", "-a", "999"], "bad -a 999: a CPU number"),
    (["-i", "loop:x", "-f", "tx", "-T", "5"], "the report interval in ms must be 10..3600000"),
    (["-i", "loop:x", "-f", "tx", "-R-5"], "bad -R -5: the rate"),
    (["-i", "loop:x", "-f", "tx", "-n-1"], "bad -n -1: the packet count"),
    (["-i", "loop:x", "-f", "tx", "-n", "lots"], "not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-H", "7"], "0, 10 or 12"),
    (["-i", "loop:x", "-f", "tx", "-F", "70"], "must be 1..63"),
    (["-i", "loop:x", "-f", "tx", "-M", "8"], "at least 16 bytes"),
    (["-i", "loop:x", "-f", "rx", "-F", "2"], "cut what -f tx and txseq send"),
    (["-i", "veth0", "-f", "tx", "-F", "2", "--engine", "kernel"], "about ring slots"),
    (["-i", "veth0", "-f", "tx", "-l", "9000", "--engine", "kernel"], "do not fit one XDP frame"),
    (["-i", "loop:x", "-f", "tx", "-o", "0x100000"], "bad -o 1048576: a sum of pkt-gen's option"),
    (["-i", "loop:x", "-f", "tx", "-4", "-6"], "exclude each other"),
    (["-i", "loop:x", "-f", "tx", "-b", "0"], "bad -b 0: the burst must be 1..65536"),
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
    (["-i", "loop:x", "-f", "tx", "-w-1"], "bad -w -1: the wait for carrier"),
    (["-i", "loop:x", "-f", "tx", "--bogus"], "unrecognized arguments"),
    (["-i", "loop:x", "-f", "tx", "--duration=-3"], "bad --duration -3: the run time"),
    (["-i", "loop:x", "-f", "txseq", "-l", "50"], "needs at least 54 bytes"),
    # issue 11: non-finite numbers (a traceback, or a run that never ends, before)
    (["-i", "loop:x", "-f", "tx", "-R", "inf"], "-R: 'inf' is not a finite number"),
    (["-i", "loop:x", "-f", "tx", "-R", "nan"], "-R: 'nan' is not a finite number"),
    (["-i", "loop:x", "-f", "tx", "-R", "-inf"], "-R: '-inf' is not a finite number"),
    (["-i", "loop:x", "-f", "tx", "-R", "1e999"], "-R: '1e999' is not a finite number"),
    (["-i", "loop:x", "-f", "tx", "--duration", "nan"], "'nan' is not a finite number"),
    (["-i", "loop:x", "-f", "tx", "--duration", "inf"], "'inf' is not a finite number"),
    (["-i", "loop:x", "-f", "tx", "-w", "nan"], "-w: 'nan' is not a finite number"),
    # negative numbers as separate words (argparse took them for flags before)
    (["-i", "loop:x", "-f", "tx", "-R", "-5"], "bad -R -5: the rate in packets per second"),
    (["-i", "loop:x", "-f", "tx", "-n", "-1"], "bad -n -1: the packet count"),
    (["-i", "loop:x", "-f", "tx", "-w", "-3"], "bad -w -3: the wait for carrier"),
    (["-i", "loop:x", "-f", "tx", "--duration", "-1"], "bad --duration -1: the run time"),
    (["-i", "loop:x", "-f", "tx", "-l", "-60"], "bad pktsize -60"),
    (["-i", "loop:x", "-f", "tx", "-b", "-1"], "bad -b -1: the burst"),
    (["-i", "loop:x", "-f", "tx", "-p", "-2"], "bad -p -2: the number of threads"),
    (["-i", "loop:x", "-f", "tx", "-a", "-1"], "bad -a -1: a CPU number"),
    (["-i", "loop:x", "-f", "tx", "-c", "-1"], "bad -c -1: the number of CPUs"),
    (["-i", "loop:x", "-f", "tx", "-T", "-100"], "bad -T -100: the report interval"),
    (["-i", "loop:x", "-f", "tx", "-F", "-1"], "bad -F -1: the number of fragments"),
    (["-i", "loop:x", "-f", "tx", "-M", "-64"], "bad -M -64: the largest fragment"),
    (["-i", "loop:x", "-f", "tx", "-o", "-1"], "bad -o -1: a sum of pkt-gen's option bits"),
    (["-i", "loop:x", "-f", "tx", "--seed", "-7"], "bad --seed -7: the seed"),
    (["-i", "loop:x", "-f", "rx", "--pcap-count", "-1"], "bad --pcap-count -1"),
    (["-i", "loop:x", "-f", "tx", "-H", "-10"], "0, 10 or 12"),
    # values out of a backend's range (tracebacks from the core before)
    (["-i", "loop:x", "-f", "tx", "-p", "1000"], "bad -p 1000: the number of threads must be 1..128"),
    (["-i", "loop:x", "-f", "tx", "-p", "65"], "bad -p 65: on a loop: port, the number of threads"),
    (["-i", "loop:x", "-f", "tx", "-C", "100000000"], "rings hold 2..65536 slots"),
    (["-i", "loop:x", "-f", "tx", "-C", "1"], "rings hold 2..65536 slots"),
    (["-i", "loop:x", "-f", "tx", "-C", "4294967296"], "bad -C 4294967296: a slot count"),
    (["-i", "loop:x", "-f", "tx", "-C", "512,512,70000"], "bad -C 70000: a ring count"),
    (["-i", "loop:x", "-f", "tx", "-C", "512,512,100"], "loop ports have 1..64"),
    (["-i", "loop:x@conf:rings=100", "-f", "tx"], "loop ports have 1..64"),
    (["-i", "loop:x@conf:slots=1", "-f", "tx"], "rings hold 2..65536 slots"),
    (["-i", "netmap:eth0@65536", "-f", "tx"], "memory region id 65536 out of range"),
    (["-i", "netmap:eth0@conf:rings=70000", "-f", "tx"], "at most 65535"),
    (["-i", "loop:x-64", "-f", "tx"], "ring 64 does not exist"),
    (["-i", "loop:x", "-f", "tx", "-n", "9223372036854775808"], "bad -n 9223372036854775808"),
    (["-i", "loop:x", "-f", "tx", "--seed", "18446744073709551616"], "bad --seed"),
    (["-i", "loop:x", "-f", "tx", "-R", "1e11"], "bad -R 1e+11: the rate"),
    (["-i", "loop:x", "-f", "tx", "--duration", "1e10"], "bad --duration 1e+10"),
    (["-i", "loop:x", "-f", "tx", "-T", "99999999999"], "bad -T 99999999999"),
    # --pcap-out that cannot be written: refused before the run (it hung before)
    (["-i", "loop:x", "-f", "rx", "--pcap-out", "/nonexistent/dir/x.pcap"], "no directory"),
    (["-i", "loop:x", "-f", "rx", "--pcap-out", "/"], "it is a directory"),
    (["-i", "loop:x", "-f", "rx", "--pcap-out", "/sys/x.pcap"], "Permission denied; choose another place"),
    # types: only ASCII digits, no spaces, a number where a number goes
    (["-i", "loop:x", "-f", "tx", "-n", "\u0663"], "'\u0663' is not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-n", " 5"], "' 5' is not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-n", "5 "], "'5 ' is not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-n", "1.5"], "'1.5' is not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-n", ""], "'' is not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-R", "fast"], "'fast' is not a number"),
    (["-i", "loop:x", "-f", "tx", "-R", "\uff11"], "is not a number"),
    (["-i", "loop:x", "-f", "tx", "-l", "60x"], "'60x' is not a whole number"),
    (["-i", "loop:x", "-f", "tx", "-T"], "expected one argument"),
    (["-i", "loop:x", "-f", "tx", "-C", "512,-1"], "bad -C '512,-1'"),
    (["-i", "loop:x", "-f", "tx", "-C", "1,2,3,4,5"], "bad -C"),
    (["-i", "loop:x", "-f", "tx", "-C", "\u0665\u0661\u0662"], "bad -C"),
    (["-i", "loop:x", "-f", "tx", "-s", "10.0.0.1:-5"], "-s"),
    (["-i", "loop:x", "-f", "tx", "-d", "10.0.0.300"], "not an IPv4 address"),
    (["-i", "loop:x", "-f", "tx", "-M", "15"], "at least 16 bytes"),
    (["-i", "loop:x", "-f", "tx", "-l", "65537"], "bad pktsize 65537"),
    (["-i", "loop:x", "-f", "tx", "--lab-backend", "xdp"], "go with --lab"),
    (["-i", "loop:x", "-f", "tx", "--lab-rx=-v"], "go with --lab"),
    (["--lab", "-f", "tx", "--lab-backend", "warp"], "bad --lab-backend warp"),
]


@pytest.mark.parametrize("argv,why", CASES)
def test_bad_input(argv, why, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("pktgen-nm: "), err
    assert why in err
    assert "Traceback" not in err + out


def test_version_and_long_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("pktgen-nm 0.1.0 (netmap_py 0.1.0")
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0 and "usage: pktgen-nm" in capsys.readouterr().out


BRIDGE_CASES = [
    ([], "give exactly two ports"),
    (["-i", "loop:a"], "give exactly two ports"),
    (["-i", "loop:a", "-i", "loop:b", "-b", "0"], "bad -b 0: the burst must be 1..65536"),
    (["-i", "loop:a", "-i", "loop:b", "-b", "-5"], "bad -b -5"),
    (["-i", "loop:a", "-i", "loop:b", "-T", "1"], "bad -T 1: the report interval"),
    (["-i", "loop:a", "-i", "loop:b", "-w", "nan"], "'nan' is not a finite number"),
    (["-i", "loop:a", "-i", "loop:b", "-w", "-1"], "bad -w -1"),
    (["-i", "loop:a", "-i", "loop:b", "--duration", "inf"], "'inf' is not a finite number"),
    (["-i", "loop:a", "-i", "loop:b", "--duration", "-2"], "bad --duration -2"),
    (["-i", "loop:a", "-i", "loop:b", "--drop-udp-port", "70000"], "bad --drop-udp-port 70000"),
    (["-i", "loop:a", "-i", "loop:b", "--drop-udp-port", "-1"], "bad --drop-udp-port -1"),
    (["-i", "loop:a", "-i", "netmap:"], "bad port name 'netmap:'"),
    (["-i", "loop:a", "-i", "loop:b", "--bogus"], "unrecognized arguments"),
    (["-i", "nosuch0", "-i", "nosuch1"], "no interface named 'nosuch0'"),
]


@pytest.mark.parametrize("argv,why", BRIDGE_CASES)
def test_bridge_bad_input(argv, why, capsys):
    from pktgen_nm import bridge_cli
    rc = bridge_cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("nm-bridge: "), err
    assert why in err and "Traceback" not in err + out


def test_bridge_version(capsys):
    from pktgen_nm import bridge_cli
    assert bridge_cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nm-bridge 0.1.0")


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
