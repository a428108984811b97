"""Lab helper, run inside a namespace: send or receive frames through the ring API.

    ring_io.py send PORT N SEED DST_MAC [--pace N]   deterministic frames, 60..1514 bytes
    ring_io.py recv PORT N SEED [--ring-mb M] [--slots N] [--hold S] [--timeout S]
    ring_io.py seq PORT DST_MAC SEQ,SEQ,...           txseq-style frames in that order
    ring_io.py hold PORT                              open, send forever (for kill -9)
    ring_io.py sizes PORT N [--timeout S]             how many frames of each length
    ring_io.py bsend / brecv (as send / recv)          through Port.send() / Port.recv()
    ring_io.py bridge PORT_A PORT_B N                 forward N frames A->B by buffer swaps

Prints one JSON line with what it did; 'READY' on stderr once the port is open.
"""
from __future__ import annotations

import json
import random
import sys
import time

import netmap_py as nm
from netmap_py import _core
from pktgen_nm import packet as P

ETHERTYPE = b"\x88\xb5"  # IEEE local experimental: no stack on the peer takes it
OURS = (b"\x08\x00", b"\x81\x00", b"\x88\xa8", b"\x88\x47")   # IPv4, tags, MPLS


def bodies(n: int, seed: int):
    """What follows the Ethernet header of frame i: i, then seeded bytes (60..1514 in all)."""
    rnd = random.Random(seed)
    for i in range(n):
        size = rnd.randint(60, 1514)
        yield i.to_bytes(4, "big") + rnd.randbytes(size - 18)


def frames(n: int, seed: int, dst: bytes, src: bytes):
    for body in bodies(n, seed):
        yield dst + src + ETHERTYPE + body


def ready(port) -> bytes:
    """Say READY on stderr (the port is open); the port's interface MAC."""
    sys.stderr.write("READY\n")
    sys.stderr.flush()
    return P.parse_mac(open(f"/sys/class/net/{port.spec.name}/address").read().strip())


def send(port_name, n, seed, dst_mac, pace=0.0):
    dst = P.parse_mac(dst_mac)
    with nm.open(port_name) as port:
        src = ready(port)
        tx = port.tx_rings[0]
        sent = 0
        t0 = time.monotonic()
        for f in frames(n, seed, dst, src):
            while tx.space() == 0:
                port.poll(nm.POLLOUT, 1000)
            tx.slot(tx.head).write(f)
            tx.advance()
            sent += 1
            if sent % 256 == 0:
                port.txsync()
                if pace:  # at most `pace` frames per second: a Python reader keeps up
                    ahead = sent / pace - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        deadline = time.monotonic() + 5
        while tx.tx_pending() and time.monotonic() < deadline:
            port.txsync()
            time.sleep(0.001)
        print(json.dumps({"sent": sent, "copied": port.copied_packets,
                          "tx_dropped": port.tx_dropped}))


def recv(port_name, n, seed, ring_mb=256, hold=0.0, timeout=60.0, slots=None):
    expected = list(bodies(n, seed))  # before READY: the reader must not fall behind
    with nm.open(port_name, rx_ring_mb=ring_mb, slots=slots) as port:
        sys.stderr.write("READY\n")
        sys.stderr.flush()
        if hold:
            time.sleep(hold)  # keep the ring full: the kernel must drop, and say so
        head = None
        got = mismatch = other = 0
        last = time.monotonic()
        deadline = last + timeout
        seqs = []
        # every ring of the port: the frames land on the ring of the queue they came
        # in on (one flow: one queue, so their order is kept)
        while got < n and time.monotonic() < deadline and time.monotonic() - last < 3:
            port.poll(nm.POLLIN, 200)
            for rx in port.rx_rings:
                while not rx.empty():
                    b = rx.slot(rx.head).tobytes()
                    rx.advance()
                    if b[12:14] != ETHERTYPE:
                        other += 1
                        continue
                    if head is None:
                        head = b[:14]
                    seq = int.from_bytes(b[14:18], "big")
                    seqs.append(seq)
                    if seq >= n or b[:14] != head or b[14:] != expected[seq]:
                        mismatch += 1
                    got += 1
                    last = time.monotonic()
        port.rxsync()
        if port.backend == "packet":
            drops = _core.packet_stats(port)[1]
        else:
            st = _core.xdp_stats(port)
            # no free buffer counts in rx_dropped (and again in the fill-ring statistic)
            drops = st["rx_dropped"] + st["rx_ring_full"]
        in_order = all(a < b for a, b in zip(seqs, seqs[1:]))
        print(json.dumps({"received": got, "mismatch": mismatch, "other": other,
                          "kernel_drops": drops, "in_order": in_order,
                          "truncated": port.rx_truncated}))


def bsend(port_name, n, seed, dst_mac, pace=0.0):
    """send, a batch per call: Port.send() copies and syncs."""
    dst = P.parse_mac(dst_mac)
    with nm.open(port_name) as port:
        todo = list(frames(n, seed, dst, ready(port)))
        sent, t0 = 0, time.monotonic()
        while sent < n:
            k = port.send(todo[sent:sent + 256])
            sent += k
            if k == 0:
                port.poll(nm.POLLOUT, 1000)
            if pace:
                ahead = sent / pace - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        deadline = time.monotonic() + 5
        while port.tx_rings[0].tx_pending() and time.monotonic() < deadline:
            port.txsync()
            time.sleep(0.001)
        print(json.dumps({"sent": sent, "copied": port.copied_packets,
                          "tx_dropped": port.tx_dropped}))


