#!/usr/bin/env bash
# Benchmark (not a test): takeover time against the number of live connections, and
# memory per connection on both nodes.
#
# For each N: N connections through the VIP on the namespace topology of
# tests/netns/lib.sh (N - 1 idle echo connections and one download streaming at
# 1 MB/s, the probe), then a hard crash of the primary. From the backup's log and a
# capture on the client's link (the first segment with data from the VIP sent by the
# backup's MAC address):
#   silence  how long the backup had heard nothing when it decided (detection)
#   claimed  decision -> VIP claimed and announced        (from the takeover line)
#   learned  decision -> clients' positions learned (probe answers)
#   rebuilt  decision -> last socket rebuilt
#   serving  decision -> every connection spliced ("takeover complete ... in X ms")
#   1st byte decision -> first data segment from the backup on the client's link
# and the daemons' memory per idle connection: anonymous RSS growth from none to N
# (heap; the ring buffer's pages are file-backed and excluded), and the BPF map
# entries used (key + value bytes: the primary's conns and stable, the backup's rebuilt
# after the takeover; in parentheses what the kernel preallocates per entry, for all
# 65,536 entries whatever the count).
# Afterwards every idle connection is resumed and verified.
#
# Each run is a child process of its own (topology, daemons, cleanup); a run whose
# backup took over before the crash (a busy shared machine can starve a daemon past
# the 30 ms detection) is retried, up to three times, and counted.
#
#   scripts/bench-takeover.sh [--runs R] [N ...]     (default N: 100 1000 and 10000,
#                                                     or 9000 if the open-file limit caps it)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=1
counts=()
one=
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?--runs needs a number}; shift 2 ;;
        --one) one=${2:?}; shift 2 ;;  # internal: one run with N=$one, its row on stdout
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        [1-9]*) counts+=("$1"); shift ;;
        *) echo "bench-takeover.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench-takeover.sh: --runs expects a positive integer" >&2; exit 2; }
