"""netmap_py: netmap's packet I/O API for Python, on netmap, AF_XDP or AF_PACKET.

    import netmap_py
    with netmap_py.open("packet:veth0") as port:
        ring = port.tx_rings[0]
        ...

The rings, slots and buffers are netmap's on every backend; only the sync calls
differ.  See README.md for the layers and the backends.
"""
from __future__ import annotations

import dataclasses
import errno
import os

from . import checks, constants
from .constants import *  # noqa: F403  (NS_*, NR_*, NETMAP_* as ints)
from .portspec import PortSpec

try:
    from . import _core
    from ._bridge import Bridge
    from ._core import Port, Ring, Slot, same_region, wait
except ImportError as e:  # pragma: no cover - only without a build
    raise ImportError(
        "netmap_py's compiled core is missing: install with 'pip install .' (or run "
        "'python setup.py build_ext --inplace' in a checkout)") from e

__version__ = "0.1.0"


def get_include() -> str:
    """The folder of netmap_py's C header (netmap_abi.h), for users' extensions that
    ``cimport netmap_py._core``: ``Extension(..., include_dirs=[netmap_py.get_include()])``."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
__all__ = ["get_include", "open", "OpenOptions", "open_group", "bridge", "Bridge", "PortSpec",
           "Port", "Ring", "Slot", "same_region", "wait", "checks", "constants", "POLLIN",
           "POLLOUT"]

POLLIN, POLLOUT = 0x1, 0x4
DEFAULT_SLOTS = 1024
DEFAULT_XDP_SLOTS = 8192
DEFAULT_BUF_SIZE = 2048


@dataclasses.dataclass(frozen=True)
class OpenOptions:
    """How open() opens a port, besides its name.

    ``slots`` and ``rings`` are defaults for what the name's ``@conf`` does not say;
    netmap honours them only for ports an open creates (VALE, pipes), the emulated
    backends always (their rings are software: ``rings`` sockets).  ``buf_size``:
    bytes a buffer of ours holds (loop:, AF_PACKET).  ``rx_ring_mb``: the AF_PACKET
    kernel ring.  ``low_latency`` makes the AF_PACKET backend receive frame by frame
    (TPACKET_V2) instead of in blocks handed over at most 1 ms late (TPACKET_V3, the
    default).  ``vnet_hdr=10``: every slot starts with a virtio-net header (struct
    virtio_net_hdr), as pkt-gen's -H does; netmap ports are told the length
    (PORT_HDR_SET), AF_PACKET passes it to the kernel and receives one, loop: ports
    carry it, AF_XDP has none.  ``accept_vnet_hdr``: netmap ports that require a
    header may be bound (NR_ACCEPT_VNET_HDR).
    """

    slots: int | None = None
    buf_size: int | None = None
    rings: int | None = None
    accept_vnet_hdr: bool = False
    rx_ring_mb: int = 8
    low_latency: bool = False
    vnet_hdr: int = 0

    def check(self) -> None:
        if self.vnet_hdr not in (0, 10, 12):
            raise ValueError(f"vnet_hdr {self.vnet_hdr}: a virtio-net header is 10 or 12 bytes")
        if self.buf_size is not None and not MIN_BUF_SIZE <= self.buf_size <= MAX_BUF_SIZE:
            raise ValueError(f"buf_size {self.buf_size}: buffers hold {MIN_BUF_SIZE}.."
                             f"{MAX_BUF_SIZE} bytes")


def open(portspec: str | PortSpec, options: OpenOptions | None = None, **kw) -> Port:
    """Open a port by name (``netmap:eth0``, ``xdp:eth0-1``, ``packet:eth0``, ``eth0``),
    as options (an OpenOptions, or its fields as keywords: slots=, rings=, ...) say.

    A bare name picks netmap when /dev/netmap exists and the interface registers,
    else AF_XDP, else AF_PACKET (``Port.backend_reason`` says why).  A forced prefix
    that cannot work raises ``OSError`` saying why; it never falls back silently.
    """
    if options is not None and kw:
        raise TypeError("give open() an OpenOptions or keywords, not both")
    o = options if options is not None else OpenOptions(**kw)
    if not isinstance(o, OpenOptions):
        raise TypeError(f"options must be an OpenOptions, not {type(o).__name__}")
    spec = portspec if isinstance(portspec, PortSpec) else PortSpec.parse(portspec)
    o.check()
    conf = spec.conf()
    for key, v in (("slots", o.slots), ("rings", o.rings)):
        if v is not None:
            conf.setdefault("tx_" + key, v)
            conf.setdefault("rx_" + key, v)
    _check_soft_rings(spec, conf)
    if spec.backend == "netmap":
        return _open_netmap(spec, conf, o, "asked for with netmap:")
    if spec.backend == "xdp":
        if o.vnet_hdr:
            raise OSError(errno.EOPNOTSUPP, "AF_XDP carries no virtio-net header: use a "
                          "packet: port for -H", spec.text)
        return _open_xdp(spec, conf, "asked for with xdp:")
    if spec.backend == "loop":
        return _core.open_loop(spec, _ring_plan(spec, "loop", conf),
                               o.buf_size or DEFAULT_BUF_SIZE, "asked for with loop:")
    if spec.backend == "packet":
        return _open_packet(spec, conf, o, "asked for with packet:")
    if o.vnet_hdr:
        return _open_packet(spec, conf, o, "a virtio-net header was asked for (-H): only "
                            "AF_PACKET rings carry one")
    return _open_auto(spec, conf, o)


def _open_auto(spec: PortSpec, conf: dict, o: OpenOptions) -> Port:
    """A bare name: netmap where it can register the interface, else AF_XDP, else
    AF_PACKET."""
    if checks.NETMAP_DEV.exists():
        try:
            return _open_netmap(spec, conf, o, "netmap module loaded and the port registered")
        except OSError as e:
            why = f"netmap could not register {spec.name} ({e.strerror})"
    else:
        why = "netmap module not loaded (/dev/netmap missing)"
    try:
        return _open_xdp(spec, conf, why + "; AF_XDP attached")
    except OSError as e:
        if e.errno == errno.ENODEV:
            raise
        why += f"; AF_XDP could not attach ({e.strerror})"
    return _open_packet(spec, conf, o, why + "; using AF_PACKET rings")


SOFT_MAX_RINGS = 64
MIN_BUF_SIZE, MAX_BUF_SIZE = 64, 65536
SOFT_SLOTS = (2, 65536)


def _check_soft_rings(spec: PortSpec, conf: dict) -> None:
    """Rings our code makes (loop:, AF_PACKET, AF_XDP): counts it can hold, checked
    before anything is allocated.  netmap's kernel checks its own."""
    if spec.backend == "netmap":
        return
    for key in ("tx_rings", "rx_rings"):
        if not 0 < conf.get(key, 1) <= SOFT_MAX_RINGS:
            raise ValueError(f"{spec.text}: {conf[key]} {key.replace('_', ' ')}; "
                             f"{spec.backend} ports have 1..{SOFT_MAX_RINGS}")
    lo, hi = SOFT_SLOTS
    for key in ("tx_slots", "rx_slots"):
        if not lo <= conf.get(key, lo) <= hi:
            raise ValueError(f"{spec.text}: {conf[key]} {key.replace('_', ' ')}; rings hold "
                             f"{lo}..{hi} slots (@conf:slots=N)")


