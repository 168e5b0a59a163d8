#!/usr/bin/env bash
# 100 concurrent connections, each with its own traffic (its own pattern seed): 25 echo,
# 25 download, 25 upload, 25 half-close, crashed at about halfway through.
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
    local n
    c_bg many-echo "$stream_client" echo --connect $vip:$port --conns 25 --bytes 4M --rate 1 --seed 100 \
        --progress-file "$work/echo.progress" --timeout-s 90 --crash-file "$work/crash.time" --label many-echo
    c_bg many-down "$stream_client" download --connect $vip:$port --conns 25 --bytes 4M --rate 1 --seed 200 --timeout-s 90 --crash-file "$work/crash.time" --label many-down
    c_bg many-up "$stream_client" upload --connect $vip:$port --conns 25 --bytes 4M --rate 1 --seed 300 --timeout-s 90 --crash-file "$work/crash.time" --label many-up
    c_bg many-half "$stream_client" half-close --connect $vip:$port --conns 25 --bytes 4M --rate 1 --seed 400 --timeout-s 90 --crash-file "$work/crash.time" --label many-half
    wait_until 60 "25 MiB echoed over 25 connections (a quarter: every client still streams)" progress_at_least "$work/echo.progress" verified $((25 << 20))
    crash_primary
    wait_takeover 100
    for n in many-echo many-down many-up many-half; do finish_client $n; done
}

run_scenario failover_many
