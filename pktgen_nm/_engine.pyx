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
    uint64_t lost, reordered, dups, short_pkts, seq_pkts
    uint32_t expected
    int seq_init
    uint8_t *seen
    # ping / pong
    uint64_t rtt_n, rtt_sum, rtt_min, rtt_max, ping_sent
    uint64_t rtt_hist[RTT_BUCKETS]
    uint64_t *rtt_samples           # for percentiles (the first rtt_cap samples)
    uint64_t rtt_cap
    uint64_t replies
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


cdef inline uint64_t xorshift(pg_ctx *t) noexcept nogil:
    cdef uint64_t x = t.rng
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    t.rng = x
    return x * 0x2545F4914F6CDD1DULL


cdef inline uint16_t fold(uint64_t s) noexcept nogil:
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return <uint16_t>s


cdef inline void put16(char *p, uint32_t v) noexcept nogil:
    p[0] = <char>(v >> 8)
    p[1] = <char>v


cdef inline void put32(char *p, uint32_t v) noexcept nogil:
    p[0] = <char>(v >> 24)
    p[1] = <char>(v >> 16)
    p[2] = <char>(v >> 8)
    p[3] = <char>v


cdef inline uint32_t get32(const char *p) noexcept nogil:
    cdef const uint8_t *u = <const uint8_t *>p
    return (<uint32_t>u[0] << 24) | (<uint32_t>u[1] << 16) | (<uint32_t>u[2] << 8) | u[3]


cdef inline uint32_t pick_len(pg_ctx *t) noexcept nogil:
    if t.min_len == t.max_len:
        return t.max_len
    return t.min_len + <uint32_t>(xorshift(t) % (t.max_len - t.min_len + 1))


cdef void patch(pg_ctx *t, char *buf, uint32_t L, int with_seq, uint64_t ts) noexcept nogil:
    """Write this packet's varying fields and both checksums, then advance the
    odometer (sport, sip, dport, dip; least significant first)."""
    cdef uint64_t ip = t.ip_base, udp = t.udp_base, c
    cdef uint32_t v, i, udp_len = L - t.udp_off
    cdef pg_field *f
    for i in range(<uint32_t>t.nf):
        f = &t.f[i]
        if f.random:
            v = f.lo + <uint32_t>(xorshift(t) % (<uint64_t>f.hi - f.lo + 1))
        else:
            v = f.cur
        if f.width == 4:
            put32(buf + f.off, v)
            c = (v >> 16) + (v & 0xffff)
        else:
            put16(buf + f.off, v)
            c = v
        udp += c
        if f.in_ip:
            ip += c
    if with_seq:
        put32(buf + t.payload_off, t.seq)
        udp += (t.seq >> 16) + (t.seq & 0xffff) + 0x3fffc - t.psum[4]   # seq replaces 4 bytes
        if ts:                          # ping: a send time replaces the next 8 bytes
            put32(buf + t.payload_off + 4, <uint32_t>(ts >> 32))
            put32(buf + t.payload_off + 8, <uint32_t>ts)
            udp += ((ts >> 48) + ((ts >> 32) & 0xffff) + ((ts >> 16) & 0xffff) + (ts & 0xffff)
                    + 0x3fffc - (t.psum[12] - t.psum[4]))
    udp += 2 * <uint64_t>udp_len + t.psum[L - t.payload_off]
    put16(buf + t.udp_off + 4, udp_len)
    c = fold(udp)
    c = (~c) & 0xffff
    put16(buf + t.udp_off + 6, c if c else 0xffff)
    if t.family == 4:
        v = L - t.ip_off
        put16(buf + t.ip_off + 2, v)
        put16(buf + t.ip_off + 10, (~fold(ip + v)) & 0xffff)
    else:
        put16(buf + t.ip_off + 4, udp_len)
    for i in range(<uint32_t>t.nf):     # the odometer
        f = &t.f[i]
        if f.random or f.lo == f.hi:
            continue
        if f.cur < f.hi:
            f.cur += 1
            break
        f.cur = f.lo


cdef inline const char *next_pcap(pg_ctx *t, uint32_t *L) noexcept nogil:
    """-P: the next frame of the file (looping) and its length."""
    cdef const char *data = t.pcap_buf + t.pcap_off[t.pcap_i]
    L[0] = t.pcap_len[t.pcap_i]
    t.pcap_i += 1
    if t.pcap_i == t.pcap_n:
        t.pcap_i = 0
    return data


