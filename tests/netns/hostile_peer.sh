#!/usr/bin/env bash
# A hostile host on the segment against two failoverd sharing a key: forged, replayed,
# foreign-key and garbage heartbeats and replication streams, while a client streams
# 32 MiB each way through the VIP. Nothing of it may count: no takeover (roles and
# epoch unchanged), both daemons alive, every byte of the stream verified, and one log
# line per source and kind of attack (DropLog), not one per datagram.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo :7000, failoverd --key-file key
#    (also the attacker)            └── backup 192.0.2.11: replica :7000, failoverd --key-file key
#
# 1. Before the primary's failoverd starts, a process on the primary's address (the
#    only one the backup takes a stream from) opens replication streams to the backup:
#    with another key, as a recording of an earlier session under the right key, and
#    with garbage. The backup closes each, logs one line each, and waits on. Then one
#    that connects and says nothing: the real primary's stream replaces it.
# 2. Both daemons up, the client streaming: from the client's namespace, 200 each of
#    heartbeats sealed with another key, with a made-up tag under the right key's id,
#    replayed (the right key, counters from long ago), and garbage, all claiming the
#    primary's address (IP_TRANSPARENT) toward the backup; wrong-key heartbeats claiming
#    the backup's address toward the primary; garbage from the client's own address to
#    both heartbeat ports and to the backup's replication port.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

hostile=$build/tests/tools/tcpfo-hostile-peer
[ -x "$hostile" ] || { echo "$(basename "$0"): $hostile is missing: run scripts/build.sh first" >&2; exit 1; }

# lines_matching NODE PATTERN: how many lines of NODE's failoverd log match (extended regex).
lines_matching() { grep -cE "$2" "$work/failoverd-$1.log" || true; }

# expect_one_line NODE SUBJECT SOURCE KIND: exactly one DropLog line for it.
expect_one_line() {
    local node=$1 subject=$2 source=$3 kind=$4 n
    n=$(lines_matching "$node" "$subject: dropped input from ${source//./\\.}:[0-9]+ \($kind\)")
    if [ "$n" != 1 ]; then
        echo "FAIL: $node logged $n line(s) for $subject from $source ($kind), expected 1" >&2
        grep -E "$subject: dropped input" "$work/failoverd-$node.log" >&2 || true
        return 1
    fi
    echo "  $node: one line for $subject from $source ($kind)"
}

# drops NODE SECTION KIND: a drop counter from the node's status.
drops() { node_status "$1" | jq -r ".auth.$2[\"$3\"]"; }

