# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# lib.sh - topology, impairment and process helpers for selftests/run.sh.
# Sourced, not run. Every name carries $SUFFIX so parallel runs (other
# engineers on the same host) never collide.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
ST=$ROOT/selftests
LOADER=${LOADER:-$BUILD/flatrpc-load}
KV_SERVER=${KV_SERVER:-$BUILD/kv-server}
KV_CLIENT=${KV_CLIENT:-$BUILD/kv-client}
RL_SERVER=${RL_SERVER:-$BUILD/rl-server}
RL_CLIENT=${RL_CLIENT:-$BUILD/rl-client}
RL_SPEC=$ROOT/specs/ratelimited.anf
IMPAIR_OBJ=$BUILD/selftests/impair.bpf.o
SPEC=$ROOT/specs/kv.anf
ABI_H=$ROOT/include/flatrpc_abi.h

source "$ROOT/scripts/keys.sh"

SUFFIX=${SUFFIX:-$$}
NS_C=frc-$SUFFIX
NS_R=frw-$SUFFIX
NS_S=frs-$SUFFIX
IF_C=frc0-$SUFFIX
IF_R0=frw0-$SUFFIX
IF_R1=frw1-$SUFFIX
IF_S=frs0-$SUFFIX
IP_C=10.77.1.2
IP_R0=10.77.1.1
IP_R1=10.77.2.1
IP_S=10.77.2.2
# IPv6 on the same links, routed by the same router (test_ipv6)
IP6_C=fd77:1::2
IP6_R0=fd77:1::1
IP6_R1=fd77:2::1
IP6_S=fd77:2::2

# No dots: libbpf rewrites "." in pin paths it creates.
WORK=/run/flatrpc-selftest-$SUFFIX
export FLATRPC_BPFFS=$WORK/bpffs
# topo_setup writes a key per service there (scripts/keys.sh)
export FLATRPC_KEY_DIR=$WORK/keys
# The impairment program gets its own bpffs so that "no FlatRPC pins left"
# can be checked on FLATRPC_BPFFS as a whole.
IMPAIR_FS=$WORK/impair
IMPAIR_PROG=$IMPAIR_FS/prog
IMPAIR_MAPS=$IMPAIR_FS/maps

# Percent scale for the load counts: the VM under TCG is ~50x slower.
# Assertions stay exact at any scale; only the sample sizes shrink.
SELFTEST_SCALE=${SELFTEST_SCALE:-100}
scaled() { local n=$(( $1 * SELFTEST_SCALE / 100 )); echo $(( n < 20 ? 20 : n )); }
# Generous per-command timeouts, longer under TCG.
T_CALL=${T_CALL:-60}
T_LOAD=${T_LOAD:-900}

