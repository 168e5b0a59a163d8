#!/usr/bin/env bash
# Leases and fencing (issue 9 item 3), a partition that isolates the primary: it is cut
# off from the backup and from the witness while the client still reaches it. It loses
# its lease and falls silent (its egress hook drops every segment from VIP:PORT, the VIP
# goes); the backup is elected by itself and the witness only once the lease has surely
# run out, and takes over. Four connections stream (echo) through it.
#
#      client 192.0.2.1 ──── br0 ──┬── node 1 primary 192.0.2.10, VIP: echo service :7000
#                                  ├── node 2 backup 192.0.2.11: replica :7000
#                                  └── node 3 witness 192.0.2.12: failoverd --witness
#      cut: primary ✕ backup, primary ✕ witness (each told a MAC nobody has for the other)
#
# Checked: at no moment do two nodes send on one connection (a capture on the client,
# the source MAC of every segment per connection: the primary's, then the backup's,
# never interleaved); the backup rebuilt all four; exactly one node holds the VIP at the
# end; every byte verified by the clients; the old primary says silent, lease lost.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd
with_witness=1

scenario() {
    local failures=()
    start_services
    start_failoverd
    local st
    st=$(node_status primary)
    check_json "the primary's lease" "$(jq -c .lease <<<"$st")" ".mode == \"quorum\" and .quorum == 2 and .lease_ms == $lease_ms and .held" \
        "the primary does not hold a quorum lease after its start"
    st=$(node_status witness)
    echo "  witness: $(jq -c '{role, lease: .lease.vote}' <<<"$st")"
    [ "$(jq -r '.role + " " + (.lease.vote.epoch | tostring) + " " + .lease.vote.for' <<<"$st")" = "witness 1 $primary_ip" ] ||
        { echo "FAIL: the witness does not say it granted epoch 1 to the primary" >&2; return 1; }
    start_client_capture
    c_group stream 4 echo --bytes 24M --rate 4 --timeout-s 120
    wait_groups_under_way 60 $((2 << 20)) stream

    echo "=== the primary is cut off from the backup and from the witness; the client still reaches it"
    snapshot_progress
    local before
    before=${EPOCHREALTIME/./}
    cut_link primary backup
    cut_link primary witness
    mark_crash "$before"
    wait_takeover 4
    # Fenced (its lease lapsed; it would speak again only if a quorum granted epoch 1
    # again), or silent for good once it hears of epoch 2 (it cannot: it is cut off).
    wait_until 30 "the old primary to say it is fenced" sh -c \
        "'$failoverctl' --control '$work/primary.sock' status | jq -e '.role == \"fenced\" or .role == \"silent\"' >/dev/null"
    finish_client stream
    check_one_speaker

    st=$(node_status primary)
    echo "  old primary: $(jq -c '{role, lease: {silent: .lease.silent, held: .lease.held}, lease_segments_dropped: .hooks.lease_segments_dropped}' <<<"$st")"
    check_json "the old primary" "$(jq -c .lease <<<"$st")" '.silent | startswith("lease lost at epoch 1")' \
        "the old primary does not say it lost its lease at epoch 1"
    grep -q 'primary: silent: lease lost at epoch 1 (no quorum of 2 renewed it within '"$lease_ms"' ms)' "$work/failoverd-primary.log" ||
        failures+=("the old primary did not log its fall into silence")
    grep -q 'backup: elected at epoch 2 by a quorum of 2' "$work/failoverd-backup.log" ||
        failures+=("the backup did not log its election")
    st=$(node_status witness)
    [ "$(jq -r '(.lease.vote.epoch | tostring) + " " + .lease.vote.for' <<<"$st")" = "2 $backup_ip" ] ||
        failures+=("the witness did not grant epoch 2 to the backup: $(jq -c .lease <<<"$st")")
    [ "$(vip_holders)" = backup ] || failures+=("the VIP is held by '$(vip_holders)', not by the backup alone")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario partition_isolated_primary
