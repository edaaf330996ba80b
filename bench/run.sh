#!/usr/bin/env bash
# The KV benchmark: FlatRPC against plain UDP and TCP sockets, gRPC C++, and
# gRPC behind HAProxy on each side (a service mesh's sidecars, with the
# firewall and the session tracker in the server's proxy), in the same run.
# The gRPC rows need `make bench-tools` (and haproxy); without them they are n/a.
#
# Two namespaces joined by two veth pairs: one carries FlatRPC (XDP + AF_XDP),
# the other plain UDP and TCP with no XDP attached, so neither pays for the other.
# A third pair carries xdp-echo (`make bench-tools`), a raw AF_XDP echo with its
# own XDP program: the latency floor, with no RPC layer and no store.
# Two modes, as docs/facts.md advises:
#   blocking: client and server on the same core, sleeping in the kernel;
#   busy:     client on core 0, server on core 1, both spinning.
# Each figure is the median of REPS runs; p50/p99 come from calls with one
# outstanding, the rate from runs with 32 outstanding. Then: CPU per call,
# on-wire bytes per call from a packet capture, and header-parsing cost
# (N metadata fields: nghttp2 and gRPC against XDP). bench/report.py turns a saved
# output into the tables and plots of docs/benchmarks.md.
# FlatRPC runs several ways, each with its own spec, server and client:
# flatrpc-noanf (no ANFs, all lossy), flatrpc-fw (firewall), flatrpc-fwst
# (firewall + session tracker) from bench/specs/, and flatrpc, specs/kv.anf
# (those plus a reliable, in-order set). flatrpc-rel, -ino and -relino are
# flatrpc-fwst with a reliable, an in-order ("drop") or a reliable in-order
# set: against flatrpc-fwst, the transport cost table gives what each costs.
# flatrpc-cst is flatrpc-fwst with the session tracker on the client host
# (client:), which strips session_id: what moving an ANF to the sender costs.
# Last, head-of-line blocking: 1% loss at a router between client and
# server, get p99 for gRPC and FlatRPC.
#
#   bench/run.sh [--reps N] [--count N] [--smoke] [--profile] [--placement] [--gateway]
# --smoke does a few hundred calls per stack: it proves the benchmark still
# runs (make test uses it), not how fast anything is. On a loaded machine a
# lossy call's response can come after its timeout; the smoke run reports
# those and fails only if a response never comes (kv-bench --late-ok). The
# full run stays strict: there any timed-out call fails it.
# --profile runs no benchmark: it records where the time goes (perf record -g)
# in a few runs and writes bench/results/profile-<stack>-<mode>.txt.
# --placement runs only the placement comparison: flatrpc-fwst, flatrpc-cst
# (the library runs the client: tracker) and flatrpc-cst-bpf (the same
# with FLATRPC_CLIENT_ANFS=bpf: through BPF_PROG_TEST_RUN, as before),
# interleaved as the cost rows are, and prints their rows.
# --gateway runs only the gRPC gateway comparison (docs/grpc.md): one gRPC
# C++ client (grpc-bench --kv-proto, the gateway's kv.Kv messages) against
# the gRPC C++ server, the same with the interceptors, and
# flatrpc-gateway-kv in front of kv-server (specs/kv.anf), plus kv-bench's
# FlatRPC client to that kv-server; blocking mode, everything on core 0.
# Each of REPS rounds (default 5 here) runs every stack once, restarted for
# each run; the gateway's own time per call (--timing: its time less the
# FlatRPC round trip) and its own CPU come with its rows.
set -Eeuo pipefail
# errexit stops the run at a failed step; this says which one
trap 'echo "bench/run.sh: line $LINENO failed (exit $?): $BASH_COMMAND" >&2' ERR

top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
export FLATRPC_PY=$B/py	# bench/pcap_bytes.py reads the wire header's layout there
REPS=3 COUNT=20000 RATE_COUNT=50000 WARMUP=2000 SMOKE=0 WIRE_COUNT=5000
PROFILE=0 PLACEMENT=0 GATEWAY=0 REPS_SET=0
while [ $# -gt 0 ]; do
	case $1 in
	--reps) REPS=$2; REPS_SET=1; shift 2 ;;
	--count) COUNT=$2; RATE_COUNT=$2; shift 2 ;;
	--smoke) SMOKE=1; REPS=1; COUNT=300; RATE_COUNT=300; WARMUP=50; WIRE_COUNT=300; shift ;;
	--profile) PROFILE=1; shift ;;
	--placement) PLACEMENT=1; shift ;;
	--gateway) GATEWAY=1; shift ;;
	-h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "usage: bench/run.sh [--reps N] [--count N] [--smoke] [--profile] [--placement] [--gateway]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: needs root (network namespaces, XDP)" >&2; exit 1; }
command -v tcpdump >/dev/null || { echo "bench/run.sh: needs tcpdump (scripts/install-deps.sh)" >&2; exit 1; }
for b in flatrpc-load flatrpc-stat kv-server kv-bench; do
	[ -x "$B/$b" ] || { echo "bench/run.sh: $B/$b is missing; run make first" >&2; exit 1; }
done

