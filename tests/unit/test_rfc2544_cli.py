"""pktgen-nm rfc2544: bad input is one line and exit status 2, before any port opens."""
import pytest

from pktgen_nm import cli
from pktgen_nm import rfc2544 as R

BASE = ["rfc2544", "--tx", "loop:a", "--rx", "loop:b", "--dst-mac", "02:00:00:00:00:02"]


@pytest.mark.parametrize("extra,text", [
    (["--max-rate", "1000", "--sizes", "63"], "bad --sizes '63'"),
    (["--max-rate", "1000", "--sizes", "64,big"], "bad --sizes 'big'"),
    (["--max-rate", "1000", "--duration", "0"], "bad --duration"),
    (["--max-rate", "1000", "--duration", "-3"], "bad --duration"),
    (["--max-rate", "0"], "bad --max-rate"),
    (["--max-rate", "1000", "--resolution", "5000"], "not below max_rate"),
    (["--max-rate", "1000", "--tests", "latency,foo"], "bad --tests 'foo'"),
    (["--max-rate", "1000", "--tests", "jitter"], "bad --tests 'jitter'"),
    (["--max-rate", "nan"], "not a finite number"),
    (["--max-rate", "1000", "--back-tx", "loop:c"], "--back-tx and --back-rx need --back-dst-mac"),
    (["--max-rate", "1000", "--back-dst-mac", "02:00:zz:00:00:01"], "bad --back-dst-mac"),
])
def test_bad_input_is_one_line_and_status_2(capsys, extra, text):
    assert cli.main(BASE + extra) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1, err


def test_bad_mac(capsys):
    argv = ["rfc2544", "--tx", "a", "--rx", "b", "--dst-mac", "zz", "--max-rate", "1"]
    assert cli.main(argv) == 2
    assert "bad --dst-mac zz" in capsys.readouterr().err


def test_line_rate_unknown_without_a_link_speed():
    assert R.line_rate(None, 64) is None
    assert R.line_rate("no-such-if0", 64) is None
    assert R.line_rate("lo", 64) is None            # loopback has no speed


def test_trial_loss_and_validity_fields():
    t = R.Trial("throughput", 64, 1000.0, 2000, 1990, 999.0, 2.0)
    assert t.lost == 10 and round(t.loss_pct, 3) == 0.5
    assert t.to_dict()["lost"] == 10


@pytest.mark.parametrize("ports,text", [
    (["--tx", "xdp:nosuch0", "--rx", "xdp:nosuch1"], "bad --tx xdp:nosuch0: no interface"),
    (["--tx", "xdp:lo", "--rx", "xdp:nosuch1"], "bad --rx xdp:nosuch1: no interface"),
    (["--tx", "xdp:lo", "--rx", "xdp:lo", "--rx-netns", "nosuchns"],
     "bad --rx-netns nosuchns: no such network namespace"),
    (["--tx", "bad:::x", "--rx", "lo"], "bad --tx bad:::x: bad port name"),
])
def test_ports_checked_before_any_trial(capsys, ports, text):
    argv = ["rfc2544", *ports, "--dst-mac", "02:00:00:00:00:01", "--max-rate", "1000",
            "--duration", "1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err, err
