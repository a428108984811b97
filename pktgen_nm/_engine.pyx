# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""pktgen-nm's per-packet loops: one ``noexcept nogil`` function per pkt-gen
function, written once over ``nmpy_port`` / ``netmap_ring`` for every backend.

A Worker owns one thread's state (a C struct): the port it drives, the packet
template and the parts of its checksums that never change, and the counters the
main thread samples.  ``Worker.run()`` releases the GIL for the whole loop.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcpy, memset

from netmap_py._core cimport Port, nmpy_buf_cap, nmpy_check_slots, nmpy_port
from netmap_py.netmap cimport (
    netmap_ring, netmap_slot, nm_ring_next, nm_ring_space, nm_tx_pending, NETMAP_BUF,
    NETMAP_TXRING, NETMAP_RXRING, nm_move_slot,
)
from netmap_py.constants cimport NS_BUF_CHANGED, NS_REPORT, NS_MOREFRAG, NS_INDIRECT

import dataclasses

cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec *ts)
    int clock_nanosleep(int clk, int flags, const timespec *req, timespec *rem)
    int CLOCK_MONOTONIC, CLOCK_REALTIME

cdef extern from "<poll.h>" nogil:
    short POLLIN, POLLOUT

cdef extern from "<errno.h>" nogil:
    int EINTR

# functions, as pkt-gen names them
cdef enum:
    F_TX = 0
    F_RX = 1
    F_TXSEQ = 2
    F_RXSEQ = 3
    F_PING = 4
    F_PONG = 5

FUNCTIONS = {"tx": F_TX, "rx": F_RX, "txseq": F_TXSEQ, "rxseq": F_RXSEQ,
             "ping": F_PING, "pong": F_PONG}

cdef enum:
    SEEN_BITS = 1 << 16             # rxseq: window of recent sequence numbers
    RTT_BUCKETS = 64                # ping: log2 histogram of RTT in ns


cdef struct pg_field:
    uint32_t off                    # where in the frame
    uint32_t width                  # 2 or 4 bytes
    uint32_t lo, hi, cur            # range and odometer position
    int random                      # draw a value per packet instead
    int in_ip                       # part of the IPv4 header checksum
    int flow                        # pktgen's flows: the value from the packet's flow slot


cdef extern from "_nmpy.h" nogil:
    uint32_t nmpy_load_acquire(const uint32_t *p)
    void nmpy_store_release(uint32_t *p, uint32_t v)

cdef enum:
    NO_SPACE = 0xffffffff           # min_space of an interval that saw no ring


cdef struct pg_iv:                  # one report interval, written by the worker only
    uint32_t epoch                  # the interval these numbers belong to
    uint32_t min_space              # receivers: least space seen (NO_SPACE: none)
    uint64_t rtt_n, rtt_sum, rtt_min, rtt_max   # ping


