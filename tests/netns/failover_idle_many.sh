#!/usr/bin/env bash
# Ten thousand idle connections survive the crash: every one is rebuilt and answers.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# N connections echo 1 KiB each and go idle; the primary crashes (link cut, SIGKILL);
# the backup must rebuild all N (none skipped); then every connection echoes 1 KiB
# more and the client verifies every byte of every connection.
#
# N is 10,000, or 9,000 where the open-file limit caps it: the backup holds two
# descriptors per connection (the replica connection and the socket prepared for the
# rebuild) plus a reserve of 128, so 10,000 needs a hard limit of 20,128, and root
# without CAP_SYS_RESOURCE cannot raise the hard limit (20,000 on the development
# machine). TCPFO_IDLE_CONNS=N overrides it (for a quick run).
#
# Also prints the daemons' memory per connection (RSS growth from no connection to N
# idle ones; the buffers of idle connections are given back within a second).
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

reserve=128
hard=$(ulimit -Hn)
if [ -n "${TCPFO_IDLE_CONNS:-}" ]; then
    conns=$TCPFO_IDLE_CONNS
    why="TCPFO_IDLE_CONNS"
elif [ "$hard" = unlimited ] || [ "$hard" -ge $((reserve + 2 * 10000)) ]; then
    conns=10000
    why="open-file hard limit $hard allows 10,000"
elif [ "$hard" -ge $((reserve + 2 * 9000)) ]; then
    conns=9000
    why="open-file hard limit $hard caps the backup below 10,000 (2 per connection + $reserve): the issue's 9,000"
else
    conns=$(( (hard - reserve) / 2 / 1000 * 1000 ))
    why="open-file hard limit $hard allows only this many (2 per connection + $reserve)"
fi
[ "$conns" -gt 0 ] || { echo "FAIL: open-file hard limit $hard is too low for this test" >&2; exit 1; }
echo "=== $conns idle connections ($why)"

rss_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
fds_at_least() { [ "$(fds "$1")" -ge "$2" ]; }
log_count() { grep -c "$2" "$work/$1.log" || true; }

scenario() {
    # Thousands of handshakes at once: let the listeners' queues take them all, so no
    # SYN waits for a retransmission (1 s, then 3 s) or gets a cookie.
    local ns
    for ns in "$ns_primary" "$ns_backup"; do
        say sysctl "net.core.somaxconn=16384 net.ipv4.tcp_max_syn_backlog=16384 in $ns"
        ip netns exec "$ns" sysctl -qw net.core.somaxconn=16384 net.ipv4.tcp_max_syn_backlog=16384
    done
    # start_services, with room for every connection (the echo service's default is 4096).
    p_bg service "$echo_service" --listen 0.0.0.0:$port --max-conns $((conns + 100))
    b_bg replica "$echo_service" --listen 0.0.0.0:$port --max-conns $((conns + 100))
    wait_until 5 "the echo service on the primary" listening "$ns_primary" $port
    wait_until 5 "the replica on the backup" listening "$ns_backup" $port
    start_failoverd

    local held
    held=$(grep -o 'backup: can hold [0-9]* connections' "$work/failoverd-backup.log" | awk '{print $4}')
    echo "  the backup says it can hold ${held:-?} connections"
    if [ -z "$held" ] || [ "$held" -lt "$conns" ]; then
        echo "FAIL: the backup cannot hold $conns connections: $(grep 'can hold' "$work/failoverd-backup.log")" >&2
        return 1
    fi
    local pid_p=${bg_pid[failoverd-primary]} pid_b=${bg_pid[failoverd-backup]}
    local rss_p0 rss_b0 fds_b0
    rss_p0=$(rss_kib "$pid_p") rss_b0=$(rss_kib "$pid_b") fds_b0=$(fds "$pid_b")

    c_bg idle "$stream_client" echo --connect $vip:$port --conns "$conns" --bytes 2K --pause-at 1K \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 900 \
        --crash-file "$work/crash.time" --label idle
    wait_until 300 "all $conns connections idle" progress_at_least "$work/idle.progress" paused 1
    # Every connection held by the backup: two descriptors each (replica connection,
    # prepared socket), and nothing refused.
    wait_until 60 "the backup to hold all $conns connections" \
        fds_at_least "$pid_b" $((fds_b0 + 2 * conns))
    if [ "$(log_count failoverd-backup 'refused')" != 0 ]; then
        echo "FAIL: the backup refused connections: $(grep -m3 refused "$work/failoverd-backup.log")" >&2
        return 1
    fi
    sleep 2  # idle buffers are given back once a second
    local rss_p1 rss_b1
    rss_p1=$(rss_kib "$pid_p") rss_b1=$(rss_kib "$pid_b")
    echo "  memory per idle connection (anonymous RSS growth / $conns): primary $(( (rss_p1 - rss_p0) * 1024 / conns )) B," \
         "backup $(( (rss_b1 - rss_b0) * 1024 / conns )) B; backup descriptors $(fds "$pid_b") (from $fds_b0)"

    crash_primary
    # wait_takeover gives 15 s for the takeover line; a slow machine gets longer here.
    wait_until 120 "'takeover complete' from failoverd on the backup" log_has failoverd-backup 'takeover complete'
    wait_takeover "$conns"
    grep -o 'takeover complete.*' "$work/failoverd-backup.log" | sed 's/^/  /'
    echo "=== resume all $conns connections"
    touch "$work/resume"
    finish_client idle
    grep -q "ok=$conns failed=0" "$work/idle.log" || { echo "FAIL: not every connection answered" >&2; return 1; }
}

run_scenario failover_idle_many
