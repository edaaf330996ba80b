#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Read and write the pinned BPF maps the selftests look at, via bpftool.

Values are decoded from bpftool's raw bytes rather than its BTF
"formatted" view: the raw form is present for every map, with or without
BTF, so the tests do not depend on how the object was compiled. Per-CPU
values are summed, as the ABI header says tools must do.
"""
import json
import os
import re
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abi  # noqa: E402

def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else None


def addr_text(a):
    """A FLATRPC_ADDR (16 bytes, IPv4 as IPv4-mapped) as text."""
    if a[:12] == bytes(10) + b"\xff\xff":
        return ".".join(str(b) for b in a[12:])
    return ":".join("%02x%02x" % (a[i], a[i + 1]) for i in range(0, 16, 2))


def raw(bytes_hex):
    return bytes(int(b, 16) for b in bytes_hex)


def entries(path):
    """Yield (key bytes, value bytes), per-CPU values summed as u64 words."""
    for e in bpftool("map", "dump", "pinned", path) or []:
        key = raw(e["key"])
        if "values" in e:
            total = None
            for cpu in e["values"]:
                v = raw(cpu["value"])
                words = [int.from_bytes(v[i:i + 8], "little")
                         for i in range(0, len(v) - len(v) % 8, 8)]
                total = words if total is None else [a + b for a, b in zip(total, words)]
            yield key, total or []
        else:
            v = raw(e["value"])
            yield key, [int.from_bytes(v[i:i + 8], "little")
                        for i in range(0, len(v) - len(v) % 8, 8)] or \
                [int.from_bytes(v, "little")]


def spec_states(init_header):
    """Map state pins in state_limits order, from the generated init.h."""
    text = open(init_header).read()
    line = text[text.index("#define FLATRPC_SPEC_STATES"):].split("\n")[0]
    return re.findall(r'"([^"]+)"', line)


def unpack(fmt, data):
    return struct.unpack_from(fmt, data)


def main(argv):
    cmd = argv[1]
    if cmd == "ints":
        # key value, both little-endian integers (first word of the value)
        for k, v in entries(argv[2]):
            print(int.from_bytes(k, "little"), v[0] if v else 0)
    elif cmd == "drops":
        # drops PATH: every reason of the ABI's table and its count
        names = abi.DROP_REASONS
        counts = dict.fromkeys(names, 0)
        for k, v in entries(argv[2]):
            idx = int.from_bytes(k, "little")
            name = names[idx] if idx < len(names) else "reason_%d" % idx
            counts[name] = counts.get(name, 0) + (v[0] if v else 0)
        for name, n in counts.items():
            print(name, n)
    elif cmd == "limits":
        # limits PATH INIT_H: one line per Map state, its pin name and
        # field=value for each field of struct flatrpc_state_limits
        states = spec_states(argv[3])
        for k, v in entries(argv[2]):
            idx = int.from_bytes(k, "little")
            if idx < len(states):
                words = unpack(abi.STATE_LIMITS_FORMAT, struct.pack("<%dQ" % len(v), *v))
                print(states[idx], *("%s=%d" % fw for fw in zip(abi.STATE_LIMITS_FIELDS, words)))
    elif cmd == "impair-set":
        # impair-set PATH REQ RESP [DUP_REQ DUP_RESP [FLAGS]], rates in ppm
        rates = [int(a) for a in argv[3:7]] + [0] * (4 - len(argv[3:7]))
        flags = int(argv[7]) if len(argv) > 7 else 0
        value = struct.pack(abi.IMPAIR_CFG_FORMAT, *rates, 0, flags)
        subprocess.run(["bpftool", "map", "update", "pinned", argv[2],
                        "key", *[str(b) for b in struct.pack("<I", 0)],
                        "value", *[str(b) for b in value]], check=True)
    elif cmd == "impair-dump":
        # kind method seen dropped retx_seen
        for k, v in entries(argv[2]):
            print(*unpack(abi.IMPAIR_KEY_FORMAT, k), *v[:3])
    elif cmd == "impair-dups":
        # impair-dups PATH KIND: originals of KIND that were sent twice
        kind = abi.IMPAIR_KINDS[argv[3]]
        dup = abi.IMPAIR_COUNT_FIELDS.index("duplicated")
        print(sum(v[dup] for k, v in entries(argv[2])
                  if unpack(abi.IMPAIR_KEY_FORMAT, k)[0] == kind))
    elif cmd == "impair-ids":
        # kind method rpc_id seen dropped duplicated retx_seen first_ns,
        # one line per record
        for e in bpftool("map", "dump", "pinned", argv[2]) or []:
            rpc_id, kind, method = unpack(abi.IMPAIR_ID_KEY_FORMAT, raw(e["key"]))
            print(kind, method, rpc_id, *unpack(abi.IMPAIR_ID_COUNT_FORMAT, raw(e["value"])))
    elif cmd == "impair-sum":
        # impair-sum PATH KIND [METHOD]: seen dropped retx_seen over matches
        kind = abi.IMPAIR_KINDS[argv[3]]
        method = int(argv[4]) if len(argv) > 4 else None
        tot = [0, 0, 0]
        for k, v in entries(argv[2]):
            kk, km = unpack(abi.IMPAIR_KEY_FORMAT, k)
            if kk == kind and (method is None or km == method):
                tot = [a + b for a, b in zip(tot, v[:3])]
        print(*tot)
    elif cmd == "impair-reset":
        for k, _ in list(entries(argv[2])):
            subprocess.run(["bpftool", "map", "delete", "pinned", argv[2],
                            "key", *[str(b) for b in k]], check=True)
    elif cmd == "define":
        # define NAME: a constant of the ABI (FLATRPC_SEQ_PER_HOST)
        print(abi.define(argv[2]))
    elif cmd == "streams":
        # streams PATH: in-order streams per client address in `seqs`,
        # whose key starts with the client's FLATRPC_ADDR (flatrpc_abi.h)
        per = {}
        for k, _ in entries(argv[2]):
            a = addr_text(k[:16])
            per[a] = per.get(a, 0) + 1
        for a, n in sorted(per.items()):
            print(a, n)
    else:
        sys.exit("maptool: unknown command %s" % cmd)


if __name__ == "__main__":
    main(sys.argv)
