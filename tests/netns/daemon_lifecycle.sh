#!/usr/bin/env bash
# failoverd itself: bad input gives one line on stderr and a non-zero exit, never a
# hang; start-up failures (a kernel without the module, or without SCTP for
# --transport sctp) leave nothing behind (no VIP, no tc filter); SIGTERM gives
# the VIP back and detaches the hooks: with a ready backup it hands over first (the
# backup takes over at once, "planned handover"), without one it just stops (a fresh
# primary started beside the backup that took over hears epoch 2 and falls silent).
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10   (failoverd --role primary)
#                                  └── backup 192.0.2.11    (failoverd --role backup)
. "$(dirname "$0")/lib.sh"
require_failoverd

common=(--vip $vip/24 --dev eth0 --port $port --listen $primary_ip --peer $backup_ip --control "/tmp/tcpfo-lifecycle-$$.sock")

vip_on_primary() { ip -n "$ns_primary" -4 -o addr show dev eth0 | grep -q " $vip/"; }
filters_on_primary() { [ -n "$(ip netns exec "$ns_primary" tc filter show dev eth0 ingress)$(ip netns exec "$ns_primary" tc filter show dev eth0 egress)" ]; }
nothing_left_on_primary() {
    if vip_on_primary; then echo "FAIL: the VIP is still on the primary" >&2; return 1; fi
    if filters_on_primary; then echo "FAIL: tc filters are still attached" >&2; return 1; fi
}

