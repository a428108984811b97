"""Our netmap ABI header against the facts (shared/netmap-facts.md, section 1), and
against netmap's own headers where a machine has them installed."""
import os
import shutil
import subprocess

import pytest

from netmap_py import constants as C

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENDOR = os.path.join(ROOT, "netmap_py", "include")   # our netmap_abi.h

# (struct, size) and (struct, field, offset): facts 1.2-1.8 [probe]
SIZES = {
    "netmap_slot": 16, "netmap_ring": 256, "netmap_if": 56, "nmreq_header": 88,
    "nmreq_register": 56, "nmreq_port_info_get": 32, "nmreq_port_hdr": 8,
    "nmreq_pools_info": 64, "nmreq_option": 24,
}
OFFSETS = [
    ("netmap_slot", "buf_idx", 0), ("netmap_slot", "len", 4), ("netmap_slot", "flags", 6),
    ("netmap_slot", "ptr", 8),
    ("netmap_ring", "buf_ofs", 0), ("netmap_ring", "num_slots", 8),
    ("netmap_ring", "nr_buf_size", 12), ("netmap_ring", "ringid", 16), ("netmap_ring", "dir", 18),
    ("netmap_ring", "head", 20), ("netmap_ring", "cur", 24), ("netmap_ring", "tail", 28),
    ("netmap_ring", "flags", 32), ("netmap_ring", "ts", 40), ("netmap_ring", "offset_mask", 56),
    ("netmap_ring", "buf_align", 64), ("netmap_ring", "sem", 128), ("netmap_ring", "slot", 256),
    ("netmap_if", "ni_name", 0), ("netmap_if", "ni_version", 16), ("netmap_if", "ni_flags", 20),
    ("netmap_if", "ni_tx_rings", 24), ("netmap_if", "ni_rx_rings", 28),
    ("netmap_if", "ni_bufs_head", 32), ("netmap_if", "ni_host_tx_rings", 36),
    ("netmap_if", "ni_host_rx_rings", 40), ("netmap_if", "ni_spare1", 44),
    ("netmap_if", "ring_ofs", 56),
    ("nmreq_header", "nr_version", 0), ("nmreq_header", "nr_reqtype", 2),
    ("nmreq_header", "nr_reserved", 4), ("nmreq_header", "nr_name", 8),
    ("nmreq_header", "nr_options", 72), ("nmreq_header", "nr_body", 80),
    ("nmreq_register", "nr_offset", 0), ("nmreq_register", "nr_memsize", 8),
    ("nmreq_register", "nr_tx_slots", 16), ("nmreq_register", "nr_rx_slots", 20),
    ("nmreq_register", "nr_tx_rings", 24), ("nmreq_register", "nr_rx_rings", 26),
    ("nmreq_register", "nr_host_tx_rings", 28), ("nmreq_register", "nr_host_rx_rings", 30),
    ("nmreq_register", "nr_mem_id", 32), ("nmreq_register", "nr_ringid", 34),
    ("nmreq_register", "nr_mode", 36), ("nmreq_register", "nr_extra_bufs", 40),
    ("nmreq_register", "nr_flags", 48),
    ("nmreq_port_info_get", "nr_memsize", 0), ("nmreq_port_info_get", "nr_tx_slots", 8),
    ("nmreq_port_info_get", "nr_rx_slots", 12), ("nmreq_port_info_get", "nr_tx_rings", 16),
    ("nmreq_port_info_get", "nr_rx_rings", 18), ("nmreq_port_info_get", "nr_host_tx_rings", 20),
    ("nmreq_port_info_get", "nr_host_rx_rings", 22), ("nmreq_port_info_get", "nr_mem_id", 24),
    ("nmreq_pools_info", "nr_memsize", 0), ("nmreq_pools_info", "nr_mem_id", 8),
    ("nmreq_pools_info", "nr_if_pool_offset", 16), ("nmreq_pools_info", "nr_if_pool_objtotal", 24),
    ("nmreq_pools_info", "nr_ring_pool_offset", 32), ("nmreq_pools_info", "nr_buf_pool_offset", 48),
    ("nmreq_pools_info", "nr_buf_pool_objsize", 60),
    ("nmreq_option", "nro_next", 0), ("nmreq_option", "nro_reqtype", 8),
    ("nmreq_option", "nro_status", 12), ("nmreq_option", "nro_size", 16),
]
# constants whose values the facts give directly (sections 1.1, 1.3, 1.4, 1.8)
FACT_VALUES = {
    "NETMAP_API": 14, "NETMAP_MIN_API": 14, "NETMAP_MAX_API": 15, "NM_CACHE_ALIGN": 128,
    "NETMAP_REQ_IFNAMSIZ": 64, "NETMAP_REQ_MAXSIZE": 4096, "NETMAP_MAX_FRAGS": 64,
    "NS_BUF_CHANGED": 1, "NS_REPORT": 2, "NS_FORWARD": 4, "NS_NO_LEARN": 8, "NS_INDIRECT": 0x10,
    "NS_MOREFRAG": 0x20, "NS_TXMON": 0x40, "NS_PORT_SHIFT": 8, "NS_PORT_MASK": 0xFF00,
    "NR_TIMESTAMP": 2, "NR_FORWARD": 4,
    "NR_REG_ALL_NIC": 1, "NR_REG_SW": 2, "NR_REG_NIC_SW": 3, "NR_REG_ONE_NIC": 4,
    "NR_REG_PIPE_MASTER": 5, "NR_REG_PIPE_SLAVE": 6, "NR_REG_NULL": 7, "NR_REG_ONE_SW": 8,
    "NR_MONITOR_TX": 0x100, "NR_MONITOR_RX": 0x200, "NR_ZCOPY_MON": 0x400,
    "NR_EXCLUSIVE": 0x800, "NR_RX_RINGS_ONLY": 0x2000, "NR_TX_RINGS_ONLY": 0x4000,
    "NR_ACCEPT_VNET_HDR": 0x8000, "NR_DO_RX_POLL": 0x10000, "NR_NO_TX_POLL": 0x20000,
    "NETMAP_REQ_REGISTER": 1, "NETMAP_REQ_PORT_INFO_GET": 2, "NETMAP_REQ_POOLS_INFO_GET": 12,
    "NETMAP_REQ_CSB_ENABLE": 15, "NETMAP_REQ_OPT_EXTMEM": 1, "NETMAP_REQ_OPT_OFFSETS": 5,
    "NIOCCTRL": 0xC0586997, "NIOCTXSYNC": 0x6994, "NIOCRXSYNC": 0x6995,
}


