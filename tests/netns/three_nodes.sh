#!/usr/bin/env bash
# Three data nodes, no witness (issue 9, items 2 and 4): one primary, two backups, a
# majority of two for every lease and election.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1): echo service :7000
#                                  ├── node B 192.0.2.11 (node 2): replica :7000
#                                  └── node C 192.0.2.12 (node 3): replica :7000
#
# Equal priorities: A (the lowest id) serves first and replicates to B and C.
# 1. Two "old" connections stream (echo) through a hard crash of A. B and C both
#    notice; the one holding more of A's stream is elected (ties: the lower id) and
#    takes over at epoch 2, rebuilding both; the other follows it as its backup (its
#    stream from the winner goes live) and keeps the old connections: the winner
#    resumes them toward it (RESUME, the tail of client bytes it may lack). It never
#    holds the VIP.
# 2. Two "new" connections open through the winner (protected by the other backup).
#    Then A restarts and joins the winner as its second backup (a majority needs two
#    live nodes: without A back, a second crash would leave one node, no quorum); it
#    holds neither the old nor the new connections, which opened before it joined.
# 3. All four stream through a hard crash of the winner (the old ones paused at 96
#    MiB by then, or still sending): of the other backup and A, the one holding more
#    of the winner's stream, the other backup, is elected at epoch 3 (were A elected,
#    on the lower id, every connection would be reset) and rebuilds all four; A
#    follows it. The client verifies every byte of all four, to their end, and counts
#    no reset.
#
# Crash = the node's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
with_witness=1  # the topology's fourth namespace holds node C (no witness runs there)
require_failoverd

scenario() {
    failoverd_style=three
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    b_bg replica "$echo_service" --listen 0.0.0.0:$port
    in_bg third replica-third "$echo_service" --listen 0.0.0.0:$port
    wait_services
    wait_until 30 "the replica on node C" listening "$ns_witness" $port
    start_failoverd_on backup --ready-file "$work/backup.ready"
    start_failoverd_on third --ready-file "$work/third.ready"
    start_failoverd_on primary --ready-file "$work/primary.ready"
    wait_until 30 "node A ready" test -e "$work/primary.ready"
    wait_until 30 "node B ready" test -e "$work/backup.ready"
    wait_until 30 "node C ready" test -e "$work/third.ready"
    wait_until 30 "node A to see both backups live" leader_sees_backups primary 2
    [ "$(vip_holders)" = primary ] || { echo "FAIL: the VIP is held by '$(vip_holders)', not node A alone" >&2; return 1; }

    echo "=== old connections, through a crash of A"
    c_group old 2 echo --bytes 128M --rate 10 --pause-at $((96 << 20)) --resume-file "$work/old.resume" \
        --timeout-s 240
    wait_until 60 "16 MiB echoed on every old connection" progress_at_least "$work/old.progress" slowest $((16 << 20))
    crash_node primary
    local first second
    first=$(the_one_that_took_over 2 backup third)
    case $first in backup) second=third ;; third) second=backup ;; esac
    wait_node_takeover "$first" 2 0
    echo "  elected at epoch 2: node $first ($(node_ip "$first")); node $second follows it"
    wait_until 30 "node $second to follow node $first" follows "$second" "$first"
    wait_until 30 "node $first to see node $second live" leader_sees_backups "$first" 1
    grep -q "serves at epoch 2; this node follows it" "$work/failoverd-$second.log" ||
        { echo "FAIL: node $second did not say it follows the winner" >&2; return 1; }
    [ "$(live_vip_holders)" = "$first" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $first alone" >&2; return 1; }
    # Its status shows the cluster as the heartbeats describe it: the winner serving at
    # epoch 2, node A silent since the crash.
    wait_until 10 "node $second to see node $first as the primary at epoch 2 in its cluster view" \
        status_is "$second" "[.cluster[] | select(.address == \"$(node_ip "$first")\") | \"\(.role) \(.epoch)\"][0]" "primary 2"
    echo "  node $second's cluster view: $(status_of "$second" '[.cluster[] | "\(.address) id \(.id) \(.role)@\(.epoch) log \(.log_position) silent \(.silence_ms) ms"] | join("; ")')"
    wait_until 60 "the old connections to pause after the takeover" progress_at_least "$work/old.progress" paused 1
    show_roles "$first"
    show_roles "$second"

    echo "=== new connections, then node A back, then a crash of node $first"
    c_group new 2 echo --bytes 64M --rate 20 --timeout-s 120
    wait_until 60 "16 MiB echoed on every new connection" progress_at_least "$work/new.progress" slowest $((16 << 20))
    restart_node primary
    wait_until 30 "node A to join node $first as a backup (stream live)" test -e "$work/primary.ready"
    wait_until 30 "node $first to see both backups live" leader_sees_backups "$first" 2
    grep -q "joined: a peer serves at epoch 2" "$work/failoverd-primary.log" ||
        { echo "FAIL: node A did not say it joined a peer serving at epoch 2" >&2; return 1; }
    wait_until 60 "24 MiB echoed on every new connection" progress_at_least "$work/new.progress" slowest $((24 << 20))
    local st
    st=$(node_status "$first")
    # The two it rebuilt (resumed toward node $second) and the two new ones.
    jq -e '[.connections[] | select(.protected)] | length == 4' >/dev/null <<<"$st" ||
        { echo "FAIL: node $first does not protect the two rebuilt and the two new connections: $(jq -c '[.connections[] | {id, phase, protected}]' <<<"$st")" >&2; return 1; }
    crash_node "$first"
    local third_winner
    third_winner=$(the_one_that_took_over 3 "$second" primary)
    [ "$third_winner" = "$second" ] ||
        { echo "FAIL: node $third_winner was elected at epoch 3; node $second holds more (node A joined after the new connections opened)" >&2; return 1; }
    wait_node_takeover "$second" 4 0
    wait_until 30 "node A to follow node $second" follows primary "$second"
    [ "$(live_vip_holders)" = "$second" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $second alone" >&2; return 1; }
    show_roles "$second"
    show_roles primary
    finish_client new

    echo "=== the old connections, through both crashes, stream to their end"
    : >"$work/old.resume"
    finish_client old
}

run_scenario three_nodes
