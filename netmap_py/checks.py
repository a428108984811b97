"""Facts about an interface and the netmap module, each with a sentence for people.

Everything here reads sysfs/procfs in the caller's network namespace and never
changes anything.  ``pktgen-nm`` prints these before it starts.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

SYS_NET = Path("/sys/class/net")
NETMAP_DEV = Path("/dev/netmap")
NETMAP_MOD = Path("/sys/module/netmap")
# drivers with native netmap support (facts 6.1: README, netmap.4, configure)
NATIVE_DRIVERS = frozenset({
    "e1000", "e1000e", "igb", "igc", "ixgbe", "ixgbevf", "i40e", "ice", "r8169",
    "virtio_net", "vmxnet3", "forcedeth", "veth", "stmmac", "mlx5_core",
})


@dataclass(frozen=True)
class Fact:
    """One answer: ``ok`` says whether it is good news, ``value`` the raw fact."""

    name: str
    ok: bool
    value: object
    sentence: str

    def __str__(self) -> str:
        return self.sentence


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


@dataclass
class InterfaceInfo:
    name: str
    exists: bool
    ifindex: int = 0
    up: bool = False
    carrier: bool = False
    mtu: int = 0
    mac: str = ""
    driver: str | None = None
    tx_queues: int = 0
    rx_queues: int = 0
    facts: list[Fact] = field(default_factory=list)


def _ifreq(name: str, request: int, fmt: str = "") -> bytes | None:
    """One SIOCGIF* ioctl on an AF_INET socket: answers for the caller's network
    namespace (sysfs answers for the namespace it was mounted in)."""
    import fcntl
    import socket
    ifr = (name.encode()[:15] + bytes(16))[:16] + bytes(24)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            return fcntl.ioctl(s.fileno(), request, ifr)[16:]
    except OSError:
        return None


SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFHWADDR = 0x8913, 0x8921, 0x8927


def interface(name: str) -> InterfaceInfo:
    """Existence, state, carrier, MTU, MAC, driver and queue counts of ``name``."""
    import socket
    import struct
    try:
        ifindex = socket.if_nametoindex(name) if name and "/" not in name else 0
    except OSError:
        ifindex = 0
    if not ifindex:
        info = InterfaceInfo(name, False)
        info.facts.append(Fact("exists", False, False,
                               f"no interface named {name!r} in this network namespace "
                               "(ip link lists them)"))
        return info
    base = SYS_NET / name
    sysfs_ok = _read(base / "ifindex") == str(ifindex)  # sysfs of this namespace
    flags = struct.unpack("H", (_ifreq(name, SIOCGIFFLAGS) or bytes(2))[:2])[0]
    mtu = struct.unpack("i", (_ifreq(name, SIOCGIFMTU) or bytes(4))[:4])[0]
    hw = _ifreq(name, SIOCGIFHWADDR)
    mac = ":".join(f"{b:02x}" for b in hw[2:8]) if hw else ""
    running = bool(flags & 0x40)  # IFF_RUNNING: the kernel's carrier-and-up
    info = InterfaceInfo(
        name=name, exists=True, ifindex=ifindex, up=bool(flags & 0x1),
        carrier=(_read(base / "carrier") == "1") if sysfs_ok else running,
        mtu=mtu, mac=mac,
    )
    drv = base / "device" / "driver"
    if sysfs_ok and drv.exists():
        info.driver = os.path.basename(os.path.realpath(drv))
    else:
        info.driver = _driver_from_kind(name)
    queues = base / "queues"
    if sysfs_ok and queues.exists():
        entries = os.listdir(queues)
        info.tx_queues = sum(1 for q in entries if q.startswith("tx-"))
        info.rx_queues = sum(1 for q in entries if q.startswith("rx-"))
    elif not sysfs_ok:                  # a namespace entered with setns(): ask the driver
        info.tx_queues, info.rx_queues = _ethtool_channels(name)
    info.facts += [
        Fact("exists", True, info.ifindex, f"{name}: interface index {info.ifindex}, MAC {info.mac}"),
        Fact("up", info.up, info.up,
             f"{name} is " + ("up" if info.up else f"down (ip link set {name} up)")),
        Fact("carrier", info.carrier, info.carrier,
             f"{name}: link {'detected' if info.carrier else 'not detected (no carrier)'}"),
        Fact("mtu", True, info.mtu, f"{name}: MTU {info.mtu} (frames up to {info.mtu + 14} bytes)"),
        Fact("driver", info.driver is not None, info.driver,
             f"{name}: driver {info.driver or 'unknown'}"),
        Fact("queues", True, (info.tx_queues, info.rx_queues),
             f"{name}: {info.tx_queues} TX / {info.rx_queues} RX queues"
             + ("" if sysfs_ok else " (from the driver: sysfs is of another namespace)")),
    ]
    return info


def _driver_from_kind(name: str) -> str | None:
    # virtual devices have no device/driver link in sysfs; ask ethtool's ioctl
    drv = _ethtool_driver(name)
    if drv:
        return drv
    return "loopback" if name == "lo" else None


def _ethtool(name: str, cmd: int, size: int) -> bytes | None:
    """One SIOCETHTOOL request: the size-byte answer to ethtool command cmd (its first
    four bytes are cmd), or None where the interface or the command is refused."""
    import ctypes
    import fcntl
    import socket
    import struct
    SIOCETHTOOL = 0x8946
    cbuf = ctypes.create_string_buffer(struct.pack("I", cmd) + bytes(size - 4), size)
    ifr = (name.encode()[:15] + bytes(16))[:16] + struct.pack("P", ctypes.addressof(cbuf))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr + bytes(16))
    except OSError:
        return None
    return cbuf.raw


def _ethtool_channels(name: str) -> tuple[int, int]:
    """ETHTOOL_GCHANNELS: (TX, RX) queues in use, as 'ethtool -l' shows; (0, 0) where
    the driver does not say."""
    import struct
    raw = _ethtool(name, 0x3C, 36)
    if raw is None:
        return 0, 0
    rx, tx, _other, combined = struct.unpack_from("4I", raw, 20)
    return tx + combined, rx + combined


def _ethtool_driver(name: str) -> str | None:
    """ETHTOOL_GDRVINFO: the driver name, as 'ethtool -i' shows."""
    raw = _ethtool(name, 0x3, 200)
    return (raw[4:36].split(b"\0", 1)[0].decode() or None) if raw else None


def tx_checksum_offload(name: str) -> Fact | None:
    """ETHTOOL_GTXCSUM: whether the stack leaves transmit checksums to the interface.
    netmap drops such frames on their way to the host RX ring, so a bridge or a
    receiver on IF^ never sees what the stack sends (None: the kernel did not say)."""
    import struct
    raw = _ethtool(name, 0x16, 8)
    if raw is None:
        return None
    on = bool(struct.unpack_from("I", raw, 4)[0])
    if on:
        return Fact("tx_checksum_offload", False, on,
                    f"{name}: transmit checksum offload is on, and netmap drops what the "
                    "host stack sends with its checksum left undone: turn it off with "
                    f"'ethtool -K {name} tx off'")
    return Fact("tx_checksum_offload", True, on, f"{name}: transmit checksum offload is off")


def host_ring_offload(spec) -> Fact | None:
    """For a netmap port on host rings (IF^, IF*) of an interface with transmit
    checksum offload on, the fact that says why the stack's frames never arrive and
    how to fix it; None otherwise."""
    from .constants import NR_REG_NIC_SW, NR_REG_SW
    if spec.backend != "netmap" or not spec.ifname or spec.mode not in (NR_REG_SW, NR_REG_NIC_SW):
        return None
    fact = tx_checksum_offload(spec.ifname)
    return fact if fact is not None and not fact.ok else None


def wire_counters(name: str) -> dict[str, int]:
    """The interface's own counters (what really crossed the wire)."""
    stats = SYS_NET / name / "statistics"
    out = {}
    for key in ("tx_packets", "tx_bytes", "tx_dropped", "tx_errors",
                "rx_packets", "rx_bytes", "rx_dropped", "rx_errors", "rx_missed_errors"):
        v = _read(stats / key)
        if v is not None:
            out[key] = int(v)
    return out


