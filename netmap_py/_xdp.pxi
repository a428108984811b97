# The AF_XDP backend (``xdp:IF``, ``xdp:IF-Q``): the region's buffer pool *is* the
# UMEM (buffer i = chunk i, frames 256 bytes into the chunk, where the kernel puts
# them), so rings move descriptors, never bytes, in our code:
#
#   txsync: slots [hwcur, head) become TX descriptors (addr of the slot's buffer);
#           each completion hands one slot back (tail moves), in submission order.
#   rxsync: released slots' buffers (whatever buf_idx the user left there, so a
#           swap is honoured) go to the fill ring; each RX descriptor fills the
#           next slot, with buf_idx set to the buffer the kernel used (NS_BUF_CHANGED
#           when that differs).
#
# A five-instruction XDP program redirects each bound queue to its socket.  It is
# loaded with bpf() and attached through a BPF link, so it goes away with the last
# process holding the link.  One socket per ring; the sockets of a port share the
# UMEM.  Copy mode where the driver has no zero-copy support (veth), said in
# Port.backend_reason.

from netmap_py.bpf cimport nmpy_map_set, nmpy_xdp_attach


cdef extern from "_xdp.h" nogil:
    struct xdp_desc:
        uint64_t addr
        uint32_t len
        uint32_t options

    struct xdp_ring_offset:
        uint64_t producer
        uint64_t consumer
        uint64_t desc
        uint64_t flags

    struct xdp_mmap_offsets:
        xdp_ring_offset rx
        xdp_ring_offset tx
        xdp_ring_offset fr
        xdp_ring_offset cr

    struct xdp_umem_reg:
        uint64_t addr
        uint64_t len
        uint32_t chunk_size
        uint32_t headroom
        uint32_t flags

    struct sockaddr_xdp:
        uint16_t sxdp_family
        uint16_t sxdp_flags
        uint32_t sxdp_ifindex
        uint32_t sxdp_queue_id
        uint32_t sxdp_shared_umem_fd

    struct xdp_statistics:
        uint64_t rx_dropped
        uint64_t rx_invalid_descs
        uint64_t tx_invalid_descs
        uint64_t rx_ring_full
        uint64_t rx_fill_ring_empty_descs
        uint64_t tx_ring_empty_descs

    struct nmpy_xq:
        uint32_t *producer
        uint32_t *consumer
        uint32_t *flags
        void *ring
        uint32_t mask
        uint32_t size
        void *map
        size_t maplen

    int AF_XDP, SOL_XDP
    int XDP_MMAP_OFFSETS, XDP_RX_RING, XDP_TX_RING, XDP_UMEM_REG, XDP_UMEM_FILL_RING
    int XDP_UMEM_COMPLETION_RING, XDP_STATISTICS
    int XDP_SHARED_UMEM, XDP_COPY, XDP_ZEROCOPY, XDP_USE_NEED_WAKEUP, XDP_RING_NEED_WAKEUP
    unsigned long long XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING
    unsigned long long XDP_UMEM_PGOFF_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING

    int nmpy_xskmap_create(uint32_t entries)
    int nmpy_xdp_prog_load(int map_fd, char *log, uint32_t log_size)
    uint32_t nmpy_xq_free(nmpy_xq *q)
    uint32_t nmpy_xq_ready(nmpy_xq *q)
    void nmpy_xq_produce(nmpy_xq *q, uint32_t n)
    void nmpy_xq_consume(nmpy_xq *q, uint32_t n)
    uint64_t *nmpy_xq_addr(nmpy_xq *q, uint32_t i)
    xdp_desc *nmpy_xq_desc(nmpy_xq *q, uint32_t i)
    int nmpy_xq_needs_wakeup(nmpy_xq *q)

cdef extern from "<sys/socket.h>" nogil:
    ssize_t sendto(int fd, const void *buf, size_t n, int flags, const void *addr, socklen_t alen)
    ssize_t recvfrom(int fd, void *buf, size_t n, int flags, void *addr, socklen_t *alen)

cdef extern from "<string.h>" nogil:
    void *memmove(void *dst, const void *src, size_t n)

cdef enum:
    XDP_CHUNK = 4096
    XDP_DATA_OFF = 256              # XDP_PACKET_HEADROOM: where frames start in a chunk
    XDP_MAX_RINGS = 64


