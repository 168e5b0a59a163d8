#!/usr/bin/env bash
# Four data nodes, no witness (issue 9): a majority of three for every lease and
# election.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1): echo service :7000
#                                  ├── node B 192.0.2.11 (node 2): replica :7000
#                                  ├── node C 192.0.2.12 (node 3): replica :7000
#                                  └── node D 192.0.2.13 (node 4): replica :7000
#
# Equal priorities: A (the lowest id) serves first and replicates to B, C and D.
# 1. Two "old" connections stream (echo) through a hard crash of A. Of B, C and D, the
#    one holding the most of A's stream (ties: the lower id) is elected at epoch 2 and
#    rebuilds both; the other two follow it (each one's stream from the winner live,
#    `.peers[0]`), and only the winner holds the VIP.
# 2. Two "new" connections open through the winner, protected by the other two. Then the
#    winner crashes hard: two live nodes of four are no quorum. Both survivors campaign;
#    until their voters have answered fifty more candidate heartbeats (half a second of
#    campaigning) nobody may take over, no live node holds the VIP, no segment from the VIP reaches
#    the client (capture) and the new connections stall.
# 3. A restarts (as after a reboot) and joins: three live nodes, an election. The
#    survivor holding more of the winner's stream is elected at epoch 3 or above
#    (candidates may have asked for higher epochs meanwhile) and rebuilds all four
#    connections (the old ones were resumed toward the followers at the first
#    takeover); the other survivor and A follow it; the client verifies every byte.
# 4. The node that crashed in step 2 restarts and joins too: four live nodes. The
#    survivor of step 2 that followed (call it the keeper) holds the old connections
#    (resumed to it twice); A and the restarted node joined later and lack them, though
#    their streams from the serving node began at the same moment as the keeper's. The
#    serving node crashes: three of four left. The keeper must win (it holds every
#    connection: HOLDINGS; A's lower id would win on the stream's length alone) and
#    rebuild the old connections; A and the restarted node follow it.
# 5. The old connections, paused since step 1, send again and stream to their end: the
#    same connections survived three crashes in a row.
#
# Crash = the node's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
with_witness=1  # the witness namespace holds node C (no witness runs there)
with_fourth=1   # and a fifth namespace node D
require_failoverd

# votes_answered NODE...: the sum of the voters' answers (grants and refusals) on NODEs.
votes_answered() {
    local node sum=0 n
    for node in "$@"; do
        n=$(status_of "$node" '.lease.vote.grants + .lease.vote.refusals') || return 1
        sum=$((sum + n))
    done
    echo $sum
}
votes_answered_at_least() { local n; n=$(votes_answered "${@:2}") && [ "$n" -ge "$1" ]; }
campaigning() { status_is "$1" .role candidate; }