cdef uint32_t fill_plain(pg_ctx *t, netmap_ring *r, uint32_t n) noexcept nogil:
    """fill_ring for one fixed frame and nothing per packet (the default run): what
    the loop reads is in locals, so each slot costs one test and two stores, as in
    C pkt-gen (a pg_ctx field re-read per slot made this loop as dear as the txsync
    on a netmap pipe)."""
    cdef uint32_t head = r.head, last = head, lim = r.num_slots, L = t.max_len
    cdef const char *tmpl = t.tmpl
    cdef netmap_slot *slots = r.slot
    cdef netmap_slot *slot
    cdef int always = t.copy_always, write = not t.rubbish
    for _ in range(n):
        slot = &slots[head]
        if write and (always or slot.flags & NS_BUF_CHANGED):
            memcpy(NETMAP_BUF(r, slot.buf_idx), tmpl, L)
        slot.flags = 0
        slot.len = <uint16_t>L
        last = head
        head += 1
        if head == lim:
            head = 0
    if n:
        slots[last].flags = NS_REPORT
        r.head = r.cur = head
        t.bytes += <uint64_t>n * L
    return n


cdef uint32_t fill_ring(pg_ctx *t, netmap_ring *r, uint32_t n, int with_seq) noexcept nogil:
    """Queue n packets from head (n <= space); publish head/cur once."""
    cdef uint32_t head = r.head, L, last = head
    cdef netmap_slot *slot
    cdef char *buf
    cdef const char *src
    cdef uint64_t nbytes = 0
    cdef int ping = t.func == F_PING
    for _ in range(n):
        slot = &r.slot[head]
        buf = NETMAP_BUF(r, slot.buf_idx)
        if t.pcap_n:                    # -P: every frame of the file in turn
            src = next_pcap(t, &L)
            memcpy(buf, src, L)
        else:
            if (slot.flags & NS_BUF_CHANGED or t.copy_always) and not t.rubbish:
                memcpy(buf, t.tmpl, t.max_len)  # a buffer we have not written yet
            L = pick_len(t)
            if t.vary and not t.rubbish:
                patch(t, buf, L, with_seq, now_ns() if ping else 0)
                if with_seq:
                    t.seq += 1
        slot.flags = 0
        if t.indirect:                  # VALE copies from our template at txsync
            slot.flags = NS_INDIRECT
            slot.ptr = <uint64_t><size_t>t.tmpl
        slot.len = L
        if t.cap_max:                   # -X: what is sent
            capture(t, buf, L, r.ringid, head, slot)
        nbytes += L
        last = head
        head = nm_ring_next(r, head)
    if n:
        r.slot[last].flags |= NS_REPORT
        r.head = r.cur = head
        t.bytes += nbytes
    return n


cdef uint32_t fill_ring_frags(pg_ctx *t, netmap_ring *r, uint32_t n, int with_seq) noexcept nogil:
    """Queue n packets of up to t.frags slots each (n * t.frags <= space): each packet
    is built in t.scratch, then cut into frag_size pieces; publish head/cur once."""
    cdef uint32_t head = r.head, L, last = head, off, chunk
    cdef netmap_slot *slot
    cdef const char *src
    cdef uint64_t nbytes = 0
    for _ in range(n):
        if t.pcap_n:
            src = next_pcap(t, &L)
        else:
            L = pick_len(t)
            if t.vary:
                patch(t, t.scratch, L, with_seq, 0)
                if with_seq:
                    t.seq += 1
            src = t.scratch
        off = 0
        while True:
            chunk = L - off if L - off < t.frag_size else t.frag_size
            slot = &r.slot[head]
            memcpy(NETMAP_BUF(r, slot.buf_idx), src + off, chunk)
            slot.len = chunk
            off += chunk
            slot.flags = NS_MOREFRAG if off < L else 0
            if t.cap_max:
                capture(t, src + off - chunk, chunk, r.ringid, head, slot)
            last = head
            head = nm_ring_next(r, head)
            if off >= L:
                break
        nbytes += L
    if n:
        r.slot[last].flags |= NS_REPORT
        r.head = r.cur = head
        t.bytes += nbytes
    return n


