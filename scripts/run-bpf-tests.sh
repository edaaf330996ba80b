#!/bin/bash
# BPF table tests: BPF_PROG_TEST_RUN needs root (CAP_BPF + CAP_NET_ADMIN);
# otherwise the same runner as the unit tests.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
	echo "bpf tests need root" >&2
	exit 1
fi
# With no arguments (as in the VM), run every built table test.
if [ $# -eq 0 ]; then
	root=$(cd "$(dirname "$0")/.." && pwd)
	shopt -s nullglob
	set -- "$root"/build/tests/test_bpf_*
fi
exec "$(dirname "$0")/run-unit-tests.sh" --label bpf "$@"
