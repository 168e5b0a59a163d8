#!/usr/bin/env bash
# Health checks (issue 9, item 7): both nodes check their own HTTP service (a small
# python3 server on 127.0.0.1:8080 in each namespace that answers 503 while a flag file
# exists), described in the config files ([[check]] tables).
#
#      client 192.0.2.1 ──── br0 ──┬── node 1 192.0.2.10, VIP 192.0.2.100: echo service :7000,
#                                  │     health service 127.0.0.1:8080, failoverd --config primary.toml
#                                  └── node 2 192.0.2.11: replica :7000, health service 127.0.0.1:8080,
#                                        failoverd --config backup.toml
#
# One connection streams 64 MiB each way (echo). At 32 MiB the primary's service starts
# answering 503: after `fall` failures its check goes down and the primary hands over
# to its backup (the planned-handover path); the client verifies every byte in order
# and sees no reset. The old primary's status shows the check down with reason
# "HTTP 503", and its notify FIFO said INSTANCE ... FAULT.
# TCPFO_HEALTH_FAILING=backup (health_ineligible_backup.sh): the backup's service
# answers 503 from the start instead. The backup says it is not eligible (its status,
# the primary's view of it, a handover asked of the primary is refused); at 32 MiB
# the primary crashes hard, and the backup does NOT take over (it logs why). Once its
# service answers 200 again it is eligible, the primary is still dead, and it takes
# over then: the stream resumes, every byte verified.
# TCPFO_HEALTH_FAILING=both (health_no_eligible_backup.sh): the backup's service answers
# 503 from the start, then at 32 MiB the primary's does too: with no eligible backup
# the primary logs it and keeps serving (the stream goes on through it); once the
# backup's service answers 200 again, the backup says it is eligible and the primary
# hands over to it then; every byte verified.
# TCPFO_NODES=3: three data nodes, no witness (A, B, C: priorities 200, 150, 100; every
# node checks its own service; roles_lib.sh). TCPFO_HEALTH_FAILING=primary
# (health_handover_three_nodes.sh): B's service answers 503 from the start (not
# eligible), then at 32 MiB A's does too: A must hand over to the healthy backup, C,
# skipping B; C takes over (planned handover), B follows C; every byte verified.
# TCPFO_HEALTH_FAILING=backup (health_ineligible_backup_three_nodes.sh): B's service
# answers 503 from the start; at 32 MiB A crashes hard: B, which would rank above C
# (priority 150 against 100), declines, and C must be elected and take over; B follows
# C and never takes over; every byte verified.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
require_failoverd
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the health service"; exit 77; }
nodes=${TCPFO_NODES:-2}
# The witness namespace holds node C (no witness runs there).
[ "$nodes" != 3 ] || with_witness=1

health_port=8080

# write_config NODE ID: the symmetric form with a health check of the node's service
# and a notify FIFO.
write_config() {
    local node=$1 id=$2 mode='two_node = true' nodes_3=''
    if [ "$nodes" = 3 ]; then
        mode="lease_ms = $lease_ms"
        nodes_3=$(printf '\npriority = 150\n\n[[node]]\nid = 3\naddress = "%s"\npriority = 100' "$witness_ip")
    fi
    cat >"$work/$node.toml" <<TOML
id = $id
vip = "$vip/24"
dev = "eth0"
port = $port
replica = "127.0.0.1:$port"
$mode
notify_fifo = "$work/$node.fifo"

[[node]]
id = 1
address = "$primary_ip:$replication_port"
priority = 200

[[node]]
id = 2
address = "$backup_ip"$nodes_3

[[check]]
name = "web"
type = "http"
target = "127.0.0.1:$health_port"
path = "/health"
status = 200
body_contains = "ok"
interval_ms = 100
connect_timeout_ms = 200
receive_timeout_ms = 300
fall = 3
rise = 2
TOML
}

