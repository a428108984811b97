"""The kernel engine's XDP program, generated for one run's flags.

``BPF_PROG_RUN`` with live frames (kernel >= 5.18) runs an XDP program over a copy
of our template, ``repeat`` times, and transmits whatever the program redirects.
This module writes that program with our assembler (pktgen_nm.bpf):

* packet i of a thread gets the odometer values pkt-gen gives it (sport, sip, dport,
  dip; least significant first), computed from i, so pages the kernel recycles hold
  no state of ours;
* -z/-Z draw fresh values on every packet (bpf_get_prandom_u32);
* -l twice: a random length per packet (bpf_xdp_adjust_tail trims the template);
* txseq: i in the first 4 payload bytes;
* IPv4 and UDP checksums: a constant sum of what never changes (computed here) plus
  the varying words, folded in the program.

State lives in element 0 of a one-element array map (mmapable, so user space reads
the counters without a system call): the packet index, the bytes sent (both updated
atomically: the threads of -p share one program), and the payload prefix sums the
program needs when the length varies.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from . import bpf
from .bpf import R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10
from .packet import FLOW_MIX as P_FLOW_MIX
from .packet import Frame

STATE_INDEX, STATE_BYTES, STATE_PSUM = 0, 8, 16
LOOPBACK_IFINDEX = 1       # the same in every network namespace


@dataclass
class Generator:
    code: bytes           # the program
    map_value: bytes      # element 0 of the state map, before the first packet
    frame: bytes          # the template handed to BPF_PROG_RUN (largest length)
    fixed_len: int        # the frame length when it never varies, else 0


def state_size(frame: Frame) -> int:
    """Bytes of the state map's value for this frame: the index, the bytes, then when
    the length varies the payload's prefix sums and an IMIX cycle's lengths."""
    varies = frame.min_len != frame.max_len
    return _sizes_at(frame) + 4 * len(frame.sizes) if varies else STATE_PSUM


def _sizes_at(frame: Frame) -> int:
    """Where an IMIX cycle's lengths start in the state map's value."""
    return STATE_PSUM + 4 * (frame.max_len - frame.payload_off + 1)


def _sum_of(value: int, width: int) -> int:
    return value if width == 2 else (value >> 16) + (value & 0xFFFF)


def build(frame: Frame, *, ifindex: int, map_fd: int, randomize=(False, False),
          seq: bool = False) -> Generator:
    """The program for ``frame`` (vhdr 0) sending out of ``ifindex``."""
    if frame.vhdr:
        raise ValueError("the kernel engine sends frames without a virtio-net header")
    fields = frame.plan_fields(randomize)
    varying = [f for f in fields if f[5] or f[2] != f[3]]
    constant = [f for f in fields if f not in varying]
    max_len, min_len = frame.max_len, frame.min_len
    len_varies = min_len != max_len
    pay = frame.payload_off
    psum = frame.payload_psum

    # the sums of everything that is the same in every packet
    udp_const = frame.udp_base + sum(_sum_of(lo, w) for _, w, lo, _, _, _ in constant)
    ip_const = frame.ip_base + sum(_sum_of(lo, w) for _, w, lo, _, in_ip, _ in constant if in_ip)
    if seq:
        udp_const += 0x3FFFC - psum[4]         # the index replaces 4 payload bytes
    if not len_varies:
        udp_len = max_len - frame.udp_off
        udp_const += 2 * udp_len + psum[max_len - pay]
        ip_const += max_len - frame.ip_off
    ip_varies = frame.family == 4 and (len_varies or any(f[4] for f in varying))

    a = bpf.Asm()
    # BPF_PROG_RUN gives our frames the loopback device as ingress; anything else is a
    # packet received where the program is parked (see KernelProgram) and passes.
    a.ldx(4, R2, R1, bpf.XDP_MD_INGRESS_IFINDEX)
    a.jmp(bpf.JNE, R2, LOOPBACK_IFINDEX, "pass", imm=True)
    a.mov(R6, R1)                              # ctx
    # 1. random draws first: helper calls clobber r1-r5
    rand_slot, len_slot, idx_slot = _draws(a, varying, frame, map_fd)
    # 2. the packet, bounds checked once for every byte we write
    need = max(frame.udp_off + 8, pay + 4 if seq else 0)
    a.ldx(4, R7, R6, bpf.XDP_MD_DATA)
    a.ldx(4, R8, R6, bpf.XDP_MD_DATA_END)
    a.mov(R1, R7)
    a.add(R1, need, imm=True)
    a.jmp(bpf.JGT, R1, R8, "abort")
    # 3. this packet's index
    if idx_slot:                               # taken already, for the IMIX length
        a.ldx(8, R0, R10, idx_slot)
    else:
        _take_index(a, map_fd)
    a.mov(R6, R0)                              # kept for txseq
    if not (varying or seq or len_varies):       # every packet is the template
        return _finish(a, frame, ifindex, len_varies)
    _const(a, R2, udp_const)
    _const(a, R3, ip_const)
    # 4. the varying fields, in odometer order
    _fields(a, varying, rand_slot, frame)
    if seq:
        a.mov(R4, R6)
        _low32(a, R4)
        _store_be(a, 4, pay, R4)
        _add_sum(a, 4, R4, R2, None)
    # 5. lengths
    if len_varies:
        _lengths(a, frame, len_slot)
    # 6. checksums
    _fold(a, R2)
    a.xor(R2, 0xFFFF, imm=True)
    a.jmp(bpf.JNE, R2, 0, "udp_ok", imm=True)
    a.mov(R2, 0xFFFF, imm=True)               # UDP sends a zero sum as 0xffff
    a.label("udp_ok")
    _store_be(a, 2, frame.udp_off + 6, R2)
    if ip_varies:
        _fold(a, R3)
        a.xor(R3, 0xFFFF, imm=True)
        _store_be(a, 2, frame.ip_off + 10, R3)
    return _finish(a, frame, ifindex, len_varies)


def _take_index(a: bpf.Asm, map_fd: int) -> None:
    """r0 = this packet's index (r9: the state map's value)."""
    a.map_value(R9, map_fd, 0)
    a.mov(R0, 1, imm=True)                     # atomic: threads (-p) share the program
    a.atomic_add(8, R9, STATE_INDEX, R0, fetch=True)


def _draws(a: bpf.Asm, varying, frame: Frame, map_fd: int) -> tuple[dict, int, int]:
    """Draw the random fields' values and this packet's length (random, or the next
    of the IMIX cycle: then the index is taken first), trimming the template to it,
    into stack slots: ({field offset: slot}, the length's slot or 0, the index's or 0)."""
    min_len, max_len = frame.min_len, frame.max_len
    slot = 0
    rand_slot = {}
    flow_off = _flow_off(frame)
    for f in varying:
        if f[5] and f[0] != flow_off:   # a flow's draw comes from its slot
            slot += 8
            a.call(bpf.FUNC_GET_PRANDOM_U32)
            a.stx(8, R10, -slot, R0)
            rand_slot[f[0]] = -slot
    if min_len == max_len:
        return rand_slot, 0, 0
    idx_slot = 0
    if frame.sizes:
        _take_index(a, map_fd)
        slot += 8
        idx_slot = -slot
        a.stx(8, R10, idx_slot, R0)
        a.mod(R0, len(frame.sizes), imm=True)
        a.jmp(bpf.JGT, R0, len(frame.sizes) - 1, "abort", imm=True)
        a.lsh(R0, 2, imm=True)
        a.add(R0, R9)
        a.ldx(4, R0, R0, _sizes_at(frame))
    else:
        a.call(bpf.FUNC_GET_PRANDOM_U32)
        a.mod(R0, max_len - min_len + 1, imm=True)
        a.add(R0, min_len, imm=True)
    slot += 8
    a.stx(8, R10, -slot, R0)
    a.mov(R2, R0)
    a.sub(R2, max_len, imm=True)           # trim the template to this length
    a.mov(R1, R6)
    a.call(bpf.FUNC_XDP_ADJUST_TAIL)
    a.jmp(bpf.JNE, R0, 0, "abort", imm=True)
    return rand_slot, -slot, idx_slot


def _flow_off(frame: Frame) -> int | None:
    """Where the field that pktgen's flows set is (the destination address), if any."""
    return frame.fields()[3][0] if frame.flows else None


