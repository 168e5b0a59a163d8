#!/usr/bin/env bash
# Sourced by the failure-free benchmarks (bench.sh, bench-redis.sh): background
# processes in namespaces, killed and reaped at exit with both topologies, and the
# median and ratio of a column of figures. The sourcing script sets $work and calls
# bench_cleanup from its EXIT trap.

bench_pids=()

# in_ns NS LOG CMD...: CMD in the background in NS, its output in LOG.
in_ns() {
    local ns=$1 log=$2
    shift 2
    ip netns exec "$ns" "$@" >"$log" 2>&1 &
    bench_pids+=($!)
}

# wait_for WHAT CMD...: polls CMD for 10 s.
wait_for() {
    local i
    for ((i = 0; i < 1000; i++)); do "${@:2}" && return 0; sleep 0.01; done
    echo "$(basename "$0"): timed out waiting for $1" >&2
    return 1
}

listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }

# bench_cleanup SUFFIX...: kills what in_ns started, removes the topologies and $work.
bench_cleanup() {
    local pid suffix
    for pid in "${bench_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for suffix in "$@"; do topo_down "$suffix"; done
    # TCPFO_BENCH_KEEP=1 keeps the processes' logs (debugging).
    if [ -n "${TCPFO_BENCH_KEEP:-}" ]; then echo "bench: logs kept in ${work:-?}" >&2; else [ -z "${work:-}" ] || rm -rf "$work"; fi
}

# median FILE: of the numbers in FILE, one per line ("n/a" when none).
median() { [ -s "$1" ] && sort -g "$1" | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}' || echo n/a; }
# ratio PLAIN TCPFO: TCPFO / PLAIN to two places.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "n/a" || b == "n/a" || a == 0) print "n/a"; else printf "%.2f\n", b / a}'; }
