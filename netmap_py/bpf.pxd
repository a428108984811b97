# cython: language_level=3
"""bpf(2) as netmap_py does it (netmap_py/include/nmpy_bpf.h), for cimport by
pktgen_nm and users' own Cython code: build with include_dirs=[netmap_py.get_include()].
Every function returns a value >= 0 (an fd, 0) or -errno."""
from libc.stdint cimport uint32_t


cdef extern from "nmpy_bpf.h" nogil:
    int nmpy_map_set(int map_fd, uint32_t key, uint32_t value)
    int nmpy_prog_load(const void *insns, uint32_t n, const char *name, char *log,
                       uint32_t log_size)
    int nmpy_xdp_link(int prog_fd, int ifindex, uint32_t xdp_flags)
    # native_first: native mode, else generic; EBUSY is final; *native says which
    int nmpy_xdp_attach(int prog_fd, int ifindex, int native_first, int *native)
