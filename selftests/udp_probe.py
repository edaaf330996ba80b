#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kernel-socket UDP sender/receiver used to check the impairment program
on its own, before any FlatRPC code is involved.

  udp_probe.py send DST_IP COUNT KIND [--sport P] [--dport P] [--short]
  udp_probe.py recv PORT READY_FILE IDLE_S [DONE_FILE] -> prints the datagram count
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abi  # noqa: E402


def send(dst, count, kind, sport, dport, short):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", sport))
    for i in range(count):
        if short:
            payload = bytes([abi.MAGIC, 0, 0])
        else:
            body = b"probe"
            # method 5, rpc_id i, seq 0; big-endian header as on the wire
            payload = struct.pack(abi.HDR_FORMAT, abi.MAGIC, abi.KINDS[kind], 5, 0, i, 0,
                                  len(body)) + body
        s.sendto(payload, (dst, dport))
        # pacing keeps the veth/router queues from dropping on their own,
        # which would be indistinguishable from the impairment's drops
        time.sleep(0.001)


def recv(port, ready_file, idle, done_file=None):
    """Counts datagrams until none came for `idle` seconds; with done_file,
    only once that file exists (the sender finished). A fresh python sender
    under TCG, with other work on the machine, can take longer than `idle`
    to send its first datagram."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.2 if done_file else idle)
    open(ready_file, "w").close()
    n = 0
    quiet_since = None
    while True:
        try:
            s.recv(2048)
            n += 1
            quiet_since = None
            continue
        except socket.timeout:
            if not done_file:
                break
        if not os.path.exists(done_file):
            continue
        now = time.monotonic()
        if quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= idle:
            break
    print(n)


def main(a):
    if a[1] == "send":
        opts = a[5:]
        sport = int(opts[opts.index("--sport") + 1]) if "--sport" in opts else 40000
        dport = int(opts[opts.index("--dport") + 1]) if "--dport" in opts else 7447
        send(a[2], int(a[3]), a[4], sport, dport, "--short" in opts)
    elif a[1] == "recv":
        recv(int(a[2]), a[3], float(a[4]), a[5] if len(a) > 5 else None)
    else:
        sys.exit("udp_probe: send|recv")


if __name__ == "__main__":
    main(sys.argv)
