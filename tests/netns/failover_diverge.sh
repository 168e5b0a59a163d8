#!/usr/bin/env bash
# A service that is not deterministic, run without any record/replay library, through a
# hard crash of the primary: the client must never get a wrong byte. Each of 20
# connections sends 32-byte requests and the echo service (COUNTER mode) answers each
# with the next value of one counter shared by all its connections, so the replica,
# which sees the connections' requests interleaved otherwise than the primary did,
# numbers them differently. Spliced onto the client's stream at the offset the primary
# reached, its replies would be wrong (a value the client saw before, or one below the
# previous); the client checks every reply (counter_reply_check.h). The backup must
# instead reset every connection whose replica diverged, and say how many.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# Crash = the primary's link cut, then SIGKILL of everything in its namespace, when all
# 20 connections are open, none over, and the slowest has 256 KiB of replies verified.
# Each sends 8 MiB as fast as it goes and holds at 6 MiB until the takeover
# (--pause-at), so none can end before the crash. Unpaced, on purpose: the replies
# the client can get wrong are those the primary had answered and not delivered at
# the crash (the replica numbered those requests otherwise); paced at 1 MB/s there
# are few, and on a failoverd without divergence detection (before bce582f) the
# client got wrong replies in 1 of 5 runs, unpaced in 8 of 8 (5 to 14 of the 20
# connections). With it, the backup reset all 20 as diverged in 6 of 6 runs.
# It then checks:
#   - the backup's status reports `.takeover.reset_diverged`, a number (missing is a
#     failure, never 0: a backup that does not say cannot be checked);
#   - the client got no wrong reply (corrupt=0);
#   - every connection ended with every reply verified, or reset;
#   - the client's resets == reset_diverged, and reset_diverged >= 1 (the detection was
#     exercised: with a crash-free run at these settings, logging a hash of each
#     connection's values on both nodes, the replica had numbered 18 to 20 of the 20
#     connections otherwise within their first 2,048 replies, all 20 by the end);
#   - the backup rebuilt or reset all 20 (rebuilt + reset = 20).
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

conns=20

scenario() {
    start_services
    start_failoverd
    c_group diverge $conns counter --seed 500 --bytes 8M --pause-at 6M \
        --resume-file "$work/resume" --timeout-s 120
    wait_groups_under_way 90 $((256 << 10)) diverge
    crash_primary
    wait_takeover $conns any || { groups_at_crash diverge || true; return 1; }

    local st diverged resets corrupt
    local -a failures=()
    st=$(node_status backup)
    diverged=$(jq '.takeover.reset_diverged' <<<"$st")
    if [[ $diverged =~ ^[0-9]+$ ]]; then
        echo "  the backup reset $diverged connection(s) whose replica diverged" \
             "($(jq -r '.takeover | "\(.rebuilt) rebuilt, \(.reset) reset in all"' <<<"$st"))"
    else
        failures+=("the backup's status has no number in .takeover.reset_diverged (got $diverged), so whether it detected any divergence cannot be checked; its takeover: $(jq -c .takeover <<<"$st")")
        # Said at once; the clients still run to their end, to show what they got.
        echo "FAIL: ${failures[-1]}" >&2
        diverged=
    fi

    echo "=== let the connections run to their end"
    touch "$work/resume"
    finish_client diverge --allow-resets ||
        failures+=("not every connection ended with all its replies verified or in a reset (client diverge, above)")
    corrupt=$(client_field diverge corrupt)
    resets=$(client_field diverge resets)
    [ "$corrupt" = 0 ] ||
        failures+=("the client got wrong replies on ${corrupt:-?} connection(s): a diverged replica's output reached it")
    if [ -n "$diverged" ]; then
        [ "$resets" = "$diverged" ] ||
            failures+=("the client saw ${resets:-?} reset(s), the backup says it reset $diverged diverged connection(s)")
        [ "$diverged" -ge 1 ] ||
            failures+=("the backup reset no diverged connection, but the replica numbers these $conns connections' requests otherwise (18 to 20 of them within 2,048 replies, measured): the detection was not exercised")
    fi
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario failover_diverge