# The health service: 200 "ok" unless FLAG exists, then 503.
start_health_service() {
    local node=$1
    cat >"$work/health_service.py" <<'PY'
import http.server, os, sys
flag = sys.argv[2]
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        down = os.path.exists(flag)
        body = b"down\n" if down else b"ok\n"
        self.send_response(503 if down else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
PY
    in_bg "$node" "health-$node" python3 "$work/health_service.py" $health_port "$work/$node.down"
}

# fifo_reader NODE: keeps what failoverd writes on NODE's notify FIFO in NODE-notify.log.
fifo_reader() {
    local node=$1
    mkfifo "$work/$node.fifo"
    # cat reopens nothing: a writer that comes and goes would end it; this loop does not.
    in_bg "$node" "$node-notify" sh -c "while :; do cat '$work/$node.fifo'; done"
}

status_field() { node_status "$1" | jq -r "$2"; }
field_is() { [ "$(status_field "$1" "$2" 2>/dev/null)" = "$3" ]; }

scenario() {
    [ "$nodes" != 3 ] || { scenario_three_nodes; return; }
    failoverd_style=symmetric
    write_config primary 1
    write_config backup 2
    local verdict
    verdict=$("$failoverd" --config-test "$work/backup.toml")
    echo "  $verdict"
    [[ $verdict == *"starts as backup, 1 health check(s))" ]] || { echo "FAIL: --config-test said '$verdict'" >&2; return 1; }
    [ "${TCPFO_HEALTH_FAILING:-primary}" = primary ] || : >"$work/backup.down"
    start_services
    start_health_service primary
    start_health_service backup
    wait_until 30 "the primary's health service" listening "$ns_primary" $health_port
    wait_until 30 "the backup's health service" listening "$ns_backup" $health_port
    fifo_reader primary
    fifo_reader backup
    start_failoverd
    wait_until 10 "the primary's check up with a result" field_is primary '.health.checks[0].last_result' success
    case ${TCPFO_HEALTH_FAILING:-primary} in
        backup) backup_fails ;;
        both) both_fail ;;
        *) primary_fails ;;
    esac
}

# The primary's service answers 503 halfway through the stream: it hands over.
primary_fails() {
    wait_until 10 "the primary to hear its backup is eligible" field_is primary '.peers[0].eligible' true
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --rate 40 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream \
        --report-gaps-ms 3
    wait_until 60 "32 MiB echoed (halfway)" progress_at_least "$work/stream.progress" verified $((32 << 20))
    echo "=== the primary's service answers 503"
    snapshot_progress
    mark_crash "${EPOCHREALTIME/./}"
    say primary ": > primary.down"
    : >"$work/primary.down"
    wait_takeover 1
    local st
    st=$(node_status backup)
    jq -e '.takeover.reason | startswith("planned handover from the primary")' <<<"$st" >/dev/null ||
        { echo "FAIL: the backup's takeover reason: $(jq -c .takeover.reason <<<"$st")" >&2; return 1; }
    finish_client stream
    grep -q "failed its health check (check web: HTTP 503); handing over to $backup_ip" "$work/failoverd-primary.log" ||
        { echo "FAIL: the primary did not log the handover with the check's name and reason" >&2; return 1; }
    grep 'failed its health check' "$work/failoverd-primary.log" | sed 's/^/  /'
    handed_over_or_rejoined primary ||
        { echo "FAIL: the old primary is $(status_field primary .role), neither handed-over nor rejoined" >&2; return 1; }
    # Handed over, or rejoined as a backup whose replica (the same service) fails the
    # same check: either way its status shows the check down with the reason.
    check_down_503() {
        node_status primary 2>/dev/null | jq -e '.health.eligible == false and
           .health.checks[0].name == "web" and .health.checks[0].state == "down" and
           .health.checks[0].reason == "HTTP 503" and .health.checks[0].last_result == "failure"' >/dev/null
    }
    wait_until 10 "the old primary's status to show its check down with HTTP 503" check_down_503
    echo "  old primary: $(node_status primary | jq -c '{role, health}')"
    if ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/"; then
        echo "FAIL: the old primary still holds $vip" >&2
        return 1
    fi
    wait_until 5 "the FIFO lines of the primary" log_has primary-notify 'INSTANCE "tcpfo" FAULT 200'
    echo "  primary's notify FIFO: $(tr '\n' '|' <"$work/primary-notify.log")"
    grep -q 'CHECK "web" DOWN "HTTP 503"' "$work/primary-notify.log" ||
        { echo "FAIL: the primary's FIFO did not say CHECK web DOWN" >&2; return 1; }
    log_has backup-notify 'INSTANCE "tcpfo" MASTER 100' ||
        { echo "FAIL: the backup's FIFO did not say MASTER" >&2; return 1; }
}

