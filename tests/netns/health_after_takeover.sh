#!/usr/bin/env bash
# A node that took over acts on its health checks as any primary does (issue 9, items
# 4 and 7). Node A (priority 200) crashes; node B takes over at epoch 2 and becomes
# the primary of new connections. B checks its service with a script (`test ! -e
# FILE`). A restarts and joins B as its backup (no --preempt). Two connections opened
# after A joined stream through B, protected by A. Then FILE appears: B's check goes
# down, B hands over to its eligible backup A (the planned handover), A takes over at
# epoch 3 rebuilding both, and the client verifies every byte with no reset.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1, priority 200)
#                                  └── node B 192.0.2.11 (node 2, priority 100, a [[check]])
#
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
require_failoverd

scenario() {
    write_role_config primary 1
    write_role_config backup 2 "[[check]]
name = \"service\"
type = \"script\"
script = \"/usr/bin/test ! -e $work/backup.down\"
interval_ms = 50
fall = 1
rise = 1"
    start_services
    start_pair
    crash_node primary
    wait_node_takeover backup 0 0
    wait_until 30 "node B to act as the primary at epoch 2" status_is backup '.roles[-1].role + " \(.epoch)"' "primary 2"
    restart_node primary
    wait_until 30 "node A to join B as its backup (stream live)" test -e "$work/primary.ready"
    wait_until 30 "node B to see its backup live" peer_live backup

    echo "=== two connections opened after A joined"
    c_group new 2 echo --bytes 64M --rate 20 --timeout-s 120
    wait_until 60 "16 MiB echoed on every connection" progress_at_least "$work/new.progress" slowest $((16 << 20))
    status_is backup '[.connections[] | select(.protected)] | length' 2 ||
        { echo "FAIL: node B does not protect the two connections" >&2; return 1; }

    echo "=== node B's service fails its check"
    snapshot_progress
    mark_crash "${EPOCHREALTIME/./}"
    say backup ": > backup.down"
    : >"$work/backup.down"
    wait_node_takeover primary 2 0
    grep -q "failed its health check (check service: .*); handing over to 192.0.2.10:$replication_port" \
        "$work/failoverd-backup.log" || { echo "FAIL: node B did not log the handover for its check" >&2; return 1; }
    wait_until 10 "node B to be handed-over (or rejoined as a backup since)" handed_over_or_rejoined backup
    wait_until 30 "node A to act as the primary at epoch 3" status_is primary '.roles[-1].role + " \(.epoch)"' "primary 3"
    show_roles backup
    show_roles primary
    finish_client new
}

run_scenario health_after_takeover
