#!/bin/bash
# Fetch and unpack Debian's generic 6.1 kernel for virtme-ng tests.
# The cloud flavour is skipped on purpose: it lacks 9p, which vng needs for
# the root filesystem. Nothing is installed; the .deb is only unpacked.
# Prints the path of the vmlinuz on stdout (everything else goes to stderr).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${VM_KERNEL_DIR:-$root/build/vm-kernel}
mkdir -p "$dest"

pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
	awk '{print $1}' | sort -V | tail -n1)
if [ -z "$pkg" ]; then
	# A stale apt index is the usual cause on a fresh machine.
	apt-get update -qq >&2
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
		awk '{print $1}' | sort -V | tail -n1)
fi
[ -n "$pkg" ] || { echo "get-kernel: no linux-image-6.1.0-*-amd64-unsigned in apt" >&2; exit 1; }

kver=${pkg#linux-image-}
kver=${kver%-unsigned}
vmlinuz=$dest/root/boot/vmlinuz-$kver

# The stamp is written only after a complete unpack, so an interrupted run
# is redone rather than trusted.
if [ ! -f "$dest/.$pkg.done" ] || [ ! -f "$vmlinuz" ]; then
	rm -rf "$dest/root"
	(cd "$dest" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >&2)
	deb=$(ls "$dest/${pkg}"_*.deb | head -n1)
	dpkg -x "$deb" "$dest/root"
	# vng wants modules.dep to modprobe inside the guest; the .deb does not
	# ship it because postinst normally generates it.
	depmod -b "$dest/root" "$kver"
	touch "$dest/.$pkg.done"
fi
[ -f "$vmlinuz" ] || { echo "get-kernel: $vmlinuz missing after unpack" >&2; exit 1; }
echo "$vmlinuz"
