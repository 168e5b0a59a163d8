#!/usr/bin/env bash
# The old primary returns (issue 9, item 5). Node A (priority 200) crashes and node B
# (priority 100) takes over at epoch 2. A restarts: it hears B serve and joins it as a
# backup, although its priority is higher.
#
#      client 192.0.2.1 ──── br0 ──┬── node A 192.0.2.10 (node 1, priority 200)
#                                  └── node B 192.0.2.11 (node 2, priority 100)
#
# With --preempt (this script): A asks for the role back once it has caught up. A's
# health check (a script: `test -e FILE`, starting down) keeps it not eligible, hence
# not caught up, until two connections opened after it joined are streaming through B
# and replicated to A; then the file appears, A's check passes, A asks, and B hands
# over (the planned handover: egress frozen, VIP removed, HANDOVER). A takes over at
# epoch 3: both streams continue with every byte verified and no reset. B, handed over,
# rejoins as A's backup without a restart; its roles read backup, taking-over, primary,
# handed-over, backup.
# TCPFO_PREEMPT=0 (rejoin_no_preempt.sh): A rejoins without --preempt, with the same
# check, which passes from the start: the streams run to their end through B, A stays
# its backup all along (one role in its history), B stays the primary.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
require_failoverd

preempt=${TCPFO_PREEMPT:-1}

scenario() {
    write_role_config primary 1
    write_role_config backup 2
    start_services
    start_pair
    crash_node primary
    wait_node_takeover backup 0 0
    wait_until 30 "node B to act as the primary at epoch 2" status_is backup '.roles[-1].role + " \(.epoch)"' "primary 2"

    # A's config from now on: a check that passes once $work/gate exists.
    write_role_config primary 1 "[[check]]
name = \"gate\"
type = \"script\"
script = \"/usr/bin/test -e $work/gate\"
interval_ms = 50
fall = 1
rise = 1
init_fail = true"
    local -a flags=()
    if [ "$preempt" = 1 ]; then flags=(--preempt); else : >"$work/gate"; fi
    restart_node primary "${flags[@]}"
    wait_until 30 "node A to join B as its backup (stream live)" test -e "$work/primary.ready"
    wait_until 30 "node B to see its backup live" peer_live backup
    status_is primary .role backup || { echo "FAIL: node A is $(status_of primary .role), not backup" >&2; return 1; }
    grep -q "joined: a peer serves at epoch 2" "$work/failoverd-primary.log" ||
        { echo "FAIL: node A did not say it joined a peer serving at epoch 2" >&2; return 1; }

    echo "=== two connections opened after A joined"
    c_group new 2 echo --bytes 64M --rate 20 --timeout-s 120
    wait_until 60 "16 MiB echoed on every connection" progress_at_least "$work/new.progress" slowest $((16 << 20))
    local st
    st=$(node_status backup)
    jq -e '[.connections[] | select(.protected)] | length == 2' >/dev/null <<<"$st" ||
        { echo "FAIL: node B does not protect the two connections: $(jq -c '[.connections[] | {id, phase, protected}]' <<<"$st")" >&2; return 1; }
    # Not eligible yet (preempt) or not preempting: A is still B's backup.
    status_is primary .role backup || { echo "FAIL: node A is $(status_of primary .role) before its check passed" >&2; return 1; }

    if [ "$preempt" = 1 ]; then
        echo "=== A's check passes: it has caught up and preempts"
        snapshot_progress
        mark_crash "${EPOCHREALTIME/./}"
        say primary ": > gate"
        : >"$work/gate"
        wait_node_takeover primary 2 0
        wait_until 30 "node A to act as the primary at epoch 3" status_is primary '.roles[-1].role + " \(.epoch)"' "primary 3"
        grep -q "asks for a planned handover" "$work/failoverd-backup.log" ||
            { echo "FAIL: node B did not log A's request" >&2; return 1; }
        # Preempted, B rejoins as A's backup without a restart (two detection times after
        # A serves at epoch 3).
        wait_until 30 "node B to rejoin as node A's backup" follows backup primary
        [ "$(status_of backup '[.roles[].role] | join(" ")')" = "backup taking-over primary handed-over backup" ] ||
            { echo "FAIL: node B's roles: $(status_of backup '[.roles[].role] | join(" ")')" >&2; return 1; }
        show_roles primary
        show_roles backup
        finish_client new
        ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: node A does not hold the VIP" >&2; return 1; }
        ! ip -n "$ns_backup" -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: node B still holds the VIP" >&2; return 1; }
    else
        finish_client new
        # The streams ran to their end through B: A never asked, B never handed over.
        status_is primary .role backup || { echo "FAIL: node A is $(status_of primary .role), not backup" >&2; return 1; }
        [ "$(status_of primary '.roles | length')" = 1 ] || { echo "FAIL: node A changed role: $(status_of primary .roles)" >&2; return 1; }
        status_is backup .role taken-over-primary || { echo "FAIL: node B is $(status_of backup .role)" >&2; return 1; }
        ! grep -q "asks for a planned handover" "$work/failoverd-backup.log" || { echo "FAIL: node A asked for the role" >&2; return 1; }
        show_roles primary
        show_roles backup
    fi
}

run_scenario "rejoin_$([ "$preempt" = 1 ] && echo preempt || echo no_preempt)"