scenario() {
    "$failoverctl" genkey "$work/key"
    "$failoverctl" genkey "$work/other.key"
    start_services

    echo "=== 1. replication streams from the primary's address, before its failoverd starts"
    start_failoverd_on backup --ready-file "$work/backup.ready" --key-file "$work/key"
    wait_until 30 "failoverd on the backup listening on :$replication_port" listening "$ns_backup" $replication_port
    p "$hostile" stream wrong-key --to $backup_ip:$replication_port --key-file "$work/other.key"
    p "$hostile" stream replayed --to $backup_ip:$replication_port --key-file "$work/key"
    p "$hostile" stream garbage --to $backup_ip:$replication_port --key-file "$work/key"
    [ "$(node_status backup | jq -r '.peers[0].state')" = waiting ] || { echo "FAIL: the backup took a stream" >&2; return 1; }
    # A squatter: a connection from the primary's address that never says anything. It
    # must not keep the real primary out.
    p_bg squatter bash -c "exec 3<>/dev/tcp/$backup_ip/$replication_port && echo connected && exec sleep 600"
    wait_until 30 "the squatter's connection" log_has squatter connected

    echo "=== 2. both daemons, a client streaming, heartbeats and streams from the client's namespace"
    start_failoverd_on primary --ready-file "$work/primary.ready" --key-file "$work/key"
    wait_until 30 "failoverd ready on the primary" test -e "$work/primary.ready"
    wait_until 30 "failoverd ready on the backup" test -e "$work/backup.ready"
    [ "$(lines_matching backup 'replaces this one, which never said hello')" = 1 ] ||
        { echo "FAIL: the backup did not say once that the primary's stream replaced the squatter's" >&2; return 1; }
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 32M --rate 8 \
        --progress-file "$work/stream.progress" --timeout-s 60 --label stream
    wait_until 30 "1 MiB echoed" progress_at_least "$work/stream.progress" verified $((1 << 20))
    local kind
    for kind in wrong-key forged replayed garbage; do
        c "$hostile" heartbeats $kind --to $backup_ip:$replication_port --from $primary_ip \
            --key-file "$work/$([ $kind = wrong-key ] && echo other.key || echo key)" --count 200
    done
    c "$hostile" heartbeats wrong-key --to $primary_ip:$replication_port --from $backup_ip \
        --key-file "$work/other.key" --count 200
    c "$hostile" heartbeats garbage --to $backup_ip:$replication_port --key-file "$work/key" --count 50
    c "$hostile" heartbeats garbage --to $primary_ip:$replication_port --key-file "$work/key" --count 50
    c "$hostile" stream garbage --to $backup_ip:$replication_port --key-file "$work/key"
    c "$hostile" stream wrong-key --to $backup_ip:$replication_port --key-file "$work/other.key"
    finish_client stream

    echo "=== no takeover, both alive, one line per kind"
    local primary_status backup_status
    primary_status=$(node_status primary)
    backup_status=$(node_status backup)
    [ "$(jq -r .role <<<"$primary_status")" = primary ] || { echo "FAIL: the primary is $(jq -r .role <<<"$primary_status")" >&2; return 1; }
    [ "$(jq -r .role <<<"$backup_status")" = backup ] || { echo "FAIL: the backup is $(jq -r .role <<<"$backup_status")" >&2; return 1; }
    [ "$(jq -r .epoch <<<"$backup_status")" = 1 ] || { echo "FAIL: the backup's epoch moved" >&2; return 1; }
    [ "$(jq -r '.peers[0].state' <<<"$primary_status")" = live ] || { echo "FAIL: the replication stream is not live" >&2; return 1; }
    [ "$(jq -r .auth.enabled <<<"$backup_status")" = true ] || { echo "FAIL: the backup is not authenticating" >&2; return 1; }
    ! log_has failoverd-backup 'taking over' || { echo "FAIL: the backup began a takeover" >&2; return 1; }
    expect_one_line backup "replication stream" $primary_ip "unknown key"
    expect_one_line backup "replication stream" $primary_ip forged
    expect_one_line backup "replication stream" $primary_ip garbage
    expect_one_line backup "replication stream" $client_ip "not a peer"
    expect_one_line backup heartbeat $primary_ip "unknown key"
    expect_one_line backup heartbeat $primary_ip forged
    expect_one_line backup heartbeat $primary_ip replayed
    expect_one_line backup heartbeat $primary_ip garbage
    expect_one_line backup heartbeat $client_ip "not a peer"
    expect_one_line primary heartbeat $backup_ip "unknown key"
    expect_one_line primary heartbeat $client_ip "not a peer"
    # Every datagram was counted, though only one of each kind was logged.
    local k
    for k in "unknown key" forged replayed garbage; do
        [ "$(jq -r ".auth.heartbeats_dropped[\"$k\"]" <<<"$backup_status")" -ge 200 ] ||
            { echo "FAIL: the backup counted $(jq -r ".auth.heartbeats_dropped[\"$k\"]" <<<"$backup_status") $k heartbeats, expected 200" >&2; return 1; }
    done
    echo "  backup: heartbeats dropped $(jq -c .auth.heartbeats_dropped <<<"$backup_status"), streams $(jq -c .auth.streams_dropped <<<"$backup_status")"
    kill -0 "${bg_pid[failoverd-primary]}" && kill -0 "${bg_pid[failoverd-backup]}" ||
        { echo "FAIL: a daemon died" >&2; return 1; }
}

run_scenario hostile_peer
