#!/usr/bin/env bash
# After the takeover, new connections to the VIP are served by the new primary (echo,
# download and upload), while a connection that lived through the crash completes.
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
    c_bg live "$stream_client" echo --connect $vip:$port --bytes 32M --rate 10 \
        --progress-file "$work/live.progress" --timeout-s 90 --crash-file "$work/crash.time" --label live
    wait_until 30 "8 MiB echoed on the live connection" progress_at_least "$work/live.progress" verified $((8 << 20))
    crash_primary
    wait_takeover 1
    echo "=== new connections after the takeover"
    c "$stream_client" echo --connect $vip:$port --conns 4 --bytes 4M --timeout-s 30 --label new-echo
    c "$stream_client" download --connect $vip:$port --bytes 16M --timeout-s 30 --label new-download
    c "$stream_client" upload --connect $vip:$port --bytes 16M --timeout-s 30 --label new-upload
    finish_client live
}

run_scenario failover_new_conn
