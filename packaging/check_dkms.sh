#!/usr/bin/env bash
# check_dkms.sh BUILD_DIR VM_CACHE: the package tcpfo-dkms, made by `cpack -G DEB`, holds
# the module source in /usr/src/tcpfo-VERSION with a dkms.conf of the package's
# version and the maintainer scripts that hand it to DKMS; and that source, unpacked
# from the package, builds with `dkms build` against the guest kernel's headers (the
# ones kmod/build-module.sh uses, in VM_CACHE) into tcpfo_count.ko and tcpfo.ko whose vermagic
# is the guest kernel's.
#
# Nothing is left on the host: DKMS works in scratch trees (--sourcetree, --dkmstree,
# --installtree) under a temporary directory removed on exit, in a mount namespace of
# its own with an empty tmpfs over /var/lib/dkms (where it would otherwise make a
# module signing key). Exits 77 (skipped) when the guest headers are absent: a build
# without TCPFO_KMOD=ON, or before its first build fetched them.
set -euo pipefail
build=$1
cache=$2

kroot=
for complete in "$cache"/kernel/*-cloud-amd64/root/.complete; do
    [ -f "$complete" ] && kroot=$(dirname "$complete")    # the glob is sorted: the last is the newest
done
if [ -z "$kroot" ]; then
    echo "SKIP: no guest kernel headers in $cache (configure with -DTCPFO_KMOD=ON and build)"
    exit 77
fi
release=$(basename "$(dirname "$kroot")")
kdir=$kroot/usr/src/linux-headers-$release
[ -f "$kdir/Makefile" ] || { echo "SKIP: no headers Makefile in $kdir"; exit 77; }
for tool in dkms cpack dpkg-deb modinfo unshare; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/install-deps.sh installs it)"; exit 1; }
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" >cpack.log 2>&1) ||
    { echo "FAIL: cpack: $(tail -5 "$out/cpack.log")"; exit 1; }
main=$(ls "$out"/tcpfo_*_amd64.deb)
deb=$(ls "$out"/tcpfo-dkms_*_all.deb)
version=$(dpkg-deb -f "$deb" Version)
status=0
fail() { echo "FAIL: $*"; status=1; }

# The control data: what dh_dkms would give a Debian *-dkms package.
[ "$(dpkg-deb -f "$main" Version)" = "$version" ] || fail "tcpfo is $(dpkg-deb -f "$main" Version), tcpfo-dkms $version"
[ "$(dpkg-deb -f "$deb" Architecture)" = all ] || fail "Architecture: $(dpkg-deb -f "$deb" Architecture), not all"
[[ $(dpkg-deb -f "$deb" Depends) == *dkms* ]] || fail "Depends lacks dkms: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -e "$deb" "$out/control"
for script in postinst prerm; do
    if [ ! -x "$out/control/$script" ]; then fail "no executable $script"; continue; fi
    sh -n "$out/control/$script" || fail "$script: syntax error"
    grep -q "^VERSION=$version\$" "$out/control/$script" || fail "$script is not for version $version"
done
grep -q "common.postinst" "$out/control/postinst" 2>/dev/null || fail "postinst does not run DKMS's common.postinst (add, build, install)"
grep -q 'dkms remove .*--all' "$out/control/prerm" 2>/dev/null || fail "prerm does not run dkms remove --all"
# The main package holds no module source; tcpfo-dkms nothing but it.
dpkg-deb -c "$main" | grep -q '\./usr/src/' && fail "tcpfo_*.deb holds /usr/src files"
others=$(dpkg-deb -c "$deb" | awk '{print $NF}' | grep -v '/$' | grep -v "^\./usr/src/tcpfo-$version/" || true)
[ -z "$others" ] || fail "tcpfo-dkms holds files outside /usr/src/tcpfo-$version: $others"

# The source tree.
dpkg-deb -x "$deb" "$out/root"
src=$out/root/usr/src/tcpfo-$version
for f in dkms.conf Kbuild tcpfo_count.c tcpfo_main.c tcpfo_genl.h tcpfo_events.h snoop.h; do
    [ -f "$src/$f" ] || fail "the package has no /usr/src/tcpfo-$version/$f"
done
[ -f "$src/dkms.conf" ] || exit 1
grep -qx "PACKAGE_VERSION=\"$version\"" "$src/dkms.conf" || fail "dkms.conf: $(grep PACKAGE_VERSION "$src/dkms.conf"), the package is $version"
grep -qx 'PACKAGE_NAME="tcpfo"' "$src/dkms.conf" || fail "dkms.conf: $(grep PACKAGE_NAME "$src/dkms.conf")"

# dkms add + build, as the postinst has DKMS do, against the guest kernel's headers.
mkdir -p "$out/dkms" "$out/modules"
dkms_args=(-m tcpfo -v "$version" --sourcetree "$out/root/usr/src" --dkmstree "$out/dkms"
           --installtree "$out/modules")
if ! KDIR=$kdir nice -n 19 unshare -m sh -c '
        mount --make-rprivate / && mount -t tmpfs tcpfo-dkms-test /var/lib/dkms || exit 1
        shift
        dkms add "$@" && dkms build "$@" -k "$0" --kernelsourcedir "$KDIR" -j 1' \
        "$release" -- "${dkms_args[@]}" >"$out/dkms.log" 2>&1 </dev/null; then
    echo "FAIL: dkms add/build for $release:"
    tail -20 "$out/dkms.log"
    find "$out/dkms" -name make.log -exec tail -30 {} \;
    exit 1
fi
vermagic=
for name in tcpfo_count tcpfo; do
    ko=$(find "$out/dkms/tcpfo/$version/$release" -name "$name.ko*" | head -n1)
    if [ -z "$ko" ]; then
        fail "dkms build made no $name.ko for $release: $(tail -5 "$out/dkms.log")"
        continue
    fi
    case $ko in *.ko) ;; *) fail "the module is compressed ($ko): modinfo of it not tried"; continue ;; esac
    vermagic=$(modinfo -F vermagic "$ko")
    [[ $vermagic == "$release "* ]] || fail "vermagic of $ko is '$vermagic', not the guest kernel's $release"
    [ "$(modinfo -F name "$ko")" = "$name" ] || fail "modinfo name of $ko: $(modinfo -F name "$ko")"
done
[ -z "$(ls -A "$out/modules")" ] || fail "dkms build installed into $out/modules"
[ $status = 0 ] && echo "ok: $(basename "$deb"): dkms built tcpfo_count.ko and tcpfo.ko for $release (vermagic $vermagic)"
exit $status
