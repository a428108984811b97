"""The eBPF assembler: encodings checked against the instruction set's layout."""
import struct

import pytest

from pktgen_nm import bpf
from pktgen_nm.bpf import R0, R1, R2, R10, Asm, AsmError


def one(fn) -> tuple:
    a = Asm()
    fn(a)
    return bpf.disassemble(a.assemble())


def test_encodings():
    # (code, dst, src, off, imm) per the instruction-set document
    assert one(lambda a: a.mov(R0, 2, imm=True)) == [(0xb7, 0, 0, 0, 2)]
    assert one(lambda a: a.add(R1, R2)) == [(0x0f, 1, 2, 0, 0)]
    assert one(lambda a: a.mod(R1, 7, imm=True)) == [(0x97, 1, 0, 0, 7)]
    assert one(lambda a: a.to_be(R1, 16)) == [(0xdc, 1, 0, 0, 16)]
    assert one(lambda a: a.ldx(4, R2, R1, 4)) == [(0x61, 2, 1, 4, 0)]
    assert one(lambda a: a.stx(8, R10, -8, R0)) == [(0x7b, 10, 0, -8, 0)]
    assert one(lambda a: a.stx(2, R1, 40, R2)) == [(0x6b, 1, 2, 40, 0)]
    assert one(lambda a: a.atomic_add(8, R1, 0, R0, fetch=True)) == [(0xdb, 1, 0, 0, 1)]
    assert one(lambda a: a.call(bpf.FUNC_REDIRECT)) == [(0x85, 0, 0, 0, 23)]
    assert one(lambda a: a.exit()) == [(0x95, 0, 0, 0, 0)]


def test_ld_imm64_takes_two_slots():
    assert one(lambda a: a.ld_imm64(R1, 0x1122334455667788)) == [
        (0x18, 1, 0, 0, 0x55667788), (0, 0, 0, 0, 0x11223344)]
    assert one(lambda a: a.map_value(R2, 5, 16)) == [(0x18, 2, 2, 0, 5), (0, 0, 0, 0, 16)]


def test_labels_resolve_forward_and_back():
    a = Asm()
    a.label("top")
    a.jmp(bpf.JEQ, R1, 0, "out", imm=True)
    a.ld_imm64(R2, 1)
    a.ja("top")
    a.label("out")
    a.exit()
    ins = bpf.disassemble(a.assemble())
    assert ins[0][3] == 3            # over the two ld_imm64 slots and the ja
    assert ins[3] == (0x05, 0, 0, -4, 0)
    assert struct.calcsize("<BBhi") == 8 and len(a.assemble()) == 8 * len(a)


def test_errors():
    a = Asm()
    with pytest.raises(AsmError, match="no register r11"):
        a.mov(11, R0)
    with pytest.raises(AsmError, match="does not fit 32 bits"):
        a.mov(R0, 1 << 40, imm=True)
    a.ja("nowhere")
    with pytest.raises(AsmError, match="undefined label"):
        a.assemble()
