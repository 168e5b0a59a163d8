#!/usr/bin/env bash
# failover_stream.sh with both daemons described the symmetric way (issue 9): every
# node is given the same node list and its own id, and the node of highest priority
# starts as the primary. Both nodes read the same [[node]] tables (node 1 at priority
# 200, node 2 at the default 100), so both agree that node 1 starts as the primary:
# node 1 from a config file and --id on the command line, node 2 from a config file
# alone, checked first with --config-test. A --priority only one node knows is refused
# (the other would take it to be 100, and both could start as the primary).
# One connection streams 64 MiB each way (echo) through a hard crash of the primary at
# about halfway; the client verifies every byte in order and must see no reset.
#
#      client 192.0.2.1 ──── br0 ──┬── node 1 192.0.2.10, VIP 192.0.2.100: echo service :7000,
#                                  │     failoverd --config primary.toml --id 1
#                                  └── node 2 192.0.2.11: replica :7000, failoverd --config backup.toml
#
# Crash = the primary's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

# write_config NODE ID [ID_LINE]: the nodes' shared settings and [[node]] tables.
write_config() {
    local node=$1 id=$2
    cat >"$work/$node.toml" <<TOML
# node $id of two; node 1 has the higher priority and starts as the primary
${3:-id = $id}
vip = "$vip/24"
dev = "eth0"
port = $port
replica = "127.0.0.1:$port"
two_node = true

[[node]]
id = 1
address = "$primary_ip:$replication_port"
priority = 200

[[node]]
id = 2
address = "$backup_ip"
TOML
}

scenario() {
    failoverd_style=symmetric
    write_config backup 2
    # Node 1's file without its id: it comes from the command line.
    write_config primary 1 "# id from the command line"
    # The same verdict as the start below, without root or the network.
    local verdict
    verdict=$("$failoverd" --config-test "$work/backup.toml")
    echo "  $verdict"
    [ "$verdict" = "failoverd: $work/backup.toml: ok (node 2 of 2, starts as backup)" ] ||
        { echo "FAIL: --config-test said '$verdict'" >&2; return 1; }
    # A priority that only node 2 would know: refused, in one line, before anything.
    local refused
    # (In the backup's namespace, under a timeout: were it accepted, it would start.)
    refused=$(ip netns exec "$ns_backup" timeout 5 "$failoverd" --config "$work/backup.toml" --priority 250 2>&1) &&
        { echo "FAIL: --priority 250 on node 2 alone was accepted" >&2; return 1; }
    echo "  $refused"
    [[ $refused == *"priority 250 of node 2 is known only to this node"* ]] ||
        { echo "FAIL: --priority 250 on node 2 alone: '$refused'" >&2; return 1; }
    start_services
    start_failoverd
    grep -q "node 1 of 2 (priority 200, two-node), starts as primary" "$work/failoverd-primary.log" ||
        { echo "FAIL: the primary did not log its start role" >&2; return 1; }
    grep -q "node 2 of 2 (priority 100, two-node), starts as backup" "$work/failoverd-backup.log" ||
        { echo "FAIL: the backup did not log its start role" >&2; return 1; }
    # What each node reports of itself: its id, and every node's priority as it read them.
    local st
    st=$(node_status backup)
    jq -e '.node.id == 2 and .node.priority == 100 and .node.two_node and
           ([.node.nodes[] | [.id, .priority]] == [[1, 200], [2, 100]])' >/dev/null <<<"$st" ||
        { echo "FAIL: the backup's status says $(jq -c .node <<<"$st")" >&2; return 1; }
    jq -e '.node.id == 1 and .node.priority == 200' >/dev/null <<<"$(node_status primary)" ||
        { echo "FAIL: the primary's status says $(node_status primary | jq -c .node)" >&2; return 1; }
    stream_through_crash
}

run_scenario failover_symmetric
