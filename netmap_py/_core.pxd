# cython: language_level=3
"""The C side of a Port, for cimport by pktgen_nm and users' own Cython code.

Every backend fills the same struct: a netmap_if in memory laid out as netmap lays
it out, the bound ring ranges, and three functions (txsync, rxsync, poll) that do
what NIOCTXSYNC, NIOCRXSYNC and poll() do on a netmap file descriptor.  A loop
written over ``nmpy_port`` and ``netmap_ring`` runs unchanged on every backend.
"""
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from netmap_py.linux cimport POLLERR, POLLIN, POLLNVAL, POLLOUT, poll, pollfd
from netmap_py.netmap cimport netmap_if, netmap_ring, netmap_slot, NETMAP_TXRING, NETMAP_RXRING

ctypedef int (*nmpy_sync_fn)(nmpy_port *p) noexcept nogil
ctypedef int (*nmpy_poll_fn)(nmpy_port *p, int events, int timeout_ms) noexcept nogil
ctypedef void (*nmpy_close_fn)(nmpy_port *p) noexcept nogil
# the descriptors a sleep for `events` watches: up to `room` pollfds written, their
# number returned (0: the port has nothing to sleep on, as loop: has not)
ctypedef int (*nmpy_fds_fn)(nmpy_port *p, int events, pollfd *out, int room) noexcept nogil

cdef struct nmpy_port:
    int fd                      # pollable descriptor (netmap fd or first socket)
    netmap_if *nifp             # the port's netmap_if
    char *mem                   # base of the memory region
    size_t memsize              # its size
    int first_tx_ring           # bound TX rings: [first_tx_ring, last_tx_ring]
    int last_tx_ring
    int first_rx_ring           # bound RX rings: [first_rx_ring, last_rx_ring]
    int last_rx_ring
    nmpy_sync_fn txsync         # 0 or -errno
    nmpy_sync_fn rxsync         # 0 or -errno
    nmpy_poll_fn poll           # revents >= 0, or -errno
    nmpy_close_fn destroy       # frees backend state (not the region)
    void *priv                  # backend state
    uint64_t copied_pkts        # packets the backend had to copy (0 = zero-copy)
    uint64_t tx_dropped         # frames the backend could not hand over
    uint64_t rx_truncated       # frames longer than a buffer, cut
    # TX slots refused: a buffer index outside the region, or len over the buffer
    uint64_t tx_invalid
    # bytes a buffer holds when less than nr_buf_size (the stride): AF_XDP keeps 256
    # bytes of headroom in each chunk
    uint32_t buf_cap
    nmpy_fds_fn fds             # what nmpy_wait() sleeps on for this port

cdef enum:
    NMPY_WAIT_FDS = 512         # descriptors one nmpy_wait() sleeps on, over its ports


cdef extern from "<errno.h>" nogil:
    int _wait_errno "errno"

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec *ts)
    int CLOCK_MONOTONIC


cdef inline uint32_t nmpy_buf_cap(nmpy_port *p, const netmap_ring *r) noexcept nogil:
    """Bytes one buffer of ring r holds."""
    return p.buf_cap if p.buf_cap and p.buf_cap < r.nr_buf_size else r.nr_buf_size


cdef inline char *nmpy_buf(nmpy_port *p, const netmap_ring *r, uint32_t idx,
                           uint32_t length) noexcept nogil:
    """Buffer idx of ring r when it is a real buffer of p's region (not 0 or 1, which
    netmap reserves) and ``length`` bytes fit it; NULL otherwise.  Every path that
    turns a user's buffer index into a pointer goes through here."""
    if idx < 2 or length > nmpy_buf_cap(p, r):
        return NULL
    cdef int64_t off = (<const char *>r - p.mem) + r.buf_ofs + <int64_t>idx * r.nr_buf_size
    if off < 0 or <uint64_t>off + nmpy_buf_cap(p, r) > p.memsize:
        return NULL
    return p.mem + off


cdef inline int nmpy_check_slots(nmpy_port *p) noexcept nogil:
    """0 when every slot of every bound ring names a buffer of the region, else
    -EINVAL: what a C loop checks once before it trusts the slots (their len is the
    loop's to write, and the backend checks it at txsync)."""
    cdef int i
    cdef uint32_t j
    cdef netmap_ring *r
    for i in range(p.first_tx_ring, p.last_tx_ring + 1):
        r = NETMAP_TXRING(p.nifp, i)
        for j in range(r.num_slots):
            if nmpy_buf(p, r, r.slot[j].buf_idx, 0) == NULL:
                return -22
    for i in range(p.first_rx_ring, p.last_rx_ring + 1):
        r = NETMAP_RXRING(p.nifp, i)
        for j in range(r.num_slots):
            if nmpy_buf(p, r, r.slot[j].buf_idx, 0) == NULL:
                return -22
    return 0