@dataclass
class NetmapModule:
    loaded: bool
    device: bool
    admode: int | None
    params: dict[str, str]
    facts: list[Fact]


ADMODES = {0: "native where the driver has it, else emulated", 1: "native only",
           2: "always emulated"}


def netmap_module() -> NetmapModule:
    """Is netmap loaded, is /dev/netmap there, which admode and parameters."""
    device = NETMAP_DEV.exists()
    loaded = NETMAP_MOD.exists() or device
    params: dict[str, str] = {}
    pdir = NETMAP_MOD / "parameters"
    if pdir.is_dir():
        for p in sorted(pdir.iterdir()):
            v = _read(p)
            if v is not None:
                params[p.name] = v
    admode = int(params["admode"]) if params.get("admode", "").isdigit() else None
    facts = []
    if not loaded:
        facts.append(Fact("netmap", False, False,
                          "netmap module not loaded (/dev/netmap missing): the xdp: and "
                          "packet: backends are used instead"))
    else:
        facts.append(Fact("netmap", device, device,
                          "netmap module loaded" + ("" if device else
                                                    ", but /dev/netmap is missing")))
        if admode is not None:
            facts.append(Fact("admode", True, admode,
                              f"netmap admode={admode}: {ADMODES.get(admode, 'unknown')}"))
    return NetmapModule(loaded, device, admode, params, facts)


