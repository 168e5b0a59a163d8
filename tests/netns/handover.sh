#!/usr/bin/env bash
# A planned handover (`failoverctl handover`) in the middle of a stream: one connection
# streams 64 MiB each way (echo); at 32 MiB echoed the primary is asked to hand over.
# It freezes its egress, sends the backup every client byte it has, removes the VIP and
# sends HANDOVER; the backup takes over at once (no detection wait). The client verifies
# every byte in order and must see no reset; its stall is the gap spanning the handover.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# Also: a handover asked of the backup is refused with one line and changes nothing;
# afterwards the old primary says handed-over, holds no VIP, counts what its frozen
# egress dropped (frozen_segments_dropped), and refuses a second handover.
# TCPFO_HANDOVER_BY=sigterm (handover_sigterm.sh): the handover is SIGTERM to the
# primary's failoverd instead, which hands over on the way out and exits (its status is
# gone then: only the VIP is checked on the old primary).
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

# expect_refused NODE WHAT: `failoverctl handover` on NODE exits 1 with one line on
# stderr that mentions WHAT.
expect_refused() {
    local node=$1 what=$2 rc=0 out
    out=$("$failoverctl" --control "$work/$node.sock" handover 2>&1 >/dev/null) || rc=$?
    echo "  failoverctl handover on the $node -> exit $rc: $out"
    [ $rc = 1 ] || { echo "FAIL: expected exit 1" >&2; return 1; }
    [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL: expected one line on stderr" >&2; return 1; }
    grep -q -- "$what" <<<"$out" || { echo "FAIL: the line does not mention '$what'" >&2; return 1; }
}

scenario() {
    start_services
    start_failoverd
    # Before the stream, so that its forks do not stall the client just before the
    # handover: the backup has no backup, so it refuses, and goes on as a backup.
    expect_refused backup "no ready backup: this node is a backup"
    [ "$(node_status backup | jq -r .role)" = backup ] || { echo "FAIL: the refused backup changed role" >&2; return 1; }
    local pid
    pid=$(primary_failoverd_pid)
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --rate 40 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream \
        --report-gaps-ms 3 ${TCPFO_CLIENT_ARGS:-}
    wait_until 60 "32 MiB echoed (halfway)" progress_at_least "$work/stream.progress" verified $((32 << 20))

    if [ "${TCPFO_HANDOVER_BY:-failoverctl}" = sigterm ]; then
        sigterm_handover_primary "$pid"
    else
        handover_primary
        grep -q "\"to\":\"$backup_ip:" "$work/handover.out" ||
            { echo "FAIL: the answer does not name the backup $backup_ip" >&2; return 1; }
    fi
    wait_takeover 1
    local st
    st=$(node_status backup)
    jq -e '.takeover.reason | startswith("planned handover from the primary")' <<<"$st" >/dev/null ||
        { echo "FAIL: the backup's takeover reason: $(jq -c .takeover.reason <<<"$st")" >&2; return 1; }
    # Its log shows every receive gap of 3 ms or more with the bytes received before it:
    # the handover came once 32 MiB (33,554,432) were echoed, so the gap that begins just
    # past that is the handover's; crash_stall_ms is the longest in the half second after.
    finish_client stream

    if ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/"; then
        echo "FAIL: the old primary still holds $vip" >&2
        return 1
    fi
    b ip -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: the backup does not hold $vip" >&2; return 1; }
    [ "${TCPFO_HANDOVER_BY:-failoverctl}" != sigterm ] || return 0
    # The old primary: silent, and it stays so.
    st=$(node_status primary)
    echo "  old primary: $(jq -c '{role, peers: [.peers[] | {address, state}], frozen_segments_dropped: .hooks.frozen_segments_dropped}' <<<"$st")"
    handed_over_or_rejoined primary || { echo "FAIL: the old primary's role is $(jq -r .role <<<"$st"), neither handed-over nor rejoined" >&2; return 1; }
    # Present, not necessarily above 0: once the VIP is gone the kernel no longer routes
    # the old sockets' segments (their source is not local), so only what they sent
    # between the freeze and the VIP's removal (~0.1 ms) reaches the egress hook.
    jq -e '.hooks.frozen_segments_dropped >= 0' <<<"$st" >/dev/null ||
        { echo "FAIL: the old primary's status has no frozen_segments_dropped counter" >&2; return 1; }
    expect_refused primary "has handed over to $backup_ip"
}

run_scenario handover