cdef inline int64_t nmpy_now_ms() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000 + ts.tv_nsec // 1000000


cdef inline int nmpy_ready(nmpy_port **ports, int n, const int *events,
                           int *revents) noexcept nogil:
    """Sync each port and look, as its poll() with no wait: how many are ready, or
    -errno."""
    cdef int k, rc, ready = 0
    for k in range(n):
        rc = ports[k].poll(ports[k], events[k], 0)
        if rc < 0:
            return rc
        revents[k] = rc
        ready += 1 if rc else 0
    return ready


cdef inline int nmpy_wait(nmpy_port **ports, int n, const int *events, int *revents,
                          int timeout_ms) noexcept nogil:
    """One wait over several ports of any backends: each is synced and looked at as
    its poll() does (revents[k] set); only while none is ready does it sleep, in one
    poll() over all their descriptors merged.  Returns how many ports are ready (0
    once timeout_ms passed; -1: no limit), or -errno (-EINTR when a signal came).  A port without descriptors
    (loop:) makes it look again every 1 ms, since nothing outside the process wakes it."""
    cdef pollfd pfd[NMPY_WAIT_FDS]
    cdef int k, rc, nf, step
    cdef bint blind
    cdef int64_t deadline = nmpy_now_ms() + timeout_ms, left
    while True:
        rc = nmpy_ready(ports, n, events, revents)
        if rc != 0 or timeout_ms == 0:
            return rc
        left = -1 if timeout_ms < 0 else deadline - nmpy_now_ms()
        if timeout_ms > 0 and left <= 0:
            return 0
        nf, blind = 0, False
        for k in range(n):
            rc = 0 if ports[k].fds == NULL else ports[k].fds(ports[k], events[k], &pfd[nf],
                                                             NMPY_WAIT_FDS - nf)
            blind = blind or rc == 0
            nf += rc
        step = <int>left if left < 0x7fffffff else 0x7fffffff
        if blind and (step < 0 or step > 1):
            step = 1
        for k in range(nf):
            pfd[k].revents = 0
        if poll(pfd, nf, step) < 0:
            return -_wait_errno        # -EINTR on a signal: the caller decides
        for k in range(nf):
            if pfd[k].revents & (POLLERR | POLLNVAL):
                return -6      # ENXIO: a descriptor went away under the wait


cdef inline netmap_ring *nmpy_txring(nmpy_port *p, uint32_t i) noexcept nogil:
    return NETMAP_TXRING(p.nifp, i)


cdef inline netmap_ring *nmpy_rxring(nmpy_port *p, uint32_t i) noexcept nogil:
    return NETMAP_RXRING(p.nifp, i)


cdef class Port:
    cdef nmpy_port c
    cdef readonly object spec           # PortSpec
    cdef readonly str backend           # "netmap", "xdp", "packet", "loop"
    cdef readonly str backend_reason    # why this backend was chosen
    cdef readonly int mem_id            # ports with the same id can swap buffers
    cdef readonly bint zero_copy        # the backend moves buffers, not bytes
    cdef int _exports                   # live buffer views
    cdef int _pid                       # process that opened the port
    cdef object _region                 # keeps a shared mapping alive
    cdef object _tx, _rx                # cached Ring tuples
    cdef object _hold                   # backend objects that live as long as the port
    cdef bint _open
    cdef dict _pins                     # what runs over the port now: {who: count}
    cdef object _recv_heads             # recv(): [(ring, head)] to give back next time
    cdef dict _kdrops                   # kernel_drops() so far (AF_PACKET resets on read)
    cdef int _check_open(self) except -1
    cdef void _teardown(self)
    # whatever runs over the port without the GIL (a Worker, a Bridge, a sync) pins
    # it first and unpins after: close() refuses while it is pinned
    cdef int pin(self, str who) except -1
    cdef void unpin(self, str who) noexcept
    cdef int _sync(self, nmpy_sync_fn fn, str who) except -1


cdef class Ring:
    cdef netmap_ring *r
    cdef readonly Port port
    cdef readonly bint is_tx
    cdef readonly int index
    cdef netmap_ring *_get(self) except NULL
    cdef char *_buf_ptr(self, uint32_t buf_idx, size_t length) except NULL


cdef class Slot:
    cdef readonly Ring ring
    cdef readonly int index
    cdef netmap_slot *_get(self) except NULL
