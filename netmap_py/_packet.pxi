# The AF_PACKET backend (``packet:IF``): netmap rings in our own memory, moved to
# and from the kernel's PACKET_MMAP rings (Documentation/networking/packet_mmap.rst).
#
#   TX ring i  -> one socket with a TPACKET_V2 TX ring and PACKET_QDISC_BYPASS;
#                 txsync copies each slot into the next free frame, then one send().
#   RX ring i  -> one socket with a TPACKET_V3 RX ring (blocks of frames);
#                 rxsync copies each frame of a ready block into the next slot.
#                 The kernel hands a partly filled block over after 1 ms, which adds
#                 up to 1 ms of latency: ``rx_frames=True`` uses a TPACKET_V2 ring
#                 instead (one frame at a time, no timer) for ping/pong and bridges.
#                 Several RX rings join one PACKET_FANOUT (hash) group: a flow stays
#                 on one ring, as RSS keeps it on one queue.  (Queue-mapping mode
#                 would save the flow dissection a veth needs for the hash, but a
#                 veth's queue follows the sender's CPU, so it split flows: tried.)
#
# One copy each way: the kernel's frame layout (a tpacket header before every
# frame, frames in ring order) cannot follow netmap's buffer indices, which users
# may swap.  Port.copied_packets counts those copies.

cdef enum:
    PKT_MAX_RINGS = 64
    PKT_TX_SNDBUF = 16 << 20       # bytes of TX skbs in flight (SO_SNDBUFFORCE)
    PKT_VNET_HDR_LEN = 10          # struct virtio_net_hdr

cdef struct pkt_ring:
    int fd
    char *map
    size_t maplen
    uint32_t frame_size     # TX: bytes per frame
    uint32_t frame_nr       # TX: frames in the ring
    uint32_t frame_cur      # TX: next frame to fill
    uint32_t data_off       # TX: where the packet starts in a frame
    uint32_t vnet           # TX: bytes of virtio-net header before it (0 or 10)
    uint32_t user_vnet      # TX, RX: the slots carry that header themselves (-H 10)
    uint32_t block_size     # RX: bytes per block
    uint32_t block_nr       # RX: blocks in the ring
    uint32_t block_cur      # RX: block being read
    uint32_t pkts_left      # RX: packets left in that block
    int in_block            # RX: block_cur is ours until released
    int v2                  # RX: TPACKET_V2 frames instead of V3 blocks
    tpacket3_hdr *pkt       # RX: next packet in that block
    kring k


cdef struct pkt_priv:
    int ntx
    int nrx
    pkt_ring tx[PKT_MAX_RINGS]
    pkt_ring rx[PKT_MAX_RINGS]
    pollfd pfd[2 * PKT_MAX_RINGS]


cdef int _pkt_txsync_ring(nmpy_port *p, netmap_ring *r, pkt_ring *s) noexcept nogil:
    cdef int rc = _tx_reclaim(r, &s.k)
    if rc:
        return rc
    cdef uint32_t i = s.k.hwcur, j, head = r.head, total, L, st
    cdef uint32_t inner = 0 if s.user_vnet else s.vnet     # a header we write ourselves
    cdef uint32_t cap = s.frame_size - s.data_off - inner
    cdef char *data
    cdef char *frame
    cdef tpacket2_hdr *hdr
    cdef netmap_slot *slot
    cdef int queued = 0, full = 0
    cdef bint more, bad
    cdef char *buf
    while i != head:
        frame = s.map + <size_t>s.frame_cur * s.frame_size
        hdr = <tpacket2_hdr *>frame
        data = frame + s.data_off + inner
        st = nmpy_load_acquire(&hdr.tp_status)
        if st & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING):
            full = 1                    # the kernel has not sent this frame yet
            break
        # gather one packet (several slots when NS_MOREFRAG is set)
        total, j, more, bad = 0, i, False, False
        while True:
            slot = &r.slot[j]
            L = slot.len
            buf = nmpy_buf(p, r, slot.buf_idx, L)
            if buf == NULL:
                bad = True              # refused, as netmap's kernel refuses such slots
            elif total + L <= cap:
                memcpy(data + total, buf, L)
            total += L
            more = (slot.flags & NS_MOREFRAG) != 0
            slot.flags &= ~NS_BUF_CHANGED
            j = nm_ring_next(r, j)
            if not more or j == head:
                break
        if more:                        # the rest of the packet is not queued yet
            break
        i = j
        if bad:
            p.tx_invalid += 1
            continue
        if total > cap or total == 0:
            p.tx_dropped += 1
            continue
        if s.user_vnet:                 # the slot's own header; hdr_len 0 means "all"
            if total <= s.user_vnet:
                p.tx_dropped += 1
                continue
            if (<uint16_t *>(data + 2))[0] == 0:
                (<uint16_t *>(data + 2))[0] = <uint16_t>(total - s.user_vnet)
        elif s.vnet:                    # no offloads (the ring's pages come zeroed, and
            # only hdr_len is ever written): copy the whole frame
            (<uint16_t *>(frame + s.data_off + 2))[0] = <uint16_t>total    # hdr_len, host order
        hdr.tp_len = total + inner
        nmpy_store_release(&hdr.tp_status, TP_STATUS_SEND_REQUEST)
        s.frame_cur += 1
        if s.frame_cur == s.frame_nr:
            s.frame_cur = 0
        queued += 1
    s.k.hwcur = i
    s.k.hwtail = i - 1 if i else r.num_slots - 1
    r.tail = s.k.hwtail
    p.copied_pkts += queued
    if queued or full:
        if send(s.fd, NULL, 0, MSG_DONTWAIT) < 0:
            if errno != EAGAIN and errno != ENOBUFS and errno != EINTR:
                return -errno
    return 0