# Both services fail: the primary keeps serving until its backup is eligible again,
# then hands over.
both_fail() {
    wait_until 10 "the primary to hear its backup is not eligible" field_is primary '.peers[0].eligible' false
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --rate 40 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream
    wait_until 60 "16 MiB echoed" progress_at_least "$work/stream.progress" verified $((16 << 20))
    echo "=== the primary's service answers 503 too"
    say primary ": > primary.down"
    : >"$work/primary.down"
    wait_until 10 "the primary to say it keeps serving" log_has failoverd-primary "still serving"
    grep 'failed its health check' "$work/failoverd-primary.log" | sed 's/^/  /'
    grep -q "failed its health check (check web: HTTP 503); no ready backup: $backup_ip:$replication_port is not eligible (check web: HTTP 503); still serving" \
        "$work/failoverd-primary.log" || { echo "FAIL: the primary's line does not say why it keeps serving" >&2; return 1; }
    # Still the primary, and the stream goes on through it.
    wait_until 60 "32 MiB echoed (through the primary whose check is down)" \
        progress_at_least "$work/stream.progress" verified $((32 << 20))
    local st
    st=$(node_status primary)
    jq -e '.role == "primary" and .health.eligible == false' <<<"$st" >/dev/null ||
        { echo "FAIL: the primary without an eligible backup: $(jq -c '{role, health}' <<<"$st")" >&2; return 1; }
    echo "=== the backup's service answers 200 again"
    snapshot_progress
    mark_crash "${EPOCHREALTIME/./}"
    say backup "rm backup.down"
    rm "$work/backup.down"
    wait_takeover 1
    finish_client stream
    grep -q "handing over to $backup_ip" "$work/failoverd-primary.log" ||
        { echo "FAIL: the primary did not hand over once its backup was eligible" >&2; return 1; }
    grep 'handing over to\|eligible again' "$work/failoverd-primary.log" | sed 's/^/  /'
    handed_over_or_rejoined primary || { echo "FAIL: the old primary is $(status_field primary .role), neither handed-over nor rejoined" >&2; return 1; }
}

# The backup's service answers 503 from the start: it is not eligible, and does not
# take over the primary's crash until its service is healthy again.
backup_fails() {
    wait_until 10 "the backup's check down" field_is backup '.health.eligible' false
    wait_until 10 "the primary to hear its backup is not eligible" field_is primary '.peers[0].eligible' false
    local st rc=0 out
    st=$(node_status primary)
    echo "  primary's view of its backup: $(jq -c '.peers[0] | {address, state, eligible, ineligible_reason}' <<<"$st")"
    [ "$(jq -r '.peers[0].ineligible_reason' <<<"$st")" = "check web: HTTP 503" ] ||
        { echo "FAIL: the primary does not say why its backup is not eligible" >&2; return 1; }
    out=$("$failoverctl" --control "$work/primary.sock" handover 2>&1 >/dev/null) || rc=$?
    echo "  failoverctl handover on the primary -> exit $rc: $out"
    [ $rc = 1 ] && [[ $out == *"is not eligible (check web: HTTP 503)"* ]] ||
        { echo "FAIL: a handover to the ineligible backup was not refused" >&2; return 1; }
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --rate 40 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream
    wait_until 60 "32 MiB echoed (halfway)" progress_at_least "$work/stream.progress" verified $((32 << 20))
    crash_primary
    wait_until 10 "the backup to say it is not eligible to take over" \
        log_has failoverd-backup "but this node is not eligible to take over (check web: HTTP 503); not taking over"
    grep 'not eligible to take over' "$work/failoverd-backup.log" | sed 's/^/  /'
    # Well past the verdict (3 heartbeats of 10 ms): still a backup, without the VIP.
    nap 1
    st=$(node_status backup)
    echo "  backup 1 s after the crash: $(jq -c '{role, health: {eligible: .health.eligible, reason: .health.reason}}' <<<"$st")"
    jq -e '.role == "backup" and (.takeover == null)' <<<"$st" >/dev/null ||
        { echo "FAIL: the ineligible backup took over" >&2; return 1; }
    if ip -n "$ns_backup" -4 -o addr show dev eth0 | grep -q " $vip/"; then
        echo "FAIL: the ineligible backup claimed $vip" >&2
        return 1
    fi
    log_has backup-notify 'INSTANCE "tcpfo" FAULT 100' || { echo "FAIL: the backup's FIFO did not say FAULT" >&2; return 1; }
    echo "=== the backup's service answers 200 again"
    say backup "rm backup.down"
    rm "$work/backup.down"
    wait_takeover 1
    finish_client stream
    grep -q "declined then, the replica's checks pass now" "$work/failoverd-backup.log" ||
        { echo "FAIL: the backup's takeover does not say it was declined first" >&2; return 1; }
}

