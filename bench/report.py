#!/usr/bin/python3
"""Tables and plots from a saved `bench/run.sh` output.

    bench/report.py bench/results/kv-bench.txt [--png-dir docs] [--doc docs/benchmarks.md]
                    [--gateway bench/results/gateway-bench.txt]

Writes kv-latency.png, kv-rate.png, hol.png, hdr-parse.png and
kv-histogram.png (one run's get latency as the library's histogram saw it) into
--png-dir. With --doc, rewrites every table of that page between its
`<!-- report:NAME -->` and `<!-- /report:NAME -->` markers (the targets
table included, computed here from the raw figures); without it, prints the
tables. --gateway adds the table of a saved `bench/run.sh --gateway`
output (the block `gateway`). It reads only the raw output, so the page and the plots can be
remade without rerunning. Debian's python3-matplotlib serves /usr/bin/python3,
hence the shebang.
"""
import argparse
import re
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"udp": "UDP sockets", "tcp": "TCP (NODELAY)", "flatrpc": "FlatRPC",
         "grpc": "gRPC C++", "grpc-haproxy": "gRPC + HAProxy",
         "xdp-echo": "raw AF_XDP echo (floor)",
         "h2": "HTTP/2 (nghttp2)", "grpc-icpt": "gRPC + interceptors"}

# The FlatRPC rows. ANF_CHAIN is fewest features first; each adds one thing
# to the one before it, so neighbouring rows give that thing's cost. The
# others are flatrpc-fwst with one other transport for set (SET_TRANSPORT).
FLATRPC_STACKS = {"flatrpc-noanf": "FlatRPC, no ANFs (all lossy)",
                  "flatrpc-fw": "FlatRPC, firewall (all lossy)",
                  "flatrpc-fwst": "FlatRPC, firewall + session tracker (all lossy)",
                  "flatrpc-cst": "FlatRPC, firewall + session tracker at the client (all lossy)",
                  "flatrpc-rel": "FlatRPC, firewall + session tracker, reliable set",
                  "flatrpc-ino": "FlatRPC, firewall + session tracker, in-order (drop) set",
                  "flatrpc-relino": "FlatRPC, firewall + session tracker, reliable in-order set",
                  "flatrpc-noauth": "FlatRPC, full, auth: none",
                  "flatrpc-noobs": "FlatRPC, full, no figures (FLATRPC_OBS=off, --figures off)",
                  "flatrpc": "FlatRPC, full: + reliable in-order set (specs/kv.anf)"}
ANF_CHAIN = ("flatrpc-noanf", "flatrpc-fw", "flatrpc-fwst", "flatrpc")
SET_TRANSPORT = {"flatrpc-rel": "reliable", "flatrpc-ino": "in-order (drop), lossy",
                 "flatrpc-relino": "in-order (hold-forever) + reliable",
                 "flatrpc": "in-order (hold-forever) + reliable + priority 4"}


# what a block says when the raw output has nothing for it
NA = "n/a: the raw output has no such figures (it predates them, or the tools were not built)."


def label(p):
    return FLATRPC_STACKS.get(p) or NAMES.get(p, p)


def stack_order(seen):
    """The stacks of NAMES that the output has, FlatRPC's variants just
    before the full FlatRPC row, and any stack NAMES does not know last."""
    order = []
    for p in NAMES:
        if p == "flatrpc":
            order += [v for v in FLATRPC_STACKS if v != "flatrpc"]
        order.append(p)
    order += sorted(p for p in seen if p not in order)
    return [p for p in order if p in seen]


