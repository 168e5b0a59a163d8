#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12's packages. Idempotent:
# it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libmnl-dev liburing-dev libsctp-dev lksctp-tools libfmt-dev libgtest-dev nlohmann-json3-dev libsystemd-dev libcap-ng-dev libtomlplusplus-dev libmicrohttpd-dev libsodium-dev
  iproute2 iputils-ping socat ethtool tcpdump python3 procps psmisc jq curl
  redis-server redis-tools libjemalloc2
  scdoc man-db groff-base bsdextrautils systemd
  systemd-container mmdebstrap
  # ctest package_dkms: `dkms build` of the module source packaged in tcpfo-dkms
  dkms
)
# Parts add their own lists (the QEMU harness needs qemu and a guest kernel).
here=$(cd "$(dirname "$0")" && pwd)
for extra in "$here"/../vm-images/packages.txt; do
  [ -f "$extra" ] && mapfile -t -O "${#packages[@]}" packages < <(grep -Ev '^\s*(#|$)' "$extra")
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