cdef struct xdp_ring:
    int fd
    int queue
    nmpy_xq rx, tx, fq, cq
    kring tk                        # TX: hwcur = next slot to submit, hwtail = tail
    uint32_t tx_done                # first TX slot not completed yet
    uint8_t *submitted              # per TX slot: handed to the kernel
    kring rk                        # RX
    uint32_t fill_pos               # next RX slot whose buffer goes to the fill ring


cdef struct xdp_priv:
    int n
    int tx, rx
    char *umem
    xdp_ring q[XDP_MAX_RINGS]
    pollfd pfd[XDP_MAX_RINGS]


XDP_LAYOUT = (XDP_CHUNK, XDP_DATA_OFF)  # open_group(): a UMEM chunk, where its frame starts


cdef inline uint32_t _xdp_buf_of(uint64_t addr) noexcept nogil:
    return <uint32_t>(addr // XDP_CHUNK)


ctypedef int (*xdp_send_fn)(int fd) noexcept nogil

cdef enum:
    XDP_KICK_TRIES = 256            # a bound on one sync's sendto() calls


cdef int _xdp_sendto(int fd) noexcept nogil:
    if sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0:
        return -errno
    return 0


cdef int _xdp_kick(nmpy_xq *tx, int fd, xdp_send_fn send) noexcept nogil:
    """Wake the kernel for TX only when the ring asks (XDP_RING_NEED_WAKEUP: set for
    good in copy mode, where sendto() itself sends; set by a zero-copy driver when it
    sleeps).  A copy-mode sendto() takes a batch and says EAGAIN while more is left:
    call again then, and stop on the first success or any other error (ENOBUFS,
    EBUSY: the device queue is full).  Returns how many calls it made."""
    cdef int calls = 0, rc
    if not nmpy_xq_needs_wakeup(tx):
        return 0
    while calls < XDP_KICK_TRIES:
        rc = send(fd)
        calls += 1
        if rc != -EAGAIN and rc != -EINTR:
            break
    return calls


cdef inline void _xdp_kick_tx(xdp_ring *q) noexcept nogil:
    _xdp_kick(&q.tx, q.fd, _xdp_sendto)


# -- a test of the kick's logic on a ring laid out in memory (no socket) ------------
cdef int _script[16]
cdef int _script_len = 0, _script_pos = 0


cdef int _scripted_send(int fd) noexcept nogil:
    global _script_pos
    cdef int rc = _script[_script_pos] if _script_pos < _script_len else 0
    _script_pos += 1
    return rc


def _xdp_kick_logic(bint need_wakeup, results):
    """How many sendto() calls the TX kick makes when the ring's flag is as given and
    the calls return ``results`` in turn (0 or -errno; 0 after the list).  For tests."""
    global _script_len, _script_pos
    cdef uint32_t words[2]          # the producer/consumer never matter here: flags do
    cdef uint32_t flags = XDP_RING_NEED_WAKEUP if need_wakeup else 0
    cdef nmpy_xq q
    memset(&q, 0, sizeof(q))
    words[0] = words[1] = 0
    q.producer, q.consumer, q.flags = &words[0], &words[1], &flags
    _script_len, _script_pos = min(len(results), 16), 0
    for i in range(_script_len):
        _script[i] = results[i]
    return _xdp_kick(&q, -1, _scripted_send)


cdef int _xdp_txsync_ring(nmpy_port *p, netmap_ring *r, xdp_ring *q) noexcept nogil:
    cdef int rc = _tx_reclaim(r, &q.tk)
    if rc:
        return rc
    cdef uint32_t n = r.num_slots, c, k = 0, space, i, head = r.head, L
    cdef uint32_t cap = XDP_CHUNK - XDP_DATA_OFF
    cdef xdp_desc *d
    cdef netmap_slot *slot
    # completions: one per submitted slot, in submission order
    c = nmpy_xq_ready(&q.cq)
    if c:
        nmpy_xq_consume(&q.cq, c)
    while q.tx_done != q.tk.hwcur:
        if q.submitted[q.tx_done]:
            if c == 0:
                break
            c -= 1
            q.submitted[q.tx_done] = 0
        q.tx_done = nm_ring_next(r, q.tx_done)
    # new descriptors
    space = nmpy_xq_free(&q.tx)
    i = q.tk.hwcur
    while i != head and k < space:
        slot = &r.slot[i]
        L = slot.len
        slot.flags &= ~NS_BUF_CHANGED
        if nmpy_buf(p, r, slot.buf_idx, L) == NULL:
            p.tx_invalid += 1           # not a buffer of the UMEM: refused, as netmap does
        elif L == 0 or L > cap or slot.flags & NS_MOREFRAG:
            p.tx_dropped += 1           # not a frame AF_XDP can send
        else:
            d = nmpy_xq_desc(&q.tx, q.tx.producer[0] + k)
            d.addr = <uint64_t>slot.buf_idx * XDP_CHUNK + XDP_DATA_OFF
            d.len = L
            d.options = 0
            q.submitted[i] = 1
            k += 1
        i = nm_ring_next(r, i)
    if k:
        nmpy_xq_produce(&q.tx, k)
    q.tk.hwcur = i
    # slots before the first one still in flight belong to the user again
    while q.tx_done != q.tk.hwcur and not q.submitted[q.tx_done]:
        q.tx_done = nm_ring_next(r, q.tx_done)
    q.tk.hwtail = q.tx_done - 1 if q.tx_done else n - 1
    r.tail = q.tk.hwtail
    if k or q.tx.producer[0] != nmpy_load_acquire(q.tx.consumer):
        _xdp_kick_tx(q)
    return 0


cdef int _xdp_txsync(nmpy_port *p) noexcept nogil:
    cdef xdp_priv *xp = <xdp_priv *>p.priv
    cdef int k, rc
    if not xp.tx:
        return 0
    for k in range(xp.n):
        rc = _xdp_txsync_ring(p, NETMAP_TXRING(p.nifp, p.first_tx_ring + k), &xp.q[k])
        if rc:
            return rc
    return 0


cdef int _xdp_rxsync_ring(nmpy_port *p, netmap_ring *r, xdp_ring *q, char *umem) noexcept nogil:
    cdef int rc = _rx_release(r, &q.rk)
    if rc:
        return rc
    cdef uint32_t n = r.num_slots, target, space, k = 0, c, j, b, off
    cdef xdp_desc *d
    cdef netmap_slot *slot
    # released slots: their buffers (as the user left them) go back to the kernel
    target = q.rk.hwcur - 1 if q.rk.hwcur else n - 1
    space = nmpy_xq_free(&q.fq)
    while q.fill_pos != target and k < space:
        nmpy_xq_addr(&q.fq, q.fq.producer[0] + k)[0] = <uint64_t>r.slot[q.fill_pos].buf_idx * XDP_CHUNK
        q.fill_pos = nm_ring_next(r, q.fill_pos)
        k += 1
    if k:
        nmpy_xq_produce(&q.fq, k)
    # arrivals
    c = nmpy_xq_ready(&q.rx)
    j = q.rk.hwtail
    for k in range(c):
        d = nmpy_xq_desc(&q.rx, q.rx.consumer[0] + k)
        b = _xdp_buf_of(d.addr)
        off = <uint32_t>(d.addr % XDP_CHUNK)
        if off != XDP_DATA_OFF:         # a program moved the start: put it where netmap reads
            memmove(umem + <size_t>b * XDP_CHUNK + XDP_DATA_OFF, umem + d.addr, d.len)
        slot = &r.slot[j]
        if slot.buf_idx != b:
            slot.buf_idx = b
            slot.flags = NS_BUF_CHANGED
        else:
            slot.flags = 0
        slot.len = d.len
        j = nm_ring_next(r, j)
    if c:
        nmpy_xq_consume(&q.rx, c)
    q.rk.hwtail = j
    r.tail = j
    gettimeofday(&r.ts, NULL)
    if nmpy_xq_needs_wakeup(&q.fq):
        recvfrom(q.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)
    return 0


cdef int _xdp_rxsync(nmpy_port *p) noexcept nogil:
    cdef xdp_priv *xp = <xdp_priv *>p.priv
    cdef int k, rc
    if not xp.rx:
        return 0
    for k in range(xp.n):
        rc = _xdp_rxsync_ring(p, NETMAP_RXRING(p.nifp, p.first_rx_ring + k), &xp.q[k], xp.umem)
        if rc:
            return rc
    return 0


cdef int _xdp_fds(nmpy_port *p, int events, pollfd *out, int room) noexcept nogil:
    """The queue sockets a wait for events sleeps on (one per bound queue)."""
    cdef xdp_priv *xp = <xdp_priv *>p.priv
    cdef int k, n = 0
    cdef short ev = (POLLIN if events & POLLIN and xp.rx else 0) | \
        (POLLOUT if events & POLLOUT and xp.tx else 0)
    for k in range(xp.n):
        if n < room and ev:
            out[n].fd, out[n].events = xp.q[k].fd, ev
            n += 1
    return n


cdef int _xdp_poll(nmpy_port *p, int events, int timeout_ms) noexcept nogil:
    cdef xdp_priv *xp = <xdp_priv *>p.priv
    return _emu_poll(p, events, timeout_ms, xp.pfd, _xdp_fds(p, events, xp.pfd, XDP_MAX_RINGS))


cdef void _xdp_unmap(nmpy_xq *q) noexcept nogil:
    if q.map != NULL:
        munmap(q.map, q.maplen)
        q.map = NULL


cdef void _xdp_destroy(nmpy_port *p) noexcept nogil:
    cdef xdp_priv *xp = <xdp_priv *>p.priv
    cdef int k
    if xp == NULL:
        return
    for k in range(xp.n):
        _xdp_unmap(&xp.q[k].rx)
        _xdp_unmap(&xp.q[k].tx)
        _xdp_unmap(&xp.q[k].fq)
        _xdp_unmap(&xp.q[k].cq)
        free(xp.q[k].submitted)
        if xp.q[k].fd >= 0:
            close(xp.q[k].fd)
    free(xp)
    p.priv = NULL


cdef int _xdp_map_ring(int fd, nmpy_xq *q, xdp_ring_offset *o, uint32_t entries,
                       size_t desc_size, unsigned long long pgoff) noexcept nogil:
    q.maplen = o.desc + entries * desc_size
    cdef void *m = mmap(NULL, q.maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                        fd, <long>pgoff)
    if m == MAP_FAILED:
        return -errno
    q.map = m
    q.producer = <uint32_t *>(<char *>m + o.producer)
    q.consumer = <uint32_t *>(<char *>m + o.consumer)
    q.flags = <uint32_t *>(<char *>m + o.flags)
    q.ring = <char *>m + o.desc
    q.size = entries
    q.mask = entries - 1
    return 0


cdef enum:
    XDP_MAX_TX_SKB_BUDGET = 9       # SOL_XDP option: frames one copy-mode TX call sends
    XDP_TX_BUDGET_MAX = 1024


cdef int _xdp_socket(xdp_ring *q, char *umem, size_t umem_len, uint32_t entries,
                     const ring_span *sp, int first_fd) noexcept nogil:
    """Socket, UMEM (or a share of the first socket's), rings, their mappings; the
    RX and TX rings where sp binds those directions."""
    cdef bint rx = sp.rx, tx = sp.tx
    cdef int fd = socket(AF_XDP, SOCK_RAW | 0x80000, 0)
    cdef xdp_umem_reg ur
    cdef xdp_mmap_offsets off
    cdef socklen_t ol = sizeof(off)
    cdef int rc
    if fd < 0:
        return -errno
    q.fd = fd
    if first_fd < 0:
        memset(&ur, 0, sizeof(ur))
        ur.addr = <uint64_t>umem
        ur.len = umem_len
        ur.chunk_size = XDP_CHUNK
        if setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &ur, sizeof(ur)) < 0:
            return -errno
    if setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &entries, 4) < 0:
        return -errno
    if setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &entries, 4) < 0:
        return -errno
    if rx and setsockopt(fd, SOL_XDP, XDP_RX_RING, &entries, 4) < 0:
        return -errno
    if tx and setsockopt(fd, SOL_XDP, XDP_TX_RING, &entries, 4) < 0:
        return -errno
    cdef uint32_t budget = entries if entries < XDP_TX_BUDGET_MAX else XDP_TX_BUDGET_MAX
    if tx:
        # in copy mode the kernel sends at most 32 frames a system call unless told
        # more (XDP_MAX_TX_SKB_BUDGET, Linux 6.17); an older kernel refuses the option
        # (ENOPROTOOPT) and keeps its 32
        setsockopt(fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &budget, 4)
    if getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) < 0:
        return -errno
    rc = _xdp_map_ring(fd, &q.fq, &off.fr, entries, 8, XDP_UMEM_PGOFF_FILL_RING)
    if rc == 0:
        rc = _xdp_map_ring(fd, &q.cq, &off.cr, entries, 8, XDP_UMEM_PGOFF_COMPLETION_RING)
    if rc == 0 and rx:
        rc = _xdp_map_ring(fd, &q.rx, &off.rx, entries, sizeof(xdp_desc), XDP_PGOFF_RX_RING)
    if rc == 0 and tx:
        rc = _xdp_map_ring(fd, &q.tx, &off.tx, entries, sizeof(xdp_desc), XDP_PGOFF_TX_RING)
    return rc


