# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Owners of C resources: ports, their memory regions, ring and slot views.

Every system call of netmap_py happens in this file or in the files it includes
(_region, _loop, _packet, _netmap, _xdp with _xdp_prog, _batch and _ring .pxi).
Every return code goes through ``_raise`` so the caller gets ``OSError(errno,
message, portname)``.
"""
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset, strncpy

from netmap_py.netmap cimport (
    netmap_if, netmap_ring, netmap_slot, nm_ring_next, nm_ring_space, nm_ring_empty,
    nm_tx_pending, NETMAP_BUF, NETMAP_TXRING, NETMAP_RXRING,
    nmreq_header, nmreq_register, nmreq_port_info_get, nmreq_port_hdr, NIOCCTRL, NIOCTXSYNC,
    NIOCRXSYNC,
)
from netmap_py.constants cimport (
    NETMAP_API, NS_BUF_CHANGED, NS_MOREFRAG, NETMAP_REQ_REGISTER, NETMAP_REQ_PORT_INFO_GET,
    NETMAP_REQ_PORT_HDR_SET, NETMAP_REQ_PORT_HDR_GET,
)
from netmap_py.linux cimport *

import errno as _errno
import os as _os
import warnings as _warnings

cdef extern from "_nmpy.h" nogil:
    uint32_t nmpy_load_acquire(const uint32_t *p)
    void nmpy_store_release(uint32_t *p, uint32_t v)
    void nmpy_barrier()

# -- debug counters: every open/close and every view export/release ------------
# tests/conftest.py asserts after each test that they balance.
cdef Py_ssize_t _ports_opened = 0, _ports_closed = 0
cdef Py_ssize_t _views_exported = 0, _views_released = 0


def debug_counters():
    """Return {'ports_open': n, 'views_alive': n, ...} since the module loaded."""
    return {
        "ports_opened": _ports_opened, "ports_closed": _ports_closed,
        "ports_open": _ports_opened - _ports_closed,
        "views_exported": _views_exported, "views_released": _views_released,
        "views_alive": _views_exported - _views_released,
    }


# -- the one checker ----------------------------------------------------------
cdef int _raise(int err, str message, object name) except -1:
    """Raise OSError(err, message, name); Python picks the subclass from err."""
    raise OSError(err, message, str(name) if name is not None else None)


cdef inline int _neg_errno() noexcept nogil:
    return -errno if errno else -EINVAL


include "_region.pxi"


# -- the kernel-side state an emulated backend keeps per ring -------------------
cdef struct kring:
    uint32_t hwcur      # first slot not yet processed by the backend
    uint32_t hwtail     # what ring.tail must read


cdef int _tx_reclaim(netmap_ring *r, kring *k) noexcept nogil:
    """Validate the user's head/cur against the backend's view; -EINVAL if bad."""
    cdef uint32_t n = r.num_slots, head = r.head, cur = r.cur
    if head >= n or cur >= n:
        return -EINVAL
    # head must lie in [hwcur, hwtail] and cur in [head, hwtail], modulo n
    cdef uint32_t span = (k.hwtail + n - k.hwcur) % n
    if (head + n - k.hwcur) % n > span or (cur + n - head) % n > (k.hwtail + n - head) % n:
        return -EINVAL
    return 0


cdef int _rx_release(netmap_ring *r, kring *k) noexcept nogil:
    cdef uint32_t n = r.num_slots, head = r.head
    if head >= n or r.cur >= n:
        return -EINVAL
    # head must lie in [hwcur, hwtail]
    if (head + n - k.hwcur) % n > (k.hwtail + n - k.hwcur) % n:
        return -EINVAL
    k.hwcur = head
    return 0


cdef int _any_ready(nmpy_port *p, int events) noexcept nogil:
    """netmap's readiness rule: a ring is ready when cur != tail."""
    cdef int i, rev = 0
    cdef netmap_ring *r
    if events & POLLOUT:
        for i in range(p.first_tx_ring, p.last_tx_ring + 1):
            r = NETMAP_TXRING(p.nifp, i)
            if r.cur != r.tail:
                rev |= POLLOUT
                break
    if events & POLLIN:
        for i in range(p.first_rx_ring, p.last_rx_ring + 1):
            r = NETMAP_RXRING(p.nifp, i)
            if r.cur != r.tail:
                rev |= POLLIN
                break
    return rev