cdef int _pkt_txsync(nmpy_port *p) noexcept nogil:
    cdef pkt_priv *pp = <pkt_priv *>p.priv
    cdef int k, rc
    for k in range(pp.ntx):
        rc = _pkt_txsync_ring(p, NETMAP_TXRING(p.nifp, p.first_tx_ring + k), &pp.tx[k])
        if rc:
            return rc
    return 0


cdef int _pkt_deliver(netmap_ring *r, pkt_ring *s, uint32_t *jp, const char *data,
                      uint32_t L, bint cut) noexcept nogil:
    """Copy one frame into the slots from *jp on (several slots with NS_MOREFRAG
    when it is longer than a buffer); 0 when there is no room for it yet, 2 when
    it went in cut (the kernel kept less than the wire had), else 1."""
    cdef uint32_t j = jp[0], off = 0, chunk, bufsz = r.nr_buf_size
    cdef uint32_t need = (L + bufsz - 1) // bufsz if L else 1
    cdef uint32_t room = (s.k.hwcur + r.num_slots - j - 1) % r.num_slots
    cdef netmap_slot *slot
    if need > room:
        return 0
    while True:
        chunk = L - off if L - off < bufsz else bufsz
        slot = &r.slot[j]
        memcpy(NETMAP_BUF(r, slot.buf_idx), data + off, chunk)
        slot.len = chunk
        off += chunk
        slot.flags = NS_MOREFRAG if off < L else 0
        j = nm_ring_next(r, j)
        if off >= L:
            break
    jp[0] = j
    return 2 if cut else 1


cdef int _pkt_rxsync_ring(nmpy_port *p, netmap_ring *r, pkt_ring *s) noexcept nogil:
    cdef int rc = _rx_release(r, &s.k)
    if rc:
        return rc
    cdef uint32_t j = s.k.hwtail
    cdef tpacket_block_desc *blk
    cdef tpacket3_hdr *pkt
    cdef tpacket2_hdr *h2
    if s.v2:
        while True:
            h2 = <tpacket2_hdr *>(s.map + <size_t>s.frame_cur * s.frame_size)
            if not (nmpy_load_acquire(&h2.tp_status) & TP_STATUS_USER):
                break
            rc = _pkt_deliver(r, s, &j, <char *>h2 + h2.tp_mac - s.user_vnet,
                              h2.tp_snaplen + s.user_vnet, h2.tp_snaplen < h2.tp_len)
            if rc == 0:
                break
            p.copied_pkts += 1
            p.rx_truncated += rc == 2
            nmpy_store_release(&h2.tp_status, TP_STATUS_KERNEL)
            s.frame_cur += 1
            if s.frame_cur == s.frame_nr:
                s.frame_cur = 0
    else:
        while True:
            if not s.in_block:
                blk = <tpacket_block_desc *>(s.map + <size_t>s.block_cur * s.block_size)
                if not (nmpy_load_acquire(&blk.hdr.bh1.block_status) & TP_STATUS_USER):
                    break
                s.in_block = 1
                s.pkts_left = blk.hdr.bh1.num_pkts
                s.pkt = <tpacket3_hdr *>(<char *>blk + blk.hdr.bh1.offset_to_first_pkt)
            if s.pkts_left == 0:            # hand the block back to the kernel
                blk = <tpacket_block_desc *>(s.map + <size_t>s.block_cur * s.block_size)
                nmpy_store_release(&blk.hdr.bh1.block_status, TP_STATUS_KERNEL)
                s.in_block = 0
                s.block_cur += 1
                if s.block_cur == s.block_nr:
                    s.block_cur = 0
                continue
            pkt = s.pkt
            rc = _pkt_deliver(r, s, &j, <char *>pkt + pkt.tp_mac - s.user_vnet,
                              pkt.tp_snaplen + s.user_vnet, pkt.tp_snaplen < pkt.tp_len)
            if rc == 0:
                break                       # wait until the user releases slots
            p.copied_pkts += 1
            p.rx_truncated += rc == 2
            s.pkts_left -= 1
            s.pkt = <tpacket3_hdr *>(<char *>pkt + pkt.tp_next_offset)
    s.k.hwtail = j
    r.tail = j
    gettimeofday(&r.ts, NULL)
    return 0


