#!/usr/bin/env python3
"""Sum the on-wire length of the IPv4 frames in a pcap file.

Prints `frames=N bytes=B l4payload=P`, P being the bytes above UDP or TCP
(from the IP and transport headers, so the snap length need only cover them).

With --flatrpc-port P it also prints, per method and direction, the bytes of
each FlatRPC message that are not body: the UDP payload minus the header's own
body length field (`flatrpc method=M dir=req frames=N hdr_B=H`). The length is each record's original length
(the capture is taken with a short snap length), i.e. the Ethernet frame
as the veth carried it, without preamble or FCS. ARP and IPv6 (neighbour
discovery) are left out: they are not per-call traffic.
"""
import struct
import sys

fr_port = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--flatrpc-port" else None
per = {}
with open(sys.argv[1], "rb") as f:
    data = f.read()
magic = struct.unpack_from("<I", data, 0)[0]
endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack_from(endian + "I", data, 20)[0]
if linktype != 1:
    sys.exit(f"pcap_bytes: link type {linktype}, expected Ethernet (1)")
off, frames, total, payload = 24, 0, 0, 0
while off + 16 <= len(data):
    _, _, incl, orig = struct.unpack_from(endian + "IIII", data, off)
    body = data[off + 16 : off + 16 + incl]
    off += 16 + incl
    if len(body) >= 14 and body[12:14] == b"\x08\x00":
        frames += 1
        total += orig
        ip = body[14:]
        ihl = (ip[0] & 0x0F) * 4
        iplen = struct.unpack_from(">H", ip, 2)[0]
        if ip[9] == 17:
            payload += iplen - ihl - 8
            udp = ip[ihl:]
            sport, dport, ulen = struct.unpack_from(">HHH", udp, 0)
            # 0xF1: FLATRPC_MAGIC; the body length is the header's last field
            if fr_port in (sport, dport) and len(udp) >= 20 and udp[8] == 0xF1:
                k = (udp[10], "req" if dport == fr_port else "resp")
                blen = struct.unpack_from(">H", udp, 18)[0]
                n, h = per.get(k, (0, 0))
                per[k] = (n + 1, h + (ulen - 8 - blen))
        elif ip[9] == 6 and len(ip) >= ihl + 13:
            payload += iplen - ihl - (ip[ihl + 12] >> 4) * 4
print(f"frames={frames} bytes={total} l4payload={payload}")
for (m, d), (n, h) in sorted(per.items()):
    print(f"flatrpc method={m} dir={d} frames={n} hdr_B={h / n:.1f}")
