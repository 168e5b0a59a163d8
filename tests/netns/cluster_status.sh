#!/usr/bin/env bash
# failoverctl status's cluster view (issue 9, item 9): every node shows every other
# node's health checks with their last result, its lease or its vote, and the
# primary's view of each backup's replication lag, from the NODE_REPORTs the nodes
# send each other on the heartbeat path (docs/protocol.md, "Node reports").
#
# Three data nodes as in three_nodes.sh: A (192.0.2.10, node 1) serves, B and C
# follow; each runs one tcp check, "echo", on its own service (A) or replica (B, C).
# 1. With a client streaming through A: node B's status shows A's check up (last
#    result success), A's lease held and renewed within a lease, A's vote for itself,
#    and A's view of both backups (live, eligible, a lag in bytes and ms); A's own
#    status has each backup's lag_bytes.
# 2. C's replica is killed: C's check goes down. B's status shows C's check down with
#    its reason ("connection refused") and C not eligible (C's own report), and A's view
#    of C not eligible (A's report: what C told A in its HEALTH record). The client
#    streams on to its end (B protects it).
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
with_witness=1  # the topology's fourth namespace holds node C (no witness runs there)
require_failoverd

# write_checks NODE: NODE's one check, a connect to the node's port on 127.0.0.1 every
# 100 ms, down after two failures: the command line gives the rest (failoverd_style=three).
write_checks() {
    cat >"$work/$1-checks.toml" <<TOML
[[check]]
name = "echo"
type = "tcp"
interval_ms = 100
connect_timeout_ms = 200
fall = 2
rise = 1
TOML
}

# report_of NODE ABOUT FILTER: jq -r FILTER on the report NODE shows of node ABOUT.
report_of() {
    status_of "$1" "[.cluster[] | select(.address == \"$(node_ip "$2")\") | .report | $3][0]"
}
report_is() { [ "$(report_of "$1" "$2" "$3" 2>/dev/null)" = "$4" ]; }

scenario() {
    local node
    failoverd_style=three
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    b_bg replica "$echo_service" --listen 0.0.0.0:$port
    in_bg third replica-third "$echo_service" --listen 0.0.0.0:$port
    wait_services
    wait_until 30 "the replica on node C" listening "$ns_witness" $port
    for node in backup third primary; do
        write_checks "$node"
        start_failoverd_on "$node" --ready-file "$work/$node.ready" --config "$work/$node-checks.toml"
    done
    for node in primary backup third; do wait_until 30 "node $node ready" test -e "$work/$node.ready"; done
    wait_until 30 "node A to see both backups live" leader_sees_backups primary 2

    echo "=== node B's view of node A, with a client streaming through A"
    c_group s 2 echo --bytes 48M --rate 8 --timeout-s 120
    wait_until 60 "4 MiB echoed on every connection" progress_at_least "$work/s.progress" slowest $((4 << 20))
    wait_until 10 "node B to show node A's check up, its last run a success" \
        report_is backup primary '.checks[0] | "\(.name) \(.type) \(.state) \(.last_result)"' "echo tcp up success"
    wait_until 10 "node B to show node A holding its lease, renewed within a lease" \
        report_is backup primary "(.lease.enforced and .lease.held and .lease.renewed_ms_ago < $lease_ms)" true
    report_is backup primary '.vote.for' "$primary_ip" ||
        { echo "FAIL: node B does not show node A's vote for itself: $(report_of backup primary .vote)" >&2; return 1; }
    # A's view of each backup, as B sees it: both live and eligible, with a lag.
    wait_until 10 "node B to show node A's two backups live and eligible, with their lag" report_is backup primary \
        "[.backups[] | select(.state == \"live\" and .eligible == true and (.lag_bytes | type) == \"number\" and (.lag_ms | type) == \"number\") | .address] | sort | join(\" \")" \
        "$backup_ip $witness_ip"
    echo "  node B's view of A: $(report_of backup primary '"age \(.age_ms) ms; checks: \([.checks[] | "\(.name) \(.state) (\(.last_result))"] | join(", ")); lease held \(.lease.held), renewed \(.lease.renewed_ms_ago) ms before; vote for \(.vote.for); backups: \([.backups[] | "\(.address) \(.state) lag \(.lag_bytes) B / \(.lag_ms) ms"] | join(", "))"')"
    # A's own status: each backup's lag in bytes (and ms), for every backup.
    status_is primary '[.peers[] | select((.lag_bytes | type) == "number" and (.lag_ms | type) == "number")] | length' 2 ||
        { echo "FAIL: node A's status lacks a backup's lag: $(status_of primary '[.peers[] | {address, lag_bytes, lag_ms}]')" >&2; return 1; }
    echo "  node A's own view: $(status_of primary '[.peers[] | "\(.address) lag \(.lag_bytes) B / \(.lag_ms) ms"] | join(", ")')"
    # And C's report: a backup holds no lease, reports no backups.
    report_is backup third '"\(.lease.held) \(.backups | length) \(.eligible)"' "false 0 true" ||
        { echo "FAIL: node B's view of node C: $(report_of backup third .)" >&2; return 1; }

    echo "=== node C's replica is killed: its check goes down"
    say third "kill -9 ${bg_pid[replica-third]}"
    kill -9 "${bg_pid[replica-third]}"
    wait_until 10 "node B to show node C's check down (connection refused) and C not eligible" \
        report_is backup third '"\(.checks[0].state) \(.checks[0].last_result) \(.checks[0].reason) \(.eligible)"' \
        "down failure connection refused false"
    wait_until 10 "node B to show node A's view of node C: not eligible" \
        report_is backup primary "[.backups[] | select(.address == \"$witness_ip\") | .eligible][0]" false
    report_is backup primary "[.backups[] | select(.address == \"$backup_ip\") | .eligible][0]" true ||
        { echo "FAIL: node A's view of node B changed: $(report_of backup primary .backups)" >&2; return 1; }
    echo "  node B's view of C: $(report_of backup third '"checks: \([.checks[] | "\(.name) \(.state) (\(.last_result): \(.reason))"] | join(", ")); eligible \(.eligible)"')"
    finish_client s
}

run_scenario cluster_status
