# The "loop" backend (``loop:NAME``): TX ring i feeds RX ring i of the same port,
# by swapping buffer indices as netmap pipes do.  No system call, no copy: it
# measures what our own loops cost, and lets the unit tests drive every ring
# operation without privileges.  One thread per loop port.

cdef struct loop_priv:
    int nrings
    kring *tx
    kring *rx
    uint64_t *delivered


cdef int _loop_txsync(nmpy_port *p) noexcept nogil:
    cdef loop_priv *lp = <loop_priv *>p.priv
    cdef int i, rc
    cdef netmap_ring *t
    cdef netmap_ring *r
    cdef kring *kt
    cdef kring *kr
    cdef uint32_t tmp, nxt
    for i in range(lp.nrings):
        t = NETMAP_TXRING(p.nifp, i)
        r = NETMAP_RXRING(p.nifp, i)
        kt, kr = &lp.tx[i], &lp.rx[i]
        rc = _tx_reclaim(t, kt)
        if rc:
            return rc
        while kt.hwcur != t.head:
            nxt = nm_ring_next(r, kr.hwtail)
            if nmpy_buf(p, t, t.slot[kt.hwcur].buf_idx, t.slot[kt.hwcur].len) == NULL:
                p.tx_invalid += 1       # not a buffer of the region: refused, as netmap does
            elif nxt == kr.hwcur:       # receiver full: the frame is lost
                p.tx_dropped += 1
            else:
                tmp = r.slot[kr.hwtail].buf_idx
                r.slot[kr.hwtail].buf_idx = t.slot[kt.hwcur].buf_idx
                r.slot[kr.hwtail].len = t.slot[kt.hwcur].len
                r.slot[kr.hwtail].flags = NS_BUF_CHANGED | (t.slot[kt.hwcur].flags & NS_MOREFRAG)
                t.slot[kt.hwcur].buf_idx = tmp
                t.slot[kt.hwcur].flags = NS_BUF_CHANGED
                kr.hwtail = nxt
                lp.delivered[i] += 1
            kt.hwcur = nm_ring_next(t, kt.hwcur)
        kt.hwtail = kt.hwcur - 1 if kt.hwcur else t.num_slots - 1
        t.tail = kt.hwtail
    return 0


cdef int _loop_rxsync(nmpy_port *p) noexcept nogil:
    cdef loop_priv *lp = <loop_priv *>p.priv
    cdef int i, rc
    cdef netmap_ring *r
    for i in range(lp.nrings):
        r = NETMAP_RXRING(p.nifp, i)
        rc = _rx_release(r, &lp.rx[i])
        if rc:
            return rc
        r.tail = lp.rx[i].hwtail
        gettimeofday(&r.ts, NULL)
    return 0


cdef int _loop_poll(nmpy_port *p, int events, int timeout_ms) noexcept nogil:
    cdef int rc = _loop_txsync(p)
    if rc == 0 and events & POLLIN:
        rc = _loop_rxsync(p)
    if rc:
        return rc
    rc = _any_ready(p, events)
    if rc == 0 and timeout_ms != 0:
        poll(NULL, 0, 1)               # nothing can arrive from elsewhere: yield briefly
    return rc


cdef void _loop_destroy(nmpy_port *p) noexcept nogil:
    cdef loop_priv *lp = <loop_priv *>p.priv
    if lp != NULL:
        free(lp.tx)
        free(lp.rx)
        free(lp.delivered)
        free(lp)
        p.priv = NULL


cdef Port _open_loop(object spec, const ring_span *sp, uint32_t buf_size, str reason,
                     object place):
    cdef Port port = _new_port(spec, "loop", reason)
    cdef netmap_if *nifp
    cdef int nrings = sp.nrings, first = sp.first, count = sp.count
    cdef uint32_t slots = sp.slots
    cdef _Region reg = _take_region(place, spec.name, sp, buf_size, 0, &nifp)
    cdef loop_priv *lp = <loop_priv *>calloc(1, sizeof(loop_priv))
    if lp == NULL:
        reg._release()
        raise MemoryError()
    port.c.priv = lp
    port.c.destroy = _loop_destroy
    lp.nrings = nrings
    lp.tx = <kring *>calloc(nrings, sizeof(kring))
    lp.rx = <kring *>calloc(nrings, sizeof(kring))
    lp.delivered = <uint64_t *>calloc(nrings, sizeof(uint64_t))
    if lp.tx == NULL or lp.rx == NULL or lp.delivered == NULL:
        _loop_destroy(&port.c)
        port.c.destroy = NULL
        reg._release()
        raise MemoryError()
    cdef int i
    for i in range(nrings):
        lp.tx[i].hwcur, lp.tx[i].hwtail = 0, slots - 1
        lp.rx[i].hwcur, lp.rx[i].hwtail = 0, 0
    port.c.nifp = nifp
    port.c.first_tx_ring, port.c.last_tx_ring = first, first + count - 1
    port.c.first_rx_ring, port.c.last_rx_ring = first, first + count - 1
    port.c.txsync, port.c.rxsync, port.c.poll = _loop_txsync, _loop_rxsync, _loop_poll
    port.zero_copy = True
    _opened(port, reg)
    return port


def open_loop(spec, plan, uint32_t buf_size=2048, str reason="", place=None):
    """A loop port laid out as plan says (nrings ring pairs, binding [first,
    first+count), slots a ring), in its own region or at place=(region, index)."""
    cdef ring_span sp
    _span_of(plan, &sp)
    if sp.nrings < 1 or sp.nrings > 64:
        raise ValueError(f"loop ports have 1..64 rings, not {sp.nrings}")
    if sp.slots < 2 or sp.slots > 65536:
        raise ValueError(f"ring size must be 2..65536 slots, not {sp.slots}")
    if sp.first < 0 or sp.count < 1 or sp.first + sp.count > sp.nrings:
        raise ValueError(f"ring range {sp.first}..{sp.first + sp.count - 1} is not within "
                         f"0..{sp.nrings - 1}")
    return _open_loop(spec, &sp, buf_size, reason, place)
