#!/usr/bin/env bash
# Benchmark (not a test): Debian's redis-server through the VIP, plain against redis
# under tcpfo-run with failoverd on primary and backup (the replica replaying on the
# backup), redis-benchmark (Debian's redis-tools) from the client, on the same machine
# in the same run.
#
#   plain topology (suffix rp-PID):  client ── br0 ── primary + VIP by hand, redis-server
#   tcpfo topology (suffix rf-PID):  client ── br0 ── primary: tcpfo-run -- redis-server,
#                                                 │            failoverd (records, gates output)
#                                                 └── backup:  tcpfo-run -- redis-server
#                                                              (the replica), failoverd
#
# redis runs as in tests/netns/failover_redis.sh: `--save '' --appendonly no`, port
# 7000. Each round runs `redis-benchmark -c 50 -P P -t set,get,incr --csv` with P = 1
# and P = 16 on both sides, alternating plain and tcpfo so that background noise lands
# on both alike; the tables give the median over the rounds of requests per second and
# of the p50 and p99 latency, and tcpfo / plain.
#
#   scripts/bench-redis.sh [--runs N] [--requests N] [--append docs/performance.md]
#
# --requests is per test at -P 1 (default 100,000); -P 16 runs five times as many.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${TCPFO_BUILD_DIR:-$top/build}
runs=3
requests=100000
append=
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --requests) requests=${2:?--requests needs a number}; shift 2 ;;
        --append) append=${2:?--append needs a file}; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "bench-redis.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-redis.sh: --runs expects a positive integer" >&2; exit 2; }