cdef void mark_all_changed(nmpy_port *p) noexcept nogil:
    cdef int i
    cdef uint32_t j
    cdef netmap_ring *r
    for i in range(p.first_tx_ring, p.last_tx_ring + 1):
        r = NETMAP_TXRING(p.nifp, i)
        for j in range(r.num_slots):
            r.slot[j].flags |= NS_BUF_CHANGED


cdef inline uint64_t get64(const char *p) noexcept nogil:
    return (<uint64_t>get32(p) << 32) | get32(p + 4)


cdef inline int run_over(pg_ctx *t, uint64_t now, uint64_t since) noexcept nogil:
    """1 when the -n limit is reached or the duration (counted from since) is over."""
    return ((t.limit and t.pkts >= t.limit) or
            (t.duration_ns != 0 and now - since >= t.duration_ns))


cdef inline int failed(pg_ctx *t, int rc) noexcept nogil:
    """A sync's or poll's rc: 0 to go on (done, or interrupted by a signal), 1 when it
    failed (the first failure is kept in t.error)."""
    if rc >= 0 or rc == -EINTR:
        return 0
    if not t.error:
        t.error = -rc
    return 1


cdef inline int wait_port(pg_ctx *t, int events, int timeout_ms) noexcept nogil:
    """poll() the port: revents (0 on a timeout or a signal), or -1 once a fatal
    error is recorded in t.error."""
    cdef int rc = t.port.poll(t.port, events, timeout_ms)
    if failed(t, rc):
        return -1
    return rc if rc > 0 else 0


cdef int rate_budget(pg_ctx *t, uint64_t now, uint64_t sent) noexcept nogil:
    """How many packets may leave now to stay exactly on the rate; sleeps (up
    to 1 ms at a time) when none may."""
    cdef uint64_t due = <uint64_t>((now - t.start_ns) * 1e-9 * t.rate) + 1
    cdef uint64_t next_at
    if due > sent:
        return <int>(due - sent) if due - sent < t.burst else <int>t.burst
    next_at = t.start_ns + <uint64_t>(sent * 1e9 / t.rate)
    if next_at > now + 50000:
        sleep_ns(next_at - now - 50000 if next_at - now - 50000 < 1000000 else 1000000)
    return 0


cdef void tx_loop(pg_ctx *t) noexcept nogil:
    cdef nmpy_port *p = t.port
    cdef netmap_ring *r
    cdef int i, with_seq = t.func == F_TXSEQ
    cdef uint64_t now, budget, m, space, wanted
    cdef int pending
    cdef int plain = not (t.vary or t.pcap_n or t.indirect or t.cap_max)
    mark_all_changed(p)
    t.start_ns = now_ns()
    t.started = 1
    while not t.cancel:
        now = now_ns()
        if run_over(t, now, t.start_ns):
            break
        budget = t.burst
        if t.rate > 0:
            budget = rate_budget(t, now, t.pkts)
            if budget == 0:
                continue
        if wait_port(t, POLLOUT, 100) < 0:
            break
        for i in range(p.first_tx_ring, p.last_tx_ring + 1):
            r = NETMAP_TXRING(p.nifp, i)
            wanted = budget
            if t.limit and t.limit - t.pkts < wanted:
                wanted = t.limit - t.pkts
            if wanted == 0:
                break
            space = nm_ring_space(r) // t.frags
            m = wanted if wanted < space else space
            if m:
                if t.frags > 1:
                    fill_ring_frags(t, r, <uint32_t>m, with_seq)
                elif plain:
                    fill_plain(t, r, <uint32_t>m)
                else:
                    fill_ring(t, r, <uint32_t>m, with_seq)
                t.pkts += m
                t.events += 1
                budget -= m
            if m < wanted:
                r.cur = r.tail              # starved: wake me when room appears
            if budget == 0:
                break
    # push what is queued and wait (at most 2 s) until the port has sent it
    now = now_ns()
    while True:
        if failed(t, p.txsync(p)):
            break
        pending = 0
        for i in range(p.first_tx_ring, p.last_tx_ring + 1):
            if nm_tx_pending(NETMAP_TXRING(p.nifp, i)):
                pending = 1
        if not pending or now_ns() - now > 2000000000ULL:
            break
        sleep_ns(20000)
    t.end_ns = now_ns()