scenario() {
    echo "=== bad command lines"
    expect_refusal 2 "unknown argument" "$ns_primary" --role primary "${common[@]}" --bogus
    expect_refusal 2 "--role" "$ns_primary" --role leader "${common[@]}"
    expect_refusal 2 "--vip" "$ns_primary" --role primary --vip 192.0.2.300/24 --dev eth0 --port $port --listen $primary_ip --peer $backup_ip
    expect_refusal 2 "--peer" "$ns_primary" --role primary --vip $vip/24 --dev eth0 --port $port --listen $primary_ip --peer backup:x
    expect_refusal 2 "--replica" "$ns_backup" --role backup --vip $vip/24 --dev eth0 --port $port --listen $backup_ip --peer $primary_ip

    echo "=== start-up failures leave nothing behind"
    expect_refusal 1 "interface eth9 does not exist" "$ns_primary" --role primary --vip $vip/24 --dev eth9 --port $port --listen $primary_ip --peer $backup_ip
    p ip addr add $vip/24 dev eth0
    expect_refusal 1 "can't claim VIP" "$ns_primary" --role primary "${common[@]}"
    p ip addr del $vip/24 dev eth0
    # The heartbeat port is taken after the VIP was claimed: the VIP must go again.
    p_bg squatter python3 -c "import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$primary_ip', 7100)); time.sleep(60)"
    wait_until 30 "the UDP squatter on :7100" sh -c "ip netns exec $ns_primary ss -Hlun 'sport = :7100' | grep -q ."
    expect_refusal 1 "heartbeat" "$ns_primary" --role primary "${common[@]}"
    nothing_left_on_primary
    echo "  no VIP and no tc filter after the failed start"
    # This host cannot load modules: --hooks kmod must say the module is missing, after
    # the VIP was claimed, and give it back.
    expect_refusal 1 "the kernel module tcpfo is not loaded" "$ns_primary" --role primary "${common[@]}" --hooks kmod
    nothing_left_on_primary
    expect_refusal 1 "the kernel module tcpfo is not loaded" "$ns_backup" --role backup --vip $vip/24 --dev eth0 \
        --port $port --listen $backup_ip --peer $primary_ip --replica 127.0.0.1:$port --hooks kmod
    # Nor SCTP: --transport sctp must say so in one line before it claims anything.
    expect_refusal 1 "--transport sctp: SCTP is not available in this kernel" "$ns_primary" --role primary \
        "${common[@]}" --transport sctp
    nothing_left_on_primary
    expect_refusal 1 "--transport sctp: SCTP is not available in this kernel" "$ns_backup" --role backup \
        --vip $vip/24 --dev eth0 --port $port --listen $backup_ip --peer $primary_ip --replica 127.0.0.1:$port \
        --transport sctp
    ! ip -n "$ns_backup" -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: the VIP is on the backup" >&2; return 1; }
    # A second address is a second path, which TCP cannot use: refused as a usage error.
    expect_refusal 2 "needs --transport sctp" "$ns_primary" --role primary --vip $vip/24 --dev eth0 --port $port \
        --listen $primary_ip,192.0.2.210 --peer $backup_ip
    kill -9 "${bg_pid[squatter]}"; wait "${bg_pid[squatter]}" 2>/dev/null || true; unset "bg_pid[squatter]"
    local nobody_out rc=0
    nobody_out=$(ip netns exec "$ns_primary" setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$failoverd" --role primary "${common[@]}" 2>&1) || rc=$?
    echo "  as nobody -> exit $rc: $nobody_out"
    [ $rc = 1 ] && grep -q "must run as root" <<<"$nobody_out" || { echo "FAIL: not refused as non-root" >&2; return 1; }

    echo "=== SIGTERM with a ready backup hands over, releases the VIP and detaches the hooks"
    start_services
    start_failoverd
    vip_on_primary || { echo "FAIL: the primary does not hold the VIP" >&2; return 1; }
    filters_on_primary || { echo "FAIL: no tc filter on the primary" >&2; return 1; }
    sigterm_primary_failoverd
    nothing_left_on_primary
    log_has failoverd-primary "handed over to $backup_ip:$replication_port on the way out" ||
        { echo "FAIL: the primary did not say it handed over" >&2; return 1; }
    wait_until 10 "the backup's takeover" takeover_finished
    local st
    st=$(node_status backup)
    echo "  backup after the SIGTERM: $(jq -c '{role, reason: .takeover.reason}' <<<"$st")"
    jq -e '.role == "taken-over-primary" and (.takeover.reason | startswith("planned handover"))' <<<"$st" >/dev/null ||
        { echo "FAIL: the backup did not take over on the handover" >&2; return 1; }
    b ip -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: the backup does not hold $vip" >&2; return 1; }
    echo "  handed over, VIP released and filters detached after SIGTERM"

    echo "=== SIGTERM without a ready backup just stops"
    # A fresh primary whose backup has taken over refuses its stream: never a live backup.
    # It starts at epoch 1 and hears the backup's heartbeats of epoch 2: it falls silent
    # (invariant 3: a node that sees a higher epoch), the VIP gone again.
    b ip addr del $vip/24 dev eth0
    start_failoverd_on primary
    wait_until 30 "the new primary to fall silent on epoch 2" log_has failoverd-primary \
        "primary: silent: epoch 2 seen, above this node's 1"
    ! vip_on_primary || { echo "FAIL: the silent primary still holds $vip" >&2; return 1; }
    wait_until 10 "the new primary's control socket" sh -c "'$failoverctl' --control '$work/primary.sock' status >/dev/null 2>&1"
    sigterm_primary_failoverd
    nothing_left_on_primary
    lines_at_least failoverd-primary "stopping without a handover (no ready backup" 1 ||
        { echo "FAIL: the primary did not say it stopped without a handover" >&2; return 1; }
    echo "  $(grep -m1 -o 'stopping without a handover.*' "$work/failoverd-primary.log")"
}

sigterm_primary_failoverd() {
    p kill -TERM "$(ip netns pids "$ns_primary" | xargs ps -o pid=,comm= -p | awk '$2 == "failoverd" {print $1}')"
    wait_until 30 "failoverd on the primary to exit" sh -c "! ip netns pids $ns_primary | xargs -r ps -o comm= -p | grep -q failoverd"
}

run_scenario daemon_lifecycle
