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
import subprocess
import sys

IMPAIR_KINDS = {"req": 0, "resp": 1, "err": 2, "ack": 3, "malformed": 0xFF}


def bpftool(*args):
    out = subprocess.run(["bpftool", "-j", *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else None


def abi_define(name, header=None):
    """A number the ABI header (or another header: a generated <svc>.abi.h)
    defines, as #define or enum member, so that no constant is kept here."""
    abi = header or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                 "include", "flatrpc_abi.h")
    with open(abi) as f:
        text = f.read()
    m = (re.search(r"^#define\s+%s\s+(0x[0-9a-fA-F]+|\d+)\b" % name, text, re.M) or
         re.search(r"^\s*%s\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*," % name, text, re.M))
    if not m:
        raise SystemExit("maptool: no %s in %s" % (name, abi))
    return int(m.group(1), 0)


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


def drop_reasons(abi_header):
    """Reason names by key, read from the X-macro so no copy can drift."""
    text = open(abi_header).read()
    block = text[text.index("#define FLATRPC_DROP_REASONS"):]
    block = block[:block.index("enum flatrpc_drop")]
    return re.findall(r'X\(\s*\w+\s*,\s*"([^"]+)"\s*\)', block)


def struct_fields(abi_header, name):
    """Field names of a struct of __u64/__s64 words, in order, from the header."""
    text = open(abi_header).read()
    body = text[text.index("struct %s {" % name):]
    body = re.sub(r"/\*.*?\*/", "", body[:body.index("};")], flags=re.S)
    return re.findall(r"__[us]64\s+(\w+);", body)


def spec_states(init_header):
    """Map state pins in state_limits order, from the generated init.h."""
    text = open(init_header).read()
    line = text[text.index("#define FLATRPC_SPEC_STATES"):].split("\n")[0]
    return re.findall(r'"([^"]+)"', line)


def u32(v):
    return [str((v >> s) & 0xFF) for s in (0, 8, 16, 24)]


def main(argv):
    cmd = argv[1]
    if cmd == "ints":
        # key value, both little-endian integers (first word of the value)
        for k, v in entries(argv[2]):
            print(int.from_bytes(k, "little"), v[0] if v else 0)
    elif cmd == "drops":
        names = drop_reasons(argv[3])
        counts = dict.fromkeys(names, 0)
        for k, v in entries(argv[2]):
            idx = int.from_bytes(k, "little")
            name = names[idx] if idx < len(names) else "reason_%d" % idx
            counts[name] = counts.get(name, 0) + (v[0] if v else 0)
        for name, n in counts.items():
            print(name, n)
    elif cmd == "limits":
        # limits PATH ABI_H INIT_H: one line per Map state, its pin name
        # and field=value for each word of struct flatrpc_state_limits
        fields = struct_fields(argv[3], "flatrpc_state_limits")
        states = spec_states(argv[4])
        for k, v in entries(argv[2]):
            idx = int.from_bytes(k, "little")
            if idx < len(states):
                words = [w - (1 << 64) if w >> 63 else w for w in v]
                print(states[idx], *("%s=%d" % fw for fw in zip(fields, words)))
    elif cmd == "impair-set":
        # impair-set PATH REQ RESP [DUP_REQ DUP_RESP [FLAGS]], rates in ppm;
        # the layout of struct impair_cfg in selftests/bpf/impair.bpf.c
        rates = [int(a) for a in argv[3:7]] + [0] * (4 - len(argv[3:7]))
        flags = int(argv[7]) if len(argv) > 7 else 0
        value = sum((u32(r) for r in rates), []) + u32(flags << 16) + ["0"] * 4
        subprocess.run(["bpftool", "map", "update", "pinned", argv[2],
                        "key", *u32(0), "value", *value], check=True)
    elif cmd == "impair-dump":
        # kind method seen dropped retx_seen
        for k, v in entries(argv[2]):
            print(k[0], k[1], *v[:3])
    elif cmd == "impair-dups":
        # impair-dups PATH KIND: originals of KIND that were sent twice
        kind = IMPAIR_KINDS[argv[3]]
        print(sum(v[3] for k, v in entries(argv[2]) if k[0] == kind))
    elif cmd == "impair-ids":
        # kind method rpc_id seen dropped duplicated retx_seen first_ns,
        # one line per record
        for e in bpftool("map", "dump", "pinned", argv[2]) or []:
            k, v = raw(e["key"]), raw(e["value"])
            w = [int.from_bytes(v[i:i + 4], "little") for i in range(0, 16, 4)]
            print(k[4], k[5], int.from_bytes(k[0:4], "little"), *w,
                  int.from_bytes(v[16:24], "little"))
    elif cmd == "impair-sum":
        # impair-sum PATH KIND [METHOD]: seen dropped retx_seen over matches
        kind = IMPAIR_KINDS[argv[3]]
        method = int(argv[4]) if len(argv) > 4 else None
        tot = [0, 0, 0]
        for k, v in entries(argv[2]):
            if k[0] == kind and (method is None or k[1] == method):
                tot = [a + b for a, b in zip(tot, v[:3])]
        print(*tot)
    elif cmd == "impair-reset":
        for k, _ in list(entries(argv[2])):
            subprocess.run(["bpftool", "map", "delete", "pinned", argv[2],
                            "key", *[str(b) for b in k]], check=True)
    elif cmd == "define":
        # define NAME [HEADER]: a number the ABI header defines
        print(abi_define(argv[2], argv[3] if len(argv) > 3 else None))
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
