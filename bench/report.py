#!/usr/bin/python3
"""Tables and plots from a saved `bench/run.sh` output.

    bench/report.py bench/results/kv-bench.txt [--png-dir docs]

Prints the Markdown tables that docs/benchmarks.md carries and writes
kv-latency.png, kv-rate.png and hdr-parse.png into --png-dir. It reads only
the raw output, so the page and the plots can be remade without rerunning.
Debian's python3-matplotlib serves /usr/bin/python3, hence the shebang.
"""
import argparse
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"udp": "UDP sockets", "tcp": "TCP (NODELAY)", "flatrpc": "FlatRPC",
         "grpc": "gRPC C++", "grpc-haproxy": "gRPC + HAProxy",
         "xdp-echo": "raw AF_XDP echo (floor)",
         "h2": "HTTP/2 (nghttp2)", "grpc-icpt": "gRPC + interceptors"}


def parse(path):
    main, cpu, wire, hdr, frhdr = {}, {}, {}, [], []
    section = "main"
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# CPU time"):
            section = "cpu"
        elif line.startswith("# on-wire"):
            section = "wire"
        elif line.startswith("# header parsing"):
            section = "hdr"
        m = re.match(r"  flatrpc header (\w+) (\w+): ([\d.]+) B", line)
        if m:
            frhdr.append(m.groups())
        if not line or line.startswith("#") or line.startswith("  "):
            continue
        f = line.split()
        if section == "main" and len(f) == 5 and f[0] in ("blocking", "busy"):
            main[(f[0], f[1])] = f[2:5]
        elif section == "cpu" and len(f) == 3 and f[0] in ("blocking", "busy"):
            cpu[(f[0], f[1])] = f[2]
        elif section == "wire" and len(f) == 7 and f[0] != "proto":
            wire[f[0]] = f[1:]
        elif section == "hdr" and line.startswith("n="):
            hdr.append({k: float(v) for k, v in re.findall(r"(\w+)=(-?[\d.]+)", line)})
    return main, cpu, wire, hdr, frhdr


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--png-dir", default="docs")
    a = ap.parse_args()
    main_t, cpu, wire, hdr, frhdr = parse(a.results)
    protos = [p for p in NAMES if any(k[1] == p for k in main_t)]
    if not protos:
        sys.exit("report: no KV rows in " + a.results)

    print("| stack | 1 core blocking p50 µs | p99 µs | rate /s (32 out) | CPU µs/call "
          "| 2 cores busy-poll p50 µs | p99 µs | rate /s (32 out) | CPU µs/call |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in protos:
        row = [NAMES[p]]
        for m in ("blocking", "busy"):
            v = main_t.get((m, p), ["n/a"] * 3)
            row += v + [cpu.get((m, p), "n/a")]
        print("| " + " | ".join(row) + " |")
    if wire:
        print()
        print("| stack | frames/call | wire B/call (capture) | veth counters B/call "
              "| bodies B/call | headers B/call | RPC header or framing B/message |")
        print("|---|---|---|---|---|---|---|")
        for p in protos:
            if p in wire:
                print("| " + " | ".join([NAMES[p]] + wire[p]) + " |")
    if frhdr:
        print()
        print("FlatRPC header per message, from the capture: " +
              ", ".join(f"{m} {d} {b} B" for m, d, b in frhdr) + ".")
    if hdr:
        print()
        print("| N fields | HTTP/2 first request (nghttp2) ns | HTTP/2 indexed ns "
              "| FlatRPC XDP (test run) ns | XDP minus N=0 ns | HPACK B (first/indexed) | FlatRPC B |")
        print("|---|---|---|---|---|---|---|")
        for r in hdr:
            n = int(r["n"])
            if n in (1, 2, 5, 10, 15, 20, 25):
                print(f"| {n} | {r['h2_cold_ns']:.0f} ({r['h2_cold_min']:.0f}–{r['h2_cold_max']:.0f}) "
                      f"| {r['h2_warm_ns']:.0f} ({r['h2_warm_min']:.0f}–{r['h2_warm_max']:.0f}) "
                      f"| {r['bpf_ns']:.0f} ({r['bpf_min']:.0f}–{r['bpf_max']:.0f}) "
                      f"| {r['bpf_net_ns']:.0f} | {r['h2_cold_bytes']:.0f} / {r['h2_warm_bytes']:.0f} "
                      f"| {r['flatrpc_bytes']:.0f} |")

    modes = [("blocking", "1 core, blocking"), ("busy", "2 cores, busy-poll")]
    for what, idx, fname, ylabel in (("p50", 0, "kv-latency.png", "p50 latency (µs), lower is better"),
                                     ("rate", 2, "kv-rate.png", "calls/s with 32 outstanding")):
        fig, ax = plt.subplots(figsize=(7, 3.6))
        w = 0.8 / len(protos)
        for i, p in enumerate(protos):
            ys = [num(main_t.get((m, p), ["n/a"] * 3)[idx]) for m, _ in modes]
            xs = [j + i * w for j in range(len(modes))]
            bars = ax.bar([x for x, y in zip(xs, ys) if y is not None],
                          [y for y in ys if y is not None], w, label=NAMES[p])
            ax.bar_label(bars, fmt="%.3g", fontsize=7)
            for x, y in zip(xs, ys):
                if y is None:
                    ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7)
        ax.set_xticks([j + w * (len(protos) - 1) / 2 for j in range(len(modes))], [m[1] for m in modes])
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.set_title(f"KV service, 80% get / 20% set: {what}")
        fig.tight_layout()
        fig.savefig(f"{a.png_dir}/{fname}", dpi=120)
        plt.close(fig)
    if hdr:
        fig, ax = plt.subplots(figsize=(7, 4))
        n = [r["n"] for r in hdr]
        for key, label in (("h2_cold", "HTTP/2 headers, first request (nghttp2 inflate)"),
                           ("h2_warm", "HTTP/2 headers, indexed (nghttp2 inflate)"),
                           ("bpf", "FlatRPC fixed offsets, XDP (BPF_PROG_TEST_RUN)")):
            ys = [r[key + "_ns"] for r in hdr]
            lo = [r[key + "_ns"] - r[key + "_min"] for r in hdr]
            hi = [r[key + "_max"] - r[key + "_ns"] for r in hdr]
            ax.errorbar(n, ys, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=label)
        ax.set_xlabel("metadata fields per request (N)")
        ax.set_ylabel("ns per request (median, min–max bars)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Getting at N metadata fields (paper Figure 3 analogue)")
        fig.tight_layout()
        fig.savefig(f"{a.png_dir}/hdr-parse.png", dpi=120)
        plt.close(fig)


if __name__ == "__main__":
    main()
