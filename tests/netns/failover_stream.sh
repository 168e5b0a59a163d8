#!/usr/bin/env bash
# One connection streams 64 MiB each way (echo) through a hard crash of the primary at
# about halfway. The client verifies every byte in order and must see no reset.
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
    stream_through_crash
}

run_scenario failover_stream
