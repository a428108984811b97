"""The kernel's own pktgen module, driven as its users drive it (pktgen-nm pgset
--engine kpktgen): each command of a script written to the /proc/net/pktgen file it
names and the module's answer checked, ``start`` awaited, every device's result read
back, and the module left as it was found (``reset``).

    from pktgen_nm import kpktgen
    for dev, res in kpktgen.run(open("pktgen.sh").read()).items():
        print(dev, res.pkts, res.pps)
"""
from __future__ import annotations

import os
import re

from . import pgset
from .results import Result

PROC = "/proc/net/pktgen"
ENOTSUPP = 524                  # the kernel's own "not supported" (no name in errno)
RESULT = re.compile(r"^Result: OK: (\d+)\(c\d+\+d\d+\) usec, (\d+) \((\d+)byte,\d+frags\)\n"
                    r"\s+(\d+)pps (\d+)Mb/sec \((\d+)bps\) errors: (\d+)", re.M)


class ModuleError(pgset.ScriptError):
    """The module is not there, or refused a command: one line saying which and why."""


def missing() -> str | None:
    """Why the module cannot be driven here (None: it can)."""
    if not os.path.isdir(PROC):
        return (f"--engine kpktgen drives the pktgen module, and {PROC} is not there: load "
                "it (modprobe pktgen) or leave --engine out (our kernel engine needs no module)")
    if not os.access(os.path.join(PROC, "pgctrl"), os.W_OK):
        return f"--engine kpktgen writes to {PROC}/pgctrl: run as root"
    return None


def plan(text: str) -> list:
    """The script's (line, file, command) in order, checked before anything is written:
    every file exists or is a device the script adds, something is started, and every
    device has a count (0 would run until Ctrl-C)."""
    why = missing()
    if why:
        raise ModuleError(why)
    devices: dict[str, int] = {}
    out, started = [], False
    for no, target, cmd in pgset._commands(text):
        if target is None or not target.startswith(pgset.PROC):
            raise ModuleError(f"line {no}: {cmd!r} has no /proc/net/pktgen file to go to "
                              "(set PGDEV=... first)")
        where = target[len(pgset.PROC):]
        name, _, arg = cmd.partition(" ")
        if where == "pgctrl":
            started = started or name == "start"
        elif where.startswith("kpktgend_"):
            if not os.path.exists(os.path.join(PROC, where)):
                threads = sorted(f for f in os.listdir(PROC) if f.startswith("kpktgend_"))
                raise ModuleError(f"line {no}: {where} does not exist here (the module has "
                                  f"{', '.join(threads)}: one per CPU)")
            if name == "add_device":
                devices[arg.strip()] = 1000             # the module's default count
        elif where in devices:
            if name == "count":
                devices[where] = int(arg) if arg.strip().isdigit() else -1
        else:
            raise ModuleError(f"line {no}: {where} is not a device added with add_device")
        out.append((no, where, cmd))
    if not devices:
        raise ModuleError("the script adds no device (add_device on a kpktgend_N file)")
    if not started:
        raise ModuleError("the script never writes start to pgctrl: nothing would run")
    for dev, count in devices.items():
        if count == 0:
            raise ModuleError(f"{dev}: count 0 (for ever) needs Ctrl-C; give a count here")
    return out


def _write(where: str, cmd: str) -> None:
    with open(os.path.join(PROC, where), "w") as f:
        f.write(cmd + "\n")


def _answer(where: str) -> str:
    with open(os.path.join(PROC, where)) as f:
        text = f.read()
    line = next((x for x in text.splitlines() if x.startswith("Result:")), "")
    return line


def configure(steps: list) -> list:
    """Write every command but start; the devices configured.  A refusal resets the
    module and raises ModuleError naming the line."""
    devices = []
    for no, where, cmd in steps:
        if where == "pgctrl":
            continue
        try:
            _write(where, cmd)
        except OSError as e:
            reset()
            why = "not supported on this device" if e.errno == ENOTSUPP else e.strerror
            raise ModuleError(f"line {no}: {cmd}: the pktgen module refused it "
                              f"({why}){_hint(cmd)}") from None
        said = _answer(where)
        if said.startswith("Result: ERROR") or said.startswith("Result: No such"):
            reset()
            raise ModuleError(f"line {no}: {cmd}: the pktgen module says {said[8:]!r}")
        if cmd.startswith("add_device "):
            devices.append(cmd.split(None, 1)[1].strip())
    return devices


def _hint(cmd: str) -> str:
    if cmd.startswith(("clone_skb", "burst")):
        return ("; this device cannot share an skb between sends (veth cannot): "
                "clone_skb 0 and burst 1 there")
    return ""


def start() -> bool:
    """Write start to pgctrl: the module runs every device and returns when they are
    done.  False if Ctrl-C stopped them first."""
    try:
        _write("pgctrl", "start")
    except KeyboardInterrupt:
        _write("pgctrl", "stop")
        return False
    except OSError as e:
        raise ModuleError(f"the pktgen module would not start ({e.strerror}): is every "
                          "device up?") from None
    return True


def result(dev: str, interrupted: bool = False) -> tuple[Result, str]:
    """A device's result as ours, and the module's own two result lines."""
    with open(os.path.join(PROC, dev)) as f:
        text = f.read()
    m = RESULT.search(text)
    if not m:
        line = next((x for x in text.splitlines() if x.startswith("Result:")), "nothing")
        raise ModuleError(f"{dev}: the pktgen module gave no result ({line})")
    usec, pkts, _size, pps, _mb, bps = (int(x) for x in m.groups()[:6])
    secs = usec / 1e6
    res = Result("tx", dev, "kpktgen", pkts, int(bps * secs / 8), 0, secs, float(pps),
                 interrupted)
    return res, m.group(0)


def reset() -> None:
    """Stop everything and take every device off the module's threads."""
    try:
        _write("pgctrl", "reset")
    except OSError:
        pass


def run(text: str) -> dict:
    """The whole script on the module: {device: (Result, the module's result text)}."""
    steps = plan(text)
    devices = configure(steps)
    try:
        done = start()
        return {dev: result(dev, not done) for dev in devices}
    finally:
        reset()