def _ring_range(spec: PortSpec, nrings: int) -> tuple[int, int]:
    if spec.mode == constants.NR_REG_ONE_NIC:
        if spec.ringid >= nrings:
            raise OSError(errno.EINVAL,
                          f"ring {spec.ringid} does not exist: {spec.name} has {nrings} ring(s) "
                          f"(ask for more with @conf:rings=N)", spec.text)
        return spec.ringid, 1
    return 0, nrings


@dataclasses.dataclass(frozen=True)
class _RingPlan:
    """How an emulated backend lays out one port: rings in all, the bound range, the
    slots a ring, directions; info is the interface (None for loop:)."""

    info: checks.InterfaceInfo | None
    nrings: int
    first: int
    count: int
    slots: int
    tx: bool
    rx: bool


def _ring_plan(spec: PortSpec, backend: str, conf: dict) -> _RingPlan:
    """The one place open() and open_group() decide rings and slots for loop:,
    AF_PACKET and AF_XDP ports."""
    info = None
    if backend == "loop":
        nrings = conf.get("tx_rings", 1)
    else:
        info = checks.interface(spec.name)
        if not info.exists:
            raise OSError(errno.ENODEV, info.facts[0].sentence, spec.text)
        queues = max(info.rx_queues, info.tx_queues, 1)
        if backend == "xdp":
            # an XDP socket binds to a real queue: no more rings than the device has
            nrings = conf.get("tx_rings", conf.get("rx_rings", queues))
            if nrings > queues:
                raise OSError(errno.EINVAL, f"{spec.name} has {queues} queue(s); AF_XDP cannot "
                              f"bind {nrings} (use packet:{spec.name} for more software rings)",
                              spec.text)
        else:
            nrings = max(conf.get("tx_rings", 0), conf.get("rx_rings", 0), queues)
    first, count = _ring_range(spec, nrings)
    # the RX ring is all the buffering AF_XDP has (AF_PACKET has its kernel ring
    # besides ours): 8192 slots give a reader ~20 ms of slack at 400 kpps
    slots = conf.get("tx_slots", DEFAULT_XDP_SLOTS if backend == "xdp" else DEFAULT_SLOTS)
    return _RingPlan(info, nrings, first, count, slots,
                     tx=not spec.flags & constants.NR_RX_RINGS_ONLY,
                     rx=not spec.flags & constants.NR_TX_RINGS_ONLY)


