#!/usr/bin/env bash
# Builds a bootable test guest from Debian's packages: the cloud kernel (fetched and
# unpacked by fetch-kernel.sh) and a busybox initramfs holding the kernel modules the
# tests need, the project's own modules and any host binaries given (with the shared
# libraries ldd finds for them).
#
#   vm-images/build-image.sh [--out DIR] [--bin PATH]... [--module KO]... [--module-dir DIR]
#                            [--kernel-module NAME]... [--soft]
#
# --module-dir adds every .ko in DIR (none is fine: the module build may have been
# skipped). --soft: if the kernel can't be fetched, say so and exit 0 without an image
# (the build goes on; the QEMU scenarios then report the missing image).
# Writes DIR/vmlinuz, DIR/initramfs.cpio and DIR/image.txt (what is inside). The
# image is rebuilt only when an input changed (a hash of every input is kept in
# DIR/inputs.sha256). Default DIR: vm-images/out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/out
bins=() modules=() soft=0
# The guest's drivers (virtio network, virtio-serial for the agent, pvpanic so a panic
# pauses the emulator instead of spinning a host core) and what the scenarios use
# (sch_ingress and cls_bpf: the clsact qdisc and the filters failoverd's tc programs
# attach through; the cloud kernel builds them as modules).
kernel_modules=(virtio_pci virtio_net virtio_console pvpanic_pci sch_netem sctp sch_ingress cls_bpf)

die() { echo "build-image: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  if [ "$1" = --soft ]; then soft=1; shift; continue; fi
  [ $# -ge 2 ] || die "$1 needs a value"
  case $1 in
    --out) out=$2 ;;
    --bin) [ -x "$2" ] || die "--bin $2: not an executable file"; bins+=("$(realpath "$2")") ;;
    --module) [ -f "$2" ] || die "--module $2: no such file"; modules+=("$(realpath "$2")") ;;
    --module-dir) for ko in "$2"/*.ko; do [ -f "$ko" ] && modules+=("$(realpath "$ko")"); done ;;
    --kernel-module) kernel_modules+=("$2") ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
  shift 2
done
command -v busybox >/dev/null || die "busybox not found (install busybox-static)"
busybox_bin=$(command -v busybox)
ldd "$busybox_bin" >/dev/null 2>&1 && die "$busybox_bin is dynamically linked: install busybox-static"

if ! kroot=$("$here/fetch-kernel.sh"); then
  [ $soft = 1 ] || die "can't fetch the guest kernel"
  echo "build-image: SKIPPED: can't fetch the guest kernel; no QEMU guest image built" >&2
  rm -f "$out/inputs.sha256"
  exit 0
fi
release=$(basename "$(dirname "$kroot")")

# Everything that decides the image's content goes into one hash.
inputs=$(
  {
    echo "release $release"
    sha256sum "$0" "$here/guest/init" "$here/guest/agent" "$busybox_bin"
    for f in "${bins[@]}" "${modules[@]}"; do sha256sum "$f"; done
    echo "kernel_modules ${kernel_modules[*]}"
  } | sha256sum | cut -d' ' -f1)
if [ -f "$out/inputs.sha256" ] && [ "$(cat "$out/inputs.sha256")" = "$inputs" ] &&
   [ -f "$out/initramfs.cpio" ] && [ -f "$out/vmlinuz" ]; then
  echo "build-image: $out is up to date ($release)" >&2
  exit 0
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/tcpfo-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/tcpfo,proc,sys,dev,tmp,run,lib/modules}
cp "$busybox_bin" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 755 "$here/guest/init" "$stage/init"
install -m 755 "$here/guest/agent" "$stage/etc/tcpfo/agent"

# Kernel modules in load order: modprobe resolves the dependencies on the host so
# the guest only needs insmod.
moddir=$kroot/lib/modules/$release
: > "$stage/etc/tcpfo/modules"
for m in "${kernel_modules[@]}"; do
  modprobe -d "$kroot" -S "$release" --show-depends "$m" ||
    die "kernel module $m not found in $release"
done | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' | while read -r ko; do
  rel=${ko#"$moddir"/}
  rel=${rel#./}
  [ -f "$moddir/$rel" ] || rel=$(realpath --relative-to="$moddir" "$ko")
  mkdir -p "$stage/lib/modules/$(dirname "$rel")"
  cp "$moddir/$rel" "$stage/lib/modules/$rel"
  echo "$rel" >> "$stage/etc/tcpfo/modules"
done
# The project's own modules are not loaded at boot: the scenarios load and unload them.
mkdir -p "$stage/lib/modules/tcpfo"
for ko in "${modules[@]}"; do cp "$ko" "$stage/lib/modules/tcpfo/"; done

# Host binaries go to the guest's /usr/local/bin, their shared libraries to the same
# paths as on the host. Not the binaries' own host paths: a checkout under /tmp would
# be hidden by the guest's /tmp (a tmpfs mounted at boot).
# Without their debug sections: a RelWithDebInfo failoverd is ~30 MB of DWARF, which the
# guest would unpack into its RAM at every boot (and TCG copies slowly).
copy_with_libs() {
  local f=$1
  objcopy --strip-debug "$(realpath "$f")" "$stage/usr/local/bin/$(basename "$f")"
  ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$stage$lib" ] && continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
}
for b in "${bins[@]}"; do copy_with_libs "$b"; done
# iproute2's tc, ahead of busybox's in PATH: busybox's tc has no netem.
copy_with_libs "$(realpath "$(command -v tc || echo /sbin/tc)")"

mkdir -p "$out"
cp "$kroot/boot/vmlinuz-$release" "$out/vmlinuz.tmp"
# Uncompressed: under software emulation unpacking a gzip archive costs boot time.
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$out/initramfs.cpio.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
{
  echo "release $release"
  echo "kernel_modules $(tr '\n' ' ' < "$stage/etc/tcpfo/modules")"
  echo "project_modules ${modules[*]##*/}"
  echo "binaries ${bins[*]}"
} > "$out/image.txt"
echo "$inputs" > "$out/inputs.sha256"
echo "build-image: built $out ($release, $(du -h "$out/initramfs.cpio" | cut -f1) initramfs)" >&2
