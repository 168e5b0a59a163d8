#!/usr/bin/env bash
# A takeover that cannot continue some connections resets exactly those, carries on the
# others and claims the VIP (never half-done). Two injected failures:
#
#   part 1: the backup's replica loses 3 of its 10 connections before the crash (ss -K
#           on the backup, as if the replica had dropped them): the backup hands them
#           back to the primary (CONN_REFUSED, unprotected), the takeover rebuilds the
#           other 7, which continue byte-exact, and the 3 clients get a reset;
#   part 2: the replica process is killed (SIGKILL), then the primary crashes before
#           anything else happens: the replica's connections closed like an application
#           that hung up, but nothing listens any more, so every client gets a reset,
#           never a FIN the application did not send, and the VIP is still claimed.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup --replica 127.0.0.1:7000
#
# The connections are idle (paused halfway) at the crash and resumed after it.
. "$(dirname "$0")/lib.sh"
require_failoverd

# The backup's connections to its replica (local ports), one per protected connection.
replica_conn_ports() {
    ip netns exec "$ns_backup" ss -Htn state established "( dst 127.0.0.1 and dport = :$port )" | awk '{split($3, a, ":"); print a[2]}'
}
replica_conns_at_least() { [ "$(replica_conn_ports | wc -l)" -ge "$1" ]; }
not_listening() { ! listening "$@"; }
backup_vip_claimed() { ip netns exec "$ns_backup" ip -4 -o addr show dev eth0 | grep -q " $vip/"; }

start_idle_clients() {
    local expect_resets=$1
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 10 --bytes 2M --pause-at 1M \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 90 \
        --crash-file "$work/crash.time" --expect-resets "$expect_resets" --label idle
    wait_until 30 "all ten connections idle" progress_at_least "$work/idle.progress" paused 1
    wait_until 10 "ten replica connections on the backup" replica_conns_at_least 10
}

finish_after_takeover() {
    backup_vip_claimed || { echo "FAIL: the backup does not hold $vip after the takeover" >&2; return 1; }
    echo "=== resume the idle connections"
    touch "$work/resume"
    finish_client idle
}

scenario() {
    start_services
    start_failoverd
    if [ "$part" = 1 ]; then
        start_idle_clients 3
        local p
        for p in $(replica_conn_ports | head -n 3); do
            b ss -K -tn state established "( sport = :$p and dport = :$port )" >/dev/null
        done
        wait_until 10 "the primary to leave three connections unprotected" \
            lines_at_least failoverd-primary 'refused by backup' 3
        crash_primary
        wait_takeover 7 0
    else
        start_idle_clients 10
        echo "=== the replica dies, then the primary"
        b kill -9 "${bg_pid[replica]}"
        wait_until 5 "the replica's listener to go" not_listening "$ns_backup" $port
        crash_primary
        wait_takeover 0 10
    fi
    finish_after_takeover
}

part=1
run_scenario failover_replica_lost
part=2
run_scenario failover_replica_lost
