"""AF_XDP TX wake-ups (review M3), on a ring laid out in memory whose need-wakeup
flag the test sets: sendto() only when the kernel asks, again only on EAGAIN."""
import errno

from netmap_py import _core

EAGAIN, EINTR, ENOBUFS = -errno.EAGAIN, -errno.EINTR, -errno.ENOBUFS


def test_no_call_when_the_ring_does_not_ask():
    # a zero-copy driver that is awake: its TX ring has the flag clear
    assert _core._xdp_kick_logic(False, []) == 0
    assert _core._xdp_kick_logic(False, [EAGAIN, EAGAIN]) == 0


def test_one_call_when_it_succeeds():
    assert _core._xdp_kick_logic(True, [0]) == 1
    assert _core._xdp_kick_logic(True, [0, EAGAIN, EAGAIN]) == 1


def test_calls_again_only_while_the_kernel_says_eagain():
    # copy mode: each sendto() sends a batch and says EAGAIN while more is queued
    assert _core._xdp_kick_logic(True, [EAGAIN, EAGAIN, 0, EAGAIN]) == 3
    assert _core._xdp_kick_logic(True, [EINTR, 0]) == 2


def test_stops_on_other_errors():
    assert _core._xdp_kick_logic(True, [ENOBUFS, EAGAIN]) == 1
    assert _core._xdp_kick_logic(True, [-errno.EBUSY]) == 1


def test_bounded_when_the_kernel_keeps_saying_eagain():
    calls = _core._xdp_kick_logic(True, [EAGAIN] * 16)
    assert calls == 17      # 16 scripted EAGAINs, then the script's 0 ends it
