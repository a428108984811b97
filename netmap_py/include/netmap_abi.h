/*
 * netmap_abi.h -- the netmap kernel/user ABI as seen from user space, written for
 * netmap_py from the facts in shared/netmap-facts.md (sections 1.1-1.8; API 14,
 * Linux LP64).  This is not netmap's own header: it declares only what the binding
 * needs, with the layout netmap uses.  Fields netmap documents as read-only for
 * user space carry no const here (the emulated backends build rings themselves);
 * the comments say which they are.  tests/unit/test_abi.py compiles a probe
 * against this file and checks every size, offset and value below (and, when
 * netmap's own headers are installed, checks them against those too).
 *
 * The constant values here must agree with vendor/constants.tsv, the single table
 * from which netmap_py/constants.py and netmap_py/constants.pxd are generated.
 */
#ifndef NETMAP_PY_ABI_H
#define NETMAP_PY_ABI_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/time.h>
#include <sys/ioctl.h>

/* -- versions, names, limits ------------------------------------------------ */
#define NETMAP_API              14
#define NETMAP_MIN_API          14
#define NETMAP_MAX_API          15
#define NM_CACHE_ALIGN          128
#define NETMAP_DEVICE_NAME      "/dev/netmap"
#define NETMAP_REQ_IFNAMSIZ     64
#define NETMAP_REQ_MAXSIZE      4096
#define NETMAP_MAX_FRAGS        64
#define NI_PRIV_MEM             0x1

/* -- slot flags ------------------------------------------------------------- */
#define NS_BUF_CHANGED  0x0001  /* buf_idx was changed (by user or kernel) */
#define NS_REPORT       0x0002  /* ask for a TX completion notification */
#define NS_FORWARD      0x0004  /* pass to the other side (host <-> NIC) */
#define NS_NO_LEARN     0x0008  /* VALE: do not learn the source MAC */
#define NS_INDIRECT     0x0010  /* VALE TX: payload at user address ptr */
#define NS_MOREFRAG     0x0020  /* packet continues in the next slot */
#define NS_TXMON        0x0040  /* monitor: captured on the TX side */
#define NS_PORT_SHIFT   8
#define NS_PORT_MASK    0xff00

/* -- ring flags ------------------------------------------------------------- */
#define NR_TIMESTAMP    0x0002
#define NR_FORWARD      0x0004

/* -- register modes (nmreq_register.nr_mode) ------------------------------- */
#define NR_REG_DEFAULT      0
#define NR_REG_ALL_NIC      1
#define NR_REG_SW           2
#define NR_REG_NIC_SW       3
#define NR_REG_ONE_NIC      4
#define NR_REG_PIPE_MASTER  5
#define NR_REG_PIPE_SLAVE   6
#define NR_REG_NULL         7
#define NR_REG_ONE_SW       8

/* -- register flags (nmreq_register.nr_flags) ------------------------------ */
#define NR_MONITOR_TX       0x100
#define NR_MONITOR_RX       0x200
#define NR_ZCOPY_MON        0x400
#define NR_EXCLUSIVE        0x800
#define NR_RX_RINGS_ONLY    0x2000
#define NR_TX_RINGS_ONLY    0x4000
#define NR_ACCEPT_VNET_HDR  0x8000
#define NR_DO_RX_POLL       0x10000
#define NR_NO_TX_POLL       0x20000

/* -- request types (nmreq_header.nr_reqtype) ------------------------------- */
#define NETMAP_REQ_REGISTER              1
#define NETMAP_REQ_PORT_INFO_GET         2
#define NETMAP_REQ_VALE_ATTACH           3
#define NETMAP_REQ_VALE_DETACH           4
#define NETMAP_REQ_VALE_LIST             5
#define NETMAP_REQ_PORT_HDR_SET          6
#define NETMAP_REQ_PORT_HDR_GET          7
#define NETMAP_REQ_VALE_NEWIF            8
#define NETMAP_REQ_VALE_DELIF            9
#define NETMAP_REQ_VALE_POLLING_ENABLE   10
#define NETMAP_REQ_VALE_POLLING_DISABLE  11
#define NETMAP_REQ_POOLS_INFO_GET        12
#define NETMAP_REQ_SYNC_KLOOP_START      13
#define NETMAP_REQ_SYNC_KLOOP_STOP       14
#define NETMAP_REQ_CSB_ENABLE            15

/* -- request options (nmreq_option.nro_reqtype) ---------------------------- */
#define NETMAP_REQ_OPT_EXTMEM             1
#define NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS 2
#define NETMAP_REQ_OPT_CSB                3
#define NETMAP_REQ_OPT_SYNC_KLOOP_MODE    4
#define NETMAP_REQ_OPT_OFFSETS            5

/* -- shared-memory objects -------------------------------------------------- */

struct netmap_slot {            /* 16 bytes */
    uint32_t buf_idx;           /*  0: buffer index in the region's pool */
    uint16_t len;               /*  4: bytes in this slot (this fragment) */
    uint16_t flags;             /*  6: NS_* bits, high byte VALE port/frags */
    uint64_t ptr;               /*  8: NS_INDIRECT address, or offset bits */
};

