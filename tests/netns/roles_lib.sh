# Shared by the scenarios where roles move at run time (issue 9, items 4 and 5):
# failover_twice.sh, rejoin_no_preempt.sh, rejoin_preempt.sh, and those with three or
# four data nodes (three_nodes.sh, partition_three_nodes.sh, freeze_three_nodes.sh,
# four_nodes.sh). Sourced after lib.sh.
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
    # TIME_WAIT (of the replica's connections to 127.0.0.1) sends nothing unasked.
    ! ip netns exec "$ns" ss -Htan exclude time-wait "( sport = :$port )" | grep . ||
        { echo "FAIL: node $node still has sockets of port $port after ss -K" >&2; return 1; }
    say "$node" "ip link set eth0 up"
    ip -n "$ns" link set eth0 up
    # Operationally up before failoverd starts, as topology.sh waits for at setup (the
    # kernel's link watcher, a normal-priority worker, sets it; on a loaded machine
    # late). Not shown to matter: in one four_nodes.sh run on a machine stalled for
    # tens of seconds the restarted node heard none of its peers in its whole start
    # window ("listened 1502 ms ... (0 of 3 peer(s) heard)"), cause not established.
    wait_until 30 "eth0 on node $node to be up" link_is_up "$ns"
    in_bg "$node" "service-$node-again" "$echo_service" --listen 0.0.0.0:$port
    wait_until 30 "the echo service on node $node" listening "$ns" $port
    start_failoverd_on "$node" --ready-file "$work/$node.ready" "$@"
}

link_is_up() { ip -n "$1" -o link show eth0 | grep -q 'state UP'; }

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

# The name of the node (namespace) with address ADDR.
node_at() { case $1 in "$primary_ip") echo primary ;; "$backup_ip") echo backup ;; "$witness_ip") echo third ;; "$fourth_ip") echo fourth ;; esac; }

# took_over_at NODE EPOCH: NODE serves as the primary at EPOCH after a takeover;
# EPOCH+ (e.g. 3+): at EPOCH or above.
took_over_at() {
    node_took_over "$1" || return 1
    if [[ $2 == *+ ]]; then
        [ "$(status_of "$1" 'if .roles[-1].role == "primary" then .epoch else 0 end' 2>/dev/null)" -ge "${2%+}" ]
    else
        status_is "$1" '.roles[-1].role + " \(.epoch)"' "primary $2"
    fi
}

# the_one_that_took_over EPOCH NODES...: waits until one of NODES took over at EPOCH and
# prints it; fails if two did.
the_one_that_took_over() {
    local epoch=$1 node winners
    shift
    wait_until --every 0.05 60 "one of $* to take over at epoch $epoch" any_took_over "$epoch" "$@"
    winners=$(for node in "$@"; do took_over_at "$node" "$epoch" && echo "$node"; done | tr '\n' ' ')
    [ "$(wc -w <<<"$winners")" = 1 ] || { echo "FAIL: more than one node took over at epoch $epoch: $winners" >&2; return 1; }
    echo "${winners% }"
}
any_took_over() {
    local epoch=$1 node
    shift
    for node in "$@"; do took_over_at "$node" "$epoch" && return 0; done
    return 1
}

# live_vip_holders: vip_holders among the nodes whose link is up (a crashed node keeps
# its addresses in its namespace, but nothing leaves it).
live_vip_holders() {
    local node out=
    for node in $(vip_holders); do
        ip -n "$(node_ns "$node")" -o link show eth0 | grep -q "state UP" && out+="$node "
    done
    echo "${out% }"
}

# follows NODE LEADER: NODE is a backup whose live stream comes from LEADER.
follows() {
    status_is "$1" '.role + " " + .peers[0].address + " " + .peers[0].state' \
        "backup $(node_ip "$2"):$replication_port live"
}

