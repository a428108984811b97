# Our XDP redirect program on an interface: its XSKMAP, the program and the link,
# shared by the AF_XDP ports of this process on that interface (included by _xdp.pxi).

cdef class _XdpProgram:
    """Our redirect program on one interface: the XSKMAP, the program and the BPF
    link that attaches it.  Shared by every port of this process on that interface;
    closing the last reference (or the process dying) detaches it."""
    cdef public int map_fd, prog_fd, link_fd, refs, ifindex
    cdef public str mode
    cdef public object key              # (network namespace, ifindex)

    def __cinit__(self):
        self.map_fd = self.prog_fd = self.link_fd = -1

    cdef void drop(self):
        self.refs -= 1
        if self.refs <= 0:
            _xdp_programs.pop(self.key, None)
            for fd in (self.link_fd, self.prog_fd, self.map_fd):
                if fd >= 0:
                    close(fd)
            self.map_fd = self.prog_fd = self.link_fd = -1

    def __dealloc__(self):
        for fd in (self.link_fd, self.prog_fd, self.map_fd):
            if fd >= 0:
                close(fd)


cdef dict _xdp_programs = {}


cdef object _netns_key(int ifindex):
    """Interface indexes repeat across network namespaces (a thread may have entered
    another with setns): the namespace's inode tells them apart."""
    import os
    try:
        ns = os.stat("/proc/thread-self/ns/net").st_ino
    except OSError:
        ns = 0
    return (ns, ifindex)


cdef _XdpProgram _xdp_attach(object spec, int ifindex, int queues):
    key = _netns_key(ifindex)
    cdef _XdpProgram prog = _xdp_programs.get(key)
    if prog is not None:
        prog.refs += 1
        return prog
    prog = _XdpProgram.__new__(_XdpProgram)
    prog.ifindex = ifindex
    prog.key = key
    cdef int rc = nmpy_xskmap_create(queues if queues > 64 else 64)
    if rc < 0:
        _raise(-rc, _xdp_hint(-rc, "create the XSKMAP"), spec)
    prog.map_fd = rc
    cdef char log[4096]
    log[0] = 0
    rc = nmpy_xdp_prog_load(prog.map_fd, log, sizeof(log))
    if rc < 0:
        lines = log.decode(errors="replace").strip().splitlines() if log[0] else []
        _raise(-rc, _xdp_hint(-rc, "load the XDP program")
               + (": " + lines[len(lines) - 1] if lines else ""), spec)
    prog.prog_fd = rc
    cdef int native = 0
    rc = nmpy_xdp_attach(prog.prog_fd, ifindex, 1, &native)
    prog.mode = "native" if native else "generic"
    if rc < 0:
        if rc == -EBUSY:
            _raise(EBUSY, f"another XDP program is attached to {spec.name} (ip link show "
                   f"{spec.name}); detach it (ip link set {spec.name} xdp off) or use "
                   f"packet:{spec.name}", spec)
        _raise(-rc, _xdp_hint(-rc, "attach the XDP program"), spec)
    prog.link_fd = rc
    prog.refs = 1
    _xdp_programs[key] = prog
    return prog


cdef str _xdp_hint(int err, str what):
    from .advice import advice
    return advice("xdp", err, what)


cdef class _XdpHold:
    """Keeps the program attached while the port is open."""
    cdef _XdpProgram prog

    def release(self):
        if self.prog is not None:
            self.prog.drop()
            self.prog = None

    def __dealloc__(self):
        if self.prog is not None:
            self.prog.drop()