cdef int _emu_poll(nmpy_port *p, int events, int timeout_ms, pollfd *pfd,
                   nfds_t n) noexcept nogil:
    """poll() for an emulated backend, with netmap's semantics: pending TX is always
    pushed, RX synced when asked, readiness is cur != tail; only when nothing is
    ready does it sleep in the kernel, on the sockets the caller put in pfd[0..n)."""
    cdef int rc, rev, attempt
    cdef nfds_t k
    for attempt in range(2):
        rc = p.txsync(p)
        if rc == 0 and events & POLLIN:
            rc = p.rxsync(p)
        if rc:
            return rc
        rev = _any_ready(p, events)
        if rev or timeout_ms == 0 or attempt == 1 or n == 0:
            return rev
        for k in range(n):
            pfd[k].revents = 0
        if poll(pfd, n, timeout_ms) < 0:
            return -errno
        for k in range(n):
            if pfd[k].revents & (POLLERR | POLLNVAL):
                return -ENXIO
    return 0


cdef void _bind_range(nmpy_port *p, int nrings, int first, int count, bint tx,
                      bint rx) noexcept:
    """Bind rings [first, first+count) of an emulated port in the directions asked:
    the netmap_if hides every other ring (ring_ofs 0) and the range says which."""
    cdef netmap_if *nifp = p.nifp
    cdef int k
    for k in range(nrings):
        if not tx or k < first or k >= first + count:
            nifp.ring_ofs[k] = 0
        if not rx or k < first or k >= first + count:
            nifp.ring_ofs[nrings + k] = 0
    p.first_tx_ring = first if tx else nrings
    p.last_tx_ring = first + count - 1 if tx else nrings - 1
    p.first_rx_ring = first if rx else nrings
    p.last_rx_ring = first + count - 1 if rx else nrings - 1


include "_loop.pxi"
include "_packet.pxi"
include "_netmap.pxi"
include "_xdp.pxi"
include "_batch.pxi"
include "_wait.pxi"


# -- buffer views -------------------------------------------------------------
cdef class _View:
    """Exports one packet buffer; the Port counts live exports so close() can
    refuse to unmap memory that a memoryview still points at."""
    cdef Port port
    cdef char *ptr
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer *view, int flags):
        global _views_exported
        self.port._check_open()
        self.shape[0] = self.size
        self.strides[0] = 1
        view.buf = self.ptr
        view.obj = self
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = "B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL
        self.port._exports += 1
        _views_exported += 1

    def __releasebuffer__(self, Py_buffer *view):
        global _views_released
        self.port._exports -= 1
        _views_released += 1


cdef object _memview(Port port, char *ptr, Py_ssize_t size):
    cdef _View v = _View.__new__(_View)
    v.port, v.ptr, v.size = port, ptr, size
    return memoryview(v)


