#!/usr/bin/env bash
# Builds the project's kernel modules with Kbuild against the guest kernel's headers
# (Debian's linux-headers-*-cloud-amd64, unpacked by vm-images/fetch-kernel.sh), in a
# copy of kmod/ under OUT so the source folder stays clean.
#
#   kmod/build-module.sh --out DIR
#
# Where the headers can't be had (no apt lists, no archive), says so and exits 0
# without a module: the build goes on, and the QEMU scenarios that need the module
# report it missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=
[ "${1:-}" = --out ] && [ -n "${2:-}" ] && out=$2 || { echo "usage: build-module.sh --out DIR" >&2; exit 2; }

if ! kroot=$("$top/vm-images/fetch-kernel.sh"); then
  echo "kmod: SKIPPED: the guest kernel headers (linux-headers-*-cloud-amd64) could not be fetched;" \
       "no module built" >&2
  rm -f "$out"/*.ko
  exit 0
fi
release=$(basename "$(dirname "$kroot")")
kdir=$kroot/usr/src/linux-headers-$release
if [ ! -f "$kdir/Makefile" ]; then
  echo "kmod: SKIPPED: no kernel headers at $kdir; no module built" >&2
  rm -f "$out"/*.ko
  exit 0
fi

mkdir -p "$out/src"
# Copy only what changed, so Kbuild's own timestamps keep rebuilds incremental.
for f in "$here"/Kbuild "$here"/*.c "$here"/*.h "$top/bpf/tcpfo_events.h" "$top/bpf/snoop.h"; do
  [ -f "$f" ] || continue
  cmp -s "$f" "$out/src/$(basename "$f")" || cp "$f" "$out/src/"
done
# Not part of the calling make's jobserver: Kbuild runs its own make.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$kdir" M="$out/src" modules
for ko in "$out"/src/*.ko; do
  cmp -s "$ko" "$out/$(basename "$ko")" || cp "$ko" "$out/"
done
echo "kmod: built $(cd "$out" && ls ./*.ko | tr '\n' ' ')for $release" >&2
