#!/usr/bin/env bash
# Both nodes paused at once and resumed (what a hypervisor does to the virtual machines
# of one host, and what this test machine's own vCPUs suffer): the backup wakes to a
# primary silent for the whole pause. It must not take over: the primary is alive and
# its heartbeat comes within an interval of waking. The backup is resumed first, so its
# expired tick runs before the primary has had a chance to send.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

pauses=10

scenario() {
    start_services
    start_failoverd
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 2 --bytes 2M --pause-at 1M \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 90 --label idle
    wait_until 30 "both connections idle" progress_at_least "$work/idle.progress" paused 1
    local p=${bg_pid[failoverd-primary]} b=${bg_pid[failoverd-backup]} i role
    echo "=== $pauses pauses of both daemons, 100 ms each (10 ms x 3 detection)"
    for ((i = 1; i <= pauses; i++)); do
        kill -STOP "$p" "$b"
        sleep 0.1
        kill -CONT "$b"
        kill -CONT "$p"
        sleep 0.1
        role=$(node_status backup | jq -r .role)
        if [ "$role" != backup ]; then
            echo "FAIL: after pause $i the backup is '$role': $(node_status backup | jq -c .takeover)" >&2
            return 1
        fi
    done
    echo "  the backup stayed a backup through $pauses pauses"
    echo "=== the connections still work, and are still protected"
    touch "$work/resume"
    finish_client idle
}

run_scenario pause_both
