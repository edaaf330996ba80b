#!/usr/bin/env bash
# The KV demo: two network namespaces joined by veth, specs/kv.anf loaded on
# both ends, a server and a few client calls, and what the kernel saw.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, XDP); try sudo make demo" >&2; exit 1; }
for b in flatrpc-load kv-server kv-client kv-bench; do
	[ -x "$B/$b" ] || { echo "demo: $B/$b is missing; run make first" >&2; exit 1; }
done

tag=$$
C=kvclient$tag S=kvserver$tag CI=kvc$tag SI=kvs$tag
work=$(mktemp -d /tmp/flatrpc-demo.XXXXXX)
export FLATRPC_BPFFS=$work/bpffs
source "$top/scripts/keys.sh"
fr_keys "$work/keys" "$B/flatrpc-load" "$top/specs/kv.anf"
server=

cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	ip netns exec "$C" "$B/flatrpc-load" --unload $CI >/dev/null 2>&1 || true
	ip netns exec "$S" "$B/flatrpc-load" --unload $SI >/dev/null 2>&1 || true
	ip netns del "$C" 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
	umount "$work/bpffs" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
client() { ip netns exec "$C" "$B/kv-client" --iface $CI --server 10.79.0.2 "$@"; }

step "two namespaces, $C (10.79.0.1) and $S (10.79.0.2), joined by veth"
mkdir -p "$work/bpffs"
mount -t bpf bpf "$work/bpffs"
ip netns add "$C"
ip netns add "$S"
ip link add $CI netns "$C" type veth peer name $SI netns "$S"
ip -n "$C" addr add 10.79.0.1/24 dev $CI
ip -n "$S" addr add 10.79.0.2/24 dev $SI
ip -n "$C" link set $CI up
ip -n "$S" link set $SI up

step "flatrpc-load specs/kv.anf on both ends"
ip netns exec "$C" "$B/flatrpc-load" "$top/specs/kv.anf" $CI
ip netns exec "$S" "$B/flatrpc-load" "$top/specs/kv.anf" $SI

step "kv-server on $SI"
ip netns exec "$S" "$B/kv-server" --iface $SI --log "$work/server.log" >"$work/server.out" 2>&1 &
server=$!
sleep 0.5

step "Kevin (allowed by the firewall)"
echo "\$ kv-client --user Kevin --session 41 set color blue"; client --user Kevin --session 41 set color blue
echo "\$ kv-client --user Kevin --session 41 get color";      client --user Kevin --session 41 get color

step "Peter (denied in the server's XDP; the server never sees it)"
echo "\$ kv-client --user Peter --session 42 get color"
rc=0; client --user Peter --session 42 get color || rc=$?
echo "exit code $rc"

step "Alice (unknown to the firewall, so allowed)"
echo "\$ kv-client --user Alice --session 43 get color"; client --user Alice --session 43 get color

step "what the server application executed"
cat "$work/server.log"

step "latency: 2000 calls of the 80/20 mix, one outstanding"
ip netns exec "$C" "$B/kv-bench" client --proto flatrpc --iface $CI --server 10.79.0.2 \
	--count 2000 --warmup 200

step "what the kernel saw on the server (counters, drops, ANF state)"
ip netns exec "$S" "$B/flatrpc-load" --status $SI

kill "$server"; wait "$server" 2>/dev/null || true; server=
step "server summary"
cat "$work/server.out"
echo "(repeated: sets of a key set before; the latency mix cycles through 1,000 keys)"