cdef int _pkt_rxsync(nmpy_port *p) noexcept nogil:
    cdef pkt_priv *pp = <pkt_priv *>p.priv
    cdef int k, rc
    for k in range(pp.nrx):
        rc = _pkt_rxsync_ring(p, NETMAP_RXRING(p.nifp, p.first_rx_ring + k), &pp.rx[k])
        if rc:
            return rc
    return 0


cdef int _pkt_fds(nmpy_port *p, int events, pollfd *out, int room) noexcept nogil:
    """The ring sockets a wait for events sleeps on."""
    cdef pkt_priv *pp = <pkt_priv *>p.priv
    cdef int k, n = 0
    if events & POLLOUT:
        for k in range(pp.ntx):
            if n < room:
                out[n].fd, out[n].events = pp.tx[k].fd, POLLOUT
                n += 1
    if events & POLLIN:
        for k in range(pp.nrx):
            if n < room:
                out[n].fd, out[n].events = pp.rx[k].fd, POLLIN
                n += 1
    return n


cdef int _pkt_poll(nmpy_port *p, int events, int timeout_ms) noexcept nogil:
    cdef pkt_priv *pp = <pkt_priv *>p.priv
    return _emu_poll(p, events, timeout_ms, pp.pfd, _pkt_fds(p, events, pp.pfd,
                                                             2 * PKT_MAX_RINGS))


cdef void _pkt_close_ring(pkt_ring *s) noexcept nogil:
    if s.map != NULL:
        munmap(s.map, s.maplen)
        s.map = NULL
    if s.fd >= 0:
        close(s.fd)
        s.fd = -1


cdef void _pkt_destroy(nmpy_port *p) noexcept nogil:
    cdef pkt_priv *pp = <pkt_priv *>p.priv
    cdef int k
    if pp == NULL:
        return
    for k in range(pp.ntx):
        _pkt_close_ring(&pp.tx[k])
    for k in range(pp.nrx):
        _pkt_close_ring(&pp.rx[k])
    free(pp)
    p.priv = NULL


cdef int _setopt(int fd, int level, int name, int value) noexcept nogil:
    return setsockopt(fd, level, name, &value, sizeof(int))


cdef int _pkt_socket(int *fd_out) noexcept nogil:
    cdef int fd = socket(AF_PACKET, SOCK_RAW | 0x80000, 0)     # SOCK_CLOEXEC
    if fd < 0:
        return -errno
    fd_out[0] = fd
    return 0


cdef int _pkt_bind(int fd, int ifindex, int proto) noexcept nogil:
    cdef sockaddr_ll sll
    memset(&sll, 0, sizeof(sll))
    sll.sll_family = AF_PACKET
    sll.sll_protocol = htons(proto)
    sll.sll_ifindex = ifindex
    if bind(fd, <sockaddr *>&sll, sizeof(sll)) < 0:
        return -errno
    return 0


cdef uint32_t _pow2_at_least(uint32_t x) noexcept nogil:
    cdef uint32_t v = 1
    while v < x:
        v <<= 1
    return v