def parse(path):
    r = {"main": {}, "spread": {}, "cpu": {}, "wire": {}, "hdr": [], "frhdr": [],
         "xdp": {}, "hol": {}, "cost": {}, "auth": {}, "obs": {}, "hist": None, "machine": ""}
    section, last = "main", None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# FlatRPC KV benchmark:"):
            r["machine"] = line[len("# FlatRPC KV benchmark:"):].strip()
        if line.startswith("# CPU time"):
            section = "cpu"
        elif line.startswith("# on-wire"):
            section = "wire"
        elif line.startswith("# head-of-line"):
            section = "hol"
        elif line.startswith("# header parsing"):
            section = "hdr"
        elif line.startswith("# ratios"):
            section = "ratios"
        elif line.startswith("# transport cost"):
            section = "cost"
        elif line.startswith("# auth cost"):
            section = "auth"
        elif line.startswith("# figures cost"):
            section = "obs"
        m = re.match(r"# call latency histogram (\S+) (\w+) (\w+): kv_bench_p50_us=([\d.]+) "
                     r"kv_bench_p99_us=([\d.]+) buckets=([\d:,]*)", line)
        if m:
            r["hist"] = {"stack": m[1], "mode": m[2], "method": m[3], "p50": float(m[4]),
                         "p99": float(m[5]),
                         "buckets": [tuple(int(x) for x in b.split(":")) for b in m[6].split(",") if b]}
        m = re.match(r"  (flatrpc[\w-]*) header (\w+) (\w+): ([\d.]+) B", line)
        if m:
            r["frhdr"].append((m[1], m[2], m[3], float(m[4])))
        m = re.match(r"# XDP program ?([\w-]*): server (\d+) ns/packet over \d+ packets, "
                     r"client (\d+) ns/packet", line)
        if m:
            r["xdp"][m[1] or "flatrpc"] = (int(m[2]), int(m[3]))
        m = re.match(r"  runs: ([\d. ]+)\((get )?p(50|99)\)", line)
        if m and section in ("main", "hol") and last:
            runs = [float(x) for x in m[1].split()]
            r["spread"][last] = (min(runs), max(runs), len(runs))
        if not line or line.startswith("#") or line.startswith("  "):
            continue
        f = line.split()
        if section == "main" and len(f) == 5 and f[0] in ("blocking", "busy"):
            r["main"][(f[0], f[1])] = f[2:5]
            last = (f[0], f[1])
        elif section == "cost" and len(f) == 8 and f[0] == "cost" and f[1] != "mode":
            # p50, set p50, get p50, then the runs' min/max of p50 and set p50
            r["cost"][(f[1], f[2])] = [num(x) for x in f[3:6]] + \
                [tuple(num(x) for x in mm.split("/")) for mm in f[6:8]]
        elif section in ("auth", "obs") and len(f) == 7 and f[0] == section and f[1] != "mode":
            # p50, set p50, get p50, then the runs' min/max of p50
            r[section][(f[1], f[2])] = [num(x) for x in f[3:6]] + \
                [tuple(num(x) for x in f[6].split("/"))]
        elif section == "cpu" and len(f) == 3 and f[0] in ("blocking", "busy"):
            r["cpu"][(f[0], f[1])] = f[2]
        elif section == "wire" and len(f) == 7 and f[0] != "proto":
            r["wire"][f[0]] = f[1:]
        elif section == "hol" and len(f) == 8 and f[0] == "hol" and f[1] != "proto":
            r["hol"][(f[1], f[2])] = dict(zip(("p50", "p99", "gets", "lost", "dropped"),
                                              map(float, f[3:8])))
            last = ("hol", f[1], f[2])
        elif section == "hdr" and line.startswith("n="):
            r["hdr"].append({k: float(v) for k, v in re.findall(r"(\w+)=(-?[\d.]+)", line)})
        elif section == "hdr" and line.startswith("grpc-md n="):
            # grpc-md prints after hdr-parse, so its row for n joins hdr-parse's
            g = {k: float(v) for k, v in re.findall(r"(\w+)=(-?[\d.]+)", line)}
            row = next((x for x in r["hdr"] if x["n"] == g["n"]), None)
            if row is not None:
                row.update(g)
    return r


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def fig(main_t, mode, proto, idx):
    return num(main_t.get((mode, proto), [None] * 3)[idx])


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def ratio_str(a, b, fmt="{:.2f}×"):
    return fmt.format(a / b) if a is not None and b else "n/a"