def _flow_slot(a: bpf.Asm, frame: Frame, rnd: bool) -> None:
    """r4 = packet.flow_slot of the index in r6 (with rnd: its 32-bit draw); clobbers r1, r5."""
    flows, flowlen = frame.flows
    a.mov(R4, R6)
    a.mod(R4, flows, imm=True)
    a.mov(R1, R6)
    a.div(R1, flows, imm=True)
    a.div(R1, flowlen, imm=True)
    a.mul(R1, flows, imm=True)
    a.add(R4, R1)
    if rnd:
        a.ld_imm64(R5, P_FLOW_MIX)
        a.mul(R4, R5)
        a.rsh(R4, 32, imm=True)


def _fields(a: bpf.Asm, varying, rand_slot: dict, frame: Frame) -> None:
    """Each varying field from the index in r0 (odometer order), its random draw or its
    flow slot, stored big-endian and added to the UDP (r2) and IPv4 (r3) sums."""
    flow_off = _flow_off(frame)
    for off, width, lo, hi, in_ip, rnd in varying:
        span = hi - lo + 1
        odometer = not rnd and off != flow_off      # its value from r0, which moves on
        if off == flow_off:
            _flow_slot(a, frame, rnd)
        elif rnd:
            a.ldx(8, R4, R10, rand_slot[off])
        else:
            a.mov(R4, R0)
        if span <= 0x7FFFFFFF:
            a.mod(R4, span, imm=True)
            if odometer:
                a.div(R0, span, imm=True)
        else:
            _const(a, R5, span)
            a.mod(R4, R5)
            if odometer:
                a.div(R0, R5)
        if lo:
            _const(a, R5, lo)
            a.add(R4, R5)
        _store_be(a, width, off, R4)
        _add_sum(a, width, R4, R2, R3 if in_ip else None)


