# The per-function loops (tx, rx, ping, pong) over the rings, without the GIL, and
# what they share: stop checks, error keeping, pacing, sequence checks, capture
# (included by _engine.pyx).

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
    """How many packets may leave now to stay on the rate (all that are due, up to a
    burst); when none may, sleeps until the next is due (at most 1 ms).  The sleep
    ends late by the timer's slack (tens of microseconds), so at high rates each wake
    sends the few packets that fell due meanwhile: the rate holds on average and at
    fine grain, and the thread does not spin one system call per packet."""
    cdef uint64_t due = <uint64_t>((now - t.start_ns) * 1e-9 * t.rate) + 1
    cdef uint64_t next_at
    if due > sent:
        return <int>(due - sent) if due - sent < t.burst else <int>t.burst
    next_at = t.start_ns + <uint64_t>(sent * 1e9 / t.rate)
    if next_at > now:
        sleep_ns(next_at - now if next_at - now < 1000000 else 1000000)
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


cdef inline uint32_t udp_payload(pg_ctx *t, const char *buf, uint32_t L) noexcept nogil:
    """Where a frame's UDP payload starts (after pkt-gen's fixed IPv4 or IPv6 header,
    past up to two VLAN tags and an MPLS label stack), 0 if the frame is not IPv4/IPv6
    UDP (a neighbour's ARP, ICMPv6 or IGMP)."""
    cdef const uint8_t *u = <const uint8_t *>buf
    cdef uint32_t off = t.vhdr + 12, n = 0
    while off + 2 <= L and n < 2 and (u[off] == 0x81 and u[off + 1] == 0x00 or
                                      u[off] == 0x88 and u[off + 1] == 0xa8 or
                                      u[off] == 0x91 and u[off + 1] == 0x00):
        off += 4                        # a tag: its TPID, TCI, then the next type
        n += 1
    if off + 2 > L:
        return 0
    if u[off] == 0x88 and u[off + 1] == 0x47:
        off += 2
        n = 0
        while off + 4 <= L and n < 16:  # labels to the bottom of the stack
            off += 4
            n += 1
            if u[off - 2] & 1:
                break
        if off + 1 > L or u[off - 2] & 1 == 0:
            return 0
        if u[off] >> 4 == 4:
            return off + 20 + 8 if L >= off + 20 and u[off + 9] == 17 else 0
        if u[off] >> 4 == 6:
            return off + 40 + 8 if L >= off + 40 and u[off + 6] == 17 else 0
        return 0
    if u[off] == 0x08 and u[off + 1] == 0x00:
        off += 2
        return off + 20 + 8 if L >= off + 20 and u[off + 9] == 17 else 0
    if u[off] == 0x86 and u[off + 1] == 0xdd:
        off += 2
        return off + 40 + 8 if L >= off + 40 and u[off + 6] == 17 else 0
    return 0


cdef inline void seq_check(pg_ctx *t, const char *buf, uint32_t L, uint64_t now) noexcept nogil:
    """rxseq: one frame's sequence number against the expected one, and with stamps
    (now: this batch's arrival time) its latency.  Frames that are not UDP are
    someone else's: counted apart (other), not as ours."""
    cdef uint32_t off = udp_payload(t, buf, L), s, d
    if off == 0:
        t.other_pkts += 1
        return
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
    if now:
        one_way(t, buf + off, L - off, now)


cdef inline void one_way(pg_ctx *t, const char *payload, uint32_t room, uint64_t now) noexcept nogil:
    """The send time txseq wrote after the sequence number, and this frame's latency
    from it (frames without a plausible one are not counted)."""
    cdef uint64_t sent
    if room < 12:
        return
    sent = (<uint64_t>get32(payload + 4) << 32) | get32(payload + 8)
    if sent and sent <= now and now - sent < 10000000000ULL:
        rtt_record(t, now - sent)


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
    cdef uint64_t now = now_ns() if check and t.stamp else 0   # one arrival time a batch
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
                seq_check(t, NETMAP_BUF(r, slot.buf_idx), slot.len, now)
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
    cdef uint32_t off = udp_payload(t, buf, L)
    return off if off and L >= off + 12 else 0


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