cdef int _xdp_bind(xdp_ring *q, int ifindex, int queue, int first_fd, uint16_t mode) noexcept nogil:
    cdef sockaddr_xdp sa
    memset(&sa, 0, sizeof(sa))
    sa.sxdp_family = AF_XDP
    sa.sxdp_ifindex = ifindex
    sa.sxdp_queue_id = queue
    sa.sxdp_flags = mode | XDP_USE_NEED_WAKEUP
    if first_fd >= 0:                   # a sharer takes the first socket's flags; none of its own
        sa.sxdp_flags = XDP_SHARED_UMEM
        sa.sxdp_shared_umem_fd = first_fd
    if bind(q.fd, <sockaddr *>&sa, sizeof(sa)) < 0:
        return -errno
    return 0


include "_xdp_prog.pxi"


cdef bint _xdp_bind_queue(xdp_ring *q, int ifindex, int first_fd, bint try_zc,
                          object spec) except -1:
    """Bind q to its queue: sharing first_fd's UMEM where there is one (its mode), else
    zero-copy where try_zc and the driver allows, else copy mode.  True: zero-copy."""
    cdef int rc = -1
    cdef bint zc = try_zc
    if first_fd >= 0:
        rc = _xdp_bind(q, ifindex, q.queue, first_fd, 0)
    else:
        if try_zc:
            rc = _xdp_bind(q, ifindex, q.queue, first_fd, XDP_ZEROCOPY)
        if rc:
            zc = False
            rc = _xdp_bind(q, ifindex, q.queue, first_fd, XDP_COPY)
    if rc:
        _raise(-rc, _xdp_hint(-rc, f"bind the AF_XDP socket to queue {q.queue}"), spec)
    return zc


