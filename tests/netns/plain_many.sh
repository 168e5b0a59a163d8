#!/usr/bin/env bash
# failover_many's traffic over plain TCP, with no failover and no crash: the floor of
# its stall measure on this machine. The VIP is on the primary by hand, no failoverd
# runs; when every group is under way (failover_many's crash condition) the moment is
# marked as if the primary crashed there, and each client's "crash stall" is its longest
# gap overlapping the half-second after it, as in failover_many. On a machine whose
# cores the 100 connections saturate, those gaps are the clients and the service
# waiting for the CPU, which no failover can remove: read failover_many's figures
# against these, measured in the same series (scripts/bench-stall.sh alternates them).
#
#   client 192.0.2.1 ──── br0 ──── primary 192.0.2.10 + VIP 192.0.2.100 (echo service :7000)
#                          └────── backup 192.0.2.11 (unused here)
. "$(dirname "$0")/lib.sh"

scenario() {
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    wait_until 30 "the echo service on the primary" listening "$ns_primary" $port
    start_many_groups
    wait_groups_under_way 90 "$many_under_way" "${many_groups[@]}"
    echo "=== the moment failover_many would crash the primary (nothing happens)"
    snapshot_progress
    mark_crash "${EPOCHREALTIME/./}"
    touch "$work/resume"
    groups_at_crash "${many_groups[@]}"
    local n
    for n in "${many_groups[@]}"; do finish_client $n; done
}

run_scenario plain_many primary
