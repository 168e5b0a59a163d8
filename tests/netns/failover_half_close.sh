#!/usr/bin/env bash
# Connections the server half-closes (its response, then its FIN) complete correctly when
# the primary crashes in the middle of the response: the client gets every byte, then
# the FIN, and its own trailer sent afterwards is acknowledged by the new primary.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# Crash = the primary's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

scenario() {
    start_services
    start_failoverd
    c_group half 4 half-close --bytes 16M --rate 8 --timeout-s 90
    # Every response at least 8 MiB along (halfway), none over: the 32 MiB in total
    # waited for before could hide one connection far behind the others.
    wait_groups_under_way 60 $((8 << 20)) half
    crash_primary
    wait_takeover 4
    finish_client half
}

run_scenario failover_half_close