# -- Port ---------------------------------------------------------------------
cdef class Port:
    """An open port: rings, slots and buffers in netmap's layout on any backend.

    Made by ``netmap_py.open()``.  ``txsync()``, ``rxsync()`` and ``poll()``
    release the GIL.  ``close()`` is idempotent and raises BufferError while a
    buffer view is alive."""

    def __cinit__(self):
        memset(&self.c, 0, sizeof(nmpy_port))
        self.c.fd = -1
        self._pid = getpid()
        self._pins = {}

    cdef int pin(self, str who) except -1:
        self._check_open()
        self._pins[who] = self._pins.get(who, 0) + 1
        return 0

    cdef void unpin(self, str who) noexcept:
        cdef int n = self._pins.get(who, 0)
        if n <= 1:
            self._pins.pop(who, None)
        else:
            self._pins[who] = n - 1

    @property
    def in_use_by(self):
        """What runs over the port now (a running Worker, Bridge, sync...)."""
        return tuple(self._pins)

    def __dealloc__(self):
        if self._open:
            # a forgotten close(): say so (tests run with warnings as errors), then
            # release what the port holds all the same
            try:
                try:
                    name = "port " + self.spec.__str__()
                except Exception:       # at interpreter exit, or with no spec
                    name = "a port"
                _warnings.warn(name + " was never closed; call close() or use "
                               "'with netmap_py.open(...)'", ResourceWarning)
            finally:                    # as warnings-as-errors, reported as unraisable
                self._teardown()

    cdef int _check_open(self) except -1:
        if not self._open:
            raise ValueError(f"port {self.spec} is closed")
        return 0

    cdef void _teardown(self):
        global _ports_closed
        if self.c.destroy != NULL:
            self.c.destroy(&self.c)
            self.c.destroy = NULL
        if self._hold is not None:          # e.g. the XDP program, after the sockets
            self._hold.release()
            self._hold = None
        if self._region is not None:
            (<_Region>self._region)._release()
            self._region = None
        self.c.nifp = NULL
        self._open = False
        _ports_closed += 1

    def close(self):
        """Unregister and unmap.  Safe to call twice."""
        if not self._open:
            return
        if self._pins:
            raise BufferError(
                f"{self.spec} is in use by {', '.join(self._pins)}: stop it (cancel() or "
                "stop(), then join its thread) before close()")
        if self._exports:
            raise BufferError(
                f"{self._exports} buffer view(s) of {self.spec} are still alive; call "
                "release() on them (or drop them) before close()")
        self._teardown()
        self._tx = self._rx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return not self._open

    @property
    def name(self):
        """The interface (or VALE/pipe) name, as netmap_if.ni_name says."""
        self._check_open()
        return self.c.nifp.ni_name.decode(errors="replace")

    @property
    def num_tx_rings(self):
        self._check_open()
        return self.c.nifp.ni_tx_rings

    @property
    def num_rx_rings(self):
        self._check_open()
        return self.c.nifp.ni_rx_rings

    @property
    def num_host_tx_rings(self):
        self._check_open()
        return self.c.nifp.ni_host_tx_rings

    @property
    def num_host_rx_rings(self):
        self._check_open()
        return self.c.nifp.ni_host_rx_rings

    @property
    def tx_ring_range(self):
        """Bound TX ring indices as a range (empty when none is bound)."""
        return range(self.c.first_tx_ring, self.c.last_tx_ring + 1)

    @property
    def rx_ring_range(self):
        return range(self.c.first_rx_ring, self.c.last_rx_ring + 1)

    @property
    def tx_rings(self):
        """The bound TX rings, as a tuple of Ring."""
        self._check_open()
        if self._tx is None:
            self._tx = tuple(_ring(self, i, True) for i in self.tx_ring_range)
        return self._tx

    @property
    def rx_rings(self):
        self._check_open()
        if self._rx is None:
            self._rx = tuple(_ring(self, i, False) for i in self.rx_ring_range)
        return self._rx

    @property
    def max_frags(self):
        """Slots one packet may span on TX (NS_MOREFRAG chains, pkt-gen's -F): 1 on
        AF_XDP, which hands the kernel one buffer a packet; 63 elsewhere."""
        return 1 if self.backend == "xdp" else 63

    @property
    def copied_packets(self):
        """Packets the backend had to copy between our buffers and the kernel's."""
        return self.c.copied_pkts

    @property
    def tx_dropped(self):
        """Frames the backend could not hand over (too long for the TX frame, or
        no room on the other side of a loop port)."""
        return self.c.tx_dropped

    @property
    def rx_truncated(self):
        return self.c.rx_truncated

    @property
    def tx_invalid(self):
        """TX slots the backend refused: a buffer index outside the region, or a len
        over the buffer (netmap's kernel refuses such slots too)."""
        return self.c.tx_invalid

    def fileno(self):
        """A descriptor that poll/select can wait on (the netmap fd, or the first
        socket of an emulated backend; prefer Port.poll(), which covers all)."""
        self._check_open()
        return self.c.fd

    cdef int _sync(self, nmpy_sync_fn fn, str who) except -1:
        """One sync without the GIL, the port pinned meanwhile."""
        cdef int rc
        self.pin(who)
        try:
            with nogil:
                rc = fn(&self.c)
        finally:
            self.unpin(who)
        if rc < 0:
            _raise(-rc, f"{who} failed", self.spec)
        return 0

    def txsync(self):
        """Push TX slots up to head, reclaim completed ones (NIOCTXSYNC)."""
        self._sync(self.c.txsync, "txsync()")

    def rxsync(self):
        """Release RX slots before head, expose what arrived (NIOCRXSYNC)."""
        self._sync(self.c.rxsync, "rxsync()")

    def poll(self, int events=POLLIN, int timeout_ms=-1):
        """Sync and wait, as poll() on a netmap fd: returns the revents mask
        (POLLIN: an RX ring has cur != tail; POLLOUT: a TX ring has room)."""
        cdef int rc
        self.pin("poll()")
        try:
            while True:
                with nogil:
                    rc = self.c.poll(&self.c, events, timeout_ms)
                if rc == -EINTR:
                    PyErr_CheckSignals()
                    continue
                break
        finally:
            self.unpin("poll()")
        if rc < 0:
            _raise(-rc, "poll failed", self.spec)
        return rc

    def send(self, frames, *, bint sync=True):
        """Copy frames (a sequence of bytes-like objects) into the bound TX rings, from
        each ring's head, and txsync once; returns how many were queued (fewer than
        given when the rings are full).  A frame that is empty or over a buffer
        raises ValueError and queues nothing.  sync=False leaves the sync to you."""
        return _send(self, frames, sync)

    def recv(self, int max=512, int timeout_ms=0):
        """Up to max received frames as zero-copy memoryviews, valid until the next
        recv() (which gives their slots back to the kernel); [] when nothing came
        within timeout_ms (0: do not wait, -1: wait for ever).  The views count like
        every other: close() refuses while one is alive.  Do not move the RX rings'
        head yourself between recv() calls."""
        return _recv(self, max, timeout_ms)

    def kernel_drops(self):
        """Frames the backend's kernel side dropped on receive since the port opened:
        AF_PACKET {"ring_full": n} (its ring was full), AF_XDP {"no_buffer": n,
        "ring_full": n}; {} where the backend counts none (netmap, loop) or no RX ring
        is bound.  After close(): the last figures read."""
        if self._kdrops is None:
            self._kdrops = {}
        if not self._open or self.c.last_rx_ring < self.c.first_rx_ring:
            return dict(self._kdrops)
        if self.backend == "packet":            # the kernel resets these on each read
            self._kdrops["ring_full"] = self._kdrops.get("ring_full", 0) + packet_stats(self)[1]
        elif self.backend == "xdp":
            st = xdp_stats(self)
            self._kdrops.update(no_buffer=st["rx_dropped"], ring_full=st["rx_ring_full"])
        return dict(self._kdrops)

    def vnet_hdr_len(self):
        """The virtio-net header length the port puts before each frame (netmap ports
        that have one, PORT_HDR_GET); 0 elsewhere."""
        self._check_open()
        if self.backend != "netmap":
            return 0
        return netmap_port_hdr(self)

    def buffer_array(self):
        """The buffer pool as a NumPy uint8 array of shape (buffers, buffer size),
        zero-copy: row buf_idx is that buffer (NumPy needed)."""
        return _buffer_array(self)

    def __repr__(self):
        state = "closed" if not self._open else (
            f"tx {list(self.tx_ring_range)} rx {list(self.rx_ring_range)}")
        return f"<netmap_py.Port {self.spec} backend={self.backend} {state}>"


cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


cdef Port _new_port(object spec, str backend, str reason):
    cdef Port p = Port.__new__(Port)
    p.spec, p.backend, p.backend_reason = spec, backend, reason
    return p


cdef void _opened(Port p, _Region region):
    global _ports_opened
    p._region = region
    p.mem_id = region.mem_id
    p.c.mem = region.mem
    p.c.memsize = region.size
    p._open = True
    _ports_opened += 1


def _set_buf_idx_unchecked(Slot slot, uint32_t v):
    """Write buf_idx without the check (what C code can do): for tests of the checks
    the backends and loops make themselves."""
    slot._get().buf_idx = v


def same_region(Port a, Port b):
    """True when buffers can be swapped between the two ports (one region)."""
    return a._region is not None and a._region is b._region


include "_ring.pxi"
