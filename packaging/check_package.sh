#!/usr/bin/env bash
# check_package.sh BUILD_DIR: `cpack -G DEB` makes the packages, and what the main one
# (tcpfo_*_amd64.deb; tcpfo-dkms is check_dkms.sh's) holds works from where it is
# unpacked: every file in place, the example config passes the packaged failoverd's
# --config-test, the packaged tcpfo-run finds its library beside
# its own install directory (not the build's), and each man page renders.
set -euo pipefail
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" >cpack.log 2>&1) ||
    { echo "FAIL: cpack: $(tail -5 "$out/cpack.log")"; exit 1; }
deb=$(ls "$out"/tcpfo_*_amd64.deb)
dpkg-deb -x "$deb" "$out/root"
status=0
for f in usr/sbin/failoverd usr/sbin/failoverctl usr/bin/tcpfo-run usr/lib/tcpfo/libtcpfo-preload.so \
         usr/lib/systemd/system/failoverd.service usr/share/doc/tcpfo/examples/failoverd.toml \
         usr/share/man/man8/failoverd.8 usr/share/man/man8/failoverctl.8 usr/share/man/man1/tcpfo-run.1 \
         usr/share/man/man5/failoverd.toml.5; do
    [ -f "$out/root/$f" ] || { echo "FAIL: the package has no $f"; status=1; }
done
dpkg-deb -f "$deb" Depends | grep -q libbpf1 || { echo "FAIL: Depends lacks libbpf1: $(dpkg-deb -f "$deb" Depends)"; status=1; }
dpkg-deb -f "$deb" Depends | grep -q libmicrohttpd12 || { echo "FAIL: Depends lacks libmicrohttpd12: $(dpkg-deb -f "$deb" Depends)"; status=1; }
verdict=$("$out/root/usr/sbin/failoverd" --config-test "$out/root/usr/share/doc/tcpfo/examples/failoverd.toml" 2>&1) || true
[[ $verdict == *": ok (node 1 of 2, starts as primary)" ]] || { echo "FAIL: --config-test of the example: $verdict"; status=1; }
# The build tree's library (its path is compiled in) must not be what it finds: the
# build directory is hidden under an empty tmpfs in a mount namespace of its own.
run_out=$(env -u TCPFO_PRELOAD_LIB unshare -m sh -c 'mount -t tmpfs none "$1" && exec "$2" --wait-s 0 --control "$3" -- true' \
    sh "$build" "$out/root/usr/bin/tcpfo-run" "$out/no.sock" 2>&1) && rc=0 || rc=$?
[ "$rc" = 69 ] || { echo "FAIL: the packaged tcpfo-run exited $rc (69: it found its library and asked for failoverd): $run_out"; status=1; }
for page in "$out"/root/usr/share/man/man*/*; do
    warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || warn="man failed"
    [ -z "$warn" ] || { echo "FAIL: $page: $warn"; status=1; }
done
[ $status = 0 ] && echo "ok: $(basename "$deb"), $(dpkg-deb -f "$deb" Installed-Size) KiB installed"
exit $status