cdef struct pg_ctx:
    nmpy_port *port
    int func
    uint32_t burst
    uint64_t limit                  # packets to send/receive, 0 = no limit
    uint64_t duration_ns            # 0 = no limit
    double rate                     # packets per second for this thread, 0 = no limit
    int exit_on_idle                # -W: stop after 1 s without packets
    # the frame
    char *tmpl                      # largest frame, correct for the start values
    uint32_t max_len, min_len
    int vary                        # fields, lengths or sequence change per packet
    int family
    uint32_t vhdr, ip_off, udp_off, payload_off
    uint64_t ip_base, udp_base      # checksum sums of the parts that never change
    uint64_t *psum                  # psum[k]: sum of the first k payload bytes
    uint32_t *sizes                 # an IMIX cycle of lengths, sent in turn
    uint32_t nsizes, size_i
    uint64_t flows, flowlen         # pktgen's flows (0: none), on the destination address
    uint64_t index                  # packets patched so far (the flows' clock)
    pg_field f[4]
    int nf
    uint64_t rng
    uint32_t seq
    # counters: written here only, sampled by the main thread (it computes deltas)
    uint64_t pkts, bytes, events
    uint32_t epoch                  # the report interval: bumped by the reader only
    pg_iv iv[2]                     # this interval's minima, in slot epoch & 1
    uint64_t start_ns, end_ns
    int started, done, cancel, error
    # rxseq
    uint64_t lost, reordered, dups, short_pkts, seq_pkts, other_pkts
    uint32_t expected
    int seq_init
    uint8_t *seen
    # ping / pong
    uint64_t rtt_n, rtt_sum, rtt_min, rtt_max, ping_sent
    uint64_t rtt_hist[RTT_BUCKETS]
    uint64_t *rtt_samples           # for percentiles (the first rtt_cap samples)
    uint64_t rtt_cap
    uint64_t replies
    int stamp                       # txseq: a send time after each number; rxseq: latency
    # tx options
    int copy_always                 # -o 4/8: write the whole frame every time
    int rubbish                     # -r: never write the buffer
    int indirect                    # -I: slots point at the template (NS_INDIRECT, VALE)
    char *pcap_buf                  # -P: frames back to back
    uint32_t *pcap_off
    uint32_t *pcap_len
    uint32_t pcap_n, pcap_i
    # -F/-M: a packet over several slots (NS_MOREFRAG on all but the last)
    uint32_t frags                  # most slots a packet takes (1: no fragments)
    uint32_t frag_size              # bytes in each but the last
    char *scratch                   # the packet being built, max_len bytes
    # rx capture (--pcap-out, -X): records of CAP_HDR bytes then the data, packed
    char *cap_buf
    size_t cap_used, cap_size
    uint64_t cap_n, cap_max
    # kernel engine (--engine kernel): BPF_PROG_RUN with live frames
    int kprog_fd                    # > 0: this worker drives the kernel engine
    const char *kframe              # the template BPF_PROG_RUN copies (the program's)
    uint32_t kbatch, klen
    uint64_t kcall_ns               # how long one BPF_PROG_RUN call should take
    uint64_t *kstate                # the program's map value: index, bytes


cdef inline uint64_t now_ns(int clk=CLOCK_MONOTONIC) noexcept nogil:
    cdef timespec ts
    clock_gettime(clk, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


cdef inline void sleep_ns(uint64_t ns) noexcept nogil:
    cdef timespec ts
    ts.tv_sec = ns // 1000000000ULL
    ts.tv_nsec = ns % 1000000000ULL
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL)


include "_fill.pxi"
include "_loops.pxi"
include "_kernel.pxi"


@dataclasses.dataclass
class WorkerOptions:
    """What one engine thread does besides its port and function (Worker's options):
    limit packets (0: none), duration s, rate pps, burst per ring, seed of the random
    fields, randomize (source, destination), copy_always/rubbish (pkt-gen -o bits),
    pcap_frames sent in turn, capture (frames kept), rtt_samples (ping), kernel (a
    KernelProgram: the kernel sends), frags/max_frag (-F/-M), vhdr (-H), indirect (-I),
    stamp (txseq: the send time in each frame; rxseq: one-way latency from it, in rtt())."""

    frame: object = None
    burst: int = 512
    limit: int = 0
    duration: float = 0.0
    rate: float = 0.0
    exit_on_idle: bool = False
    seed: int = 0x9E3779B97F4A7C15
    randomize: tuple = (False, False)
    copy_always: bool = False
    rubbish: bool = False
    pcap_frames: object = None
    capture: int = 0
    rtt_samples: int = 1000000
    kernel: object = None
    frags: int = 1
    max_frag: int = 0
    vhdr: int = 0
    indirect: bool = False
    stamp: bool = False