cdef int _pkt_open_tx(pkt_ring *s, int ifindex, uint32_t frames, uint32_t max_frame,
                      uint32_t user_vnet) noexcept nogil:
    cdef int rc = _pkt_socket(&s.fd)
    if rc:
        return rc
    if _setopt(s.fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2) < 0:
        return -errno
    _setopt(s.fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1)      # best effort, as trafgen
    # A virtio-net header in front of each frame lets us say how many bytes the kernel
    # copies into the socket buffer: all of them.  Without it the kernel copies the
    # Ethernet header and points the skb at the ring's pages for the rest, and every
    # device that must own its data (veth, bridges, tunnels) then allocates a page
    # and copies the frame again (skb_copy_ubufs).  Best effort.
    s.vnet = PKT_VNET_HDR_LEN if _setopt(s.fd, SOL_PACKET, PACKET_VNET_HDR, 1) == 0 else 0
    if user_vnet:                       # -H 10: the slots bring their own header
        if not s.vnet:
            return -errno
        s.user_vnet = user_vnet
    # room for a whole ring of packets in flight: with the default send buffer (about
    # 200 KiB, some 270 small frames) send() stops early and must be called again
    if _setopt(s.fd, SOL_SOCKET, SO_SNDBUFFORCE, PKT_TX_SNDBUF) < 0:
        _setopt(s.fd, SOL_SOCKET, SO_SNDBUF, PKT_TX_SNDBUF)
    s.data_off = TPACKET2_HDRLEN - sizeof(sockaddr_ll)
    s.frame_size = _pow2_at_least(max_frame + s.data_off + s.vnet)
    if s.frame_size < 2048:
        s.frame_size = 2048
    cdef tpacket_req req
    req.tp_frame_size = s.frame_size
    req.tp_block_size = s.frame_size if s.frame_size > 65536 else 65536
    req.tp_frame_nr = frames
    req.tp_block_nr = (frames * <size_t>s.frame_size + req.tp_block_size - 1) // req.tp_block_size
    req.tp_frame_nr = req.tp_block_nr * (req.tp_block_size // s.frame_size)
    s.frame_nr = req.tp_frame_nr
    if setsockopt(s.fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof(req)) < 0:
        return -errno
    s.maplen = <size_t>req.tp_block_size * req.tp_block_nr
    cdef void *m = mmap(NULL, s.maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s.fd, 0)
    if m == MAP_FAILED:
        return -errno
    s.map = <char *>m
    return _pkt_bind(s.fd, ifindex, 0)


cdef struct pkt_layout:
    # how an AF_PACKET port's kernel rings are laid out
    uint32_t buf_size               # our buffers
    uint32_t max_frame              # the largest frame: MTU + Ethernet header
    uint32_t block_size, block_nr   # the kernel's RX ring (TPACKET_V3 blocks)
    bint v2                         # RX frame by frame (TPACKET_V2) instead
    uint32_t vnet_hdr               # -H 10: a virtio-net header before each frame


cdef int _layout_of(layout, pkt_layout *lay) except -1:
    """The C side of netmap_py._PacketLayout."""
    lay.buf_size, lay.max_frame = layout.buf_size, layout.max_frame
    lay.block_size, lay.block_nr = layout.rx_block_kb * 1024, layout.rx_blocks
    lay.v2, lay.vnet_hdr = layout.rx_frames, layout.vnet_hdr
    return 0


cdef int _pkt_open_rx(pkt_ring *s, int ifindex, const pkt_layout *lay, int fanout_id,
                      bint fanout) noexcept nogil:
    cdef uint32_t block_size = lay.block_size, block_nr = lay.block_nr
    cdef uint32_t max_frame = lay.max_frame, user_vnet = lay.vnet_hdr
    cdef bint v2 = lay.v2
    cdef int rc = _pkt_socket(&s.fd)
    if rc:
        return rc
    if _setopt(s.fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2 if v2 else TPACKET_V3) < 0:
        return -errno
    if user_vnet:                       # -H 10: the kernel writes the header before each frame
        if _setopt(s.fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0:
            return -errno
        s.user_vnet = user_vnet
    _setopt(s.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)   # our own TX is not RX
    cdef tpacket_req3 req
    memset(&req, 0, sizeof(req))
    req.tp_block_size = block_size
    req.tp_block_nr = block_nr
    req.tp_frame_size = 2048
    if v2:                              # frames big enough for the MTU, and headers
        s.v2 = 1
        req.tp_frame_size = _pow2_at_least(max_frame + 128)
        if req.tp_frame_size > block_size:
            req.tp_block_size = block_size = req.tp_frame_size
            req.tp_block_nr = block_nr = (block_nr * 65536) // block_size or 1
        s.frame_size = req.tp_frame_size
    req.tp_frame_nr = (block_size // req.tp_frame_size) * block_nr
    s.frame_nr = req.tp_frame_nr
    req.tp_retire_blk_tov = 1           # V3, ms: a partly filled block waits at most this
    if setsockopt(s.fd, SOL_PACKET, PACKET_RX_RING, &req,
                  sizeof(tpacket_req) if v2 else sizeof(req)) < 0:
        return -errno
    s.block_size, s.block_nr = block_size, block_nr
    s.maplen = <size_t>block_size * block_nr
    cdef void *m = mmap(NULL, s.maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s.fd, 0)
    if m == MAP_FAILED:
        return -errno
    s.map = <char *>m
    rc = _pkt_bind(s.fd, ifindex, ETH_P_ALL)
    if rc:
        return rc
    if fanout and _setopt(s.fd, SOL_PACKET, PACKET_FANOUT,
                          (fanout_id & 0xffff) | (PACKET_FANOUT_HASH << 16)) < 0:
        return -errno
    return 0


def open_packet(spec, plan, layout, str reason, place=None):
    """Open rings [first, first+count) of plan's interface (plan.info.ifindex, nrings
    rings) laid out as layout (netmap_py._PacketLayout) says, in the port's own region
    or at place=(region, index)."""
    cdef ring_span sp
    cdef pkt_layout lay
    _span_of(plan, &sp)
    _layout_of(layout, &lay)
    cdef int ifindex = plan.info.ifindex, nrings = sp.nrings, first = sp.first
    cdef int count = sp.count
    cdef uint32_t slots = sp.slots, max_frame = lay.max_frame, vnet_hdr = lay.vnet_hdr
    cdef bint tx = sp.tx, rx = sp.rx
    if count < 1 or count > PKT_MAX_RINGS or first + count > nrings:
        raise ValueError(f"ring range {first}..{first + count - 1} is not within 0..{nrings - 1}")
    cdef Port port = _new_port(spec, "packet", reason)
    cdef netmap_if *nifp0
    cdef _Region reg = _take_region(place, spec.name, &sp, lay.buf_size, 0, &nifp0)
    cdef pkt_priv *pp = <pkt_priv *>calloc(1, sizeof(pkt_priv))
    if pp == NULL:
        reg._release()
        raise MemoryError()
    port.c.priv = pp
    port.c.destroy = _pkt_destroy
    port.c.nifp = nifp0
    cdef int k, rc = 0
    cdef int fanout_id = (getpid() * 31 + ifindex) & 0xffff
    for k in range(PKT_MAX_RINGS):
        pp.tx[k].fd = pp.rx[k].fd = -1
    try:
        if tx:
            for k in range(count):
                pp.tx[k].k.hwcur, pp.tx[k].k.hwtail = 0, slots - 1
                pp.ntx += 1
                rc = _pkt_open_tx(&pp.tx[k], ifindex, slots, max_frame, vnet_hdr)
                if rc:
                    _raise(-rc, _pkt_hint(-rc, "TX ring"), spec)
        if rx:
            for k in range(count):
                pp.nrx += 1
                rc = _pkt_open_rx(&pp.rx[k], ifindex, &lay, fanout_id, nrings > 1)
                if rc:
                    _raise(-rc, _pkt_hint(-rc, "RX ring"), spec)
    except BaseException:
        _pkt_destroy(&port.c)
        reg._release()
        raise
    # unbound rings keep offset 0, as netmap marks them (facts 1.5)
    _bind_range(&port.c, nrings, first, count, tx, rx)
    port.c.fd = pp.rx[0].fd if rx else pp.tx[0].fd
    port.c.txsync, port.c.rxsync, port.c.poll = _pkt_txsync, _pkt_rxsync, _pkt_poll
    port.c.fds = _pkt_fds
    port.zero_copy = False
    _opened(port, reg)
    return port


cdef str _pkt_hint(int err, str what):
    from .advice import advice
    return advice("packet", err, what)


def packet_stats(Port port):
    """Kernel counters of the RX sockets since the last call: (packets, drops)."""
    port._check_open()
    if port.backend != "packet":
        raise ValueError("packet_stats() needs a packet: port")
    cdef pkt_priv *pp = <pkt_priv *>port.c.priv
    cdef tpacket_stats_v3 st
    cdef socklen_t sl
    cdef uint64_t pkts = 0, drops = 0
    cdef int k
    for k in range(pp.nrx):
        sl = sizeof(st)
        if getsockopt(pp.rx[k].fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) < 0:
            _raise(errno, "cannot read the AF_PACKET ring statistics", port.spec)
        pkts += st.tp_packets
        drops += st.tp_drops
    return pkts, drops
