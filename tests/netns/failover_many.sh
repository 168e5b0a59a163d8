#!/usr/bin/env bash
# 100 concurrent connections, each with its own traffic (its own pattern seed): 25 echo,
# 25 download, 25 upload, 25 half-close, all of them streaming when the primary crashes.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# Crash = the primary's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
#
# The crash waits for a condition, not for time: every one of the four groups has all
# its 25 connections open, none over, and its slowest connection 256 KiB along (bytes
# verified; for uploads, acknowledged, i.e. held by the backup). Each connection is
# 4 MiB at 1 MB/s and holds at 3 MiB (--pause-at: echo and upload stop sending,
# download and half-close stop reading) until the takeover is done, so no group can
# finish before the crash however far behind another one falls on a loaded machine
# (there the service's output can lag its input threefold); normally the crash comes
# with every connection still streaming, the fastest well short of 3 MiB.
#
# plain_many.sh is its twin without failover: the same traffic over plain TCP, the
# same moment marked instead of a crash; its stalls are this machine's floor.
. "$(dirname "$0")/lib.sh"
require_failoverd

scenario() {
    start_services
    start_failoverd
    start_many_groups
    wait_groups_under_way 90 "$many_under_way" "${many_groups[@]}"
    crash_primary
    wait_takeover 100 || { groups_at_crash "${many_groups[@]}" || true; return 1; }
    echo "=== let the groups run to their end"
    touch "$work/resume"
    local n
    for n in "${many_groups[@]}"; do finish_client $n; done
}

run_scenario failover_many