def _probe(tmp_path, header: str, include: str, names, strict: bool = True) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    # netmap's own netmap_user.h expects these first, as every C user of netmap has them
    lines = ["#include <stdint.h>", "#include <sys/ioctl.h>", f'#include "{header}"',
             "#include <stdio.h>", "#include <stddef.h>", "int main(void) {"]
    for s in SIZES:
        lines.append(f'printf("size {s} %zu\\n", sizeof(struct {s}));')
    for s, f, _ in OFFSETS:
        lines.append(f'printf("off {s}.{f} %zu\\n", offsetof(struct {s}, {f}));')
    for n in names:
        lines.append(f'printf("const {n} %llu\\n", (unsigned long long)({n}));')
    lines += ["return 0; }"]
    src = tmp_path / "probe.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "probe"
    warn = ["-Wall", "-Werror"] if strict else ["-Wall"]
    subprocess.run(["gcc", *warn, "-I", include, "-o", str(exe), str(src)],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    got = {}
    for line in out.splitlines():
        kind, key, value = line.split()
        got[(kind, key)] = int(value)
    return got


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: the ABI probe must be compiled")
    return _probe(tmp_path_factory.mktemp("abi"), "netmap_abi.h", VENDOR, C.__all__)


def test_sizes(ours):
    for s, size in SIZES.items():
        assert ours[("size", s)] == size, s


def test_offsets(ours):
    for s, f, off in OFFSETS:
        assert ours[("off", f"{s}.{f}")] == off, f"{s}.{f}"


def test_constants_match_facts(ours):
    for name, value in FACT_VALUES.items():
        assert ours[("const", name)] == value, name
        assert getattr(C, name) == value, name


def test_header_matches_table(ours):
    """Every constant of the table (and so of constants.py/.pxd) has the header's value."""
    for name in C.__all__:
        assert ours[("const", name)] == getattr(C, name), name


def _netmap_include():
    given = os.environ.get("NETMAP_INCLUDE")
    if given:   # named on purpose (CI names the guest's copy): missing is a failure
        assert os.path.exists(os.path.join(given, "net", "netmap_user.h")), \
            f"NETMAP_INCLUDE={given} holds no net/netmap_user.h"
        return given
    for d in ("/usr/include", "/usr/local/include"):
        if os.path.exists(os.path.join(d, "net", "netmap_user.h")):
            return d
    return None


def test_against_netmaps_own_headers(tmp_path):
    inc = _netmap_include()
    if inc is None:
        pytest.skip("netmap's headers are not installed (set NETMAP_INCLUDE to their folder)")
    names = [n for n in C.__all__ if n not in ("NETMAP_MIN_API", "NETMAP_MAX_API")]
    theirs = _probe(tmp_path / "theirs", "net/netmap_user.h", inc, names, strict=False)
    mine = _probe(tmp_path / "ours", "netmap_abi.h", VENDOR, names)
    assert len(mine) == len(SIZES) + len(OFFSETS) + len(names)
    assert mine == theirs
