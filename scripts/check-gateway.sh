#!/bin/bash
# check-gateway.sh GEN BUILD SPEC... - the gRPC gateway's glue of every spec
# compiles against protoc-c's code for that spec's .proto: protoc-c, not
# emit_gateway.c, owns the protobuf-c names, so only its output can say
# that the glue spells them right. Specs without generated stubs in
# BUILD/gen/<service> (not in SPECS) are passed over, and said so.
set -euo pipefail

gen=$1 build=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok=0 skipped=()
for spec in "$@"; do
	# the directory is the spec file's name, the files in it the service's
	svc=$(basename "$spec" .anf)
	d=$tmp/$svc
	mkdir -p "$d"
	"$gen" --proto "$spec" >"$d/spec.proto"
	pkg=$(sed -n 's/^package \(.*\);$/\1/p' "$d/spec.proto")
	if [ ! -f "$build/gen/$svc/${pkg}_stubs.h" ]; then
		skipped+=("$svc")
		continue
	fi
	mv "$d/spec.proto" "$d/$pkg.proto"
	protoc-c --c_out="$d" -I"$d" "$d/$pkg.proto"
	"$gen" --gateway "$spec" >"$d/gateway.c"
	if ! ${CC:-gcc} -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude \
		-I"$build" -I"$build/gen/$svc" -I"$d" -Igateway -c "$d/gateway.c" -o "$d/gw.o"; then
		echo "check-gateway: the gateway glue of $spec does not compile" >&2
		exit 1
	fi
	ok=$((ok + 1))
done
echo "gateway check: the glue of $ok spec(s) compiles against protoc-c's code" \
     "${skipped[*]:+(not built: ${skipped[*]})}"
