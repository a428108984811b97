"""A small eBPF assembler: enough to write XDP programs in Python, no clang needed.

Instructions are encoded as the kernel reads them (Documentation/bpf/standardization/
instruction-set.rst): 8 bytes each, ``code``, ``dst | src << 4``, a signed 16-bit
offset and a signed 32-bit immediate, little-endian.  A 64-bit immediate load takes
two slots.  Jumps name labels; ``assemble()`` resolves them.

    a = Asm()
    a.mov(R0, XDP_PASS)
    a.exit()
    code = a.assemble()
"""
from __future__ import annotations

import struct

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)

# instruction classes, sizes, modes
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
SIZE = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
IMM, MEM, ATOMIC = 0x00, 0x60, 0xc0
FETCH = 0x01
K, X = 0x00, 0x08
# ALU operations
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR, MOV, ARSH, END = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0)
TO_BE = 0x08
# jump operations
JA, JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, CALL, EXIT, JLT, JLE = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0)
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE = 1, 2

# helpers (enum bpf_func_id)
FUNC_GET_PRANDOM_U32 = 7
FUNC_REDIRECT = 23
FUNC_XDP_ADJUST_TAIL = 65

# XDP verdicts and struct xdp_md offsets
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
XDP_MD_DATA, XDP_MD_DATA_END, XDP_MD_INGRESS_IFINDEX = 0, 4, 12

_S32 = (-(1 << 31), (1 << 31) - 1)


class AsmError(ValueError):
    """A program the assembler cannot encode (bad register, immediate, label)."""


def _reg(r: int) -> int:
    if not 0 <= r <= 10:
        raise AsmError(f"no register r{r}")
    return r


def _imm32(v: int) -> int:
    if _S32[0] <= v <= _S32[1]:
        return v
    if 0 <= v <= 0xffffffff:           # accepted as its two's complement
        return v - (1 << 32) if v >> 31 else v
    raise AsmError(f"immediate {v} does not fit 32 bits (use ld_imm64)")


