# The kernel engine (--engine kernel), included by _engine.pyx.
#
# KernelProgram owns the generated XDP program and its state map; ktx_loop asks the
# kernel to run it over the template with live frames, `repeat` packets per system
# call, sized so that -n, -R and --duration hold exactly and Ctrl-C is seen within
# a few milliseconds.  The kernel sends; this thread only counts and paces.

import os

from libc.errno cimport errno, EINVAL, EPERM
from posix.mman cimport mmap, munmap, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_FAILED
from posix.unistd cimport close

cdef extern from "<signal.h>" nogil:
    ctypedef struct sigset_t:
        pass
    int sigfillset(sigset_t *s)
    int pthread_sigmask(int how, const sigset_t *s, sigset_t *old)
    int SIG_BLOCK, SIG_SETMASK

from netmap_py.bpf cimport nmpy_xdp_attach


cdef extern from "_kgen.h" nogil:
    int kgen_map_create(uint32_t value_size)
    int kgen_prog_load(const void *insns, uint32_t n, char *log, uint32_t log_size)
    int kgen_run_live(int prog_fd, const void *frame, uint32_t length, uint32_t repeat,
                      uint32_t batch)
    int kgen_run_once(int prog_fd, const void *frame, uint32_t length, void *out,
                      uint32_t out_size, uint32_t *retval)

cdef enum:
    KGEN_MAX_REPEAT = 1 << 22
# how long one system call should take: short when the program is parked (a call
# then costs microseconds), long enough to hide two RCU grace periods when not
KGEN_CALL_PARKED_NS = 2000000
KGEN_CALL_UNPARKED_NS = 250000000


def kgen_error(int err):
    """What a failed BPF_PROG_RUN with live frames means, with the fix."""
    from netmap_py.advice import advice
    return advice("kernel", err)


