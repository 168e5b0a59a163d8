#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, BPF, namespace, QEMU).
# Must run as root: the tests create network namespaces, attach BPF and boot guests.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "test.sh: must run as root (namespaces, BPF, QEMU)" >&2; exit 1; }
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
build=${TCPFO_BUILD_DIR:-$top/build}
ctest --test-dir "$build" --output-on-failure "$@"
