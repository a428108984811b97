# Memory regions: the mapping a port lives in, netmap's or one we build in netmap's
# layout for the emulated backends (included by _core.pyx).

# -- memory regions -----------------------------------------------------------
cdef class _Region:
    """One mmap'd region: netmap's shared region (one per mem_id per process) or
    the anonymous region an emulated backend lays out as netmap would."""
    cdef char *mem
    cdef size_t size
    cdef int refs
    cdef int mem_id
    cdef object registry
    cdef size_t buf_base            # emulated regions: where the buffer pool starts
    cdef size_t nbufs
    cdef list nifp_offs             # emulated regions: each port's netmap_if
    cdef public int umem_fd         # AF_XDP: the socket that registered the pool
    cdef public bint umem_zc        # AF_XDP: that socket is in zero-copy mode

    def __cinit__(self):
        self.umem_fd = -1

    def release(self):
        """Drop the builder's reference (ports keep theirs)."""
        self._release()

    def __dealloc__(self):
        if self.mem != NULL:
            munmap(self.mem, self.size)
            self.mem = NULL

    cdef void _release(self):
        self.refs -= 1
        if self.refs == 0:
            # only if it is still this region there: a resized netmap region of the
            # same id may have taken the key since
            if self.registry is not None and self.registry.get(self.mem_id) is self:
                del self.registry[self.mem_id]
            if self.mem != NULL:
                munmap(self.mem, self.size)
                self.mem = NULL


cdef dict _netmap_regions = {}          # mem_id -> _Region, netmap backend only
cdef int _next_private_id = 1 << 16     # ids for emulated regions, above netmap's 16 bits


cdef size_t _align(size_t x, size_t a) noexcept nogil:
    return (x + a - 1) & ~(a - 1)


cdef struct ring_span:
    # how an emulated port lays out its rings: nrings in all, [first, first+count)
    # bound, slots a ring, the directions it binds
    int nrings, first, count
    uint32_t slots
    bint tx, rx


cdef int _span_of(plan, ring_span *sp) except -1:
    """The C side of a ring plan (netmap_py._RingPlan, or anything with its fields)."""
    sp.nrings, sp.first, sp.count, sp.slots = plan.nrings, plan.first, plan.count, plan.slots
    sp.tx, sp.rx = plan.tx, plan.rx
    return 0


cdef _Region _build_group(list layouts, uint32_t buf_size, uint32_t data_off=0,
                          uint32_t extra_bufs=0):
    """Lay out [netmap_if][rings]... for each port, then one buffer pool, in anonymous
    memory exactly as netmap does (facts 1.4-1.6): buffer 0 and 1 reserved, each slot
    with its own buffer, TX rings full of free slots, RX rings empty.  Ports of one
    region can swap buffers.  The pool starts page-aligned (an AF_XDP UMEM can be the
    pool); ``data_off`` moves every buffer that many bytes into its chunk (AF_XDP puts
    frames 256 bytes in).  reg.nifp_offs[k] is port k's netmap_if."""
    global _next_private_id
    cdef size_t off = 0, nbufs = 2 + extra_bufs
    cdef int ntx, nrx
    cdef uint32_t tx_slots, rx_slots
    nifp_offs = []
    for _name, ntx, nrx, tx_slots, rx_slots in layouts:
        nifp_offs.append(off)
        off += _align(sizeof(netmap_if) + 8 * (ntx + nrx), 128)
        off += ntx * _align(256 + 16 * <size_t>tx_slots, 128)
        off += nrx * _align(256 + 16 * <size_t>rx_slots, 128)
        nbufs += <size_t>ntx * tx_slots + <size_t>nrx * rx_slots
    cdef size_t buf_base = _align(off, 4096)
    cdef size_t total = _align(buf_base + nbufs * buf_size + data_off, 4096)
    first_name = layouts[0][0]
    cdef void *m = mmap(NULL, total, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
    if m == MAP_FAILED:
        _raise(errno, f"cannot allocate {total} bytes for the rings of {first_name}", first_name)
    cdef _Region reg = _Region.__new__(_Region)
    reg.mem, reg.size, reg.refs = <char *>m, total, 1
    reg.buf_base, reg.nbufs = buf_base, nbufs
    reg.nifp_offs = nifp_offs
    reg.mem_id = _next_private_id
    _next_private_id += 1
    cdef netmap_if *nifp
    cdef bytes bname
    cdef size_t ring_off
    cdef uint32_t next_buf = 2, j, slots
    cdef int i
    cdef netmap_ring *r
    for k, (name, ntx, nrx, tx_slots, rx_slots) in enumerate(layouts):
        nifp = <netmap_if *>(<char *>m + <size_t>nifp_offs[k])
        bname = name.encode()[:15]
        strncpy(nifp.ni_name, bname, 15)
        nifp.ni_tx_rings, nifp.ni_rx_rings = ntx, nrx
        nifp.ni_flags = 1               # NI_PRIV_MEM: not netmap's global region
        ring_off = <size_t>nifp_offs[k] + _align(sizeof(netmap_if) + 8 * (ntx + nrx), 128)
        for i in range(ntx + nrx):
            slots = tx_slots if i < ntx else rx_slots
            nifp.ring_ofs[i] = ring_off - <size_t>nifp_offs[k]
            r = <netmap_ring *>(<char *>m + ring_off)
            r.num_slots, r.nr_buf_size = slots, buf_size
            r.buf_ofs = <int64_t>buf_base + data_off - <int64_t>ring_off
            r.ringid = i if i < ntx else i - ntx
            r.dir = 1 if i < ntx else 0     # what the kernel writes (facts 1.4)
            r.head = r.cur = 0
            r.tail = slots - 1 if i < ntx else 0
            for j in range(slots):
                r.slot[j].buf_idx = next_buf
                r.slot[j].len = buf_size
                next_buf += 1
            ring_off += _align(256 + 16 * <size_t>slots, 128)
    return reg


def build_group(list layouts, uint32_t buf_size, uint32_t data_off=0):
    """A region for several emulated ports: [(name, rings, rings, slots, slots), ...].
    Pass it to open_packet/open_xdp/open_loop as place=(region, k); release() it after."""
    return _build_group(layouts, buf_size, data_off)


cdef _Region _take_region(object place, str name, const ring_span *sp, uint32_t buf_size,
                          uint32_t data_off, netmap_if **nifp):
    """The region a port lives in: its own (place None), or its place in a group's
    (place = (region, index))."""
    cdef _Region reg
    cdef int n = sp.nrings, index
    cdef uint32_t slots = sp.slots
    if place is None:
        reg = _build_group([(name, n, n, slots, slots)], buf_size, data_off, 0)
        nifp[0] = <netmap_if *>reg.mem
        return reg
    shared, index = place
    reg = <_Region?>shared
    if reg.mem == NULL or index >= len(reg.nifp_offs):
        raise ValueError("that region is released, or has no port at that index")
    nifp[0] = <netmap_if *>(reg.mem + <size_t>reg.nifp_offs[index])
    if nifp[0].ni_tx_rings != <uint32_t>n or NETMAP_TXRING(nifp[0], 0).num_slots != slots \
            or NETMAP_TXRING(nifp[0], 0).nr_buf_size != buf_size:
        raise ValueError("the group's layout for this port differs from what it opens")
    reg.refs += 1
    return reg
