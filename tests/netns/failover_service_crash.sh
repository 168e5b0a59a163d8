#!/usr/bin/env bash
# The service crashes, the node does not (issue 9 item 8, DESIGN.md invariant 2): the
# primary's echo service is SIGKILLed while 10 echo and 5 download connections stream
# through the VIP; the primary's kernel, link and failoverd stay up.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000 (killed), failoverd --role primary
#                                  └── backup 192.0.2.11: replica :7000, failoverd --role backup
#
# Without tcpfo every connection is reset or closed by the dying process's kernel. Here
# the hooks see the first protected socket close in the exiting process, freeze the
# egress before its FIN or RST leaves, and failoverd hands every connection over to
# the backup, whose replica goes on: no client sees a reset, an early end or a wrong
# byte, and the old primary ends handed-over, without the VIP.
# TCPFO_REPEAT=N runs it N times in a row.
. "$(dirname "$0")/lib.sh"
require_failoverd

groups=(svc-echo svc-down)

kill_service() {
    echo "=== SIGKILL of the primary's service (the node and its failoverd stay up)"
    snapshot_progress
    local before
    before=${EPOCHREALTIME/./}
    say primary "kill -9 ${bg_pid[service]} (tcpfo-echo-service)"
    kill -9 "${bg_pid[service]}"
    mark_crash "$before"
    wait "${bg_pid[service]}" 2>/dev/null || true
    unset 'bg_pid[service]'
}

scenario() {
    start_services
    start_failoverd
    c_group svc-echo 10 echo --seed 500 --bytes 16M --rate 2 --timeout-s 90
    c_group svc-down 5 download --seed 600 --bytes 16M --rate 2 --timeout-s 90
    wait_groups_under_way 60 $((512 << 10)) "${groups[@]}"
    kill_service
    wait_takeover 15
    wait_until 10 "the primary to say the service died" log_has failoverd-primary 'the service died'
    local name
    for name in "${groups[@]}"; do finish_client $name; done
    local st
    st=$(node_status primary)
    handed_over_or_rejoined primary ||
        { echo "FAIL: the old primary is $(jq -r .role <<<"$st"), neither handed-over nor rejoined" >&2; return 1; }
    jq -e '.hooks.sockets_closed_by_service_exit >= 1' <<<"$st" >/dev/null ||
        { echo "FAIL: the hooks counted no socket closed by the service's exit: $(jq -c .hooks <<<"$st")" >&2; return 1; }
    if ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/"; then
        echo "FAIL: the old primary still holds $vip" >&2
        return 1
    fi
    echo "  old primary: $(grep -m1 'the service died' "$work/failoverd-primary.log")"
}

run_scenario failover_service_crash