cdef class Worker:
    """One thread's loop.  Build it with the GIL, then call run() in a thread."""
    cdef pg_ctx c
    cdef Port port
    cdef bytes _tmpl
    cdef KernelProgram kernel

    def __cinit__(self):
        memset(&self.c, 0, sizeof(pg_ctx))

    def __init__(self, Port port, str func, options=None, **kw):
        """options: a WorkerOptions, or its fields as keywords (frame=, burst=, ...)."""
        if func not in FUNCTIONS:
            raise ValueError(f"unknown function {func!r}")
        cdef object o = options if options is not None else WorkerOptions(**kw)
        if not isinstance(o, WorkerOptions) or (options is not None and kw):
            raise TypeError("give a WorkerOptions or keywords, not both")
        kernel = o.kernel
        if kernel is not None:          # no port: the kernel sends
            if not isinstance(kernel, KernelProgram):
                raise TypeError(f"kernel must be a KernelProgram, not {type(kernel).__name__}")
            if func not in ("tx", "txseq"):
                raise ValueError("the kernel engine only sends (tx, txseq)")
            self._set_kernel(kernel, o.burst)
        elif port is None or port.closed:
            raise ValueError("port is closed" if port is not None else "a port is needed")
        else:
            self.port = port
            self.c.port = &port.c
        self.c.func = FUNCTIONS[func]
        self._set_limits(o)
        self.c.seen = <uint8_t *>calloc(SEEN_BITS // 8, 1)
        if self.c.seen == NULL:
            raise MemoryError()
        if o.frame is not None and kernel is None:
            self._set_frame(o.frame, o.randomize)
        if o.pcap_frames:
            self._set_pcap(o.pcap_frames)
        self.c.frags = 1
        if kernel is None and self.c.func in (F_TX, F_TXSEQ):
            self._set_frags(o.frame, o.pcap_frames, o.frags, o.max_frag)
        elif kernel is None and o.frame is not None:
            self._check_fits(func, len(o.frame.data))
        if self.c.func == F_PING or (self.c.func == F_RXSEQ and self.c.stamp):
            self.c.rtt_cap = o.rtt_samples
            self.c.rtt_samples = <uint64_t *>malloc(8 * o.rtt_samples) if o.rtt_samples else NULL
            if o.rtt_samples and self.c.rtt_samples == NULL:
                raise MemoryError()

    cdef _set_limits(self, o):
        """The options that are plain numbers and switches, into the C context."""
        cdef uint32_t burst = o.burst
        cdef uint64_t seed = o.seed
        self.c.burst = burst if burst else 1
        self.c.limit = <uint64_t>o.limit
        self.c.duration_ns = <uint64_t>(<double>o.duration * 1e9)
        self.c.rate = <double>o.rate
        self.c.exit_on_idle = o.exit_on_idle
        self.c.rng = seed if seed else 1
        self.c.iv[0].epoch = self.c.iv[1].epoch = 0xffffffff   # neither slot started
        self.c.copy_always, self.c.rubbish = o.copy_always, o.rubbish
        self.c.indirect = o.indirect
        if o.stamp and self.c.func not in (F_TXSEQ, F_RXSEQ):
            raise ValueError("stamp= is for txseq and rxseq (one-way latency)")
        self.c.stamp = 1 if o.stamp else 0
        self.c.cap_max = <uint64_t>o.capture
        self.c.vhdr = <uint32_t>o.vhdr  # receivers: bytes before the Ethernet header (-H)

    cdef _check_fits(self, str func, size_t length):
        """Functions that send one buffer per packet (ping): the frame must fit."""
        cdef nmpy_port *p = self.c.port
        if p.last_tx_ring < p.first_tx_ring:
            raise ValueError(f"-f {func} sends, but {self.port.spec} has no TX ring bound")
        cdef uint32_t buf = nmpy_buf_cap(p, NETMAP_TXRING(p.nifp, p.first_tx_ring))
        if length > buf:
            raise ValueError(f"-f {func} sends one buffer per packet, and {length}-byte frames "
                             f"do not fit {self.port.spec}'s {buf}-byte buffers: use -l "
                             f"{buf - self.c.vhdr} or less")

    cdef _set_frags(self, frame, pcap_frames, uint32_t frags, uint32_t max_frag):
        """pkt-gen's fragmenting: -F slots per packet, pieces of at most -M bytes and
        never more than a buffer; a frame larger than a buffer is split anyway."""
        cdef netmap_ring *r = NETMAP_TXRING(self.c.port.nifp, self.c.port.first_tx_ring)
        cdef uint32_t buf = nmpy_buf_cap(self.c.port, r), longest, size
        longest = max(len(f) for f in pcap_frames) if pcap_frames else self.c.max_len
        if frags < 1 or frags > 63:
            raise ValueError(f"frags {frags}: 1..63")
        limit = min(max_frag, buf) if max_frag else buf
        size = (longest + frags - 1) // frags
        if size > limit:
            size = limit
        if (longest + size - 1) // size > 63:
            raise ValueError(f"frames of {longest} bytes need more than 63 pieces of {size}")
        if size >= longest:
            return                      # one slot per packet: the fast path
        self.c.frag_size = size
        self.c.frags = (longest + size - 1) // size
        self.c.scratch = <char *>malloc(longest)
        if self.c.scratch == NULL:
            raise MemoryError()
        if self.c.tmpl != NULL:
            memcpy(self.c.scratch, self.c.tmpl, self.c.max_len)

    @property
    def fragments(self):
        """(most slots per packet, bytes per piece); (1, 0) without fragments."""
        return self.c.frags, self.c.frag_size

    cdef _set_pcap(self, frames):
        cdef uint32_t n = len(frames), i, off = 0
        total = sum(len(f) for f in frames)
        self.c.pcap_buf = <char *>malloc(total if total else 1)
        self.c.pcap_off = <uint32_t *>malloc(4 * n)
        self.c.pcap_len = <uint32_t *>malloc(4 * n)
        if self.c.pcap_buf == NULL or self.c.pcap_off == NULL or self.c.pcap_len == NULL:
            raise MemoryError()
        cdef bytes b
        for i in range(n):
            b = bytes(frames[i])
            memcpy(self.c.pcap_buf + off, <char *>b, len(b))
            self.c.pcap_off[i], self.c.pcap_len[i] = off, len(b)
            off += len(b)
        self.c.pcap_n = n

    cdef _set_frame(self, frame, randomize):
        cdef bytes data = bytes(frame.data)
        self._tmpl = data
        self.c.tmpl = <char *>malloc(len(data))
        self.c.psum = <uint64_t *>malloc(8 * len(frame.payload_psum))
        if self.c.tmpl == NULL or self.c.psum == NULL:
            raise MemoryError()
        memcpy(self.c.tmpl, <char *>data, len(data))
        for i, v in enumerate(frame.payload_psum):
            self.c.psum[i] = v
        if frame.sizes:
            self.c.sizes = <uint32_t *>malloc(4 * len(frame.sizes))
            if self.c.sizes == NULL:
                raise MemoryError()
            for i, v in enumerate(frame.sizes):
                self.c.sizes[i] = v
            self.c.nsizes = len(frame.sizes)
        self.c.max_len, self.c.min_len = frame.max_len, frame.min_len
        self.c.family, self.c.vhdr = frame.family, frame.vhdr
        self.c.ip_off, self.c.udp_off, self.c.payload_off = frame.ip_off, frame.udp_off, frame.payload_off
        self.c.ip_base, self.c.udp_base = frame.ip_base, frame.udp_base
        fields = frame.plan_fields(randomize)
        self.c.nf = len(fields)
        for i, (off, width, lo, hi, in_ip, rnd) in enumerate(fields):
            self.c.f[i].off, self.c.f[i].width = off, width
            self.c.f[i].lo, self.c.f[i].hi, self.c.f[i].cur = lo, hi, lo
            self.c.f[i].random, self.c.f[i].in_ip = rnd, in_ip
        if frame.flows:                 # the destination address: fields()[3]
            self.c.flows, self.c.flowlen = frame.flows
            self.c.f[3].flow = 1
        varies = any(lo != hi for (_, _, lo, hi, _, _) in fields) or any(randomize)
        self.c.vary = (varies or frame.min_len != frame.max_len
                       or self.c.func == F_TXSEQ or self.c.func == F_PING)

    def __dealloc__(self):
        free(self.c.tmpl)
        free(self.c.psum)
        free(self.c.sizes)
        free(self.c.seen)
        free(self.c.rtt_samples)
        free(self.c.pcap_buf)
        free(self.c.pcap_off)
        free(self.c.pcap_len)
        free(self.c.cap_buf)
        free(self.c.scratch)

    cdef _set_kernel(self, KernelProgram kernel, uint32_t burst):
        if kernel.prog_fd < 0:
            raise ValueError("the kernel program is closed")
        self.kernel = kernel
        self.c.kprog_fd = kernel.prog_fd
        self.c.kbatch = burst if burst <= 256 else 256  # the kernel's largest batch
        self.c.kstate = kernel.state
        self.c.kcall_ns = KGEN_CALL_PARKED_NS if kernel.parked else KGEN_CALL_UNPARKED_NS
        self.c.kframe = kernel.frame    # kept alive by self.kernel
        self.c.klen = len(kernel.frame)
        self.c.max_len = kernel.fixed_len     # 0: lengths vary, the program counts bytes

    def run(self):
        """The loop, without the GIL; returns when done, cancelled or failed."""
        if self.kernel is not None:
            self.kernel.pin()
            try:
                with nogil:
                    ktx_loop(&self.c)
                    self.c.done = 1
            finally:
                self.kernel.unpin()
            if self.c.error:
                raise OSError(self.c.error, kgen_error(self.c.error))
            return
        self.port.pin("a running Worker")
        try:
            if nmpy_check_slots(&self.port.c):
                raise ValueError(f"a slot of {self.port.spec} names no buffer of its region: "
                                 "the loop will not run on it")
            with nogil:
                if self.c.func == F_TX or self.c.func == F_TXSEQ:
                    tx_loop(&self.c)
                elif self.c.func == F_RX or self.c.func == F_RXSEQ:
                    rx_loop(&self.c)
                elif self.c.func == F_PING:
                    ping_loop(&self.c)
                else:
                    pong_loop(&self.c)
                self.c.done = 1
        finally:
            self.port.unpin("a running Worker")
        if self.c.error:
            raise OSError(self.c.error, "the port failed while running", str(self.port.spec))

    def cancel(self):
        self.c.cancel = 1

    def sample(self):
        """Counters now: (pkts, bytes, events)."""
        return self.c.pkts, self.c.bytes, self.c.events

    def take_interval(self):
        """End this report interval and return its minima: {"min_space": int or None
        (receivers; None when no ring was looked at), "rtt": (count, sum, min, max) ns
        (ping)}.  The worker writes every counter; this only moves the epoch on."""
        cdef uint32_t e = self.c.epoch
        nmpy_store_release(&self.c.epoch, e + 1)
        cdef pg_iv *v = &self.c.iv[e & 1]
        if nmpy_load_acquire(&v.epoch) != e:
            return {"min_space": None, "rtt": (0, 0, 0, 0)}
        return {"min_space": None if v.min_space == NO_SPACE else v.min_space,
                "rtt": (v.rtt_n, v.rtt_sum, v.rtt_min, v.rtt_max)}

    @property
    def done(self):
        return bool(self.c.done)

    @property
    def started(self):
        return bool(self.c.started)

    @property
    def start_ns(self):
        return self.c.start_ns

    @property
    def end_ns(self):
        return self.c.end_ns

    @property
    def error(self):
        return self.c.error

    def seq_stats(self):
        return {"received": self.c.seq_pkts, "lost": self.c.lost, "reordered": self.c.reordered,
                "duplicated": self.c.dups, "short": self.c.short_pkts,
                "other": self.c.other_pkts}

    def captured(self):
        """Frames kept for --pcap-out: a list of (unix time ns, bytes)."""
        return [(ts, data) for ts, _, _, _, _, data in self.captured_slots()]

    def captured_slots(self):
        """Frames kept for --pcap-out and -X, with where they were: a list of
        (unix time ns, ring, slot, buffer index, slot flags, bytes)."""
        out = []
        cdef size_t pos = 0
        cdef uint32_t L, slot_i, buf
        cdef uint16_t ring, flags
        cdef uint64_t ts
        while pos < self.c.cap_used:
            memcpy(&L, self.c.cap_buf + pos, 4)
            memcpy(&ts, self.c.cap_buf + pos + 4, 8)
            memcpy(&ring, self.c.cap_buf + pos + 12, 2)
            memcpy(&flags, self.c.cap_buf + pos + 14, 2)
            memcpy(&slot_i, self.c.cap_buf + pos + 16, 4)
            memcpy(&buf, self.c.cap_buf + pos + 20, 4)
            out.append((ts, ring, slot_i, buf, flags,
                        self.c.cap_buf[pos + CAP_HDR:pos + CAP_HDR + L]))
            pos += CAP_HDR + L
        return out

    def rtt_histogram(self):
        """(count, sum ns, log2 histogram): what rtt() has, without the samples."""
        return (self.c.rtt_n, self.c.rtt_sum, [self.c.rtt_hist[i] for i in range(RTT_BUCKETS)])

    def rtt(self):
        """All round trips: count, sum, min, max, log2 histogram, samples (ns)."""
        cdef uint64_t n = self.c.rtt_n if self.c.rtt_n < self.c.rtt_cap else self.c.rtt_cap
        samples = [self.c.rtt_samples[i] for i in range(n)] if self.c.rtt_samples != NULL else []
        return {"count": self.c.rtt_n, "sum": self.c.rtt_sum, "min": self.c.rtt_min,
                "max": self.c.rtt_max, "replies": self.c.replies,
                "hist": [self.c.rtt_hist[i] for i in range(RTT_BUCKETS)], "samples": samples}


def monotonic_ns():
    return now_ns()
