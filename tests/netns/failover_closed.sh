#!/usr/bin/env bash
# A connection closed before the crash stays closed: after the takeover the backup has no
# socket for it, while it does have one for the connection that was live (the control
# that shows the check can see rebuilt connections).
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
    c_bg closed "$stream_client" echo --connect $vip:$port --conns 5 --bytes 256K \
        --ports-file "$work/closed.ports" --timeout-s 30 --label closed
    finish_client closed
    c_bg live "$stream_client" echo --connect $vip:$port --bytes 32M --rate 10 \
        --progress-file "$work/live.progress" --ports-file "$work/live.ports" --timeout-s 90 --crash-file "$work/crash.time" --label live
    wait_until 30 "8 MiB echoed on the live connection" progress_at_least "$work/live.progress" verified $((8 << 20))
    crash_primary
    wait_takeover 1
    wait_until 30 "the live connection rebuilt on the backup" has_socket_for_ports "$ns_backup" "$work/live.ports"
    b ss -tan
    no_socket_for_ports "$ns_backup" "$work/closed.ports" || { echo "FAIL: a connection closed before the crash came back on the backup" >&2; return 1; }
    echo "  no socket on the backup for the closed connections (ports $(tr "\n" " " <"$work/closed.ports"))"
    finish_client live
}

run_scenario failover_closed
