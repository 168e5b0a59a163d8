#!/usr/bin/env bash
# Uploads through the crash: 4 connections stream 32 MiB each from the client to the
# server (8 MB/s each) and the primary crashes while they are sending; the client keeps
# writing through the crash, so client-to-server bytes are in flight (sent, not yet
# acknowledged) when the primary dies. The server's count and CRC-32 of every
# connection's bytes, from the replica that took over, must equal the client's.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# Crash = the primary's link cut, then SIGKILL of everything in its namespace.
# TCPFO_REPEAT=N runs it N times in a row.
#
# The crash waits for a condition: all 4 connections open, none over, and the slowest
# one 4 MiB acknowledged (held by the backup: the primary clamps its ACKs to that).
# 28 MiB, 3.5 s at the nominal rate, are left after that point on every connection.
. "$(dirname "$0")/lib.sh"
require_failoverd

scenario() {
    start_services
    start_failoverd
    c_group upload 4 upload --bytes 32M --rate 8 --seed 500 --timeout-s 120
    wait_groups_under_way 60 $((4 << 20)) upload
    crash_primary
    read_progress upload .at-crash
    echo "  last sample before the crash: the client had sent ${progress[sent]} bytes, the backup held ${progress[acked]}"
    echo "  ($((progress[sent] - progress[acked])) bytes in flight, and the client kept sending)"
    wait_takeover 4 || { groups_at_crash upload || true; return 1; }
    finish_client upload
}

run_scenario failover_upload
