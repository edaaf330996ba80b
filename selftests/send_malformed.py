#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Send malformed FlatRPC requests at the server's XDP program with scapy.

  send_malformed.py IFACE DST_MAC SRC_IP DST_IP CASE COUNT

Each CASE is built to trip exactly one drop reason of flatrpc_abi.h, so a
test can require that reason's counter to move by exactly COUNT. Every
other layer is well formed (scapy fills IP/UDP lengths and checksums).
IPv6 addresses make IPv6 frames; case ipv6_ext adds a destination options
header to an otherwise good request.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abi  # noqa: E402
from scapy.all import (Ether, IP, IPv6, IPv6ExtHdrDestOpt, UDP, Raw,  # noqa: E402
                       sendp, get_if_hwaddr)

PORT = abi.DEFAULT_PORT
UNKNOWN_METHOD = abi.MAX_METHODS - 1  # a method id, and kv has two methods


# Frames that are well-formed but for their one defect carry a tag's worth
# of bytes (a wrong tag: the defect is found before the tag is checked), so
# that their length is right for a service that authenticates.
TAG = bytes(abi.TAG_LEN)


def hdr(magic=abi.MAGIC, flags=0, method=0, rpc_id=1, seq=0, length=0):
    return struct.pack(abi.HDR_FORMAT, magic, flags, method, 0, rpc_id, seq, length)


def payload(case):
    body = bytes(range(16))
    if case == "truncated":
        return hdr()[:5]
    if case == "bad_magic":
        return hdr(magic=0x42, length=len(body)) + body + TAG
    if case == "bad_length":
        # claims far more body than the datagram carries
        return hdr(length=200) + body
    if case == "ipv6_ext":
        return hdr(length=len(body)) + body + TAG
    if case == "unknown_method":
        return hdr(method=UNKNOWN_METHOD, length=len(body)) + body + TAG
    raise SystemExit("send_malformed: unknown case " + case)


def main(a):
    iface, dst_mac, src_ip, dst_ip, case, count = a[1:7]
    if ":" in dst_ip:
        l3 = IPv6(src=src_ip, dst=dst_ip)
        if case == "ipv6_ext":
            l3 = l3 / IPv6ExtHdrDestOpt()
    elif case == "ipv6_ext":
        raise SystemExit("send_malformed: ipv6_ext needs IPv6 addresses")
    else:
        l3 = IP(src=src_ip, dst=dst_ip)
    frame = (Ether(src=get_if_hwaddr(iface), dst=dst_mac) /
             l3 /
             UDP(sport=40001, dport=PORT) /
             Raw(payload(case)))
    sendp(frame, iface=iface, count=int(count), verbose=False)


if __name__ == "__main__":
    main(sys.argv)