def blocks(r):
    """Markdown for each marker name of docs/benchmarks.md."""
    main_t, protos = r["main"], stack_order({k[1] for k in r["main"]})
    b = {"machine": f"Raw output header: `{r['machine']}`." if r["machine"] else NA}

    rows = []
    for p in protos:
        row = [label(p)]
        for m in ("blocking", "busy"):
            v = main_t.get((m, p), ["n/a"] * 3)
            sp = r["spread"].get((m, p))
            row += [v[0] + (f" ({sp[0]:g}–{sp[1]:g})" if sp and sp[2] > 1 else "")]
            row += v[1:] + [r["cpu"].get((m, p), "n/a")]
        rows.append(row)
    b["kv"] = table(["stack", "1 core blocking p50 µs (runs min–max)", "p99 µs", "rate /s (32 out)",
                     "CPU µs/call", "2 cores busy-poll p50 µs (runs min–max)", "p99 µs",
                     "rate /s (32 out)", "CPU µs/call"], rows)

    rows = []
    for base in ("udp", "tcp", "xdp-echo") + tuple(p for p in protos if p.startswith("grpc") or p == "h2"):
        if base not in protos:
            continue
        row = [label(base)]
        for m in ("blocking", "busy"):
            for idx in (0, 1, 2):
                row.append(ratio_str(fig(main_t, m, "flatrpc", idx), fig(main_t, m, base, idx),
                                     "{:.3f}×" if base.startswith("grpc") else "{:.2f}×"))
        rows.append(row)
    b["ratios"] = table(["FlatRPC (full) ÷", "blocking p50", "blocking p99", "blocking rate",
                         "busy p50", "busy p99", "busy rate"], rows)

    variants = [p for p in ANF_CHAIN if p in protos]
    rows = []
    for i, p in enumerate(variants):
        prev = variants[i - 1] if i else None
        row = [label(p)]
        for m in ("blocking", "busy"):
            v = fig(main_t, m, p, 0)
            pv = fig(main_t, m, prev, 0) if prev else None
            row += [f"{v:.2f}" if v is not None else "n/a",
                    f"{v - pv:+.2f}" if v is not None and pv is not None else "–"]
        x, px = r["xdp"].get(p), r["xdp"].get(prev) if prev else None
        row += [f"{x[0]} / {x[1]}" if x else "n/a",
                f"{x[0] - px[0]:+d} / {x[1] - px[1]:+d}" if x and px else "–"]
        rows.append(row)
    b["variants"] = table(["FlatRPC stack", "blocking p50 µs", "Δ p50 µs", "busy p50 µs", "Δ p50 µs",
                           "XDP ns/packet server / client", "Δ XDP ns"], rows) if rows else NA

    b["transport"] = transport_cost(r["cost"])
    b["placement"] = placement(r)
    b["auth"] = auth_cost(r)
    b["obs"] = obs_cost(r)
    if r["hist"] and r["hist"]["buckets"]:
        b["obs"] += "\n\n![get latency histogram of one run](kv-histogram.png)"

    rows = [[label(p)] + r["wire"][p] for p in protos if p in r["wire"]]
    b["wire"] = table(["stack", "frames/call", "wire B/call (capture)", "veth counters B/call",
                       "bodies B/call", "headers B/call", "RPC header or framing B/message"], rows)

    hdrs = {}
    for stack, meth, d, by in r["frhdr"]:
        hdrs.setdefault((stack, meth), {})[d] = by
    transport = {"get": "lossy"}
    rows = [[label(s), m, SET_TRANSPORT.get(s, "lossy") if m == "set" else transport.get(m, "lossy"),
             f"{v.get('req', 0):.1f} B", f"{v.get('resp', 0):.1f} B"]
            for (s, m), v in hdrs.items()]
    b["frhdr"] = table(["stack", "method", "transport", "request", "response"], rows) if rows else NA

    rows = []
    for p in ("grpc", "flatrpc"):
        h0, h1 = r["hol"].get((p, "0")), [v for (q, pct), v in r["hol"].items() if q == p and pct != "0"]
        if not h0 or not h1:
            continue
        h1, pct1 = h1[0], [pct for (q, pct) in r["hol"] if q == p and pct != "0"][0]

        def p99(h, pct):
            sp = r["spread"].get(("hol", p, pct))
            return f"{h['p99']:.1f}" + (f" ({sp[0]:g}–{sp[1]:g})" if sp and sp[2] > 1 else "")
        rows.append([label(p) if p != "flatrpc" else "FlatRPC (lossy get, specs/kv.anf)",
                     f"{h0['p50']:.1f}", p99(h0, "0"), f"{h1['p50']:.1f}", p99(h1, pct1),
                     ratio_str(h1["p99"], h0["p99"]), f"{h1['gets']:.0f}", f"{h1['lost']:.0f}",
                     f"{h1['dropped']:.0f}"])
    b["hol"] = table(["stack", "no loss: get p50 µs", "get p99 µs (runs min–max)", "1% loss: get p50 µs",
                      "get p99 µs (runs min–max)",
                      "p99 loss ÷ no loss", "gets completed (per run)", "gets lost (per run)",
                      "frames dropped (all runs)"], rows) if rows else NA
    if rows:
        # the plot is made only from HOL figures, so it is linked only with them
        b["hol"] = "![head-of-line blocking](hol.png)\n\n" + b["hol"]

    rows = []
    for x in r["hdr"]:
        n = int(x["n"])
        if n in (1, 2, 5, 10, 15, 20, 25):
            rows.append([n, f"{x['h2_cold_ns']:.0f} ({x['h2_cold_min']:.0f}–{x['h2_cold_max']:.0f})",
                         f"{x['h2_warm_ns']:.0f} ({x['h2_warm_min']:.0f}–{x['h2_warm_max']:.0f})",
                         f"{x['grpc_ns']:.0f} ({x['grpc_min']:.0f}–{x['grpc_max']:.0f})"
                         if "grpc_ns" in x else "n/a",
                         f"{x['bpf_ns']:.0f} ({x['bpf_min']:.0f}–{x['bpf_max']:.0f})",
                         f"{x['bpf_net_ns']:.0f}", f"{x['h2_cold_bytes']:.0f} / {x['h2_warm_bytes']:.0f}",
                         f"{x['flatrpc_bytes']:.0f}"])
    b["hdr"] = table(["N fields", "HTTP/2 first request (nghttp2) ns", "HTTP/2 indexed ns",
                      "gRPC metadata (server CPU) ns", "FlatRPC XDP (test run) ns", "XDP minus N=0 ns",
                      "HPACK B (first/indexed)", "FlatRPC B"], rows) if rows else NA
    b["targets"] = targets(r, hdrs)
    return b


