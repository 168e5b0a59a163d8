# Shared by the scenarios where roles move at run time (issue 9, items 4 and 5):
# failover_twice.sh, rejoin_no_preempt.sh, rejoin_preempt.sh. Sourced after lib.sh.
#
# Node A is the `primary` namespace (192.0.2.10, node 1), node B the `backup` namespace
# (192.0.2.11, node 2): the names say where each node starts, not what it is later.
# Both are described the symmetric way from config files ($work/NODE.toml) with a
# replica each, since either may serve or follow.

# write_role_config NODE ID [EXTRA]: the nodes' shared settings and [[node]] tables;
# node 1 (A) has the higher priority. EXTRA: more lines at the top level (before the
# tables), or whole tables after them when it starts with "[[".
write_role_config() {
    local node=$1 id=$2 extra=${3:-} top='' tables=''
    if [[ $extra == '[['* ]]; then tables=$extra; else top=$extra; fi
    cat >"$work/$node.toml" <<TOML
id = $id
vip = "$vip/24"
dev = "eth0"
port = $port
replica = "127.0.0.1:$port"
two_node = true
$top

[[node]]
id = 1
address = "$primary_ip:$replication_port"
priority = 200

[[node]]
id = 2
address = "$backup_ip:$replication_port"
priority = 100
$tables
TOML
}

# start_pair: B first (it starts as the backup), then A (the higher priority: it
# listens for a serving peer, hears none, and serves); both ready, A holds the VIP.
start_pair() {
    failoverd_style=symmetric
    start_failoverd
    grep -q "role: none -> primary at epoch 1" "$work/failoverd-primary.log" ||
        { echo "FAIL: node A did not log that it serves at epoch 1" >&2; return 1; }
}

# crash_node NODE: crash_primary for either namespace (link cut, then SIGKILL of every
# process in it). The time is the clients' crash time.
crash_node() {
    local node=$1 ns before after pids
    ns=$(node_ns "$node")
    echo "=== hard crash of node $node"
    snapshot_progress
    say "$node" "ip link set eth0 down"
    before=${EPOCHREALTIME/./}
    ip -n "$ns" link set eth0 down
    after=${EPOCHREALTIME/./}
    crash_began_us=$before
    crash_ns=${after}000
    echo "$crash_ns" >"$work/crash.time"
    pids=$(ip netns pids "$ns" | tr '\n' ' ')
    say "$node" "kill -9 $pids"
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    wait_until 30 "every process on node $node to die" no_process_in "$ns"
}

# restart_node NODE [ARGS...]: NODE comes back as after a reboot: its addresses without
# the VIP (a reboot forgets what failoverd had added), no socket of the killed service
# left (the namespace outlives its processes: the service's orphaned sockets, in
# FIN_WAIT1 for about 100 s, would answer the clients of their 4-tuples instead of a
# reset once this node holds the VIP again; a reboot forgets them), its link up, its service (the
# echo service, as the replica it will be), then failoverd from $work/NODE.toml with
# ARGS. The crashed run's failoverd log is kept as failoverd-NODE-before.log.
restart_node() {
    local node=$1 ns
    shift
    ns=$(node_ns "$node")
    echo "=== node $node restarts"
    mv "$work/failoverd-$node.log" "$work/failoverd-$node-before.log"
    rm -f "$work/$node.ready" "$work/$node.sock"
    ip -n "$ns" addr del "$vip/24" dev eth0 2>/dev/null || true
    ip netns exec "$ns" ss -Htn -K "( sport = :$port )" >/dev/null
    ! ip netns exec "$ns" ss -Htan "( sport = :$port )" | grep . ||
        { echo "FAIL: node $node still has sockets of port $port after ss -K" >&2; return 1; }
    say "$node" "ip link set eth0 up"
    ip -n "$ns" link set eth0 up
    in_bg "$node" "service-$node-again" "$echo_service" --listen 0.0.0.0:$port
    wait_until 30 "the echo service on node $node" listening "$ns" $port
    start_failoverd_on "$node" --ready-file "$work/$node.ready" "$@"
}

# status_of NODE FILTER: jq -r FILTER on NODE's status.
status_of() { node_status "$1" | jq -r "$2"; }
status_is() { [ "$(status_of "$1" "$2" 2>/dev/null)" = "$3" ]; }

# node_took_over NODE: NODE's status reports a finished takeover.
node_took_over() { local st; st=$(node_status "$1" 2>/dev/null) && [[ $st =~ \"finished_us\":\ ?[0-9] ]]; }

# wait_node_takeover NODE N R: NODE took over, rebuilt N connections and reset R.
wait_node_takeover() {
    local node=$1 expected=$2 resets=$3 st got
    wait_until --every 0.05 60 "node $node to report a finished takeover" node_took_over "$node"
    st=$(node_status "$node")
    got=$(jq -r '"\(.takeover.rebuilt) \(.takeover.reset)"' <<<"$st")
    [ "$got" = "$expected $resets" ] ||
        { echo "FAIL: node $node: expected $expected rebuilt and $resets reset: $(jq -c .takeover <<<"$st")" >&2; return 1; }
    echo "  node $node took over: $expected rebuilt, $resets reset ($(jq -r '.takeover.reason' <<<"$st"))"
}

# show_roles NODE: NODE's role history, one line.
show_roles() {
    echo "  node $1 roles: $(status_of "$1" '[.roles[] | "\(.role)@\(.epoch)"] | join(" -> ")')"
}

# peer_live NODE: NODE (a primary) has a live replication stream to its backup.
peer_live() { status_is "$1" '.peers[0].state' live; }
