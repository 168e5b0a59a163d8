#!/usr/bin/env bash
# The backup runs out of descriptors just as it takes over: before the primary crashes,
# its open-file limit is lowered (prlimit on the running daemon) below every descriptor
# it holds, so that it keeps them all but can open none. What a takeover needs per connection was made when the connection
# opened (the rebuild socket), so every connection is still rebuilt; the VIP claim needs
# a netlink socket and fails, is logged and retried, and succeeds once the limit is back.
# Nothing is half-done: no connection is reset, the VIP is claimed, every byte arrives.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
. "$(dirname "$0")/lib.sh"
require_failoverd

backup_daemon_pid() { ip netns pids "$ns_backup" | xargs -r ps -o pid=,comm= -p | awk '$2 == "failoverd" {print $1}'; }
backup_vip_claimed() { ip netns exec "$ns_backup" ip -4 -o addr show dev eth0 | grep -q " $vip/"; }

scenario() {
    start_services
    start_failoverd
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 10 --bytes 2M --pause-at 1M \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 90 \
        --crash-file "$work/crash.time" --label idle
    wait_until 30 "all ten connections idle" progress_at_least "$work/idle.progress" paused 1

    local pid hard
    pid=$(backup_daemon_pid)
    hard=$(awk '/Max open files/ {print $5}' /proc/"$pid"/limits)
    echo "=== the backup's failoverd (pid $pid) holds $(ls /proc/"$pid"/fd | wc -l) descriptors: no new one from now on"
    b prlimit --pid "$pid" --nofile="3:$hard"
    crash_primary
    wait_until 15 "the backup to fail to claim the VIP and say it retries" \
        log_has failoverd-backup "can't claim VIP (attempt 1).*retrying"
    backup_vip_claimed && { echo "FAIL: the VIP is on the backup although its claim failed" >&2; return 1; }
    echo "=== descriptors back"
    b prlimit --pid "$pid" --nofile="$hard:$hard"
    wait_takeover 10 0
    backup_vip_claimed || { echo "FAIL: the backup does not hold $vip after the takeover" >&2; return 1; }
    local attempts
    attempts=$(node_status backup | jq .takeover.claim_attempts)
    [ "$attempts" -ge 2 ] || { echo "FAIL: the VIP was claimed at attempt $attempts, not after a retry" >&2; return 1; }
    echo "  VIP claimed at attempt $attempts"
    touch "$work/resume"
    finish_client idle
}

run_scenario failover_fd_limit
