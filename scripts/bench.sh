#!/usr/bin/env bash
# Benchmark (not a test): failure-free throughput and latency through the VIP, with
# failoverd running, against plain TCP on the same topology in the same run.
#
#   plain topology (suffix bp-PID):  client ── br0 ── primary + VIP by hand, echo service
#   tcpfo topology (suffix bf-PID):  client ── br0 ── primary (failoverd claims the VIP)
#                                                 └── backup (replica, failoverd)
#
# Both topologies exist at once; runs alternate between them (plain, tcpfo, plain, ...)
# so that background noise lands on both sides alike. Reports medians and ratios as a
# markdown table.
#
#   scripts/bench.sh [--runs N] [--bytes SIZE] [--append docs/performance.md]
#
# Without build/userd/failoverd it measures plain TCP only and says so.
# TCPFO_BENCH_DAEMON_ARGS: extra words for both failoverd command lines (split on
# spaces), e.g. '--rt-priority 0'.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${TCPFO_BUILD_DIR:-$top/build}
runs=5
bytes=256M
rr_count=5000
append=
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --bytes) bytes=${2:?--bytes needs a size}; shift 2 ;;
        --append) append=${2:?--append needs a file}; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs expects a positive integer" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench.sh: must run as root (network namespaces, BPF)" >&2; exit 1; }
"$top/scripts/build.sh" >/dev/null

# shellcheck source=topology.sh
. "$top/scripts/topology.sh"
export TOPO_QUIET=1
echo_service=$build/tests/tools/tcpfo-echo-service
stream_client=$build/tests/tools/tcpfo-stream-client
failoverd=$build/userd/failoverd
vip=192.0.2.100
port=7000
with_tcpfo=1
[ -x "$failoverd" ] || { with_tcpfo=0; echo "bench.sh: $failoverd not built: measuring plain TCP only" >&2; }

# shellcheck source=bench-lib.sh
. "$top/scripts/bench-lib.sh"
work=$(mktemp -d /tmp/tcpfo-bench-$$.XXXXXX)
trap 'bench_cleanup bp-$$ bf-$$' EXIT
trap 'exit 130' INT TERM

echo "bench: plain topology" >&2
topo_up bp-$$ primary
plain_client=$ns_client
in_ns "$ns_primary" "$work/plain-service.log" "$echo_service" --listen 0.0.0.0:$port
wait_for "plain echo service" listening "$ns_primary" $port

if [ $with_tcpfo = 1 ]; then
    echo "bench: tcpfo topology" >&2
    topo_up bf-$$
    tcpfo_client=$ns_client
    in_ns "$ns_primary" "$work/tcpfo-service.log" "$echo_service" --listen 0.0.0.0:$port
    in_ns "$ns_backup" "$work/tcpfo-replica.log" "$echo_service" --listen 0.0.0.0:$port
    wait_for "echo service" listening "$ns_primary" $port
    wait_for "replica" listening "$ns_backup" $port
    in_ns "$ns_backup" "$work/failoverd-backup.log" "$failoverd" --role backup --vip $vip/24 --dev eth0 \
        --port $port --listen 192.0.2.11:7100 --peer 192.0.2.10:7100 --replica 127.0.0.1:$port \
        --ready-file "$work/backup.ready" --control "$work/backup.sock" ${TCPFO_BENCH_DAEMON_ARGS:-}
    wait_for "failoverd on the backup" listening "$ns_backup" 7100
    in_ns "$ns_primary" "$work/failoverd-primary.log" "$failoverd" --role primary --vip $vip/24 --dev eth0 \
        --port $port --listen 192.0.2.10:7100 --peer 192.0.2.11:7100 --ready-file "$work/primary.ready" \
        --control "$work/primary.sock" ${TCPFO_BENCH_DAEMON_ARGS:-}
    wait_for "failoverd ready (primary)" test -e "$work/primary.ready"
    wait_for "failoverd ready (backup)" test -e "$work/backup.ready"
fi

# measure SIDE KIND: runs one client, appends the figure to $work/SIDE-KIND(.p50/.p99).
measure() {
    local side=$1 kind=$2 ns out
    ns=$plain_client
    [ "$side" = tcpfo ] && ns=$tcpfo_client
    case $kind in
        upload) out=$(ip netns exec "$ns" "$stream_client" upload --connect $vip:$port --bytes "$bytes" --timeout-s 120 --label "$side") ;;
        download) out=$(ip netns exec "$ns" "$stream_client" download --connect $vip:$port --bytes "$bytes" --timeout-s 120 --label "$side") ;;
        rr) out=$(ip netns exec "$ns" "$stream_client" rr --connect $vip:$port --count $rr_count --timeout-s 120 --label "$side") ;;
    esac
    echo "  $out" >&2
    case $kind in
        upload) sed -n 's/.* up_MBps=\([0-9.]*\).*/\1/p' <<<"$out" >>"$work/$side-upload" ;;
        download) sed -n 's/.* down_MBps=\([0-9.]*\).*/\1/p' <<<"$out" >>"$work/$side-download" ;;
        rr) sed -n 's/.* rr_p50_us=\([0-9.]*\).*/\1/p' <<<"$out" >>"$work/$side-rr.p50"
            sed -n 's/.* rr_p99_us=\([0-9.]*\).*/\1/p' <<<"$out" >>"$work/$side-rr.p99" ;;
    esac
}

sides=(plain)
[ $with_tcpfo = 1 ] && sides+=(tcpfo)
for ((r = 1; r <= runs; r++)); do
    echo "bench: round $r of $runs" >&2
    for kind in upload download rr; do
        for side in "${sides[@]}"; do measure "$side" "$kind"; done
    done
done

row() {  # LABEL FILE-SUFFIX
    local plain tcpfo=n/a
    plain=$(median "$work/plain-$2")
    [ $with_tcpfo = 1 ] && tcpfo=$(median "$work/tcpfo-$2")
    echo "| $1 | $plain | $tcpfo | $(ratio "$plain" "$tcpfo") |"
}

table=$(
    echo "### Failure-free throughput and latency through the VIP"
    echo
    echo "\`scripts/bench.sh\`, $(date -u +%Y-%m-%d), kernel $(uname -r), $(nproc) cores;" \
         "median of $runs interleaved runs per cell; one connection, $bytes per throughput run," \
         "$rr_count requests of 64 bytes for latency. \"plain\": the same echo service with the VIP" \
         "added by hand, no failoverd; \"tcpfo\": failoverd on primary and backup, replica on the backup."
    echo
    echo "| measure | plain TCP | tcpfo | tcpfo / plain |"
    echo "|---|---|---|---|"
    row "upload, client→server (MB/s)" upload
    row "download, server→client (MB/s)" download
    row "request/response p50 (µs)" rr.p50
    row "request/response p99 (µs)" rr.p99
)
echo "$table"
if [ -n "$append" ]; then
    printf '\n%s\n' "$table" >>"$append"
    echo "bench.sh: appended to $append" >&2
fi
