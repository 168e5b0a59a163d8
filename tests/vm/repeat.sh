#!/usr/bin/env bash
# Runs guest scenarios several times in a row, each until its first failure:
#
#   tests/vm/repeat.sh [-n RUNS] [-i IMAGE_DIR] [-k] SCENARIO[.kmod] ...
#   tests/vm/repeat.sh -n 10 failover_freeze failover_freeze.kmod
#
# SCENARIO is a file of tests/vm/scenarios/ (as in ctest's vm.<name>); a .kmod suffix
# runs it with the kernel-module backend (ctest's vm.<name>.kmod). Each run is one
# tests/vm/run_scenario.py (which cleans up its guests and namespace, also on failure);
# its PASS line is printed with what it measured, and a failed run's whole output is
# kept in the printed file. At the end one line per scenario: passed/ran. Exit 0 when every run passed.
# -k: on a failure, go on with the next scenario instead of stopping (the default
# stops at the first failure).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runs=10 image=$here/../../build/vm-images/guest keep_going=
while getopts n:i:k opt; do
    case $opt in
        n) runs=$OPTARG ;;
        i) image=$OPTARG ;;
        k) keep_going=1 ;;
        *) echo "usage: $0 [-n RUNS] [-i IMAGE_DIR] [-k] SCENARIO[.kmod] ..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "$0: name at least one scenario (e.g. failover_freeze.kmod)" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "$0: -n wants a positive count, not '$runs'" >&2; exit 2; }
[ -d "$image" ] || { echo "$0: no guest image at $image: build first (scripts/build.sh)" >&2; exit 2; }

logdir=$(mktemp -d /tmp/tcpfo-vm-repeat.XXXXXX)
summary=() failed=0
for name in "$@"; do
    scenario=${name%.kmod} backend=()
    [ "$scenario" = "$name" ] || backend=(--backend kmod)
    passed=0 ran=0
    for ((i = 1; i <= runs; i++)); do
        ran=$i
        log=$logdir/$name.$i.log
        started=$(date +%s)
        if python3 "$here/run_scenario.py" --image "$image" --timeout 150 "${backend[@]}" "$scenario" >"$log" 2>&1; then
            passed=$((passed + 1))
            echo "$(date -u +%H:%M:%S) $name run $i/$runs: $(grep -m1 '^PASS ' "$log")"
            # What the scenario measured (the takeover, the client's stall, what a
            # thawed primary sent), indented under its PASS line.
            grep -E '^(takeover|after its)' "$log" | sed 's/^/    /'
            rm -f "$log"
        else
            failed=1
            echo "$(date -u +%H:%M:%S) $name run $i/$runs: $(grep -m1 '^FAIL ' "$log" || echo "FAIL (no FAIL line, exit after $(($(date +%s) - started)) s)")"
            echo "  whole output: $log"
            break
        fi
    done
    summary+=("$name: $passed/$ran passed")
    if [ "$failed" = 1 ] && [ -z "$keep_going" ]; then break; fi
done
printf '%s\n' "${summary[@]}"
rmdir "$logdir" 2>/dev/null || true
exit "$failed"
