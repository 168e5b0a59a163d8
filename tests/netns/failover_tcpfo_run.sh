#!/usr/bin/env bash
# A service of our own whose replies depend on the clock, on random numbers and on
# state shared by its connections, run under tcpfo-run on both nodes, through a hard
# crash of the primary: the replica, replaying the primary's recorded clock, getrandom
# results and input order (which connection it served, how much each read returned),
# must write exactly what the primary wrote, so that the backup rebuilds every
# connection and the client never notices. The echo service serves two groups at once:
#   - `stamp`, TCPFO_STAMP_CONNS (4) connections: each 32-byte request is answered with
#     its index, clock_gettime(CLOCK_REALTIME), 8 bytes of getrandom and a CRC-32 over
#     them and the request (stamp_reply_check.h checks every reply);
#   - `counter`, TCPFO_COUNTER_CONNS (4) connections: each request is answered with the
#     next value of one counter shared by every connection (counter_reply_check.h: a
#     value above the connection's previous one and never another reply's).
# Without replay the stamps differ, and the replica numbers the counter's requests in
# the order it happens to serve them (failover_diverge.sh: the same counter without
# tcpfo-run is reset at every takeover).
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100:
#                                  │     tcpfo-run --control primary.sock -- echo service :7000 (recorded),
#                                  │     failoverd --role primary --control primary.sock
#                                  └── backup 192.0.2.11:
#                                        tcpfo-run --control backup.sock -- echo service :7000 (the replica, replaying),
#                                        failoverd --role backup --replica 127.0.0.1:7000 --control backup.sock
#
# Both tcpfo-run start before failoverd (they wait for it: "either start order"). Crash
# = the primary's link cut, then SIGKILL of everything in its namespace, when all
# connections are open, none over, and the slowest has 256 KiB of replies verified;
# each sends 4 MiB at 0.5 MB/s and holds at 3 MiB until the takeover. It checks:
#   - before the crash (read once every connection is under way, then the crash): the
#     primary's status shows the service recorded (mode record, channel open,
#     log_bytes > 0, held > 0: replies have waited at the output gate for the backup),
#     the backup's shows it replaying (mode replay, open, log_bytes > 0);
#   - the backup rebuilt all and reset none; .takeover.reset_diverged = 0 and
#     .output_check.diverged_total = 0 (the replica's output matched the primary's
#     digests), .output_check.checked_bytes > 0 (and so was checked);
#   - the client got every reply, intact and in order: no corruption, no reset.
#
# failover_tcpfo_run.sh --plain-replica (failover_tcpfo_run_plain_replica.sh) is the
# negative control: the same with the replica NOT under tcpfo-run (a plain echo service
# on the backup, reading its own clock and randomness). Then the divergence must be
# caught instead: the backup says it reset at least one diverged connection, the
# client's resets equal .takeover.reset_diverged, rebuilt + reset = all, and the client
# got no wrong reply. That is what shows the positive run depended on replay.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

plain_replica=
case ${1:-} in
    '') ;;
    --plain-replica) plain_replica=1 ;;
    *) echo "usage: $(basename "$0") [--plain-replica]" >&2; exit 2 ;;
esac

