/* netmap_py's AF_XDP plumbing: our redirect program and its XSKMAP (loaded and
 * attached through nmpy_bpf.h: no libbpf, no clang), and the four
 * single-producer/single-consumer rings of an XDP socket
 * (Documentation/networking/af_xdp.rst).  Used by _xdp.pxi. */
#ifndef NETMAP_PY_XDP_H
#define NETMAP_PY_XDP_H

#include "nmpy_bpf.h"
#include <linux/if_xdp.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

/* An XSKMAP with one entry per queue: where the program sends each queue's frames. */
static inline int nmpy_xskmap_create(uint32_t entries)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_XSKMAP;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = entries;
    strncpy(a.map_name, "nmpy_xsks", sizeof(a.map_name) - 1);
    return nmpy_bpf(BPF_MAP_CREATE, &a);
}

/* The program, five instructions:
 *   r2 = ctx->rx_queue_index
 *   r1 = map (ld_imm64, map fd)
 *   r3 = XDP_PASS           (what bpf_redirect_map returns when the slot is empty)
 *   call bpf_redirect_map
 *   exit                    */
static inline int nmpy_xdp_prog_load(int map_fd, char *log, uint32_t log_size)
{
    struct bpf_insn insns[6];
    memset(insns, 0, sizeof(insns));
    insns[0].code = BPF_LDX | BPF_MEM | BPF_W;
    insns[0].dst_reg = BPF_REG_2;
    insns[0].src_reg = BPF_REG_1;
    insns[0].off = 16;                          /* offsetof(struct xdp_md, rx_queue_index) */
    insns[1].code = BPF_LD | BPF_DW | BPF_IMM;
    insns[1].dst_reg = BPF_REG_1;
    insns[1].src_reg = BPF_PSEUDO_MAP_FD;
    insns[1].imm = map_fd;                      /* insns[2] is the upper half: 0 */
    insns[3].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[3].dst_reg = BPF_REG_3;
    insns[3].imm = XDP_PASS;
    insns[4].code = BPF_JMP | BPF_CALL;
    insns[4].imm = BPF_FUNC_redirect_map;
    insns[5].code = BPF_JMP | BPF_EXIT;
    return nmpy_prog_load(insns, 6, "nmpy_redirect", log, log_size);
}

/* -- the socket's rings ---------------------------------------------------- */
struct nmpy_xq {
    uint32_t *producer;
    uint32_t *consumer;
    uint32_t *flags;
    void *ring;            /* uint64_t[] (fill, completion) or struct xdp_desc[] */
    uint32_t mask;
    uint32_t size;
    void *map;             /* what to munmap */
    size_t maplen;
};

/* entries a producer may still add */
static inline uint32_t nmpy_xq_free(struct nmpy_xq *q)
{
    uint32_t cons = __atomic_load_n(q->consumer, __ATOMIC_ACQUIRE);
    return q->size - (*q->producer - cons);
}

/* entries a consumer may take */
static inline uint32_t nmpy_xq_ready(struct nmpy_xq *q)
{
    uint32_t prod = __atomic_load_n(q->producer, __ATOMIC_ACQUIRE);
    return prod - *q->consumer;
}

static inline void nmpy_xq_produce(struct nmpy_xq *q, uint32_t n)
{
    __atomic_store_n(q->producer, *q->producer + n, __ATOMIC_RELEASE);
}

static inline void nmpy_xq_consume(struct nmpy_xq *q, uint32_t n)
{
    __atomic_store_n(q->consumer, *q->consumer + n, __ATOMIC_RELEASE);
}

static inline uint64_t *nmpy_xq_addr(struct nmpy_xq *q, uint32_t i)
{
    return &((uint64_t *)q->ring)[i & q->mask];
}

static inline struct xdp_desc *nmpy_xq_desc(struct nmpy_xq *q, uint32_t i)
{
    return &((struct xdp_desc *)q->ring)[i & q->mask];
}

static inline int nmpy_xq_needs_wakeup(struct nmpy_xq *q)
{
    return (__atomic_load_n(q->flags, __ATOMIC_ACQUIRE) & XDP_RING_NEED_WAKEUP) != 0;
}
#endif
