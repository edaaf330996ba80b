#!/usr/bin/env bash
# The KV benchmark: FlatRPC against plain UDP sockets, in the same run.
#
# Two namespaces joined by two veth pairs: one carries FlatRPC (XDP + AF_XDP),
# the other plain UDP with no XDP attached, so neither pays for the other.
# Two modes, as FACTS.md advises:
#   blocking: client and server on the same core, sleeping in the kernel;
#   busy:     client on core 0, server on core 1, both spinning.
# Each figure is the median of REPS runs; p50/p99 come from calls with one
# outstanding, the rate from runs with 32 outstanding.
#
#   bench/run.sh [--reps N] [--count N] [--smoke]
# --smoke does a few hundred calls per stack: it proves the benchmark still
# runs (make test uses it), not how fast anything is.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
REPS=3 COUNT=20000 RATE_COUNT=50000 WARMUP=2000 SMOKE=0
while [ $# -gt 0 ]; do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--count) COUNT=$2; RATE_COUNT=$2; shift 2 ;;
	--smoke) SMOKE=1; REPS=1; COUNT=300; RATE_COUNT=300; WARMUP=50; shift ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "usage: bench/run.sh [--reps N] [--count N] [--smoke]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (network namespaces, XDP)" >&2; exit 1; }
for b in flatrpc-load kv-server kv-bench; do
	[ -x "$B/$b" ] || { echo "bench/run.sh: $B/$b is missing; run make first" >&2; exit 1; }
done

tag=$$
C=frbc$tag S=frbs$tag
work=$(mktemp -d /tmp/flatrpc-bench.XXXXXX)
export FLATRPC_BPFFS=$work/bpffs
pids=()

cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns exec "$C" "$B/flatrpc-load" --unload fbc$tag >/dev/null 2>&1 || true
	ip netns exec "$S" "$B/flatrpc-load" --unload fbs$tag >/dev/null 2>&1 || true
	ip netns del "$C" 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
	umount "$work/bpffs" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bpffs"
