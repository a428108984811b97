# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A two-port bridge: every frame received on one port is sent on the other, by
swapping buffer indices when both ports live in one memory region (netmap's
zero-copy bridge), by copying otherwise.  The loop runs without the GIL.

Hooks for looking at packets:
  * C level, per packet: ``Bridge.set_c_filter(fn, arg)`` from Cython, where
    ``fn(buf, len, arg)`` returns 1 to forward, 0 to drop (nmpy_filter_fn in
    _bridge.pxd).  ``drop_udp_port`` below is one, used by ``nm-bridge --drop-udp-port``.
  * Python level, per batch: ``Bridge(..., batch_callback=f)``: ``f(frames)`` gets a
    list of memoryviews (one batch of one direction) and returns None (forward all)
    or a sequence of booleans.  The loop then holds the GIL between batches.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memset

from netmap_py._core cimport Port, nmpy_check_slots, nmpy_port, nmpy_wait
from netmap_py.netmap cimport (
    netmap_ring, netmap_slot, nm_ring_next, nm_ring_space, nm_move_slot, NETMAP_BUF,
    NETMAP_TXRING, NETMAP_RXRING,
)

from netmap_py._core import same_region

from netmap_py.linux cimport EINTR, POLLIN, POLLOUT


cdef int udp_port_filter(const char *buf, uint32_t L, void *arg) noexcept nogil:
    """Drop IPv4/UDP frames to or from one port (arg points at it); forward the rest."""
    cdef const uint8_t *u = <const uint8_t *>buf
    cdef uint16_t port = (<uint16_t *>arg)[0], sp, dp
    cdef uint32_t ihl
    if L < 34 or u[12] != 0x08 or u[13] != 0x00 or u[23] != 17:
        return 1
    ihl = (u[14] & 0x0f) * 4
    if L < 14 + ihl + 8:
        return 1
    sp = (u[14 + ihl] << 8) | u[15 + ihl]
    dp = (u[16 + ihl] << 8) | u[17 + ihl]
    return 0 if sp == port or dp == port else 1


cdef uint32_t move(br_ctx *c, int dir, netmap_ring *rx, netmap_ring *tx, uint32_t limit,
                   const uint8_t *keep) noexcept nogil:
    """Forward up to limit slots rx -> tx; publish both rings once."""
    cdef uint32_t n = nm_ring_space(rx), room = nm_ring_space(tx), k, L, sent = 0
    cdef uint32_t h = rx.head, t = tx.head
    cdef bint drop
    cdef netmap_slot *rs
    cdef netmap_slot *ts
    if n > limit:
        n = limit
    for k in range(n):
        rs = &rx.slot[h]
        L = rs.len
        drop = keep != NULL and not keep[k]
        if not drop and c.filter != NULL:
            drop = not c.filter(NETMAP_BUF(rx, rs.buf_idx), L, c.filter_arg)
        if drop:
            c.d[dir].dropped += 1
            h = nm_ring_next(rx, h)
            continue
        if sent == room:
            break                           # the other side is full: keep the rest
        ts = &tx.slot[t]
        nm_move_slot(rx, rs, tx, ts, c.zc)
        c.d[dir].bytes += L
        sent += 1
        t = nm_ring_next(tx, t)
        h = nm_ring_next(rx, h)
    rx.head = rx.cur = h
    tx.head = tx.cur = t
    if sent:
        c.d[dir].pkts += sent
        c.d[dir].batches += 1
    return sent


cdef int pass_once(br_ctx *c, int dir) noexcept nogil:
    """One batch per RX ring of one direction (ring i -> TX ring i, modulo)."""
    cdef nmpy_port *s = c.p[dir]
    cdef nmpy_port *d = c.p[1 - dir]
    cdef int i, ntx = d.last_tx_ring - d.first_tx_ring + 1, moved = 0
    if ntx <= 0 or s.last_rx_ring < s.first_rx_ring:
        return 0
    for i in range(s.first_rx_ring, s.last_rx_ring + 1):
        moved += move(c, dir, NETMAP_RXRING(s.nifp, i),
                      NETMAP_TXRING(d.nifp, d.first_tx_ring + (i - s.first_rx_ring) % ntx),
                      c.burst, NULL)
    return moved


cdef int sync_both(br_ctx *c) noexcept nogil:
    cdef int k, rc
    for k in range(2):
        rc = c.p[k].txsync(c.p[k])
        if rc == 0:
            rc = c.p[k].rxsync(c.p[k])
        if rc < 0 and rc != -EINTR:
            return rc
    return 0


cdef bint rx_pending(nmpy_port *s) noexcept nogil:
    cdef int i
    for i in range(s.first_rx_ring, s.last_rx_ring + 1):
        if nm_ring_space(NETMAP_RXRING(s.nifp, i)):
            return True
    return False