def brecv(port_name, n, seed, timeout=60.0, slots=None):
    """recv, a batch per call: Port.recv() returns views until the next call."""
    expected = list(bodies(n, seed))
    with nm.open(port_name, slots=slots) as port:
        sys.stderr.write("READY\n")
        sys.stderr.flush()
        got = mismatch = other = 0
        last = time.monotonic()
        deadline = last + timeout
        while got < n and time.monotonic() < deadline and time.monotonic() - last < 3:
            for v in port.recv(512, 200):
                if v[12:14] != ETHERTYPE:
                    other += 1
                    continue
                seq = int.from_bytes(v[14:18], "big")
                mismatch += seq >= n or v[14:] != expected[seq]
                got += 1
                last = time.monotonic()
            v = None                    # no view outlives its batch
        port.recv(1)                    # gives the last batch back
        print(json.dumps({"received": got, "mismatch": mismatch, "other": other,
                          "views_alive": _core.debug_counters()["views_alive"]}))


def seq(port_name, dst_mac, order):
    dst = P.parse_mac(dst_mac)
    with nm.open(port_name) as port:
        src = P.parse_mac(open(f"/sys/class/net/{port.spec.name}/address").read().strip())
        f = P.build_frame(64, src_mac=src, dst_mac=dst)
        vals = dict(sport=f.src.port_lo, sip=f.src.lo, dport=f.dst.port_lo, dip=f.dst.lo)
        tx = port.tx_rings[0]
        for s in order:
            while tx.space() == 0:
                port.poll(nm.POLLOUT, 1000)
            tx.slot(tx.head).write(P.packet_at(f, 64, vals, seq=s))
            tx.advance()
            port.txsync()
        while tx.tx_pending():
            port.txsync()
            time.sleep(0.001)
        print(json.dumps({"sent": len(order)}))


def bridge(a_name, b_name, n, timeout=60.0):
    """Forward n frames a -> b by swapping buffers between the two ports' slots."""
    a, b = nm.open_group([a_name, b_name])
    try:
        assert nm.same_region(a, b)
        sys.stderr.write("READY\n")
        sys.stderr.flush()
        rx, tx = a.rx_rings[0], b.tx_rings[0]
        done = swaps_checked = 0
        deadline = time.monotonic() + timeout
        while done < n and time.monotonic() < deadline:
            a.poll(nm.POLLIN, 100)
            while not rx.empty() and tx.space() and done < n:
                rs, ts = rx.slot(rx.head), tx.slot(tx.head)
                before = rs.buf_idx
                rs.swap(ts)
                swaps_checked += ts.buf_idx == before
                rx.advance()
                tx.advance()
                done += 1
            b.txsync()
        while tx.tx_pending() and time.monotonic() < deadline:
            b.txsync()
            time.sleep(0.001)
        print(json.dumps({"forwarded": done, "swapped": swaps_checked,
                          "copied_by_us": a.copied_packets + b.copied_packets,
                          "zero_copy": a.zero_copy and b.zero_copy, "backend": a.backend}))
    finally:
        a.close()
        b.close()


def sizes(port_name, n, timeout=60.0):
    """Receive n IPv4, tagged or labelled frames (a neighbour's ARP and IPv6 chatter
    counted apart, as other); print {length: frames}."""
    counts = {}
    got = other = 0
    with nm.open(port_name, rx_ring_mb=256) as port:
        sys.stderr.write("READY\n")
        sys.stderr.flush()
        last = time.monotonic()
        while got < n and time.monotonic() - last < min(timeout, 3):
            port.poll(nm.POLLIN, 200)
            for rx in port.rx_rings:
                while not rx.empty():
                    slot = rx.slot(rx.head)
                    if slot.data[12:14].tobytes() not in OURS:
                        other += 1
                    else:
                        counts[slot.len] = counts.get(slot.len, 0) + 1
                        got += 1
                    rx.advance()
                    last = time.monotonic()
    print(json.dumps({"received": got, "other": other, "sizes": counts}))


def hold(port_name):
    with nm.open(port_name) as port:
        sys.stderr.write("READY\n")
        sys.stderr.flush()
        tx = port.tx_rings[0]
        f = b"\x02" * 12 + ETHERTYPE + bytes(46)
        while True:
            while tx.space():
                tx.slot(tx.head).write(f)
                tx.advance()
            port.poll(nm.POLLOUT, 100)


def main(argv):
    cmd = argv[0]
    opts = {}
    rest = []
    it = iter(argv[1:])
    for a in it:
        if a.startswith("--"):
            opts[a[2:].replace("-", "_")] = float(next(it))
        else:
            rest.append(a)
    if cmd == "send":
        send(rest[0], int(rest[1]), int(rest[2]), rest[3], pace=opts.get("pace", 0.0))
    elif cmd == "recv":
        recv(rest[0], int(rest[1]), int(rest[2]), ring_mb=int(opts.get("ring_mb", 256)),
             hold=opts.get("hold", 0.0), timeout=opts.get("timeout", 60.0),
             slots=int(opts["slots"]) if "slots" in opts else None)
    elif cmd == "bsend":
        bsend(rest[0], int(rest[1]), int(rest[2]), rest[3], pace=opts.get("pace", 0.0))
    elif cmd == "brecv":
        brecv(rest[0], int(rest[1]), int(rest[2]), timeout=opts.get("timeout", 60.0),
              slots=int(opts["slots"]) if "slots" in opts else None)
    elif cmd == "seq":
        seq(rest[0], rest[1], [int(x) for x in rest[2].split(",")])
    elif cmd == "bridge":
        bridge(rest[0], rest[1], int(rest[2]))
    elif cmd == "hold":
        hold(rest[0])
    elif cmd == "sizes":
        sizes(rest[0], int(rest[1]), timeout=opts.get("timeout", 60.0))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
