# One wait over several ports (netmap_py.wait): the backends' descriptors merged into
# one poll(), so that a loop over ports of different kinds, or over emulated ports
# of many rings, sleeps until any of them can move instead of waking up to look.

import time as _time


def wait(ports, int events=POLLIN, int timeout_ms=-1):
    """Sync every port and wait until at least one is ready for events (POLLIN,
    POLLOUT or both), at most timeout_ms (-1: no limit, 0: do not sleep).  ports is a
    sequence of open Ports, or of (Port, events) pairs for events per port.  Returns
    the ready ones, as (port, revents) pairs in the order given ([] on a timeout)."""
    cdef list items = []
    for item in ports:
        p, ev = item if isinstance(item, tuple) else (item, events)
        if not isinstance(p, Port):
            raise TypeError(f"wait() takes Ports (or (Port, events) pairs), not "
                            f"{type(p).__name__}")
        if not isinstance(ev, int) or ev & ~(POLLIN | POLLOUT) or not ev:
            raise ValueError(f"events={ev!r}: POLLIN, POLLOUT or both")
        items.append((p, ev))
    cdef int n = len(items)
    if n == 0:
        raise ValueError("wait() needs at least one port")
    cdef nmpy_port **cp = <nmpy_port **>calloc(n, sizeof(nmpy_port *))
    cdef int *ev_in = <int *>calloc(n, sizeof(int))
    cdef int *ev_out = <int *>calloc(n, sizeof(int))
    cdef int k, pinned = 0, rc = 0
    try:
        if cp == NULL or ev_in == NULL or ev_out == NULL:
            raise MemoryError()
        for k in range(n):
            (<Port>items[k][0]).pin("wait()")
            pinned += 1
            cp[k], ev_in[k] = &(<Port>items[k][0]).c, items[k][1]
        end = None if timeout_ms < 0 else _time.monotonic() + timeout_ms / 1000
        while True:
            with nogil:
                rc = nmpy_wait(cp, n, ev_in, ev_out, timeout_ms)
            if rc != -EINTR:
                break
            PyErr_CheckSignals()        # Ctrl-C raises here; other signals: go on
            if end is not None:
                timeout_ms = max(0, int((end - _time.monotonic()) * 1000))
        if rc < 0:
            _raise(-rc, "wait failed", ", ".join(str(p.spec) for p, _ in items))
        return [(items[k][0], ev_out[k]) for k in range(n) if ev_out[k]]
    finally:
        for k in range(pinned):
            (<Port>items[k][0]).unpin("wait()")
        free(cp)
        free(ev_in)
        free(ev_out)
