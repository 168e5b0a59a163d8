#!/usr/bin/env bash
# Debian 12's redis-server under tcpfo-run on both nodes, a counter shared by four
# connections, through a hard crash of the primary: the target of recording the input
# order (docs/architecture.md, "Known gaps"; docs/protocol.md, "Feeder names").
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100:
#                                  │     tcpfo-run --control primary.sock -- redis-server --port 7000 ... (recorded),
#                                  │     failoverd --role primary --control primary.sock
#                                  └── backup 192.0.2.11:
#                                        tcpfo-run --control backup.sock -- redis-server --port 7000 ... (the replica),
#                                        failoverd --role backup --replica 127.0.0.1:7000 --control backup.sock
#
# redis runs with `--port 7000 --bind 0.0.0.0 --save '' --appendonly no --protected-mode
# no --daemonize no` on both nodes (docs/operations.md, "Example: redis"): listening on
# every IPv4 address, so the VIP's clients reach the primary and the backup's feeders
# reach the replica from 127.0.0.1; no snapshot, no append-only file, no fork.
# The client (tests/tools/tcpfo-redis-client) opens REDIS_CONNS (4) connections, each
# pipelining REDIS_INCRS (20,000) `INCR k` on the one key k, at most 16 unanswered and
# REDIS_RATE (2,000) commands per second per connection. With REDIS_CYCLE=mix
# (failover_redis_time_random.sh) each INCR is followed by TIME, SADD, SET, RANDOMKEY and
# SRANDMEMBER (tests/tools/redis_reply_check.h), REDIS_INCRS defaults to 5,000 and
# REDIS_CRASH_AFTER to 500: replies that carry redis's clock and random choices, which
# the backup's output check compares byte for byte with the primary's. Crash = the
# primary's link cut, then SIGKILL of everything in its namespace, once every connection
# is open and has at least REDIS_CRASH_AFTER (2,000) INCR replies: on a condition, not on
# time. It checks:
#   - before the crash: the primary's status shows the service recorded (mode record,
#     open, held > 0), the backup's shows the replica replaying (mode replay, open, not
#     refused);
#   - the backup rebuilt every connection and reset none (.takeover.reset_diverged = 0,
#     .output_check.diverged_total = 0, .output_check.checked_bytes > 0);
#   - the client: every reply well-formed and plausible, the INCR values strictly
#     increasing on each connection, no value on two connections, no reset, and after
#     the takeover `GET k`
#     (on connection 0, which lived through it, and on a new one) equals the number of
#     INCRs acknowledged, the values seen being exactly 1..that number.
# Until the preload library records the input order (which connection redis served,
# accept, read counts) the replica serves the connections in another order than the
# primary: its replay diverges and the backup hands the connections back to the
# primary (unprotected), so the client sees resets at the crash, never a wrong value.
# This scenario expects zero resets: it fails until then.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

redis_client=$build/tests/tools/tcpfo-redis-client
redis_server=$(command -v redis-server || true)
[ -n "$redis_server" ] || { echo "FAIL: redis-server is not installed: run scripts/install-deps.sh" >&2; exit 1; }
[ -x "$redis_client" ] || { echo "FAIL: $redis_client is missing: run scripts/build.sh first" >&2; exit 1; }

cycle=${REDIS_CYCLE:-incr}
conns=${REDIS_CONNS:-4}
case $cycle in
    incr) incrs=${REDIS_INCRS:-20000} crash_after=${REDIS_CRASH_AFTER:-2000} ;;
    mix) incrs=${REDIS_INCRS:-5000} crash_after=${REDIS_CRASH_AFTER:-500} ;;
    *) echo "REDIS_CYCLE must be incr or mix, got '$cycle'" >&2; exit 2 ;;
esac
rate=${REDIS_RATE:-2000}

# redis_under_way: every connection open, none over, the slowest at crash_after
# replies; returns 2 (never any more) once a connection failed.
redis_under_way() {
    read_progress redis
    [ -n "${progress[live]:-}" ] || return 1
    [ "${progress[live]}" = "$conns" ] || return 2
    [ "${progress[slowest]}" -ge "$crash_after" ]
}

wait_redis_under_way() {
    local deadline rc
    deadline=$((${EPOCHREALTIME/./} + 60 * 1000000))
    while :; do
        rc=0
        redis_under_way || rc=$?
        [ $rc != 0 ] || break
        if [ $rc = 2 ]; then
            echo "FAIL: a connection failed before the crash: $(cat "$work/redis.progress"); $(cat "$work/redis.log")" >&2
            took_over_early
            return 1
        fi
        if [ "${EPOCHREALTIME/./}" -ge $deadline ]; then
            echo "FAIL: after 60s the connections were not under way: $(cat "$work/redis.progress" 2>/dev/null)" >&2
            return 1
        fi
        nap 0.01
    done
    echo "  under way: $(cat "$work/redis.progress")"
}

scenario() {
    local -a failures=()
    local -a redis=("$redis_server" --port $port --bind 0.0.0.0 --save '' --appendonly no --protected-mode no
                    --daemonize no)
    local before_primary before_backup st rc=0 line field

    # Both tcpfo-run start before failoverd and wait for it (operations.md).
    p_bg service "$tcpfo_run" --control "$work/primary.sock" --wait-s 60 -- "${redis[@]}"
    b_bg replica "$tcpfo_run" --control "$work/backup.sock" --wait-s 60 -- "${redis[@]}"
    wait_retrying_for_daemon replica
    wait_retrying_for_daemon service
    start_failoverd
    wait_services

    c_bg redis "$redis_client" --connect $vip:$port --cycle "$cycle" --conns "$conns" --incrs "$incrs" --rate "$rate" --window 16 \
        --progress-file "$work/redis.progress" --timeout-s 60
    wait_redis_under_way
    before_primary=$(node_status primary | jq -c .service)
    before_backup=$(node_status backup | jq -c .service)
    crash_primary
    check_recorded_before_crash "$before_primary" "$before_backup"

    wait_takeover "$conns" || failures+=("the backup did not rebuild all $conns connection(s) without a reset (above)")
    st=$(node_status backup)
    echo "  backup after the takeover: $(jq -c '{takeover: (.takeover | {rebuilt, reset, reset_diverged}), output_check, service}' <<<"$st")"
    check_replay_kept_step "$st"
    grep -h 'service\|refused' "$work/failoverd-backup.log" 2>/dev/null | sed 's/^/  backup said: /' | head -n 20 || true

    wait "${bg_pid[redis]}" || rc=$?
    unset "bg_pid[redis]"
    cat "$work/redis.log"
    line=$(grep '^redis-client ' "$work/redis.log" | tail -n 1 || true)
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    [ -n "$line" ] || failures+=("the client printed no summary (exit $rc)")
    [ "$(field resets)" = 0 ] || failures+=("the client saw $(field resets) reset(s)")
    [ "$(field corrupt)" = 0 ] || failures+=("the client got wrong or malformed replies on $(field corrupt) connection(s)")
    [ "$(field acknowledged)" = $((conns * incrs)) ] ||
        failures+=("$(field acknowledged) of $((conns * incrs)) INCRs were acknowledged")
    [ $rc = 0 ] || failures+=("the client's checks failed (exit $rc, above)")
    stalls+=("redis=$(field max_stall_ms)")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
}

run_scenario "${REDIS_SCENARIO_NAME:-failover_redis}"
