# cython: language_level=3
"""The netmap ABI for Cython, transcribed from netmap_py/include/netmap_abi.h (our own header).

Struct fields keep netmap's names so code reads like netmap's C API.  The inline
helpers are the ring arithmetic every netmap program uses (netmap_user.h offers
the same under these names); they run without the GIL and raise nothing.
"""
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from netmap_py.constants cimport NS_BUF_CHANGED, NS_MOREFRAG
from posix.time cimport timeval

cdef extern from "netmap_abi.h" nogil:
    struct netmap_slot:
        uint32_t buf_idx        # index of the packet buffer in the region's pool
        uint16_t len            # bytes in this slot (this fragment only)
        uint16_t flags          # NS_* bits; high byte: VALE port / fragments
        uint64_t ptr            # NS_INDIRECT address, or offset bits

    struct netmap_ring:
        int64_t buf_ofs         # read-only: ring address -> buffer 0, bytes
        uint32_t num_slots      # read-only: slots in the ring
        uint32_t nr_buf_size    # read-only: bytes per buffer
        uint16_t ringid         # read-only: index within its direction
        uint16_t dir            # read-only: direction (unreliable, see facts 1.4)
        uint32_t head           # user: first slot owned by the user
        uint32_t cur            # user: wake-up point
        uint32_t tail           # kernel: first slot owned by the kernel
        uint32_t flags          # NR_TIMESTAMP | NR_FORWARD
        timeval ts              # time of the last rxsync
        uint64_t offset_mask    # read-only: offset bits inside slot.ptr
        uint64_t buf_align      # read-only: TX alignment with offsets
        uint8_t sem[128]        # opaque
        netmap_slot slot[1]     # really slot[num_slots]

    struct netmap_if:
        char ni_name[16]        # adapter name
        uint32_t ni_version     # unused (0)
        uint32_t ni_flags       # NI_PRIV_MEM
        uint32_t ni_tx_rings    # hardware TX rings
        uint32_t ni_rx_rings    # hardware RX rings
        uint32_t ni_bufs_head   # first extra buffer, 0 = none
        uint32_t ni_host_tx_rings
        uint32_t ni_host_rx_rings
        uint32_t ni_spare1[3]
        ssize_t ring_ofs[1]     # really ring_ofs[tx + host tx + rx + host rx]

    struct nmreq_header:
        uint16_t nr_version     # NETMAP_API
        uint16_t nr_reqtype     # NETMAP_REQ_*
        uint32_t nr_reserved    # 0
        char nr_name[64]        # port name, NUL-terminated
        uint64_t nr_options     # struct nmreq_option *, or 0
        uint64_t nr_body        # request body, or 0

    struct nmreq_register:
        uint64_t nr_offset      # out: netmap_if offset in the region
        uint64_t nr_memsize     # out: bytes to mmap
        uint32_t nr_tx_slots
        uint32_t nr_rx_slots
        uint16_t nr_tx_rings
        uint16_t nr_rx_rings
        uint16_t nr_host_tx_rings
        uint16_t nr_host_rx_rings
        uint16_t nr_mem_id
        uint16_t nr_ringid
        uint32_t nr_mode        # NR_REG_*
        uint32_t nr_extra_bufs
        uint64_t nr_flags       # NR_*

    struct nmreq_port_info_get:
        uint64_t nr_memsize
        uint32_t nr_tx_slots
        uint32_t nr_rx_slots
        uint16_t nr_tx_rings
        uint16_t nr_rx_rings
        uint16_t nr_host_tx_rings
        uint16_t nr_host_rx_rings
        uint16_t nr_mem_id
        uint16_t pad[3]

    struct nmreq_port_hdr:
        uint32_t nr_hdr_len
        uint32_t pad1

    struct nmreq_option:
        uint64_t nro_next
        uint32_t nro_reqtype
        uint32_t nro_status
        uint64_t nro_size

    unsigned long NIOCCTRL
    unsigned long NIOCTXSYNC
    unsigned long NIOCRXSYNC


# -- ring arithmetic (what netmap_user.h gives C) ----------------------------

cdef inline uint32_t nm_ring_next(const netmap_ring *r, uint32_t i) noexcept nogil:
    i += 1
    return 0 if i == r.num_slots else i


cdef inline uint32_t nm_ring_space(const netmap_ring *r) noexcept nogil:
    cdef int64_t d = <int64_t>r.tail - <int64_t>r.head
    if d < 0:
        d += r.num_slots
    return <uint32_t>d


cdef inline bint nm_ring_empty(const netmap_ring *r) noexcept nogil:
    return r.head == r.tail


cdef inline bint nm_tx_pending(const netmap_ring *r) noexcept nogil:
    return nm_ring_next(r, r.tail) != r.head


cdef inline char *NETMAP_BUF(const netmap_ring *r, uint32_t idx) noexcept nogil:
    return <char *>r + r.buf_ofs + <int64_t>idx * r.nr_buf_size


cdef inline uint32_t NETMAP_BUF_IDX(const netmap_ring *r, const char *buf) noexcept nogil:
    return <uint32_t>((buf - (<char *>r + r.buf_ofs)) // r.nr_buf_size)


cdef inline netmap_ring *NETMAP_TXRING(netmap_if *nifp, uint32_t i) noexcept nogil:
    return <netmap_ring *>(<char *>nifp + nifp.ring_ofs[i])


cdef inline netmap_ring *NETMAP_RXRING(netmap_if *nifp, uint32_t i) noexcept nogil:
    return <netmap_ring *>(<char *>nifp + nifp.ring_ofs[
        i + nifp.ni_tx_rings + nifp.ni_host_tx_rings])


cdef inline int nm_move_slot(netmap_ring *rx, netmap_slot *rs, netmap_ring *tx,
                             netmap_slot *ts, bint swap) noexcept nogil:
    """Put the packet of RX slot rs into TX slot ts: by exchanging buffer indices
    (swap: both rings in one memory region) or by copying; len and NS_MOREFRAG
    follow, and NS_BUF_CHANGED marks every slot whose buffer changed.  A copy never
    writes past the TX buffer: a longer frame is cut to it, and 1 is returned."""
    cdef uint32_t tmp, n = rs.len
    cdef int cut = 0
    if swap:
        tmp = ts.buf_idx
        ts.buf_idx = rs.buf_idx
        rs.buf_idx = tmp
        rs.flags |= NS_BUF_CHANGED
    else:
        if n > tx.nr_buf_size:
            n, cut = tx.nr_buf_size, 1
        memcpy(NETMAP_BUF(tx, ts.buf_idx), NETMAP_BUF(rx, rs.buf_idx), n)
    ts.len = n
    ts.flags = NS_BUF_CHANGED | (rs.flags & NS_MOREFRAG)
    return cut
