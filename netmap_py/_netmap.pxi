# The netmap backend (``netmap:IF``, ``valeX:Y``, pipes): /dev/netmap, NIOCCTRL
# with NETMAP_REQ_REGISTER, one mmap per memory region shared by every port of
# that region in this process, NIOCTXSYNC / NIOCRXSYNC / poll().

cdef int _nm_txsync(nmpy_port *p) noexcept nogil:
    if ioctl(p.fd, NIOCTXSYNC) < 0:
        return -errno
    return 0


cdef int _nm_rxsync(nmpy_port *p) noexcept nogil:
    if ioctl(p.fd, NIOCRXSYNC) < 0:
        return -errno
    return 0


cdef int _nm_poll(nmpy_port *p, int events, int timeout_ms) noexcept nogil:
    cdef pollfd pfd
    pfd.fd, pfd.events, pfd.revents = p.fd, <short>events, 0
    cdef int rc = poll(&pfd, 1, timeout_ms)
    if rc < 0:
        return -errno
    if pfd.revents & POLLERR:
        return -ENXIO
    return pfd.revents


cdef int _nm_fds(nmpy_port *p, int events, pollfd *out, int room) noexcept nogil:
    """netmap's one descriptor covers every ring the port binds."""
    if room < 1:
        return 0
    out[0].fd, out[0].events = p.fd, <short>events
    return 1


cdef void _nm_destroy(nmpy_port *p) noexcept nogil:
    if p.fd >= 0:
        close(p.fd)
        p.fd = -1


cdef str _nm_hint(int err, str name, str what):
    """What the user should do, for an errno from /dev/netmap (netmap_py.advice)."""
    from .advice import advice
    if what == "open":
        other = ("" if name.startswith("vale") or "{" in name or "}" in name else
                 f", or use xdp:{name} or packet:{name}")    # VALE and pipes exist only in netmap
        return advice("netmap-open", err, name=name, other=other)
    return advice("netmap", err, what, name)


cdef int _nm_ctrl(int fd, nmreq_header *hdr) noexcept nogil:
    if ioctl(fd, NIOCCTRL, hdr) < 0:
        return -errno
    return 0


cdef int _nm_open_dev(object spec) except -1:
    cdef int fd = open(b"/dev/netmap", O_RDWR | O_CLOEXEC)
    if fd < 0:
        _raise(errno, _nm_hint(errno, spec.name, "open"), spec)
    return fd


cdef int _nm_mem_id_of(object share_spec) except -1:
    """mem_id of an existing port (PORT_INFO_GET does not register it)."""
    cdef int fd = _nm_open_dev(share_spec)
    cdef nmreq_header hdr
    cdef nmreq_port_info_get info
    memset(&hdr, 0, sizeof(hdr))
    memset(&info, 0, sizeof(info))
    hdr.nr_version = NETMAP_API
    hdr.nr_reqtype = NETMAP_REQ_PORT_INFO_GET
    strncpy(hdr.nr_name, share_spec.name.encode(), 63)
    hdr.nr_body = <uint64_t>&info
    cdef int rc = _nm_ctrl(fd, &hdr)
    close(fd)
    if rc:
        _raise(-rc, _nm_hint(-rc, share_spec.name, "info"), share_spec)
    return info.nr_mem_id