[[ $requests =~ ^[1-9][0-9]*$ ]] || { echo "bench-redis.sh: --requests expects a positive integer" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-redis.sh: must run as root (network namespaces, BPF)" >&2; exit 1; }
redis_server=$(command -v redis-server || true)
redis_benchmark=$(command -v redis-benchmark || true)
[ -n "$redis_server" ] && [ -n "$redis_benchmark" ] ||
    { echo "bench-redis.sh: redis-server and redis-benchmark are needed: run scripts/install-deps.sh" >&2; exit 1; }
"$top/scripts/build.sh" >/dev/null

# shellcheck source=topology.sh
. "$top/scripts/topology.sh"
# shellcheck source=bench-lib.sh
. "$top/scripts/bench-lib.sh"
export TOPO_QUIET=1
failoverd=$build/userd/failoverd
tcpfo_run=$build/replay/preload/tcpfo-run
vip=192.0.2.100
port=7000
redis=("$redis_server" --port $port --bind 0.0.0.0 --save '' --appendonly no --protected-mode no --daemonize no)
work=$(mktemp -d /tmp/tcpfo-bench-redis-$$.XXXXXX)
trap 'bench_cleanup rp-$$ rf-$$' EXIT
trap 'exit 130' INT TERM

echo "bench: plain topology" >&2
topo_up rp-$$ primary
plain_client=$ns_client
in_ns "$ns_primary" "$work/plain-redis.log" "${redis[@]}"
wait_for "plain redis" listening "$ns_primary" $port

echo "bench: tcpfo topology" >&2
topo_up rf-$$
tcpfo_client=$ns_client
tcpfo_primary=$ns_primary
tcpfo_backup=$ns_backup
in_ns "$ns_primary" "$work/tcpfo-redis.log" "$tcpfo_run" --control "$work/primary.sock" --wait-s 30 -- "${redis[@]}"
in_ns "$ns_backup" "$work/tcpfo-replica.log" "$tcpfo_run" --control "$work/backup.sock" --wait-s 30 -- "${redis[@]}"
in_ns "$ns_backup" "$work/failoverd-backup.log" "$failoverd" --role backup --vip $vip/24 --dev eth0 \
    --port $port --listen 192.0.2.11:7100 --peer 192.0.2.10:7100 --replica 127.0.0.1:$port \
    --ready-file "$work/backup.ready" --control "$work/backup.sock"
wait_for "failoverd on the backup" listening "$ns_backup" 7100
in_ns "$ns_primary" "$work/failoverd-primary.log" "$failoverd" --role primary --vip $vip/24 --dev eth0 \
    --port $port --listen 192.0.2.10:7100 --peer 192.0.2.11:7100 --ready-file "$work/primary.ready" \
    --control "$work/primary.sock"
wait_for "failoverd ready (primary)" test -e "$work/primary.ready"
wait_for "failoverd ready (backup)" test -e "$work/backup.ready"
wait_for "redis under tcpfo-run (primary)" listening "$tcpfo_primary" $port
wait_for "redis under tcpfo-run (backup)" listening "$tcpfo_backup" $port

# service_in_step: the primary records with a backup holding its log, the backup's
# replica replays and was never refused: the figures are tcpfo's only then.
service_in_step() {
    local primary backup
    primary=$("$build/userd/failoverctl" --control "$work/primary.sock" status | jq -c .service)
    backup=$("$build/userd/failoverctl" --control "$work/backup.sock" status | jq -c .service)
    jq -e '.mode == "record" and .open == true and .holders >= 1' >/dev/null <<<"$primary" &&
        jq -e '.mode == "replay" and .open == true and (.refused // "") == ""' >/dev/null <<<"$backup" && return 0
    echo "bench-redis.sh: the service was not recorded and replayed in step: primary $primary, backup $backup" >&2
    return 1
}
service_in_step

# measure SIDE PIPELINE: one redis-benchmark run; appends each test's figures to
# $work/SIDE-P-TEST.{rps,p50,p99}.
measure() {
    local side=$1 pipeline=$2 ns=$plain_client n=$requests out test rps p50 p99
    [ "$side" = tcpfo ] && ns=$tcpfo_client
    [ "$pipeline" = 1 ] || n=$((requests * 5))
    out=$(ip netns exec "$ns" "$redis_benchmark" -h $vip -p $port -c 50 -n "$n" -P "$pipeline" -t set,get,incr --csv)
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    while IFS=, read -r test rps _ _ p50 _ p99 _; do
        test=${test//\"/}
        case $test in SET|GET|INCR) ;; *) continue ;; esac
        rps=${rps//\"/} p50=${p50//\"/} p99=${p99//\"/}
        echo "  $side -P $pipeline $test: $rps req/s, p50 $p50 ms, p99 $p99 ms" >&2
        echo "$rps" >>"$work/$side-$pipeline-$test.rps"
        awk -v v="$p50" 'BEGIN {print v * 1000}' >>"$work/$side-$pipeline-$test.p50"
        awk -v v="$p99" 'BEGIN {print v * 1000}' >>"$work/$side-$pipeline-$test.p99"
    done <<<"$out"
}

for ((r = 1; r <= runs; r++)); do
    echo "bench: round $r of $runs" >&2
    for pipeline in 1 16; do
        for side in plain tcpfo; do measure "$side" "$pipeline"; done
    done
done
service_in_step

row() {  # PIPELINE TEST
    local plain tcpfo cells=""
    for m in rps p50 p99; do
        plain=$(median "$work/plain-$1-$2.$m")
        tcpfo=$(median "$work/tcpfo-$1-$2.$m")
        cells+=" $plain | $tcpfo | $(ratio "$plain" "$tcpfo") |"
    done
    echo "| $2 | $1 |$cells"
}

table=$(
    echo "### redis through the VIP: plain against tcpfo-run with failoverd"
    echo
    echo "\`scripts/bench-redis.sh --runs $runs --requests $requests\`, $(date -u +%Y-%m-%d), kernel $(uname -r)," \
         "$(nproc) cores, $("$redis_server" --version | grep -o 'v=[0-9.]*'); median of $runs interleaved rounds per cell;" \
         "\`redis-benchmark -c 50 -P P -t set,get,incr\`, $requests requests per test at -P 1, $((requests * 5)) at -P 16." \
         "\"plain\": redis on the primary with the VIP added by hand; \"tcpfo\": redis under tcpfo-run on primary" \
         "(recorded, output gated) and backup (the replica, replaying), failoverd on both. Latency in µs."
    echo
    echo "| test | -P | plain req/s | tcpfo req/s | ratio | plain p50 | tcpfo p50 | ratio | plain p99 | tcpfo p99 | ratio |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    for pipeline in 1 16; do
        for test in SET GET INCR; do row $pipeline $test; done
    done
)
echo "$table"
if [ -n "$append" ]; then
    printf '\n%s\n' "$table" >>"$append"
    echo "bench-redis.sh: appended to $append" >&2
fi