def transport_cost(cost):
    """Each set transport against flatrpc-fwst, whose methods are both lossy
    and whose ANFs are the same: the difference is what the transport costs."""
    base = "flatrpc-fwst"
    stacks = [p for p in FLATRPC_STACKS if any(k[1] == p for k in cost)]
    if base not in stacks:
        return NA
    rows = []
    for p in stacks:
        if p not in (base,) + tuple(SET_TRANSPORT):
            continue
        row = [label(p), SET_TRANSPORT.get(p, "lossy")]
        for idx in (0, 1):
            for m in ("blocking", "busy"):
                c, c0 = cost.get((m, p), [None] * 5), cost.get((m, base), [None] * 5)
                v, b0, mm = c[idx], c0[idx], c[3 + idx]
                runs = f", runs {mm[0]:g}–{mm[1]:g}" if mm and mm[0] != mm[1] else ""
                row.append("n/a" if v is None else f"{v:.2f}{runs}" if p == base or b0 is None
                           else f"{v:.2f} ({v - b0:+.2f}{runs})")
        rows.append(row)
    return table(["FlatRPC stack", "set transport", "blocking p50 µs (Δ to lossy, runs min–max)",
                  "busy p50 µs (Δ, runs)", "blocking set p50 µs (Δ, runs)", "busy set p50 µs (Δ, runs)"], rows)


def placement(r):
    """The session tracker at the server (flatrpc-fwst) and at the client
    (flatrpc-cst), from the interleaved runs, the capture and the BPF
    statistics of the same invocation."""
    base, cst = "flatrpc-fwst", "flatrpc-cst"
    if (("blocking", cst) not in r["cost"]) or (("blocking", base) not in r["cost"]):
        return NA
    rows = []
    for p, where in ((base, "server (XDP)"), (cst, "client (in the library), session_id stripped")):
        row = [label(p), where]
        for m in ("blocking", "busy"):
            c, c0 = r["cost"].get((m, p), [None] * 5), r["cost"].get((m, base), [None] * 5)
            v, b0, mm = c[0], c0[0], c[3]
            runs = f", runs {mm[0]:g}–{mm[1]:g}" if mm and mm[0] != mm[1] else ""
            row.append("n/a" if v is None else f"{v:.2f}{runs}" if p == base or b0 is None
                       else f"{v:.2f} ({v - b0:+.2f}{runs})")
        w, w0 = r["wire"].get(p), r["wire"].get(base)
        row.append("n/a" if not w else w[1] if p == base or not w0
                   else f"{w[1]} ({float(w[1]) - float(w0[1]):+.1f})")
        x = r["xdp"].get(p)
        row.append(f"{x[0]} / {x[1]}" if x else "n/a")
        rows.append(row)
    return table(["FlatRPC stack", "session tracker runs at", "blocking p50 µs (Δ, runs min–max)",
                  "busy p50 µs (Δ, runs)", "wire B/call (Δ)", "XDP ns/packet server / client"], rows)


