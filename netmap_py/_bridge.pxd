# cython: language_level=3
"""The bridge for cimport: the per-packet C hook type and the Bridge's C side."""
from libc.stdint cimport uint16_t, uint32_t, uint64_t
from netmap_py._core cimport Port, nmpy_port

# return 1 to forward the frame at buf (len bytes), 0 to drop it
ctypedef int (*nmpy_filter_fn)(const char *buf, uint32_t len, void *arg) noexcept nogil

cdef struct br_dir:
    uint64_t pkts, bytes, batches, dropped

cdef struct br_ctx:
    nmpy_port *p[2]
    int zc                          # swap buffers (one region) instead of copying
    uint32_t burst
    br_dir d[2]                     # d[0]: port a -> port b, d[1]: the other way
    nmpy_filter_fn filter
    void *filter_arg
    int cancel, error

cdef class Bridge:
    cdef br_ctx c
    cdef readonly Port a, b
    cdef readonly bint zero_copy
    cdef object callback
    cdef uint16_t _udp_port
    cdef void set_c_filter(self, nmpy_filter_fn fn, void *arg)
    cdef _run_with_callback(self, int timeout_ms)
