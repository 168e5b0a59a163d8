#!/usr/bin/env bash
# Leases and fencing with three data nodes, no witness (issue 9): the primary is frozen.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1): echo service :7000, VIP
#                                  ├── node B 192.0.2.11 (node 2): replica :7000
#                                  └── node C 192.0.2.12 (node 3): replica :7000
#
# Four connections stream (echo); once every one is 2 MiB along, every process on A
# (failoverd and the service) gets SIGSTOP. Its kernel still runs (it would retransmit
# and acknowledge), but its lease runs out and its egress hook enforces it without the
# daemon. B and C elect one of them (the one holding more of A's stream; ties the lower
# id), which takes over at epoch 2 and rebuilds all four; the other follows it. Once the
# takeover is done and a second has passed since the freeze, A is thawed (SIGCONT): it
# finds its lease lost or hears epoch 2, falls silent, closes its service's four old
# sockets unseen (SOCK_DESTROY while its egress is frozen) and rejoins as a backup of the
# winner, without a restart.
#
# Checked: not one segment from A after the thaw, and no two nodes sending on one
# connection at any moment (capture on the client, source MACs); the winner rebuilt all
# four; A logs its silence and its rejoin and follows the winner, as does the other; the
# winner alone holds the VIP; every byte verified by the clients.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
with_witness=1  # the topology's witness namespace holds node C (no witness runs there)
require_failoverd

past_us() { [ "${EPOCHREALTIME/./}" -ge "$1" ]; }

scenario() {
    local failures=() pids before thaw winner other st
    start_data_nodes
    start_client_capture
    c_group stream 4 echo --bytes 24M --rate 4 --timeout-s 120
    wait_groups_under_way 60 $((2 << 20)) stream

    echo "=== SIGSTOP of everything on node A (failoverd and the service)"
    pids=$(ip netns pids "$ns_primary" | tr '\n' ' ')
    snapshot_progress
    say primary "kill -STOP $pids"
    before=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    kill -STOP $pids
    mark_crash "$before"
    winner=$(the_one_that_took_over 2 backup third)
    case $winner in backup) other=third ;; third) other=backup ;; esac
    wait_node_takeover "$winner" 4 0
    took_over_after "$winner" "$before"
    wait_until 30 "node $other to follow node $winner" follows "$other" "$winner"
    check_election_rank 2 "$winner" "$other"
    # At least a second frozen, and the takeover done (above).
    wait_until 10 "a second since the freeze" past_us $((before + 1000000))
    say primary "kill -CONT $pids"
    thaw=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    kill -CONT $pids
    wait_until 30 "the thawed node A to rejoin as a backup of node $winner" follows primary "$winner"
    wait_until 30 "node $winner to see both others as live backups" leader_sees_backups "$winner" 2
    finish_client stream
    check_one_speaker "$thaw" primary

    grep -q 'primary: silent: ' "$work/failoverd-primary.log" ||
        failures+=("the thawed node A did not log its fall into silence")
    grep -q 'rejoins as a backup: epoch 2 serves; closed 4 socket(s)' "$work/failoverd-primary.log" ||
        failures+=("the thawed node A did not log its rejoin, closing the four old sockets: $(grep rejoin "$work/failoverd-primary.log")")
    show_roles primary
    show_roles "$winner"
    show_roles "$other"
    follows "$other" "$winner" || failures+=("node $other no longer follows node $winner at the end")
    [ "$(vip_holders)" = "$winner" ] || failures+=("the VIP is held by '$(vip_holders)', not node $winner alone")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario freeze_three_nodes