def paired_cost(r, runs, base, full, what, col):
    """Two stacks from interleaved runs (r[runs]): each one's p50, the
    second's over the first's, and the XDP programs' ns/packet."""
    if ("blocking", base) not in r[runs]:
        return NA
    rows = []
    for p, w in ((base, what[0]), (full, what[1])):
        row = [label(p), w]
        for m in ("blocking", "busy"):
            c, c0 = r[runs].get((m, p)), r[runs].get((m, base))
            if not c:
                row.append("n/a")
                continue
            mm = c[3]
            spread = f", runs {mm[0]:g}–{mm[1]:g}" if mm and mm[0] != mm[1] else ""
            row.append(f"{c[0]:.2f}{spread}" if p == base or not c0
                       else f"{c[0]:.2f} ({c[0] - c0[0]:+.2f}{spread})")
        x = r["xdp"].get(p)
        row.append(f"{x[0]} / {x[1]}" if x else "n/a")
        rows.append(row)
    return table(["FlatRPC stack", col, "blocking p50 µs (Δ, runs min–max)",
                  "busy p50 µs (Δ, runs)", "XDP ns/packet server / client"], rows)


def auth_cost(r):
    """specs/kv.anf with its SipHash tags against the same spec with
    auth: none, from the interleaved runs and the BPF statistics."""
    return paired_cost(r, "auth", "flatrpc-noauth", "flatrpc",
                       ("auth: none", "SipHash-2-4 tag on every frame"), "frames")


def obs_cost(r):
    """specs/kv.anf counting its figures against the same with none, its
    processes run with FLATRPC_OBS=off and loaded --figures off
    (docs/observability.md)."""
    return paired_cost(r, "obs", "flatrpc-noobs", "flatrpc",
                       ("nothing", "calls by status, latency, handler and XDP time, element verdicts"),
                       "figures counted")


def hist_quantile(buckets, q):
    """As Prometheus's histogram_quantile() and flatrpc-stat: the bucket
    where the rank falls, linear inside it. buckets: (lower_ns, upper_ns,
    count) of the non-empty ones, as flatrpc-stat -j gives them."""
    total, seen = sum(c for _, _, c in buckets), 0
    for lo, hi, c in buckets:
        if seen + c >= q * total:
            return lo + (hi - lo) * (q * total - seen) / c
        seen += c
    return None