def _lengths(a: bpf.Asm, frame: Frame, len_slot: int) -> None:
    """A random length's UDP and IP length fields, its sums and byte count."""
    pay, max_len = frame.payload_off, frame.max_len
    a.ldx(8, R4, R10, len_slot)
    a.mov(R5, R4)
    a.sub(R5, frame.udp_off, imm=True)     # UDP length
    a.mov(R1, R5)
    a.lsh(R1, 1, imm=True)
    a.add(R2, R1)
    _store_be(a, 2, frame.udp_off + 4, R5)
    if frame.family == 4:
        a.mov(R5, R4)
        a.sub(R5, frame.ip_off, imm=True)  # IPv4 total length
        a.add(R3, R5)
        _store_be(a, 2, frame.ip_off + 2, R5)
    else:
        _store_be(a, 2, frame.ip_off + 4, R5)   # IPv6 payload length
    a.mov(R1, R4)
    a.sub(R1, pay, imm=True)
    a.jmp(bpf.JGT, R1, max_len - pay, "abort", imm=True)
    a.lsh(R1, 2, imm=True)
    a.add(R1, R9)
    a.ldx(4, R1, R1, STATE_PSUM)
    a.add(R2, R1)
    a.atomic_add(8, R9, STATE_BYTES, R4)


def _finish(a: bpf.Asm, frame: Frame, ifindex: int, len_varies: bool) -> Generator:
    """Out of the interface; the abort path; the map's first value."""
    a.mov(R1, ifindex, imm=True)
    a.mov(R2, 0, imm=True)
    a.call(bpf.FUNC_REDIRECT)
    a.exit()
    a.label("abort")
    a.mov(R0, bpf.XDP_ABORTED, imm=True)
    a.exit()
    a.label("pass")
    a.mov(R0, bpf.XDP_PASS, imm=True)
    a.exit()
    value = bytearray(state_size(frame))
    if len_varies:
        k = frame.max_len - frame.payload_off + 1
        struct.pack_into(f"<{k}I", value, STATE_PSUM, *frame.payload_psum[:k])
        if frame.sizes:
            struct.pack_into(f"<{len(frame.sizes)}I", value, _sizes_at(frame), *frame.sizes)
    return Generator(code=a.assemble(), map_value=bytes(value), frame=frame.data,
                     fixed_len=0 if len_varies else frame.max_len)


def _const(a: bpf.Asm, reg: int, value: int) -> None:
    if value <= 0x7FFFFFFF:
        a.mov(reg, value, imm=True)
    else:
        a.ld_imm64(reg, value)


def _low32(a: bpf.Asm, reg: int) -> None:
    a.lsh(reg, 32, imm=True)
    a.rsh(reg, 32, imm=True)


def _store_be(a: bpf.Asm, width: int, off: int, reg: int) -> None:
    """*(data + off) = reg, big-endian; clobbers r5 (r1 when reg is r5)."""
    tmp = R5 if reg != R5 else R1
    a.mov(tmp, reg)
    a.to_be(tmp, 8 * width)
    a.stx(width, R7, off, tmp)


def _add_sum(a: bpf.Asm, width: int, reg: int, udp: int, ip: int | None) -> None:
    """udp (and ip) += the 16-bit words of reg; clobbers r1 and r5."""
    if width == 2:
        a.add(udp, reg)
        if ip is not None:
            a.add(ip, reg)
        return
    a.mov(R5, reg)
    a.rsh(R5, 16, imm=True)
    a.mov(R1, reg)
    a.and_(R1, 0xFFFF, imm=True)
    a.add(R5, R1)
    a.add(udp, R5)
    if ip is not None:
        a.add(ip, R5)


def _fold(a: bpf.Asm, reg: int) -> None:
    """reg = the ones'-complement fold of reg to 16 bits (sums here stay < 2**40)."""
    for _ in range(3):
        a.mov(R1, reg)
        a.and_(R1, 0xFFFF, imm=True)
        a.rsh(reg, 16, imm=True)
        a.add(reg, R1)
