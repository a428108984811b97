# cython: language_level=3
"""Kernel interfaces the emulated backends use: AF_PACKET rings (linux/if_packet.h,
Documentation/networking/packet_mmap.rst), sockets, poll and mmap.  Declarations
only; the owners live in _core.pyx."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        unsigned short sa_family
    int socket(int domain, int type, int protocol)
    int bind(int fd, const sockaddr *addr, socklen_t len)
    int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
    int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    int AF_PACKET, SOCK_RAW, SOL_SOCKET, SO_SNDBUF, SO_SNDBUFFORCE, SO_RCVBUF, MSG_DONTWAIT
    int SOL_PACKET

cdef extern from "<arpa/inet.h>" nogil:
    uint16_t htons(uint16_t)

cdef extern from "<net/if.h>" nogil:
    unsigned int if_nametoindex(const char *name)

cdef extern from "<linux/if_ether.h>" nogil:
    int ETH_P_ALL

cdef extern from "<linux/if_packet.h>" nogil:
    struct sockaddr_ll:
        unsigned short sll_family
        unsigned short sll_protocol
        int sll_ifindex
        unsigned short sll_hatype
        unsigned char sll_pkttype
        unsigned char sll_halen
        unsigned char sll_addr[8]

    struct tpacket_req:                 # PACKET_TX_RING / V2 rings
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr

    struct tpacket_req3:                # PACKET_RX_RING with TPACKET_V3
        unsigned int tp_block_size
        unsigned int tp_block_nr
        unsigned int tp_frame_size
        unsigned int tp_frame_nr
        unsigned int tp_retire_blk_tov  # ms before a partly filled block is handed over
        unsigned int tp_sizeof_priv
        unsigned int tp_feature_req_word

    struct tpacket2_hdr:
        uint32_t tp_status              # TP_STATUS_*
        uint32_t tp_len                 # bytes on the wire
        uint32_t tp_snaplen             # bytes in the frame
        uint16_t tp_mac                 # offset of the MAC header in the frame
        uint16_t tp_net
        uint32_t tp_sec
        uint32_t tp_nsec

    struct tpacket_hdr_v1:
        uint32_t block_status
        uint32_t num_pkts
        uint32_t offset_to_first_pkt

    union tpacket_bd_header_u:
        tpacket_hdr_v1 bh1

    struct tpacket_block_desc:
        uint32_t version
        uint32_t offset_to_priv
        tpacket_bd_header_u hdr

    struct tpacket3_hdr:
        uint32_t tp_next_offset         # offset of the next packet in the block
        uint32_t tp_sec
        uint32_t tp_nsec
        uint32_t tp_snaplen
        uint32_t tp_len
        uint32_t tp_status
        uint16_t tp_mac
        uint16_t tp_net

    struct tpacket_stats_v3:
        unsigned int tp_packets
        unsigned int tp_drops
        unsigned int tp_freeze_q_cnt

    int PACKET_VERSION, PACKET_RX_RING, PACKET_TX_RING, PACKET_QDISC_BYPASS, PACKET_VNET_HDR
    int PACKET_FANOUT, PACKET_FANOUT_HASH, PACKET_STATISTICS, PACKET_IGNORE_OUTGOING
    int PACKET_LOSS
    int TPACKET_V2, TPACKET_V3
    int TP_STATUS_KERNEL, TP_STATUS_USER, TP_STATUS_AVAILABLE, TP_STATUS_SEND_REQUEST
    int TP_STATUS_SENDING, TP_STATUS_WRONG_FORMAT
    int TPACKET2_HDRLEN
    int TPACKET_ALIGNMENT

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    ctypedef unsigned long nfds_t
    int poll(pollfd *fds, nfds_t nfds, int timeout)
    short POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL

cdef extern from "<sys/mman.h>" nogil:
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void *addr, size_t length)
    void *MAP_FAILED
    int PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_POPULATE
    int MAP_LOCKED

cdef extern from "<sys/ioctl.h>" nogil:
    int ioctl(int fd, unsigned long request, ...)

cdef extern from "<unistd.h>" nogil:
    int close(int fd)
    int getpid()

cdef extern from "<fcntl.h>" nogil:
    int open(const char *path, int flags, ...)
    int O_RDWR, O_CLOEXEC

cdef extern from "<errno.h>" nogil:
    int errno
    int EINTR, EAGAIN, ENOBUFS, EINVAL, ENOMEM, ENXIO, ENODEV, ENOENT, EBUSY, EPERM
    int EACCES, EOPNOTSUPP, EMSGSIZE, ENOTSUP

cdef extern from "<sys/time.h>" nogil:
    struct timezone:
        pass
    int gettimeofday(void *tv, void *tz)
