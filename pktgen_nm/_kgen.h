/* The kernel engine's system calls: a state map, the generated XDP program, and
 * BPF_PROG_RUN over a template, with live frames (transmitted) or once (a test run
 * that hands the rewritten frame back).  bpf() as netmap_py does it (its public
 * nmpy_bpf.h, through netmap_py.get_include()). */
#ifndef PKTGEN_NM_KGEN_H
#define PKTGEN_NM_KGEN_H

#include "nmpy_bpf.h"

/* One element, mmapable, so the counters are read without a system call. */
static inline int kgen_map_create(uint32_t value_size)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = value_size;
    a.max_entries = 1;
    a.map_flags = BPF_F_MMAPABLE;
    strncpy(a.map_name, "nmpy_kgen", sizeof(a.map_name) - 1);
    return nmpy_bpf(BPF_MAP_CREATE, &a);
}

static inline int kgen_prog_load(const void *insns, uint32_t n, char *log, uint32_t log_size)
{
    return nmpy_prog_load(insns, n, "nmpy_kgen", log, log_size);
}

/* struct xdp_md as BPF_PROG_RUN takes it: data_end must equal the frame size.  No
 * ingress interface: the kernel then uses the loopback device, which is how the
 * program tells our frames from packets received where it is parked. */
struct kgen_md {
    uint32_t data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

/* Run the program `repeat` times over copies of frame and transmit the results.
 * 0 or -errno. */
static inline int kgen_run_live(int prog_fd, const void *frame, uint32_t len,
                                uint32_t repeat, uint32_t batch)
{
    struct kgen_md md;
    union bpf_attr a;
    memset(&md, 0, sizeof(md));
    md.data_end = len;
    memset(&a, 0, sizeof(a));
    a.test.prog_fd = prog_fd;
    a.test.data_in = (uint64_t)(uintptr_t)frame;
    a.test.data_size_in = len;
    a.test.ctx_in = (uint64_t)(uintptr_t)&md;
    a.test.ctx_size_in = sizeof(md);
    a.test.repeat = repeat;
    a.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    a.test.batch_size = batch;
    return nmpy_bpf(BPF_PROG_TEST_RUN, &a);
}

/* Run once, without transmitting: the verdict in *retval, the frame in out.
 * The output length, or -errno. */
static inline int kgen_run_once(int prog_fd, const void *frame, uint32_t len,
                                void *out, uint32_t out_size, uint32_t *retval)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.test.prog_fd = prog_fd;
    a.test.data_in = (uint64_t)(uintptr_t)frame;
    a.test.data_size_in = len;
    a.test.data_out = (uint64_t)(uintptr_t)out;
    a.test.data_size_out = out_size;
    a.test.repeat = 1;
    int rc = nmpy_bpf(BPF_PROG_TEST_RUN, &a);
    if (rc < 0)
        return rc;
    *retval = a.test.retval;
    return (int)a.test.data_size_out;
}
#endif
