"""Port names: netmap's syntax (libnetmap's grammar) plus our backend prefixes.

    netmap:IF[^|^N|*|-N][@memid][/xztrRT][@share=P|@conf:k=v,..|@extmem:..]
    valeX:Y[...same suffixes...]          netmap:base{id  netmap:base}id   (pipes)
    xdp:IF[-Q]   packet:IF[-Q]   loop:NAME[-Q]   IF[-Q]   (ours; a bare name picks one)

libnetmap's ``nmport_parse`` (netmap 89607e1) is the reference: only ASCII digits are
numbers, every number is plain decimal and fits the C field it fills (memory regions
1..65535, ring and slot counts their nmreq_register widths, @extmem counts 32 bits),
the 63-byte name limit counts UTF-8 bytes, @conf options apply in order (in one
option the specific keys beat rings=/slots=, across options the later wins, and an
empty value unsets a key), ``@share``'s value is itself a netmap or VALE name parsed
here (``eth1`` or ``xdp:eth1`` there is refused: the region is netmap's).  Where
libnetmap's parser and its own test table disagree we follow the parser that ships
(``netmap:eth0&`` and ``netmap:vale0:0`` are accepted): the kernel decides whether
such a name exists.  Where libnetmap lets a name through that the kernel then
refuses, we refuse it here, with a sentence; these are the documented differences:
  - a pipe with an empty base or id (``netmap:{3``, ``netmap:x{``, ``netmap:x{/T``):
    the kernel has no such pipe;
  - a pipe with host rings (``netmap:x{1^``, ``netmap:x{1*``): pipes take all rings
    or one ring only;
  - a memory region id over 65535 (libnetmap truncates ``@65536`` to 0) and @conf or
    @extmem values wider than their field (``rings=70000`` would become 4464).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import constants as C

BACKENDS = ("netmap", "xdp", "packet", "loop")
_FLAG_BITS = {
    "x": C.NR_EXCLUSIVE,
    "z": C.NR_ZCOPY_MON,
    "t": C.NR_MONITOR_TX,
    "r": C.NR_MONITOR_RX,
    "R": C.NR_RX_RINGS_ONLY,
    "T": C.NR_TX_RINGS_ONLY,
}
_MONITOR = C.NR_MONITOR_TX | C.NR_MONITOR_RX | C.NR_ZCOPY_MON
_IDENT = re.compile(r"[A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]*")          # ASCII only: str.isdigit() and \d take any script
_MAX_MEM_ID = 0xFFFF                     # nr_mem_id is 16 bits
_STOP = "-*^/@"
_MAX_RING = 4095
# @conf key -> the nmreq_register fields it sets; generic keys first, so that in one
# option a specific key given beside them wins
_CONF_FIELDS = {
    "rings": ("tx_rings", "rx_rings"), "host_rings": ("host_tx_rings", "host_rx_rings"),
    "slots": ("tx_slots", "rx_slots"),
    "tx_rings": ("tx_rings",), "rx_rings": ("rx_rings",), "host_tx_rings": ("host_tx_rings",),
    "host_rx_rings": ("host_rx_rings",), "tx_slots": ("tx_slots",), "rx_slots": ("rx_slots",),
}
_CONF_KEYS = tuple(_CONF_FIELDS)
_U16, _U32 = 0xFFFF, 0xFFFFFFFF
# the largest value of each numeric key: the width of the C field it fills
_KEY_MAX = {**{k: _U32 if "slots" in k else _U16 for k in _CONF_KEYS},
            **{k: _U32 for k in ("if_num", "if_size", "ring_num", "ring_size", "buf_num",
                                 "buf_size")}}
# option name -> (default key or None, allowed keys, mandatory key or None)
_OPTIONS = {
    "share": ("port", ("port",), "port"),
    "conf": (None, _CONF_KEYS, None),
    "extmem": ("file", ("file", "if_num", "if_size", "ring_num", "ring_size",
                        "buf_num", "buf_size"), "file"),
}
MODE_NAMES = {
    C.NR_REG_ALL_NIC: "all hardware rings",
    C.NR_REG_SW: "host rings",
    C.NR_REG_NIC_SW: "hardware and host rings",
    C.NR_REG_ONE_NIC: "one hardware ring",
    C.NR_REG_ONE_SW: "one host ring",
}


class _Bad(Exception):
    """Internal: what is wrong with a name, turned into ValueError by parse()."""


@dataclass(frozen=True)
class PortSpec:
    """A parsed, validated port name.

    ``name`` is what netmap receives in ``nr_name`` (``eth0``, ``vale0:p1``,
    ``x{3``); ``ifname`` is the operating-system interface behind it, or None for
    VALE ports and pipes.  ``backend`` is ``netmap``, ``xdp``, ``packet`` or
    ``auto`` (a bare interface name).
    """

    text: str
    backend: str
    name: str
    ifname: str | None
    mode: int = C.NR_REG_ALL_NIC
    ringid: int = 0
    flags: int = 0
    mem_id: int = 0
    pipe: tuple[str, str] | None = None  # ("master" | "slave", id)
    options: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = field(default=())

    # -- construction ---------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> PortSpec:
        if not isinstance(text, str):
            raise TypeError(f"port name must be a str, not {type(text).__name__}")
        try:
            return _parse(text)
        except _Bad as e:
            raise ValueError(f"bad port name {text!r}: {e}") from None

    # -- derived facts --------------------------------------------------------
    @property
    def is_vale(self) -> bool:
        return self.name.startswith("vale") and ":" in self.name

    @property
    def is_monitor(self) -> bool:
        return bool(self.flags & _MONITOR)

    @property
    def one_ring(self) -> bool:
        return self.mode in (C.NR_REG_ONE_NIC, C.NR_REG_ONE_SW)

    def option(self, name: str) -> dict[str, str] | None:
        """The keys of option ``name`` (merged if it was given twice), or None."""
        found = None
        for opt, keys in self.options:
            if opt == name:
                found = {**(found or {}), **dict(keys)}
        return found

    def conf(self) -> dict[str, int]:
        """Ring and slot counts asked for with ``@conf``: the options in order, later
        ones overriding earlier ones; in one option specific keys beat rings=/slots=;
        an empty value unsets (the kernel's default)."""
        out: dict[str, int] = {}
        for opt, keys in self.options:
            if opt != "conf":
                continue
            given = dict(keys)
            for key, fields in _CONF_FIELDS.items():
                if key not in given:
                    continue
                for f in fields:
                    if given[key] == "":
                        out.pop(f, None)
                    else:
                        out[f] = int(given[key])
        return out

    def with_ring(self, ring: int) -> PortSpec:
        """The same port restricted to one hardware ring (``-N``), as threads use."""
        text = f"{self.prefix()}{self.name}-{ring}"
        return PortSpec.parse(text + self.suffix(with_mode=False))

    def prefix(self) -> str:
        if self.backend == "auto" or self.is_vale:
            return ""
        return self.backend + ":"

    def suffix(self, with_mode: bool = True) -> str:
        out = ""
        if with_mode:
            out += {C.NR_REG_SW: "^", C.NR_REG_ONE_SW: f"^{self.ringid}", C.NR_REG_NIC_SW: "*",
                    C.NR_REG_ONE_NIC: f"-{self.ringid}"}.get(self.mode, "")
        if self.mem_id:
            out += f"@{self.mem_id}"
        letters = "".join(ch for ch, bit in _FLAG_BITS.items() if self.flags & bit)
        if letters:
            out += "/" + letters
        for opt, keys in self.options:
            out += "@" + opt + ":" + ",".join(f"{k}={v}" for k, v in keys)
        return out

    def __str__(self) -> str:
        return self.prefix() + self.name + self.suffix()


def _parse(text: str) -> PortSpec:
    if text == "":
        raise _Bad("empty; use netmap:IF, xdp:IF, packet:IF, valeX:Y or a bare interface name")
    backend, rest, vale_prefix = _split_prefix(text)
    # vpname runs to the first mode/flag/option character
    i = 0
    while i < len(rest) and rest[i] not in _STOP:
        i += 1
    vpname, tail = rest[:i], rest[i:]
    pipe = _check_vpname(vpname, backend, vale=bool(vale_prefix))
    name = vale_prefix + vpname
    size = len(name.encode())
    if size >= C.NETMAP_REQ_IFNAMSIZ:
        raise _Bad(f"name too long ({size} bytes in UTF-8; at most {C.NETMAP_REQ_IFNAMSIZ - 1})")
    mode, ringid, tail = _parse_mode(tail)
    if pipe and mode not in (C.NR_REG_ALL_NIC, C.NR_REG_ONE_NIC):
        raise _Bad("a pipe has no host rings (^ and *): use all its rings or one (-N)")
    mem_id, flags, options = _parse_suffixes(tail)
    spec = PortSpec(text=text, backend=backend, name=name,
                    ifname=None if (vale_prefix or pipe or _looks_vale(vpname)) else vpname,
                    mode=mode, ringid=ringid, flags=flags, mem_id=mem_id, pipe=pipe,
                    options=options)
    _check_backend_fit(spec)
    return spec


def _split_prefix(text: str) -> tuple[str, str, str]:
    """Return (backend, text after the prefix, prefix kept in nr_name)."""
    if text.startswith("vale"):
        m = _IDENT.match(text, 4)
        end = m.end()
        if end < len(text) and text[end] == ":":
            return "netmap", text[end + 1:], text[:end + 1]
        colon = text.find(":")
        if colon > 0:
            raise _Bad(f"invalid VALE switch name {text[:colon]!r} "
                       "(vale followed by letters, digits or _ only, e.g. vale0:p1)")
    colon = text.find(":")
    stop = min([text.find(c) for c in _STOP + "{}" if c in text] or [len(text)])
    if 0 <= colon < stop:
        prefix = text[:colon]
        if prefix in BACKENDS:
            return prefix, text[colon + 1:], ""
        raise _Bad(f"unknown prefix {prefix + ':'!r}; use netmap:, xdp:, packet: or valeX:")
    return "auto", text, ""


def _check_vpname(vpname: str, backend: str, vale: bool) -> tuple[str, str] | None:
    if vpname == "":
        if vale:                        # vale0: -- an empty port name, as libnetmap takes
            return None
        raise _Bad("no port name after the prefix (e.g. netmap:eth0)")
    pipe = None
    for ch, role in (("{", "master"), ("}", "slave")):
        if ch in vpname:
            base, _, pid = vpname.partition(ch)
            if pipe or base == "" or pid == "" or not _IDENT.fullmatch(pid):
                raise _Bad("invalid pipe name (use base{id or base}id, id made of letters "
                           "and digits)")
            pipe = (role, pid)
    if pipe and backend != "netmap":
        raise _Bad("pipes exist only in netmap; use netmap:" + vpname)
    if backend != "netmap" and not pipe:
        if len(vpname.encode()) > 15:
            raise _Bad(f"interface name {vpname!r} is longer than 15 bytes")
        if any(c.isspace() or c in ":/" for c in vpname):
            raise _Bad(f"{vpname!r} is not a valid interface name")
    return pipe


def _parse_mode(tail: str) -> tuple[int, int, str]:
    if not tail or tail[0] in "/@":
        return C.NR_REG_ALL_NIC, 0, tail
    ch, tail = tail[0], tail[1:]
    digits = _DIGITS.match(tail).group()
    tail = tail[len(digits):]
    if ch == "*":
        if digits:
            raise _Bad("'*' (hardware + host rings) takes no ring number")
        return C.NR_REG_NIC_SW, 0, tail
    if ch == "^":
        if not digits:
            return C.NR_REG_SW, 0, tail
        return C.NR_REG_ONE_SW, _ring(digits), tail
    if ch == "-":
        if not digits:
            raise _Bad("'-' must be followed by a ring number (e.g. eth0-1)")
        return C.NR_REG_ONE_NIC, _ring(digits), tail
    raise _Bad(f"unexpected {ch!r}")  # pragma: no cover - _STOP covers every case


def _ring(digits: str) -> int:
    n = int(digits)
    if n >= _MAX_RING:
        raise _Bad(f"ring {n} out of range [0, {_MAX_RING})")
    return n


def _parse_suffixes(tail: str):
    mem_id, flags = 0, 0
    while tail:
        if tail[0] == "/":
            j = 1
            while j < len(tail) and tail[j] != "@":
                if tail[j] not in _FLAG_BITS:
                    raise _Bad(f"unknown flag {tail[j]!r} after '/' (use x z t r R T)")
                flags |= _FLAG_BITS[tail[j]]
                j += 1
            if j == 1 and j == len(tail):    # '/@...' is an empty list, as libnetmap takes
                raise _Bad("'/' must be followed by flags (x z t r R T)")
            tail = tail[j:]
        elif tail[0] == "@":
            digits = _DIGITS.match(tail, 1).group()
            if digits == "" and (len(tail) == 1 or tail[1] in "/@"):
                raise _Bad("empty memory region after '@' (e.g. @2)")
            if digits == "":
                return mem_id, flags, _parse_options(tail)
            n = int(digits)
            if not 1 <= n <= _MAX_MEM_ID:
                raise _Bad(f"memory region id {n} out of range: use 1..{_MAX_MEM_ID}")
            if mem_id and n != mem_id:
                raise _Bad(f"conflicting memory regions @{mem_id} and @{n}")
            mem_id, tail = n, tail[1 + len(digits):]
        else:
            raise _Bad(f"unexpected {tail[0]!r} in {tail!r}")
    return mem_id, flags, ()


def _parse_options(tail: str):
    options = []
    for chunk in tail[1:].split("@"):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_-]*)(?:([=:])(.*))?", chunk, re.S)
        if not m:
            raise _Bad(f"malformed option '@{chunk}'")
        name, sep, body = m.group(1), m.group(2), m.group(3)
        if name == "offset":
            raise _Bad("option @offset is disabled (as in libnetmap) and not supported")
        if name not in _OPTIONS:
            raise _Bad(f"unknown option '@{name}' (known: @share, @conf, @extmem)")
        if name == "extmem" and any(o == "extmem" for o, _ in options):
            raise _Bad("two @extmem options: extmem already in use (give one)")
        keys = _option_keys(name, sep, body)
        options.append((name, tuple(keys.items())))
    return tuple(options)


