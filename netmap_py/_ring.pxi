# Ring and Slot: one ring of a Port and one slot of a ring (included by _core.pyx).

# -- Ring and Slot ------------------------------------------------------------
cdef Ring _ring(Port port, int index, bint is_tx):
    cdef Ring r = Ring.__new__(Ring)
    r.port, r.index, r.is_tx = port, index, is_tx
    r.r = NETMAP_TXRING(port.c.nifp, index) if is_tx else NETMAP_RXRING(port.c.nifp, index)
    return r


cdef class Ring:
    """One netmap ring.  head and cur are the user's to write; tail is not."""

    cdef netmap_ring *_get(self) except NULL:
        self.port._check_open()
        return self.r

    @property
    def head(self):
        return self._get().head

    @head.setter
    def head(self, uint32_t v):
        cdef netmap_ring *r = self._get()
        if v >= r.num_slots:
            raise IndexError(f"head {v} out of range [0, {r.num_slots})")
        r.head = v

    @property
    def cur(self):
        return self._get().cur

    @cur.setter
    def cur(self, uint32_t v):
        cdef netmap_ring *r = self._get()
        if v >= r.num_slots:
            raise IndexError(f"cur {v} out of range [0, {r.num_slots})")
        r.cur = v

    @property
    def tail(self):
        return self._get().tail

    @property
    def num_slots(self):
        return self._get().num_slots

    @property
    def buf_size(self):
        """Bytes one buffer holds (what a frame or fragment may take)."""
        return nmpy_buf_cap(&self.port.c, self._get())

    @property
    def flags(self):
        return self._get().flags

    @flags.setter
    def flags(self, uint32_t v):
        self._get().flags = v

    @property
    def ringid(self):
        return self._get().ringid

    @property
    def timestamp(self):
        """ring.ts (time of the last rxsync) as float seconds."""
        cdef netmap_ring *r = self._get()
        return r.ts.tv_sec + r.ts.tv_usec * 1e-6

    def space(self):
        """Slots the user owns: free slots on TX, packets ready on RX."""
        return nm_ring_space(self._get())

    def empty(self):
        return nm_ring_empty(self._get())

    def tx_pending(self):
        """True while some slots handed to the kernel are not yet reclaimed."""
        return nm_tx_pending(self._get())

    def next(self, uint32_t i):
        cdef netmap_ring *r = self._get()
        if i >= r.num_slots:
            raise IndexError(f"slot {i} out of range [0, {r.num_slots})")
        return nm_ring_next(r, i)

    def advance(self, uint32_t n=1):
        """Move head and cur forward by n slots (at most space())."""
        cdef netmap_ring *r = self._get()
        if n > nm_ring_space(r):
            raise ValueError(f"cannot advance {n} slots: only {nm_ring_space(r)} are owned")
        r.head = (r.head + n) % r.num_slots
        r.cur = r.head

    def slot_array(self):
        """The ring's slots as a NumPy structured array (buf_idx, len, flags, ptr) over
        the ring itself, zero-copy (NumPy needed).  What you write is checked where
        it is used: syncs refuse slots that name no buffer of the region."""
        return _slot_array(self)

    def slot(self, uint32_t i):
        cdef netmap_ring *r = self._get()
        if i >= r.num_slots:
            raise IndexError(f"slot {i} out of range [0, {r.num_slots})")
        cdef Slot s = Slot.__new__(Slot)
        s.ring, s.index = self, i
        return s

    cdef char *_buf_ptr(self, uint32_t buf_idx, size_t length) except NULL:
        """The one checked way from a buffer index to a pointer."""
        cdef netmap_ring *r = self._get()
        cdef uint32_t cap = nmpy_buf_cap(&self.port.c, r)
        if length > cap:
            raise ValueError(f"{length} bytes do not fit a {cap}-byte buffer")
        cdef char *p = nmpy_buf(&self.port.c, r, buf_idx, <uint32_t>length)
        if p == NULL:
            raise IndexError(f"buffer index {buf_idx} is not a buffer of {self.port.spec}'s "
                             "region")
        return p

    def buf(self, uint32_t buf_idx):
        """A writable memoryview over buffer ``buf_idx`` (buf_size bytes)."""
        cdef uint32_t cap = nmpy_buf_cap(&self.port.c, self._get())
        return _memview(self.port, self._buf_ptr(buf_idx, cap), cap)

    def __len__(self):
        return self._get().num_slots

    def __repr__(self):
        if self.port.closed:
            return "<Ring (closed)>"
        return (f"<netmap_py.Ring {'tx' if self.is_tx else 'rx'}{self.index} "
                f"head={self.r.head} cur={self.r.cur} tail={self.r.tail} "
                f"slots={self.r.num_slots}>")