def _rx_blocks(rx_ring_mb: int) -> int:
    # 64 KiB blocks: at low rates the kernel hands over a block per millisecond with
    # few frames in it, so the number of blocks is what buffers a slow reader
    return max(8, rx_ring_mb * 16)


def _open_xdp(spec: PortSpec, conf: dict, reason: str) -> Port:
    r = _ring_plan(spec, "xdp", conf)
    return _core.open_xdp(spec, r, reason)


def _open_netmap(spec: PortSpec, conf: dict, o: OpenOptions, reason: str) -> Port:
    vnet_hdr = o.vnet_hdr
    share = spec.option("share")
    share_spec = PortSpec.parse(share["port"]) if share else None
    extra = constants.NR_ACCEPT_VNET_HDR if o.accept_vnet_hdr or vnet_hdr else 0
    port = _core.open_netmap(spec, extra, reason, share_spec, conf)
    if vnet_hdr:                        # the port takes the length (PORT_HDR_SET)
        try:
            _core.netmap_port_hdr(port, vnet_hdr)
        except BaseException:
            port.close()
            raise
    return port


@dataclasses.dataclass(frozen=True)
class _PacketLayout:
    """An AF_PACKET port's buffers and kernel rings (see _packet.pxi)."""

    buf_size: int
    max_frame: int                      # TX frames only need the MTU (smaller: fewer pages)
    rx_blocks: int
    rx_frames: bool = False             # TPACKET_V2: frame by frame
    vnet_hdr: int = 0
    rx_block_kb: int = 64


def _open_packet(spec: PortSpec, conf: dict, o: OpenOptions, reason: str) -> Port:
    if o.vnet_hdr not in (0, 10):
        raise OSError(errno.EOPNOTSUPP, "AF_PACKET carries 10-byte virtio-net headers, not "
                      f"{o.vnet_hdr}", spec.text)
    if not checks.interface(spec.name).exists:
        _ring_plan(spec, "packet", conf)            # says which interface is missing
    if os.geteuid() != 0:
        # the kernel would say EPERM at socket(); say what to do first
        try:
            import socket
            socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
        except PermissionError:
            from .advice import advice
            raise PermissionError(errno.EPERM, advice("packet", errno.EPERM, "socket"),
                                  spec.text) from None
    r = _ring_plan(spec, "packet", conf)
    layout = _PacketLayout(o.buf_size or DEFAULT_BUF_SIZE, r.info.mtu + 18,
                           _rx_blocks(o.rx_ring_mb), o.low_latency, o.vnet_hdr)
    return _core.open_packet(spec, r, layout, reason)


