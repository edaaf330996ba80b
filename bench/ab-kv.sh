#!/usr/bin/env bash
# The FlatRPC KV benchmark of several builds of this tree on one host, in one
# invocation, their runs interleaved: what a change to the data path costs,
# told apart from the host and the day (bench/run.sh compares stacks, not
# builds).
#
#   sudo bench/ab-kv.sh [--reps N] [--count N] [--mode busy|blocking] NAME=DIR...
#
# DIR is a checkout that was built (make): DIR/build/{flatrpc-load,kv-server,
# kv-bench} and DIR/specs/kv.anf. In each of N rounds (default 7), each
# build in turn (in the order given, backwards every other round): its loader loads its kv.anf on a veth
# pair, its kv-server serves, its kv-bench calls the 80% get / 20% set mix
# with 1 outstanding (p50, p99; COUNT calls, default 20000) and with 32
# (the rate), then the server stops and the load goes. busy (the default):
# client on core 0, server on core 1, both spinning; blocking: both on core
# 0, sleeping. Prints each build's medians (min-max) and the median of each
# round's ratio to the first build, p50 and rate: pairing by round keeps the
# ratio meaningful while the machine's speed drifts.
#
# Example:
#   git worktree add /tmp/old HEAD~3 && make -C /tmp/old
#   sudo bench/ab-kv.sh --reps 9 old=/tmp/old new=.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
REPS=7 COUNT=20000 MODE=busy
builds=() dirs=()
usage() { echo "usage: bench/ab-kv.sh [--reps N] [--count N] [--mode busy|blocking] NAME=DIR..." >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--reps) REPS=${2:?}; shift 2 ;;
	--count) COUNT=${2:?}; shift 2 ;;
	--mode) MODE=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*=*) builds+=("${1%%=*}"); dirs+=("$(cd "${1#*=}" && pwd)"); shift ;;
	*) usage ;;
	esac
done
[ ${#builds[@]} -ge 1 ] || usage
[[ $MODE == busy || $MODE == blocking ]] || usage
[[ $REPS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || usage
[ "$(id -u)" = 0 ] || { echo "bench/ab-kv.sh: needs root (network namespaces, XDP)" >&2; exit 1; }
for d in "${dirs[@]}"; do
	for f in build/flatrpc-load build/kv-server build/kv-bench specs/kv.anf; do
		[ -e "$d/$f" ] || { echo "bench/ab-kv.sh: $d/$f is missing (make in $d first)" >&2; exit 1; }
	done
done

tag=$$
C=frac$tag S=fras$tag IC=fac$tag IS=fas$tag
work=$(mktemp -d /tmp/flatrpc-ab.XXXXXX)
export FLATRPC_BPFFS=$work/bpffs
source "$top/scripts/keys.sh"
fr_keys "$work/keys" "${dirs[0]}/build/flatrpc-load" "$top/specs/kv.anf"
srv=

cleanup() {
	[ -n "$srv" ] && { kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; }
	for d in "${dirs[@]}"; do
		ip netns exec "$C" "$d/build/flatrpc-load" -q --unload $IC >/dev/null 2>&1 || true
		ip netns exec "$S" "$d/build/flatrpc-load" -q --unload $IS >/dev/null 2>&1 || true
	done
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
ip link add $IC netns "$C" type veth peer name $IS netns "$S"
ip -n "$C" addr add 10.78.9.1/24 dev $IC
ip -n "$S" addr add 10.78.9.2/24 dev $IS
for ns in "$C" "$S"; do ip -n "$ns" link set lo up; done
ip -n "$C" link set $IC up
ip -n "$S" link set $IS up

scpu=0 busy=()
[ "$MODE" = busy ] && { scpu=1; busy=(--busy-poll); }

one() { # DIR OUTSTANDING -> kv-bench's result line
	local d=$1 out
	ip netns exec "$C" "$d/build/flatrpc-load" -q "$d/specs/kv.anf" $IC
	ip netns exec "$S" "$d/build/flatrpc-load" -q "$d/specs/kv.anf" $IS
	ip netns exec "$S" taskset -c $scpu "$d/build/kv-server" --iface $IS "${busy[@]}" \
		>"$work/server.log" 2>&1 &
	srv=$!
	sleep 0.5
	kill -0 "$srv" 2>/dev/null || { echo "bench/ab-kv.sh: kv-server of $d failed:" >&2; cat "$work/server.log" >&2; exit 1; }
	out=$(ip netns exec "$C" taskset -c 0 "$d/build/kv-bench" client --proto flatrpc \
		--server 10.78.9.2 --iface $IC "${busy[@]}" --outstanding "$2" --count "$COUNT" \
		--warmup 2000 --server-pids "$srv" 2>"$work/client.err") ||
		{ echo "bench/ab-kv.sh: kv-bench of $d failed: $(cat "$work/client.err")" >&2; exit 1; }
	kill "$srv"
	wait "$srv" 2>/dev/null || true
	srv=
	ip netns exec "$C" "$d/build/flatrpc-load" -q --unload $IC
	ip netns exec "$S" "$d/build/flatrpc-load" -q --unload $IS
	echo "$out"
}

val() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

echo "# ab-kv: $(date -u +%F) $(uname -r), $(nproc) cores, $MODE, $REPS rounds, $COUNT calls, builds:"
for i in "${!builds[@]}"; do
	echo "#   ${builds[$i]}=${dirs[$i]} ($(git -C "${dirs[$i]}" log -1 --format='%h %s' 2>/dev/null | cut -c1-70)$(
		git -C "${dirs[$i]}" diff --quiet HEAD 2>/dev/null || echo ', with uncommitted changes'))"
done
echo "round build p50_us p99_us rate_per_s"
for r in $(seq "$REPS"); do
	# odd rounds in the order given, even rounds backwards: no build is
	# always the one that runs on a freshly idle machine
	order=("${!builds[@]}")
	[ $((r % 2)) = 0 ] && order=($(printf '%s\n' "${order[@]}" | tac))
	for i in "${order[@]}"; do
		l1=$(one "${dirs[$i]}" 1)
		l32=$(one "${dirs[$i]}" 32)
		echo "$r ${builds[$i]} $(val p50_us "$l1") $(val p99_us "$l1") $(val rate_per_s "$l32")"
	done
done | tee "$work/rounds"

python3 - "$work/rounds" "${builds[@]}" <<'EOF'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
names = sys.argv[2:]
by = {n: [r for r in rows if r[1] == n] for n in names}
def med(xs): return f"{st.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"
print("\nbuild     p50_us               p99_us               rate_per_s            p50/first  rate/first")
first = {r[0]: r for r in by[names[0]]}
for n in names:
    p50 = [float(r[2]) for r in by[n]]; p99 = [float(r[3]) for r in by[n]]
    rate = [float(r[4]) for r in by[n]]
    rp = [float(r[2]) / float(first[r[0]][2]) for r in by[n]]
    rr = [float(r[4]) / float(first[r[0]][4]) for r in by[n]]
    print(f"{n:9} {med(p50):20} {med(p99):20} {st.median(rate):8.0f} ({min(rate):.0f}-{max(rate):.0f})"
          f"  {st.median(rp):.3f}     {st.median(rr):.3f}")
EOF