struct netmap_ring {            /* 256-byte header, then slot[num_slots] */
    int64_t  buf_ofs;     /*   0: ring address -> buffer #0, in bytes */
    uint32_t num_slots;   /*   8: slots in this ring */
    uint32_t nr_buf_size; /*  12: bytes per buffer */
    uint16_t ringid;      /*  16: index within its direction */
    uint16_t dir;         /*  18: direction (do not rely on it) */
    uint32_t head;              /*  20: first slot owned by the user */
    uint32_t cur;               /*  24: wake-up point */
    uint32_t tail;              /*  28: first slot owned by the kernel */
    uint32_t flags;             /*  32: NR_* */
    struct timeval ts;          /*  40: time of the last rxsync */
    uint64_t offset_mask; /*  56: offset bits inside slot.ptr */
    uint64_t buf_align;   /*  64: TX alignment with offsets */
    uint8_t  sem[128] __attribute__((__aligned__(NM_CACHE_ALIGN))); /* 128 */
    struct netmap_slot slot[0]; /* 256 */
};

struct netmap_if {              /* 56 bytes, then ring_ofs[] */
    char ni_name[16];           /*  0 */
    uint32_t ni_version;  /* 16: unused, reads 0 */
    uint32_t ni_flags;    /* 20: NI_PRIV_MEM */
    uint32_t ni_tx_rings; /* 24: hardware TX rings */
    uint32_t ni_rx_rings; /* 28: hardware RX rings */
    uint32_t ni_bufs_head;      /* 32: first extra buffer, 0 = none */
    uint32_t ni_host_tx_rings; /* 36 */
    uint32_t ni_host_rx_rings; /* 40 */
    uint32_t ni_spare1[3];      /* 44 */
    ssize_t ring_ofs[0];  /* 56: tx, host tx, rx, host rx; 0 = unbound */
};

/* -- control requests (NIOCCTRL) -------------------------------------------- */

struct nmreq_header {           /* 88 bytes */
    uint16_t nr_version;        /*  0: NETMAP_API */
    uint16_t nr_reqtype;        /*  2: NETMAP_REQ_* */
    uint32_t nr_reserved;       /*  4: must be 0 */
    char     nr_name[NETMAP_REQ_IFNAMSIZ]; /* 8 */
    uint64_t nr_options;        /* 72: first struct nmreq_option, or 0 */
    uint64_t nr_body;           /* 80: request body, or 0 */
};

struct nmreq_register {         /* 56 bytes */
    uint64_t nr_offset;         /*  0 out: netmap_if offset in the region */
    uint64_t nr_memsize;        /*  8 out: bytes to mmap */
    uint32_t nr_tx_slots;       /* 16 */
    uint32_t nr_rx_slots;       /* 20 */
    uint16_t nr_tx_rings;       /* 24 */
    uint16_t nr_rx_rings;       /* 26 */
    uint16_t nr_host_tx_rings;  /* 28 */
    uint16_t nr_host_rx_rings;  /* 30 */
    uint16_t nr_mem_id;         /* 32 */
    uint16_t nr_ringid;         /* 34 */
    uint32_t nr_mode;           /* 36: NR_REG_* */
    uint32_t nr_extra_bufs;     /* 40 */
    uint64_t nr_flags;          /* 48: NR_* (offset 48 after 4 bytes of padding) */
};

struct nmreq_port_info_get {    /* 32 bytes */
    uint64_t nr_memsize;        /*  0 */
    uint32_t nr_tx_slots;       /*  8 */
    uint32_t nr_rx_slots;       /* 12 */
    uint16_t nr_tx_rings;       /* 16 */
    uint16_t nr_rx_rings;       /* 18 */
    uint16_t nr_host_tx_rings;  /* 20 */
    uint16_t nr_host_rx_rings;  /* 22 */
    uint16_t nr_mem_id;         /* 24 */
    uint16_t pad[3];            /* 26 */
};

struct nmreq_port_hdr {         /* 8 bytes */
    uint32_t nr_hdr_len;
    uint32_t pad1;
};

struct nmreq_pools_info {       /* 64 bytes */
    uint64_t nr_memsize;        /*  0 */
    uint16_t nr_mem_id;         /*  8 */
    uint16_t pad1[3];           /* 10 */
    uint64_t nr_if_pool_offset; /* 16 */
    uint32_t nr_if_pool_objtotal;   /* 24 */
    uint32_t nr_if_pool_objsize;    /* 28 */
    uint64_t nr_ring_pool_offset;   /* 32 */
    uint32_t nr_ring_pool_objtotal; /* 40 */
    uint32_t nr_ring_pool_objsize;  /* 44 */
    uint64_t nr_buf_pool_offset;    /* 48 */
    uint32_t nr_buf_pool_objtotal;  /* 56 */
    uint32_t nr_buf_pool_objsize;   /* 60 */
};

struct nmreq_option {           /* 24 bytes */
    uint64_t nro_next;          /*  0 */
    uint32_t nro_reqtype;       /*  8 */
    uint32_t nro_status;        /* 12 */
    uint64_t nro_size;          /* 16 */
};

/* -- ioctl numbers (Linux encoding, 'i' group) ------------------------------ */
#define NIOCCTRL    _IOWR('i', 151, struct nmreq_header)
#define NIOCTXSYNC  _IO('i', 148)
#define NIOCRXSYNC  _IO('i', 149)

#endif /* NETMAP_PY_ABI_H */