cdef class Slot:
    """One slot of a ring: buf_idx, len, flags, ptr, and its buffer."""

    cdef netmap_slot *_get(self) except NULL:
        return &self.ring._get().slot[self.index]

    @property
    def buf_idx(self):
        return self._get().buf_idx

    @buf_idx.setter
    def buf_idx(self, uint32_t v):
        cdef netmap_slot *s = self._get()
        if nmpy_buf(&self.ring.port.c, self.ring.r, v, 0) == NULL:
            raise IndexError(f"buffer index {v} is not a buffer of {self.ring.port.spec}'s "
                             "region (netmap reserves 0 and 1)")
        s.buf_idx = v

    @property
    def len(self):
        return self._get().len

    @len.setter
    def len(self, int v):
        cdef uint32_t cap = nmpy_buf_cap(&self.ring.port.c, self.ring._get())
        if v < 0 or <uint32_t>v > cap:
            raise ValueError(f"len {v} out of range [0, {cap}]")
        self._get().len = v

    @property
    def flags(self):
        return self._get().flags

    @flags.setter
    def flags(self, uint16_t v):
        self._get().flags = v

    @property
    def ptr(self):
        return self._get().ptr

    @ptr.setter
    def ptr(self, uint64_t v):
        self._get().ptr = v

    @property
    def buffer(self):
        """A writable memoryview over the whole buffer of this slot."""
        return self.ring.buf(self._get().buf_idx)

    @property
    def data(self):
        """A writable memoryview over the first ``len`` bytes of the buffer."""
        cdef netmap_slot *s = self._get()
        return _memview(self.ring.port, self.ring._buf_ptr(s.buf_idx, s.len), s.len)

    def tobytes(self):
        """A copy of the packet bytes (the only call here that copies)."""
        cdef netmap_slot *s = self._get()
        cdef char *p = self.ring._buf_ptr(s.buf_idx, s.len)
        return p[:s.len]

    def write(self, data):
        """Copy ``data`` into the buffer and set len."""
        cdef const unsigned char[:] src = data
        cdef netmap_slot *s = self._get()
        cdef char *p = self.ring._buf_ptr(s.buf_idx, src.shape[0])
        if src.shape[0]:
            memcpy(p, &src[0], src.shape[0])
        s.len = src.shape[0]

    def swap(self, Slot other):
        """Exchange buffers with ``other`` (zero copy), copy len into ``other``
        when this is an RX slot, and set NS_BUF_CHANGED on both."""
        if not same_region(self.ring.port, other.ring.port):
            raise ValueError(f"{self.ring.port.spec} and {other.ring.port.spec} do not share a "
                             "memory region; buffers cannot be swapped (copy instead)")
        cdef netmap_slot *a = self._get()
        cdef netmap_slot *b = other._get()
        a.buf_idx, b.buf_idx = b.buf_idx, a.buf_idx
        if not self.ring.is_tx:
            b.len = a.len
        else:
            a.len = b.len
        a.flags |= NS_BUF_CHANGED
        b.flags |= NS_BUF_CHANGED

    def __repr__(self):
        cdef netmap_slot *s = self._get()
        return f"<netmap_py.Slot {self.index} buf_idx={s.buf_idx} len={s.len} flags={s.flags:#x}>"