def open_netmap(spec, uint64_t extra_flags=0, str reason="", share_spec=None, conf=None):
    """Register ``spec`` with the netmap module and map its region.  ``conf``: ring
    and slot counts (``PortSpec.conf()`` with open()'s defaults); netmap takes them
    for the ports an open creates (VALE ports, pipes)."""
    cdef Port port = _new_port(spec, "netmap", reason)
    cdef nmreq_header hdr
    cdef nmreq_register reg
    memset(&hdr, 0, sizeof(hdr))
    memset(&reg, 0, sizeof(reg))
    name = spec.name.encode()
    if len(name) > 63:
        raise ValueError(f"bad port name {spec.text!r}: name too long")
    hdr.nr_version = NETMAP_API
    hdr.nr_reqtype = NETMAP_REQ_REGISTER
    strncpy(hdr.nr_name, name, 63)
    hdr.nr_body = <uint64_t>&reg
    reg.nr_mode = spec.mode
    reg.nr_ringid = spec.ringid
    reg.nr_flags = spec.flags | extra_flags
    reg.nr_mem_id = spec.mem_id
    conf = spec.conf() if conf is None else conf
    reg.nr_tx_slots = conf.get("tx_slots", 0)
    reg.nr_rx_slots = conf.get("rx_slots", 0)
    reg.nr_tx_rings = conf.get("tx_rings", 0)
    reg.nr_rx_rings = conf.get("rx_rings", 0)
    reg.nr_host_tx_rings = conf.get("host_tx_rings", 0)
    reg.nr_host_rx_rings = conf.get("host_rx_rings", 0)
    cdef int shared_id
    if share_spec is not None:
        shared_id = _nm_mem_id_of(share_spec)
        if spec.mem_id and spec.mem_id != shared_id:
            raise OSError(_errno.EINVAL, f"@share={share_spec.text} is in memory region "
                          f"{shared_id}, not @{spec.mem_id}: drop one of them", spec.text)
        reg.nr_mem_id = shared_id
    if spec.option("extmem") is not None:
        raise OSError(_errno.EOPNOTSUPP, "@extmem is not supported by netmap_py yet", spec.text)
    cdef int fd = _nm_open_dev(spec)
    port.c.fd = fd
    port.c.destroy = _nm_destroy
    cdef int rc = _nm_ctrl(fd, &hdr)
    if rc:
        _nm_destroy(&port.c)
        _raise(-rc, _nm_hint(-rc, spec.name, "register"), spec)
    # one mapping per memory region, shared by the ports of this process
    cdef _Region region = _netmap_regions.get(reg.nr_mem_id)
    cdef void *m
    if region is None or region.size != reg.nr_memsize:
        m = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        if m == MAP_FAILED:
            err = errno
            _nm_destroy(&port.c)
            _raise(err, f"cannot map the netmap region ({reg.nr_memsize} bytes)", spec)
        region = _Region.__new__(_Region)
        region.mem, region.size, region.refs = <char *>m, reg.nr_memsize, 0
        region.mem_id, region.registry = reg.nr_mem_id, _netmap_regions
        _netmap_regions[reg.nr_mem_id] = region
    region.refs += 1
    port.c.nifp = <netmap_if *>(region.mem + reg.nr_offset)
    _nm_ring_ranges(&port.c)
    port.c.txsync, port.c.rxsync, port.c.poll = _nm_txsync, _nm_rxsync, _nm_poll
    port.c.fds = _nm_fds
    port.zero_copy = True
    _opened(port, region)
    return port


def netmap_port_hdr(Port port, int set_len=-1):
    """The virtio-net header length of a registered netmap port (PORT_HDR_GET), or set
    it first (PORT_HDR_SET, set_len >= 0), as pkt-gen's -H does."""
    cdef nmreq_header hdr
    cdef nmreq_port_hdr body
    if port.backend != "netmap" or port.c.fd < 0:
        raise ValueError("netmap_port_hdr() needs an open netmap port")
    memset(&hdr, 0, sizeof(hdr))
    memset(&body, 0, sizeof(body))
    hdr.nr_version = NETMAP_API
    strncpy(hdr.nr_name, port.spec.name.encode(), 63)
    hdr.nr_body = <uint64_t>&body
    if set_len >= 0:
        hdr.nr_reqtype = NETMAP_REQ_PORT_HDR_SET
        body.nr_hdr_len = set_len
    else:
        hdr.nr_reqtype = NETMAP_REQ_PORT_HDR_GET
    cdef int rc = _nm_ctrl(port.c.fd, &hdr)
    if rc:
        _raise(-rc, f"cannot {'set' if set_len >= 0 else 'read'} the virtio-net header length "
               f"of {port.spec.name} ({_os.strerror(-rc)}); netmap takes it on VALE ports",
               port.spec)
    return body.nr_hdr_len


cdef void _nm_ring_ranges(nmpy_port *p) noexcept nogil:
    """First contiguous run of bound rings in each direction (facts 2.6)."""
    cdef netmap_if *nifp = p.nifp
    cdef int ntx = nifp.ni_tx_rings + nifp.ni_host_tx_rings
    cdef int nrx = nifp.ni_rx_rings + nifp.ni_host_rx_rings
    cdef int i, first, last
    first, last = ntx, ntx - 1
    for i in range(ntx):
        if nifp.ring_ofs[i] != 0:
            first = i
            last = i
            while last + 1 < ntx and nifp.ring_ofs[last + 1] != 0:
                last += 1
            break
    p.first_tx_ring, p.last_tx_ring = first, last
    first, last = nrx, nrx - 1
    for i in range(nrx):
        if nifp.ring_ofs[ntx + i] != 0:
            first = i
            last = i
            while last + 1 < nrx and nifp.ring_ofs[ntx + last + 1] != 0:
                last += 1
            break
    p.first_rx_ring, p.last_rx_ring = first, last
