#!/usr/bin/env bash
# Leases and fencing with three data nodes, no witness (issue 9): the primary is cut off
# from both backups while all three still reach the client.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1): echo service :7000, VIP
#                                  ├── node B 192.0.2.11 (node 2): replica :7000
#                                  └── node C 192.0.2.12 (node 3): replica :7000
#      cut: A ✕ B, A ✕ C (each told a MAC nobody has for the other)
#
# Four connections stream (echo). A, alone, loses its lease (no majority of two renews
# it) and falls silent: its hooks drop its egress, the VIP goes (role `fenced`). B and C
# elect one of them (the one holding more of A's stream; ties the lower id) once A's
# lease has surely run out; it takes over at epoch 2 and rebuilds all four, and the
# other follows it (its stream from the winner live). Then, with the streams still
# running, the partition heals: A hears epoch 2, falls silent for good (role `silent`)
# and rejoins as a backup of the winner without a restart, its service's old sockets
# closed unseen.
#
# Checked: at no moment do two nodes send on one connection (a capture on the client,
# the source MAC of every segment per connection: one node at a time, never back to an
# earlier one), and not one segment from A after the heal; exactly one node holds the
# VIP; every byte verified by the clients; A's status and log say lease lost, then
# silent on epoch 2, then rejoined; A and the other follow the winner at the end.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
with_witness=1  # the topology's witness namespace holds node C (no witness runs there)
require_failoverd

scenario() {
    local failures=() st before heal winner other
    start_data_nodes
    st=$(node_status primary)
    check_json "node A's lease" "$(jq -c .lease <<<"$st")" ".mode == \"quorum\" and .quorum == 2 and .lease_ms == $lease_ms and .held" \
        "node A does not hold a quorum lease after its start"
    start_client_capture
    c_group stream 4 echo --bytes 24M --rate 4 --timeout-s 120
    wait_groups_under_way 60 $((2 << 20)) stream

    echo "=== node A is cut off from B and C; all three still reach the client"
    snapshot_progress
    before=${EPOCHREALTIME/./}
    cut_link primary backup
    cut_link primary third
    mark_crash "$before"
    winner=$(the_one_that_took_over 2 backup third)
    case $winner in backup) other=third ;; third) other=backup ;; esac
    wait_node_takeover "$winner" 4 0
    took_over_after "$winner" "$before"
    wait_until 30 "node $other to follow node $winner" follows "$other" "$winner"
    wait_until 30 "node $winner to see node $other live" leader_sees_backups "$winner" 1
    check_election_rank 2 "$winner" "$other"
    wait_until 30 "node A to say it is fenced" status_is primary .role fenced
    st=$(node_status primary)
    echo "  node A: $(jq -c '{role, lease: {silent: .lease.silent, held: .lease.held}, lease_segments_dropped: .hooks.lease_segments_dropped}' <<<"$st")"
    check_json "node A" "$(jq -c .lease <<<"$st")" '.silent | startswith("lease lost at epoch 1")' \
        "node A does not say it lost its lease at epoch 1"
    grep -q "primary: silent: lease lost at epoch 1 (no quorum of 2 renewed it within $lease_ms ms)" "$work/failoverd-primary.log" ||
        failures+=("node A did not log its fall into silence")
    [ "$(vip_holders)" = "$winner" ] || failures+=("during the partition the VIP is held by '$(vip_holders)', not node $winner alone")

    echo "=== the partition heals while the streams run"
    wait_until 60 "8 MiB echoed on every connection" progress_at_least "$work/stream.progress" slowest $((8 << 20))
    heal=${EPOCHREALTIME/./}
    heal_link primary backup
    heal_link primary third
    wait_until 30 "node A to rejoin as a backup of node $winner (epoch 2 heard)" follows primary "$winner"
    echo "  node A: $(grep -o 'primary: silent: epoch.*' "$work/failoverd-primary.log" | head -1)"
    echo "  node A: $(grep -o 'failoverd: primary rejoins.*' "$work/failoverd-primary.log" | head -1)"
    grep -q 'primary: silent: epoch 2 seen' "$work/failoverd-primary.log" ||
        failures+=("node A did not log that it fell silent on epoch 2: $(grep 'silent' "$work/failoverd-primary.log" | tail -2)")
    grep -q 'failoverd: primary rejoins as a backup: epoch 2 serves; closed 4 socket(s)' "$work/failoverd-primary.log" ||
        failures+=("node A did not log its rejoin, closing the four old sockets: $(grep rejoin "$work/failoverd-primary.log")")
    finish_client stream
    check_one_speaker "$heal" primary

    show_roles "$winner"
    show_roles "$other"
    show_roles primary
    follows primary "$winner" || failures+=("node A is $(status_of primary .role) at the end, not a backup of node $winner")
    leader_sees_backups "$winner" 2 || failures+=("node $winner does not see both others as live backups at the end")
    follows "$other" "$winner" || failures+=("node $other no longer follows node $winner at the end")
    [ "$(vip_holders)" = "$winner" ] || failures+=("at the end the VIP is held by '$(vip_holders)', not node $winner alone")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario partition_three_nodes