def open_xdp(spec, plan, str reason, bint force_copy=False, place=None):
    """Open queues [first, first+count) of plan's interface (plan.info.ifindex)
    through AF_XDP sockets, in the port's own UMEM or at place=(region, index)."""
    cdef ring_span sp
    _span_of(plan, &sp)
    cdef int ifindex = plan.info.ifindex, nrings = sp.nrings, first = sp.first
    cdef int count = sp.count
    cdef uint32_t slots = sp.slots
    cdef bint tx = sp.tx, rx = sp.rx
    if count < 1 or count > XDP_MAX_RINGS or first + count > nrings:
        raise ValueError(f"queue range {first}..{first + count - 1} is not within 0..{nrings - 1}")
    if slots & (slots - 1) or slots < 64 or slots > 16384:
        raise OSError(EINVAL, f"AF_XDP rings need a power-of-two size in 64..16384, not {slots} "
                      "(use @conf:slots=N)", str(spec))
    cdef Port port = _new_port(spec, "xdp", reason)
    cdef netmap_if *nifp0
    cdef _Region reg = _take_region(place, spec.name, &sp, XDP_CHUNK, XDP_DATA_OFF, &nifp0)
    cdef xdp_priv *xp = <xdp_priv *>calloc(1, sizeof(xdp_priv))
    if xp == NULL:
        reg._release()
        raise MemoryError()
    port.c.priv = xp
    port.c.destroy = _xdp_destroy
    port.c.nifp = nifp0
    # buffers are XDP_CHUNK apart (nr_buf_size, netmap's stride) but each begins 256
    # bytes into its chunk: it holds the rest, and frames past that are refused
    port.c.buf_cap = XDP_CHUNK - XDP_DATA_OFF
    xp.tx, xp.rx = tx, rx
    xp.umem = reg.mem + reg.buf_base
    cdef int k, rc, first_fd = reg.umem_fd   # another port of the group registered the UMEM
    cdef bint owner = first_fd < 0
    cdef _XdpHold hold = _XdpHold.__new__(_XdpHold)
    zc = True if owner else reg.umem_zc
    try:
        if rx:
            hold.prog = _xdp_attach(spec, ifindex, nrings)
        for k in range(count):
            xp.q[k].fd = -1
            xp.n += 1
            xp.q[k].queue = first + k
            xp.q[k].submitted = <uint8_t *>calloc(slots, 1)
            if xp.q[k].submitted == NULL:
                raise MemoryError()
            rc = _xdp_socket(&xp.q[k], xp.umem, reg.nbufs * XDP_CHUNK, slots, &sp, first_fd)
            if rc:
                _raise(-rc, _xdp_hint(-rc, "set up the AF_XDP socket"), spec)
            # the first socket of a UMEM picks the mode; the others share it
            zc = _xdp_bind_queue(&xp.q[k], ifindex, first_fd,
                                 zc if first_fd >= 0 else zc and not force_copy, spec)
            if first_fd < 0:
                first_fd = xp.q[k].fd
                reg.umem_fd, reg.umem_zc = first_fd, zc
            if rx:
                rc = nmpy_map_set(hold.prog.map_fd, first + k, xp.q[k].fd)
                if rc < 0:
                    _raise(-rc, _xdp_hint(-rc, "register the socket in the XSKMAP"), spec)
            xp.q[k].tk.hwcur, xp.q[k].tk.hwtail = 0, slots - 1
    except BaseException:
        if owner:
            reg.umem_fd = -1
        _xdp_destroy(&port.c)
        hold.release()
        reg._release()
        raise
    _bind_range(&port.c, nrings, first, count, tx, rx)
    port.c.fd = xp.q[0].fd
    port.c.txsync, port.c.rxsync, port.c.poll = _xdp_txsync, _xdp_rxsync, _xdp_poll
    port.c.fds = _xdp_fds
    port.zero_copy = zc
    port._hold = hold
    prog_mode = hold.prog.mode if hold.prog is not None else None
    port.backend_reason = reason + (
        f"; AF_XDP {'zero-copy' if zc else 'copy'} mode" +
        (f", {prog_mode} XDP program" if prog_mode else ", TX only (no XDP program)"))
    _opened(port, reg)
    if rx:
        _xdp_rxsync(&port.c)            # hand the RX buffers to the kernel now
    return port


