#!/bin/bash
# Run the BPF table tests and the netns selftests on Debian's 6.1 kernel
# (the oldest kernel we support) under virtme-ng with qemu TCG: nested KVM
# does not work on these machines (docs/facts.md).
#
#   scripts/vm-test.sh [selftest names...]     host side: boots the VM
#   scripts/vm-test.sh --guest NONCE [names]   inside the VM (used by the above)
#
# Env: VM_MEMORY (2G), VM_CPUS (2), VM_TIMEOUT (s, 3000: a guard against a hung guest;
#      a whole run takes about 30 minutes on a quiet 2-core machine under TCG),
#      SELFTEST_SCALE (percent, 10 in the VM: TCG is ~50x slower),
#      INVARIANT_COUNT (calls in test_invariants; 10000 on both kernels).
# The result comes back twice: vng's exit code and a line with a nonce that
# the guest prints last on its console. Success needs both, so a VM that
# never booted (or died before the end) can never look like a pass. The line
# is read from the console, not a file, because the guest's view of some
# host paths (/tmp, where a CI clone may live) is not written back.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RESULT_DIR=$ROOT/build/vm-results
CONSOLE=$RESULT_DIR/console.log

guest() {
	local nonce=$1; shift
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
	cd "$ROOT"
	echo "vm-test: guest kernel $(uname -r)"
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	local rc=0 m
	# veth for the topologies, bridge for test_frontend's LAN, sch_ingress
	# for clsact, cls_bpf for tc bpf,
	# sch_netem for delay and reordering on the router (test_invariants)
	for m in veth bridge sch_ingress cls_bpf sch_netem; do
		modprobe "$m" || { echo "vm-test: modprobe $m failed"; rc=1; }
	done
	if [ $rc -eq 0 ]; then
		scripts/run-bpf-tests.sh || rc=1
		# test_prometheus runs a Prometheus server and a load of 200000
		# calls whose rate it compares: host only (docs/observability.md);
		# the figures it reads are tested here by test_status_json
		echo "vm-test: test_prometheus is left out in the VM (host only)"
		SELFTEST_SCALE=${SELFTEST_SCALE:-10} T_CALL=${T_CALL:-180} T_LOAD=${T_LOAD:-1200} \
			SELFTEST_NETEM=1 INVARIANT_COUNT=${INVARIANT_COUNT:-10000} \
			SELFTEST_LEAVE_OUT=test_prometheus selftests/run.sh "$@" || rc=1
	fi
	echo "vm-test-result: $nonce $rc $(uname -r)"
	exit $rc
}

if [ "${1:-}" == "--guest" ]; then
	shift
	guest "$@"
fi

command -v vng >/dev/null || { echo "vm-test: vng not found (scripts/install-deps.sh)" >&2; exit 1; }
vmlinuz=$("$ROOT/scripts/get-kernel.sh")
mkdir -p "$RESULT_DIR"
rm -f "$CONSOLE"
nonce=$$-$RANDOM

# The guest's PATH puts the system's python first; the tests that need
# what install-deps gave the host's (grpcio-tools, grpcio-reflection for
# test_grpc_gateway) run the host's own interpreter, by its real path.
host_py=$(python3 -c 'import sys; print(sys.executable)')
guest_cmd="FLATRPC_PYTHON=$(printf '%q' "$host_py") $(printf '%q ' "$ROOT/scripts/vm-test.sh" --guest "$nonce" "$@")"
vng_cmd=(vng --run "$vmlinuz" --disable-kvm --force-9p --rw
	--memory "${VM_MEMORY:-2G}" --cpus "${VM_CPUS:-2}" --cwd "$ROOT"
	--exec "$guest_cmd")
echo "vm-test: ${vng_cmd[*]}"
start=$SECONDS
vrc=0
set +e
timeout "${VM_TIMEOUT:-3000}" "${vng_cmd[@]}" 2>&1 | tee "$CONSOLE"
vrc=${PIPESTATUS[0]}
set -e
echo "vm-test: vng exited $vrc after $((SECONDS - start))s"

line=$(tr -d '\r' <"$CONSOLE" | grep "^vm-test-result: $nonce " | tail -n1 || true)
if [ -z "$line" ]; then
	echo "vm-test: FAIL: no result from the guest (the VM did not boot or the run died)" >&2
	exit 1
fi
read -r _ rnonce rrc rkver <<<"$line"

echo "vm-test: guest kernel $rkver, guest result $rrc"
[ "$rrc" -eq 0 ] && [ "$vrc" -eq 0 ] || exit 1
