#!/usr/bin/env bash
# What failoverd tells systemd as a Type=notify unit (packaging/failoverd.service),
# read from the datagrams it sends to $NOTIFY_SOCKET:
#   - READY=1 once each node has started in its role, STATUS= with what it does
#     (the primary: its backup connected; the backup: replicating);
#   - WATCHDOG=1, again and again, at half of WATCHDOG_USEC;
#   - STOPPING=1 when the primary gets SIGTERM (it hands over to its ready backup);
#   - the backup's takeover in STATUS= (begun, then its result).
#
#      primary 192.0.2.10 (failoverd --role primary, NOTIFY_SOCKET=notify-primary.sock)
#      backup  192.0.2.11 (failoverd --role backup,  NOTIFY_SOCKET=notify-backup.sock)
. "$(dirname "$0")/lib.sh"
require_failoverd

# listen_notify NODE: the unix datagram socket NODE's failoverd notifies, as systemd's
# is; each datagram's lines go to notify-NODE.log.
listen_notify() {
    local node=$1
    python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode(errors="replace"), flush=True)
' "$work/notify-$node.sock" >"$work/notify-$node.log" 2>&1 &
    bg_pid[notify-$node]=$!
    wait_until 10 "the notify socket of the $node" test -S "$work/notify-$node.sock"
}
notified() { grep -q -- "$2" "$work/notify-$1.log"; }
notified_times() { [ "$(grep -c -- "$2" "$work/notify-$1.log" || true)" -ge "$3" ]; }

scenario() {
    start_services
    listen_notify primary
    listen_notify backup
    # The unit's WatchdogSec=5s gives WATCHDOG_USEC=5000000; 200 ms here, so that the
    # test sees several pings soon.
    NOTIFY_SOCKET="$work/notify-backup.sock" WATCHDOG_USEC=200000 start_failoverd_on backup --ready-file "$work/backup.ready"
    wait_until 30 "failoverd on the backup listening" listening "$ns_backup" $replication_port
    wait_until 10 "the backup's READY=1" notified backup "READY=1"
    notified backup "STATUS=backup: waiting for the primary's stream" ||
        { echo "FAIL: the backup's first status: $(cat "$work/notify-backup.log")" >&2; return 1; }
    NOTIFY_SOCKET="$work/notify-primary.sock" start_failoverd_on primary --ready-file "$work/primary.ready"
    wait_until 30 "failoverd ready on the primary" test -e "$work/primary.ready"
    wait_until 10 "the primary's status: its backup connected" notified primary "STATUS=primary: 1 backup(s) connected"
    notified primary "READY=1" || { echo "FAIL: no READY=1 from the primary" >&2; return 1; }
    wait_until 10 "the backup's status: replicating" notified backup "STATUS=backup of $primary_ip:$replication_port: replicating"
    wait_until 10 "three watchdog pings from the backup" notified_times backup "WATCHDOG=1" 3
    # No WatchdogSec for the primary: no pings.
    if notified primary "WATCHDOG=1"; then echo "FAIL: the primary pinged a watchdog it was not given" >&2; return 1; fi

    echo "=== SIGTERM on the primary"
    kill -TERM "${bg_pid[failoverd-primary]}"
    wait_until 10 "the primary's STOPPING=1" notified primary "STOPPING=1"
    # Its backup is ready: it hands over on the way out.
    notified primary "STATUS=handing over to its backup, then stopping" ||
        { echo "FAIL: the primary's stopping status: $(cat "$work/notify-primary.log")" >&2; return 1; }
    wait "${bg_pid[failoverd-primary]}" || { echo "FAIL: the primary did not exit 0 after SIGTERM" >&2; return 1; }
    unset "bg_pid[failoverd-primary]"

    echo "=== the backup takes over"
    wait_until 10 "the backup's status: taking over" notified backup "STATUS=taking over from $primary_ip:$replication_port at epoch"
    wait_until 10 "the backup's status: the takeover's result" notified backup "STATUS=primary after a takeover at epoch [0-9]*: 0 connection(s) rebuilt, 0 reset"
    echo "  primary: $(tr '\n' ' ' <"$work/notify-primary.log" | head -c 300)"
    echo "  backup: $(grep -v '^WATCHDOG=1$' "$work/notify-backup.log" | grep . | tr '\n' ' ' | head -c 400)"
}

run_scenario systemd_notify