def xdp_stats(Port port):
    """The sockets' XDP_STATISTICS, summed: drops the kernel counted."""
    port._check_open()
    if port.backend != "xdp":
        raise ValueError("xdp_stats() needs an xdp: port")
    cdef xdp_priv *xp = <xdp_priv *>port.c.priv
    cdef xdp_statistics st
    cdef socklen_t sl
    cdef int k
    out = {"rx_dropped": 0, "rx_invalid_descs": 0, "tx_invalid_descs": 0, "rx_ring_full": 0,
           "rx_fill_ring_empty_descs": 0, "tx_ring_empty_descs": 0}
    for k in range(xp.n):
        sl = sizeof(st)
        memset(&st, 0, sizeof(st))
        if getsockopt(xp.q[k].fd, SOL_XDP, XDP_STATISTICS, &st, &sl) < 0:
            _raise(errno, "cannot read the AF_XDP socket statistics", port.spec)
        out["rx_dropped"] += st.rx_dropped
        out["rx_invalid_descs"] += st.rx_invalid_descs
        out["tx_invalid_descs"] += st.tx_invalid_descs
        out["rx_ring_full"] += st.rx_ring_full
        out["rx_fill_ring_empty_descs"] += st.rx_fill_ring_empty_descs
        out["tx_ring_empty_descs"] += st.tx_ring_empty_descs
    return out
