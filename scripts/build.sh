#!/usr/bin/env bash
# Configures and builds into ./build (or $TCPFO_BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${TCPFO_BUILD_DIR:-$top/build}
# Everything: the product, the tests, the kernel module and the QEMU test guests (the
# last two fetch Debian's cloud kernel into the build tree on first use).
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTCPFO_TESTS=ON -DTCPFO_KMOD=ON \
      -DTCPFO_GUEST_IMAGES=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