def _option_keys(name: str, sep: str | None, body: str | None) -> dict[str, str]:
    """The keys of one option: ``@name=value`` (its default key) or ``@name:k=v,..``;
    an empty value leaves a key unset."""
    default_key, allowed, mandatory = _OPTIONS[name]
    keys: dict[str, str] = {}
    if sep is None and name == "conf":
        raise _Bad("@conf needs keys: write @conf:rings=N (or @conf: for none)")
    if sep == "=":
        if default_key is None:
            raise _Bad(f"@{name} has no default key; write @{name}:key=value")
        keys[default_key] = body
    elif sep == ":" and body != "":
        for kv in body.split(","):
            k, eq, v = kv.partition("=")
            k = k.replace("-", "_")
            if not eq or not k:
                raise _Bad(f"malformed key=value {kv!r} in @{name}")
            if k not in allowed:
                raise _Bad(f"unknown key {k!r} for @{name} (known: {', '.join(allowed)})")
            if k in keys:
                raise _Bad(f"key {k!r} given twice in @{name}")
            keys[k] = v
    if mandatory and keys.get(mandatory, "") == "":
        raise _Bad(f"@{name} needs {mandatory}= (e.g. @{name}={mandatory.upper()})")
    for k, v in keys.items():
        if k in _KEY_MAX and v != "":
            if not _DIGITS.fullmatch(v):
                raise _Bad(f"@{name}:{k} must be a plain decimal number, not {v!r}")
            if int(v) > _KEY_MAX[k]:
                raise _Bad(f"@{name}:{k}={v} out of range: at most {_KEY_MAX[k]}")
    if name == "share":
        _check_share(keys["port"])
    return keys


def _check_share(value: str) -> None:
    """@share names the netmap port whose region to use: a netmap or VALE name."""
    try:
        other = _parse(value)
    except _Bad as e:
        raise _Bad(f"@share={value}: {e}") from None
    if other.backend != "netmap":
        raise _Bad(f"@share={value}: name a netmap port (netmap:IF or valeX:Y); the "
                   "region shared is netmap's")


def _check_backend_fit(spec: PortSpec) -> None:
    if spec.backend == "netmap":
        return
    what = None
    if spec.mode in (C.NR_REG_SW, C.NR_REG_ONE_SW, C.NR_REG_NIC_SW):
        what = "host rings (^ and *)"
    elif spec.is_monitor:
        what = "monitor ports (/t /r /z)"
    elif spec.mem_id:
        what = "memory region ids (@N)"
    elif spec.options and any(o != "conf" for o, _ in spec.options):
        what = "options other than @conf"
    if what:
        via = "a bare name" if spec.backend == "auto" else f"{spec.backend}:"
        raise _Bad(f"{what} exist only in netmap; with {via} use netmap:{spec.name}"
                   f"{spec.suffix()} on a machine with the netmap module")


def _looks_vale(vpname: str) -> bool:
    return vpname.startswith("vale") and ":" in vpname
