#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An attacker without the service's key: well-formed FlatRPC frames with a
forged source and a guessed tag, for test_forged_wire.

  forge.py IFACE DST_MAC SRC_IP DST_IP KIND PORTS COUNT

KIND: set-first (a reliable in-order set that opens a stream far ahead, the
stream hijack), set-ahead (held for its turn: the reorder-buffer flood),
resp, err, ack-pending, ack-busy (answers from the service port).
PORTS: the client-side UDP ports, LO-HI; COUNT frames go to each.
Prints the number of frames sent.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abi  # noqa: E402
from send_malformed import hdr, PORT  # noqa: E402
from scapy.all import Ether, IP, IPv6, UDP, Raw, get_if_hwaddr, sendp  # noqa: E402

TAG_LEN = abi.TAG_LEN
F_FIRST = abi.F_FIRST
ACK_PENDING = abi.ACK_PENDING
ACK_BUSY = abi.ACK_BUSY
KIND = abi.KINDS
KV_ABI = os.environ.get("KV_ABI_H") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "gen", "kv", "kv.abi.h")
KV_SET = abi.service_define("KV_SET", KV_ABI)


def kv_set_body(key, value, session):
    # kv's set, in its generated layout: the fixed part, then key and value
    # as le16 length + bytes; a session of its own, which the session
    # tracker would store if the frame got that far
    fixed = bytearray(abi.service_define("KV_SET_REQ_FIXED", KV_ABI))
    off = abi.service_define("KV_SET_REQ_OFF_USERNAME", KV_ABI)
    fixed[off:off + 5] = b"Kevin"
    off = abi.service_define("KV_SET_REQ_OFF_SESSION_ID", KV_ABI)
    fixed[off:off + 8] = struct.pack("<Q", session)
    fixed = bytes(fixed)
    var = b""
    for s in (key, value):
        var += struct.pack("<H", len(s)) + s
    return fixed + var


def frame_payload(kind, rng):
    rpc_id = rng.getrandbits(32)
    if kind in ("set-first", "set-ahead"):
        body = kv_set_body(b"pwned", b"by-mallory", rng.getrandbits(63))
        flags = KIND["req"] | (F_FIRST if kind == "set-first" else 0)
        h = hdr(flags=flags, method=KV_SET, rpc_id=rpc_id, seq=rng.getrandbits(16),
                length=len(body))
    elif kind == "resp":
        body = b"\x01"  # set's response: ok = true
        h = hdr(flags=KIND["resp"], method=KV_SET, rpc_id=rpc_id, length=len(body))
    elif kind == "err":
        body = b""
        h = bytearray(hdr(flags=KIND["err"], method=KV_SET, rpc_id=rpc_id))
        h[3] = 1
        h = bytes(h)
    elif kind in ("ack-pending", "ack-busy"):
        body = b""
        h = bytearray(hdr(flags=KIND["ack"], method=KV_SET, rpc_id=rpc_id))
        h[3] = ACK_PENDING if kind == "ack-pending" else ACK_BUSY
        h = bytes(h)
    else:
        raise SystemExit("forge: unknown kind " + kind)
    return h + body + rng.getrandbits(8 * TAG_LEN).to_bytes(TAG_LEN, "little")


def main(a):
    if len(a) != 8:
        raise SystemExit(__doc__)
    iface, dst_mac, src_ip, dst_ip, kind, ports, count = a[1:8]
    lo, hi = (int(p) for p in ports.split("-"))
    rng = random.Random(0xF1)
    answer = not kind.startswith("set")
    l3 = IPv6 if ":" in dst_ip else IP
    frames = []
    for port in range(lo, hi + 1):
        for _ in range(int(count)):
            sport, dport = (PORT, port) if answer else (port, PORT)
            frames.append(Ether(src=get_if_hwaddr(iface), dst=dst_mac) /
                          l3(src=src_ip, dst=dst_ip) /
                          UDP(sport=sport, dport=dport) /
                          Raw(frame_payload(kind, rng)))
    sendp(frames, iface=iface, verbose=False)
    print(len(frames))


if __name__ == "__main__":
    main(sys.argv)
