#!/usr/bin/env bash
# failoverd --metrics: both nodes scraped (GET /metrics, Prometheus text) before and
# after a hard crash of the primary; the takeover shows in the backup's metrics.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service, failoverd --metrics 127.0.0.1:9100
#                                  └── backup 192.0.2.11: replica, failoverd --metrics 127.0.0.1:9100
#
# 1. Ten connections move 128 KiB each way and pause. The primary's metrics: role
#    primary, epoch 1, its backup up, ten connections protected, none unprotected,
#    replication records and bytes sent (at least what the clients sent), hook
#    counters present and non-zero (events, ACKs clamped), no ring drops. The
#    backup's: role backup, ten connections protected, records and bytes received,
#    no takeover yet. Both agree with `failoverctl status` (the same source).
#    The primary's lag in time for its backup: 0 while idle, at most 1 s while two
#    more connections stream with the backup healthy, and growing (at least 100 ms)
#    while the backup's failoverd is stopped (SIGSTOP, at most 2 s), then back to 0
#    once they are done. The daemons run with --dead-after 30, so that the primary
#    drops a silent backup after 3 s rather than 300 ms: a scrape on this machine can
#    take half a second, and the backup must stay stopped while one is taken (the
#    takeover, after 300 ms of silence, still comes well within its wait).
# 2. Hard crash of the primary, takeover of the ten. The backup's metrics: role
#    taken-over-primary (and backup 0), epoch 2, one takeover, ten connections
#    rebuilt and spliced, none reset, the primary's stream down, a takeover duration.
# 3. The endpoint: 404 elsewhere, the content type; refusals of a bad --metrics value
#    (exit 2) and of a port in use (exit 1), each one line.
. "$(dirname "$0")/lib.sh"
require_failoverd
command -v curl >/dev/null || { echo "FAIL: curl is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }

metrics_at=127.0.0.1:9100

# scrape NODE: NODE's metrics, from inside its namespace (curl fails on a non-200).
scrape() {
    local ns
    case $1 in primary) ns=$ns_primary ;; backup) ns=$ns_backup ;; esac
    ip netns exec "$ns" curl -sf --max-time 5 "http://$metrics_at/metrics"
}
# value TEXT SERIES: the value of SERIES ("name" or "name{labels}") in TEXT; empty if absent.
value() { awk -v s="$2" '$1 == s {print $2; exit}' <<<"$1"; }
# primary_lag: the primary's tcpfo_replication_lag_seconds for its backup; empty if absent.
primary_lag() {
    local m
    m=$(scrape primary) && value "$m" "tcpfo_replication_lag_seconds{peer=\"$backup_ip:$replication_port\"}"
}
# lag_at_most SECONDS: the primary's lag for its backup is at most SECONDS.
lag_at_most() { local g; g=$(primary_lag) && [ -n "$g" ] && awk -v g="$g" -v w="$1" 'BEGIN {exit !(g <= w)}'; }
# expect TEXT NODE SERIES OP NUMBER: the series is present and compares as asked
# (awk's ==, >, >=, <=), or the scenario fails naming the node and the series.
expect() {
    local text=$1 node=$2 series=$3 op=$4 want=$5 got
    got=$(value "$text" "$series")
    if [ -z "$got" ] || ! awk -v g="$got" -v w="$want" "BEGIN {exit !(g $op w)}"; then
        echo "FAIL: $node: $series is '${got:-absent}', expected $op $want" >&2
        return 1
    fi
    echo "  $node: $series $got"
}

primary_settled() {
    node_status primary | jq -e '.role == "primary" and .peers[0].state == "live" and .connection_count == 10
           and ([.connections[] | select(.protected and .client_bytes.forwarded >= 131072
                 and .client_bytes.stable == .client_bytes.forwarded)] | length) == 10' >/dev/null
}
backup_settled() {
    node_status backup | jq -e '.role == "backup" and .peers[0].state == "live" and .connection_count == 10
           and ([.connections[] | select(.protected and .client_bytes.logged >= 131072)] | length) == 10' >/dev/null
}

# expect_no_lag_series TEXT NODE: the lag in time is the primary's figure only.
expect_no_lag_series() {
    if grep -q '^tcpfo_replication_lag_seconds' <<<"$1"; then
        echo "FAIL: $2: exports tcpfo_replication_lag_seconds, a primary's figure" >&2
        return 1
    fi
}