mount -t bpf bpf "$work/bpffs"
ip netns add "$C"
ip netns add "$S"
ip link add fbc$tag netns "$C" type veth peer name fbs$tag netns "$S"
ip link add ubc$tag netns "$C" type veth peer name ubs$tag netns "$S"
ip -n "$C" addr add 10.78.1.1/24 dev fbc$tag
ip -n "$S" addr add 10.78.1.2/24 dev fbs$tag
ip -n "$C" addr add 10.78.2.1/24 dev ubc$tag
ip -n "$S" addr add 10.78.2.2/24 dev ubs$tag
for ns in "$C" "$S"; do
	ip -n "$ns" link set lo up
	for i in $(ip -n "$ns" -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip -n "$ns" link set "$i" up
	done
done
ip netns exec "$C" "$B/flatrpc-load" -q "$top/specs/kv.anf" fbc$tag
ip netns exec "$S" "$B/flatrpc-load" -q "$top/specs/kv.anf" fbs$tag
# prime ARP both ways so the first measured calls are not resolving neighbours
ip netns exec "$C" ping -c1 -W1 10.78.1.2 >/dev/null
ip netns exec "$C" ping -c1 -W1 10.78.2.2 >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

start_server() { # proto mode
	local cpu=0 busy=()
	[ "$2" = busy ] && { cpu=1; busy=(--busy-poll); }
	if [ "$1" = flatrpc ]; then
		ip netns exec "$S" taskset -c $cpu "$B/kv-server" --iface fbs$tag "${busy[@]}" >"$work/server.log" 2>&1 &
	else
		ip netns exec "$S" taskset -c $cpu "$B/kv-bench" udp-server --port 9447 "${busy[@]}" >"$work/server.log" 2>&1 &
	fi
	pids+=($!)
	sleep 0.5
	kill -0 "${pids[-1]}" 2>/dev/null || { echo "bench: $1 server failed:" >&2; cat "$work/server.log" >&2; exit 1; }
}

stop_server() {
	kill "${pids[-1]}" 2>/dev/null || true
	wait "${pids[-1]}" 2>/dev/null || true
	unset 'pids[-1]'
}

client() { # proto mode outstanding count
	local busy=() dst=10.78.2.2
	[ "$2" = busy ] && busy=(--busy-poll)
	[ "$1" = flatrpc ] && dst=10.78.1.2
	ip netns exec "$C" taskset -c 0 "$B/kv-bench" client --proto "$1" --server $dst \
		--iface fbc$tag --port 9447 "${busy[@]}" --outstanding "$3" --count "$4" --warmup $WARMUP
}

xdp_stats() { # iface -> "run_cnt run_time_ns"
	bpftool -j prog show pinned "$FLATRPC_BPFFS/flatrpc/$1/prog_xdp" |
		python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_cnt",0), p.get("run_time_ns",0))'
}

echo "# FlatRPC KV benchmark: $(date -u +%F) $(uname -r), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "# 80% get / 20% set, ~100 B requests; medians of $REPS runs; p50/p99 with 1 outstanding, rate with 32"
printf '%-9s %-8s %10s %10s %12s\n' mode proto p50_us p99_us rate_per_s
declare -A R
for mode in blocking busy; do
	for proto in udp flatrpc; do
		start_server $proto $mode
		: >"$work/lat" ; : >"$work/rate"
		for _ in $(seq "$REPS"); do
			client $proto $mode 1 "$COUNT" >>"$work/lat"
			client $proto $mode 32 "$RATE_COUNT" >>"$work/rate"
		done
		stop_server
		R[$mode,$proto,p50]=$(field p50_us <"$work/lat" | median)
		R[$mode,$proto,p99]=$(field p99_us <"$work/lat" | median)
		R[$mode,$proto,rate]=$(field rate_per_s <"$work/rate" | median)
		printf '%-9s %-8s %10s %10s %12s\n' $mode $proto "${R[$mode,$proto,p50]}" \
			"${R[$mode,$proto,p99]}" "${R[$mode,$proto,rate]}"
		[ "$SMOKE" = 1 ] || { echo "  runs: $(field p50_us <"$work/lat" | tr '\n' ' ')(p50)"; }
	done
done
# Per-packet cost of the XDP program (parse, transport checks, both ANFs),
# from the kernel's BPF run-time statistics. They cost two clock reads per
# program run, so they are on only for one extra run after the timed ones.
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$stats_was; cleanup' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
read -r cnt0 ns0 <<<"$(xdp_stats fbs$tag)"
read -r ccnt0 cns0 <<<"$(xdp_stats fbc$tag)"
start_server flatrpc busy
client flatrpc busy 32 "$RATE_COUNT" >/dev/null
stop_server
sysctl -qw kernel.bpf_stats_enabled="$stats_was"
read -r cnt ns <<<"$(xdp_stats fbs$tag)"
read -r ccnt cns <<<"$(xdp_stats fbc$tag)"
cnt=$((cnt - cnt0)) ns=$((ns - ns0)) ccnt=$((ccnt - ccnt0)) cns=$((cns - cns0))
awk -v a="$cnt" -v b="$ns" -v c="$ccnt" -v d="$cns" 'BEGIN {
	printf "# XDP program: server %.0f ns/packet over %d packets, client %.0f ns/packet over %d\n",
		a ? b / a : 0, a, c ? d / c : 0, c }'
echo
echo "# ratios FlatRPC / UDP (p50 and p99: lower is better; rate: higher is better)"
for mode in blocking busy; do
	awk -v m=$mode -v a="${R[$mode,flatrpc,p50]}" -v b="${R[$mode,udp,p50]}" \
	    -v c="${R[$mode,flatrpc,p99]}" -v d="${R[$mode,udp,p99]}" \
	    -v e="${R[$mode,flatrpc,rate]}" -v f="${R[$mode,udp,rate]}" \
	    'BEGIN { printf "%-9s p50 %.2fx  p99 %.2fx  rate %.2fx\n", m, a/b, c/d, e/f }'
done