def native_netmap(info: InterfaceInfo, module: NetmapModule | None = None) -> Fact:
    """Will netmap drive this interface natively, or emulate it ("generic")?"""
    module = module or netmap_module()
    drv = info.driver or "unknown"
    if not module.loaded:
        return Fact("native", False, None, "netmap not loaded: native/emulated does not apply")
    if module.admode == 2:
        return Fact("native", False, False,
                    f"{info.name}: emulated (admode=2 forces generic mode; much slower)")
    if drv in NATIVE_DRIVERS:
        return Fact("native", True, True,
                    f"{info.name}: driver {drv} has native netmap support if the netmap-patched "
                    "module is loaded (dmesg shows 'netmap queues/slots'); else emulated")
    if module.admode == 1:
        return Fact("native", False, False,
                    f"{info.name}: driver {drv} has no native netmap support and admode=1 "
                    "forbids emulation: opening it will fail")
    return Fact("native", False, False,
                f"{info.name}: driver {drv} has no native netmap support: emulated "
                "('generic', much slower than native)")


# -- XDP features (netlink, generic family "netdev", Linux >= 6.3) ----------------------
XDP_ACT_BASIC, XDP_ACT_REDIRECT, XDP_ACT_NDO_XMIT, XDP_ACT_XSK_ZEROCOPY = 1, 2, 4, 8
_NETLINK_GENERIC, _GENL_ID_CTRL, _CTRL_CMD_GETFAMILY = 16, 0x10, 3
_CTRL_ATTR_FAMILY_ID, _CTRL_ATTR_FAMILY_NAME = 1, 2
_NETDEV_CMD_DEV_GET, _NETDEV_A_DEV_IFINDEX, _NETDEV_A_DEV_XDP_FEATURES = 1, 1, 3
_NLMSG_ERROR, _NLM_F_REQUEST = 2, 1


def _nl_attrs(buf: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    while pos + 4 <= len(buf):
        length, kind = struct.unpack_from("=HH", buf, pos)
        if length < 4:
            break
        out[kind & 0x3FFF] = buf[pos + 4:pos + length]
        pos += (length + 3) & ~3
    return out


def _genl_request(sock, family: int, cmd: int, attrs: bytes) -> dict[int, bytes]:
    msg = struct.pack("=BBH", cmd, 1, 0) + attrs
    sock.send(struct.pack("=IHHII", 16 + len(msg), family, _NLM_F_REQUEST, 1, 0) + msg)
    data = sock.recv(65536)
    length, kind = struct.unpack_from("=IH", data, 0)
    if kind == _NLMSG_ERROR:
        err = -struct.unpack_from("=i", data, 16)[0]
        raise OSError(err, os.strerror(err))
    return _nl_attrs(data[20:length])


def _nl_attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def xdp_features(name: str) -> int | None:
    """The interface's XDP feature bits (XDP_ACT_*) as the kernel reports them now, or
    None where the kernel cannot say (before Linux 6.3)."""
    import socket
    try:
        ifindex = socket.if_nametoindex(name)
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_GENERIC) as s:
            s.settimeout(2.0)
            fam = _genl_request(s, _GENL_ID_CTRL, _CTRL_CMD_GETFAMILY,
                                _nl_attr(_CTRL_ATTR_FAMILY_NAME, b"netdev\0"))
            family = struct.unpack("=H", fam[_CTRL_ATTR_FAMILY_ID][:2])[0]
            dev = _genl_request(s, family, _NETDEV_CMD_DEV_GET,
                                _nl_attr(_NETDEV_A_DEV_IFINDEX, struct.pack("=I", ifindex)))
    except (OSError, KeyError, struct.error):
        return None
    raw = dev.get(_NETDEV_A_DEV_XDP_FEATURES)
    return struct.unpack("=Q", raw[:8])[0] if raw and len(raw) >= 8 else None