cdef inline void seq_check(pg_ctx *t, const char *buf, uint32_t L) noexcept nogil:
    cdef uint32_t off, s, d
    cdef const uint8_t *u = <const uint8_t *>buf + t.vhdr
    # IPv4 or IPv6 by ethertype, like pkt-gen's rxseq
    if L < t.vhdr + 14:
        t.short_pkts += 1
        return
    off = t.vhdr + (14 + 20 + 8 if (u[12] == 0x08 and u[13] == 0x00) else 14 + 40 + 8)
    if L < off + 4:
        t.short_pkts += 1
        return
    s = get32(buf + off)
    t.seq_pkts += 1
    if not t.seq_init:
        t.seq_init = 1
        t.expected = s
    if s == t.expected:
        t.expected = s + 1
    elif <uint32_t>(s - t.expected) < 0x80000000U:     # ahead: a gap
        t.lost += s - t.expected
        t.expected = s + 1
    else:                                               # behind: late or repeated
        if t.seen[(s >> 3) & (SEEN_BITS // 8 - 1)] & (1 << (s & 7)):
            t.dups += 1
        else:
            t.reordered += 1
            if t.lost:
                t.lost -= 1
    t.seen[(s >> 3) & (SEEN_BITS // 8 - 1)] |= <uint8_t>(1 << (s & 7))
    # forget what is now too far behind to be told apart
    d = s + SEEN_BITS // 2
    t.seen[(d >> 3) & (SEEN_BITS // 8 - 1)] &= <uint8_t>~(1 << (d & 7))


cdef enum:
    CAP_HDR = 24                    # [u32 len][u64 ns][u16 ring][u16 flags][u32 slot][u32 buf]


cdef void capture(pg_ctx *t, const char *data, uint32_t L, int ring, uint32_t slot_i,
                  const netmap_slot *slot) noexcept nogil:
    """Keep a copy of a frame and where it was, for --pcap-out and -X (the first
    cap_max only)."""
    cdef size_t need = CAP_HDR + L, size
    cdef uint16_t ring16 = <uint16_t>ring, flags16 = slot.flags
    cdef char *nb
    cdef uint64_t ts
    if t.cap_n >= t.cap_max:
        return
    if t.cap_used + need > t.cap_size:
        size = t.cap_size * 2 if t.cap_size else 1 << 20
        while size < t.cap_used + need:
            size *= 2
        nb = <char *>realloc(t.cap_buf, size)
        if nb == NULL:
            t.cap_max = t.cap_n         # out of memory: stop capturing, keep what we have
            return
        t.cap_buf, t.cap_size = nb, size
    ts = now_ns(CLOCK_REALTIME)
    memcpy(t.cap_buf + t.cap_used, &L, 4)
    memcpy(t.cap_buf + t.cap_used + 4, &ts, 8)
    memcpy(t.cap_buf + t.cap_used + 12, &ring16, 2)
    memcpy(t.cap_buf + t.cap_used + 14, &flags16, 2)
    memcpy(t.cap_buf + t.cap_used + 16, &slot_i, 4)
    memcpy(t.cap_buf + t.cap_used + 20, &slot.buf_idx, 4)
    memcpy(t.cap_buf + t.cap_used + CAP_HDR, data, L)
    t.cap_used += need
    t.cap_n += 1


cdef void drain_ring(pg_ctx *t, netmap_ring *r, int ring, uint32_t avail) noexcept nogil:
    """Consume avail slots from head, or fewer when the -n limit is reached at the end
    of a packet; publish head/cur once.  What the loop tests is in locals (see
    fill_plain)."""
    cdef uint32_t head = r.head, lim = r.num_slots
    cdef netmap_slot *slots = r.slot
    cdef netmap_slot *slot
    cdef uint64_t nbytes = 0, npkts = 0, room = t.limit - t.pkts if t.limit else <uint64_t>-1
    cdef int check = t.func == F_RXSEQ, keep = t.cap_max != 0
    for _ in range(avail):
        slot = &slots[head]
        nbytes += slot.len
        if keep:
            capture(t, NETMAP_BUF(r, slot.buf_idx), slot.len, ring, head, slot)
        head += 1
        if head == lim:
            head = 0
        if not (slot.flags & NS_MOREFRAG):
            if check:
                seq_check(t, NETMAP_BUF(r, slot.buf_idx), slot.len)
            npkts += 1
            if npkts >= room:
                break
    r.head = r.cur = head
    t.bytes += nbytes
    t.pkts += npkts
    t.events += 1


cdef void rx_loop(pg_ctx *t) noexcept nogil:
    cdef nmpy_port *p = t.port
    cdef netmap_ring *r
    cdef int i, rc
    cdef uint32_t avail, space_sum
    cdef pg_iv *iv
    cdef uint64_t now, begin = now_ns(), last_pkt = 0
    # wait for the first packet
    while not t.cancel:
        rc = wait_port(t, POLLIN, 100)
        if rc > 0:
            break
        if rc < 0:
            t.end_ns = now_ns()
            return
        if t.duration_ns and now_ns() - begin >= t.duration_ns:
            t.end_ns = now_ns()
            return
    t.start_ns = now_ns()
    t.started = 1
    last_pkt = t.start_ns
    while not t.cancel:
        now = now_ns()
        if run_over(t, now, begin):
            break
        if t.exit_on_idle and now - last_pkt >= 1000000000ULL:
            t.end_ns = last_pkt
            t.done = 1
            return
        rc = wait_port(t, POLLIN, 100)
        if rc < 0:
            break
        if rc == 0:
            continue
        space_sum = 0
        for i in range(p.first_rx_ring, p.last_rx_ring + 1):
            r = NETMAP_RXRING(p.nifp, i)
            avail = nm_ring_space(r)
            if avail == 0:
                continue
            space_sum += avail
            if avail > t.burst:
                avail = t.burst
            drain_ring(t, r, i, avail)
            last_pkt = now_ns()
            if t.limit and t.pkts >= t.limit:
                break
        iv = interval(t)
        if space_sum < iv.min_space:
            iv.min_space = space_sum
    # hand the last released slots back: a netmap pipe's sender gets its TX slots
    # back only when this end's rxsync says they are consumed (C pkt-gen waits for them)
    failed(t, p.rxsync(p))
    t.end_ns = now_ns()


cdef inline pg_iv *interval(pg_ctx *t) noexcept nogil:
    """The worker's slot for the current report interval, started afresh (by the
    worker, the one writer) when the reader has moved on to a new epoch."""
    cdef uint32_t e = nmpy_load_acquire(&t.epoch)
    cdef pg_iv *v = &t.iv[e & 1]
    if v.epoch != e:
        v.min_space = NO_SPACE
        v.rtt_n = v.rtt_sum = v.rtt_min = v.rtt_max = 0
        nmpy_store_release(&v.epoch, e)
    return v


cdef inline void rtt_record(pg_ctx *t, uint64_t rtt) noexcept nogil:
    cdef int b = 0
    cdef uint64_t v = rtt
    while v > 1 and b < RTT_BUCKETS - 1:
        v >>= 1
        b += 1
    t.rtt_hist[b] += 1
    t.rtt_n += 1
    t.rtt_sum += rtt
    if t.rtt_min == 0 or rtt < t.rtt_min:
        t.rtt_min = rtt
    if rtt > t.rtt_max:
        t.rtt_max = rtt
    if t.rtt_samples != NULL and t.rtt_n <= t.rtt_cap:
        t.rtt_samples[t.rtt_n - 1] = rtt
    cdef pg_iv *iv = interval(t)
    iv.rtt_n += 1
    iv.rtt_sum += rtt
    if iv.rtt_min == 0 or rtt < iv.rtt_min:
        iv.rtt_min = rtt
    if rtt > iv.rtt_max:
        iv.rtt_max = rtt


cdef inline uint32_t probe_off(pg_ctx *t, const char *buf, uint32_t L) noexcept nogil:
    """Offset of the sequence number in a reply, 0 if it is not one of ours."""
    cdef const uint8_t *u = <const uint8_t *>buf + t.vhdr
    cdef uint32_t off
    if L < t.vhdr + 14:
        return 0
    if u[12] == 0x08 and u[13] == 0x00:
        off = t.vhdr + 14 + 20 + 8
        if u[14 + 9] != 17:
            return 0
    elif u[12] == 0x86 and u[13] == 0xdd:
        off = t.vhdr + 14 + 40 + 8
        if u[14 + 6] != 17:
            return 0
    else:
        return 0
    return off if L >= off + 12 else 0


cdef void ping_loop(pg_ctx *t) noexcept nogil:
    """Many probes in flight: send at the rate (or a burst per round) and take
    every reply as it comes, measuring each one's round trip."""
    cdef nmpy_port *p = t.port
    cdef netmap_ring *r
    cdef netmap_ring *tx = NETMAP_TXRING(p.nifp, p.first_tx_ring)
    cdef netmap_slot *slot
    cdef int i
    cdef uint32_t avail, head, off
    cdef uint64_t now, budget, m, space, ts, stop_at = 0
    cdef const char *buf
    mark_all_changed(p)
    t.start_ns = now_ns()
    t.started = 1
    while not t.cancel:
        now = now_ns()
        if run_over(t, now, t.start_ns):
            if stop_at == 0:
                stop_at = now + 1000000000ULL  # wait up to 1 s for the last replies
            if t.replies >= t.pkts or now >= stop_at:
                break
            budget = 0
        elif t.rate > 0:
            budget = rate_budget(t, now, t.pkts)
        else:
            budget = t.burst
        if budget:
            if t.limit and t.limit - t.pkts < budget:
                budget = t.limit - t.pkts
            space = nm_ring_space(tx)
            m = budget if budget < space else space
            if m:
                fill_ring(t, tx, <uint32_t>m, 1)
                t.pkts += m
                t.events += 1
            if failed(t, p.txsync(p)):
                break
        if wait_port(t, POLLIN, 0 if t.rate > 0 or budget else 10) < 0:
            break
        for i in range(p.first_rx_ring, p.last_rx_ring + 1):
            r = NETMAP_RXRING(p.nifp, i)
            avail = nm_ring_space(r)
            if avail == 0:
                continue
            head = r.head
            now = now_ns()
            for _ in range(avail):
                slot = &r.slot[head]
                buf = NETMAP_BUF(r, slot.buf_idx)
                off = probe_off(t, buf, slot.len)
                if off:
                    ts = get64(buf + off + 4)
                    if ts <= now and now - ts < 60000000000ULL:
                        rtt_record(t, now - ts)
                        t.replies += 1
                head = nm_ring_next(r, head)
            r.head = r.cur = head
    t.end_ns = now_ns()


cdef void pong_loop(pg_ctx *t) noexcept nogil:
    """Reflect every packet: swap MACs and IP addresses (both checksums stay
    valid), zero-copy when the rings share a region, else one copy."""
    cdef nmpy_port *p = t.port
    cdef netmap_ring *r
    cdef netmap_ring *tx = NETMAP_TXRING(p.nifp, p.first_tx_ring)
    cdef netmap_slot *rs
    cdef netmap_slot *ts
    cdef int i, zc = t.copy_always == 0    # one port, one region: swapping is safe
    cdef uint32_t avail, head, thead, L
    cdef uint8_t *b
    cdef uint8_t sw[16]
    cdef uint64_t begin = now_ns()
    t.start_ns = begin
    t.started = 1
    while not t.cancel:
        if run_over(t, now_ns(), begin):
            break
        if wait_port(t, POLLIN, 100) < 0:
            break
        thead = tx.head
        for i in range(p.first_rx_ring, p.last_rx_ring + 1):
            r = NETMAP_RXRING(p.nifp, i)
            avail = nm_ring_space(r)
            head = r.head
            for _ in range(avail):
                if thead == tx.tail:
                    break                   # no room to reply: leave it for later
                if t.limit and t.pkts >= t.limit:
                    break
                rs = &r.slot[head]
                ts = &tx.slot[thead]
                L = rs.len
                nm_move_slot(r, rs, tx, ts, zc)     # zero copy: a buffer swap
                b = <uint8_t *>NETMAP_BUF(tx, ts.buf_idx) + t.vhdr
                if L >= t.vhdr + 14:
                    memcpy(sw, b, 6)
                    memcpy(b, b + 6, 6)
                    memcpy(b + 6, sw, 6)
                    if b[12] == 0x08 and b[13] == 0x00 and L >= t.vhdr + 34:
                        memcpy(sw, b + 26, 4)
                        memcpy(b + 26, b + 30, 4)
                        memcpy(b + 30, sw, 4)
                    elif b[12] == 0x86 and b[13] == 0xdd and L >= t.vhdr + 54:
                        memcpy(sw, b + 22, 16)
                        memcpy(b + 22, b + 38, 16)
                        memcpy(b + 38, sw, 16)
                t.pkts += 1
                t.bytes += L
                thead = nm_ring_next(tx, thead)
                head = nm_ring_next(r, head)
            r.head = r.cur = head
        if thead != tx.head:
            tx.head = tx.cur = thead
            t.events += 1
            if failed(t, p.txsync(p)):
                break
    # push the last replies, release the last requests: a failure of either is an error
    if not failed(t, p.txsync(p)):
        failed(t, p.rxsync(p))
    t.end_ns = now_ns()


include "_kernel.pxi"


cdef class Worker:
    """One thread's loop.  Build it with the GIL, then call run() in a thread."""
    cdef pg_ctx c
    cdef Port port
    cdef bytes _tmpl
    cdef KernelProgram kernel

    def __cinit__(self):
        memset(&self.c, 0, sizeof(pg_ctx))

    def __init__(self, Port port, str func, *, frame=None, uint32_t burst=512,
                 uint64_t limit=0, double duration=0, double rate=0, bint exit_on_idle=False,
                 uint64_t seed=0x9E3779B97F4A7C15, randomize=(False, False),
                 bint copy_always=False, bint rubbish=False, pcap_frames=None,
                 uint64_t capture=0, uint64_t rtt_samples=1000000,
                 KernelProgram kernel=None, uint32_t frags=1, uint32_t max_frag=0,
                 uint32_t vhdr=0, bint indirect=False):
        if func not in FUNCTIONS:
            raise ValueError(f"unknown function {func!r}")
        if kernel is not None:          # no port: the kernel sends
            if func not in ("tx", "txseq"):
                raise ValueError("the kernel engine only sends (tx, txseq)")
            self._set_kernel(kernel, burst)
        elif port is None or port.closed:
            raise ValueError("port is closed" if port is not None else "a port is needed")
        else:
            self.port = port
            self.c.port = &port.c
        self.c.func = FUNCTIONS[func]
        self.c.burst = burst if burst else 1
        self.c.limit = limit
        self.c.duration_ns = <uint64_t>(duration * 1e9)
        self.c.rate = rate
        self.c.exit_on_idle = exit_on_idle
        self.c.rng = seed if seed else 1
        self.c.iv[0].epoch = self.c.iv[1].epoch = 0xffffffff   # neither slot started
        self.c.seen = <uint8_t *>calloc(SEEN_BITS // 8, 1)
        if self.c.seen == NULL:
            raise MemoryError()
        self.c.copy_always, self.c.rubbish = copy_always, rubbish
        self.c.indirect = indirect
        self.c.cap_max = capture
        self.c.vhdr = vhdr              # receivers: bytes before the Ethernet header (-H)
        if frame is not None and kernel is None:
            self._set_frame(frame, randomize)
        if pcap_frames:
            self._set_pcap(pcap_frames)
        self.c.frags = 1
        if kernel is None and self.c.func in (F_TX, F_TXSEQ):
            self._set_frags(frame, pcap_frames, frags, max_frag)
        elif kernel is None and frame is not None:
            self._check_fits(func, len(frame.data))
        if self.c.func == F_PING:
            self.c.rtt_cap = rtt_samples
            self.c.rtt_samples = <uint64_t *>malloc(8 * rtt_samples) if rtt_samples else NULL
            if rtt_samples and self.c.rtt_samples == NULL:
                raise MemoryError()

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
        varies = any(lo != hi for (_, _, lo, hi, _, _) in fields) or any(randomize)
        self.c.vary = (varies or frame.min_len != frame.max_len
                       or self.c.func == F_TXSEQ or self.c.func == F_PING)

    def __dealloc__(self):
        free(self.c.tmpl)
        free(self.c.psum)
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
                "duplicated": self.c.dups, "short": self.c.short_pkts}

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

    def rtt(self):
        """All round trips: count, sum, min, max, log2 histogram, samples (ns)."""
        cdef uint64_t n = self.c.rtt_n if self.c.rtt_n < self.c.rtt_cap else self.c.rtt_cap
        samples = [self.c.rtt_samples[i] for i in range(n)] if self.c.rtt_samples != NULL else []
        return {"count": self.c.rtt_n, "sum": self.c.rtt_sum, "min": self.c.rtt_min,
                "max": self.c.rtt_max, "replies": self.c.replies,
                "hist": [self.c.rtt_hist[i] for i in range(RTT_BUCKETS)], "samples": samples}


def monotonic_ns():
    return now_ns()
