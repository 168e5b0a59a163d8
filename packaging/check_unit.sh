#!/usr/bin/env bash
# check_unit.sh UNIT FAILOVERD: `systemd-analyze verify` finds nothing wrong with the
# unit file, with its /usr/sbin/failoverd pointed at the build's binary (verify checks
# that the programs it names exist).
set -euo pipefail
unit=$1 failoverd=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/sbin/failoverd|$failoverd|g" "$unit" >"$dir/$(basename "$unit")"
out=$(systemd-analyze verify --man=no "$dir/$(basename "$unit")" 2>&1) || { echo "FAIL: $out"; exit 1; }
# verify exits 0 on some warnings; any line about the unit is a finding.
if grep -q "$(basename "$unit")" <<<"$out"; then echo "FAIL: $out"; exit 1; fi
echo "ok: $(basename "$unit")${out:+ (other output: $out)}"
