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
# TCPFO_NODES=3 (handover_three_nodes.sh, handover_named_three_nodes.sh): three data
# nodes, no witness (A, B, C; roles_lib.sh, start_data_nodes): a stream of 32 MiB at 10
# MB/s (handed over at 16 MiB), and two
# "old" echo connections beside it, handed over by A to any ready backup (B, the first
# listed) or, with TCPFO_HANDOVER_TO=3, to node 3 (C) by its id. The target must take
# over all three (reason: planned handover) after the handover began; the stream's
# stall must be at most TCPFO_MAX_HANDOVER_STALL_MS (10) ms; the other backup must follow
# the target (its stream live) and keep the old connections, and A must rejoin as a
# backup of the target (without a restart; it lacks the old connections): the target
# is then crashed hard (link cut, SIGKILL) and that other backup must take over both old
# connections (it alone holds every connection: A, with a lower id, must not win) with
# none reset, and the client verify every byte of them to their end.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roles_lib.sh"
require_failoverd
nodes=${TCPFO_NODES:-2}
# The witness namespace holds node C (no witness runs there).
[ "$nodes" != 3 ] || with_witness=1

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
    [ "$nodes" != 3 ] || { scenario_three_nodes; return; }
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

# Three data nodes: A hands over to B or C (TCPFO_HANDOVER_TO), the other follows the
# target and keeps the old connections, which it takes over when the target crashes.
scenario_three_nodes() {
    local to=${TCPFO_HANDOVER_TO:-} max_stall=${TCPFO_MAX_HANDOVER_STALL_MS:-10}
    start_data_nodes
    expect_refused backup "no ready backup: this node is a backup"
    expect_refused third "no ready backup: this node is a backup"
    c_group old 2 echo --seed 700 --bytes 64M --rate 5 --pause-at 48M --resume-file "$work/old.resume" \
        --timeout-s 240
    wait_until 60 "1 MiB echoed on every old connection" progress_at_least "$work/old.progress" slowest $((1 << 20))
    # Its stall is the gap spanning node A's freeze (handover.time, written below): the
    # longest gap overlapping the 5 ms after it, not the half second after failoverctl
    # started, in which the loaded machine's own gaps of 100-400 ms were seen.
    # 10 MB/s, not the two-node form's 40: three data nodes are three stacks, replicas
    # and daemons on two cores, and at 40 MB/s with a CPU hog on one core the other was
    # saturated and the stream alone had 10-60 ms gaps: a 10 ms goal then measures the
    # scheduler (at 10 MB/s: 4-12 ms, and the handover's own 0-6 ms, 17-20 prompted).
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 32M --rate 10 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/handover.time" \
        --crash-window-ms 5 --label stream --report-gaps-ms 3 ${TCPFO_CLIENT_ARGS:-}
    wait_until 60 "16 MiB echoed (halfway)" progress_at_least "$work/stream.progress" verified $((16 << 20))

    echo "=== planned handover of node A to ${to:-any ready backup}"
    snapshot_progress
    say primary "failoverctl handover ${to}"
    local before after
    before=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    "$failoverctl" --control "$work/primary.sock" handover $to >"$work/handover.out" 2>&1 ||
        { echo "FAIL: failoverctl handover $to: $(cat "$work/handover.out")" >&2; return 1; }
    after=${EPOCHREALTIME/./}
    mark_crash "$before"
    echo "  failoverctl handover $to -> $(cat "$work/handover.out") ($(((after - before) / 1000)) ms)"
    # The freeze: node A logs its handover with the time it took from the freeze.
    local line at took
    line=$(grep -m1 'primary: handed over .* in [0-9]* us' "$work/failoverd-primary.log") ||
        { echo "FAIL: node A did not log its handover" >&2; return 1; }
    at=${line%% *} took=$(sed 's/.* in \([0-9]*\) us .*/\1/' <<<"$line")
    echo "$(( ${at/./} - took ))000" >"$work/handover.time"
    echo "  node A froze $(( (${at/./} - took - before) / 1000 )) ms after failoverctl started"
    local target follower
    target=$(node_at "$(jq -r '.to | split(":")[0]' "$work/handover.out")")
    case $target in backup) follower=third ;; third) follower=backup ;;
        *) echo "FAIL: the handover went to '$(cat "$work/handover.out")', neither B nor C" >&2; return 1 ;; esac
    # Any: the first ready backup listed (B); node 3: C.
    local want=backup
    [ "$to" != 3 ] || want=third
    [ "$target" = "$want" ] || { echo "FAIL: handed over to node $target, not node $want" >&2; return 1; }
    wait_node_takeover "$target" 3 0
    took_over_after "$target" "$before"
    local st
    st=$(node_status "$target")
    jq -e '.takeover.reason | startswith("planned handover from the primary")' <<<"$st" >/dev/null ||
        { echo "FAIL: node $target's takeover reason: $(jq -c .takeover.reason <<<"$st")" >&2; return 1; }
    echo "  node $target: $(jq -r '.takeover | "VIP claimed at \(.claimed_ms), serving at \(.serving_ms) ms; \(.prompted) prompted"' <<<"$st"); roles $(jq -r '[.roles[] | "\(.role)@\(.epoch)"] | join(" -> ")' <<<"$st")"
    wait_until 30 "node $follower to follow node $target" follows "$follower" "$target"
    wait_until 30 "node $target to see node $follower live" leader_sees_backup "$target" "$follower"
    grep 'connection(s) resumed by\|this node follows it' "$work/failoverd-$follower.log" | sed 's/^/  '"$follower"': /' || true
    finish_client stream
    # The gap spanning the freeze may have begun before it (a client or service not
    # running on the loaded machine): the handover's part is from the freeze on.
    local stall gap_from caused
    stall=$(client_field stream crash_stall_ms) gap_from=$(client_field stream crash_gap_from_ms)
    caused=$(awk -v s="$stall" -v f="$gap_from" 'BEGIN { printf "%.1f", f < 0 ? s + f : s }')
    echo "  the handover's stall: $caused ms from node A's freeze to the next byte (the gap spanning it: $stall ms, from $gap_from ms)"
    stalls[-1]="stream=$caused"
    # A client prompted to resend (bytes that reached node A after its last drain, before
    # the gratuitous ARP moved its traffic) waits for its own TCP timer first, max(srtt/2,
    # 10 ms) (testing.md, handover.sh): 10 ms more are allowed then, and said.
    local prompted
    prompted=$(jq -r .takeover.prompted <<<"$st")
    if [ "$prompted" != 0 ]; then
        max_stall=$((max_stall + 10))
        echo "  (node $target prompted $prompted client(s) to resend: at most $max_stall ms)"
    fi
    # A goal below what the machine does to the stream by itself cannot be measured: in
    # a run whose stream had a gap longer than the goal before the handover (a CPU hog
    # beside it: 17-26 ms gaps seen with no handover near, and as long after it), such a
    # gap may land on the handover too, so it is added to the bound, and said. A client
    # left to its retransmission timer (200 ms and more) still fails.
    local noise goal=${TCPFO_MAX_HANDOVER_STALL_MS:-10}
    noise=$(client_field stream pre_crash_gap_ms)
    if awk -v n="$noise" -v g="$goal" 'BEGIN { exit !(n != "" && n + 0 > g + 0) }'; then
        max_stall=$(awk -v m="$max_stall" -v n="$noise" 'BEGIN { printf "%.1f", m + n }')
        echo "  (the stream's own longest gap before the handover was $noise ms, above the goal: at most $max_stall ms)"
    fi
    awk -v s="$caused" -v m="$max_stall" 'BEGIN { exit !(s != "" && s + 0 <= m + 0) }' ||
        { echo "FAIL: the handover stalled the client $caused ms from node A's freeze (at most $max_stall ms allowed)" >&2; return 1; }
    [ "$(live_vip_holders)" = "$target" ] || { echo "FAIL: the VIP is held by '$(live_vip_holders)', not node $target alone" >&2; return 1; }
    # Handed over, A rejoins as a backup of the node it handed to, without a restart.
    wait_until 30 "node A to rejoin as a backup of node $target" follows primary "$target"
    # The two old connections (and the stream, if still listed) are protected by the follower.
    echo "  node $target's connections: $(status_of "$target" '[.connections[] | {id, phase, protected, client}]' | jq -c .)"
    status_of "$target" '[.connections[] | select(.protected)] | length' | grep -qx '[23]' ||
        { echo "FAIL: node $target does not protect the old connections" >&2; return 1; }

    echo "=== hard crash of node $target: node $follower must take over the old connections"
    read_progress old
    wait_until 60 "4 MiB more echoed on every old connection" \
        progress_at_least "$work/old.progress" slowest $((progress[slowest] + (4 << 20)))
    crash_leader_follower_takes_over "$target" "$follower" 2
    : >"$work/old.resume"
    finish_client old
}

run_scenario "${TCPFO_SCENARIO_NAME:-handover}"
