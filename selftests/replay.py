#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An on-path attacker that recorded frames: sends every captured FlatRPC
request again, byte for byte from the IP header on (source address, ports,
header, body and tag as the victim sent them), for test_replay.

  replay.py IFACE DST_MAC PCAP

Prints the number of frames sent.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from send_malformed import PORT  # noqa: E402
from scapy.all import Ether, IP, IPv6, UDP, get_if_hwaddr, rdpcap, sendp  # noqa: E402


def main(a):
    if len(a) != 4:
        raise SystemExit(__doc__)
    iface, dst_mac, pcap = a[1:4]
    frames = []
    for pkt in rdpcap(pcap):
        l3 = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if l3 is None or not pkt.haslayer(UDP) or pkt[UDP].dport != PORT:
            continue
        frames.append(Ether(src=get_if_hwaddr(iface), dst=dst_mac) / l3)
    if frames:
        sendp(frames, iface=iface, verbose=False)
    print(len(frames))


if __name__ == "__main__":
    main(sys.argv)