scenario() {
    local first node st
    local -a followers survivors
    start_data_nodes
    st=$(node_status primary)
    jq -e ".lease.mode == \"quorum\" and .lease.quorum == 3 and .lease.held" >/dev/null <<<"$st" ||
        { echo "FAIL: node A does not hold a lease of a quorum of 3: $(jq -c .lease <<<"$st")" >&2; return 1; }
    start_client_capture

    echo "=== old connections, through a crash of A"
    c_group old 2 echo --bytes 64M --rate 20 --pause-at $((48 << 20)) --resume-file "$work/old.resume" \
        --timeout-s 280
    wait_until 60 "16 MiB echoed on every old connection" progress_at_least "$work/old.progress" slowest $((16 << 20))
    crash_node primary
    first=$(the_one_that_took_over 2 backup third fourth)
    for node in backup third fourth; do [ "$node" = "$first" ] || followers+=("$node"); done
    wait_node_takeover "$first" 2 0
    took_over_after "$first" "$crash_began_us"
    echo "  elected at epoch 2: node $first ($(node_ip "$first")); nodes ${followers[*]} follow it"
    for node in "${followers[@]}"; do
        wait_until 30 "node $node to follow node $first (.peers[0] live)" follows "$node" "$first"
    done
    wait_until 30 "node $first to see both followers live" leader_sees_backups "$first" 2
    check_election_rank 2 "$first" "${followers[@]}"
    [ "$(live_vip_holders)" = "$first" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $first alone" >&2; return 1; }
    wait_until 60 "the old connections to pause after the takeover" progress_at_least "$work/old.progress" paused 1
    show_roles "$first"

    echo "=== new connections, then a crash of node $first: two of four left, no quorum"
    c_group new 2 echo --bytes 64M --rate 20 --timeout-s 280
    wait_until 60 "16 MiB echoed on every new connection" progress_at_least "$work/new.progress" slowest $((16 << 20))
    st=$(node_status "$first")
    # The two it rebuilt (resumed toward its followers) and the two new ones.
    jq -e '[.connections[] | select(.protected)] | length == 4' >/dev/null <<<"$st" ||
        { echo "FAIL: node $first does not protect the two rebuilt and the two new connections: $(jq -c '[.connections[] | {id, phase, protected}]' <<<"$st")" >&2; return 1; }
    survivors=("${followers[@]}")
    local answered quiet_from quiet_to verified_then
    crash_node "$first"
    quiet_from=$((crash_ns / 1000))  # when the cut command had returned
    for node in "${survivors[@]}"; do wait_until 30 "node $node to campaign" campaigning "$node"; done
    answered=$(votes_answered "${survivors[@]}")
    # The clients' progress once what reached them before the crash has been read (a
    # quarter of the wait), against the end of the wait.
    wait_until 30 "the survivors to answer 25 candidate heartbeats" votes_answered_at_least $((answered + 25)) "${survivors[@]}"
    read_progress new
    verified_then=${progress[verified]}
    wait_until 30 "the survivors to answer 50 candidate heartbeats" votes_answered_at_least $((answered + 50)) "${survivors[@]}"
    for node in "${survivors[@]}"; do
        st=$(node_status "$node")
        echo "  node $node: $(jq -c '{role, lease: {campaign_epoch: .lease.campaign_epoch, deferring_to: .lease.deferring_to, vote: .lease.vote}, takeover: (.takeover != null)}' <<<"$st")"
        jq -e '.role == "candidate" and .takeover == null' >/dev/null <<<"$st" ||
            { echo "FAIL: node $node took over (or stopped campaigning) without a quorum: $(jq -c '{role, takeover}' <<<"$st")" >&2; return 1; }
    done
    [ -z "$(live_vip_holders)" ] || { echo "FAIL: without a quorum the VIP is held by '$(live_vip_holders)'" >&2; return 1; }
    read_progress new
    [ "${progress[verified]}" = "$verified_then" ] ||
        { echo "FAIL: the new connections moved on without a quorum ($verified_then, then ${progress[verified]} bytes verified)" >&2; return 1; }
    echo "  the new connections stall at $verified_then bytes verified"
    quiet_to=${EPOCHREALTIME/./}

    echo "=== node A restarts and joins: three of four, an election"
    restart_node primary
    local second other
    second=$(the_one_that_took_over 3+ "${survivors[@]}")
    for node in "${survivors[@]}"; do [ "$node" = "$second" ] || other=$node; done
    wait_node_takeover "$second" 4 0
    local epoch
    epoch=$(status_of "$second" .epoch)
    echo "  elected at epoch $epoch: node $second; node $other and node A follow it"
    wait_until 30 "node $other to follow node $second" follows "$other" "$second"
    wait_until 30 "node A to follow node $second" follows primary "$second"
    grep -q "joined: a peer serves at epoch" "$work/failoverd-primary.log" ||
        { echo "FAIL: node A did not say it joined as a backup" >&2; return 1; }
    check_election_rank "$epoch" "$second" "$other"
    [ "$(live_vip_holders)" = "$second" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $second alone" >&2; return 1; }
    show_roles "$second"
    show_roles "$other"
    show_roles primary
    finish_client new

    echo "=== node $first restarts and joins; then node $second crashes: the third crash"
    restart_node "$first"
    wait_until 30 "node $first to follow node $second" follows "$first" "$second"
    wait_until 30 "node $second to see its three backups live" leader_sees_backups "$second" 3
    crash_node "$second"
    local third
    third=$(the_one_that_took_over "$((epoch + 1))+" "$other" primary "$first")
    [ "$third" = "$other" ] ||
        { echo "FAIL: node $third was elected, not node $other, the only one holding the old connections" >&2; return 1; }
    wait_node_takeover "$third" 2 0
    took_over_after "$third" "$crash_began_us"
    epoch=$(status_of "$third" .epoch)
    wait_until 30 "node A to follow node $third" follows primary "$third"
    wait_until 30 "node $first to follow node $third" follows "$first" "$third"
    check_election_rank "$epoch" "$third" primary "$first"
    [ "$(live_vip_holders)" = "$third" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $third alone" >&2; return 1; }
    show_roles "$third"

    echo "=== the old connections, through three crashes, stream to their end"
    : >"$work/old.resume"
    finish_client old

    check_one_speaker
    # Nothing from the VIP while there was no quorum (from 50 ms after the cut: what
    # was on its way through the bridge then is not a speaker).
    local spoken
    spoken=$(segments_between $((quiet_from + 50000)) "$quiet_to")
    [ -z "$spoken" ] || { echo "FAIL: segments from the VIP while no quorum existed:"; head -n 5 <<<"$spoken"; return 1; } >&2
    echo "  no segment from the VIP from 50 ms after the crash of node $first until node A restarted ($(((quiet_to - quiet_from) / 1000)) ms)"
}

run_scenario four_nodes
