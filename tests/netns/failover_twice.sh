#!/usr/bin/env bash
# Two failovers in one cluster (issue 9, items 4 and 5): the node that took over
# protects the connections opened after the other node came back as its backup.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1, priority 200): echo service :7000
#                                  └── node B 192.0.2.11 (node 2, priority 100): replica :7000
#
# 1. Two "old" connections stream (echo) through a hard crash of A: B takes over at
#    epoch 2 and rebuilds both, then acts as the primary of new connections.
# 2. A restarts (as after a reboot: link up, the VIP gone, its service and failoverd
#    started again): it hears B serve at epoch 2 and joins it as a backup; B's stream
#    to it goes live. B's status lists the old connections as served but unprotected.
# 3. Two "new" connections stream through a hard crash of B: A takes over at epoch 3
#    and rebuilds exactly the new ones; the client verifies every byte in order.
# 4. The old connections (paused since step 1, held by nobody after B's crash) send
#    again: each is reset by A (no socket), counted by the client, never corrupted.
#
# Crash = the node's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
require_failoverd

scenario() {
    write_role_config primary 1
    write_role_config backup 2
    start_services
    start_pair

    echo "=== old connections, through a crash of A"
    # They pause once 48 MiB are echoed and send again only when told (step 4): a
    # connection that sends nothing would never meet A's reset.
    c_group old 2 echo --bytes 64M --rate 20 --pause-at $((48 << 20)) --resume-file "$work/old.resume" \
        --timeout-s 240 --expect-resets 2
    wait_until 60 "16 MiB echoed on every old connection" progress_at_least "$work/old.progress" slowest $((16 << 20))
    crash_node primary
    wait_node_takeover backup 2 0
    wait_until 30 "node B to act as the primary at epoch 2" status_is backup '.roles[-1].role + " \(.epoch)"' "primary 2"
    wait_until 60 "the old connections to pause after the takeover" progress_at_least "$work/old.progress" paused 1
    show_roles backup

    restart_node primary
    wait_until 30 "node A to join B as its backup (stream live)" test -e "$work/primary.ready"
    wait_until 30 "node B to see its backup live" peer_live backup
    grep -q "joined: a peer serves at epoch 2" "$work/failoverd-primary.log" ||
        { echo "FAIL: node A did not say it joined a peer serving at epoch 2" >&2; return 1; }
    status_is primary .role backup || { echo "FAIL: node A is $(status_of primary .role), not backup" >&2; return 1; }
    show_roles primary
    # A never claimed the VIP: B holds it.
    ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/" && { echo "FAIL: node A holds the VIP" >&2; return 1; }

    echo "=== new connections, through a crash of B"
    c_group new 2 echo --bytes 64M --rate 20 --timeout-s 120
    wait_until 60 "16 MiB echoed on every new connection" progress_at_least "$work/new.progress" slowest $((16 << 20))
    local st
    st=$(node_status backup)
    jq -e '[.connections[] | select(.protected)] | length == 2' >/dev/null <<<"$st" ||
        { echo "FAIL: node B does not protect the two new connections: $(jq -c '[.connections[] | {id, phase, protected}]' <<<"$st")" >&2; return 1; }
    jq -e '[.connections[] | select(.phase == "spliced" and (.protected | not) and (.why_not | test("rebuilt")))] | length == 2' >/dev/null <<<"$st" ||
        { echo "FAIL: node B does not list the two rebuilt connections as unprotected: $(jq -c '[.connections[] | {id, phase, protected, why_not}]' <<<"$st")" >&2; return 1; }
    echo "  node B: $(jq -c '[.connections[] | {id, phase, protected}]' <<<"$st")"
    crash_node backup
    wait_node_takeover primary 2 0
    wait_until 30 "node A to act as the primary at epoch 3" status_is primary '.roles[-1].role + " \(.epoch)"' "primary 3"
    show_roles primary
    finish_client new

    echo "=== the old connections send again: reset, counted"
    : >"$work/old.resume"
    finish_client old --allow-resets
    [ "$(client_field old resets)" = 2 ] || { echo "FAIL: the old connections: $(client_field old resets) reset(s), expected 2" >&2; return 1; }
}

run_scenario failover_twice