class Asm:
    """Collects instructions; every method appends one (ld_imm64: two slots)."""

    def __init__(self) -> None:
        self._ins: list[list] = []     # [code, dst, src, off, imm, label or None]
        self._labels: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ins)

    def _emit(self, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0,
              label: str | None = None) -> None:
        if not -32768 <= off <= 32767:
            raise AsmError(f"offset {off} does not fit 16 bits")
        self._ins.append([code, _reg(dst), _reg(src), off, imm, label])

    # -- arithmetic (64-bit unless the name ends in 32) -----------------------------
    def alu(self, op: int, dst: int, src: int, *, is_reg: bool, wide: bool = True) -> None:
        cls = ALU64 if wide else ALU
        if is_reg:
            self._emit(cls | op | X, dst, src)
        else:
            self._emit(cls | op | K, dst, 0, 0, _imm32(src))

    def _op(op):  # noqa: N805 - a method factory
        def method(self, dst: int, src: int, *, imm: bool = False) -> None:
            """dst = dst OP src; src is a register unless imm=True."""
            self.alu(op, dst, src, is_reg=not imm)
        return method

    add, sub, mul, div, or_, and_, lsh, rsh, mod, xor, mov = (
        _op(ADD), _op(SUB), _op(MUL), _op(DIV), _op(OR), _op(AND), _op(LSH), _op(RSH),
        _op(MOD), _op(XOR), _op(MOV))
    del _op

    def to_be(self, dst: int, bits: int) -> None:
        """Host (little-endian) value in dst to big-endian, 16, 32 or 64 bits."""
        if bits not in (16, 32, 64):
            raise AsmError(f"byte swap of {bits} bits")
        self._emit(ALU | END | TO_BE, dst, 0, 0, bits)

    def ld_imm64(self, dst: int, value: int, *, pseudo: int = 0, aux: int = 0) -> None:
        """dst = a 64-bit constant; with pseudo, value is a map fd and aux the offset
        into its value (PSEUDO_MAP_VALUE)."""
        if pseudo:
            lo, hi = value, aux
        else:
            value &= (1 << 64) - 1
            lo, hi = value & 0xffffffff, value >> 32
        self._emit(LD | SIZE[8] | IMM, dst, pseudo, 0, _imm32(lo))
        self._ins.append([0, 0, 0, 0, _imm32(hi), None])

    def map_value(self, dst: int, map_fd: int, offset: int = 0) -> None:
        """dst = a pointer into element 0 of an array map, offset bytes in."""
        self.ld_imm64(dst, map_fd, pseudo=PSEUDO_MAP_VALUE, aux=offset)

    # -- memory -----------------------------------------------------------------------
    def ldx(self, size: int, dst: int, src: int, off: int) -> None:
        """dst = *(uSIZE *)(src + off)"""
        self._emit(LDX | SIZE[size] | MEM, dst, src, off)

    def stx(self, size: int, dst: int, off: int, src: int) -> None:
        """*(uSIZE *)(dst + off) = src"""
        self._emit(STX | SIZE[size] | MEM, dst, src, off)

    def atomic_add(self, size: int, dst: int, off: int, src: int, *, fetch: bool = False) -> None:
        """*(uSIZE *)(dst + off) += src, atomically; with fetch, src gets the old value."""
        if size not in (4, 8):
            raise AsmError(f"atomic add of {size} bytes")
        self._emit(STX | SIZE[size] | ATOMIC, dst, src, off, ADD | (FETCH if fetch else 0))

    def st(self, size: int, dst: int, off: int, imm: int) -> None:
        """*(uSIZE *)(dst + off) = imm"""
        self._emit(ST | SIZE[size] | MEM, dst, 0, off, _imm32(imm))

    # -- control ----------------------------------------------------------------------
    def label(self, name: str) -> None:
        if name in self._labels:
            raise AsmError(f"label {name!r} defined twice")
        self._labels[name] = len(self._ins)

    def jmp(self, op: int, dst: int, src: int, target: str, *, imm: bool = False) -> None:
        """if (dst OP src) goto target (64-bit compare); src is a register unless imm."""
        if imm:
            self._emit(JMP | op | K, dst, 0, 0, _imm32(src), label=target)
        else:
            self._emit(JMP | op | X, dst, src, 0, 0, label=target)

    def ja(self, target: str) -> None:
        self._emit(JMP | JA, label=target)

    def call(self, helper: int) -> None:
        self._emit(JMP | CALL, imm=helper)

    def exit(self) -> None:
        self._emit(JMP | EXIT)

    # -- output -----------------------------------------------------------------------
    def assemble(self) -> bytes:
        out = bytearray()
        for i, (code, dst, src, off, imm, label) in enumerate(self._ins):
            if label is not None:
                if label not in self._labels:
                    raise AsmError(f"jump to undefined label {label!r}")
                off = self._labels[label] - i - 1
                if not -32768 <= off <= 32767:
                    raise AsmError(f"jump to {label!r} is too far")
            out += struct.pack("<BBhi", code, dst | src << 4, off, imm)
        return bytes(out)


def disassemble(code: bytes) -> list[tuple[int, int, int, int, int]]:
    """(code, dst, src, off, imm) per slot: for tests and -v listings."""
    out = []
    for i in range(0, len(code), 8):
        c, regs, off, imm = struct.unpack_from("<BBhi", code, i)
        out.append((c, regs & 0xf, regs >> 4, off, imm))
    return out


def drop_program() -> bytes:
    """XDP: drop every packet (a sink for benchmarks and tests)."""
    a = Asm()
    a.mov(R0, XDP_DROP, imm=True)
    a.exit()
    return a.assemble()


def pass_program() -> bytes:
    """XDP: let every packet through (on a veth, any XDP program makes the device
    accept XDP frames from its peer)."""
    a = Asm()
    a.mov(R0, XDP_PASS, imm=True)
    a.exit()
    return a.assemble()
