#!/usr/bin/env bash
# The service crashes, the node does not (issue 9 item 8, DESIGN.md invariant 2): the
# primary's echo service is SIGKILLed while 10 echo and 5 download connections stream
# through the VIP; the primary's kernel, link and failoverd stay up.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000 (killed), failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup
#
# Without tcpfo every connection is reset or closed by the dying process's kernel. Here
# the hooks see the first protected socket close in the exiting process, freeze the
# egress before its FIN or RST leaves, and failoverd hands every connection over to
# the backup, whose replica goes on: no client sees a reset, an early end or a wrong
# byte, and the old primary ends handed-over, without the VIP.
# TCPFO_NODES=3 (failover_service_crash_three_nodes.sh): three data nodes, no witness
# (A, B, C; roles_lib.sh): A's service is killed the same way; A hands every connection
# over to one of B and C (the first ready one listed, B), which takes over all 15 with
# none reset; the other follows it and keeps them: once every connection has 2 MiB more
# verified, the node that took over is crashed hard (link cut, SIGKILL), and the other
# must take over all 15 (A, handed-over or rejoined as a backup without a replica,
# still votes; it holds none of them, so it cannot win) with none reset; no client sees a
# reset, an early end or a wrong byte.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
require_failoverd
nodes=${TCPFO_NODES:-2}
# The witness namespace holds node C (no witness runs there).
[ "$nodes" != 3 ] || with_witness=1

groups=(svc-echo svc-down)

kill_service() {
    echo "=== SIGKILL of the primary's service (the node and its failoverd stay up)"
    snapshot_progress
    local before
    before=${EPOCHREALTIME/./}
    say primary "kill -9 ${bg_pid[service]} (tcpfo-echo-service)"
    kill -9 "${bg_pid[service]}"
    mark_crash "$before"
    wait "${bg_pid[service]}" 2>/dev/null || true
    unset 'bg_pid[service]'
}

scenario() {
    [ "$nodes" != 3 ] || { scenario_three_nodes; return; }
    start_services
    start_failoverd
    c_group svc-echo 10 echo --seed 500 --bytes 16M --rate 2 --timeout-s 90
    c_group svc-down 5 download --seed 600 --bytes 16M --rate 2 --timeout-s 90
    wait_groups_under_way 60 $((512 << 10)) "${groups[@]}"
    kill_service
    wait_takeover 15
    wait_until 10 "the primary to say the service died" log_has failoverd-primary 'the service died'
    local name
    for name in "${groups[@]}"; do finish_client $name; done
    local st
    st=$(node_status primary)
    handed_over_or_rejoined primary ||
        { echo "FAIL: the old primary is $(jq -r .role <<<"$st"), neither handed-over nor rejoined" >&2; return 1; }
    jq -e '.hooks.sockets_closed_by_service_exit >= 1' <<<"$st" >/dev/null ||
        { echo "FAIL: the hooks counted no socket closed by the service's exit: $(jq -c .hooks <<<"$st")" >&2; return 1; }
    if ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/"; then
        echo "FAIL: the old primary still holds $vip" >&2
        return 1
    fi
    echo "  old primary: $(grep -m1 'the service died' "$work/failoverd-primary.log")"
}

# Three data nodes: A's service dies, one backup takes the connections over, the other
# follows it and takes them over in turn when it crashes.
scenario_three_nodes() {
    start_data_nodes
    c_group svc-echo 10 echo --seed 500 --bytes 16M --rate 2 --timeout-s 120
    c_group svc-down 5 download --seed 600 --bytes 16M --rate 2 --timeout-s 120
    wait_groups_under_way 60 $((512 << 10)) "${groups[@]}"
    kill_service
    local first follower
    first=$(the_one_that_took_over 2 backup third)
    case $first in backup) follower=third ;; third) follower=backup ;; esac
    [ "$first" = backup ] || { echo "FAIL: node $first took over, not node B (the first ready backup listed)" >&2; return 1; }
    wait_node_takeover "$first" 15 0
    took_over_after "$first" "$crash_began_us"
    local st
    st=$(node_status "$first")
    jq -e '.takeover.reason | startswith("planned handover from the primary")' <<<"$st" >/dev/null ||
        { echo "FAIL: node $first's takeover reason: $(jq -c .takeover.reason <<<"$st")" >&2; return 1; }
    wait_until 10 "node A to say the service died" log_has failoverd-primary 'the service died'
    echo "  node A: $(grep -m1 'the service died' "$work/failoverd-primary.log")"
    st=$(node_status primary)
    handed_over_or_rejoined primary ||
        { echo "FAIL: node A is $(jq -r .role <<<"$st"), neither handed-over nor rejoined" >&2; return 1; }
    jq -e '.hooks.sockets_closed_by_service_exit >= 1' <<<"$st" >/dev/null ||
        { echo "FAIL: the hooks counted no socket closed by the service's exit: $(jq -c .hooks <<<"$st")" >&2; return 1; }
    wait_until 30 "node $follower to follow node $first" follows "$follower" "$first"
    wait_until 30 "node $first to see node $follower live" leader_sees_backup "$first" "$follower"
    grep 'connection(s) resumed by\|this node follows it' "$work/failoverd-$follower.log" | sed 's/^/  '"$follower"': /' || true
    wait_until 10 "node $first to protect all 15 connections" \
        status_is "$first" '[.connections[] | select(.protected)] | length' 15
    [ "$(live_vip_holders)" = "$first" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $first alone" >&2; return 1; }
    local name
    for name in "${groups[@]}"; do
        read_progress $name
        wait_until 60 "2 MiB more on every connection of $name" \
            progress_at_least "$work/$name.progress" slowest $((progress[slowest] + (2 << 20)))
    done
    crash_leader_follower_takes_over "$first" "$follower" 15
    for name in "${groups[@]}"; do finish_client $name; done
}

run_scenario "${TCPFO_SCENARIO_NAME:-failover_service_crash}"
