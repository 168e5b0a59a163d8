#!/usr/bin/env bash
# Fetches Debian's cloud kernel and the matching headers as .deb files and unpacks them
# (never installs them on the host) under $TCPFO_VM_CACHE/kernel/<release>/root: the
# build tree's vm-cache/ when CMake runs it, vm-images/cache/ when run by hand.
# Prints that root directory on stdout. Idempotent: a complete unpack is reused.
#
#   vm-images/fetch-kernel.sh [--release 6.1.0-56-cloud-amd64]
#
# Without --release (or $TCPFO_GUEST_KERNEL) the release is the one Debian's
# meta-package linux-image-cloud-amd64 currently points at.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TCPFO_VM_CACHE:-$here/cache}
release=${TCPFO_GUEST_KERNEL:-}

die() { echo "fetch-kernel: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --release) [ $# -ge 2 ] || die "--release needs a value"; release=$2; shift 2 ;;
    *) die "unknown argument '$1' (usage: fetch-kernel.sh [--release REL])" ;;
  esac
done

if [ -z "$release" ]; then
  dep=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: linux-image-\(.*-cloud-amd64\)$/\1/p' | head -n1)
  [ -n "$dep" ] || die "can't resolve linux-image-cloud-amd64 to a release: no apt package lists? (run apt-get update)"
  release=$dep
fi
case $release in *-cloud-amd64) ;; *) die "release '$release' is not a cloud-amd64 kernel" ;; esac

dir=$cache/kernel/$release
root=$dir/root
if [ -f "$root/.complete" ]; then echo "$root"; exit 0; fi
mkdir -p "$cache"
# One fetch at a time per cache (two builds of one checkout may race here).
exec 9>"$cache/.fetch.lock"
flock 9
if [ -f "$root/.complete" ]; then echo "$root"; exit 0; fi

mkdir -p "$dir/debs"
abi=${release%-cloud-amd64}          # 6.1.0-56
headers_version=$(apt-cache show "linux-headers-$release" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
[ -n "$headers_version" ] || die "no package linux-headers-$release in the apt lists"
series=$(echo "$abi" | cut -d. -f1-2)   # 6.1 (linux-kbuild-6.1)
pkgs=("linux-image-$release" "linux-headers-$release" "linux-headers-$abi-common"
      "linux-kbuild-$series=$headers_version")

download() {
  (cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}") >&2
}
echo "fetch-kernel: downloading ${pkgs[*]}" >&2
if ! download; then
  echo "fetch-kernel: download failed, refreshing apt lists once" >&2
  apt-get update -qq >&2 || die "apt-get update failed"
  download || die "apt-get download ${pkgs[*]} failed"
fi

rm -rf "$root.tmp"
mkdir -p "$root.tmp"
for deb in "$dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$root.tmp" || die "can't unpack $deb"
done
[ -f "$root.tmp/boot/vmlinuz-$release" ] || die "no /boot/vmlinuz-$release in the image package"
[ -d "$root.tmp/lib/modules/$release/kernel" ] || die "no modules for $release in the image package"
# The headers' Makefile includes the -common tree by its installed path; point it at
# the unpacked copy instead.
hdr=$root.tmp/usr/src/linux-headers-$release
[ -f "$hdr/Makefile" ] || die "no headers Makefile in linux-headers-$release"
sed -i "s|^include /usr/src/|include $root/usr/src/|" "$hdr/Makefile"
# The package ships no modules.dep (its postinst runs depmod); build it for the copy.
depmod -b "$root.tmp" "$release" || die "depmod failed for $release"
rm -rf "$root"
mv "$root.tmp" "$root"
touch "$root/.complete"
echo "$root"