cdef int wait_both(br_ctx *c, int timeout_ms) noexcept nogil:
    """Sleep until either direction can move (or the timeout), in one wait over both
    ports' descriptors: a direction whose source still holds frames waits for room on
    its destination, the others for frames.  A failure other than a signal ends the
    bridge with its errno (-1)."""
    cdef int ev[2]
    cdef int rev[2]
    cdef int d, rc
    ev[0] = ev[1] = 0
    for d in range(2):
        if rx_pending(c.p[d]):
            ev[1 - d] |= POLLOUT
        else:
            ev[d] |= POLLIN
    rc = nmpy_wait(c.p, 2, ev, rev, timeout_ms)
    if rc < 0 and rc != -EINTR:
        c.error = -rc
        return -1
    return 0


cdef void bridge_loop(br_ctx *c, int timeout_ms) noexcept nogil:
    cdef int moved, rc
    while not c.cancel:
        rc = sync_both(c)
        if rc:
            c.error = -rc
            return
        moved = pass_once(c, 0) + pass_once(c, 1)
        if moved == 0 and wait_both(c, timeout_ms) < 0:
            return


cdef class Bridge:
    """Forward between two open ports until stop(); counters per direction."""

    def __cinit__(self):
        memset(&self.c, 0, sizeof(br_ctx))

    def __init__(self, Port a, Port b, *, uint32_t burst=512, batch_callback=None,
                 copy=False):
        if a.closed or b.closed:
            raise ValueError("both ports must be open")
        self.a, self.b = a, b
        self.c.p[0], self.c.p[1] = &a.c, &b.c
        self.c.burst = burst if burst else 1
        self.zero_copy = same_region(a, b) and not copy
        self.c.zc = self.zero_copy
        self.callback = batch_callback

    cdef void set_c_filter(self, nmpy_filter_fn fn, void *arg):
        self.c.filter, self.c.filter_arg = fn, arg

    def drop_udp_port(self, int port):
        """Install the built-in C filter: drop UDP to or from ``port``."""
        if not 0 <= port <= 65535:
            raise ValueError(f"UDP port {port} is outside 0..65535")
        self._udp_port = port
        self.set_c_filter(udp_port_filter, &self._udp_port)

    def run(self, int timeout_ms=100):
        """Forward until stop() (from another thread) or an error."""
        self.a.pin("a running Bridge")
        try:
            self.b.pin("a running Bridge")
        except BaseException:
            self.a.unpin("a running Bridge")
            raise
        try:
            for port in (self.a, self.b):
                if nmpy_check_slots(&(<Port>port).c):
                    raise ValueError(f"a slot of {port.spec} names no buffer of its region")
            if self.callback is None:
                with nogil:
                    bridge_loop(&self.c, timeout_ms)
            else:
                self._run_with_callback(timeout_ms)
        finally:
            self.a.unpin("a running Bridge")
            self.b.unpin("a running Bridge")
        if self.c.error:
            raise OSError(self.c.error, "the bridge's port failed", f"{self.a.spec} <-> {self.b.spec}")

    cdef _run_with_callback(self, int timeout_ms):
        cdef int k, d, moved, rc
        cdef nmpy_port *s
        cdef nmpy_port *dst
        cdef netmap_ring *rx
        cdef uint32_t n, j, h
        cdef bytearray keep
        cdef uint8_t[::1] kv
        while not self.c.cancel:
            with nogil:
                rc = sync_both(&self.c)
            if rc:
                self.c.error = -rc
                return
            moved = 0
            for d in range(2):
                s, dst = self.c.p[d], self.c.p[1 - d]
                if s.last_rx_ring < s.first_rx_ring or dst.last_tx_ring < dst.first_tx_ring:
                    continue
                for k in range(s.first_rx_ring, s.last_rx_ring + 1):
                    rx = NETMAP_RXRING(s.nifp, k)
                    n = nm_ring_space(rx)
                    if n > self.c.burst:
                        n = self.c.burst
                    if n == 0:
                        continue
                    port = self.a if d == 0 else self.b
                    ring = port.rx_rings[k - s.first_rx_ring]
                    views = []
                    h = rx.head
                    for _ in range(n):
                        views.append(ring.slot(h).data)
                        h = nm_ring_next(rx, h)
                    try:
                        verdict = self.callback(views)
                    finally:
                        for v in views:
                            v.release()
                    if verdict is None:
                        keep = bytearray(b"\x01" * n)
                    else:
                        keep = bytearray(n)
                        for j, ok in enumerate(verdict):
                            if j < n:
                                keep[j] = 1 if ok else 0
                    kv = keep
                    moved += move(&self.c, d, rx, NETMAP_TXRING(
                        dst.nifp, dst.first_tx_ring + (k - s.first_rx_ring)
                        % (dst.last_tx_ring - dst.first_tx_ring + 1)), n, &kv[0])
            if moved == 0:
                with nogil:
                    rc = wait_both(&self.c, timeout_ms)
                if rc < 0:
                    return

    def stop(self):
        self.c.cancel = 1

    def counters(self):
        """{'a_to_b': {...}, 'b_to_a': {...}} with pkts, bytes, batches, dropped."""
        out = {}
        for k, name in ((0, "a_to_b"), (1, "b_to_a")):
            out[name] = {"pkts": self.c.d[k].pkts, "bytes": self.c.d[k].bytes,
                         "batches": self.c.d[k].batches, "dropped": self.c.d[k].dropped}
        return out
