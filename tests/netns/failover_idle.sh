#!/usr/bin/env bash
# Ten connections are idle at the moment of the crash (every byte sent has been echoed and
# acknowledged), and are used again after the takeover.
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
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 10 --bytes 2M --pause-at 1M \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 90 --crash-file "$work/crash.time" --label idle
    wait_until 30 "all ten connections idle" progress_at_least "$work/idle.progress" paused 1
    crash_primary
    wait_takeover 10
    echo "=== resume the idle connections"
    touch "$work/resume"
    finish_client idle
}

run_scenario failover_idle
