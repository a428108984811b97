# Batch calls for Python loops: Port.send() copies a list of frames into the bound
# TX rings and syncs once; Port.recv() hands out the frames that arrived as
# zero-copy memoryviews and gives their slots back at the next call.  Ring and
# array views (NumPy) for per-batch work over many slots at once.  Included by
# _core.pyx; every pointer made from a slot goes through nmpy_buf().

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer


cdef int _copy_frame(nmpy_port *c, netmap_ring *r, uint32_t head, object frame,
                     Py_ssize_t i, object spec) except -1:
    """Frame i of a send() into slot head of r, or ValueError/TypeError naming it."""
    cdef Py_buffer view
    cdef netmap_slot *slot = &r.slot[head]
    cdef char *buf
    cdef uint32_t cap = nmpy_buf_cap(c, r)
    PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
    try:
        if view.len < 1 or view.len > cap:
            raise ValueError(f"frame {i} is {view.len} bytes; a frame on {spec} takes "
                             f"1 to {cap} bytes")
        buf = nmpy_buf(c, r, slot.buf_idx, <uint32_t>view.len)
        if buf == NULL:
            raise ValueError(f"TX ring {r.ringid} slot {head} names no buffer of the "
                             f"region (buf_idx {slot.buf_idx}): put a valid one back")
        memcpy(buf, view.buf, view.len)
        slot.len = <uint16_t>view.len
        slot.flags = 0
    finally:
        PyBuffer_Release(&view)
    return 0


cdef Py_ssize_t _send(Port p, object frames, bint sync) except -1:
    """Queue frames from each bound TX ring's head in turn, publish every ring's
    head/cur only once all were copied (an error queues nothing), then txsync."""
    p._check_open()
    if isinstance(frames, (str, bytes, bytearray, memoryview)):
        raise TypeError("send() takes a sequence of frames (a list of bytes), not one frame")
    cdef list seq = list(frames)
    cdef nmpy_port *c = &p.c
    cdef int nr = c.last_tx_ring - c.first_tx_ring + 1, k = 0
    if nr < 1:
        raise ValueError(f"{p.spec} has no TX ring bound: open it with TX rings to send()")
    cdef Py_ssize_t n = len(seq), i = 0
    cdef uint32_t head, space
    cdef netmap_ring *r
    heads = [None] * nr
    while i < n and k < nr:
        r = NETMAP_TXRING(c.nifp, c.first_tx_ring + k)
        head, space = r.head, nm_ring_space(r)
        while i < n and space:
            _copy_frame(c, r, head, seq[i], i, p.spec)
            head = nm_ring_next(r, head)
            space -= 1
            i += 1
        heads[k] = head
        k += 1
    for k in range(nr):
        if heads[k] is not None:
            r = NETMAP_TXRING(c.nifp, c.first_tx_ring + k)
            r.head = r.cur = <uint32_t>heads[k]
    if sync:
        p._sync(c.txsync, "send()")
    return i


cdef list _recv(Port p, Py_ssize_t most, int timeout_ms):
    """Give back the slots the last recv() handed out, sync (waiting up to timeout_ms
    when nothing is there), and return up to most frames as memoryviews."""
    p._check_open()
    if most < 1:
        raise ValueError(f"recv(max={most}): max is how many frames at most, 1 or more")
    cdef nmpy_port *c = &p.c
    cdef int nr = c.last_rx_ring - c.first_rx_ring + 1, k
    if nr < 1:
        raise ValueError(f"{p.spec} has no RX ring bound: open it with RX rings to recv()")
    cdef netmap_ring *r
    cdef netmap_slot *slot
    cdef uint32_t head, avail, cap
    cdef char *buf
    if p._recv_heads is not None:
        for k, head in p._recv_heads:
            r = NETMAP_RXRING(c.nifp, c.first_rx_ring + k)
            r.head = r.cur = head
        p._recv_heads = None
    p._sync(c.rxsync, "recv()")
    if timeout_ms != 0 and not _any_ready(c, POLLIN):
        p.poll(POLLIN, timeout_ms)
    out = []
    heads = []
    for k in range(nr):
        r = NETMAP_RXRING(c.nifp, c.first_rx_ring + k)
        head, avail, cap = r.head, nm_ring_space(r), nmpy_buf_cap(c, r)
        if avail == 0:
            continue
        while avail and len(out) < most:
            slot = &r.slot[head]
            buf = nmpy_buf(c, r, slot.buf_idx, slot.len if slot.len < cap else cap)
            if buf != NULL:
                out.append(_memview(p, buf, slot.len if slot.len < cap else cap))
            head = nm_ring_next(r, head)
            avail -= 1
        heads.append((k, head))
        if len(out) >= most:
            break
    p._recv_heads = heads
    return out


cdef object _numpy(str who):
    try:
        import numpy
    except ImportError:
        raise ImportError(f"{who} needs NumPy: pip install 'netmap-py[numpy]'") from None
    return numpy


cdef object _slot_array(Ring ring):
    """The ring's slots as a NumPy structured array over the ring itself."""
    np = _numpy("slot_array()")
    cdef netmap_ring *r = ring._get()
    dt = np.dtype([("buf_idx", "<u4"), ("len", "<u2"), ("flags", "<u2"), ("ptr", "<u8")])
    assert dt.itemsize == sizeof(netmap_slot)
    mv = _memview(ring.port, <char *>r.slot, <Py_ssize_t>r.num_slots * sizeof(netmap_slot))
    return np.frombuffer(mv, dtype=dt)


cdef object _buffer_array(Port p):
    """The port's buffer pool as a 2-D uint8 array: row i is buffer i (rows 0 and 1
    are netmap's reserved buffers), columns its bytes; zero-copy."""
    np = _numpy("buffer_array()")
    p._check_open()
    cdef nmpy_port *c = &p.c
    cdef netmap_ring *r = (NETMAP_TXRING(c.nifp, c.first_tx_ring) if c.last_tx_ring >= c.first_tx_ring
                           else NETMAP_RXRING(c.nifp, c.first_rx_ring))
    cdef char *base = <char *>r + r.buf_ofs
    cdef Py_ssize_t size = r.nr_buf_size
    cdef Py_ssize_t n = (<Py_ssize_t>(p.c.mem + p.c.memsize - base)) // size
    mv = _memview(p, base, n * size)
    return np.frombuffer(mv, dtype=np.uint8).reshape(n, size)
