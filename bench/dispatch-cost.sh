#!/usr/bin/env bash
# What the interface's XDP entry point (kern/dispatch.bpf.c) adds per frame:
# BPF_PROG_TEST_RUN of the entry point (header walk + tail call + the
# service's program) against the service's program alone, on the same
# frame, in pairs. The frame is a UDP datagram to kv's port with a body
# that is no FlatRPC header, so both take the service's shortest path (a
# counted bad_magic drop); the difference is the entry point's own cost.
# Root; a veth pair and a bpffs of its own, removed at the end.
#   bench/dispatch-cost.sh [PAIRS]   (default 9; 2,000,000 repeats each)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$ROOT/build}
PAIRS=${1:-9}
fs=$(mktemp -d /run/fr-dispatch-cost.XXXXXX)
tmp=$(mktemp -d)	# bpffs holds no plain files
if=frdc$$
cleanup() {
	"$B/flatrpc-load" -q --bpffs "$fs" --unload "${if}a" 2>/dev/null || true
	umount "$fs" 2>/dev/null || true
	rm -rf "$fs" "$tmp"
	ip link del "${if}a" 2>/dev/null || true
}
trap cleanup EXIT
ip link add "${if}a" type veth peer name "${if}b"
ip link set "${if}a" up
ip link set "${if}b" up
mount -t bpf bpf "$fs"
"$B/flatrpc-load" -q --keygen "$tmp/kv.key"
"$B/flatrpc-load" -q --bpffs "$fs" --key "$tmp/kv.key" "$ROOT/specs/kv.anf" "${if}a"
rm -f "$tmp/kv.key"
python3 - "$tmp/frame" <<'PY'
import struct, sys
payload = bytes(40)
udp = struct.pack('!HHHH', 40000, 7447, 8 + len(payload), 0)
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28 + len(payload), 1, 0, 64, 17, 0,
                 bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
open(sys.argv[1], 'wb').write(b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + ip + udp + payload)
PY
d=$fs/flatrpc/${if}a
run() { bpftool -j prog run pinned "$1" data_in "$tmp/frame" repeat 2000000 | jq .duration; }
echo "# dispatch cost: $(date -u +%F) $(uname -r), $(nproc) cores; ns per frame, $PAIRS pairs"
for _ in $(seq "$PAIRS"); do
	e=$(run "$d/prog_dispatch"); s=$(run "$d/kv/prog_xdp")
	echo "entry+service $e service $s delta $((e - s))"
done | tee "$tmp/pairs"
awk '{ print $6 }' "$tmp/pairs" | sort -n | awk '{ v[NR] = $1 } END {
	printf "dispatch_ns median=%d min=%d max=%d\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