def targets(r, hdrs):
    main_t, xdp = r["main"], r["xdp"]
    rows = []

    def verdict(ok):
        return "n/a (not in the raw output)" if ok is None else ("**met**" if ok else "**not met**")

    def ratio_target(name, mode, base, idx, limit, higher=False, also=()):
        a, c = fig(main_t, mode, "flatrpc", idx), fig(main_t, mode, base, idx)
        if a is None or not c:
            rows.append([name, "n/a", verdict(None)])
            return
        q = a / c
        more = "".join(f"; against {label(o)}: {a / fig(main_t, mode, o, idx):.3f}×"
                       for o in also if fig(main_t, mode, o, idx))
        rows.append([name, f"{a:g} / {c:g} = {q:.3f}×{more}",
                     verdict(q >= limit if higher else q <= limit)])

    ratio_target("FlatRPC full KV stack p50 ≤ 0.80× UDP, busy-poll", "busy", "udp", 0, 0.80)
    ratio_target("FlatRPC p50 ≤ 1.20× a raw AF_XDP echo, busy-poll", "busy", "xdp-echo", 0, 1.20,
                 also=())
    ratio_target("FlatRPC p50 ≤ 1/8 of gRPC's (0.125×), one core blocking", "blocking", "grpc", 0, 0.125,
                 also=("grpc-icpt", "grpc-haproxy"))
    ratio_target("rate with 32 outstanding ≥ 1.6× UDP, busy-poll", "busy", "udp", 2, 1.6, higher=True)

    # each host ANF: the firewall over no ANFs, the session tracker over
    # the firewall; the same transports on both sides of each difference
    for anf, lo, hi in (("firewall", "flatrpc-noanf", "flatrpc-fw"),
                        ("session tracker", "flatrpc-fw", "flatrpc-fwst")):
        a, c = fig(main_t, "busy", hi, 0), fig(main_t, "busy", lo, 0)
        name = f"the {anf} adds ≤ 0.1 µs p50, busy-poll"
        if a is None or c is None:
            rows.append([name, "n/a", verdict(None)])
            continue
        x, xl = xdp.get(hi), xdp.get(lo)
        kern = f"; in XDP {x[0] - xl[0]:+d} ns/packet at the server" if x and xl else ""
        rows.append([name, f"{a:g} − {c:g} = {a - c:+.2f} µs{kern}", verdict(a - c <= 0.1)])

    def hdr_max(method):
        v = hdrs.get(("flatrpc", method))
        return max(v.values()) if v else None
    lossy, rel = hdr_max("get"), hdr_max("set")
    rows.append(["FlatRPC header ≤ 12 B lossy (get), ≤ 16 B reliable (set)",
                 f"get {lossy:g} B, set {rel:g} B (largest per message in the capture)"
                 if lossy is not None and rel is not None else "n/a",
                 verdict(None if lossy is None or rel is None else lossy <= 12 and rel <= 16)])

    for m in ("blocking", "busy"):
        a, c = r["auth"].get((m, "flatrpc")), r["auth"].get((m, "flatrpc-noauth"))
        name = f"message tags add ≤ 0.2 µs p50, {'one core blocking' if m == 'blocking' else 'busy-poll'}"
        if not a or not c or a[0] is None or c[0] is None:
            rows.append([name, "n/a", verdict(None)])
            continue
        rows.append([name, f"{a[0]:g} − {c[0]:g} = {a[0] - c[0]:+.2f} µs", verdict(a[0] - c[0] <= 0.2)])

    for m in ("blocking", "busy"):
        a, c = r["obs"].get((m, "flatrpc")), r["obs"].get((m, "flatrpc-noobs"))
        name = f"the figures add ≤ 2% to p50, {'one core blocking' if m == 'blocking' else 'busy-poll'}"
        if not a or not c or a[0] is None or not c[0]:
            rows.append([name, "n/a", verdict(None)])
            continue
        rows.append([name, f"{a[0]:g} / {c[0]:g} = {100 * (a[0] / c[0] - 1):+.1f}%",
                     verdict(a[0] / c[0] <= 1.02)])

    h0, h1 = r["hol"].get(("flatrpc", "0")), [v for (q, p), v in r["hol"].items() if q == "flatrpc" and p != "0"]
    if h0 and h1:
        q = h1[0]["p99"] / h0["p99"]
        g0, g1 = r["hol"].get(("grpc", "0")), [v for (q_, p), v in r["hol"].items() if q_ == "grpc" and p != "0"]
        grpc = f"; gRPC {g1[0]['p99'] / g0['p99']:.2f}×" if g0 and g1 else ""
        rows.append(["lossy get p99 under 1% loss ≤ 1.2× its no-loss p99",
                     f"{h1[0]['p99']:g} / {h0['p99']:g} µs = {q:.2f}×{grpc}", verdict(q <= 1.2)])
    else:
        rows.append(["lossy get p99 under 1% loss ≤ 1.2× its no-loss p99", "n/a", verdict(None)])
    return table(["target", "measured", "met?"], rows)


GATEWAY_NAMES = {"grpc": "gRPC C++ client → gRPC C++ server",
                 "grpc-icpt": "gRPC C++ client → gRPC C++ server + interceptors (firewall, sessions)",
                 "gateway": "gRPC C++ client → flatrpc-gateway-kv → FlatRPC kv-server (specs/kv.anf)",
                 "flatrpc": "FlatRPC client (kv-bench) → the same kv-server, no gateway"}