scenario() {
    start_services
    TCPFO_DAEMON_ARGS="--metrics $metrics_at --dead-after 30" start_failoverd
    grep -q "metrics: serving http://$metrics_at/metrics" "$work/failoverd-primary.log" ||
        { echo "FAIL: the primary did not say where it serves its metrics" >&2; return 1; }

    echo "=== 1. ten connections, paused: both nodes scraped"
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 10 --bytes 256K --pause-at 128K \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 60 --label idle
    wait_until 30 "all ten connections idle" progress_at_least "$work/idle.progress" paused 1
    wait_until 10 "the primary's status: ten protected connections, acknowledged" primary_settled
    wait_until 10 "the backup's status: ten connections logged" backup_settled

    local m peer_b="{peer=\"$backup_ip:$replication_port\"}" peer_p="{peer=\"$primary_ip:$replication_port\"}"
    m=$(scrape primary) || { echo "FAIL: no metrics from the primary" >&2; return 1; }
    printf '%s\n' "$m" >"$work/primary-before.prom"
    expect "$m" primary 'tcpfo_role{role="primary"}' == 1
    expect "$m" primary 'tcpfo_role{role="backup"}' == 0
    expect "$m" primary tcpfo_epoch == 1
    expect "$m" primary "tcpfo_peer_up$peer_b" == 1
    expect "$m" primary tcpfo_connections_protected == 10
    expect "$m" primary tcpfo_connections_unprotected_total == 0
    expect "$m" primary "tcpfo_replication_sent_records_total$peer_b" '>=' 10
    expect "$m" primary "tcpfo_replication_sent_bytes_total$peer_b" '>=' $((10 * 131072))
    expect "$m" primary "tcpfo_replication_received_records_total$peer_b" '>' 0
    expect "$m" primary "tcpfo_replication_lag_bytes$peer_b" == 0
    expect "$m" primary "tcpfo_replication_lag_seconds$peer_b" == 0
    expect "$m" primary tcpfo_stable_point_lag_bytes == 0
    expect "$m" primary tcpfo_hook_events_total '>' 0
    expect "$m" primary tcpfo_hook_acks_clamped_total '>' 0
    expect "$m" primary tcpfo_hook_ring_drops_total == 0
    # The same source as failoverctl status: the figures agree.
    [ "$(value "$m" tcpfo_hook_events_total)" -le "$(node_status primary | jq .hooks.events)" ] ||
        { echo "FAIL: the primary's metrics count more hook events than its later status" >&2; return 1; }

    m=$(scrape backup) || { echo "FAIL: no metrics from the backup" >&2; return 1; }
    printf '%s\n' "$m" >"$work/backup-before.prom"
    expect "$m" backup 'tcpfo_role{role="backup"}' == 1
    expect "$m" backup 'tcpfo_role{role="taken-over-primary"}' == 0
    expect "$m" backup tcpfo_epoch == 1
    expect "$m" backup tcpfo_takeovers_total == 0
    expect "$m" backup tcpfo_connections_protected == 10
    expect "$m" backup tcpfo_connections_unprotected == 0
    expect "$m" backup "tcpfo_peer_up$peer_p" == 1
    expect "$m" backup "tcpfo_replication_received_bytes_total$peer_p" '>=' $((10 * 131072))
    expect "$m" backup "tcpfo_replication_sent_records_total$peer_p" '>' 0
    expect "$m" backup tcpfo_output_divergences_total == 0
    expect_no_lag_series "$m" backup

    echo "=== 1b. the primary's lag in time while two more connections stream"
    c_bg lag "$stream_client" echo --connect $vip:$port --conns 2 --bytes 16M --rate 2 \
        --progress-file "$work/lag.progress" --timeout-s 90 --label lag
    wait_until 30 "the streaming connections under way" progress_at_least "$work/lag.progress" sent $((256 << 10))
    m=$(scrape primary) || { echo "FAIL: no metrics from the primary while streaming" >&2; return 1; }
    expect "$m" primary "tcpfo_replication_lag_seconds$peer_b" '<=' 1
    local lag_ms
    lag_ms=$(node_status primary | jq '.peers[0].lag_ms')
    [ -n "$lag_ms" ] && [ "$lag_ms" != null ] && [ "$lag_ms" -le 1000 ] ||
        { echo "FAIL: the primary's status says lag_ms '$lag_ms' for its healthy backup" >&2; return 1; }
    echo "  primary: status lag_ms $lag_ms"
    # The backup's failoverd stopped: what the primary forwards waits. Scraped until
    # the lag shows it (a scrape is a snapshot: the one that shows it is kept); woken
    # after 1.5 s of trying, and at 2 s whatever happens (a guard in the background):
    # the primary drops a backup silent for 3 s, and then its lag restarts from 0.
    local b=${bg_pid[failoverd-backup]} guard stopped_at got='' elapsed
    kill -STOP "$b"
    stopped_at=${EPOCHREALTIME/./}
    (sleep 2; kill -CONT "$b") &
    guard=$!
    while :; do
        got=$(primary_lag) || got=''
        awk -v g="${got:-0}" 'BEGIN {exit !(g >= 0.1)}' && break
        [ $((${EPOCHREALTIME/./} - stopped_at)) -lt 1500000 ] || break
    done
    kill -CONT "$b"
    elapsed=$((${EPOCHREALTIME/./} - stopped_at))
    wait "$guard" || true
    awk -v g="${got:-0}" 'BEGIN {exit !(g >= 0.1)}' ||
        { echo "FAIL: primary: lag '${got:-absent}' s with its backup stopped (woken after $((elapsed / 1000)) ms), expected >= 0.1" >&2; return 1; }
    echo "  primary: lag $got s with the backup stopped (woken after $((elapsed / 1000)) ms)"
    wait_until 20 "the primary's lag back under 1 s once the backup runs again" lag_at_most 1
    finish_client lag
    wait_until 10 "the primary's status: back to the ten idle connections, acknowledged" primary_settled
    m=$(scrape primary) || { echo "FAIL: no metrics from the primary after streaming" >&2; return 1; }
    expect "$m" primary "tcpfo_peer_up$peer_b" == 1
    expect "$m" primary tcpfo_connections_unprotected_total == 0
    expect "$m" primary "tcpfo_replication_lag_bytes$peer_b" == 0
    expect "$m" primary "tcpfo_replication_lag_seconds$peer_b" == 0

    crash_primary
    wait_takeover 10

    echo "=== 2. the backup's metrics after the takeover"
    m=$(scrape backup) || { echo "FAIL: no metrics from the backup after the takeover" >&2; return 1; }
    printf '%s\n' "$m" >"$work/backup-after.prom"
    expect "$m" backup 'tcpfo_role{role="taken-over-primary"}' == 1
    expect "$m" backup 'tcpfo_role{role="backup"}' == 0
    expect "$m" backup tcpfo_epoch == 2
    expect "$m" backup tcpfo_takeovers_total == 1
    expect "$m" backup tcpfo_connections_rebuilt_total == 10
    expect "$m" backup 'tcpfo_connections_reset_total{reason="diverged"}' == 0
    expect "$m" backup 'tcpfo_connections_reset_total{reason="other"}' == 0
    expect "$m" backup tcpfo_connections_spliced == 10
    expect "$m" backup tcpfo_connections_protected == 0
    expect "$m" backup "tcpfo_peer_up$peer_p" == 0
    expect "$m" backup tcpfo_takeover_duration_seconds '>' 0
    touch "$work/resume"
    finish_client idle

    echo "=== 3. the endpoint, and refusals"
    local reply
    reply=$(ip netns exec "$ns_backup" curl -s -o /dev/null -w '%{http_code} %{content_type}' "http://$metrics_at/metrics")
    [ "$reply" = "200 text/plain; version=0.0.4; charset=utf-8" ] || { echo "FAIL: /metrics answered '$reply'" >&2; return 1; }
    reply=$(ip netns exec "$ns_backup" curl -s -o /dev/null -w '%{http_code}' "http://$metrics_at/")
    [ "$reply" = 404 ] || { echo "FAIL: / answered $reply, not 404" >&2; return 1; }
    echo "  /metrics: 200 with the text format's content type; /: 404"
    local backup_args=(--role backup --vip $vip/24 --dev eth0 --port $port --listen $primary_ip:7200
        --peer $backup_ip:7200 --replica 127.0.0.1:$port)
    expect_refusal 2 "--metrics: '127.0.0.1' needs a port" "$ns_primary" "${backup_args[@]}" \
        --control "$work/refused.sock" --metrics 127.0.0.1
    # The backup's failoverd holds the port in its namespace: refused before the node
    # starts (nothing of the live node is touched).
    expect_refusal 1 "metrics $metrics_at: can't bind: Address already in use" "$ns_backup" "${backup_args[@]}" \
        --control "$work/refused.sock" --metrics $metrics_at
    scrape backup >/dev/null || { echo "FAIL: the live backup's metrics went away" >&2; return 1; }
}

run_scenario metrics