in_c() { ip netns exec "$NS_C" "$@"; }
in_r() { ip netns exec "$NS_R" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

say() { printf '  %s\n' "$*"; }
# Assertion helpers return 1 so that, under the test's errexit, the first
# failed expectation ends the test with its message printed.
fail() { printf '  FAIL: %s\n' "$*" >&2; return 1; }
expect_eq() { # actual expected what
	[ "$1" == "$2" ] || fail "$3: got '$1', expected '$2'"
}
expect_ge() { # actual min what
	[ "$1" -ge "$2" ] || fail "$3: got $1, expected >= $2"
}
expect_le() { # actual max what
	[ "$1" -le "$2" ] || fail "$3: got $1, expected <= $2"
}
expect_gt() {
	[ "$1" -gt "$2" ] || fail "$3: got $1, expected > $2"
}
need() { # files that must exist for a test; missing means FAIL, not skip
	local f
	for f in "$@"; do
		[ -x "$f" ] || [ -f "$f" ] || fail "missing $f (run make first)"
	done
}

# count_lines GREP-ARGS...: like grep -c, but zero matches is not an error
count_lines() { grep "$@" || true; }

# field NAME LINE: value of NAME=value in a `key=value ...` line
field() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$2" | head -n1; }

# --- topology ---------------------------------------------------------------

topo_setup() {
	mkdir -p "$WORK" "$FLATRPC_BPFFS" "$IMPAIR_FS"
	fr_keys "$WORK/keys" "$LOADER" "$ROOT"/specs/*.anf
	mount -t bpf bpf "$FLATRPC_BPFFS"
	mount -t bpf bpf "$IMPAIR_FS"

	ip netns add "$NS_C"
	ip netns add "$NS_R"
	ip netns add "$NS_S"
	ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_R0" netns "$NS_R"
	ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_R1" netns "$NS_R"

	ip -n "$NS_C" addr add $IP_C/24 dev "$IF_C"
	ip -n "$NS_R" addr add $IP_R0/24 dev "$IF_R0"
	ip -n "$NS_R" addr add $IP_R1/24 dev "$IF_R1"
	ip -n "$NS_S" addr add $IP_S/24 dev "$IF_S"
	local ns
	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_C" link set "$IF_C" up
	ip -n "$NS_R" link set "$IF_R0" up
	ip -n "$NS_R" link set "$IF_R1" up
	ip -n "$NS_S" link set "$IF_S" up
	# No static neighbours for the client: the library must resolve the
	# next hop (the router) from the kernel's own tables.
	ip -n "$NS_C" route add default via $IP_R0
	ip -n "$NS_S" route add default via $IP_R1
	in_r sysctl -qw net.ipv4.ip_forward=1
	# nodad: usable at once, no duplicate address detection delay
	ip -n "$NS_C" addr add $IP6_C/64 dev "$IF_C" nodad
	ip -n "$NS_R" addr add $IP6_R0/64 dev "$IF_R0" nodad
	ip -n "$NS_R" addr add $IP6_R1/64 dev "$IF_R1" nodad
	ip -n "$NS_S" addr add $IP6_S/64 dev "$IF_S" nodad
	ip -n "$NS_C" -6 route add default via $IP6_R0
	ip -n "$NS_S" -6 route add default via $IP6_R1
	in_r sysctl -qw net.ipv6.conf.all.forwarding=1

	# Kernel-stack UDP with CHECKSUM_PARTIAL loses its checksum when a
	# native-XDP veth turns the skb into an xdp_frame; full software
	# checksums avoid that. GRO on the router side gives its veths the NAPI
	# context that XDP_TX from the hosts' veths needs to be delivered.
	in_c ethtool -K "$IF_C" tx off >/dev/null
	in_s ethtool -K "$IF_S" tx off >/dev/null
	in_r ethtool -K "$IF_R0" tx off gro on >/dev/null
	in_r ethtool -K "$IF_R1" tx off gro on >/dev/null

	impair_attach
	bpffs_listing >"$WORK/bpffs.before"
}

bpffs_listing() { find "$FLATRPC_BPFFS" -mindepth 1 | sort; }

topo_teardown() {
	local pid
	for pid in $(cat "$WORK"/*.pid 2>/dev/null); do
		kill "$pid" 2>/dev/null || true
	done
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	ip netns del "$NS_S" 2>/dev/null || true
	umount "$FLATRPC_BPFFS" 2>/dev/null || true
	umount "$IMPAIR_FS" 2>/dev/null || true
	rm -rf "$WORK"
}

# --- impairment -----------------------------------------------------------------

# One program instance, pinned, attached to both router ingresses: both
# directions then share one config and one set of counters.
impair_attach() {
	bpftool prog load "$IMPAIR_OBJ" "$IMPAIR_PROG" type classifier pinmaps "$IMPAIR_MAPS"
	local dev
	for dev in "$IF_R0" "$IF_R1"; do
		in_r tc qdisc add dev "$dev" clsact
		in_r tc filter add dev "$dev" ingress bpf direct-action object-pinned "$IMPAIR_PROG"
	done
}

# impair_set REQ_PCT RESP_PCT [DUP_REQ_PCT DUP_RESP_PCT [FLAGS]]: loss, then
# duplication of what was not lost; FLAGS 1 keeps per-RPC records.
impair_set() {
	"$ST/maptool.py" impair-set "$IMPAIR_MAPS/impair_cfg" $(( $1 * 10000 )) $(( $2 * 10000 )) \
		$(( ${3:-0} * 10000 )) $(( ${4:-0} * 10000 )) "${5:-0}"
}
# impair_dups KIND -> originals of KIND the router sent twice
impair_dups() { "$ST/maptool.py" impair-dups "$IMPAIR_MAPS/impair_stats" "$1"; }
impair_reset() { "$ST/maptool.py" impair-reset "$IMPAIR_MAPS/impair_stats"; }
# impair_sum KIND [METHOD] -> "seen dropped retx_seen"
impair_sum() { "$ST/maptool.py" impair-sum "$IMPAIR_MAPS/impair_stats" "$@"; }

# --- FlatRPC pins ------------------------------------------------------------------

pin_dir() { echo "$FLATRPC_BPFFS/flatrpc/$1"; }

# u64_le N: N as 8 little-endian bytes, in decimal, for bpftool
u64_le() { local v=$1 i; for i in 0 1 2 3 4 5 6 7; do printf '%d ' $(( (v >> (8 * i)) & 255 )); done; }

# pin_of IFACE NAME: the pinned object NAME, or the only pin whose name ends
# in _NAME (generated ANF maps carry an element prefix).
pin_of() {
	local d; d=$(pin_dir "$1")
	if [ -e "$d/$2" ]; then echo "$d/$2"; return; fi
	local m=("$d"/*_"$2")
	[ ${#m[@]} -eq 1 ] && [ -e "${m[0]}" ] || { fail "no unique pin *$2 in $d"; return 1; }
	echo "${m[0]}"
}

# Object IDs behind every pin of an interface, as "prog ID" / "map ID" lines.
pin_ids() {
	local f d; d=$(pin_dir "$1")
	for f in "$d"/*; do
		[ -e "$f" ] || continue
		if bpftool -j prog show pinned "$f" >/dev/null 2>&1; then
			echo "prog $(bpftool -j prog show pinned "$f" | jq .id)"
		else
			echo "map $(bpftool -j map show pinned "$f" | jq .id)"
		fi
	done
}

# --- KV processes --------------------------------------------------------------------

# kv CLIENT-ARGS...: one kv-client call from the client namespace.
kv() {
	timeout "$T_CALL" ip netns exec "$NS_C" "$KV_CLIENT" --iface "$IF_C" --server $IP_S "$@"
}

# lossy_tries CMD...: a lossy call, up to three times. Its one attempt has
# the spec's deadline (20 ms for kv's get), which a round trip in the TCG
# VM now and then misses (seen after scapy, and right after a reliable
# set); the late answer then shows as the client's no_socket drop. A check
# of a value or that a server still serves allows for that, and says how
# often it happened; a server that no longer serves still fails all three.
# Tests that count attempts call the client directly.
lossy_tries() {
	local i out
	for i in 1 2 3; do
		out=$("$@" 2>/dev/null) && { echo "$out"; return 0; }
		say "lossy call lost (try $i of 3): $*" >&2
	done
	return 4
}

# rl CLIENT-ARGS...: one rl-client run from the client namespace. It exits 1
# when any call was not ok, which the tests expect, so callers read its line.
rl() {
	timeout "$T_CALL" ip netns exec "$NS_C" "$RL_CLIENT" --iface "$IF_C" --server $IP_S "$@"
}

server_pid() { cat "$WORK/server.pid" 2>/dev/null; }

# --- load balancer (test_balanced) -------------------------------------------------
#
#   frlc (client) frlc0 10.78.1.2 -- frlf0 10.78.1.1 [frlf front] frlf1 10.78.2.1 -- frlb0 10.78.2.2 (backend 1)
#                                                                 frlf2 10.78.3.1 -- frlq0 10.78.3.2 (backend 2)
#
# Its own namespaces: the front routes between three links, and nothing of
# the client/router/server topology (impairment programs) is on the path.
NS_LC=frlc-$SUFFIX
NS_LF=frlf-$SUFFIX
NS_LB1=frlb-$SUFFIX
NS_LB2=frlq-$SUFFIX
IF_LC=frlc0-$SUFFIX
IF_LF0=frlf0-$SUFFIX
IF_LF1=frlf1-$SUFFIX
IF_LF2=frlf2-$SUFFIX
IF_LB1=frlb0-$SUFFIX
IF_LB2=frlq0-$SUFFIX
IP_LC=10.78.1.2
IP_LF0=10.78.1.1
IP_LB1=10.78.2.2
IP_LB2=10.78.3.2

lb_topo_setup() {
	local ns
	for ns in "$NS_LC" "$NS_LF" "$NS_LB1" "$NS_LB2"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip link add "$IF_LC" netns "$NS_LC" type veth peer name "$IF_LF0" netns "$NS_LF"
	ip link add "$IF_LB1" netns "$NS_LB1" type veth peer name "$IF_LF1" netns "$NS_LF"
	ip link add "$IF_LB2" netns "$NS_LB2" type veth peer name "$IF_LF2" netns "$NS_LF"
	ip -n "$NS_LC" addr add $IP_LC/24 dev "$IF_LC"
	ip -n "$NS_LF" addr add $IP_LF0/24 dev "$IF_LF0"
	ip -n "$NS_LF" addr add 10.78.2.1/24 dev "$IF_LF1"
	ip -n "$NS_LF" addr add 10.78.3.1/24 dev "$IF_LF2"
	ip -n "$NS_LB1" addr add $IP_LB1/24 dev "$IF_LB1"
	ip -n "$NS_LB2" addr add $IP_LB2/24 dev "$IF_LB2"
	ip -n "$NS_LC" link set "$IF_LC" up
	ip -n "$NS_LF" link set "$IF_LF0" up
	ip -n "$NS_LF" link set "$IF_LF1" up
	ip -n "$NS_LF" link set "$IF_LF2" up
	ip -n "$NS_LB1" link set "$IF_LB1" up
	ip -n "$NS_LB2" link set "$IF_LB2" up
	ip -n "$NS_LC" route add default via $IP_LF0
	ip -n "$NS_LB1" route add default via 10.78.2.1
	ip -n "$NS_LB2" route add default via 10.78.3.1
	# bpf_fib_lookup answers only on an interface that forwards
	ip netns exec "$NS_LF" sysctl -qw net.ipv4.ip_forward=1
	# as in topo_setup: software checksums for kernel-stack UDP, and GRO
	# on the front's veths for frames XDP_TX/redirect puts on them
	ip netns exec "$NS_LC" ethtool -K "$IF_LC" tx off >/dev/null
	ip netns exec "$NS_LB1" ethtool -K "$IF_LB1" tx off >/dev/null
	ip netns exec "$NS_LB2" ethtool -K "$IF_LB2" tx off >/dev/null
	for ns in "$IF_LF0" "$IF_LF1" "$IF_LF2"; do
		ip netns exec "$NS_LF" ethtool -K "$ns" tx off gro on >/dev/null
	done
}

lb_topo_teardown() {
	local ns
	for ns in "$NS_LC" "$NS_LF" "$NS_LB1" "$NS_LB2"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

# --- captures --------------------------------------------------------------------

# capture_start NAME IFACE FILTER: tcpdump in the router namespace into
# $WORK/NAME.pcap, returning once it listens. Immediate mode: with the
# default buffer timeout, frames still in the kernel's capture block when
# tcpdump stops are never written (seen under TCG).
capture_start() {
	local i
	# not through in_r: $! must be tcpdump itself, not a subshell
	ip netns exec "$NS_R" tcpdump -i "$2" --immediate-mode -U -w "$WORK/$1.pcap" "$3" \
		2>"$WORK/$1.tcpdump.err" &
	echo $! >"$WORK/$1.tcpdump.pid"
	for i in $(seq 50); do
		grep -q 'listening on' "$WORK/$1.tcpdump.err" && return 0
		sleep 0.1
	done
	fail "tcpdump did not start: $(cat "$WORK/$1.tcpdump.err")"
}

# capture_stop NAME: lets tcpdump write what it has, then stops it
capture_stop() {
	local pid
	pid=$(cat "$WORK/$1.tcpdump.pid" 2>/dev/null) || return 0
	sleep 0.5
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$WORK/$1.tcpdump.pid"
}
