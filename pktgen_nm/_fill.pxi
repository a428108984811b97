# What goes into a TX slot: the template, its varying fields and checksums, pcap
# frames, fragments (included by _engine.pyx).

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
    """This packet's length: the template's, the next of an IMIX cycle, or random."""
    cdef uint32_t L
    if t.min_len == t.max_len:
        return t.max_len
    if t.nsizes:
        L = t.sizes[t.size_i]
        t.size_i += 1
        if t.size_i == t.nsizes:
            t.size_i = 0
        return L
    return t.min_len + <uint32_t>(xorshift(t) % (t.max_len - t.min_len + 1))


cdef void patch(pg_ctx *t, char *buf, uint32_t L, int with_seq, uint64_t ts) noexcept nogil:
    """Write this packet's varying fields and both checksums, then advance the
    odometer (sport, sip, dport, dip; least significant first)."""
    cdef uint64_t ip = t.ip_base, udp = t.udp_base, c, slot
    cdef uint32_t v, i, udp_len = L - t.udp_off
    cdef pg_field *f
    for i in range(<uint32_t>t.nf):
        f = &t.f[i]
        if f.flow:                      # packet.flow_slot / flow_value
            slot = t.index % t.flows + t.flows * (t.index // t.flows // t.flowlen)
            if f.random:
                slot = (slot * 0x9E3779B97F4A7C15ULL) >> 32
            v = f.lo + <uint32_t>(slot % (<uint64_t>f.hi - f.lo + 1))
        elif f.random:
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
    t.index += 1
    for i in range(<uint32_t>t.nf):     # the odometer
        f = &t.f[i]
        if f.random or f.flow or f.lo == f.hi:
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
    cdef uint64_t sent_at = now_ns() if t.stamp and with_seq else 0   # one per batch
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
                patch(t, buf, L, with_seq, now_ns() if ping else sent_at)
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
    cdef uint64_t sent_at = now_ns() if t.stamp and with_seq else 0
    for _ in range(n):
        if t.pcap_n:
            src = next_pcap(t, &L)
        else:
            L = pick_len(t)
            if t.vary:
                patch(t, t.scratch, L, with_seq, sent_at)
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
