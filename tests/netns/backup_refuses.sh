#!/usr/bin/env bash
# A backup that cannot hold every connection refuses the rest, and the primary stops
# protecting those (it lifts their ACK clamp): every client completes. Before
# CONN_REFUSED the backup only logged such a connection, the primary kept clamping it,
# its stable point never moved and its client stalled for ever.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup (open-file limit 148)
#
# The backup runs with an open-file limit of 128 (the reserve) + 2 x 10, so it says it
# can hold 10 connections; the client opens 20 and echoes 256 KiB on each (pausing
# half-way until the refusals are checked). No crash: this is about the steady state.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

held=10
conns=20
limit=$((128 + 2 * held))

scenario() {
    start_services
    start_failoverd --backup-nofile $limit
    if ! log_has failoverd-backup "can hold $held connections (open-file limit $limit)"; then
        echo "FAIL: the backup does not say it can hold $held connections:" >&2
        grep 'can hold' "$work/failoverd-backup.log" >&2 || true
        return 1
    fi
    log_has failoverd-primary 'primary: can hold [0-9]* connections (open-file limit [0-9]*' ||
        { echo "FAIL: the primary does not say how many connections it can hold" >&2; return 1; }

    c_bg refused "$stream_client" echo --connect $vip:$port --conns $conns --bytes 256K --pause-at 128K \
        --resume-file "$work/resume" --progress-file "$work/refused.progress" --timeout-s 60 --label refused
    wait_until 30 "all $conns connections idle at 128 KiB" progress_at_least "$work/refused.progress" paused 1
    wait_until 10 "$((conns - held)) refusals on the backup" \
        lines_at_least failoverd-backup 'refused: the backup holds as many connections as its limits allow' $((conns - held))
    wait_until 10 "$((conns - held)) unprotected connections on the primary" \
        lines_at_least failoverd-primary 'refused by backup .*; unprotected' $((conns - held))
    local refused unprotected
    refused=$(count_in failoverd-backup 'refused:')
    unprotected=$(count_in failoverd-primary 'refused by backup')
    echo "  backup refused $refused connection(s), the primary left $unprotected unprotected"
    if [ "$refused" != $((conns - held)) ] || [ "$unprotected" != $((conns - held)) ]; then
        echo "FAIL: expected $((conns - held)) refused and unprotected, got $refused and $unprotected" >&2
        return 1
    fi
    # Every connection finishes its echo before any crash: the refused ones are no
    # longer clamped.
    touch "$work/resume"
    finish_client refused
}

run_scenario backup_refuses
