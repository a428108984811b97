"""What to do about an error: one table for every backend and the kernel engine,
from (backend, errno) to a sentence that names the fix.  The Cython owners of C
resources raise OSError(errno, advice(...)); front-ends print it as one line."""
from __future__ import annotations

import errno as E

_PERM = (E.EPERM, E.EACCES)
_ERRNAME = {E.EOPNOTSUPP: "EOPNOTSUPP"}     # Linux's ENOTSUP is the same number

# (backend, errnos) -> template; {what} is the operation, {name} the port's name.
# The first row that matches wins; (backend, None) is the backend's fallback.
_TABLE: list[tuple[str, tuple[int, ...] | None, str]] = [
    ("netmap-open", (E.ENOENT,), "netmap module not loaded: /dev/netmap is missing; load "
                                 "netmap.ko (modprobe netmap){other}"),
    ("netmap-open", _PERM, "no permission to open /dev/netmap: run as root (or give your "
                           "user the device)"),
    ("netmap-open", None, "cannot open /dev/netmap"),
    ("netmap", (E.ENXIO,), "no interface or netmap port named {name!r} (check ip link)"),
    ("netmap", (E.EBUSY,), "{name} is already registered (an exclusive /x open, or this fd)"),
    ("netmap", (E.EOPNOTSUPP,), "{name} has no native netmap driver and admode=1 forbids "
                                "emulation (set /sys/module/netmap/parameters/admode to 0)"),
    ("netmap", _PERM, "no permission to put {name} in netmap mode: needs CAP_NET_ADMIN "
                      "(run as root)"),
    ("netmap", (E.EINVAL,), "netmap refused the request for {name} (API version, ring "
                            "number or mode)"),
    ("netmap", (E.ENOMEM,), "netmap could not allocate rings or buffers (module parameters "
                            "buf_num, ring_num)"),
    ("netmap", None, "netmap could not register {name}"),
    ("packet", _PERM, "cannot open an AF_PACKET {what}: needs CAP_NET_RAW (run as root)"),
    ("packet", (E.ENOMEM, E.ENOBUFS), "cannot allocate the AF_PACKET {what}: not enough "
                                      "locked memory; ask for fewer slots"),
    ("packet", (E.ENXIO, E.ENODEV), "the interface disappeared or is not up"),
    ("packet", None, "cannot set up the AF_PACKET {what}"),
    ("xdp", _PERM, "cannot {what}: AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF "
                   "(run as root)"),
    ("xdp", (E.ENOMEM,), "cannot {what}: not enough locked memory (raise ulimit -l)"),
    ("xdp", (E.EBUSY,), "cannot {what}: another AF_XDP socket holds that queue (pick "
                        "another with -N)"),
    ("xdp", (E.EOPNOTSUPP, E.EINVAL), "cannot {what}: this kernel or driver does not "
                                      "support it ({errname})"),
    ("xdp", None, "cannot {what}"),
    ("kernel", (E.EINVAL,), "the kernel refused BPF_PROG_RUN with live frames (it needs "
                            "Linux 5.18 or newer): send through the rings (--engine ring)"),
    ("kernel", (E.EPERM,), "no permission for bpf(): run as root (CAP_BPF, CAP_NET_ADMIN)"),
    ("kernel", None, "BPF_PROG_RUN failed"),
]


def advice(backend: str, err: int, what: str = "", name: str = "", other: str = "") -> str:
    """The sentence for errno err from backend (netmap-open, netmap, packet, xdp,
    kernel) doing `what` on port `name`."""
    for b, errs, text in _TABLE:
        if b == backend and (errs is None or err in errs):
            return text.format(what=what, name=name, other=other,
                               errname=_ERRNAME.get(err) or E.errorcode.get(err, str(err)))
    raise ValueError(f"no advice table for backend {backend!r}")