stamp_conns=${TCPFO_STAMP_CONNS:-4}
counter_conns=${TCPFO_COUNTER_CONNS:-4}
conns=$((stamp_conns + counter_conns))
groups=()
[ "$stamp_conns" = 0 ] || groups+=(stamp)
[ "$counter_conns" = 0 ] || groups+=(counter)
[ ${#groups[@]} -gt 0 ] || { echo "TCPFO_STAMP_CONNS and TCPFO_COUNTER_CONNS are both 0" >&2; exit 2; }

scenario() {
    local -a failures=()
    local before_primary before_backup st summary diverged_at diverged resets=0 group n

    if [ -n "$plain_replica" ]; then
        start_services_under_tcpfo_run --plain-replica
    else
        start_services_under_tcpfo_run
    fi
    start_failoverd
    wait_services
    [ "$stamp_conns" = 0 ] || c_group stamp "$stamp_conns" stamp --seed 600 --bytes 4M --rate 0.5 --pause-at 3M \
        --resume-file "$work/resume" --timeout-s 120
    [ "$counter_conns" = 0 ] || c_group counter "$counter_conns" counter --seed 700 --bytes 4M --rate 0.5 \
        --pause-at 3M --resume-file "$work/resume" --timeout-s 120
    wait_groups_under_way 90 $((256 << 10)) "${groups[@]}"
    # Read once every connection is under way, then the crash (two failoverctl runs).
    before_primary=$(node_status primary | jq -c .service)
    before_backup=$(node_status backup | jq -c .service)
    crash_primary
    if [ -n "$plain_replica" ]; then
        check_recorded_before_crash "$before_primary"
        echo "  before the crash: backup .service $before_backup"
        check_json "the backup's .service" "$before_backup" '. == null or .open != true' \
            "before the crash the backup showed a replica attached to the log, but this replica is not under tcpfo-run"
    else
        check_recorded_before_crash "$before_primary" "$before_backup"
    fi

    if [ -n "$plain_replica" ]; then
        wait_takeover $conns any || { groups_at_crash "${groups[@]}" || true; return 1; }
    else
        wait_takeover $conns || failures+=("the backup did not rebuild all $conns connection(s) without a reset (above)")
    fi
    st=$(node_status backup)
    summary=$(jq -c '{takeover: (.takeover | {rebuilt, reset, reset_diverged}), output_check, service}' <<<"$st")
    echo "  backup after the takeover: $summary"
    # Where each diverged connection's replica output first differed (server offset).
    diverged_at=$(jq -r '[.connections[]? | select(.diverged_at != null) | "conn \(.id) at \(.diverged_at)"] | join(", ")' <<<"$st")
    [ -z "$diverged_at" ] || echo "  replica output diverged: $diverged_at"
    diverged=$(jq '.takeover.reset_diverged' <<<"$st")
    [[ $diverged =~ ^[0-9]+$ ]] ||
        failures+=("the backup's status has no number in .takeover.reset_diverged (got $diverged): $(jq -c .takeover <<<"$st")")
    if [ -z "$plain_replica" ]; then
        check_replay_kept_step "$st"
    else
        grep -h 'tcpfo-preload\|tcpfo-run' "$work/replica.log" "$work/service.log" 2>/dev/null |
            sed 's/^/  service or replica said: /' | head -n 20 || true
    fi

    echo "=== let the connections run to their end"
    touch "$work/resume"
    for group in "${groups[@]}"; do
        if [ -n "$plain_replica" ]; then
            finish_client $group --allow-resets ||
                failures+=("not every connection ended with all its replies verified or in a reset (client $group, above)")
        else
            finish_client $group || failures+=("the client did not get every reply intact (client $group, above)")
        fi
        n=$(client_field $group corrupt)
        [ "$n" = 0 ] || failures+=("the client got wrong replies on ${n:-?} connection(s) of group $group")
        n=$(client_field $group resets)
        resets=$((resets + ${n:-0}))
    done
    if [ -n "$plain_replica" ]; then
        if [[ $diverged =~ ^[0-9]+$ ]]; then
            [ "$resets" = "$diverged" ] ||
                failures+=("the client saw ${resets:-?} reset(s), the backup says it reset $diverged diverged connection(s)")
            [ "$diverged" -ge 1 ] ||
                failures+=("the backup reset no diverged connection, but this replica reads its own clock and randomness: every reply differs from the primary's")
        fi
    else
        [ "$resets" = 0 ] || failures+=("the client saw ${resets:-?} reset(s)")
    fi
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

if [ -n "$plain_replica" ]; then
    run_scenario failover_tcpfo_run_plain_replica
else
    run_scenario failover_tcpfo_run
fi
