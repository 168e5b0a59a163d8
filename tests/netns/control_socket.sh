#!/usr/bin/env bash
# failoverd's control socket and `failoverctl status`, and how fast a primary that
# started first reaches a backup that starts later.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service, failoverd --control primary.sock
#                                  └── backup 192.0.2.11: replica, failoverd --control backup.sock
#
# 1. The primary starts FIRST and retries the backup (its status says so, with a retry
#    interval capped at 40 ms); the backup starts when the primary is seen retrying.
#    Then the backup is killed (-9, leaving a stale socket) and restarted after a
#    varying pause, TCPFO_CONNECT_ROUNDS times (default 8). Each time, the latency is
#    the primary's status "live since" minus the backup's "started" (both wall-clock
#    stamps on this host). The mechanism is asserted exactly (the status's retry
#    interval never above 40 ms); the wall clock loosely, as the machine may be
#    loaded: every start within TCPFO_CONNECT_LIMIT_MS (default 150: the 40 ms cap,
#    or one SYN lost on a busy machine and given up after 100 ms, plus slack; a lost
#    SYN left to the kernel's 1 s retransmission fails it). The distribution is printed with how many
#    starts met the issue's 50 ms. Then once more
#    with the backup's link down while it is away (the primary's SYNs are lost): an
#    unanswered connect is dropped after 100 ms, so the bound grows by that much only.
# 2. Status of both nodes with ten idle connections; --conn; a takeover's status:
#    every connection rebuilt.
# 3. Refusals: no daemon, a second failoverd on a live socket, bad --control paths;
#    the socket's directory is created 0700, the socket is 0600 and is removed on exit.
. "$(dirname "$0")/lib.sh"
require_failoverd

rounds=${TCPFO_CONNECT_ROUNDS:-4}
limit_ms=${TCPFO_CONNECT_LIMIT_MS:-150}
target_ms=50  # the issue's bound, reported
cap_ms=40  # RetryBackoff::kMaxMs

stop_backup_daemon() {
    kill -9 "${bg_pid[failoverd-backup]}"
    wait "${bg_pid[failoverd-backup]}" 2>/dev/null || true
    unset "bg_pid[failoverd-backup]"
}

# jqs NODE FILTER: one value from NODE's status.
jqs() { node_status "$1" | jq -r "$2"; }
primary_settled() {
    node_status primary | jq -e '.role == "primary" and .epoch == 1 and .peers[0].state == "live" and .connection_count == 10
           and ([.connections[] | select(.protected and .phase == "open"
                 and .client_bytes.forwarded >= 131072 and .client_bytes.stable == .client_bytes.forwarded
                 and .server_bytes.sent >= 131072 and .server_bytes.acked == .server_bytes.sent)] | length) == 10' >/dev/null
}
backup_settled() {
    node_status backup | jq -e '.role == "backup" and .peers[0].state == "live" and .takeover == null and .connection_count == 10
           and ([.connections[] | select(.protected and .phase == "replicating"
                 and .client_bytes.logged >= 131072 and .client_bytes.fed_to_replica == .client_bytes.logged
                 and .client_bytes.stable == .client_bytes.logged
                 and .server_bytes.replica_produced >= 131072)] | length) == 10' >/dev/null
}
peer_state_is() { [ "$(jqs primary '.peers[0].state' 2>/dev/null)" = "$1" ]; }
primary_retrying() { node_status primary 2>/dev/null | jq -e '.peers[0].state != "live" and .peers[0].failed_attempts >= 1' >/dev/null; }
backup_answers() { node_status backup >/dev/null 2>&1; }
connect_unanswered() { jqs primary '.peers[0].last_error' 2>/dev/null | grep -q 'no answer to the connect'; }

# The primary's retry interval as its status reports it, while the peer is down: the
# mechanism behind the bound (a retry at most every 40 ms).
check_retry_capped() {
    local interval next
    interval=$(jqs primary '.peers[0].retry_interval_ms')
    next=$(jqs primary '.peers[0].retry_in_ms // 0')
    if [ "$interval" -gt $cap_ms ] || [ "$next" -gt $cap_ms ]; then
        echo "FAIL: the primary retries every $interval ms (next in $next ms), more than $cap_ms" >&2
        return 1
    fi
    echo "  primary retrying: next in $next ms, interval $interval ms (cap $cap_ms)"
}

