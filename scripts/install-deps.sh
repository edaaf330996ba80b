#!/bin/bash
# Install what building and testing FlatRPC needs on a fresh Debian 12.
# Idempotent: apt and pip skip what is already there. Mounts nothing.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root" >&2; exit 1; }

APT_PACKAGES=(
	# build
	build-essential clang llvm libclang-rt-14-dev pkg-config make
	libbpf-dev libxdp-dev libelf-dev zlib1g-dev libcmocka-dev
	bpftool xdp-tools
	# make test-proto: protoc and its gRPC plugins judge flatrpc-gen --proto
	protobuf-compiler protobuf-compiler-grpc
	# benchmark (bench/): HTTP/2 header decoding, the gRPC C++ and HAProxy
	# baselines (protoc above too), plots (Debian's python3 only)
	libnghttp2-dev libgrpc++-dev libprotobuf-dev haproxy python3-matplotlib
	# the gRPC gateway (gateway/): HTTP/2 is nghttp2 above, protobuf-c for
	# the messages, protoc-c to generate them from flatrpc-gen --proto; its
	# reflection reads protobuf's descriptor.proto (libprotobuf-dev above)
	# and links protoc's descriptor set as a C array made by xxd -i
	protobuf-c-compiler libprotobuf-c-dev xxd
	# bench/run.sh --profile
	linux-perf
	# selftests: namespaces, tc, offload switches, packet crafting
	iproute2 iputils-ping ethtool tcpdump jq python3 python3-pip python3-scapy
	# flatrpc-stat --listen serves /metrics with it; test_prometheus runs a
	# real Prometheus server against it (curl asks its HTTP API), and promtool
	# checks the output
	libmicrohttpd-dev prometheus curl
	# virtme-ng: qemu (TCG), module tools for the guest's modprobe and the
	# host's depmod on the unpacked kernel, busybox for its initramfs, udev
	# for the virtio-serial ports that carry the guest's exit code
	qemu-system-x86 kmod busybox-static udev cpio
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# pip: the python3 on PATH may be Debian's (PEP 668: externally managed,
# needs --break-system-packages) or a pyenv/venv one (where that flag is
# unnecessary and, on old pips, unknown).
PY=$(command -v python3)
pip_install() {
	if "$PY" -m pip install -q "$@" 2>/tmp/install-deps.pip.$$; then
		rm -f /tmp/install-deps.pip.$$
	elif grep -q externally-managed /tmp/install-deps.pip.$$; then
		rm -f /tmp/install-deps.pip.$$
		"$PY" -m pip install -q --break-system-packages "$@"
	else
		cat /tmp/install-deps.pip.$$ >&2; rm -f /tmp/install-deps.pip.$$
		return 1
	fi
}
"$PY" -m pip --version >/dev/null 2>&1 || { echo "install-deps: $PY has no pip" >&2; exit 1; }
pip_install virtme-ng argcomplete requests
# test_grpc_gateway: a stock gRPC client, its stubs from the gateway's .proto,
# and grpcio's server reflection client
pip_install grpcio grpcio-tools grpcio-reflection
# Debian's python3-scapy only serves /usr/bin/python3; a pyenv python needs its own.
"$PY" -c 'import scapy' 2>/dev/null || pip_install scapy

for tool in clang bpftool vng qemu-system-x86_64 depmod ethtool ping jq prometheus promtool; do
	command -v "$tool" >/dev/null || { echo "install-deps: $tool still missing" >&2; exit 1; }
done
"$PY" -c 'import scapy' || { echo "install-deps: scapy not importable by $PY" >&2; exit 1; }
"$PY" -c 'import grpc, grpc_tools, grpc_reflection' || { echo "install-deps: grpcio not importable by $PY" >&2; exit 1; }
echo "install-deps: ok"