# Three data nodes, each checking its own service; B's fails from the start.
scenario_three_nodes() {
    local node
    failoverd_style=symmetric
    write_config primary 1
    write_config backup 2
    write_config third 3
    local verdict
    verdict=$("$failoverd" --config-test "$work/third.toml")
    echo "  $verdict"
    [[ $verdict == *"starts as backup, 1 health check(s))" ]] || { echo "FAIL: --config-test said '$verdict'" >&2; return 1; }
    : >"$work/backup.down"
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    b_bg replica "$echo_service" --listen 0.0.0.0:$port
    in_bg third replica-third "$echo_service" --listen 0.0.0.0:$port
    for node in primary backup third; do
        wait_until 30 "the echo service on node $node" listening "$(node_ns "$node")" $port
        start_health_service $node
        wait_until 30 "node $node's health service" listening "$(node_ns "$node")" $health_port
        fifo_reader $node
    done
    start_failoverd_on backup --ready-file "$work/backup.ready"
    start_failoverd_on third --ready-file "$work/third.ready"
    start_failoverd_on primary --ready-file "$work/primary.ready"
    for node in primary backup third; do wait_until 30 "node $node ready" test -e "$work/$node.ready"; done
    wait_until 30 "node A to see both backups live" leader_sees_backups primary 2
    [ "$(vip_holders)" = primary ] || { echo "FAIL: the VIP is held by '$(vip_holders)', not node A alone" >&2; return 1; }
    wait_until 10 "node A's check up with a result" field_is primary '.health.checks[0].last_result' success
    wait_until 10 "node B's check down" field_is backup '.health.eligible' false
    local b_view="[.peers[] | select(.address == \"$backup_ip:$replication_port\")][0]"
    local c_view="[.peers[] | select(.address == \"$witness_ip:$replication_port\")][0]"
    wait_until 10 "node A to hear node B is not eligible" field_is primary "$b_view.eligible" false
    wait_until 10 "node A to hear node C is eligible" field_is primary "$c_view | .state + \" \(.eligible)\"" "live true"
    echo "  node A's view of its backups: $(status_field primary '[.peers[] | {address, state, eligible, ineligible_reason}]' | jq -c .)"
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --rate 40 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream \
        --report-gaps-ms 3
    wait_until 60 "32 MiB echoed (halfway)" progress_at_least "$work/stream.progress" verified $((32 << 20))
    local st
    if [ "${TCPFO_HEALTH_FAILING:-primary}" = backup ]; then
        crash_primary
        wait_until 10 "node B to say it is not eligible to take over" \
            log_has failoverd-backup "but this node is not eligible to take over (check web: HTTP 503); not taking over"
        grep 'not eligible to take over' "$work/failoverd-backup.log" | sed 's/^/  B: /'
        local winner
        winner=$(the_one_that_took_over 2 backup third)
        [ "$winner" = third ] || { echo "FAIL: node $winner took over; node B's replica fails its check" >&2; return 1; }
        wait_node_takeover third 1 0
        took_over_after third "$crash_began_us"
        st=$(node_status backup)
        echo "  node B after the takeover: $(jq -c '{role, takeover, health: {eligible: .health.eligible, reason: .health.reason}, log_position: .lease}' <<<"$st" | cut -c1-400)"
        jq -e '.role == "backup" and (.takeover == null)' <<<"$st" >/dev/null ||
            { echo "FAIL: the ineligible node B took over" >&2; return 1; }
        # What B would have ranked: its log and priority against C's (the winner's log line).
        grep -h 'elected at epoch 2\|serves at epoch 2; this node follows it' "$work/failoverd-third.log" \
            "$work/failoverd-backup.log" | sed 's/^/  /' || true
    else
        echo "=== node A's service answers 503"
        snapshot_progress
        mark_crash "${EPOCHREALTIME/./}"
        say primary ": > primary.down"
        : >"$work/primary.down"
        wait_node_takeover third 1 0
        took_over_after third "$crash_began_us"
        st=$(node_status third)
        jq -e '.takeover.reason | startswith("planned handover from the primary")' <<<"$st" >/dev/null ||
            { echo "FAIL: node C's takeover reason: $(jq -c .takeover.reason <<<"$st")" >&2; return 1; }
        grep -q "failed its health check (check web: HTTP 503); handing over to $witness_ip" "$work/failoverd-primary.log" ||
            { echo "FAIL: node A did not log its handover to node C with the check's name and reason" >&2; return 1; }
        grep 'failed its health check' "$work/failoverd-primary.log" | sed 's/^/  A: /'
        handed_over_or_rejoined primary || { echo "FAIL: node A is neither handed-over nor rejoined" >&2; return 1; }
        wait_until 5 "node A's FIFO to say FAULT" log_has primary-notify 'INSTANCE "tcpfo" FAULT 200'
        log_has third-notify 'INSTANCE "tcpfo" MASTER 100' || { echo "FAIL: node C's FIFO did not say MASTER" >&2; return 1; }
        [ "$(status_field backup '.takeover')" = null ] || { echo "FAIL: node B took over too" >&2; return 1; }
    fi
    wait_until 30 "node B to follow node C" follows backup third
    [ "$(live_vip_holders)" = third ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node C alone" >&2; return 1; }
    show_roles third
    show_roles backup
    finish_client stream
}

if [ "$nodes" = 3 ]; then
    case ${TCPFO_HEALTH_FAILING:-primary} in
        backup) run_scenario health_ineligible_backup_three_nodes ;;
        *) run_scenario health_handover_three_nodes ;;
    esac
else
    case ${TCPFO_HEALTH_FAILING:-primary} in
        backup) run_scenario health_ineligible_backup ;;
        both) run_scenario health_no_eligible_backup ;;
        *) run_scenario health_handover ;;
    esac
fi