tag=$$
C=frbc$tag S=frbs$tag M=frbm$tag HOL_FS=/tmp/flatrpc-bench-hol-$tag
work=$(mktemp -d /tmp/flatrpc-bench.XXXXXX)
export FLATRPC_BPFFS=$work/bpffs
source "$top/scripts/keys.sh"
fr_keys "$work/keys" "$B/flatrpc-load" "$top"/specs/*.anf "$top"/bench/specs/*.anf
pids=() nsrv=0

cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns exec "$C" "$B/flatrpc-load" --unload fbc$tag >/dev/null 2>&1 || true
	ip netns exec "$S" "$B/flatrpc-load" --unload fbs$tag >/dev/null 2>&1 || true
	ip netns exec "$C" "$B/flatrpc-load" --unload wc$tag >/dev/null 2>&1 || true
	ip netns exec "$S" "$B/flatrpc-load" --unload ws$tag >/dev/null 2>&1 || true
	ip netns exec "$C" "$B/flatrpc-load" --unload hc$tag >/dev/null 2>&1 || true
	ip netns exec "$S" "$B/flatrpc-load" --unload hs$tag >/dev/null 2>&1 || true
	ip netns del frbr$tag 2>/dev/null || true
	umount "$HOL_FS" 2>/dev/null || true
	rmdir "$HOL_FS" 2>/dev/null || true
	ip netns del "$M" 2>/dev/null || true
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
ip link add xbc$tag netns "$C" type veth peer name xbs$tag netns "$S"
ip -n "$C" addr add 10.78.1.1/24 dev fbc$tag
ip -n "$S" addr add 10.78.1.2/24 dev fbs$tag
ip -n "$C" addr add 10.78.2.1/24 dev ubc$tag
ip -n "$S" addr add 10.78.2.2/24 dev ubs$tag
ip -n "$C" addr add 10.78.4.1/24 dev xbc$tag
ip -n "$S" addr add 10.78.4.2/24 dev xbs$tag
for ns in "$C" "$S"; do
	ip -n "$ns" link set lo up
	for i in $(ip -n "$ns" -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip -n "$ns" link set "$i" up
	done
done
# The FlatRPC stacks: flatrpc is specs/kv.anf with build/kv-{server,bench};
# flatrpc-V is bench/specs/kv-V.anf with build/bench/kv-V/kv-{server,bench},
# the same sources built against that spec's stubs (make builds them).
FR_VARIANTS=""
for v in noanf fw fwst cst rel ino relino; do
	[ -x "$B/bench/kv-$v/kv-bench" ] && [ -x "$B/bench/kv-$v/kv-server" ] && FR_VARIANTS+="flatrpc-$v "
done
# flatrpc-noobs is flatrpc counting no figures: its processes run with
# FLATRPC_OBS=off and its load with --figures off; a -bpf stack runs its
# client: elements through the client program (FLATRPC_CLIENT_ANFS=bpf)
flatrpc_v() { local v=${1%-noobs}; echo "${v%-bpf}"; }
flatrpc_spec() { local v; v=$(flatrpc_v "$1"); if [ "$v" = flatrpc ]; then echo "$top/specs/kv.anf"; else echo "$top/bench/specs/kv-${v#flatrpc-}.anf"; fi; }
flatrpc_bin() { local v; v=$(flatrpc_v "$1"); if [ "$v" = flatrpc ]; then echo "$B/$2"; else echo "$B/bench/kv-${v#flatrpc-}/$2"; fi; }
flatrpc_env() {
	case $1 in
	flatrpc-noobs) echo FLATRPC_OBS=off ;;
	*-bpf) echo FLATRPC_CLIENT_ANFS=bpf ;;
	*) echo FLATRPC_OBS=on ;;
	esac
}
declare -A FR_LOADED
flatrpc_use() { # stack client-ns client-if server-ns server-if: load the stack's spec on both ends
	local stack=$1 key=$3 figs=on
	[ "$stack" = flatrpc-noobs ] && figs=off
	[ "${FR_LOADED[$key]:-}" = "$(flatrpc_spec $stack) $figs" ] && return
	while [ $# -gt 1 ]; do
		ip netns exec "$2" "$B/flatrpc-load" --unload "$3" >/dev/null 2>&1 || true
		ip netns exec "$2" "$B/flatrpc-load" -q --figures "$figs" \
			"$(flatrpc_spec $stack)" "$3"
		shift 2
	done
	FR_LOADED[$key]="$(flatrpc_spec $stack) $figs"
}
flatrpc_use flatrpc "$C" fbc$tag "$S" fbs$tag
# prime ARP both ways so the first measured calls are not resolving neighbours
ip netns exec "$C" ping -c1 -W1 10.78.1.2 >/dev/null
ip netns exec "$C" ping -c1 -W1 10.78.2.2 >/dev/null
# xdp-echo builds its frames itself, so it is told the server's MAC
XE_MAC=$(ip netns exec "$S" cat /sys/class/net/xbs$tag/address)

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# Where the servers listen; the wire-bytes section moves them to its own path.
SRV_IP=10.78.2.2 F_SRV_IP=10.78.1.2 F_SIF=fbs$tag F_CIF=fbc$tag F_CNS=$C F_SNS=$S

haproxy_cfgs() { # the two sidecars' configs, for a server at $SRV_IP
	cat >"$work/hap-server.cfg" <<-EOF
	global
		nbthread 1
	defaults
		mode http
		timeout connect 5s
		timeout client 60s
		timeout server 60s
	frontend sidecar_in
		bind $SRV_IP:9449 proto h2
		# firewall: the same user table as specs/elements/firewall.anf
		http-request deny deny_status 403 if { req.hdr(username),map($work/firewall.map) -m str No }
		# session tracker: requests counted per session-id
		stick-table type string len 32 size 100k store http_req_cnt
		http-request track-sc0 req.hdr(session-id)
		default_backend app
	backend app
		server app 127.0.0.1:9448 proto h2
	EOF
	cat >"$work/hap-client.cfg" <<-EOF
	global
		nbthread 1
	defaults
		mode http
		timeout connect 5s
		timeout client 60s
		timeout server 60s
	frontend sidecar_out
		bind 127.0.0.1:9450 proto h2
		default_backend mesh
	backend mesh
		server peer $SRV_IP:9449 proto h2
	EOF
	printf 'Kevin Yes\nPeter No\n' >"$work/firewall.map"
}

spawn() { # ns cpu command... : start one server-side process
	local ns=$1 cpu=$2
	shift 2
	ip netns exec "$ns" taskset -c "$cpu" "$@" >>"$work/server.log" 2>&1 &
	pids+=($!)
	nsrv=$((nsrv + 1))
}

start_server() { # proto mode
	local cpu=0 busy=()
	[ "$2" = busy ] && { cpu=1; busy=(--busy-poll); }
	: >"$work/server.log"
	nsrv=0
	case $1 in
	flatrpc*)
		flatrpc_use $1 "$F_CNS" $F_CIF "$F_SNS" $F_SIF
		spawn "$F_SNS" $cpu env "$(flatrpc_env $1)" "$(flatrpc_bin $1 kv-server)" --iface $F_SIF \
			"${busy[@]}" ;;
	grpc) spawn "$S" $cpu "$B/grpc-bench" server --port 9448 ;;
	grpc-icpt) spawn "$S" $cpu "$B/grpc-bench" server --port 9448 --interceptors ;;
	h2) spawn "$S" $cpu "$B/h2-bench" server --port 9446 "${busy[@]}" ;;
	xdp-echo) spawn "$S" $cpu "$B/xdp-echo" server --iface xbs$tag --port 9551 "${busy[@]}" ;;
	grpc-haproxy)
		haproxy_cfgs
		spawn "$S" $cpu "$B/grpc-bench" server --port 9448
		spawn "$S" $cpu haproxy -db -f "$work/hap-server.cfg"
		spawn "$C" $cpu haproxy -db -f "$work/hap-client.cfg" ;;
	*) spawn "$S" $cpu "$B/kv-bench" $1-server --port 9447 "${busy[@]}" ;;
	esac
	# ip netns exec and taskset exec, so each pid is the process itself;
	# the client reads their CPU time over its measured window
	SERVER_PIDS=$(IFS=,; echo "${pids[*]: -$nsrv}")
	sleep 0.5
	for p in "${pids[@]: -$nsrv}"; do
		kill -0 "$p" 2>/dev/null || { echo "bench: $1 server failed:" >&2; cat "$work/server.log" >&2; exit 1; }
	done
}

stop_server() {
	for _ in $(seq $nsrv); do
		kill "${pids[-1]}" 2>/dev/null || true
		wait "${pids[-1]}" 2>/dev/null || true
		unset 'pids[-1]'
	done
	nsrv=0
}

client() { # proto mode outstanding count [warmup [more client options, FlatRPC and gRPC]]
	local busy=() w=${5:-$WARMUP}
	[ "$2" = busy ] && busy=(--busy-poll)
	case $1 in
	grpc|grpc-haproxy|grpc-icpt)
		local dst=$SRV_IP:9448
		[ $1 = grpc-haproxy ] && dst=127.0.0.1:9450
		ip netns exec "$C" taskset -c 0 "$B/grpc-bench" client --proto $1 --server $dst \
			--outstanding "$3" --count "$4" --warmup "$w" --server-pids "$SERVER_PIDS" "${@:6}" ;;
	h2)
		ip netns exec "$C" taskset -c 0 "$B/h2-bench" client --server $SRV_IP --port 9446 \
			"${busy[@]}" --outstanding "$3" --count "$4" --warmup "$w" --server-pids "$SERVER_PIDS" ;;
	xdp-echo)
		ip netns exec "$C" taskset -c 0 "$B/xdp-echo" client --iface xbc$tag --server 10.78.4.2 \
			--server-mac "$XE_MAC" --src-ip 10.78.4.1 --port 9551 "${busy[@]}" \
			--outstanding "$3" --count "$4" --warmup "$w" --server-pids "$SERVER_PIDS" ;;
	flatrpc*)
		local late=()
		[ "$SMOKE" = 1 ] && late=(--late-ok)
		ip netns exec "$F_CNS" taskset -c 0 env "$(flatrpc_env $1)" "$(flatrpc_bin $1 kv-bench)" \
			client --proto flatrpc \
			--server $F_SRV_IP --iface $F_CIF "${busy[@]}" --outstanding "$3" --count "$4" \
			--warmup "$w" --server-pids "$SERVER_PIDS" "${late[@]}" "${@:6}" ;;
	*)
		local dst=$SRV_IP
		ip netns exec "$C" taskset -c 0 "$B/kv-bench" client --proto "$1" --server $dst \
			--iface $F_CIF --port 9447 "${busy[@]}" --outstanding "$3" --count "$4" \
			--warmup "$w" --server-pids "$SERVER_PIDS" ;;
	esac
}

# The interface's entry point: the kernel counts a tail call's time in the
# program the hook ran, so this is the entry point and the service's
# program together (kern/dispatch.bpf.c), what a frame costs in XDP.
xdp_stats() { # iface -> "run_cnt run_time_ns"
	bpftool -j prog show pinned "$FLATRPC_BPFFS/flatrpc/$1/prog_dispatch" |
		python3 -c 'import json,sys; p=json.load(sys.stdin); print(p.get("run_cnt",0), p.get("run_time_ns",0))'
}

# --profile: where the time goes, for the targets the page reports missed.
# perf samples every task on the stack's cores (perf's cpu-clock here: this
# VM has no PMU) over one client run with one outstanding, warm-up
# included, so idle time (swapper) and softirq work are in the split too.
perf_top() { # lines perf-report-options...: head closes the pipe early, which is fine
	local n=$1
	shift
	perf report --stdio -q -g none "$@" 2>/dev/null | head -"$n" || true
}
profile_one() { # proto mode cpus
	local out=$top/bench/results/profile-$1-$2.txt data=$work/perf.data stack
	start_server $1 $2
	perf record -q -g -C "$3" -o "$data" >"$work/perf.log" 2>&1 &
	local ppid=$!
	for _ in $(seq 50); do [ -s "$data" ] && break; sleep 0.1; done	# perf has started
	sleep 0.2
	client $1 $2 1 "$COUNT" >"$work/one" &
	local cpid=$!
	# other people's work shares the cores: the stack is the processes in
	# the two namespaces, taken while the client runs
	for _ in $(seq 30); do [ -n "$(ip netns pids "$C")" ] && break; sleep 0.1; done
	sleep 0.2
	stack=$( (ip netns pids "$C"; ip netns pids "$S"; tr , '\n' <<<"$SERVER_PIDS") | sort -u | paste -sd,)
	# a lossy get lost under perf's load makes the client exit non-zero;
	# its line (with errors=) still says what was profiled
	wait $cpid || true
	kill -INT $ppid
	wait $ppid || true
	stop_server
	grep -q p50_us "$work/one" || { echo "bench: the $1 $2 client failed under perf: no profile" >&2; return 0; }
	{
		echo "# perf profile: $1, $2, cores $3; $(cat "$work/one")"
		echo "# $(date -u +%F) $(uname -r), $(nproc) cores, perf $(perf version | cut -d' ' -f3)," \
			"$(perf report -i "$data" --stdio 2>/dev/null | sed -n 's/^# Samples: \([^ ]*\) of event .\(.*\).$/\1 samples of \2/p' | head -1)"
		echo "## every task on those cores, by command (swapper: idle; anything else not the stack's: other work)"
		perf_top 15 -i "$data" --no-children --sort comm
		echo "## the stack's processes only ($stack), by command and object (user code, libraries, kernel)"
		perf_top 25 -i "$data" --pid "$stack" --percentage relative --no-children --sort comm,dso
		# sample periods are CPU ns (cpu-clock), so a share becomes time per call
		echo "## the stack's CPU time per call by command and object, us (over all $((COUNT + WARMUP)) calls, warm-up" \
			"included; busy-poll counts the spinning)"
		# (--pid with a sort key that is not per task drops entries: perf 6.1)
		perf report -i "$data" --pid "$stack" --stdio -q -g none --no-children --sort comm,dso \
			-F period,comm,dso 2>/dev/null | grep . |
			sort -rn | awk -v n=$((COUNT + WARMUP)) '{ t += $1; p = $1; sub(/^ *[0-9]+ +/, "")
				printf "  %9.3f  %s\n", p / 1e3 / n, $0 } END { printf "  %9.3f  all\n", t / 1e3 / n }' || true
		echo "## the stack's top symbols (self time)"
		perf_top 60 -i "$data" --pid "$stack" --percentage relative --no-children --sort comm,dso,sym
		echo "## the stack's top symbols with their callees (children time)"
		perf_top 40 -i "$data" --pid "$stack" --percentage relative --children --sort comm,sym
	} >"$out"
	echo "profile: $out"
}
profile_all() {
	command -v perf >/dev/null || { echo "bench/run.sh: --profile needs perf" >&2; exit 1; }
	mkdir -p "$top/bench/results"
	[ -x "$B/grpc-bench" ] && profile_one grpc blocking 0
	profile_one flatrpc busy 0,1
	[ -x "$B/xdp-echo" ] && profile_one xdp-echo busy 0,1
	# kernel-side XDP cost per packet, for the FlatRPC row, from BPF's own statistics
	prof_stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	trap 'sysctl -qw kernel.bpf_stats_enabled=$prof_stats_was; cleanup' EXIT
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r cnt0 ns0 <<<"$(xdp_stats fbs$tag)"
	start_server flatrpc busy
	client flatrpc busy 1 "$COUNT" >/dev/null || true	# lost gets: see profile_one
	stop_server
	read -r cnt ns <<<"$(xdp_stats fbs$tag)"
	sysctl -qw kernel.bpf_stats_enabled="$prof_stats_was"
	awk -v c=$((cnt - cnt0)) -v n=$((ns - ns0)) 'BEGIN {
		printf "## XDP program at the server (kernel.bpf_stats_enabled): %.0f ns/packet over %d packets\n",
			c ? n / c : 0, c }' >>"$top/bench/results/profile-flatrpc-busy.txt"
}
if [ "$PROFILE" = 1 ]; then
	profile_all
	exit 0
fi

# interleaved TAG STACKS...: rows "TAG mode stack p50 set_p50 get_p50 min/max"
# of REPS rounds that each run every stack once, one outstanding
interleaved() {
	local tag=$1 mode proto
	shift
	printf '%-4s %-9s %-15s %10s %10s %10s %15s\n' "$tag" mode proto p50_us set_p50_us \
		get_p50_us p50_runs_min_max
	for mode in blocking busy; do
		for proto in "$@"; do : >"$work/$tag-$proto"; done
		for _ in $(seq "$REPS"); do
			for proto in "$@"; do
				start_server $proto $mode
				client $proto $mode 1 "$COUNT" >>"$work/$tag-$proto"
				stop_server
			done
		done
		for proto in "$@"; do
			printf '%-4s %-9s %-15s %10s %10s %10s %15s\n' "$tag" $mode $proto \
				"$(field p50_us <"$work/$tag-$proto" | median)" \
				"$(field set_p50_us <"$work/$tag-$proto" | median)" \
				"$(field get_p50_us <"$work/$tag-$proto" | median)" \
				"$(field p50_us <"$work/$tag-$proto" | sort -g | sed -n '1p;$p' | paste -sd/)"
		done
	done
}
if [ "$PLACEMENT" = 1 ]; then
	echo "# placement: the session tracker at the server (flatrpc-fwst), at the client in the library (flatrpc-cst) and at the client through BPF_PROG_TEST_RUN (flatrpc-cst-bpf); p50 us, all calls and per method (medians of $REPS interleaved runs)"
	interleaved place flatrpc-fwst flatrpc-cst flatrpc-cst-bpf
	exit 0
fi

# --gateway: stack -> how it is started and called
gw_start() { # stack
	case $1 in
	gw-grpc) start_server grpc blocking ;;
	gw-grpc-icpt) start_server grpc-icpt blocking ;;
	gw-flatrpc) start_server flatrpc blocking ;;
	gw-gateway)
		start_server flatrpc blocking
		# a FlatRPC client of kv-server, on the client's host and core,
		# as the gRPC client's sidecar would be
		spawn "$F_CNS" 0 "$B/flatrpc-gateway-kv" --iface $F_CIF --server $F_SRV_IP \
			--listen 127.0.0.1:50051 --timing
		GW_PID=${pids[-1]}
		local i
		for i in $(seq 50); do
			grep -q 'gRPC kv.Kv on' "$work/server.log" && break
			kill -0 "$GW_PID" 2>/dev/null || { echo "bench: the gateway failed:" >&2; cat "$work/server.log" >&2; exit 1; }
			sleep 0.1
		done ;;
	esac
}
gw_client() { # stack outstanding count
	case $1 in
	gw-grpc|gw-grpc-icpt)
		ip netns exec "$C" taskset -c 0 "$B/grpc-bench" client --kv-proto --proto ${1#gw-} \
			--server $SRV_IP:9448 --outstanding "$2" --count "$3" --warmup "$WARMUP" \
			--server-pids "$SERVER_PIDS" ;;
	gw-gateway)
		ip netns exec "$F_CNS" taskset -c 0 "$B/grpc-bench" client --kv-proto --proto gateway \
			--server 127.0.0.1:50051 --outstanding "$2" --count "$3" --warmup "$WARMUP" \
			--server-pids "$SERVER_PIDS" --proxy-pids "$GW_PID" ;;
	gw-flatrpc) client flatrpc blocking "$2" "$3" ;;
	esac
}
# median and min-max of one field of a file's lines
gw_fig() { # field file
	printf '%s %s' "$(field "$1" <"$2" | median)" "$(field "$1" <"$2" | sort -g | sed -n '1p;$p' | paste -sd-)"
}
if [ "$GATEWAY" = 1 ]; then
	[ -x "$B/grpc-bench" ] || { echo "bench/run.sh: --gateway needs $B/grpc-bench (make bench-tools)" >&2; exit 1; }
	[ -x "$B/flatrpc-gateway-kv" ] || { echo "bench/run.sh: --gateway needs $B/flatrpc-gateway-kv (make)" >&2; exit 1; }
	[ "$REPS_SET" = 1 ] || [ "$SMOKE" = 1 ] || REPS=5
	GW_STACKS="gw-grpc gw-grpc-icpt gw-gateway gw-flatrpc"
	echo "# gateway: a gRPC C++ client (grpc-bench --kv-proto) to the gRPC C++ server, to it with interceptors, and through flatrpc-gateway-kv to kv-server (specs/kv.anf); kv-bench's FlatRPC client to that kv-server beside them: $(date -u +%F) $(uname -r), $(nproc) cores; blocking, one core; 80% get / 20% set; medians of $REPS interleaved runs (min-max); p50/p99 with 1 outstanding ($COUNT calls), rate and CPU with 32 ($RATE_COUNT calls), warm-up $WARMUP"
	for st in $GW_STACKS; do : >"$work/gw-lat-$st"; : >"$work/gw-rate-$st"; : >"$work/gw-cpu-$st"; done
	: >"$work/gw-own" ; : >"$work/gw-own-cpu"
	for _ in $(seq "$REPS"); do
		for st in $GW_STACKS; do
			gw_start $st
			gw_client $st 1 "$COUNT" >>"$work/gw-lat-$st"
			stop_server
			# the gateway's own time, of the calls of that one-outstanding run
			[ $st = gw-gateway ] && sed -n 's/^timing: calls \([0-9]*\) gateway_own_p50_us \([0-9.]*\) gateway_own_p99_us \([0-9.]*\)$/own_calls=\1 own_p50_us=\2 own_p99_us=\3/p' \
				"$work/server.log" >>"$work/gw-own"
			gw_start $st
			gw_client $st 32 "$RATE_COUNT" | tee -a "$work/gw-rate-$st" >"$work/one"
			stop_server
			# client + server (+ gateway) CPU per call, as the main table counts it
			awk -v c="$(field client_cpu_us_per_rpc <"$work/one")" \
			    -v s="$(field server_cpu_us_per_rpc <"$work/one")" \
			    -v p="$(field proxy_cpu_us_per_rpc <"$work/one")" \
			    'BEGIN { printf "cpu=%.2f\n", c + s + p }' >>"$work/gw-cpu-$st"
			[ $st = gw-gateway ] && field proxy_cpu_us_per_rpc <"$work/one" | sed 's/^/own_cpu=/' >>"$work/gw-own-cpu"
		done
	done
	printf '%-3s %-13s %18s %18s %22s %18s\n' gw stack p50_us p99_us rate_per_s cpu_us_per_call
	for st in $GW_STACKS; do
		printf '%-3s %-13s %18s %18s %22s %18s\n' gw ${st#gw-} "$(gw_fig p50_us "$work/gw-lat-$st")" \
			"$(gw_fig p99_us "$work/gw-lat-$st")" "$(gw_fig rate_per_s "$work/gw-rate-$st")" \
			"$(gw_fig cpu "$work/gw-cpu-$st")"
	done
	echo "# the gateway's own share: its time per call less the FlatRPC round trip (--timing, warm-up included), its own CPU per call at 32 outstanding"
	printf '%-5s %18s %18s %18s\n' gwown p50_us p99_us cpu_us_per_call
	printf '%-5s %18s %18s %18s\n' gwown "$(gw_fig own_p50_us "$work/gw-own")" \
		"$(gw_fig own_p99_us "$work/gw-own")" "$(gw_fig own_cpu "$work/gw-own-cpu")"
	exit 0
fi

echo "# FlatRPC KV benchmark: $(date -u +%F) $(uname -r), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "# 80% get / 20% set, ~100 B requests; medians of $REPS runs; p50/p99 with 1 outstanding, rate with 32"
printf '%-9s %-8s %10s %10s %12s\n' mode proto p50_us p99_us rate_per_s
declare -A R
PROTOS="udp tcp ${FR_VARIANTS}flatrpc"
[ -x "$B/h2-bench" ] && PROTOS+=" h2"
GRPC=()
if [ -x "$B/grpc-bench" ]; then
	GRPC+=(grpc)
	command -v haproxy >/dev/null && GRPC+=(grpc-haproxy)
	GRPC+=(grpc-icpt)
fi
ALL="$PROTOS ${GRPC[*]}"
# xdp-echo is not an RPC stack: it has no place in the wire-bytes section
XE=0
[ -x "$B/xdp-echo" ] && [ -f "$B/bench/xdp_echo.bpf.o" ] && XE=1
MAIN="$ALL xdp-echo"
for mode in blocking busy; do
	for proto in $MAIN; do
		if [[ $proto == xdp-echo && $XE == 0 ]]; then
			for k in p50 p99 rate cpu; do R[$mode,$proto,$k]=n/a; done
			printf '%-9s %-8s %10s %10s %12s\n' $mode $proto n/a n/a n/a
			continue
		fi
		# gRPC has no busy-poll mode: a figure would be a different stack
		if [[ $proto == grpc* && $mode == busy ]]; then
			for k in p50 p99 rate cpu; do R[$mode,$proto,$k]=n/a; done
			printf '%-9s %-8s %10s %10s %12s\n' $mode $proto n/a n/a n/a
			continue
		fi
		start_server $proto $mode
		: >"$work/lat" ; : >"$work/rate"; : >"$work/cpu"
		for _ in $(seq "$REPS"); do
			client $proto $mode 1 "$COUNT" >>"$work/lat"
			client $proto $mode 32 "$RATE_COUNT" | tee -a "$work/rate" >"$work/one"
			# client + server CPU per call of the 32-outstanding run; softirq
			# work is charged to whichever task was running
			awk -v c="$(field client_cpu_us_per_rpc <"$work/one")" \
			    -v s="$(field server_cpu_us_per_rpc <"$work/one")" \
			    'BEGIN { printf "%.2f\n", c + s }' >>"$work/cpu"
		done
		R[$mode,$proto,cpu]=$(median <"$work/cpu")
		stop_server
		R[$mode,$proto,p50]=$(field p50_us <"$work/lat" | median)
		R[$mode,$proto,p99]=$(field p99_us <"$work/lat" | median)
		R[$mode,$proto,rate]=$(field rate_per_s <"$work/rate" | median)
		printf '%-9s %-8s %10s %10s %12s\n' $mode $proto "${R[$mode,$proto,p50]}" \
			"${R[$mode,$proto,p99]}" "${R[$mode,$proto,rate]}"
		[ "$SMOKE" = 1 ] || { echo "  runs: $(field p50_us <"$work/lat" | tr '\n' ' ')(p50)"; }
		late=$(cat "$work/lat" "$work/rate" | field late | awk '{ n += $1 } END { print n + 0 }')
		[ "$late" = 0 ] || echo "  late: $late lossy calls answered after their timeout (smoke: reported, not failed)"
	done
done
# What each transport property of set costs: the variants that differ from
# flatrpc-fwst (both methods lossy) only in set's transport, same ANFs, in
# runs of their own with one outstanding. The differences are below a
# microsecond while a shared machine drifts by more over a run, so the runs
# are interleaved: each of REPS rounds runs every stack once, and the drift
# falls on all of them alike. p50 over all calls, and of sets and gets alone.
COST_STACKS=""
for v in flatrpc-fwst flatrpc-cst flatrpc-rel flatrpc-ino flatrpc-relino flatrpc; do
	[[ " $FR_VARIANTS flatrpc " == *" $v "* ]] && COST_STACKS+="$v "
done
echo
echo "# transport cost: set's transport against flatrpc-fwst (all lossy), the same ANFs, and flatrpc-cst, its session tracker at the client; p50 us, all calls and per method (medians of $REPS interleaved runs)"
printf '%-4s %-9s %-15s %10s %10s %10s %15s %15s\n' cost mode proto p50_us set_p50_us get_p50_us \
	p50_runs_min_max set_runs_min_max
for mode in blocking busy; do
	for proto in $COST_STACKS; do : >"$work/cost-$proto"; done
	for _ in $(seq "$REPS"); do
		for proto in $COST_STACKS; do
			start_server $proto $mode
			client $proto $mode 1 "$COUNT" >>"$work/cost-$proto"
			stop_server
		done
	done
	for proto in $COST_STACKS; do
		printf '%-4s %-9s %-15s %10s %10s %10s %15s %15s\n' cost $mode $proto \
			"$(field p50_us <"$work/cost-$proto" | median)" \
			"$(field set_p50_us <"$work/cost-$proto" | median)" \
			"$(field get_p50_us <"$work/cost-$proto" | median)" \
			"$(field p50_us <"$work/cost-$proto" | sort -g | sed -n '1p;$p' | paste -sd/)" \
			"$(field set_p50_us <"$work/cost-$proto" | sort -g | sed -n '1p;$p' | paste -sd/)"
		late=$(field late <"$work/cost-$proto" | awk '{ n += $1 } END { print n + 0 }')
		[ "$late" = 0 ] || echo "  late: $late lossy calls answered after their timeout (smoke: reported, not failed)"
	done
done
# What the message tag costs (docs/security.md): specs/kv.anf against the
# same spec with auth: none, interleaved as above, one outstanding.
AUTH_STACKS=""
[ -x "$B/bench/kv-noauth/kv-bench" ] && [ -x "$B/bench/kv-noauth/kv-server" ] &&
	AUTH_STACKS="flatrpc-noauth flatrpc"
echo
echo "# auth cost: specs/kv.anf (siphash tags) against flatrpc-noauth (auth: none); p50 us, all calls and per method (medians of $REPS interleaved runs)"
# shellcheck disable=SC2086 # a list of stacks, maybe empty
interleaved auth $AUTH_STACKS
# What the figures cost (docs/observability.md): specs/kv.anf with all its
# figures against flatrpc-noobs, the same with FLATRPC_OBS=off in the
# server's and the client's environment and loaded with --figures off (no
# XDP time, no element verdicts). Each alternation reloads both ends.
echo
echo "# figures cost: specs/kv.anf counting its figures against flatrpc-noobs (FLATRPC_OBS=off, --figures off); p50 us, all calls and per method (medians of $REPS interleaved runs)"
interleaved obs flatrpc-noobs flatrpc
# One run's get latency as the library's histogram saw it (the difference
# of two readings of the client's figures), beside kv-bench's own p50 and
# p99 of the same calls: bench/report.py draws it (docs/kv-histogram.png).
flatrpc_use flatrpc "$F_CNS" $F_CIF "$F_SNS" $F_SIF	# before the first reading
hist0=$("$B/flatrpc-stat" -j $F_CIF)
start_server flatrpc busy
hout=$(client flatrpc busy 1 "$COUNT")
stop_server
hist1=$("$B/flatrpc-stat" -j $F_CIF)
python3 - "$hist0" "$hist1" "$hout" <<'PY'
import json, re, sys
def get(doc):
    m = next(m for m in json.loads(doc)["methods"] if m["name"] == "get")
    return {(lo, hi): c for lo, hi, c in m["call_latency"]["buckets"]}
a, b = get(sys.argv[1]), get(sys.argv[2])
d = {k: c - a.get(k, 0) for k, c in b.items() if c - a.get(k, 0)}
f = dict(re.findall(r"(\w+)=([\d.]+)", sys.argv[3]))
print(f"# call latency histogram flatrpc busy get: kv_bench_p50_us={f['get_p50_us']} "
      f"kv_bench_p99_us={f['get_p99_us']} buckets=" + ",".join(f"{lo}:{hi}:{c}" for (lo, hi), c in sorted(d.items())))
PY
# On-wire bytes per call, from a packet capture. AF_XDP frames pass no
# packet tap on either end (TX is a direct xmit, RX is taken by XDP before
# the taps), so the capture is taken in a third namespace bridging a separate
# client-server path, the same for every stack: one outstanding, no warm-up,
# connection setup included. The veth's byte counters are a cross-check.
# (port 7447 is specs/kv.anf's.)
# header = wire - request and response bodies; rpc_hdr = the bytes per message
# above UDP/TCP that are not body (the stack's own RPC header or framing; for
# gRPC, HTTP/2 frames with username and session-id in HPACK headers).
# -Z root: the work directory is private, and tcpdump drops to its own user.
veth_bytes() { # ns iface -> rx+tx bytes
	ip -n "$1" -s -j link show dev "$2" |
		python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["bytes"] + s["tx"]["bytes"])'
}
ip netns add "$M"
ip link add wc$tag netns "$C" type veth peer name wmc$tag netns "$M"
ip link add ws$tag netns "$S" type veth peer name wms$tag netns "$M"
ip -n "$M" link add br$tag type bridge
ip -n "$M" link set wmc$tag master br$tag
ip -n "$M" link set wms$tag master br$tag
for l in "$M br$tag" "$M wmc$tag" "$M wms$tag" "$C wc$tag" "$S ws$tag"; do
	set -- $l; ip -n "$1" link set "$2" up
done
ip -n "$C" addr add 10.78.3.1/24 dev wc$tag
ip -n "$S" addr add 10.78.3.2/24 dev ws$tag
flatrpc_use flatrpc "$C" wc$tag "$S" ws$tag
ip netns exec "$C" ping -c1 -W2 10.78.3.2 >/dev/null

echo
echo "# on-wire bytes per call ($WIRE_COUNT calls, 1 outstanding; Ethernet frames without FCS)"
printf '%-8s %10s %10s %10s %10s %10s %10s\n' proto frames_rpc wire_B veth_B body_B header_B rpc_hdr_B
SRV_IP=10.78.3.2 F_SRV_IP=10.78.3.2 F_SIF=ws$tag F_CIF=wc$tag
for proto in $ALL; do
	start_server $proto blocking
	ip netns exec "$M" tcpdump -Z root --immediate-mode -i wmc$tag -s 96 -w "$work/$proto.pcap" \
		>"$work/tcpdump.log" 2>&1 &
	tdpid=$!
	for _ in $(seq 50); do grep -q 'listening on' "$work/tcpdump.log" && break; sleep 0.1; done
	v0=$(veth_bytes "$C" wc$tag)
	client $proto blocking 1 "$WIRE_COUNT" 0 >"$work/one"
	v1=$(veth_bytes "$C" wc$tag)
	sleep 0.3
	kill -INT $tdpid; wait $tdpid 2>/dev/null || true
	stop_server
	"$top/bench/pcap_bytes.py" "$work/$proto.pcap" --flatrpc-port 7447 >"$work/pcap.txt"
	read -r fr by pl < <(awk -F'[ =]' 'NR == 1 { print $2, $4, $6 }' "$work/pcap.txt")
	# rpc_hdr: per direction of a call (one request, one response), so
	# HTTP/2 control frames are shared out over the messages
	awk -v p=$proto -v f="$fr" -v b="$by" -v l="$pl" -v v=$((v1 - v0)) -v n="$WIRE_COUNT" \
	    -v body="$(field body_bytes_per_rpc <"$work/one")" 'BEGIN {
		printf "%-8s %10.2f %10.1f %10.1f %10.1f %10.1f %10.1f\n", p, f / n, b / n, v / n, body,
			b / n - body, (l / n - body) / 2 }'
	grep -h 'dropped by kernel' "$work/tcpdump.log" | grep -v '^0 ' | sed 's/^/  tcpdump: /' || true
	# FlatRPC's own header per message, by method (named from the generated
	# ABI) and direction, read from each captured frame's length fields
	abi=$B/gen/kv/kv.abi.h
	[ $proto = flatrpc ] || abi=$B/gen/kv-${proto#flatrpc-}/kv.abi.h
	[[ $proto == flatrpc* ]] && awk -F'[ =]' -v abi="$abi" -v p=$proto '
		BEGIN { while ((getline l < abi) > 0) if (l ~ /^\tKV_[A-Z]+ = [0-9]+,/) {
			split(l, a, /[ \t=,]+/); name[a[3]] = tolower(substr(a[2], 4)) } }
		$1 == "flatrpc" { printf "  %s header %s %s: %s B over %s frames\n", p,
			($3 in name) ? name[$3] : "method " $3, $5, $9, $7 }' "$work/pcap.txt"
done

SRV_IP=10.78.2.2 F_SRV_IP=10.78.1.2 F_SIF=fbs$tag F_CIF=fbc$tag

# Per-packet cost of each FlatRPC stack's XDP program (parse, transport
# checks, its ANFs), from the kernel's BPF run-time statistics: the
# differences between stacks are what each ANF costs in the kernel. The
# statistics cost two clock reads per program run, so they are on only for
# one extra run per stack after the timed ones.
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$stats_was; cleanup' EXIT
for proto in $FR_VARIANTS ${AUTH_STACKS%% *} flatrpc-noobs flatrpc; do
	flatrpc_use $proto "$C" fbc$tag "$S" fbs$tag
	sysctl -qw kernel.bpf_stats_enabled=1
	read -r cnt0 ns0 <<<"$(xdp_stats fbs$tag)"
	read -r ccnt0 cns0 <<<"$(xdp_stats fbc$tag)"
	start_server $proto busy
	client $proto busy 32 "$RATE_COUNT" >/dev/null
	stop_server
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	read -r cnt ns <<<"$(xdp_stats fbs$tag)"
	read -r ccnt cns <<<"$(xdp_stats fbc$tag)"
	cnt=$((cnt - cnt0)) ns=$((ns - ns0)) ccnt=$((ccnt - ccnt0)) cns=$((cns - cns0))
	awk -v p=$proto -v a="$cnt" -v b="$ns" -v c="$ccnt" -v d="$cns" 'BEGIN {
		printf "# XDP program %s: server %.0f ns/packet over %d packets, client %.0f ns/packet over %d\n",
			p, a ? b / a : 0, a, c ? d / c : 0, c }'
done
echo
echo "# CPU time per call (client + server side incl. proxies, 32 outstanding; busy-poll counts the spinning)"
printf '%-9s %-8s %12s\n' mode proto cpu_us_per_rpc
for mode in blocking busy; do
	for proto in $MAIN; do
		printf '%-9s %-8s %12s\n' $mode $proto "${R[$mode,$proto,cpu]}"
	done
done
echo
echo "# ratios FlatRPC / UDP (p50 and p99: lower is better; rate: higher is better)"
for mode in blocking busy; do
	awk -v m=$mode -v a="${R[$mode,flatrpc,p50]}" -v b="${R[$mode,udp,p50]}" \
	    -v c="${R[$mode,flatrpc,p99]}" -v d="${R[$mode,udp,p99]}" \
	    -v e="${R[$mode,flatrpc,rate]}" -v f="${R[$mode,udp,rate]}" \
	    'BEGIN { printf "%-9s p50 %.2fx  p99 %.2fx  rate %.2fx\n", m, a/b, c/d, e/f }'
done
echo "# ratios FlatRPC / TCP"
for mode in blocking busy; do
	awk -v m=$mode -v a="${R[$mode,flatrpc,p50]}" -v b="${R[$mode,tcp,p50]}" \
	    -v c="${R[$mode,flatrpc,p99]}" -v d="${R[$mode,tcp,p99]}" \
	    -v e="${R[$mode,flatrpc,rate]}" -v f="${R[$mode,tcp,rate]}" \
	    'BEGIN { printf "%-9s p50 %.2fx  p99 %.2fx  rate %.2fx\n", m, a/b, c/d, e/f }'
done

if [ $XE = 1 ]; then
	echo "# ratios FlatRPC / xdp-echo, the raw AF_XDP floor (the goal: p50 within 1.20x)"
	for mode in blocking busy; do
		awk -v m=$mode -v a="${R[$mode,flatrpc,p50]}" -v b="${R[$mode,xdp-echo,p50]}" \
		    -v c="${R[$mode,flatrpc,p99]}" -v d="${R[$mode,xdp-echo,p99]}" \
		    -v e="${R[$mode,flatrpc,rate]}" -v f="${R[$mode,xdp-echo,rate]}" \
		    'BEGIN { printf "%-9s p50 %.2fx  p99 %.2fx  rate %.2fx\n", m, a/b, c/d, e/f }'
	done
fi
if [[ " ${GRPC[*]} " == *" grpc "* ]]; then
	echo "# ratios FlatRPC / gRPC and FlatRPC / gRPC+HAProxy, one core blocking"
	for g in "${GRPC[@]}"; do
		awk -v g=$g -v a="${R[blocking,flatrpc,p50]}" -v b="${R[blocking,$g,p50]}" \
		    -v c="${R[blocking,flatrpc,p99]}" -v d="${R[blocking,$g,p99]}" \
		    -v e="${R[blocking,flatrpc,rate]}" -v f="${R[blocking,$g,rate]}" \
		    'BEGIN { printf "%-12s p50 %.3fx  p99 %.3fx  rate %.2fx\n", g, a/b, c/d, e/f }'
	done
fi

# Head-of-line blocking under loss. A router namespace between client and
# server drops frames at random, each way: FlatRPC's with the selftests'
# selftests/bpf/impair.bpf.c at the router's TC ingress (loaded the way
# selftests/lib.sh loads it), TCP segments with bench/tcp_loss.bpf.c at its
# TC egress (impair knows only FlatRPC frames). The drop must be on a hop in
# between: AF_XDP transmit bypasses the hosts' own TC egress (docs/facts.md).
# HOL_OUT calls of the usual mix are outstanding, all on core 0 with
# blocking I/O (gRPC has no busy-poll mode); a call in flight for longer
# than HOL_STALL_US stops counting against HOL_OUT, so that calls lost or
# held up do not leave fewer calls going, with less queueing, than in the
# run without loss (up to 64 in flight). On gRPC's one HTTP/2 connection
# a lost segment holds every call behind it; FlatRPC's gets are lossy and
# wait for nothing. get p99 is over the gets that completed; FlatRPC's gets
# that were lost time out and are counted apart (gets_lost), never timed.
HOL_OUT=8 HOL_LOSS_PCT=1 HOL_STALL_US=2000
hol_setup() {
	local r=frbr$tag
	ip netns add $r
	ip link add hc$tag netns "$C" type veth peer name hrc$tag netns $r
	ip link add hs$tag netns "$S" type veth peer name hrs$tag netns $r
	ip -n "$C" addr add 10.78.5.1/24 dev hc$tag
	ip -n $r addr add 10.78.5.254/24 dev hrc$tag
	ip -n $r addr add 10.78.6.254/24 dev hrs$tag
	ip -n "$S" addr add 10.78.6.2/24 dev hs$tag
	for l in "$C hc$tag" "$S hs$tag" "$r hrc$tag" "$r hrs$tag" "$r lo"; do
		set -- $l; ip -n "$1" link set "$2" up
	done
	ip -n "$C" route add 10.78.6.0/24 via 10.78.5.254
	ip -n "$S" route add 10.78.5.0/24 via 10.78.6.254
	ip netns exec $r sysctl -qw net.ipv4.ip_forward=1
	# as selftests/lib.sh: software checksums for kernel-stack UDP through
	# native-XDP veths, GRO on the router for the hosts' XDP_TX
	ip netns exec "$C" ethtool -K hc$tag tx off >/dev/null
	ip netns exec "$S" ethtool -K hs$tag tx off >/dev/null
	ip netns exec $r ethtool -K hrc$tag tx off gro on >/dev/null
	ip netns exec $r ethtool -K hrs$tag tx off gro on >/dev/null
	# its own bpffs, on a path without dots: libbpf 1.1 turns every '.' of
	# a map pin path into '_', and $work has one
	mkdir -p "$HOL_FS"
	mount -t bpf bpf "$HOL_FS"
	bpftool prog load "$B/selftests/impair.bpf.o" "$HOL_FS/impair" type classifier \
		pinmaps "$HOL_FS/impair_maps"
	# tcp_loss.bpf.o comes with bench-tools, as gRPC does
	if [ -f "$B/bench/tcp_loss.bpf.o" ]; then
		bpftool prog load "$B/bench/tcp_loss.bpf.o" "$HOL_FS/tcp_loss" type classifier \
			pinmaps "$HOL_FS/loss_maps"
	fi
	for dev in hrc$tag hrs$tag; do
		ip netns exec $r tc qdisc add dev $dev clsact
		ip netns exec $r tc filter add dev $dev ingress bpf direct-action \
			object-pinned "$HOL_FS/impair"
		if [ -e "$HOL_FS/tcp_loss" ]; then
			ip netns exec $r tc filter add dev $dev egress bpf direct-action \
				object-pinned "$HOL_FS/tcp_loss"
		fi
	done
	flatrpc_use flatrpc "$C" hc$tag "$S" hs$tag
	ip netns exec "$C" ping -c1 -W2 10.78.6.2 >/dev/null
}
le_bytes() { # value width -> bytes, little-endian, as bpftool takes them
	local v=$1 i
	for ((i = 0; i < $2; i++)); do printf '%d ' $(((v >> (8 * i)) & 255)); done
}
hol_loss() { # percent: the same rate for FlatRPC (both kinds) and TCP, each way
	local ppm=$(($1 * 10000))
	"$top/selftests/maptool.py" impair-set "$HOL_FS/impair_maps/impair_cfg" $ppm $ppm
	[ -e "$HOL_FS/tcp_loss" ] || return 0
	bpftool map update pinned "$HOL_FS/loss_maps/loss_cfg" key 0 0 0 0 \
		value $(le_bytes $((ppm * 4294967296 / 1000000)) 4) $(le_bytes 9448 2) 0 0
}
hol_dropped() { # -> frames the router dropped so far, FlatRPC and TCP
	local f t
	f=$("$top/selftests/maptool.py" impair-sum "$HOL_FS/impair_maps/impair_stats" req |
		awk '{ print $2 }')
	f=$((f + $("$top/selftests/maptool.py" impair-sum "$HOL_FS/impair_maps/impair_stats" resp |
		awk '{ print $2 }')))
	[ -e "$HOL_FS/tcp_loss" ] || { echo $f; return; }
	t=$(bpftool -j map lookup pinned "$HOL_FS/loss_maps/loss_count" key 1 0 0 0 |
		python3 -c 'import json,sys; print(int.from_bytes(bytes(int(b, 16) for b in json.load(sys.stdin)["value"]), "little"))')
	echo $((f + t))
}

echo
HOL_STACKS=flatrpc
[[ " ${GRPC[*]} " == *" grpc "* ]] && [ -f "$B/bench/tcp_loss.bpf.o" ] && HOL_STACKS="grpc flatrpc"
if [ -f "$B/selftests/impair.bpf.o" ]; then
	hol_setup
	echo "# head-of-line blocking: get latency with $HOL_OUT outstanding (calls older than $HOL_STALL_US us not counted), one core blocking, $HOL_LOSS_PCT% loss each way at a router"
	echo "# (p50/p99 over the gets that completed; gets_lost: lossy gets that timed out; dropped: frames the router dropped, all runs)"
	printf '%-4s %-8s %8s %10s %10s %8s %9s %8s\n' hol proto loss_pct get_p50_us get_p99_us gets gets_lost dropped
	SRV_IP=10.78.6.2 F_SRV_IP=10.78.6.2 F_SIF=hs$tag F_CIF=hc$tag
	for proto in $HOL_STACKS; do
		for pct in 0 $HOL_LOSS_PCT; do
			hol_loss $pct
			d0=$(hol_dropped)
			start_server $proto blocking
			: >"$work/hol"
			for _ in $(seq "$REPS"); do
				hol_opts=(--stall-us $HOL_STALL_US)
				[ $proto = flatrpc ] && hol_opts+=(--loss)
				client $proto blocking $HOL_OUT "$COUNT" "$WARMUP" "${hol_opts[@]}" >>"$work/hol"
			done
			stop_server
			printf '%-4s %-8s %8s %10s %10s %8s %9s %8s\n' hol $proto $pct \
				"$(field get_p50_us <"$work/hol" | median)" "$(field get_p99_us <"$work/hol" | median)" \
				"$(field gets <"$work/hol" | median)" "$(field gets_lost <"$work/hol" | median)" \
				$(($(hol_dropped) - d0))
			[ "$SMOKE" = 1 ] || echo "  runs: $(field get_p99_us <"$work/hol" | tr '\n' ' ')(get p99)"
			# where else a FlatRPC call waits: the peer's window, cut by
			# the reliable sets' losses
			[ $proto = flatrpc ] && echo "  window per run: cuts $(field cwnd_cuts <"$work/hol" |
				paste -sd/), calls that waited $(field waited <"$work/hol" | paste -sd/), retransmits $(field retransmits <"$work/hol" | paste -sd/)"
		done
	done
	hol_loss 0
	SRV_IP=10.78.2.2 F_SRV_IP=10.78.1.2 F_SIF=fbs$tag F_CIF=fbc$tag
else
	echo "# head-of-line blocking: n/a ($B/selftests/impair.bpf.o not built: make)"
fi

# The interceptors must hold, not only run: a denied user's calls all fail,
# and the session tracker counts the allowed calls only (grpc-bench prints
# its counts when stopped). In the smoke run, so that make test checks it.
grpc_icpt_check() {
	start_server grpc-icpt blocking
	if ip netns exec "$C" "$B/grpc-bench" client --server $SRV_IP:9448 --count 50 --warmup 0 \
		--user Peter >/dev/null 2>&1; then
		echo "bench: gRPC + interceptors let a denied user's calls through" >&2
		exit 1
	fi
	ip netns exec "$C" "$B/grpc-bench" client --server $SRV_IP:9448 --count 50 --warmup 0 >/dev/null
	stop_server
	grep -q 'interceptors: 50 denied; session 7: 50 requests;' "$work/server.log" || {
		echo "bench: gRPC + interceptors did not deny and count as the spec does:" >&2
		cat "$work/server.log" >&2
		exit 1
	}
	echo "# gRPC + interceptors: 50 calls of a denied user refused, 50 allowed calls counted"
}
if [ "$SMOKE" = 1 ] && [[ " ${GRPC[*]} " == *" grpc-icpt "* ]]; then
	grpc_icpt_check
fi

# Header parsing (the paper's Figure 3): N metadata fields as HTTP/2 headers
# decoded by nghttp2, as gRPC metadata, and as fixed-offset FlatRPC fields
# read by XDP through BPF_PROG_TEST_RUN. On core 1, away from nothing else of ours.
echo
if [ -x "$B/hdr-parse" ] && [ -f "$B/bench/hdr_fields.bpf.o" ]; then
	echo "# header parsing, ns per request to get at N fields (medians; see bench/hdr_parse.c)"
	if [ "$SMOKE" = 1 ]; then hp=(--runs 1 --iters 2000 --max-n 3); else hp=(--runs 5 --iters 200000); fi
	taskset -c 1 "$B/hdr-parse" --bpf-obj "$B/bench/hdr_fields.bpf.o" "${hp[@]}"
	# gRPC's series: server CPU per call with N fields minus none (bench/grpc_md.cc);
	# its server and client share core 1, as only the server's CPU is counted
	if [ -x "$B/grpc-md" ]; then
		if [ "$SMOKE" = 1 ]; then gm=(--runs 1 --calls 200 --warmup 20 --max-n 3); else gm=(); fi
		taskset -c 1 "$B/grpc-md" "${gm[@]}"
	else
		echo "# gRPC metadata: n/a ($B/grpc-md not built: make bench-tools)"
	fi
else
	echo "# header parsing: n/a ($B/hdr-parse not built: make bench-tools)"
fi