def gateway(path):
    """The table of a `bench/run.sh --gateway` output: each figure is
    "median min-max" there, "median (min–max)" here."""
    if not path:
        return NA
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return NA
    head = next((ln for ln in lines if ln.startswith("# gateway:")), None)
    if head and head.startswith("# gateway: n/a:"):
        return head[len("# gateway: "):] + "."

    def cell(med, mm):
        lo, hi = mm.split("-")
        return med if lo == hi else f"{med} ({lo}–{hi})"

    rows, own = [], None
    for ln in lines:
        f = ln.split()
        if len(f) == 10 and f[0] == "gw" and f[1] != "stack":
            rows.append([GATEWAY_NAMES.get(f[1], f[1])] +
                        [cell(f[i], f[i + 1]) for i in (2, 4, 6, 8)])
        elif len(f) == 7 and f[0] == "gwown":
            own = [cell(f[i], f[i + 1]) for i in (1, 3, 5)]
    if not head or not rows:
        return NA
    runs = re.search(r"medians of (\d+) interleaved runs", head)
    out = table(["path (1 core, blocking)", "p50 µs (runs min–max)", "p99 µs", "rate /s (32 out)",
                 "CPU µs/call, all processes"], rows)
    if own:
        out += ("\n\n" + table(["the gateway alone", "p50 µs", "p99 µs", "CPU µs/call (32 out)"],
                                [["its time per call less the FlatRPC round trip; its CPU"] + own]))
    return out + f"\n\nRaw output: `{path}`, {runs[1] if runs else '?'} runs of each."


def write_doc(path, b):
    text = open(path).read()
    for name, md in b.items():
        pat = re.compile(rf"(<!-- report:{name} -->\n).*?(<!-- /report:{name} -->)", re.S)
        if not pat.search(text):
            sys.exit(f"report: {path} has no <!-- report:{name} --> ... <!-- /report:{name} --> "
                     "markers for the generated block")
        text = pat.sub(lambda m: m[1] + md + "\n" + m[2], text)
    unknown = set(re.findall(r"<!-- report:([\w-]+) -->", text)) - set(b)
    if unknown:
        sys.exit(f"report: {path} has markers the report does not fill: {', '.join(sorted(unknown))}")
    open(path, "w").write(text)


def bars(path, groups, series, title, ylabel, log=False):
    """groups: x labels; series: [(label, [value or None per group])]."""
    fig_, ax = plt.subplots(figsize=(10, 4.2))
    w = 0.8 / max(len(series), 1)
    for i, (name, ys) in enumerate(series):
        xs = [j + i * w for j in range(len(groups))]
        # tab20: more stacks than the default cycle's ten colours
        bs = ax.bar([x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None],
                    w, label=name, color=plt.cm.tab20(i % 20))
        ax.bar_label(bs, fmt="%.3g", fontsize=6)
        for x, y in zip(xs, ys):
            if y is None:
                # x in data, y in axes coordinates: 0 has no place on a log axis
                ax.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=6,
                        transform=ax.get_xaxis_transform())
    ax.set_xticks([j + w * (len(series) - 1) / 2 for j in range(len(groups))], groups)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title)
    fig_.tight_layout()
    fig_.savefig(path, dpi=120)
    plt.close(fig_)


def histogram_plot(h, path):
    """One run's latency histogram, each bucket a bar as wide as it is,
    with the histogram's p50/p99 and kv-bench's own beside them."""
    fig_, ax = plt.subplots(figsize=(8, 4))
    us = [(lo / 1e3, hi / 1e3, c) for lo, hi, c in h["buckets"]]
    ax.bar([lo for lo, _, _ in us], [c for _, _, c in us], width=[hi - lo for lo, hi, _ in us],
           align="edge", color="tab:blue", alpha=0.7, label="library's histogram (calls per bucket)")
    for q, v, style in ((0.5, h["p50"], "-"), (0.99, h["p99"], "-")):
        hq = hist_quantile(h["buckets"], q) / 1e3
        ax.axvline(hq, color="tab:red", ls="--", lw=1, label=f"histogram p{q * 100:g}: {hq:.2f} µs")
        ax.axvline(v, color="black", ls=style, lw=1, label=f"kv-bench p{q * 100:g}: {v:.2f} µs")
    ax.set_xscale("log")
    # a few calls far out (the first, HELLO-ing ones) would squeeze the rest
    right = 4 * max(hist_quantile(h["buckets"], 0.99) / 1e3, h["p99"])
    beyond = sum(c for lo, _, c in us if lo >= right)
    ax.set_xlim(us[0][0] * 0.8, right)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    if beyond:
        ax.text(0.99, 0.5, f"{beyond} slower call(s) beyond the axis", transform=ax.transAxes,
                ha="right", fontsize=7)
    ax.set_xlabel(f"{h['method']} latency (µs, log scale; buckets 12.5% wide; warmup calls included)")
    ax.set_ylabel("calls")
    ax.set_title(f"{label(h['stack'])}, {h['mode']}: {h['method']} latency, one run")
    ax.legend(fontsize=7)
    fig_.tight_layout()
    fig_.savefig(path, dpi=120)
    plt.close(fig_)