def open_group(portspecs: list[str | PortSpec], *, slots: int | None = None,
               low_latency: bool = False) -> list[Port]:
    """Open several ports in one memory region, so buffers can be swapped between
    them (a zero-copy bridge needs this).  All ports take one backend: netmap (the
    later ports join the first one's region, as ``@share`` does), AF_XDP (one UMEM,
    XDP_SHARED_UMEM), AF_PACKET or loop (one region of ours).  Bare names resolve as
    in open(); the first port's backend decides for the others."""
    specs = [p if isinstance(p, PortSpec) else PortSpec.parse(p) for p in portspecs]
    if len(specs) < 2:
        raise ValueError("open_group() takes at least two ports")
    first = open(specs[0], slots=slots, low_latency=low_latency)
    backend = first.backend
    if backend == "netmap":
        ports = [first]
        try:
            for s in specs[1:]:
                s = dataclasses.replace(s, backend="netmap", mem_id=first.mem_id)
                ports.append(open(s, slots=slots))
        except BaseException:
            for p in ports:
                p.close()
            raise
        return ports
    first.close()  # emulated: the region must be laid out for all ports at once
    return _open_emulated_group(specs, backend, slots, low_latency)


def _open_emulated_group(specs, backend, slots, low_latency):
    plans = []
    for s in specs:
        s = dataclasses.replace(s, backend=backend)
        conf = s.conf()
        if slots is not None:
            conf.setdefault("tx_slots", slots)
        _check_soft_rings(s, conf)
        plans.append((s, _ring_plan(s, backend, conf)))
    bufsz, off = _core.XDP_LAYOUT if backend == "xdp" else (DEFAULT_BUF_SIZE, 0)
    region = _core.build_group([(s.name, r.nrings, r.nrings, r.slots, r.slots)
                                for s, r in plans], bufsz, off)
    ports: list[Port] = []
    g = _Group(backend, bufsz, f"{backend} group: one region for {len(plans)} ports", region,
               low_latency)
    try:
        for k, (s, r) in enumerate(plans):
            ports.append(_open_member(g, k, s, r))
    except BaseException:
        for p in ports:
            p.close()
        raise
    finally:
        region.release()
    return ports


@dataclasses.dataclass(frozen=True)
class _Group:
    """What every port of an emulated group shares."""

    backend: str
    bufsz: int
    why: str
    region: object
    low_latency: bool


def _open_member(g: _Group, k: int, s: PortSpec, r: _RingPlan) -> Port:
    """Port k of an emulated group, in the region laid out for all of them."""
    place = (g.region, k)
    if g.backend == "loop":
        return _core.open_loop(s, r, g.bufsz, g.why, place=place)
    if g.backend == "xdp":
        return _core.open_xdp(s, r, g.why, place=place)
    layout = _PacketLayout(g.bufsz, r.info.mtu + 18, _rx_blocks(8), g.low_latency)
    return _core.open_packet(s, r, layout, g.why, place=place)


def bridge(a: Port, b: Port, *, duration: float | None = None,
           udp_drop_port: int | None = None, **bridge_kw) -> Bridge:
    """Forward a -> b and b -> a until ``duration`` seconds pass or Ctrl-C; return the
    Bridge (``.counters()``, ``.zero_copy``); bridge_kw go to Bridge (burst=,
    batch_callback=, copy=).  Buffers are swapped, not copied, when
    the ports share a region (open them with open_group()); ``Bridge.zero_copy`` says
    which.  The loop runs in a thread without the GIL; this thread stays
    interruptible."""
    import threading
    import time

    br = Bridge(a, b, **bridge_kw)
    if udp_drop_port is not None:
        br.drop_udp_port(udp_drop_port)
    errors: list[BaseException] = []

    def work():
        try:
            br.run()
        except BaseException as e:  # handed to the caller below
            errors.append(e)

    t = threading.Thread(target=work, name="netmap_py-bridge", daemon=True)
    t.start()
    end = None if duration is None else time.monotonic() + duration
    try:
        while t.is_alive() and (end is None or time.monotonic() < end):
            t.join(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        br.stop()
        t.join()
    if errors:
        raise errors[0]
    return br
