#!/bin/bash
# The stock toolchain's word on flatrpc-gen --proto: protoc must accept the
# .proto of every spec given, build its descriptor set and its Python
# module, and the gRPC Python stubs where grpc_python_plugin is installed
# (protobuf-compiler-grpc, scripts/install-deps.sh). Without protoc this
# fails: a check that skips itself proves nothing.
#   check-proto.sh FLATRPC-GEN SPEC.anf...
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: check-proto.sh FLATRPC-GEN SPEC.anf..." >&2; exit 2; }
gen=$1; shift
command -v protoc >/dev/null ||
	{ echo "check-proto: protoc not found (apt install protobuf-compiler)" >&2; exit 1; }
grpc_py=$(command -v grpc_python_plugin || true)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=0
for spec in "$@"; do
	# bench/specs/ holds several services named kv: one directory each
	name=$(basename "$spec" .anf)
	dir=$tmp/$(echo "$spec" | tr / _)
	mkdir -p "$dir/py"
	if ! "$gen" --proto "$spec" >"$dir/$name.proto"; then
		echo "FAIL $spec: flatrpc-gen --proto"; failed=$((failed + 1)); continue
	fi
	args=(--descriptor_set_out="$dir/$name.pb" --python_out="$dir/py")
	[ -n "$grpc_py" ] && args+=(--plugin=protoc-gen-grpc_python="$grpc_py" --grpc_python_out="$dir/py")
	if ! protoc -I"$dir" "${args[@]}" "$dir/$name.proto"; then
		echo "FAIL $spec: protoc refuses its .proto"; failed=$((failed + 1)); continue
	fi
	echo "ok   $spec"
done
echo "proto check: $(($# - failed)) of $# specs accepted by $(protoc --version)${grpc_py:+ (with gRPC Python stubs)}"
[ "$failed" -eq 0 ]
