"""Command-line input shared by pktgen-nm and nm-bridge.

The rule for every flag of both commands: its value is checked (type, finite, range,
and against the chosen backend) before anything is opened or started, and a refusal
is one line on stderr naming the flag, the value and what is allowed, exit status 2.
"""
from __future__ import annotations

import argparse
import math
import re
import sys

VERSION = "0.1.0"


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting, and that
    takes a negative number as a flag's value (``-R -5``), so that the range check can
    say what is wrong with it instead of argparse's 'expected one argument'."""

    def error(self, message):
        raise UsageError(message)

    def parse_args(self, args=None, namespace=None):
        argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self._join_negatives(argv), namespace)

    def _join_negatives(self, argv: list[str]) -> list[str]:
        takes_value = {s for a in self._actions if a.nargs != 0 for s in a.option_strings}
        out: list[str] = []
        i = 0
        while i < len(argv):
            tok = argv[i]
            if tok in takes_value and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
                out.append(f"{tok}={argv[i + 1]}")
                i += 2
                continue
            out.append(tok)
            i += 1
        return out


_NEGATIVE = re.compile(r"-(?:[0-9.]|inf|nan)", re.IGNORECASE)
_PLAIN = re.compile(r"[+-]?[0-9A-Za-z_.]+")  # no spaces, ASCII only


def _plain(text: str) -> bool:
    return text.isascii() and _PLAIN.fullmatch(text) is not None


def whole(text: str) -> int:
    """A whole number in ASCII (decimal, or 0x/0o/0b), as pkt-gen's atoi/strtol."""
    try:
        if not _plain(text):
            raise ValueError
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def number(text: str) -> float:
    """A finite number in ASCII: 'inf' and 'nan' are refused here."""
    try:
        if not _plain(text):
            raise ValueError
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def check_range(flag: str, value, lo, hi, what: str) -> None:
    """Refuse ``value`` outside lo..hi with one line naming the flag and the range."""
    if value is not None and not lo <= value <= hi:
        raise UsageError(f"bad {flag} {fmt(value)}: {what} must be {fmt(lo)}..{fmt(hi)}")


def check_ranges(opts, table) -> None:
    """``table``: (attribute, flag, lo, hi, what) for each numeric flag."""
    for attr, flag, lo, hi, what in table:
        check_range(flag, getattr(opts, attr), lo, hi, what)


def version_line(prog: str) -> str:
    import netmap_py
    return f"{prog} {VERSION} (netmap_py {netmap_py.__version__}, Python {sys.version.split()[0]})"


EXIT_BROKEN_PIPE = 141     # 128 + SIGPIPE, what a shell reports for `yes | head -1`


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush at exit does
    not fail again on the closed pipe."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def guarded(prog: str, body, argv: list[str]) -> int:
    """Run a command's body: bad input and system errors become one line on stderr
    and exit status 2, never a traceback.  ValueError and OverflowError come from the
    API's own argument checks (netmap_py.open, the engine) and are bad input too."""
    try:
        return body(argv)
    except BrokenPipeError:
        # the reader of our output went away (``| head -1``): the run has stopped and
        # every port is closed by now; end quietly with the shell's status for SIGPIPE
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except UsageError as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 2
    except (ValueError, OverflowError) as e:
        sys.stderr.write(f"{prog}: {e}\n")
        return 2
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"{prog}: {where}{e.strerror or e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted before start\n")
        return 130
