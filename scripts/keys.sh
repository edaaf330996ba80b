# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# keys.sh - sourced by the demo, the benchmark and the selftests: a key for
# every service of the given specs, in a private directory, with
# FLATRPC_KEY_DIR pointing there so that flatrpc-load finds them (both ends
# of a test share one key, as the hosts of one service do).
#
#   fr_keys DIR LOADER SPEC...

fr_keys() {
	local dir=$1 loader=$2 spec svc
	shift 2
	mkdir -p "$dir"
	chmod 700 "$dir"
	for spec in "$@"; do
		svc=$(sed -n 's/^service \([A-Za-z0-9_-]*\):.*/\1/p' "$spec" | head -n1)
		[ -n "$svc" ] || { echo "keys.sh: no service in $spec" >&2; return 1; }
		"$loader" -q --keygen "$dir/$svc.key" || return 1
	done
	export FLATRPC_KEY_DIR=$dir
}
