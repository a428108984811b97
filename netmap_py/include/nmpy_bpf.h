/* bpf(2) for netmap_py and for extensions built against it (netmap_py.get_include(),
 * declared for Cython in netmap_py/bpf.pxd): the system call, maps, loading an XDP
 * program, and attaching it through a BPF link with the one fallback policy every
 * user of ours follows.  No libbpf.  Every function returns a value >= 0 or -errno. */
#ifndef NETMAP_PY_NMPY_BPF_H
#define NETMAP_PY_NMPY_BPF_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

static inline int nmpy_bpf(int cmd, union bpf_attr *attr)
{
    long rc = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
    return rc < 0 ? -errno : (int)rc;
}

static inline int nmpy_map_set(int map_fd, uint32_t key, uint32_t value)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_fd = map_fd;
    a.key = (uint64_t)(uintptr_t)&key;
    a.value = (uint64_t)(uintptr_t)&value;
    a.flags = BPF_ANY;
    return nmpy_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

/* Load an XDP program (insns: n instructions of 8 bytes); the fd or -errno.  With a
 * log buffer the verifier says why it refused. */
static inline int nmpy_prog_load(const void *insns, uint32_t n, const char *name,
                                 char *log, uint32_t log_size)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insn_cnt = n;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.license = (uint64_t)(uintptr_t)"Dual MIT/GPL";
    a.expected_attach_type = BPF_XDP;
    strncpy(a.prog_name, name, sizeof(a.prog_name) - 1);
    if (log && log_size) {
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = log_size;
        a.log_level = 1;
    }
    return nmpy_bpf(BPF_PROG_LOAD, &a);
}

/* Attach through a BPF link: closing the last fd (or dying) detaches the program. */
static inline int nmpy_xdp_link(int prog_fd, int ifindex, uint32_t xdp_flags)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.link_create.prog_fd = prog_fd;
    a.link_create.target_ifindex = ifindex;
    a.link_create.attach_type = BPF_XDP;
    a.link_create.flags = xdp_flags;
    return nmpy_bpf(BPF_LINK_CREATE, &a);
}

/* Attach prog_fd to ifindex through a BPF link.  native_first: native (driver)
 * mode first, generic (skb) mode where the driver refuses it; else generic only.
 * EBUSY (another program holds the interface) ends the attempt in either mode.
 * The link fd with *native saying which mode took it, or -errno. */
static inline int nmpy_xdp_attach(int prog_fd, int ifindex, int native_first, int *native)
{
    int rc;
    *native = 0;
    if (native_first) {
        rc = nmpy_xdp_link(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
        if (rc >= 0 || rc == -EBUSY) {
            *native = rc >= 0;
            return rc;
        }
    }
    return nmpy_xdp_link(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
}

#endif
