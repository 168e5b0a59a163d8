#!/usr/bin/env bash
# Runs every namespace scenario RUNS times in a row (repeat.sh each), optionally with
# a CPU hog pinned to one core beside them (a slower machine), and prints one summary
# line per scenario: how many passed, and the per-run worst client stall (median,
# best, worst). Exit status 0 only if every run of every scenario passed.
#
#   tests/netns/soak.sh 20                # this machine as it is
#   tests/netns/soak.sh --hog 20          # with `taskset -c 1` busy loop beside
#   tests/netns/soak.sh 20 failover_many failover_stream     # only these
#   TCPFO_SOAK_KEEP=/tmp/keep tests/netns/soak.sh 20 handover  # every run's output kept
#
# failover_idle_many (9,000 connections, a minute a run) runs min(RUNS, 3) times
# unless named explicitly. Failed runs' logs are kept (repeat.sh prints where).
set -euo pipefail
netns_dir=$(cd "$(dirname "$0")" && pwd)
hog=
if [ "${1:-}" = --hog ]; then hog=1; shift; fi
runs=${1:?usage: soak.sh [--hog] RUNS [SCENARIO...]}
shift
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: RUNS must be a positive integer, got '$runs'" >&2; exit 2; }
scenarios=("$@")
if [ ${#scenarios[@]} = 0 ]; then
    for f in "$netns_dir"/*.sh; do
        name=$(basename "$f" .sh)
        case $name in lib|roles_lib|repeat|soak) continue ;; esac
        scenarios+=("$name")
    done
    explicit=
else
    explicit=1
fi

hog_pid=
stop_hog() { [ -z "$hog_pid" ] || kill "$hog_pid" 2>/dev/null || true; }
trap stop_hog EXIT
trap 'exit 1' INT TERM
if [ -n "$hog" ]; then
    taskset -c 1 sh -c 'while :; do :; done' &
    hog_pid=$!
    echo "soak: CPU hog on core 1 (pid $hog_pid)"
fi

failed=0
summary=()
for name in "${scenarios[@]}"; do
    n=$runs
    if [ "$name" = failover_idle_many ] && [ -z "$explicit" ] && [ "$n" -gt 3 ]; then n=3; fi
    # -a: /dev/stderr may be a file, which a plain tee would truncate.
    # TCPFO_SOAK_KEEP=DIR keeps every run's output, passing ones too, in DIR/NAME.
    line=$("$netns_dir/repeat.sh" "$name" "$n" ${TCPFO_SOAK_KEEP:+"$TCPFO_SOAK_KEEP/$name"} 2>&1 |
        tee -a /dev/stderr | tail -1) || failed=1
    summary+=("$line")
done
echo
echo "soak: $runs run(s) each${hog:+, with a CPU hog on core 1}:"
printf '%s\n' "${summary[@]}"
exit $failed