latencies=()
measure_connect() {
    local started live ms
    wait_until 10 "failoverd on the backup listening" listening "$ns_backup" $replication_port
    wait_until 10 "the backup's control socket" backup_answers
    wait_until 10 "the primary to report the backup live" peer_state_is live
    started=$(jqs backup .started_us)
    live=$(jqs primary '.peers[0].connected_us')  # kept if the stream broke again since
    ms=$(awk -v a="$started" -v b="$live" 'BEGIN {printf "%.1f", (b - a) / 1000}')
    echo "  backup started at $started us, primary saw it live at $live us: $ms ms"
    latencies+=("$ms")
}

expect_ctl_failure() {
    local what=$1 rc=0 out
    shift
    out=$("$failoverctl" "$@" 2>&1 >/dev/null) || rc=$?
    echo "  failoverctl $* -> exit $rc: $out"
    [ $rc = 1 ] || { echo "FAIL: expected exit 1" >&2; return 1; }
    [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL: expected one line on stderr" >&2; return 1; }
    grep -q -- "$what" <<<"$out" || { echo "FAIL: the line does not mention '$what'" >&2; return 1; }
}

scenario() {
    start_services

    echo "=== 1. the primary starts first; the backup $rounds time(s) later"
    start_failoverd_on primary
    wait_until 10 "the primary retrying the backup (status)" primary_retrying
    check_retry_capped
    start_failoverd_on backup
    measure_connect
    local pauses=(0 0.1 0.3 1 0 0.05 0.5 2) i pause
    for ((i = 1; i < rounds; i++)); do
        pause=${pauses[i % ${#pauses[@]}]}
        stop_backup_daemon
        wait_until 5 "the primary to see the backup lost" peer_state_is lost
        sleep "$pause"
        check_retry_capped
        echo "  backup down for ${pause}s more; restarting it (its socket is stale now)"
        start_failoverd_on backup
        measure_connect
    done
    [ "$rounds" -lt 2 ] || grep -q "replaced a stale socket" "$work/failoverd-backup.log" ||
        { echo "FAIL: the restarted backup did not say it replaced its stale socket" >&2; return 1; }
    local sorted
    sorted=$(printf '%s\n' "${latencies[@]}" | sort -n | tr '\n' ' ')
    echo "  primary -> backup connect latency over ${#latencies[@]} start(s), ms: $sorted"
    echo "  $(awk -v t=$target_ms '{for (i = 1; i <= NF; i++) n += ($i <= t)} END {print n " of " NF}' <<<"$sorted") within $target_ms ms"
    awk -v b="$limit_ms" '{for (i = 1; i <= NF; i++) if ($i > b) bad = bad " " $i} END {if (bad) {print "FAIL: above " b " ms:" bad > "/dev/stderr"; exit 1}}' <<<"$sorted"

    echo "=== 1b. while the backup is away its link is down too: the primary's SYNs are lost"
    stop_backup_daemon
    wait_until 5 "the primary to see the backup lost" peer_state_is lost
    b ip link set eth0 down
    # Without a limit on an unanswered connect, the next try would wait for the
    # kernel's SYN retransmission (1 s, then 3 s...).
    wait_until 10 "the primary to give up on an unanswered connect (status)" connect_unanswered
    echo "  primary: $(jqs primary '.peers[0].last_error')"
    b ip link set eth0 up
    start_failoverd_on backup
    measure_connect
    local last=${latencies[-1]}
    unset 'latencies[-1]'
    echo "  reached $last ms after the backup started (an unanswered connect is dropped after 100 ms)"
    awk -v l="$last" -v b="$limit_ms" 'BEGIN {if (l > b) {print "FAIL: above " b " ms" > "/dev/stderr"; exit 1}}'

    echo "=== 2. status with ten idle connections, then a takeover"
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 10 --bytes 256K --pause-at 128K \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 60 --label idle
    wait_until 30 "all ten connections idle" progress_at_least "$work/idle.progress" paused 1
    # The clients have stopped; the last acknowledgements may still be on their way
    # between the nodes (the daemons run beside the clients, not ahead of them), so
    # the statuses are awaited, with a bound, rather than read once.
    local st id
    wait_until 10 "the primary's status: ten protected connections, replicated and acknowledged" primary_settled ||
        { echo "  its status: $(node_status primary | jq -c .)" >&2; return 1; }
    st=$(node_status primary)
    echo "$st" | head -30
    jq -c ".connections[0:2][]" <<<"$st"
    wait_until 10 "the backup's status: ten connections, every logged byte fed and stable" backup_settled ||
        { echo "  its status: $(node_status backup | jq -c .)" >&2; return 1; }
    st=$(node_status backup)
    echo "  both nodes report ten protected connections, every logged byte stable, every sent byte acknowledged"
    id=$(jq '.connections[3].id' <<<"$st")
    node_status primary --conn "$id" | jq -e --argjson id "$id" '.connection.id == $id' >/dev/null ||
        { echo "FAIL: status --conn $id" >&2; return 1; }
    expect_ctl_failure "no connection 999999" --control "$work/primary.sock" status --conn 999999
    crash_primary
    wait_takeover 10
    st=$(node_status backup)
    # The node that took over is the primary of new connections now: its peer is the
    # old primary, which it tries to reach as its backup (connecting), and the ten
    # rebuilt connections are served but held by nobody.
    jq -e '.role == "taken-over-primary" and .epoch == 2 and .peers[0].state == "connecting"
           and ([.roles[].role] == ["backup", "taking-over", "primary"])
           and ([.connections[] | select(.rebuilt)] | length) == 10
           and ([.connections[] | select(.protected | not)] | length) == 10' <<<"$st" >/dev/null ||
        { echo "FAIL: the backup's status after the takeover: $st" >&2; return 1; }
    echo "  after the takeover: $(jq -c '{role, epoch, takeover: (.takeover | {state, rebuilt, reset}), phases: ([.connections[].phase] | group_by(.) | map({(.[0]): length}) | add)}' <<<"$st")"
    touch "$work/resume"
    finish_client idle

    echo "=== 3. refusals and the socket's life"
    expect_ctl_failure "no failoverd on $work/primary.sock" --control "$work/primary.sock" status
    expect_ctl_failure "no failoverd on $work/nothing.sock" --control "$work/nothing.sock" status
    local rc=0
    "$failoverctl" --control "$work/backup.sock" bogus 2>/dev/null || rc=$?
    [ $rc = 2 ] || { echo "FAIL: an unknown command must exit 2, got $rc" >&2; return 1; }
    "$failoverctl" --help | grep -q -- "--control PATH" || { echo "FAIL: failoverctl --help" >&2; return 1; }
    # Extra daemons run in the crashed primary's namespace (empty now), so their
    # hooks never touch the node that took over.
    local backup_args=(--role backup --vip $vip/24 --dev eth0 --port $port --listen $primary_ip:7200
        --peer $backup_ip:7200 --replica 127.0.0.1:$port)
    expect_refusal 1 "another failoverd is running on control socket $work/backup.sock" "$ns_primary" \
        "${backup_args[@]}" --control "$work/backup.sock"
    backup_answers || { echo "FAIL: the live backup's socket went away" >&2; return 1; }
    expect_refusal 1 "can't create directory" "$ns_primary" "${backup_args[@]}" --control "$work/no/such/dir.sock"
    expect_refusal 2 "--control" "$ns_primary" "${backup_args[@]}" --control "$work/$(printf 'x%.0s' {1..120}).sock"
    touch "$work/plain-file"
    expect_refusal 1 "not a socket" "$ns_primary" "${backup_args[@]}" --control "$work/plain-file"
    # A fresh directory is created private; the socket is the owner's only; both a
    # second daemon in another directory and the socket's removal on SIGTERM.
    p_bg failoverd-second "$failoverd" "${backup_args[@]}" --control "$work/tcpfo-run/second.sock"
    wait_until 10 "the second failoverd's control socket" test -S "$work/tcpfo-run/second.sock"
    wait_until 10 "the second failoverd answering" sh -c "'$failoverctl' --control '$work/tcpfo-run/second.sock' status >/dev/null 2>&1"
    [ "$(stat -c %a "$work/tcpfo-run")" = 700 ] || { echo "FAIL: directory mode $(stat -c %a "$work/tcpfo-run")" >&2; return 1; }
    [ "$(stat -c %a "$work/tcpfo-run/second.sock")" = 600 ] || { echo "FAIL: socket mode $(stat -c %a "$work/tcpfo-run/second.sock")" >&2; return 1; }
    echo "  $work/tcpfo-run is 0700, second.sock is 0600"
    kill -TERM "${bg_pid[failoverd-second]}"
    wait "${bg_pid[failoverd-second]}" || { echo "FAIL: the second failoverd exited with $?" >&2; return 1; }
    unset "bg_pid[failoverd-second]"
    [ ! -e "$work/tcpfo-run/second.sock" ] || { echo "FAIL: the socket is still there after SIGTERM" >&2; return 1; }
    echo "  the socket is gone after SIGTERM"
}

run_scenario control_socket
