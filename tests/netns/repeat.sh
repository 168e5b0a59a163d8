#!/usr/bin/env bash
# Runs one namespace scenario N times, each run in its own process so that a failed run
# does not end the series (TCPFO_REPEAT=N stops at the first failure), and sums up:
# how many passed, and each run's worst client stall (the largest of the stalls the
# scenario prints), median and worst over the passing runs.
#
#   tests/netns/repeat.sh failover_many 20
#   tests/netns/repeat.sh failover_many 20 /tmp/keep    # keep every run's output there
#
# The output of a failed run is kept (its path is printed); passing runs' output only
# with a directory given. Exit status: 0 when every run passed.
set -euo pipefail

netns_dir=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: repeat.sh SCENARIO [RUNS] [KEEP_DIR]}
name=${name%.sh}
runs=${2:-20}
keep=${3:-}
script=$netns_dir/$name.sh
[ -x "$script" ] || { echo "repeat.sh: no scenario $script" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "repeat.sh: RUNS must be a positive integer, got '$runs'" >&2; exit 2; }
logs=${keep:-$(mktemp -d "/tmp/tcpfo-repeat-$name.XXXXXX")}
mkdir -p "$logs"

passed=0
worst=()
failed_runs=()
for ((i = 1; i <= runs; i++)); do
    log=$logs/run-$i.log
    rc=0
    TCPFO_REPEAT=1 "$script" >"$log" 2>&1 || rc=$?
    # "=== NAME: PASS (1 run(s)); client stalls in ms: a=1.0 b=2.5": the run's worst.
    w=$(sed -n 's/.*client stalls in ms: //p' "$log" | tr ' ' '\n' | sed -n 's/.*=\([0-9.]*\)$/\1/p' | sort -g | tail -1)
    dead=$(sed -n 's/.*takeover began \(-\{0,1\}[0-9]*\) ms and completed \(-\{0,1\}[0-9]*\) ms.*/began \1 ms, complete \2 ms/p' "$log" | head -1)
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
        [ -z "$w" ] || worst+=("$w")
        echo "run $i: PASS, worst stall ${w:-(none measured)}${w:+ ms}${dead:+ (takeover: $dead after the crash)}"
        [ -n "$keep" ] || rm -f "$log"
    elif [ $rc = 77 ]; then
        echo "run $i: SKIPPED ($(grep -m1 SKIP "$log" || true))"
        [ -n "$keep" ] || rm -f "$log"
    else
        failed_runs+=("$i")
        echo "run $i: FAILED (exit $rc), output in $log"
        grep -m3 '^FAIL' "$log" | sed 's/^/    /' || true
    fi
done

summary="$name: $passed of $runs passed"
if [ ${#worst[@]} -gt 0 ]; then
    summary+=$(printf '%s\n' "${worst[@]}" | sort -g | awk '{v[NR] = $1} END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "; worst stall per run: median %.1f ms, best %.1f ms, worst %.1f ms", m, v[1], v[NR] }')
fi
[ ${#failed_runs[@]} -eq 0 ] || summary+="; failed: run(s) ${failed_runs[*]}"
echo "=== $summary"
[ -n "$keep" ] || [ ${#failed_runs[@]} -gt 0 ] || rmdir "$logs" 2>/dev/null || true
[ ${#failed_runs[@]} -eq 0 ]
