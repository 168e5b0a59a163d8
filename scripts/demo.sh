#!/usr/bin/env bash
# Placeholder until the demo lands: installs and builds.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