cdef class KernelProgram:
    """A generated XDP program (pktgen_nm.kprog) loaded in the kernel, with its map."""
    cdef public int prog_fd, map_fd, link_fd
    cdef uint64_t *state
    cdef size_t maplen
    cdef readonly bytes frame
    cdef readonly int ifindex, fixed_len
    cdef readonly int instructions
    cdef readonly str park_error
    cdef int _running                   # Workers in ktx_loop over state and prog_fd

    def __cinit__(self):
        self.prog_fd = self.map_fd = self.link_fd = -1

    cdef int pin(self) except -1:
        if self.prog_fd < 0:
            raise ValueError("the kernel program is closed")
        self._running += 1
        return 0

    cdef void unpin(self) noexcept:
        self._running -= 1

    def __init__(self, frame, int ifindex, *, randomize=(False, False), bint seq=False,
                 bint park=False):
        """park: also attach the program (generic XDP, through a BPF link) to ifindex for
        as long as this object lives.  It passes every packet it is given there, but
        being attached keeps it in the kernel's XDP dispatcher, so that BPF_PROG_RUN
        skips two RCU grace periods (about 25 ms) per call."""
        from . import kprog
        cdef char log[16384]
        cdef bytes code
        cdef int rc, native = 0
        size = kprog.state_size(frame)
        rc = kgen_map_create(size)
        if rc < 0:
            raise OSError(-rc, f"cannot create the kernel engine's map: {os.strerror(-rc)}")
        self.map_fd = rc
        self.maplen = (size + 4095) & ~4095
        cdef void *m = mmap(NULL, self.maplen, PROT_READ | PROT_WRITE, MAP_SHARED, self.map_fd, 0)
        if m == MAP_FAILED:
            err = errno
            self.close()
            raise OSError(err, "cannot map the kernel engine's state")
        self.state = <uint64_t *>m
        gen = kprog.build(frame, ifindex=ifindex, map_fd=self.map_fd, randomize=randomize, seq=seq)
        memcpy(self.state, <char *>gen.map_value, len(gen.map_value))
        code = gen.code
        log[0] = 0
        rc = kgen_prog_load(<char *>code, len(code) // 8, log, sizeof(log))
        if rc < 0:
            self.close()
            detail = log.decode("utf-8", "replace").strip().splitlines()
            last = detail[len(detail) - 1] if detail else os.strerror(-rc)
            raise OSError(-rc, "the kernel rejected the generated XDP program: " + last)
        self.prog_fd = rc
        self.frame = gen.frame
        self.fixed_len = gen.fixed_len
        self.ifindex = ifindex
        self.instructions = len(code) // 8
        self.park_error = None
        if park:                        # generic mode, as the docstring says
            rc = nmpy_xdp_attach(self.prog_fd, ifindex, 0, &native)
            if rc < 0:
                self.park_error = os.strerror(-rc)
            else:
                self.link_fd = rc

    @property
    def parked(self):
        return self.link_fd >= 0

    def close(self):
        if self._running:
            raise BufferError(f"the kernel program is in use by {self._running} running "
                              "Worker(s): cancel() and join them before close()")
        self._close()

    cdef void _close(self) noexcept:
        if self.state != NULL:
            munmap(self.state, self.maplen)
            self.state = NULL
        if self.link_fd >= 0:
            close(self.link_fd)
            self.link_fd = -1
        if self.prog_fd >= 0:
            close(self.prog_fd)
            self.prog_fd = -1
        if self.map_fd >= 0:
            close(self.map_fd)
            self.map_fd = -1

    def __dealloc__(self):
        self._close()

    @property
    def index(self):
        """Packets the program has generated (its odometer)."""
        return self.state[0] if self.state != NULL else 0

    @property
    def bytes_sent(self):
        """Bytes of the packets generated, counted by the program when lengths vary."""
        return self.state[1] if self.state != NULL else 0

    def run_once(self, data=None):
        """Run the program once over data (default the template) without sending:
        (verdict, the rewritten frame).  For tests."""
        cdef bytes d = bytes(self.frame if data is None else data)
        cdef char out[4096]
        cdef uint32_t verdict = 0
        if self.prog_fd < 0:
            raise ValueError("the program is closed")
        rc = kgen_run_once(self.prog_fd, <char *>d, len(d), out, sizeof(out), &verdict)
        if rc < 0:
            raise OSError(-rc, f"BPF_PROG_RUN: {os.strerror(-rc)}")
        return verdict, out[:rc]

    def send(self, uint32_t count, uint32_t batch=64):
        """Transmit count packets now (live frames), from the calling thread."""
        cdef int rc
        cdef const char *data = self.frame
        cdef uint32_t length = len(self.frame)
        self.pin()
        try:
            with nogil:
                rc = kgen_run_live(self.prog_fd, data, length, count, batch)
        finally:
            self.unpin()
        if rc < 0:
            raise OSError(-rc, kgen_error(-rc))


cdef void ktx_loop(pg_ctx *t) noexcept nogil:
    cdef sigset_t all_signals, before
    cdef uint64_t call_ns = t.kcall_ns
    cdef int rc
    # a signal must not cut a system call short: its packets would go uncounted; the
    # thread's mask is put back when the loop ends (a thread of the caller's)
    sigfillset(&all_signals)
    rc = pthread_sigmask(SIG_BLOCK, &all_signals, &before)
    if rc:
        t.error = rc
        t.end_ns = t.start_ns = now_ns()
        return
    _ktx_run(t, call_ns)
    pthread_sigmask(SIG_SETMASK, &before, NULL)


cdef void _ktx_run(pg_ctx *t, uint64_t call_ns) noexcept nogil:
    cdef uint64_t now, budget, chunk = 256, t0, dt, index
    cdef int rc
    # paced: calls of at most one kernel batch, so that the rate holds at fine grain
    # and no burst overflows the receiver (rate_budget caps at t.burst)
    t.burst = t.kbatch
    t.start_ns = now_ns()
    t.started = 1
    while not t.cancel:
        now = now_ns()
        if run_over(t, now, t.start_ns):
            break
        budget = chunk
        if t.rate > 0:
            budget = rate_budget(t, now, t.pkts)
            if budget == 0:
                continue
        if t.limit and t.limit - t.pkts < budget:
            budget = t.limit - t.pkts
        if t.duration_ns and t.rate <= 0:
            # do not run far past the end
            dt = t.start_ns + t.duration_ns - now
            if dt < call_ns:
                budget = budget * dt // call_ns + 1
        t0 = now_ns()
        rc = kgen_run_live(t.kprog_fd, t.kframe, t.klen, <uint32_t>budget, t.kbatch)
        if rc < 0:
            t.error = -rc
            break
        dt = now_ns() - t0
        t.pkts += budget
        t.events += 1
        if t.max_len:
            t.bytes = t.pkts * t.max_len
        else:                           # the program counts bytes for all threads
            index = t.kstate[0]
            t.bytes = <uint64_t>(<double>t.kstate[1] * t.pkts / index) if index else 0
        # size the next call to take about call_ns
        if budget == chunk and dt:
            chunk = chunk * call_ns // dt
            if chunk < 64:
                chunk = 64
            elif chunk > KGEN_MAX_REPEAT:
                chunk = KGEN_MAX_REPEAT
    t.end_ns = now_ns()


cdef class XdpAttachment:
    """An assembled XDP program attached to an interface through a BPF link (native
    mode, else generic), detached by close() or when the process ends.  The lab and
    the benchmarks use it for a sink that drops everything (pktgen_nm.bpf.drop_program)."""
    cdef public int prog_fd, link_fd
    cdef readonly str mode

    def __cinit__(self):
        self.prog_fd = self.link_fd = -1

    def __init__(self, bytes code, int ifindex):
        cdef char log[4096]
        log[0] = 0
        rc = kgen_prog_load(<char *>code, len(code) // 8, log, sizeof(log))
        if rc < 0:
            raise OSError(-rc, "the kernel rejected the XDP program: "
                          + (log.decode("utf-8", "replace").strip() or os.strerror(-rc)))
        self.prog_fd = rc
        cdef int native = 0
        rc = nmpy_xdp_attach(self.prog_fd, ifindex, 1, &native)
        if rc >= 0:
            self.link_fd, self.mode = rc, "native" if native else "generic"
            return
        self.close()
        raise OSError(-rc, f"cannot attach the XDP program: {os.strerror(-rc)}")

    def close(self):
        # each fd by name: a loop over the two let Cython type its variable as a truth
        # value, and close(1) shut stdout
        if self.link_fd >= 0:
            close(self.link_fd)
        if self.prog_fd >= 0:
            close(self.prog_fd)
        self.link_fd = self.prog_fd = -1

    def __dealloc__(self):
        self.close()


cdef class KernelBridge:
    """nm-bridge in the kernel: an XDP program on each of two interfaces redirecting
    every frame to the other (pktgen_nm.kbridge writes them; XdpAttachment attaches
    each), with per-direction packet and byte counters in one mmapped map.  Closing
    detaches both."""
    cdef int map_fd
    cdef list ends                      # the XdpAttachment of each direction
    cdef uint64_t *state
    cdef size_t maplen

    def __cinit__(self):
        self.map_fd = -1
        self.ends = []

    def __init__(self, int ifindex_a, int ifindex_b):
        from . import kbridge
        cdef int rc, d
        rc = kgen_map_create(kbridge.STATE_SIZE)
        if rc < 0:
            raise OSError(-rc, f"cannot create the bridge's map: {os.strerror(-rc)}")
        self.map_fd = rc
        self.maplen = 4096
        cdef void *m = mmap(NULL, self.maplen, PROT_READ | PROT_WRITE, MAP_SHARED, self.map_fd, 0)
        if m == MAP_FAILED:
            err = errno
            self.close()
            raise OSError(err, "cannot map the bridge's counters")
        self.state = <uint64_t *>m
        ifindex = (ifindex_a, ifindex_b)
        try:
            for d in range(2):          # direction d: frames in on ifindex[d], out of the other
                self.ends.append(XdpAttachment(kbridge.program(self.map_fd, d, ifindex[1 - d]),
                                               ifindex[d]))
        except OSError:
            self.close()
            raise

    @property
    def native(self):
        """(a, b): attached in driver mode."""
        return tuple((<XdpAttachment>e).mode == "native" for e in self.ends)

    def counters(self):
        """(packets, bytes) per direction, as the programs counted them."""
        if self.state == NULL:
            raise ValueError("the kernel bridge is closed")
        return tuple((self.state[2 * d], self.state[2 * d + 1]) for d in range(2))

    def close(self):
        for e in self.ends:
            e.close()
        self.ends = []
        if self.state != NULL:
            munmap(self.state, self.maplen)
            self.state = NULL
        if self.map_fd >= 0:
            close(self.map_fd)
            self.map_fd = -1

    def __dealloc__(self):
        self.close()
