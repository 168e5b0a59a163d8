#!/usr/bin/env bash
# Leases and fencing (issue 9 item 3), a partition between the two nodes only: the
# primary is cut off from the backup but still reaches the witness (and the client).
# It keeps its lease (the witness renews it), so the backup, which lost its primary,
# must NOT take over: it campaigns, and the witness refuses it as long as its promise
# to the primary is renewed. Four connections stream (echo) through the primary: once
# it gives up its unreachable backup they go on unprotected, every byte verified. Then
# the link heals: the primary's new stream reaches the backup, which stops campaigning
# and is its backup again.
#
#      client 192.0.2.1 ──── br0 ──┬── node 1 primary 192.0.2.10, VIP: echo service :7000
#                                  ├── node 2 backup 192.0.2.11: replica :7000
#                                  └── node 3 witness 192.0.2.12: failoverd --witness
#      cut: primary ✕ backup only
#
# Checked: the backup never takes over (its status has no takeover, the capture on the
# client shows no segment from it); the primary holds its lease and the VIP throughout,
# alone; the witness refused the candidate many times (at least 50 candidate heartbeats,
# half a second of candidacy) and still grants epoch 1 to the primary.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd
with_witness=1

backup_role_is() { [ "$(node_status backup | jq -r .role)" = "$1" ]; }
witness_refused_at_least() { [ "$(node_status witness | jq -r .lease.vote.refusals)" -ge "$1" ]; }
primary_peer_is() { [ "$(node_status primary | jq -r '.peers[0].state')" = "$1" ]; }

scenario() {
    local failures=()
    start_services
    start_failoverd
    start_client_capture
    c_group stream 4 echo --bytes 24M --rate 4 --timeout-s 120
    wait_groups_under_way 60 $((2 << 20)) stream

    echo "=== the primary is cut off from the backup; both still reach the witness and the client"
    local refused
    refused=$(node_status witness | jq -r .lease.vote.refusals)
    cut_link primary backup
    wait_until 30 "the backup to campaign" backup_role_is candidate
    wait_until 30 "the witness to refuse 50 candidate heartbeats" witness_refused_at_least $((refused + 50))
    wait_until 30 "the primary to give up its unreachable backup" primary_peer_is lost
    local st
    st=$(node_status primary)
    echo "  primary: $(jq -c '{role, lease: {held: .lease.held, remaining_ms: .lease.remaining_ms}, peer: .peers[0].state}' <<<"$st")"
    check_json "the primary" "$(jq -c '{role, lease}' <<<"$st")" '.role == "primary" and .lease.held' \
        "the primary lost its lease although the witness reaches it"
    st=$(node_status backup)
    echo "  backup: $(jq -c '{role, campaign: .lease.campaign_epoch, takeover}' <<<"$st")"
    check_json "the backup" "$(jq -c '{role, takeover}' <<<"$st")" '.role == "candidate" and .takeover == null' \
        "the backup took over while the primary held its lease"
    st=$(node_status witness)
    echo "  witness: $(jq -c .lease.vote <<<"$st")"
    [ "$(jq -r '(.lease.vote.epoch | tostring) + " " + .lease.vote.for' <<<"$st")" = "1 $primary_ip" ] ||
        failures+=("the witness does not grant epoch 1 to the primary any more: $(jq -c .lease <<<"$st")")
    [ "$(vip_holders)" = primary ] || failures+=("the VIP is held by '$(vip_holders)' during the partition")
    finish_client stream

    echo "=== the link heals"
    heal_link primary backup
    wait_until 60 "the backup to be the primary's backup again" backup_role_is backup
    wait_until 60 "the primary's stream to the backup to be live" primary_peer_is live
    grep -q 'no election' "$work/failoverd-backup.log" ||
        failures+=("the backup did not log that it called its election off")
    check_one_speaker
    local from_backup
    from_backup=$(tcpdump -r "$work/client.pcap" -e -nn 2>/dev/null | grep -c "^[^ ]* $(mac_of backup) " || true)
    [ "$from_backup" = 0 ] || failures+=("$from_backup segment(s) from the backup reached the client")
    [ "$(vip_holders)" = primary ] || failures+=("the VIP is held by '$(vip_holders)' after the partition")
    [ "$(node_status backup | jq -r .takeover)" = null ] || failures+=("the backup took over")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario partition_primary_keeps_witness