# crash_leader_follower_takes_over LEADER FOLLOWER N: LEADER crashes hard; FOLLOWER, not
# node A (which lacks the connections), must take over at epoch 3 after the crash,
# rebuilding N connections with none reset, and hold the VIP alone.
crash_leader_follower_takes_over() {
    local leader=$1 follower=$2 expected=$3 second
    crash_node "$leader"
    second=$(the_one_that_took_over 3 "$follower" primary)
    [ "$second" = "$follower" ] || { echo "FAIL: node $second took over at epoch 3, not node $follower" >&2; return 1; }
    wait_node_takeover "$follower" "$expected" 0
    took_over_after "$follower" "$crash_began_us"
    [ "$(live_vip_holders)" = "$follower" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $follower alone" >&2; return 1; }
    show_roles "$follower"
}

# leader_sees_backup LEADER NODE: LEADER, serving, has NODE's stream live (whoever else).
leader_sees_backup() {
    status_is "$1" "[.peers[] | select(.address == \"$(node_ip "$2"):$replication_port\" and .state == \"live\")] | length" 1
}

# leader_sees_backups NODE N: NODE, serving, has N live backups.
leader_sees_backups() { status_is "$1" '[.peers[] | select(.state == "live")] | length' "$2"; }

# start_data_nodes: three data nodes (four with with_fourth=1), failoverd_style=three:
# the echo service on node A (primary), a replica on each other node, failoverd on the
# others first, then on A, which serves at epoch 1 once every other node is its live
# backup; A alone holds the VIP. Logs: service.log, replica-NODE.log, failoverd-NODE.log.
data_backups=()
start_data_nodes() {
    local node
    failoverd_style=three
    data_backups=(backup third ${with_fourth:+fourth})
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    for node in "${data_backups[@]}"; do in_bg "$node" "replica-$node" "$echo_service" --listen 0.0.0.0:$port; done
    wait_until 30 "the echo service on node A" listening "$ns_primary" $port
    for node in "${data_backups[@]}"; do wait_until 30 "the replica on node $node" listening "$(node_ns "$node")" $port; done
    for node in "${data_backups[@]}"; do start_failoverd_on "$node" --ready-file "$work/$node.ready"; done
    start_failoverd_on primary --ready-file "$work/primary.ready"
    for node in primary "${data_backups[@]}"; do wait_until 30 "node $node ready" test -e "$work/$node.ready"; done
    wait_until 30 "node A to see its ${#data_backups[@]} backups live" leader_sees_backups primary ${#data_backups[@]}
    [ "$(vip_holders)" = primary ] || { echo "FAIL: the VIP is held by '$(vip_holders)', not node A alone" >&2; return 1; }
}

# node_id_of NODE: its id in failoverd_style=three (A 1, B 2, C 3, D 4).
node_id_of() { case $1 in primary) echo 1 ;; backup) echo 2 ;; third) echo 3 ;; fourth) echo 4 ;; esac; }

# took_over_after NODE US: NODE's takeover began at or after US (EPOCHREALTIME µs): not
# before the failure that allows it.
took_over_after() {
    local began
    began=$(status_of "$1" .takeover.started_us)
    [ "$began" -ge "$2" ] ||
        { echo "FAIL: node $1 took over $(((${2} - began) / 1000)) ms before the failure" >&2; return 1; }
    echo "  node $1's takeover began $(((began - $2) / 1000)) ms after the failure"
}

# check_election_rank EPOCH WINNER FOLLOWER...: the winner ranked first: one holding
# every connection before one that does not, then the most of the dead primary's stream
# (ties: the lower id; priorities are equal here), from each node's own log line:
# `elected at epoch EPOCH ... (holding N bytes of ...'s stream, every connection)` on the
# winner, `serves at epoch EPOCH; this node follows it ... held N bytes of the previous
# stream, not every connection: ...)` on each follower.
check_election_rank() {
    local epoch=$1 winner=$2 node w f line w_all f_all
    shift 2
    line=$(grep "backup: elected at epoch $epoch by a quorum of" "$work/failoverd-$winner.log" | tail -1)
    w=$(sed -n 's/.*(holding \([0-9]*\) bytes.*/\1/p' <<<"$line")
    [ -n "$w" ] || { echo "FAIL: node $winner did not log its election at epoch $epoch with its log position" >&2; return 1; }
    w_all=0; [[ $line == *", every connection)"* ]] && w_all=1
    echo "  node $winner (id $(node_id_of "$winner")) won at epoch $epoch holding $w bytes of the stream ($([ $w_all = 1 ] && echo "every connection" || echo "not every connection"))"
    for node in "$@"; do
        line=$(grep "serves at epoch $epoch; this node follows it" "$work/failoverd-$node.log" | tail -1)
        f=$(sed -n 's/.*held \([0-9]*\) bytes.*/\1/p' <<<"$line")
        [ -n "$f" ] || { echo "FAIL: node $node did not log that it follows the winner of epoch $epoch" >&2; return 1; }
        f_all=0; [[ $line == *", every connection)"* ]] && f_all=1
        echo "  node $node (id $(node_id_of "$node")) follows it, holding $f bytes ($([ $f_all = 1 ] && echo "every connection" || echo "${line##*stream, }"))"
        if [ "$w_all" != "$f_all" ]; then
            [ "$w_all" = 1 ] && continue
            echo "FAIL: node $node holds every connection and the winner $winner does not" >&2
            return 1
        fi
        if [ "$f" -gt "$w" ] || { [ "$f" = "$w" ] && [ "$(node_id_of "$node")" -lt "$(node_id_of "$winner")" ]; }; then
            echo "FAIL: node $node ranks above the winner $winner (held $f bytes against $w; ids $(node_id_of "$node"), $(node_id_of "$winner"))" >&2
            return 1
        fi
    done
}