reserve=128
hard=$(ulimit -Hn)
if [ -z "$one" ]; then
    if [ ${#counts[@]} = 0 ]; then
        if [ "$hard" = unlimited ] || [ "$hard" -ge $((reserve + 2 * 10000)) ]; then
            counts=(100 1000 10000)
        else
            counts=(100 1000 9000)
            echo "bench: open-file hard limit $hard caps the backup below 10,000 (2 per connection + $reserve): 9,000" >&2
        fi
    fi
    "$top/scripts/build.sh" >/dev/null
    rows=()
    misfires=0
    for n in "${counts[@]}"; do
        for ((r = 1; r <= runs; r++)); do
            for attempt in 1 2 3; do
                if row=$("$0" --one "$n" 2>"/tmp/tcpfo-bench-takeover-$$.err"); then
                    rows+=("$row")
                    echo "bench: N=$n run $r: $row" >&2
                    grep -h 'page faults' "/tmp/tcpfo-bench-takeover-$$.err" >&2 || true
                    break
                fi
                misfires=$((misfires + 1))
                echo "bench: N=$n run $r attempt $attempt failed: $(grep -m1 FAIL "/tmp/tcpfo-bench-takeover-$$.err" || tail -1 "/tmp/tcpfo-bench-takeover-$$.err")" \
                     "$(grep -m1 -o 'is dead (.*' "/tmp/tcpfo-bench-takeover-$$.err" || true)" >&2
            done
        done
    done
    rm -f "/tmp/tcpfo-bench-takeover-$$.err"
    echo
    echo "| N | rebuilt | heartbeat silence at decision (ms) | decision → VIP claimed (ms) | → positions learned (ms) | → last socket rebuilt (ms) | → all serving (ms) | → first byte served (ms) | primary B/conn (heap + BPF key+value) | backup B/conn (heap + BPF key+value) | idle conns verified after |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo "($misfires failed attempt(s) retried)"
    exit 0
fi

# The namespace scenarios' helpers: topology, daemons, crash, cleanup on exit.
# shellcheck source=../tests/netns/lib.sh
. "$top/tests/netns/lib.sh"
require_failoverd
export TOPO_QUIET=1
say() { :; }  # quiet helpers

rss_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
minor_faults() { awk '{print $10}' "/proc/$1/stat"; }
# Wall-clock ns of the first log line matching PATTERN (failoverd stamps lines with
# seconds.microseconds of CLOCK_REALTIME).
log_time_ns() { grep -m1 "$2" "$work/$1.log" | awk '{split($1, t, "."); printf "%d%06d000\n", t[1], t[2]}'; }
# Key + value bytes of the BPF maps named MAPS (comma-separated) that process PID
# holds (their ids from the descriptors' fdinfo), and the kernel's preallocated bytes
# per entry: "88 (232 in the kernel)".
bpf_bytes_per_conn() {
    local pid=$1 maps=$2 ids
    ids=$(cat /proc/"$pid"/fdinfo/* 2>/dev/null | awk '/^map_id:/ {print $2}' | sort -u | tr '\n' ,)
    bpftool -j map show 2>/dev/null | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1].split(",") if i}
names = sys.argv[2].split(",")
used = kernel = 0
for m in json.load(sys.stdin):
    if m.get("id") in ids and m.get("name") in names:
        used += m["bytes_key"] + m["bytes_value"]
        kernel += m.get("bytes_memlock", 0) // max(1, m.get("max_entries", 1))
print(f"{used} ({kernel} in the kernel)")' "$ids" "$maps"
}

one_run() {
    local n=$1
    setup_run "tk$n" >/dev/null
    local ns
    for ns in "$ns_primary" "$ns_backup"; do
        ip netns exec "$ns" sysctl -qw net.core.somaxconn=16384 net.ipv4.tcp_max_syn_backlog=16384
    done
    p_bg service "$echo_service" --listen 0.0.0.0:$port --max-conns $((n + 100))
    b_bg replica "$echo_service" --listen 0.0.0.0:$port --max-conns $((n + 100))
    wait_until 5 "the echo service on the primary" listening "$ns_primary" $port
    wait_until 5 "the replica on the backup" listening "$ns_backup" $port
    start_failoverd >/dev/null
    local pid_p=${bg_pid[failoverd-primary]} pid_b=${bg_pid[failoverd-backup]} rss_p0 rss_b0
    rss_p0=$(rss_kib "$pid_p") rss_b0=$(rss_kib "$pid_b")

    local idle=$((n - 1))
    if [ $idle -gt 0 ]; then
        c_bg idle "$stream_client" echo --connect $vip:$port --conns $idle --bytes 2K --pause-at 1K \
            --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 900 --label idle
        wait_until 300 "$idle idle connections" progress_at_least "$work/idle.progress" paused 1
    fi
    sleep 2  # the backup gives idle buffers back once a second
    local rss_p1 rss_b1 bpf_p
    rss_p1=$(rss_kib "$pid_p") rss_b1=$(rss_kib "$pid_b")
    bpf_p=$(bpf_bytes_per_conn "$pid_p" conns,stable || echo "?")
    c_bg probe "$stream_client" download --connect $vip:$port --bytes 4M --rate 1 --timeout-s 120 --label probe
    # The first segment carrying data that the backup sends toward the client.
    local backup_mac
    backup_mac=$(ip -n "$ns_backup" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | awk '{print $2}')
    c_bg first tcpdump -i eth0 -n -tt -l -c 1 "ether src $backup_mac and tcp and src host $vip and greater 100"
    wait_until 30 "the capture on the client's link" log_has first 'listening on'
    sleep 0.5
    # TCPFO_BENCH_PERF=FILE: a call-graph profile of the backup through the takeover.
    local perf_pid=
    if [ -n "${TCPFO_BENCH_PERF:-}" ]; then
        # shellcheck disable=SC2086 # TCPFO_BENCH_PERF_ARGS: more perf options (an event)
        perf record -q -g ${TCPFO_BENCH_PERF_ARGS:--F 4999} -p "$pid_b" -o "$TCPFO_BENCH_PERF" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 1
    fi
    local faults0
    faults0=$(minor_faults "$pid_b")
    crash_primary >/dev/null
    wait_until 120 "'takeover complete' from the backup" log_has failoverd-backup 'takeover complete'
    # First touches of fresh memory are expensive on some virtual machines (~30-40 us
    # each on the paravirtualised guests this was measured on): worth seeing.
    echo "bench: N=$n: the backup took $(( $(minor_faults "$pid_b") - faults0 )) page faults from the crash to serving" >&2
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    local line rebuilt reset claimed learned rebuilt_at serving
    line=$(grep -o 'takeover complete: .*' "$work/failoverd-backup.log")
    field() { echo "$line" | grep -o "$1" | grep -o '[0-9]*' | head -1; }
    rebuilt=$(field '[0-9]* connection(s) rebuilt')
    reset=$(field '[0-9]* reset')
    serving=$(field ', in [0-9]* ms')
    claimed=$(field 'VIP claimed at [0-9]* ms')
    learned=$(field 'learned at [0-9]* ms')
    rebuilt_at=$(field 'rebuilt at [0-9]* ms')
    local decided silence served first bpf_b
    bpf_b=$(bpf_bytes_per_conn "$pid_b" rebuilt || echo "?")
    decided=$(log_time_ns failoverd-backup 'is dead')
    silence=$(grep -m1 -o 'no heartbeat for [0-9]* ms' "$work/failoverd-backup.log" | awk '{print $4}' || true)
    if [ $idle -gt 0 ]; then touch "$work/resume"; fi
    wait "${bg_pid[probe]}" || true
    unset "bg_pid[probe]"
    served=$(grep -m1 -o '^[0-9]*\.[0-9]*' "$work/first.log" | awk '{split($1, t, "."); printf "%d%06d000\n", t[1], t[2]}' || true)
    first="?"
    [ -n "$served" ] && first=$(awk -v s="$served" -v d="$decided" 'BEGIN {printf "%.1f", (s - d) / 1e6}')
    local verified="-"
    if [ $idle -gt 0 ]; then
        if wait "${bg_pid[idle]}"; then verified="all $idle"; else verified="FAILED"; fi
        unset "bg_pid[idle]"
    fi
    [ "$rebuilt" = "$n" ] && [ "$verified" != FAILED ] || { echo "FAIL: $line; idle connections: $verified" >&2; return 1; }
    echo "| $n | $rebuilt ($reset reset) | ${silence:-?} | $claimed | $learned | $rebuilt_at | $serving | $first | $(( (rss_p1 - rss_p0) * 1024 / n )) + $bpf_p BPF | $(( (rss_b1 - rss_b0) * 1024 / n )) + $bpf_b BPF after takeover | $verified |"
    teardown_run >/dev/null 2>&1
}

one_run "$one"
