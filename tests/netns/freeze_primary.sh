#!/usr/bin/env bash
# Leases and fencing (issue 9 item 3), a frozen primary: its failoverd and its service
# are stopped (SIGSTOP) while four connections stream (echo) through it. Its kernel
# still runs (it would retransmit and acknowledge), but its lease runs out and the egress
# hook enforces it without the daemon; the backup is elected with the witness and takes
# over. Once the takeover is done and a second has passed, the primary is thawed
# (SIGCONT): it finds its lease lost (or the higher epoch) and stays silent.
#
#      client 192.0.2.1 ──── br0 ──┬── node 1 primary 192.0.2.10, VIP: echo service :7000
#                                  ├── node 2 backup 192.0.2.11: replica :7000
#                                  └── node 3 witness 192.0.2.12: failoverd --witness
#
# Checked: no segment from the primary after the thaw, and none after the backup's first
# on any connection (capture on the client, source MACs); the backup rebuilt all four;
# the thawed primary says silent and holds no VIP; every byte verified by the clients.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd
with_witness=1

past_us() { [ "${EPOCHREALTIME/./}" -ge "$1" ]; }

scenario() {
    local failures=()
    start_services
    start_failoverd
    start_client_capture
    c_group stream 4 echo --bytes 24M --rate 4 --timeout-s 120
    wait_groups_under_way 60 $((2 << 20)) stream

    echo "=== SIGSTOP of everything on the primary (failoverd and the service)"
    local pids before thaw
    pids=$(ip netns pids "$ns_primary" | tr '\n' ' ')
    snapshot_progress
    say primary "kill -STOP $pids"
    before=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    kill -STOP $pids
    mark_crash "$before"
    wait_takeover 4
    # At least a second frozen, and the takeover done (above).
    wait_until 10 "a second since the freeze" past_us $((before + 1000000))
    say primary "kill -CONT $pids"
    thaw=${EPOCHREALTIME/./}
    # shellcheck disable=SC2086
    kill -CONT $pids
    wait_until 30 "the thawed primary to say it is silent" sh -c \
        "'$failoverctl' --control '$work/primary.sock' status | jq -e '.role == \"silent\"' >/dev/null"
    finish_client stream
    check_one_speaker "$thaw"

    local st
    st=$(node_status primary)
    echo "  thawed primary: $(jq -c '{role, silent: .lease.silent, lease_segments_dropped: .hooks.lease_segments_dropped}' <<<"$st")"
    grep -q 'primary: silent: ' "$work/failoverd-primary.log" ||
        failures+=("the thawed primary did not log its fall into silence")
    [ "$(vip_holders)" = backup ] || failures+=("the VIP is held by '$(vip_holders)', not by the backup alone")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario freeze_primary