def plots(r, png_dir):
    main_t, protos = r["main"], stack_order({k[1] for k in r["main"]})
    modes = [("blocking", "1 core, blocking"), ("busy", "2 cores, busy-poll")]
    if r["hist"] and r["hist"]["buckets"]:
        histogram_plot(r["hist"], f"{png_dir}/kv-histogram.png")
    # log latency axis: the sidecar stack is ~100x the FlatRPC rows, whose
    # differences would vanish on a linear one
    for idx, fname, ylabel, what, log in (
            (0, "kv-latency.png", "p50 latency (µs, log scale), lower is better", "p50", True),
            (2, "kv-rate.png", "calls/s with 32 outstanding", "rate", False)):
        bars(f"{png_dir}/{fname}", [m[1] for m in modes],
             [(label(p), [fig(main_t, m, p, idx) for m, _ in modes]) for p in protos],
             f"KV service, 80% get / 20% set: {what}", ylabel, log=log)
    hol = [p for p in ("grpc", "flatrpc") if (p, "0") in r["hol"]]
    if hol:
        pcts = sorted({pct for (_, pct) in r["hol"]}, key=float)
        bars(f"{png_dir}/hol.png", [label(p) if p != "flatrpc" else "FlatRPC (lossy get)" for p in hol],
             [(f"{pct}% loss", [r["hol"].get((p, pct), {}).get("p99") for p in hol]) for pct in pcts],
             "get p99 while sets are lost: head-of-line blocking",
             "get p99 (µs, completed gets), log scale", log=True)
    if r["hdr"]:
        hdr = r["hdr"]
        fig_, ax = plt.subplots(figsize=(7, 4))
        n = [x["n"] for x in hdr]
        for key, name in (("h2_cold", "HTTP/2 headers, first request (nghttp2 inflate)"),
                          ("h2_warm", "HTTP/2 headers, indexed (nghttp2 inflate)"),
                          ("bpf", "FlatRPC fixed offsets, XDP (BPF_PROG_TEST_RUN)"),
                          ("grpc", "gRPC metadata, server CPU per call over N = 0 (libgrpc++)")):
            if not all(key + "_ns" in x for x in hdr):
                continue
            ys = [x[key + "_ns"] for x in hdr]
            lo = [x[key + "_ns"] - x[key + "_min"] for x in hdr]
            hi = [x[key + "_max"] - x[key + "_ns"] for x in hdr]
            ax.errorbar(n, ys, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=name)
        ax.set_xlabel("metadata fields per request (N)")
        ax.set_ylabel("ns per request (median, min–max bars)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Getting at N metadata fields (paper Figure 3 analogue)")
        fig_.tight_layout()
        fig_.savefig(f"{png_dir}/hdr-parse.png", dpi=120)
        plt.close(fig_)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--png-dir", default="docs")
    ap.add_argument("--doc", help="rewrite the generated blocks of this page in place")
    ap.add_argument("--gateway", help="a saved `bench/run.sh --gateway` output")
    ap.add_argument("--strict", action="store_true",
                    help="fail when a table or target has no figures (the smoke run's check)")
    a = ap.parse_args()
    r = parse(a.results)
    if not r["main"]:
        sys.exit("report: no KV rows in " + a.results)
    b = blocks(r)
    if a.gateway:
        b["gateway"] = gateway(a.gateway)
    if a.strict:
        empty = [name for name, md in b.items() if md == NA]
        empty += [f"target '{row.split(' | ')[0].lstrip('| ')}'" for row in b["targets"].splitlines()
                  if "not in the raw output" in row]
        if empty:
            sys.exit(f"report: {a.results} has no figures for: {', '.join(empty)}")
    if a.doc:
        write_doc(a.doc, b)
    else:
        for name, md in b.items():
            print(f"<!-- {name} -->\n{md}\n")
    plots(r, a.png_dir)


if __name__ == "__main__":
    main()
