#!/usr/bin/env bash
# A backup that joins after the service under tcpfo-run recorded its first results
# cannot be in step: its replica missed them. It must say so, protect none of the
# service's connections (the primary then leaves them unprotected, and says why), and
# let its replica go live; the service itself must go on serving, never blocked on a
# backup that will not hold its log.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10: tcpfo-run -- echo service :7000, failoverd --role primary
#                                  └── backup 192.0.2.11: tcpfo-run -- replica :7000, failoverd --role backup (started late)
#
# 1. The service and its replica start under tcpfo-run, then failoverd on the primary
#    only: it answers the service with 0 backups holding its log.
# 2. A first client (STAMP: every reply reads the clock and getrandom) gets all its
#    replies: recorded, not held back by a backup that is not there.
# 3. failoverd starts on the backup; the primary connects to it.
# 4. A second client: its results reach the backup at a log offset above 0. The backup
#    refuses the log (status .service.refused) and the connection (out of step); the
#    primary lists the connection as unprotected with that reason; the client is
#    served to its end.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

primary_up() { node_status primary 2>/dev/null | jq -e '.role == "primary" and .service.mode == "record"' >/dev/null; }
backup_live() { node_status primary 2>/dev/null | jq -e '.peers[0].state == "live"' >/dev/null; }
backup_refused() { node_status backup 2>/dev/null | jq -e '(.service.refused // "") | length > 0' >/dev/null; }

scenario() {
    start_services_under_tcpfo_run
    start_failoverd_on primary
    wait_until 30 "the primary's failoverd to record the service" primary_up
    local st
    st=$(node_status primary)
    jq -e '.service.holders == 0' >/dev/null <<<"$st" ||
        { echo "FAIL: a backup holds the log before any backup ran: $(jq -c .service <<<"$st")" >&2; return 1; }

    echo "=== a first client, no backup yet"
    c_bg first "$stream_client" stamp --connect $vip:$port --conns 1 --bytes 64K --seed 701 --label first --timeout-s 60
    finish_client first
    st=$(node_status primary)
    jq -e '.service.log_bytes > 0' >/dev/null <<<"$st" ||
        { echo "FAIL: the service recorded nothing for the first client: $(jq -c .service <<<"$st")" >&2; return 1; }

    echo "=== the backup joins late"
    start_failoverd_on backup
    wait_until 30 "the primary to reach the late backup" backup_live

    echo "=== a second client"
    c_bg second "$stream_client" stamp --connect $vip:$port --conns 1 --bytes 256K --rate 1 --seed 702 --label second \
        --timeout-s 60
    wait_until 30 "the backup to refuse the service's log" backup_refused
    finish_client second

    local failures=() pst bst
    bst=$(node_status backup)
    pst=$(node_status primary)
    jq -e '.service.refused | contains("began before this backup joined")' >/dev/null <<<"$bst" ||
        failures+=("the backup's status does not say why it refused the log: $(jq -c .service <<<"$bst")")
    jq -e '.service.open == false' >/dev/null <<<"$bst" ||
        failures+=("the replica's channel is still open (its library would wait for ever): $(jq -c .service <<<"$bst")")
    jq -e '[.connections[]] | length == 0' >/dev/null <<<"$bst" ||
        failures+=("the backup holds connections of a service it is not in step with: $(jq -c '.connections' <<<"$bst")")
    jq -e '.service.holders == 0' >/dev/null <<<"$pst" ||
        failures+=("the primary counts the late backup as holding the log: $(jq -c .service <<<"$pst")")
    jq -e '[.unprotected_recent[] | select(.why | contains("not in step"))] | length >= 1' >/dev/null <<<"$pst" ||
        failures+=("the primary does not list the second connection as unprotected for being out of step: $(jq -c .unprotected_recent <<<"$pst")")
    # The backup's replica went live instead of waiting for a log that never comes.
    kill -0 "${bg_pid[replica]}" 2>/dev/null || failures+=("the backup's replica died: $(tail -3 "$work/replica.log")")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}" >&2
        return 1
    fi
    echo "  the backup refused the log: $(jq -r .service.refused <<<"$bst");" \
         "the primary: $(jq -c '[.unprotected_recent[] | .why]' <<<"$pst")"
}

run_scenario backup_joins_service_late
